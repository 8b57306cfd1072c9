"""The served app from one configuration (``build_app``), and ``app_from_env``, the factory uvicorn calls
in each worker process. The operations wrapper itself (``OpsApp``: health, readiness, metrics, reload,
request ids, lifespan of the background services) is ``ops_app.py``, re-exported here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from filter_proxy.coordination import LocalCoordinator, ReloadCoordinator
from filter_proxy.ops_app import OPS_PATHS, CallbackService, OpsApp, RequestIds, Service
from filter_proxy.rules.holder import RuleHolder

if TYPE_CHECKING:
    from filter_proxy.config import Config

__all__ = ["OPS_PATHS", "CallbackService", "OpsApp", "RequestIds", "Service", "app_from_env", "build_adapter",
           "build_app"]


def _with_funnel(config: Config, inner: Any, holder: RuleHolder, observer: Any) -> Any:
    """Sign the warnings' help links and serve ``/-/help/<token>`` in front of ``inner``; with
    ``[funnel] repeat_cookie`` also set the opt-in follow-up cookie (same secret, another MAC label)."""
    from filter_proxy.funnel.cookie import RepeatCookie
    from filter_proxy.funnel.route import HelpRoute
    from filter_proxy.funnel.token import HelpSigner, help_secret

    secret = help_secret()
    inner.help_signer = HelpSigner(secret)
    if config.funnel.repeat_cookie:
        inner.repeat_cookie = RepeatCookie(secret, config.funnel.cookie_max_age, config.funnel.cookie_secure)
    return HelpRoute(inner.help_signer, lambda: holder.current.warnings, observer, inner)


def build_app(config: Config, *, metrics: Any = None,
              coordinator_factory: Callable[[Callable[[], str | None]], ReloadCoordinator] | None = None) -> OpsApp:
    """The whole served app from one configuration: rules -> RuleHolder -> observers (metrics, report
    counts, sink) -> reverse proxy -> this wrapper. Loads the rules now: bad rules refuse to start.

    ``coordinator_factory(version)`` makes the ReloadCoordinator (e.g. a fleet one); by default a
    DirectoryCoordinator under `serve --workers N`, else a LocalCoordinator. It is called before the rules
    are loaded; ``version()`` returns the version served once they are."""
    import time

    import httpx

    from filter_proxy.coordination import STATE_ENV, DirectoryCoordinator
    from filter_proxy.events import MultiObserver
    from filter_proxy.proxy import create_proxy_app
    from filter_proxy.reload import Reloader
    from filter_proxy.rules.signing import rules_loader
    from filter_proxy.sink import build_sink

    adapter = build_adapter(config)  # a bad adapter or route setting fails before the rules are loaded
    if metrics is None and config.metrics.enabled:
        from filter_proxy.metrics import Metrics  # after PROMETHEUS_MULTIPROC_DIR is set (see serve)

        metrics = Metrics()
    holder: RuleHolder | None = None

    def version() -> str | None:
        return getattr(holder.current, "version", None) if holder is not None else None

    # With several workers, a reload reaches all of them through the supervisor's state directory. The
    # coordinator reads the reload generation before the rules are loaded (see DirectoryCoordinator).
    state_dir = os.environ.get(STATE_ENV)
    coordinator: ReloadCoordinator
    if coordinator_factory is not None:
        coordinator = coordinator_factory(version)
    else:
        coordinator = DirectoryCoordinator(state_dir, version) if state_dir else LocalCoordinator(version)
    started = time.perf_counter()
    loader = rules_loader(config.rules.public_key)  # signature-checked when a public key is configured
    rules = loader(config.rules.path)
    holder = RuleHolder(rules)
    if metrics is not None:
        metrics.rules_loaded(rules, time.perf_counter() - started)

    observers: list[Any] = [metrics] if metrics is not None else []
    services: list[Service] = []
    if config.report.enabled:
        report = _report_counter(config)
        observers.append(report)
        services.append(CallbackService(lambda: report.start(config.report.snapshot_interval), report.stop))
    k = config.sink
    sink = build_sink(k.kind, path=k.path, max_bytes=k.max_bytes, backups=k.backups, url=k.url,
                      retries=k.retries, backoff=k.backoff, timeout=k.timeout, queue_size=k.queue_size,
                      dedupe_size=k.dedupe_size, on_event=metrics.sink_event if metrics is not None else None)
    if sink is not None:
        observers.append(sink)
        services.append(sink)
    observer = MultiObserver(*observers)

    screener = None
    if config.images.enabled:
        from filter_proxy.images_screen import ImageScreener

        shown = None
        if config.images.rewrite_thumbnails:  # what is shown is what was checked (filter_proxy/thumbs.py)
            from filter_proxy.thumbs import ShownThumbnails, thumb_secret

            shown = ShownThumbnails(thumb_secret(), max_bytes=config.images.thumb_cache_bytes)
        screener = ImageScreener(rules.policy.images, observer=observer, shown=shown)
        services.append(CallbackService(stop=screener.aclose))

    inner = create_proxy_app(
        config.upstream.url or "", holder, adapter,
        search_paths=config.routes.search_paths or None, suggest_paths=config.routes.suggest_paths or None,
        screen_routes=config.routes.screen, pass_routes=config.routes.pass_, refuse_routes=config.routes.refuse,
        read_routes=config.routes.read,
        observer=observer, image_screener=screener,
        timeout=httpx.Timeout(config.upstream.timeout, connect=config.upstream.connect_timeout),
        max_response_bytes=config.upstream.max_response_bytes, deadline=config.upstream.deadline,
        removed_header=config.responses.removed_header, back_url=config.responses.back_url,
    )
    ready_check = _ready_check(inner)
    if config.funnel.help_links:  # counted help links (filter_proxy/funnel/): /-/help/<token> in front
        inner = _with_funnel(config, inner, holder, observer)
    if screener is not None and screener.shown is not None:
        from filter_proxy.thumbs import ThumbRoute

        inner = ThumbRoute(screener.shown, inner, screener=screener, rules=lambda: holder.current)
    reloader = Reloader(holder, config.rules.path, metrics=metrics, loader=loader,
                        debounce_ms=config.rules.debounce_ms, auto_force=config.rules.force_reload)
    degraded_check = None
    if config.fleet.redis_url:  # a fleet: follow (and with publish_on_reload, publish) versions through Redis
        from filter_proxy.fleet.service import attach_fleet

        coordinator, rollout = attach_fleet(config, holder, metrics, coordinator, services, screener)
        degraded_check = rollout.degraded
    coordinator.on_reload(reloader.reload)

    async def start_reloader() -> None:
        # SIGHUP and file changes go through the coordinator; with workers the supervisor watches the files.
        await reloader.start(watch=config.rules.watch and not state_dir,
                             trigger=lambda force: coordinator.request_reload(force=force, wait=None))

    services[:0] = [CallbackService(start_reloader, reloader.stop), CallbackService(coordinator.start, coordinator.stop)]
    if metrics is not None:
        from filter_proxy.metrics import mark_process_dead

        services.append(CallbackService(stop=lambda: asyncio.to_thread(mark_process_dead, os.getpid())))
        if callable(getattr(metrics, "start", None)):  # per-request events are batched (metrics.py); stopped
            services.append(CallbackService(metrics.start, metrics.stop))  # (flushed) before the above
    return OpsApp(inner, holder=holder, reloader=reloader, metrics=metrics, coordinator=coordinator,
                  reload_wait=config.rules.reload_wait,
                  admin_token=config.admin.resolve_token(), services=services, ready_check=ready_check,
                  degraded_check=degraded_check)


def _report_counter(config: Config) -> Any:
    """SQLite (embedded default) or, for a postgresql:// database, the fleet's report (report_pg.py)."""
    from filter_proxy.report import ReportCounter

    if config.report.database.startswith(("postgresql://", "postgres://")):
        from filter_proxy.fleet.identity import instance_name
        from filter_proxy.report_pg import PostgresReportCounter

        return PostgresReportCounter(config.report.database, config.report.bucket,
                                     instance_name(config.fleet.instance, config.server.port))
    return ReportCounter(config.report.database, config.report.bucket)


def build_adapter(config: Config) -> Any:
    """The configured adapter: its own field mapping with the [fields] overrides, its [upstream.options]
    and the query parameter. An unknown adapter or option, or a set-up that would screen no route at all
    (the generic adapter without routes.search_paths), is a configuration error: a filter that screens
    nothing must not start and look as if it worked."""
    from dataclasses import replace

    from filter_proxy.adapters import get_adapter
    from filter_proxy.config import ConfigError

    name, options = config.upstream.adapter, dict(config.upstream.options)
    if config.routes.query_param:
        options["query_param"] = config.routes.query_param
    try:
        get_adapter(name)
    except ValueError as exc:
        raise ConfigError("upstream.adapter", str(exc)) from None
    try:
        adapter = get_adapter(name, None, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError("upstream.options", str(exc)) from None
    f = config.fields
    overrides: dict[str, Any] = {field: tuple(getattr(f, field)) for field in
                                 ("title", "snippet", "url", "image_url", "extra_text") if getattr(f, field)}
    if f.image_hash:
        overrides["image_hash"] = dict(f.image_hash)
    if overrides:
        adapter = get_adapter(name, replace(adapter.fields, **overrides), **options)
    if not (config.routes.search_paths or adapter.default_routes()
            or config.routes.suggest_paths or config.routes.screen):
        raise ConfigError("routes.search_paths", f"the {name!r} adapter has no default routes: list the "
                          "search (and suggest) paths to screen, or every request would pass unscreened")
    return adapter


def _ready_check(inner: Any) -> Callable[[], bool] | None:
    """The inner app's own readiness (a ``ready`` attribute or method on it or on the proxy it wraps).
    Without one, readiness is "its lifespan startup completed", which is when the proxy opens its client."""
    for obj in (inner, getattr(inner, "app", None)):
        if obj is not None and hasattr(type(obj), "ready"):
            return lambda obj=obj: bool(obj.ready() if callable(obj.ready) else obj.ready)
    return None


def app_from_env() -> OpsApp:
    """uvicorn factory for ``--workers N``: reads the config file named by FILTER_PROXY_CONFIG (optional)
    plus FILTER_PROXY_* variables, which `serve` sets from its command-line flags."""
    from filter_proxy.config import CONFIG_ENV, load_config
    from filter_proxy.logs import configure_logging

    config = load_config(os.environ.get(CONFIG_ENV) or None, require_upstream=True)
    configure_logging(config.logging.level, config.logging.json, access_log=config.logging.access_log)
    return build_app(config)
