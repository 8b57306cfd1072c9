"""The shared tier of the thumbnail-hash cache: a fleet fetches and hashes each picture once.

Key: ``{prefix}:thumbs:`` + HMAC-SHA256(fleet key, canonical thumbnail URL + algorithms). Without the key,
Redis's contents do not say which pictures were looked at (a URL cannot be read back, and guessing one
needs the key). Value: the computed perceptual and exact hashes (JSON) plus an HMAC tag over key and value,
so that whoever can write Redis but lacks the fleet key cannot plant benign-looking hashes for a URL: a
value whose tag does not verify is a miss. Entries expire after ``ttl`` seconds. Never the image, never
a query or anything about the person searching; verdicts stay local (they depend on the rules version).

The tier is an optimisation and never a dependency: each lookup has a short timeout, and after a Redis
error the tier is skipped for ``retry_after`` seconds, so a dead Redis costs a page no more than one
timeout. It sits behind the local TTL cache: local hit → shared hit → fetch and hash (then stored here).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from filter_proxy.fleet.aio import close_quietly
from filter_proxy.fleet.metrics import FleetMetrics
from filter_proxy.fleet.protocol import Keys

log = logging.getLogger("filter_proxy.fleet")

Hashes = Mapping[str, Sequence[str]]
_HEX = re.compile(r"^[0-9a-fA-F]{1,256}$")
_ALGORITHM = re.compile(r"^[a-z0-9_]{1,16}$")
MIN_KEY_BYTES = 16


def canonical_thumbnail_url(url: str) -> str:
    """The canonical form used for keys, so trivially different spellings of one URL share an entry."""
    from filter_proxy.signals.url_canon import canonicalize_url

    try:
        return canonicalize_url(url) or url
    except Exception:  # an odd URL still gets a (non-shared-spelling) key rather than an error
        return url


def load_hash_key(env_name: str, file: str | None) -> bytes | None:
    """The fleet-wide HMAC key from ``file`` or the ``env_name`` variable; None when neither is set.
    ValueError for a key shorter than 16 bytes."""
    raw = Path(file).read_bytes().strip() if file else os.environ.get(env_name, "").strip().encode()
    if not raw:
        return None
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"the hash-cache key must be at least {MIN_KEY_BYTES} bytes")
    return raw


def _valid(value: Any) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(value, dict) or not value:
        return None
    out: dict[str, tuple[str, ...]] = {}
    for algorithm, hexes in value.items():
        if not isinstance(algorithm, str) or not _ALGORITHM.match(algorithm) or not isinstance(hexes, list):
            return None
        if not hexes or not all(isinstance(h, str) and _HEX.match(h) for h in hexes):
            return None
        out[algorithm] = tuple(hexes)
    return out


class SharedHashCache:
    def __init__(self, redis_url: str, secret: bytes, *, prefix: str = "filter-proxy", ttl: float = 86400.0,
                 timeout: float = 0.25, retry_after: float = 5.0, metrics: FleetMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic, client: Any = None) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"the hash-cache key must be at least {MIN_KEY_BYTES} bytes")
        self._secret = secret
        self.keys = Keys(prefix)
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.timeout = timeout
        self.retry_after = retry_after
        self.metrics = metrics or FleetMetrics()
        self.clock = clock
        self._skip_until = 0.0
        self._pending: set[asyncio.Task[None]] = set()
        if client is None:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._client = client

    def key_for(self, url: str, algorithms: Sequence[str]) -> str:
        material = canonical_thumbnail_url(url) + "\0" + ",".join(sorted(algorithms))
        return self.keys.thumb(hmac.new(self._secret, material.encode("utf-8"), hashlib.sha256).hexdigest())

    def _tag(self, key: str, body: bytes) -> str:
        return hmac.new(self._secret, key.encode() + b"\0" + body, hashlib.sha256).hexdigest()

    def _available(self) -> bool:
        if self.clock() < self._skip_until:
            self.metrics.hash_lookup("skipped")
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        if self._skip_until == 0.0 or self.clock() >= self._skip_until:
            log.warning("fleet: shared hash cache unavailable (%s); hashing locally for %.0f s",
                        type(exc).__name__, self.retry_after)
        self._skip_until = self.clock() + self.retry_after
        self.metrics.hash_lookup("error")

    async def get(self, url: str, algorithms: Sequence[str]) -> dict[str, tuple[str, ...]] | None:
        """The fleet's hashes for this thumbnail, or None (a miss, an unverifiable value, or Redis down)."""
        from redis.exceptions import RedisError

        if not self._available():
            return None
        key = self.key_for(url, algorithms)
        try:
            raw = await asyncio.wait_for(self._client.get(key), self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        hashes = self._decode(key, raw)
        if hashes is None or not set(algorithms) <= set(hashes):
            self.metrics.hash_lookup("miss")
            return None
        self.metrics.hash_lookup("hit")
        return hashes

    def _decode(self, key: str, raw: bytes | None) -> dict[str, tuple[str, ...]] | None:
        if raw is None:
            return None
        tag, _, body = bytes(raw).partition(b"\n")
        if not hmac.compare_digest(tag, self._tag(key, body).encode("ascii")):
            return None  # written by someone without the fleet key, or damaged: never trusted
        try:
            return _valid(json.loads(body))
        except ValueError:
            return None

    def encode(self, key: str, hashes: Hashes) -> bytes:
        body = json.dumps({a: list(h) for a, h in sorted(hashes.items())}, separators=(",", ":")).encode()
        return self._tag(key, body).encode("ascii") + b"\n" + body

    async def put(self, url: str, algorithms: Sequence[str], hashes: Hashes) -> None:
        from redis.exceptions import RedisError

        if _valid({a: list(h) for a, h in hashes.items()}) is None or not self._available():
            return
        key = self.key_for(url, algorithms)
        try:
            await asyncio.wait_for(self._client.set(key, self.encode(key, hashes), px=self.ttl_ms), self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return
        self.metrics.hash_lookup("stored")

    def put_later(self, url: str, algorithms: Sequence[str], hashes: Hashes) -> None:
        """Store in the background: a page never waits for the shared write."""
        task = asyncio.get_running_loop().create_task(self.put(url, algorithms, hashes))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def aclose(self) -> None:
        if self._pending:  # each write is bounded by ``timeout``
            await asyncio.gather(*self._pending, return_exceptions=True)
        await close_quietly(self._client)
