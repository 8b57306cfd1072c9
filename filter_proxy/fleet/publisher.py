"""Publish a compiled rules bundle to the fleet: store it in Redis (or its URL and checksum) and announce it.

Where the line is: a bundle up to ``max_inline_bytes`` (default 64 MiB) is stored in Redis itself. A
1M-term bundle is 33 MB (benchmarks/results/scale.md), so ordinary rule sets fit; Redis holds a string of
up to 512 MB, but every instance downloads the bundle at the same moment and Redis serves each transfer
from its single thread, so bigger bundles (e.g. tens of millions of image hashes) go on a web server or
shared storage and only their URL and SHA-256 go through Redis; each instance fetches the file and
refuses it unless the checksum (and the signature, when keys are configured) matches.

Everything is written in one MULTI/EXEC transaction (bundle bytes, pointer, history, announcement), so an
instance never sees a pointer whose bytes are not there yet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from filter_proxy.fleet.protocol import HISTORY, BundlePointer, Keys
from filter_proxy.rules.errors import RulesError

DEFAULT_MAX_INLINE = 64 * 1024 * 1024


class PublishError(Exception):
    pass


def bundle_version(path: Path, check: bool = True) -> str:
    """The version in the bundle header. With ``check`` (the default) the whole bundle is verified first
    (magic, format, checksums), so a truncated or foreign file is never announced to the fleet."""
    from filter_proxy.rules.bundle import read_bundle

    try:
        header, _ = read_bundle(path)
        return str(header["version"])
    except (RulesError, KeyError) as exc:
        if check:
            raise PublishError(f"{path}: not a valid rules bundle, not published: {exc}") from exc
        return "unreadable-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def make_pointer(path: Path, *, url: str = "", max_inline: int = DEFAULT_MAX_INLINE, check: bool = True,
                 force: bool = False) -> tuple[BundlePointer, bytes | None]:
    """The pointer for ``path`` (signature from ``path.sig`` when present) and the bytes to store inline,
    or None when the bundle is published by URL."""
    from filter_proxy.rules.signing import signature_path

    version = bundle_version(path, check)
    data = path.read_bytes()
    sig_file = signature_path(path)
    signature = base64.b64encode(sig_file.read_bytes()).decode("ascii") if sig_file.exists() else ""
    sha = hashlib.sha256(data).hexdigest()
    if url:
        if not url.startswith(("http://", "https://", "file://")):
            raise PublishError(f"--url must be http://, https:// or file://, got {url.split(':', 1)[0]!r}")
        return BundlePointer(version, sha, len(data), signature, "url", url, time.time(), force), None
    if len(data) > max_inline:
        raise PublishError(f"{path} is {len(data)} bytes, more than the {max_inline} bytes kept in Redis: "
                           "put it on a web server or shared storage and publish it with --url")
    return BundlePointer(version, sha, len(data), signature, "inline", "", time.time(), force), data


async def publish_pointer(client: Any, keys: Keys, pointer: BundlePointer, data: bytes | None) -> int:
    """Store and announce; returns how many subscribers received the announcement. Instances that missed
    it (disconnected at the time) catch up from ``rules:current`` when they reconnect."""
    previous = await client.lrange(keys.history, 0, -1)
    kept = {_sha(raw) for raw in previous[: HISTORY - 1]}  # the new pointer pushes the oldest out
    dropped = {_sha(raw) for raw in previous[HISTORY - 1 :]}
    async with client.pipeline(transaction=True) as tx:
        if data is not None:
            tx.set(keys.bundle(pointer.sha256), data)
        tx.delete(keys.current)
        tx.hset(keys.current, mapping=pointer.to_redis())
        tx.lpush(keys.history, pointer.to_json())
        tx.ltrim(keys.history, 0, HISTORY - 1)
        for sha in dropped - kept - {pointer.sha256}:
            tx.delete(keys.bundle(sha))
        tx.publish(keys.announce, pointer.announcement)
        results = await tx.execute()
    return int(results[-1])


def _sha(raw: bytes | str) -> str:
    try:
        return str(json.loads(raw)["sha256"])
    except (ValueError, KeyError, TypeError):
        return ""


async def publish_bundle(redis_url: str, path: str | Path, *, prefix: str = "filter-proxy", url: str = "",
                         max_inline: int = DEFAULT_MAX_INLINE, check: bool = True,
                         force: bool = False) -> tuple[BundlePointer, int]:
    """Publish the bundle at ``path`` to the fleet on ``redis_url``; (pointer, subscribers reached)."""
    import redis.asyncio as aioredis

    pointer, data = make_pointer(Path(path), url=url, max_inline=max_inline, check=check, force=force)
    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=60)
    try:
        reached = await publish_pointer(client, Keys(prefix), pointer, data)
    finally:
        await client.aclose()
    return pointer, reached
