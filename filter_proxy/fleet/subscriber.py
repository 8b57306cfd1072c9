"""Follow the fleet's rules version: subscribe to announcements, fetch, hand over to ``apply``, fail static.

Each worker process runs one subscriber. It subscribes to the announce channel first and then reads the
current pointer, so a publish between the two is never missed; it reads the pointer again on every
announcement and every ``poll_interval`` seconds (pub/sub is at-most-once: a message sent while a worker
was reconnecting is lost, the pointer is not). A version that differs from the one in force is fetched,
checked against its SHA-256 and given to ``apply`` (verify the signature, load, swap; the old rules keep
serving on any error). A refused version is remembered by checksum and not retried until a new one is
published.

If Redis is unreachable the worker keeps serving its last good rules, says so in FleetState (``/-/ready``
degraded, metrics), and reconnects with exponential backoff and jitter; on reconnection it catches up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from filter_proxy.fleet.aio import close_quietly, stop_task
from filter_proxy.fleet.metrics import FleetMetrics
from filter_proxy.fleet.protocol import BundlePointer, Keys
from filter_proxy.fleet.state import FleetState

log = logging.getLogger("filter_proxy.fleet")


@dataclass(frozen=True)
class Delivery:
    """A published bundle's bytes, already checked against the pointer's SHA-256."""

    pointer: BundlePointer
    data: bytes


Apply = Callable[[Delivery], Awaitable[tuple[bool, str | None]]]


class Backoff:
    """Exponential delays from ``first`` to ``maximum`` seconds with jitter (half to full delay), so that
    a fleet does not reconnect in lockstep when Redis comes back."""

    def __init__(self, first: float = 0.1, maximum: float = 10.0,
                 rng: Callable[[], float] = random.random) -> None:
        self.first, self.maximum, self.rng = first, maximum, rng
        self.failures = 0

    def next(self) -> float:
        delay = min(self.maximum, self.first * (2 ** min(self.failures, 30)))
        self.failures += 1
        return delay * (0.5 + self.rng() / 2)

    def reset(self) -> None:
        self.failures = 0


class FetchError(Exception):
    pass


async def fetch_from_url(url: str, size: int, timeout: float = 60.0) -> bytes:
    """A bundle published by URL (http, https or file), at most ``size`` bytes."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        def read() -> bytes:
            with open(Path(unquote(parts.path)), "rb") as f:  # never more than was published (/dev/zero)
                return f.read(size + 1)

        data = await asyncio.to_thread(read)
        if len(data) > size:
            raise FetchError(f"bundle file is longer than the published {size} bytes")
    elif parts.scheme in ("http", "https"):
        import httpx

        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError(f"bundle URL answered HTTP {response.status_code}")
            chunks, got = [], 0
            async for chunk in response.aiter_bytes():
                got += len(chunk)
                if got > size:
                    raise FetchError(f"bundle URL sent more than the published {size} bytes")
                chunks.append(chunk)
            data = b"".join(chunks)
    else:
        raise FetchError(f"unsupported bundle URL scheme {parts.scheme!r}")
    return data


class RolloutSubscriber:
    def __init__(self, redis_url: str, keys: Keys, state: FleetState, apply: Apply,
                 current_version: Callable[[], str | None], *, poll_interval: float = 5.0,
                 backoff_max: float = 10.0, metrics: FleetMetrics | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.redis_url = redis_url
        self.keys = keys
        self.state = state
        self.apply = apply
        self.current_version = current_version
        self.poll_interval = poll_interval
        self.backoff = Backoff(maximum=backoff_max)
        self.metrics = metrics or FleetMetrics()
        self.on_change = on_change or (lambda: None)  # e.g. write the heartbeat now
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # for tests and start-up waits

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        # Commands time out well before a heartbeat interval ends; reading a bundle may take longer.
        return aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2.0,
                                       socket_timeout=max(10.0, 2 * self.poll_interval))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fleet-rollout")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        from redis.exceptions import RedisError

        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.announce)
                if self.state.unreachable_since is not None:
                    log.info("fleet: Redis reachable again; catching up on the published rules")
                self.state.reachable()
                self.metrics.set_connected(True)
                self.backoff.reset()
                self.connected.set()
                await self.sync(client)
                while True:
                    # A message or the poll interval, whichever comes first: then re-read the pointer.
                    await pubsub.get_message(timeout=self.poll_interval)
                    await self.sync(client)
            except Exception as exc:  # RedisError, OSError, or the client in a state it did not expect
                self.connected.clear()
                self.metrics.set_connected(False)
                self.metrics.redis_error("rollout")
                if not isinstance(exc, RedisError | OSError):
                    log.warning("fleet: unexpected %s from the Redis client; reconnecting", type(exc).__name__)
                if self.state.unreachable(exc):
                    log.warning("fleet: Redis unreachable (%s); serving rules version %s and retrying",
                                type(exc).__name__, self.current_version())
            finally:
                await close_quietly(pubsub)
                await close_quietly(client)
            await asyncio.sleep(self.backoff.next())

    async def sync(self, client: Any) -> None:
        """Bring this worker to the published version, if it is not there and has not refused it."""
        try:
            pointer = BundlePointer.from_redis(await client.hgetall(self.keys.current))
        except ValueError as exc:
            log.error("fleet: %s; keeping rules version %s", exc, self.current_version())
            return
        if pointer is None:
            return  # nothing published yet: serve the local rules
        self.state.wanted, self.state.wanted_sha = pointer.version, pointer.identity
        self.state.published_at = pointer.published_at
        if pointer.version == self.current_version() or pointer.identity in self.state.refused:
            return
        try:
            data = await self._fetch(client, pointer)
        except (FetchError, OSError) as exc:
            # Not remembered as refused: a missing file or a web server hiccup may pass; retried next poll.
            log.error("fleet: cannot fetch rules version %s (%s); keeping %s", pointer.version, exc,
                      self.current_version())
            return
        ok, error = await self.apply(Delivery(pointer, data))
        if ok:
            self.state.applied_at = time.time()
            self.metrics.rollout("applied")
            lag = self.state.applied_at - pointer.published_at if pointer.published_at else 0.0
            log.info("fleet: rules version %s in force (%.3f s after it was published)", pointer.version, lag)
        else:
            self.state.refused[pointer.identity] = error or "refused"
            self.metrics.rollout("refused")
            log.error("fleet: rules version %s refused on this instance, keeping %s: %s", pointer.version,
                      self.current_version(), error)
        self.on_change()

    async def _fetch(self, client: Any, pointer: BundlePointer) -> bytes:
        if pointer.location == "url":
            data = await fetch_from_url(pointer.url, pointer.size)
        else:
            data = await client.get(self.keys.bundle(pointer.sha256))
            if data is None:
                raise FetchError("the bundle bytes are missing from Redis")
        if hashlib.sha256(data).hexdigest() != pointer.sha256:
            raise FetchError("the bundle does not match its published SHA-256")
        return bytes(data)
