"""The reverse proxy against real loopback upstreams (uvicorn on ephemeral ports): forwarding, hop-by-hop
headers, streaming pass-through, and the failure policy (timeout 504, refused 502, 5xx 502, oversize 502)."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import ReverseProxy, create_proxy_app
from tests.support.server import serve
from tests.test_middleware import RecordingObserver, build_rules, searx_page

pytestmark = pytest.mark.anyio


class Upstream:
    """A loopback search backend that records what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.page: dict[str, Any] = searx_page()
        self.app = Starlette(
            routes=[
                Route("/search", self.search, methods=["GET", "POST"]),
                Route("/prefix/search", self.search, methods=["GET", "POST"]),
                Route("/echo/{rest:path}", self.echo, methods=["GET", "POST", "PUT"]),
                Route("/slow/search", self.slow),
                Route("/boom", self.boom),
                Route("/search500", self.boom),
                Route("/stream", self.stream),
                Route("/gz", self.gz),
            ]
        )

    async def search(self, request: Request) -> Response:
        self.seen.append({"path": request.url.path, "headers": dict(request.headers)})
        return JSONResponse(self.page)

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        self.seen.append(
            {
                "method": request.method,
                "path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": request.headers.raw,
                "body": body,
            }
        )
        return Response(b"echoed", headers={"x-upstream": "1", "keep-alive": "timeout=5"})

    async def slow(self, request: Request) -> Response:
        while not self.release.is_set():  # held until the test lets go: no sleeping on the clock
            await anyio.sleep(0.01)
        return JSONResponse(self.page)

    async def boom(self, request: Request) -> Response:
        return JSONResponse({"results": [{"title": "zqxblocked leak"}]}, status_code=500)

    async def stream(self, request: Request) -> Response:
        async def chunks() -> Any:
            for i in range(5):
                yield f"chunk {i} zqxblocked\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    async def gz(self, request: Request) -> Response:
        body = gzip.compress(b"compressed bytes")
        return Response(body, headers={"content-encoding": "gzip"}, media_type="text/plain")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    backend = Upstream()
    with serve(backend.app) as url:
        yield backend, url
        backend.release.set()


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://front.example.invalid")


async def test_forwards_method_path_query_body_and_end_to_end_headers(upstream: tuple[Upstream, str]) -> None:
    backend, url = upstream
    proxy = ReverseProxy(url)
    try:
        async with client_for(proxy) as client:
            del client.headers["accept-encoding"]  # so the upstream sees only what the proxy adds
            r = await client.put(
                "/echo/a%2Fb/c",
                params={"x": "1 2", "y": "ü"},
                content=b"payload bytes",
                headers={
                    "x-custom": "kept",
                    "connection": "x-private",
                    "x-private": "dropped: named in Connection",
                    "te": "trailers",
                    "proxy-authorization": "Basic secret",
                    "x-forwarded-for": "198.51.100.1",
                },
            )
    finally:
        await proxy.aclose()
    assert r.status_code == 200 and r.content == b"echoed"
    assert r.headers["x-upstream"] == "1"
    assert "keep-alive" not in r.headers  # hop-by-hop from the upstream is dropped too
    seen = backend.seen[0]
    headers = {k.decode().lower(): v.decode() for k, v in seen["headers"]}
    assert seen["method"] == "PUT"
    assert seen["path"] == "/echo/a%2Fb/c"  # the raw path, percent-encoding intact
    assert seen["query"] == "x=1+2&y=%C3%BC"
    assert seen["body"] == b"payload bytes"
    assert headers["x-custom"] == "kept"
    for dropped in ("x-private", "te", "proxy-authorization"):
        assert dropped not in headers
    assert headers["host"] == url.removeprefix("http://")  # rewritten to the upstream's
    assert headers["x-forwarded-host"] == "front.example.invalid"
    assert headers["x-forwarded-for"] == "198.51.100.1, 203.0.113.7"
    assert headers["x-forwarded-proto"] == "http"
    assert "accept-encoding" not in headers  # the proxy's client adds none of its own defaults


async def test_upstream_path_prefix(upstream: tuple[Upstream, str], rules: Any) -> None:
    backend, url = upstream
    app = create_proxy_app(url + "/prefix", rules, "searxng")
    try:
        async with client_for(app) as client:
            r = await client.get("/search", params={"q": "garden"})
    finally:
        await app.app.aclose()
    assert r.status_code == 200 and backend.seen[0]["path"] == "/prefix/search"


async def test_screened_route_through_the_proxy(upstream: tuple[Upstream, str], rules: Any) -> None:
    backend, url = upstream
    observer = RecordingObserver()
    app = create_proxy_app(url, rules, "searxng", observer=observer)
    try:
        async with client_for(app) as client:
            r = await client.get("/search", params={"q": "zqxblocked"})
            assert r.headers["x-filter-action"] == "block" and backend.seen == []
            r = await client.get("/search", params={"q": "garden"}, headers={"accept-encoding": "gzip, br"})
    finally:
        await app.app.aclose()
    assert r.status_code == 200
    assert b"zqxblocked" not in r.content and r.headers["x-filter-removed"] == "3"
    assert backend.seen[0]["headers"]["accept-encoding"] == "identity"
    assert observer.upstreams == ["ok"]


async def test_pass_through_routes_stream_raw(upstream: tuple[Upstream, str], rules: Any) -> None:
    _, url = upstream
    app = create_proxy_app(url, rules, "searxng", pass_routes=["GET /stream", "GET /gz"])
    try:
        async with client_for(app) as client:
            r = await client.get("/stream")
            assert r.text == "".join(f"chunk {i} zqxblocked\n" for i in range(5))  # not screened: not a search
            async with client.stream("GET", "/gz") as s:
                raw = b"".join([c async for c in s.aiter_raw()])
                assert s.headers["content-encoding"] == "gzip"
    finally:
        await app.app.aclose()
    assert gzip.decompress(raw) == b"compressed bytes"  # passed as the upstream sent it


async def test_timeout_is_504(upstream: tuple[Upstream, str], rules: Any) -> None:
    _, url = upstream
    observer = RecordingObserver()
    app = create_proxy_app(url, rules, "searxng", observer=observer, search_paths=["/slow/search"],
                           timeout=httpx.Timeout(0.2, connect=1.0))
    try:
        async with client_for(app) as client:
            r = await client.get("/slow/search", params={"q": "garden"})
    finally:
        await app.app.aclose()
    assert r.status_code == 504 and b"zqxblocked" not in r.content
    assert observer.upstreams == ["timeout"]


async def test_connection_refused_is_502(rules: Any) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    app = create_proxy_app(f"http://127.0.0.1:{port}", rules, "searxng", pass_routes=["/anything"])
    try:
        async with client_for(app) as client:
            r = await client.get("/search", params={"q": "garden"})
            other = await client.get("/anything")
    finally:
        await app.app.aclose()
    assert r.status_code == 502 and other.status_code == 502
    assert r.json() == {"error": "upstream unreachable"}


async def test_upstream_5xx_is_502_without_its_body(upstream: tuple[Upstream, str], rules: Any) -> None:
    _, url = upstream
    app = create_proxy_app(url, rules, "searxng", search_paths=["/search500"], pass_routes=["/boom"])
    try:
        async with client_for(app) as client:
            r = await client.get("/search500", params={"q": "garden"})
            passthrough = await client.get("/boom")
    finally:
        await app.app.aclose()
    for resp in (r, passthrough):
        assert resp.status_code == 502 and b"zqxblocked" not in resp.content


async def test_oversize_on_screened_route_is_502(upstream: tuple[Upstream, str], rules: Any) -> None:
    _, url = upstream
    size = len(orjson.dumps(searx_page()))
    app = create_proxy_app(url, rules, "searxng", max_response_bytes=size // 2)
    try:
        async with client_for(app) as client:
            r = await client.get("/search", params={"q": "garden"})
    finally:
        await app.app.aclose()
    assert r.status_code == 502 and b"zqxblocked" not in r.content


async def test_lifespan_opens_and_closes_the_client(rules: Any) -> None:
    app = create_proxy_app("http://127.0.0.1:9", rules, "searxng")
    proxy = app.app
    assert isinstance(app, FilterMiddleware) and isinstance(proxy, ReverseProxy)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        if messages[0]["type"] == "lifespan.shutdown":
            assert proxy._hop is not None and proxy._hop.is_open
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert proxy._hop is None


async def test_caller_client_is_used_and_not_closed(upstream: tuple[Upstream, str], rules: Any) -> None:
    backend, url = upstream
    async with httpx.AsyncClient(trust_env=False) as mine:
        app = create_proxy_app(url, rules, "searxng", client=mine)
        async with client_for(app) as client:
            assert (await client.get("/search", params={"q": "garden"})).status_code == 200
        await app.app.aclose()
        assert not mine.is_closed


def test_upstream_must_be_http() -> None:
    with pytest.raises(ValueError):
        ReverseProxy("ftp://127.0.0.1/")
