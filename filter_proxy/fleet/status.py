"""`filter-proxy fleet status`: every live worker of every instance, its rules version and its age."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from filter_proxy.fleet.protocol import BundlePointer, Keys


@dataclass(frozen=True)
class WorkerStatus:
    instance: str
    worker: str
    version: str
    state: str  # ok | updating | refused
    error: str
    age: float  # seconds since its last heartbeat
    uptime: float
    lag: float | None = None  # seconds from the publish to this worker serving it (its own clock)


@dataclass(frozen=True)
class FleetStatus:
    current: BundlePointer | None
    workers: list[WorkerStatus]

    @property
    def converged(self) -> bool:
        """Every live worker serves the published version (trivially true when nothing is published)."""
        return self.current is None or all(w.version == self.current.version for w in self.workers)


async def read_status(client: Any, keys: Keys, now: float | None = None) -> FleetStatus:
    now = time.time() if now is None else now
    current = BundlePointer.from_redis(await client.hgetall(keys.current))
    names = [key async for key in client.scan_iter(match=keys.status_pattern, count=500)]
    workers: list[WorkerStatus] = []
    for raw in (await client.mget(names)) if names else []:
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            d = json.loads(raw)
            lag = None
            if d.get("applied_at") and d.get("published_at") and d.get("version") == d.get("wanted"):
                lag = max(0.0, float(d["applied_at"]) - float(d["published_at"]))
            workers.append(WorkerStatus(str(d["instance"]), str(d["worker"]), str(d.get("version") or "-"),
                                        str(d.get("state") or "?"), str(d.get("error") or ""),
                                        max(0.0, now - float(d["updated"])), max(0.0, now - float(d["started"])),
                                        lag))
        except (ValueError, KeyError, TypeError):
            continue  # not ours or damaged: a status listing must not fail on one bad key
    workers.sort(key=lambda w: (w.instance, w.worker))
    return FleetStatus(current, workers)


async def fetch_status(redis_url: str, prefix: str = "filter-proxy") -> FleetStatus:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
    try:
        return await read_status(client, Keys(prefix))
    finally:
        await client.aclose()


def format_status(status: FleetStatus, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({
            "published": json.loads(status.current.to_json()) if status.current else None,
            "converged": status.converged,
            "workers": [w.__dict__ for w in status.workers],
        }, indent=2) + "\n"
    lines = []
    if status.current is None:
        lines.append("published: nothing yet (instances serve their local rules)")
    else:
        c = status.current
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c.published_at)) if c.published_at else "?"
        signed = "signed" if c.signature else "unsigned"
        lines.append(f"published: version {c.version} ({c.size} bytes, {signed}, {c.location}) at {when}")
    instances = len({w.instance for w in status.workers})
    lines.append(f"{instances} instance(s), {len(status.workers)} worker(s); "
                 + ("all serve the published version" if status.converged else "NOT all on the published version"))
    header = ("instance", "worker", "version", "state", "heartbeat", "up", "applied after publish")
    rows = [(w.instance, w.worker, w.version, w.state, f"{w.age:.1f}s ago", f"{w.uptime:.0f}s",
             "-" if w.lag is None else f"{w.lag:.3f}s") for w in status.workers]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        lines.append("  ".join(str(x).ljust(n) for x, n in zip(row, widths, strict=True)).rstrip())
    for w in status.workers:
        if w.error:
            lines.append(f"{w.instance}/{w.worker}: {w.error}")
    return "\n".join(lines) + "\n"
