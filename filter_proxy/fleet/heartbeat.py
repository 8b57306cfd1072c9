"""Each worker records its state in Redis under a key with a TTL: a worker that stops (or loses Redis)
drops out of `fleet status` when its key expires, without anybody cleaning up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from filter_proxy.fleet.aio import close_quietly, stop_task
from filter_proxy.fleet.metrics import FleetMetrics
from filter_proxy.fleet.protocol import Keys
from filter_proxy.fleet.state import FleetState

log = logging.getLogger("filter_proxy.fleet")


class Heartbeat:
    def __init__(self, redis_url: str, keys: Keys, state: FleetState, current_version: Callable[[], str | None],
                 *, interval: float = 5.0, ttl: float = 30.0, metrics: FleetMetrics | None = None) -> None:
        self.redis_url = redis_url
        self.key = keys.status(state.instance, state.worker)
        self.state = state
        self.current_version = current_version
        self.interval = interval
        self.ttl_ms = max(1, int(ttl * 1000))
        self.metrics = metrics or FleetMetrics()
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Write now (after a version change), not at the next interval."""
        self._wake.set()

    async def beat(self) -> None:
        """One write. Raises RedisError/OSError when Redis is unreachable."""
        payload = json.dumps(self.state.snapshot(self.current_version()), sort_keys=True)
        await self._client.set(self.key, payload, px=self.ttl_ms)

    async def _run(self) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                await self.beat()
            except (RedisError, OSError, TimeoutError) as exc:
                self.metrics.redis_error("heartbeat")
                log.debug("fleet heartbeat failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2.0,
                                               socket_timeout=max(1.0, self.interval))
        self._task = asyncio.create_task(self._run(), name="fleet-heartbeat")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):  # leave the fleet at once; the TTL covers a failure here
                await asyncio.wait_for(self._client.delete(self.key), 1.0)
            await close_quietly(self._client)
            self._client = None
