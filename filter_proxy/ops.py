"""The operations wrapper: a pure ASGI app in front of the served app.

Adds ``/-/health`` (the process is alive), ``/-/ready`` (rules loaded, started, inner app ready),
``/metrics`` (Prometheus), ``POST /-/reload`` (bearer token), a request id per request (X-Request-Id) and
the lifespan that starts and stops the background services (rule watcher, report snapshots, sink) around
the inner app's own lifespan. ``app_from_env`` is the factory uvicorn calls in each worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from filter_proxy.admin import parse_force, reload_reply
from filter_proxy.coordination import DEFAULT_WAIT, LocalCoordinator, ReloadCoordinator
from filter_proxy.logs import request_id_from_header, request_id_var
from filter_proxy.rules.holder import RuleHolder

if TYPE_CHECKING:
    from filter_proxy.config import Config

log = logging.getLogger("filter_proxy.ops")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPS_PATHS = ("/-/health", "/-/ready", "/metrics", "/-/reload", "/-/workers")


class Service(Protocol):
    """A background part started after the inner app and stopped before it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class CallbackService:
    """Adapts a pair of coroutine functions to Service."""

    def __init__(self, start: Callable[[], Awaitable[None]] | None = None,
                 stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self._start, self._stop = start, stop

    async def start(self) -> None:
        if self._start is not None:
            await self._start()

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()


async def _json(send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": payload})


class OpsApp:
    """Wraps ``app``. ``admin_token`` None disables /-/reload (404); ``metrics`` None disables /metrics."""

    def __init__(self, app: ASGIApp, *, holder: RuleHolder | None = None, reloader: Any = None,
                 metrics: Any = None, admin_token: str | None = None, services: Sequence[Service] = (),
                 ready_check: Callable[[], bool] | None = None, coordinator: ReloadCoordinator | None = None,
                 reload_wait: float = DEFAULT_WAIT,
                 degraded_check: Callable[[], str | None] | None = None) -> None:
        self.app = app
        self.holder = holder
        self.reloader = reloader
        if coordinator is None and reloader is not None:  # one process: the request runs the reload itself
            coordinator = LocalCoordinator(self._version, reloader.reload)
        self.coordinator = coordinator
        self.reload_wait = reload_wait  # how long POST /-/reload waits for every worker
        self.metrics = metrics
        self._token = admin_token.encode() if admin_token else None
        self.services = list(services)
        self.ready_check = ready_check
        self.degraded_check = degraded_check  # e.g. the fleet's Redis is unreachable: ready, but say so
        self.started = False
        self._inner_lifespan: _InnerLifespan | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_from_header(_header(scope, b"x-request-id"))
        token = request_id_var.set(rid)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            path = scope["path"]
            if path in OPS_PATHS:
                await self._ops(path, scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    # --- endpoints -----------------------------------------------------------------------------------
    async def _ops(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if path in ("/-/reload", "/-/workers"):
            await self._admin(path, scope, send)
            return
        if method not in ("GET", "HEAD"):
            await _json(send, 405, {"error": "method not allowed"}, [(b"allow", b"GET, HEAD")])
            return
        if path == "/-/health":
            await _json(send, 200, {"status": "ok"})
        elif path == "/-/ready":
            await self._ready(send)
        elif self.metrics is None:
            await _json(send, 404, {"error": "not found"})
        else:
            body, content_type = await asyncio.to_thread(self.metrics.exposition)
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

    def is_ready(self) -> tuple[bool, str]:
        rules = self.holder.current if self.holder is not None else None
        if self.holder is not None and rules is None:
            return False, "rules not loaded"
        if not self.started:
            return False, "starting"
        if self.ready_check is not None and not self.ready_check():
            return False, "upstream client not ready"
        return True, "ok"

    async def _ready(self, send: Send) -> None:
        ok, reason = self.is_ready()
        degraded = self.degraded_check() if ok and self.degraded_check is not None else None
        # Degraded is still 200: the instance serves its last good rules, and a load balancer must not
        # take the whole fleet out of rotation because Redis is down.
        body: dict[str, Any] = {"status": "degraded" if degraded else "ready" if ok else "not ready",
                                "reason": degraded or reason}
        if self.holder is not None:
            body["rules_version"] = getattr(self.holder.current, "version", None)
        await _json(send, 200 if ok else 503, body)

    def _version(self) -> str | None:
        return getattr(self.holder.current, "version", None) if self.holder is not None else None

    async def _admin(self, path: str, scope: Scope, send: Send) -> None:
        """POST /-/reload (reload every worker) and GET /-/workers (what each worker serves), both behind
        the admin bearer token."""
        if self._token is None or self.coordinator is None:
            await _json(send, 404, {"error": "not found"})  # disabled: no token configured
            return
        allowed = "POST" if path == "/-/reload" else "GET"
        if scope["method"] != allowed:
            await _json(send, 405, {"error": "method not allowed"}, [(b"allow", allowed.encode())])
            return
        auth = _header(scope, b"authorization") or ""
        scheme, _, presented = auth.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            await _json(send, 401, {"error": "bearer token required"}, [(b"www-authenticate", b"Bearer")])
            return
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            await _json(send, 403, {"error": "wrong token"})
            return
        if path == "/-/workers":
            workers = await asyncio.to_thread(self.coordinator.workers)
            await _json(send, 200, {"rules_version": self._version(), "workers": [w.to_json() for w in workers]})
            return
        force = parse_force(scope.get("query_string", b""))
        if force is None:
            await _json(send, 400, {"error": "force must be true or false"})
            return
        report = await self.coordinator.request_reload(force=force, wait=self.reload_wait)
        status, body = reload_reply(report, self._version())
        await _json(send, status, body)

    # --- lifespan ------------------------------------------------------------------------------------
    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            self._inner_lifespan = _InnerLifespan(self.app, scope)
            await self._inner_lifespan.startup()
            started: list[Service] = []
            try:
                for service in self.services:
                    await service.start()
                    started.append(service)
            except BaseException:
                for service in reversed(started):
                    await service.stop()
                await self._inner_lifespan.shutdown()
                raise
        except Exception as exc:
            log.exception("startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        self.started = True
        await send({"type": "lifespan.startup.complete"})

        message = await receive()  # lifespan.shutdown
        self.started = False
        failed: str | None = None
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:  # stop the others anyway
                log.exception("stopping %s failed", type(service).__name__)
                failed = str(exc)
        try:
            await self._inner_lifespan.shutdown()
        except Exception as exc:
            failed = str(exc)
        if failed:
            await send({"type": "lifespan.shutdown.failed", "message": failed})
        else:
            await send({"type": "lifespan.shutdown.complete"})


class _InnerLifespan:
    """Runs the inner app's lifespan protocol as a task. An inner app without lifespan support (it raises
    or returns at once) is treated as having nothing to start, like uvicorn's ``lifespan="auto"``."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._to_app.get, self._from_app.put)
        except Exception as exc:
            log.debug("inner app has no lifespan support: %r", exc)
        finally:
            await self._from_app.put({"type": "_returned"})

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._from_app.get()
        if reply["type"] == "_returned":
            self.supported = False
        elif reply["type"] == "lifespan.startup.failed":
            raise RuntimeError(reply.get("message") or "inner app startup failed")

    async def shutdown(self) -> None:
        if not self.supported or self._task is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        reply = await self._from_app.get()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if reply["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(reply.get("message") or "inner app shutdown failed")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


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
        observer=observer, image_screener=screener,
        timeout=httpx.Timeout(config.upstream.timeout, connect=config.upstream.connect_timeout),
        max_response_bytes=config.upstream.max_response_bytes, deadline=config.upstream.deadline,
        removed_header=config.responses.removed_header, back_url=config.responses.back_url,
    )
    ready_check = _ready_check(inner)
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
