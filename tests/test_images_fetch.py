"""Thumbnail fetching: limits against a real local server; the SSRF guard with stub resolvers only.

Traffic goes to 127.0.0.1 only. Refusals are checked with a transport that records every request, so a
refusal is proven to happen before any connection attempt.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from filter_proxy.images_fetch import ThumbnailFetcher, TTLCache, address_refusal
from filter_proxy.rules.policy import ImagePolicy
from tests.support.server import serve

LOCAL = ImagePolicy(allow_networks=("127.0.0.0/8",), fetch_timeout=2.0, max_bytes=50_000)


def png_bytes(size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


async def image(request: Request) -> Response:
    return Response(png_bytes(), media_type="image/png", headers={"X-Seen-Host": request.headers["host"]})


async def slow(request: Request) -> Response:
    while not RELEASE.is_set():  # held until the module's server shuts down, so teardown is quick
        await asyncio.sleep(0.02)
    return Response(png_bytes(), media_type="image/png")


async def big(request: Request) -> Response:
    return Response(b"\x89PNG" + b"\0" * 200_000, media_type="image/png")


async def big_stream(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:  # no Content-Length: the limit must stop the stream itself
        for _ in range(100):
            yield b"\0" * 10_000

    return StreamingResponse(body(), media_type="image/png")


async def page(request: Request) -> Response:
    return Response("<html></html>", media_type="text/html")


async def hop(request: Request) -> Response:
    n = int(request.path_params["n"])
    return RedirectResponse("/img.png" if n == 0 else f"/hop/{n - 1}", status_code=302)


async def to_internal(request: Request) -> Response:
    return RedirectResponse("http://intranet.example.invalid/secret.png", status_code=302)


async def missing(request: Request) -> Response:
    return JSONResponse({"error": "no"}, status_code=404)


RELEASE = threading.Event()
APP = Starlette(routes=[
    Route("/img.png", image), Route("/slow", slow), Route("/big", big), Route("/big-stream", big_stream),
    Route("/page", page), Route("/hop/{n}", hop), Route("/to-internal", to_internal), Route("/missing", missing),
])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    RELEASE.clear()
    with serve(APP) as url:
        yield url
        RELEASE.set()


class StubResolver:
    """Maps every host name to fixed addresses and remembers what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        return self.addresses


class Recording(httpx.AsyncBaseTransport):
    """Records every request; forwards to a real transport only when given one, else fails loudly."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.inner is None:
            raise AssertionError(f"connection attempted to {request.url}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.5.4", "127.0.0.1",
                                     "::1", "fd00::1", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::",
                                     "::ffff:10.0.0.1", "::ffff:127.0.0.1", "100.64.0.1", "240.0.0.1"])
def test_guard_refuses_internal_addresses(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"])
def test_guard_allows_public_addresses(address: str) -> None:
    # the decision function only: no connection is ever made to a public address in tests
    assert address_refusal(address) is None


def test_allow_networks_admit_listed_ranges_only() -> None:
    assert address_refusal("127.0.0.1", ["127.0.0.0/8"]) is None
    assert address_refusal("::ffff:127.0.0.1", ["127.0.0.0/8"]) is None
    assert address_refusal("10.0.0.1", ["127.0.0.0/8"]) is not None
    assert address_refusal("::1", ["127.0.0.0/8"]) is not None
    assert address_refusal("not-an-ip") is not None


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "fd00::1",
                                     "224.0.0.1", "0.0.0.0"])
async def test_refusal_happens_before_any_connection(address: str) -> None:
    transport = Recording()
    resolver = StubResolver(address)
    async with httpx.AsyncClient(transport=transport) as client:
        fetcher = ThumbnailFetcher(ImagePolicy(), client, resolver)
        result = await fetcher.fetch("http://thumbs.example.invalid/a.png")
    assert result.outcome == "refused" and result.data is None
    assert resolver.asked == ["thumbs.example.invalid"]
    assert transport.requests == []


@pytest.mark.anyio
async def test_one_bad_address_among_several_is_refused() -> None:
    transport = Recording()
    async with httpx.AsyncClient(transport=transport) as client:
        fetcher = ThumbnailFetcher(LOCAL, client, StubResolver("127.0.0.1", "10.0.0.1"))
        result = await fetcher.fetch("http://thumbs.example.invalid/a.png")
    assert result.outcome == "refused" and transport.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://thumbs.example.invalid/a.png", "gopher://x/",
                                 "http://10.0.0.1/a.png", "http://[::1]/a.png", "http:///nohost"])
async def test_bad_schemes_and_literal_addresses_are_refused(url: str) -> None:
    transport = Recording()
    async with httpx.AsyncClient(transport=transport) as client:
        result = await ThumbnailFetcher(ImagePolicy(), client, StubResolver()).fetch(url)
    assert result.outcome in ("refused", "error") and transport.requests == []


@pytest.mark.anyio
async def test_fetch_pins_the_resolved_address_and_keeps_the_host(base_url: str) -> None:
    port = httpx.URL(base_url).port
    transport = Recording(httpx.AsyncHTTPTransport())
    resolver = StubResolver("127.0.0.1")
    async with httpx.AsyncClient(transport=transport) as client:
        fetcher = ThumbnailFetcher(LOCAL, client, resolver)
        result = await fetcher.fetch(f"http://thumbs.example.invalid:{port}/img.png")
    assert result.outcome == "fetched" and result.data == png_bytes()
    assert [r.url.host for r in transport.requests] == ["127.0.0.1"]
    assert transport.requests[0].headers["host"] == f"thumbs.example.invalid:{port}"


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "outcome"), [
    ("/img.png", "fetched"), ("/slow", "timeout"), ("/big", "too-large"), ("/big-stream", "too-large"),
    ("/page", "bad-type"), ("/missing", "error"), ("/hop/2", "fetched"), ("/hop/3", "refused"),  # hop/n: n+1 redirects
])
async def test_limits_against_a_local_server(base_url: str, path: str, outcome: str) -> None:
    policy = replace(LOCAL, fetch_timeout=0.5)
    fetcher = ThumbnailFetcher(policy)  # its own client, default resolver (the URL is an IP literal)
    try:
        result = await fetcher.fetch(base_url + path)
    finally:
        await fetcher.aclose()
    assert result.outcome == outcome, result.reason
    assert (result.data is not None) is (outcome == "fetched")


@pytest.mark.anyio
async def test_redirect_to_an_internal_address_is_refused_before_connecting(base_url: str) -> None:
    transport = Recording(httpx.AsyncHTTPTransport())
    resolver = StubResolver("10.0.0.1")
    async with httpx.AsyncClient(transport=transport) as client:
        result = await ThumbnailFetcher(LOCAL, client, resolver).fetch(base_url + "/to-internal")
    assert result.outcome == "refused"
    assert resolver.asked == ["intranet.example.invalid"]
    assert [str(r.url) for r in transport.requests] == [base_url + "/to-internal"]


@pytest.mark.anyio
async def test_redirects_are_rechecked_and_counted(base_url: str) -> None:
    transport = Recording(httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient(transport=transport) as client:
        fetcher = ThumbnailFetcher(replace(LOCAL, max_redirects=1), client)
        assert (await fetcher.fetch(base_url + "/hop/1")).outcome == "refused"
    assert len(transport.requests) == 2  # the second redirect is never followed


@pytest.mark.anyio
async def test_concurrency_is_limited(base_url: str) -> None:
    active = peak = 0

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                await asyncio.sleep(0.02)
                return await self.inner.handle_async_request(request)
            finally:
                active -= 1

    async with httpx.AsyncClient(transport=Counting()) as client:
        fetcher = ThumbnailFetcher(replace(LOCAL, concurrency=2), client)
        results = await asyncio.gather(*(fetcher.fetch(base_url + "/img.png") for _ in range(6)))
    assert {r.outcome for r in results} == {"fetched"}
    assert peak == 2


def test_ttl_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(2, ttl=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2
    now[0] = 11
    assert cache.get("a") is None and cache.get("c") is None
