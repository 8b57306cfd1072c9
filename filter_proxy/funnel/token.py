"""Signed help-link tokens: ``/-/help/<token>`` names (warning kind, language, variant, link index).

The token is ``base64url(payload).base64url(HMAC-SHA256(secret, payload)[:16])``. It carries no URL: the
redirect target is looked up in the loaded warning catalogue by (kind, language, link index), so a valid
token can only ever lead to a link an operator wrote in ``rules/warnings/``; a tampered token fails the
MAC and gets 404. Tokens are deterministic (no nonce, no time): the same link on every page, so a token
says nothing about who was shown it or when.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

SECRET_ENV = "FILTER_PROXY_HELP_SECRET"
PREFIX = "/-/help/"
MAC_BYTES = 16
MAX_TOKEN = 200
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")  # kinds and variants (as warnings/texts.py allows)
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
MAX_LINK = 999


def help_secret(env: str = SECRET_ENV) -> bytes:
    """``$FILTER_PROXY_HELP_SECRET`` (one value for every worker and instance, so a link made by one is
    served by another), else a random secret for this process."""
    value = os.environ.get(env, "").strip()
    if value:
        if len(value) < 16:
            raise ValueError(f"{env} is too short (use at least 16 characters)")
        return value.encode()
    return os.urandom(32)


@dataclass(frozen=True, slots=True)
class HelpLink:
    kind: str
    lang: str
    variant: str
    index: int

    def valid(self) -> bool:
        return bool(_NAME.match(self.kind) and _LANG.match(self.lang) and _NAME.match(self.variant)
                    and 0 <= self.index <= MAX_LINK)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HelpSigner:
    """Makes and checks help-link tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the help-link secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"help-link\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]

    def token(self, link: HelpLink) -> str:
        if not link.valid():
            raise ValueError(f"not a signable help link: {link!r}")
        payload = f"{link.kind}|{link.lang}|{link.variant}|{link.index}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def path(self, link: HelpLink) -> str:
        return PREFIX + self.token(link)

    def verify(self, token: str) -> HelpLink | None:
        """The link a token names, or None when it is malformed or its MAC does not match."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
            return None
        head, mac = token.split(".")
        try:
            payload, given = _unb64(head), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(payload)):
            return None
        try:
            kind, lang, variant, index = payload.decode("ascii").split("|")
            link = HelpLink(kind, lang, variant, int(index))
        except ValueError:
            return None
        return link if link.valid() else None
