"""The operations wrapper: health, readiness, metrics, admin reload auth, request ids, lifespan order."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from filter_proxy.logs import request_id_var
from filter_proxy.metrics import Metrics
from filter_proxy.ops import CallbackService, OpsApp
from filter_proxy.reload import Reloader
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.holder import RuleHolder

TOKEN = "test-admin-token-0123456789"


class Inner:
    """A tiny ASGI app with lifespan support that records what happened."""

    def __init__(self, events: list[str] | None = None, lifespan: bool = True) -> None:
        self.events = events if events is not None else []
        self.lifespan = lifespan
        self.seen_request_ids: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            if not self.lifespan:
                raise RuntimeError("no lifespan here")
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.events.append("inner start")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.events.append("inner stop")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.seen_request_ids.append(request_id_var.get())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"x-request-id", b"inner-id")]})
        await send({"type": "http.response.body", "body": f"inner {scope['path']}".encode()})


async def lifespan(app: Any, message: str) -> dict[str, Any]:
    """Drive one lifespan message ("startup", then "shutdown") through ``app``; returns its reply."""
    state = app.__dict__.setdefault("_test_lifespan", {})
    if message == "startup":
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        state["inbox"], state["outbox"] = inbox, outbox
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        state["task"] = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await state["inbox"].put({"type": f"lifespan.{message}"})
    reply = await state["outbox"].get()
    if message == "shutdown" or reply["type"].endswith("failed"):
        await state["task"]
    return reply


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://filter.test") as c:
        yield c


def rules(version: str) -> SimpleNamespace:
    return SimpleNamespace(version=version, source="rules/", stats=lambda: {"total": 1})


def make_app(loader: Any = None, token: str | None = TOKEN, metrics: Any = None) -> tuple[OpsApp, RuleHolder]:
    holder = RuleHolder(rules("v1"))  # type: ignore[arg-type]
    reloader = Reloader(holder, "rules/", loader=loader or (lambda path: rules("v2")), metrics=metrics)
    app = OpsApp(Inner(), holder=holder, reloader=reloader, metrics=metrics, admin_token=token)
    app.started = True
    return app, holder


@pytest.mark.anyio
async def test_health_and_ready() -> None:
    app, _ = make_app()
    app.started = False
    async with client_for(app) as c:
        assert (await c.get("/-/health")).json() == {"status": "ok"}
        r = await c.get("/-/ready")
        assert r.status_code == 503 and r.json()["reason"] == "starting"
        app.started = True
        r = await c.get("/-/ready")
        assert r.status_code == 200 and r.json()["rules_version"] == "v1"
        app.ready_check = lambda: False
        r = await c.get("/-/ready")
        assert r.status_code == 503 and r.json()["reason"] == "upstream client not ready"
        assert (await c.post("/-/health")).status_code == 405


@pytest.mark.anyio
async def test_other_paths_go_to_the_inner_app_with_a_request_id() -> None:
    app, _ = make_app()
    async with client_for(app) as c:
        r = await c.get("/search", params={"q": "bread"})
        assert r.text == "inner /search"
        generated = r.headers["x-request-id"]
        assert len(generated) == 32 and generated != "inner-id"
        assert r.headers.get_list("x-request-id") == [generated]  # the inner app's own id is replaced
        r = await c.get("/search", headers={"X-Request-Id": "abc-123.DEF"})
        assert r.headers["x-request-id"] == "abc-123.DEF"
        r = await c.get("/search", headers={"X-Request-Id": "bad id with spaces"})
        assert r.headers["x-request-id"] != "bad id with spaces"
        assert len(r.headers["x-request-id"]) == 32
        r = await c.get("/-/health", headers={"X-Request-Id": "ops-1"})
        assert r.headers["x-request-id"] == "ops-1"
    inner = app.app
    assert isinstance(inner, Inner)
    assert inner.seen_request_ids[1] == "abc-123.DEF"  # visible to the inner app's logging
    assert request_id_var.get() is None  # reset after each request


@pytest.mark.anyio
async def test_metrics_endpoint() -> None:
    metrics = Metrics()
    metrics.request("search", "block")
    app, _ = make_app(metrics=metrics)
    async with client_for(app) as c:
        r = await c.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert 'filter_proxy_requests_total{action="block",route="search"} 1.0' in r.text
    app, _ = make_app(metrics=None)
    async with client_for(app) as c:
        assert (await c.get("/metrics")).status_code == 404


@pytest.mark.anyio
async def test_reload_auth_missing_wrong_right() -> None:
    metrics = Metrics()
    app, holder = make_app(metrics=metrics)
    async with client_for(app) as c:
        r = await c.post("/-/reload")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        r = await c.post("/-/reload", headers={"Authorization": f"Basic {TOKEN}"})
        assert r.status_code == 401
        r = await c.post("/-/reload", headers={"Authorization": "Bearer wrong-token-0123456789"})
        assert r.status_code == 403
        r = await c.post("/-/reload", headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
        assert r.status_code == 403
        assert holder.current.version == "v1"  # nothing reloaded yet
        assert (await c.get("/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 405
        r = await c.post("/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.json()["ok"] is True and r.json()["rules_version"] == "v2"
        assert [(w["pid"], w["version"], w["generation"]) for w in r.json()["workers"]] == [(os.getpid(), "v2", 1)]
    assert holder.current.version == "v2"
    assert metrics.value("filter_proxy_rules_reloads_total", {"result": "success"}) == 1


@pytest.mark.anyio
async def test_reload_disabled_without_token() -> None:
    app, holder = make_app(token=None)
    async with client_for(app) as c:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            assert (await c.post("/-/reload", headers=headers)).status_code == 404
    assert holder.current.version == "v1"


@pytest.mark.anyio
async def test_reload_of_broken_rules_is_refused() -> None:
    def broken(path: str) -> Any:
        raise RulesError("rules/terms/zqx-abuse.txt", 7, "unreadable entry")

    metrics = Metrics()
    app, holder = make_app(loader=broken, metrics=metrics)
    async with client_for(app) as c:
        r = await c.post("/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422
    body = r.json()
    assert (body["ok"], body["error"], body["rules_version"]) == (False, "rules/terms/zqx-abuse.txt:7: unreadable entry", "v1")
    assert [(w["ok"], w["version"], w["error"]) for w in body["workers"]] == [(False, "v1", body["error"])]
    assert holder.current.version == "v1"
    assert metrics.value("filter_proxy_rules_reloads_total", {"result": "failure"}) == 1


class Recorder:
    def __init__(self, name: str, events: list[str], fail: bool = False) -> None:
        self.name, self.events, self.fail = name, events, fail

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")
        self.events.append(f"{self.name} start")

    async def stop(self) -> None:
        self.events.append(f"{self.name} stop")


@pytest.mark.anyio
async def test_lifespan_order_inner_first_services_after() -> None:
    events: list[str] = []
    app = OpsApp(Inner(events), services=[Recorder("watcher", events), Recorder("report", events)])
    assert await lifespan(app, "startup") == {"type": "lifespan.startup.complete"}
    assert app.started
    assert await lifespan(app, "shutdown") == {"type": "lifespan.shutdown.complete"}
    assert not app.started
    assert events == ["inner start", "watcher start", "report start", "report stop", "watcher stop", "inner stop"]


@pytest.mark.anyio
async def test_lifespan_with_inner_app_without_lifespan_support() -> None:
    events: list[str] = []
    app = OpsApp(Inner(events, lifespan=False), services=[CallbackService(stop=None), Recorder("sink", events)])
    assert (await lifespan(app, "startup"))["type"] == "lifespan.startup.complete"
    assert (await lifespan(app, "shutdown"))["type"] == "lifespan.shutdown.complete"
    assert events == ["sink start", "sink stop"]


@pytest.mark.anyio
async def test_failing_service_fails_startup_and_stops_the_started_ones() -> None:
    events: list[str] = []
    app = OpsApp(Inner(events), services=[Recorder("watcher", events), Recorder("sink", events, fail=True)])
    reply = await lifespan(app, "startup")
    assert reply == {"type": "lifespan.startup.failed", "message": "sink cannot start"}
    assert events == ["inner start", "watcher start", "watcher stop", "inner stop"]
    assert not app.started
