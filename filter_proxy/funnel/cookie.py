"""The opt-in follow-up cookie (off by default): was a blocked search followed by another one?

When ``[funnel] repeat_cookie = true``, the response to a blocked search sets one cookie::

    fp_followup=<kind>.<variant>.<bucket>.<mac>; Max-Age=1800; Path=/; HttpOnly; SameSite=Strict

``bucket`` is the issue time rounded down to 10 minutes (``unix time // 600``), ``mac`` an HMAC-SHA256
(16 bytes, base64url) of the other three with a server secret, so the cookie cannot be made or changed by
hand. That is all it holds: no identifier, no query, no language, nothing random, so every person shown
the same variant in the same 10 minutes gets byte-identical cookies. Nothing is kept on the server per
person: a later blocked search that carries a valid, unexpired cookie adds 1 to the aggregate
``repeat`` count of (kind, variant) and gets a fresh cookie for the warning it is shown now, so each
warning is followed by at most one counted repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "fp_followup"
BUCKET_SECONDS = 600
DEFAULT_MAX_AGE = 1800
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class FollowUp:
    kind: str
    variant: str


class RepeatCookie:
    """Makes and reads the follow-up cookie."""

    def __init__(self, secret: bytes, max_age: int = DEFAULT_MAX_AGE, secure: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the follow-up cookie secret must be at least 16 bytes")
        if not 60 <= max_age <= 86_400:
            raise ValueError("the follow-up cookie max_age must be between 60 and 86400 seconds")
        self._secret = secret
        self.max_age = max_age
        self.secure = secure
        self._clock = clock

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._secret, b"follow-up\x00" + payload.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def value(self, kind: str, variant: str) -> str | None:
        if not (_NAME.match(kind) and _NAME.match(variant)):
            return None
        payload = f"{kind}.{variant}.{int(self._clock()) // BUCKET_SECONDS}"
        return f"{payload}.{self._mac(payload)}"

    def header(self, kind: str, variant: str) -> tuple[bytes, bytes] | None:
        """The Set-Cookie header of a warning of ``kind`` worded as ``variant``."""
        value = self.value(kind, variant)
        if value is None:
            return None
        flags = f"Max-Age={self.max_age}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.secure else "")
        return b"set-cookie", f"{COOKIE}={value}; {flags}".encode()

    def read(self, cookie_header: str) -> FollowUp | None:
        """The follow-up a request's Cookie header carries, when valid and not expired."""
        for part in cookie_header.split(";")[:64]:
            name, _, value = part.strip().partition("=")
            if name != COOKIE:
                continue
            fields = value.split(".")
            if len(fields) != 4 or not fields[2].isdigit() or len(fields[2]) > 12:
                return None
            kind, variant, bucket, mac = fields
            if not hmac.compare_digest(mac, self._mac(f"{kind}.{variant}.{bucket}")):
                return None
            age = self._clock() - int(bucket) * BUCKET_SECONDS
            if not 0 <= age <= self.max_age + BUCKET_SECONDS:
                return None
            return FollowUp(kind, variant) if _NAME.match(kind) and _NAME.match(variant) else None
        return None
