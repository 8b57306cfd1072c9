"""The operations wrapper: a pure ASGI app in front of the served app (``ops.build_app`` assembles it).

Adds ``/-/health`` (the process is alive), ``/-/ready`` (rules loaded, started, inner app ready),
``/metrics`` (Prometheus), ``POST /-/reload`` (bearer token), a request id per request (X-Request-Id) and
the lifespan that starts and stops the background services (rule watcher, report snapshots, metrics
batches, sink) around the inner app's own lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import orjson

from filter_proxy.admin import parse_force, reload_reply
from filter_proxy.coordination import DEFAULT_WAIT, LocalCoordinator, ReloadCoordinator
from filter_proxy.logs import request_id_var
from filter_proxy.rules.holder import RuleHolder

log = logging.getLogger("filter_proxy.ops")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A client-supplied id is echoed only when it is short and plain, so it cannot smuggle text into logs.
_REQUEST_ID_RE = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class RequestIds:
    """Fresh request ids: a random per-process prefix and a counter (32 hex digits, as long as a uuid4). Unique per process
    and across workers, and a tenth of a uuid4's cost on every request; an id correlates log lines, it is
    no secret. A forked child draws a new prefix."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._next = itertools.count().__next__

    def __call__(self) -> str:
        return f"{self._prefix}{self._next():020x}"


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
        self._request_id = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":  # the server hands header names over lower-cased
                if _REQUEST_ID_RE.match(value):
                    rid = value.decode("ascii")
                break
        if rid is None:
            rid = self._request_id()
        token = request_id_var.set(rid)
        rid_header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                headers.append(rid_header)
                message = {**message, "headers": headers}
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
            flush = getattr(self.metrics, "flush", None)
            if flush is not None:  # batched events in this loop first; the exposition runs in a thread
                flush()
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
