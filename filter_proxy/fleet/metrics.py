"""Prometheus series of the fleet parts, on the app's Metrics registry (bounded labels only)."""

from __future__ import annotations

from typing import Any


class FleetMetrics:
    """``metrics`` is filter_proxy.metrics.Metrics (its registry), or None for no metrics."""

    def __init__(self, metrics: Any = None, namespace: str = "filter_proxy") -> None:
        self.enabled = metrics is not None
        if not self.enabled:
            return
        from prometheus_client import Counter, Gauge

        r, ns = metrics.registry, namespace
        # livemin over workers: 0 as soon as one worker of the instance has lost Redis.
        self.connected = Gauge("fleet_redis_connected", "1 while Redis (rule rollout) is reachable, else 0 "
                               "(serving the last good rules).", namespace=ns, registry=r,
                               multiprocess_mode="livemin")
        self.redis_errors = Counter("fleet_redis_errors", "Failed Redis operations (rollout, heartbeat).",
                                    ["part"], namespace=ns, registry=r)
        self.rollouts = Counter("fleet_rollouts", "Published bundles by result on this worker (applied, "
                                "refused).", ["result"], namespace=ns, registry=r)
        self.hash_cache = Counter("fleet_hash_cache", "Shared thumbnail-hash cache lookups by outcome (hit, "
                                  "miss, stored, error, skipped).", ["outcome"], namespace=ns, registry=r)
        for result in ("applied", "refused"):
            self.rollouts.labels(result)
        self.connected.set(0)

    def set_connected(self, up: bool) -> None:
        if self.enabled:
            self.connected.set(1 if up else 0)

    def redis_error(self, part: str) -> None:
        if self.enabled:
            self.redis_errors.labels(part).inc()

    def rollout(self, result: str) -> None:
        if self.enabled:
            self.rollouts.labels(result).inc()

    def hash_lookup(self, outcome: str) -> None:
        if self.enabled:
            self.hash_cache.labels(outcome).inc()


def fleet_metrics(metrics: Any) -> FleetMetrics:
    """The one FleetMetrics of an app's Metrics (a registry refuses the same series twice)."""
    if metrics is None:
        return FleetMetrics()
    existing = getattr(metrics, "_fleet_metrics", None)
    if existing is None:
        existing = FleetMetrics(metrics)
        metrics._fleet_metrics = existing
    return existing
