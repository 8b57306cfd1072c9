"""The fleet parts of one worker, wired to its rule holder: subscriber + heartbeat, the "load and swap this
bundle" callback, publishing on ``POST /-/reload``, and the degraded check for ``/-/ready``."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filter_proxy.fleet.heartbeat import Heartbeat
from filter_proxy.fleet.identity import instance_name, worker_id
from filter_proxy.fleet.metrics import fleet_metrics
from filter_proxy.fleet.protocol import Keys
from filter_proxy.fleet.state import FleetState
from filter_proxy.fleet.subscriber import Delivery, RolloutSubscriber
from filter_proxy.reload import category_counts, shrink_problems
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.holder import RuleHolder

if TYPE_CHECKING:
    from filter_proxy.config import Config
    from filter_proxy.rules.signing import TrustedKeys

log = logging.getLogger("filter_proxy.fleet")


def load_delivery(delivery: Delivery, keys: TrustedKeys | None) -> Any:
    """Stage the bytes where only this service can change them, verify the signature (when ``keys``),
    load; RulesError if not."""
    from filter_proxy.rules.signing import load_verified_copy, stage_bytes

    pointer = delivery.pointer
    staged, digest, unlink = stage_bytes(delivery.data)
    return load_verified_copy(staged, digest, pointer.signature_bytes(), keys,
                              f"fleet bundle {pointer.version} ({pointer.sha256[:12]})", unlink)


class FleetRollout:
    """Start/stop as one Service. ``metrics`` is the app's Metrics (or None)."""

    def __init__(self, redis_url: str, holder: RuleHolder, *, instance: str, keys: TrustedKeys | None = None,
                 prefix: str = "filter-proxy", heartbeat: float = 5.0, status_ttl: float = 30.0,
                 backoff_max: float = 10.0, metrics: Any = None) -> None:
        self.holder = holder
        self.keys = keys
        self.metrics = metrics
        self.fleet_metrics = fleet_metrics(metrics)
        self.state = FleetState(instance, worker_id())
        self._lock = asyncio.Lock()  # one fleet apply at a time
        k = Keys(prefix)
        self.heartbeat = Heartbeat(redis_url, k, self.state, self.version, interval=heartbeat, ttl=status_ttl,
                                   metrics=self.fleet_metrics)
        self.subscriber = RolloutSubscriber(redis_url, k, self.state, self.apply, self.version,
                                            poll_interval=heartbeat, backoff_max=backoff_max,
                                            metrics=self.fleet_metrics, on_change=self.heartbeat.poke)

    def version(self) -> str | None:
        return getattr(self.holder.current, "version", None)

    async def apply(self, delivery: Delivery) -> tuple[bool, str | None]:
        """Load and swap a delivered bundle; (False, reason) keeps the old rules serving."""
        async with self._lock:
            started = time.perf_counter()
            try:
                rules = await asyncio.to_thread(load_delivery, delivery, self.keys)
            except RulesError as exc:
                if self.metrics is not None:
                    self.metrics.reload(False)
                return False, str(exc)
            except Exception as exc:  # a bug must not take the worker down; the old rules keep serving
                log.exception("fleet: loading a published bundle failed")
                return False, f"{type(exc).__name__}: {exc}"
            # The same guard as a local reload (DESIGN §7): emptying or halving a category needs --force.
            problems = shrink_problems(category_counts(self.holder.current), category_counts(rules))
            if problems and not delivery.pointer.force:
                if self.metrics is not None:
                    self.metrics.reload(False)
                return False, (f"version {rules.version} would empty or more than halve {', '.join(problems)}; "
                               "publish it with --force to apply it anyway")
            self.holder.swap(rules)
            if self.metrics is not None:
                self.metrics.rules_loaded(rules, time.perf_counter() - started)
                self.metrics.reload(True)
            return True, None

    def degraded(self) -> str | None:
        return self.state.degraded()

    async def start(self) -> None:
        await self.heartbeat.start()
        await self.subscriber.start()

    async def stop(self) -> None:
        await self.subscriber.stop()
        await self.heartbeat.stop()


class _Closing:
    """A Service that only closes something on stop."""

    def __init__(self, thing: Any) -> None:
        self.thing = thing

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.thing.aclose()


class FleetCoordinator:
    """The ReloadCoordinator (coordination.py) of an instance with ``fleet.publish_on_reload``.

    A reload request (``POST /-/reload``; SIGHUP and the file watcher, of a one-process instance directly,
    of ``serve --workers N`` through the supervisor handing the request to one worker: ``take_triggers``)
    first reloads this instance through its own coordinator, so a broken, wrongly signed or shrinking rule set
    never reaches the fleet; then it publishes ``rules.path`` (a bundle as it is, with its ``.sig``; a
    rules directory compiled to a bundle) and waits, bounded by ``wait``, until every live worker of the
    fleet reports that version. The report lists the fleet's workers as ``instance:pid``."""

    def __init__(self, local: Any, rollout: FleetRollout, path: str | Path, redis_url: str, *, prefix: str,
                 max_inline: int) -> None:
        self.local = local
        self.rollout = rollout
        self.path = Path(path)
        self.redis_url = redis_url
        self.prefix = prefix
        self.max_inline = max_inline
        self._fleet: list[Any] = []

    def on_reload(self, callback: Any) -> None:
        self.local.on_reload(callback)

    async def start(self) -> None:
        take = getattr(self.local, "take_triggers", None)  # DirectoryCoordinator: serve --workers N
        if take is not None:
            take(self._triggered)
        await self.local.start()

    async def stop(self) -> None:
        await self.local.stop()

    async def _triggered(self, force: bool) -> None:
        """A SIGHUP or rule-file change received by the supervisor, run here like POST /-/reload."""
        report = await self.request_reload(force=force, wait=None)
        if report.ok:
            log.info("fleet: reload requested by SIGHUP or a file change: this instance serves %s",
                     ", ".join(map(str, report.versions)))
        else:
            log.error("fleet: reload requested by SIGHUP or a file change was not applied or not published: %s",
                      report.error or f"pending {', '.join(report.pending)}")

    def workers(self) -> list[Any]:
        return list(self._fleet) or self.local.workers()

    async def _publish(self, force: bool) -> Any:
        from filter_proxy.fleet.publisher import publish_bundle

        if not self.path.is_dir():
            return await publish_bundle(self.redis_url, self.path, prefix=self.prefix,
                                        max_inline=self.max_inline, force=force)
        from filter_proxy.rules.bundle import compile_rules

        with tempfile.TemporaryDirectory(prefix="filter-proxy-publish-") as tmp:
            bundle = Path(tmp) / "rules.bundle"
            await asyncio.to_thread(compile_rules, self.path, bundle)
            return await publish_bundle(self.redis_url, bundle, prefix=self.prefix, max_inline=self.max_inline,
                                        force=force)

    async def request_reload(self, *, force: bool = False, wait: float | None = 5.0) -> Any:
        from redis.exceptions import RedisError

        from filter_proxy.coordination import DEFAULT_WAIT, ReloadReport, WorkerStatus
        from filter_proxy.fleet.publisher import PublishError

        report = await self.local.request_reload(force=force, wait=wait or DEFAULT_WAIT)
        if not report.ok:
            return report  # refused here: nothing reaches the fleet
        try:
            pointer, reached = await self._publish(force)
        except (RedisError, OSError, PublishError, RulesError) as exc:
            log.error("fleet: rules loaded on this instance but NOT published to the fleet: %s", exc)
            failed = WorkerStatus("fleet", 0, report.generation, self.rollout.version(), ok=False,
                                  error=f"loaded on this instance but not published to the fleet: "
                                        f"{type(exc).__name__}: {exc}")
            return ReloadReport(report.generation, force, (*report.workers, failed))
        log.info("fleet: published rules version %s to %d subscribed worker(s)", pointer.version, reached)
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            statuses, pending = await self._fleet_statuses(report.generation, pointer.version)
            if statuses and (not pending or time.monotonic() >= deadline):
                self._fleet = statuses
                return ReloadReport(report.generation, force, tuple(statuses), tuple(pending))
            if time.monotonic() >= deadline:
                return report
            await asyncio.sleep(0.05)

    async def _fleet_statuses(self, generation: int, version: str) -> tuple[list[Any], list[str]]:
        from redis.exceptions import RedisError

        from filter_proxy.coordination import WorkerStatus
        from filter_proxy.fleet.status import fetch_status

        try:
            fleet = await fetch_status(self.redis_url, self.prefix)
        except (RedisError, OSError):
            return [], []
        out, pending = [], []
        for w in fleet.workers:
            name = f"{w.instance}:{w.worker}"
            refused = w.state == "refused"
            out.append(WorkerStatus(name, int(w.worker) if w.worker.isdigit() else 0, generation, w.version,
                                    ok=not refused, error=w.error or None, updated=time.time() - w.age))
            if w.version != version and not refused:
                pending.append(name)
        return out, pending


def shared_hash_cache(config: Config, metrics: Any) -> Any:
    """The Redis tier of the thumbnail-hash cache, or None (disabled, or no fleet hash key configured)."""
    from filter_proxy.config import ConfigError
    from filter_proxy.fleet.hash_cache import SharedHashCache, load_hash_key

    f = config.fleet
    if not (f.redis_url and f.hash_cache):
        return None
    try:
        secret = load_hash_key(f.hash_key_env, f.hash_key_file)
    except (OSError, ValueError) as exc:
        raise ConfigError("fleet.hash_key_file" if f.hash_key_file else "fleet.hash_key_env", str(exc)) from None
    if secret is None:
        log.warning("fleet: no hash-cache key (set %s or fleet.hash_key_file); thumbnails are hashed per "
                    "instance", f.hash_key_env)
        return None
    return SharedHashCache(f.redis_url, secret, prefix=f.prefix, ttl=f.hash_cache_ttl,
                           metrics=fleet_metrics(metrics))


def attach_fleet(config: Config, holder: RuleHolder, metrics: Any, coordinator: Any, services: list[Any],
                 screener: Any = None) -> tuple[Any, FleetRollout]:
    """Add the rollout service for ``config.fleet`` (redis_url set) to ``services``, and the shared hash
    tier to ``screener``; returns the reload coordinator to use (publishing with ``publish_on_reload``,
    else ``coordinator``) and the rollout (its ``degraded`` feeds /-/ready)."""
    from filter_proxy.rules.signing import TrustedKeys

    f = config.fleet
    assert f.redis_url
    keys = TrustedKeys.load(config.rules.public_key) if config.rules.public_key else None
    rollout = FleetRollout(f.redis_url, holder, instance=instance_name(f.instance, config.server.port), keys=keys,
                           prefix=f.prefix, heartbeat=f.heartbeat, status_ttl=f.status_ttl,
                           backoff_max=f.backoff_max, metrics=metrics)
    services.append(rollout)
    if screener is not None:
        shared = shared_hash_cache(config, metrics)
        if shared is not None:
            screener.shared = shared
            services.append(_Closing(shared))
    if f.publish_on_reload:
        coordinator = FleetCoordinator(coordinator, rollout, config.rules.path, f.redis_url, prefix=f.prefix,
                                       max_inline=f.max_inline_bytes)
    return coordinator, rollout
