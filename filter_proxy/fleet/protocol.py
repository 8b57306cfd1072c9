"""What the fleet keeps in Redis: key names and the published-bundle pointer. Plain Redis types only
(a hash, strings, a list, one pub/sub channel), so an operator can inspect everything with redis-cli.

    {prefix}:rules:current          hash   the bundle every instance should serve (BundlePointer)
    {prefix}:rules:bundle:{sha256}  string the bundle bytes, for bundles up to max_inline_bytes
    {prefix}:rules:history          list   recent pointers, newest first (their bytes are kept too)
    {prefix}:rules:announce         channel  a publish message: {"version", "sha256"}
    {prefix}:status:{instance}:{worker}   string (JSON, with a TTL)  one worker's heartbeat
    {prefix}:thumbs:{hmac}          string (JSON, with a TTL)  a thumbnail's computed hashes
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

HISTORY = 5  # pointers (and inline bundles) kept, so a rollback can be re-published from Redis alone


@dataclass(frozen=True)
class Keys:
    prefix: str = "filter-proxy"

    @property
    def current(self) -> str:
        return f"{self.prefix}:rules:current"

    def bundle(self, sha256: str) -> str:
        return f"{self.prefix}:rules:bundle:{sha256}"

    @property
    def history(self) -> str:
        return f"{self.prefix}:rules:history"

    @property
    def announce(self) -> str:
        return f"{self.prefix}:rules:announce"

    def status(self, instance: str, worker: str) -> str:
        return f"{self.prefix}:status:{instance}:{worker}"

    @property
    def status_pattern(self) -> str:
        return f"{self.prefix}:status:*"

    def thumb(self, digest: str) -> str:
        return f"{self.prefix}:thumbs:{digest}"


@dataclass(frozen=True)
class BundlePointer:
    """A published bundle: its version (from the bundle header), SHA-256 of the whole file, size, the
    detached signature (``.sig`` content, base64; empty when unsigned), and where the bytes are: ``inline``
    (the bundle key) or ``url`` (fetched by each instance and checked against sha256)."""

    version: str
    sha256: str
    size: int
    signature: str = ""
    location: str = "inline"
    url: str = ""
    published_at: float = 0.0
    force: bool = False  # apply even if it empties or halves a category (the reload guard, DESIGN §7)

    def to_redis(self) -> dict[str, str]:
        return {k: str(int(v) if isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_redis(cls, raw: dict[Any, Any]) -> BundlePointer | None:
        """None for an empty hash (nothing published yet). ValueError for a malformed one."""
        if not raw:
            return None
        data = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                for k, v in raw.items()}
        try:
            return cls(version=data["version"], sha256=data["sha256"], size=int(data["size"]),
                       signature=data.get("signature", ""), location=data.get("location", "inline"),
                       url=data.get("url", ""), published_at=float(data.get("published_at", 0) or 0),
                       force=data.get("force", "0") == "1")
        except (KeyError, ValueError) as exc:
            raise ValueError(f"malformed rules pointer in Redis ({type(exc).__name__}: {exc})") from None

    @property
    def identity(self) -> str:
        """What a refusal is remembered by: the same bytes published again with --force are a new try."""
        return f"{self.sha256}+force" if self.force else self.sha256

    def signature_bytes(self) -> bytes | None:
        return base64.b64decode(self.signature) if self.signature else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def announcement(self) -> str:
        return json.dumps({"version": self.version, "sha256": self.sha256})
