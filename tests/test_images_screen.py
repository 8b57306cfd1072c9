"""ImageScreener: precomputed hashes, fetch → hash → match, caches and the page budget (loopback only)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filter_proxy.adapters.base import ResultView
from filter_proxy.images_screen import ImageScreener
from filter_proxy.matchers.images import ImageEntry, ImageIndex, compute_hashes
from filter_proxy.rules.policy import DEFAULT_THRESHOLDS, ImagePolicy
from filter_proxy.verdict import ALLOW, Verdict
from tests.support.server import serve

POLICY = ImagePolicy(allow_networks=("127.0.0.0/8",), page_budget=5.0, fetch_timeout=5.0)


def jpeg(name: str, flip: bool = False) -> bytes:
    image = Image.fromarray(getattr(data, name)()).convert("RGB").resize((160, 120))
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return buf.getvalue()


class Rules:
    """Stands in for RuleSet at the edge of this unit test: a real ImageIndex and the same method."""

    def __init__(self, index: ImageIndex) -> None:
        self.images = index

    def check_image_hashes(self, hashes: Mapping[str, str | Sequence[str]]) -> Verdict:
        match = self.images.match(hashes, lambda c, a: DEFAULT_THRESHOLDS.get(a, 0))
        if match is None:
            return ALLOW
        return Verdict("block", match.category, match.rule_id, "deterrence", "image", match.distance)


@pytest.fixture(scope="module")
def rules() -> Rules:
    listed = compute_hashes(jpeg("astronaut"), ["phash", "dhash"])
    return Rules(ImageIndex.build([ImageEntry(a, h, "listed", f"rules/images/listed.csv:{i + 1}")
                                   for i, (a, h) in enumerate(listed.items())]))


async def photo(request: Request) -> Response:
    return Response(jpeg(request.path_params["name"], "flip" in request.query_params), media_type="image/jpeg")


async def broken(request: Request) -> Response:
    return Response(b"\xff\xd8 not really a jpeg", media_type="image/jpeg")


async def slow(request: Request) -> Response:
    while not RELEASE.is_set():  # held until the module's server shuts down, so teardown is quick
        await asyncio.sleep(0.02)
    return Response(jpeg("camera"), media_type="image/jpeg")


RELEASE = threading.Event()
APP = Starlette(routes=[Route("/p/{name}.jpg", photo), Route("/broken.jpg", broken), Route("/slow.jpg", slow)])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    RELEASE.clear()
    with serve(APP) as url:
        yield url
        RELEASE.set()


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def image_fetch(self, outcome: str) -> None:
        self.seen.append(outcome)


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        if self.inner is None:
            raise AssertionError("no fetch expected")
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_precomputed_hashes_need_no_fetch(rules: Rules) -> None:
    transport, seen = Counting(), Outcomes()
    listed = compute_hashes(jpeg("astronaut", flip=False), ["phash"])
    views = [ResultView(0, image_hashes=listed), ResultView(1, image_hashes={"phash": "0" * 16}), ResultView(2)]
    async with httpx.AsyncClient(transport=transport) as client:
        out = await ImageScreener(POLICY, client, seen).screen(views, rules)  # type: ignore[arg-type]
    assert out[0].verdict is not None and out[0].verdict.action == "block" and out[0].verdict.signal == "image"
    assert out[1].verdict == ALLOW and 2 not in out
    assert transport.urls == [] and seen.seen == ["precomputed", "precomputed"]


@pytest.mark.anyio
async def test_fetched_thumbnails_are_hashed_and_matched(rules: Rules, base_url: str) -> None:
    seen = Outcomes()
    screener = ImageScreener(POLICY, observer=seen)
    views = [ResultView(0, image_url=f"{base_url}/p/astronaut.jpg?flip=1"),  # a mirrored copy
             ResultView(1, image_url=f"{base_url}/p/camera.jpg"),
             ResultView(2, image_url=f"{base_url}/broken.jpg"),
             ResultView(3, image_url="http://10.0.0.1/x.jpg")]
    try:
        out = await screener.screen(views, rules)  # type: ignore[arg-type]
    finally:
        await screener.aclose()
    assert out[0].verdict is not None and out[0].verdict.category == "listed" and out[0].verdict.rule_id
    assert out[1].verdict == ALLOW
    assert out[2].verdict is None and out[3].verdict is None  # unverified: the middleware applies on_unverified
    assert sorted(seen.seen) == ["fetched", "fetched", "refused", "undecodable"]


@pytest.mark.anyio
async def test_hashes_are_cached_by_url_and_by_content(rules: Rules, base_url: str) -> None:
    transport, seen = Counting(httpx.AsyncHTTPTransport()), Outcomes()
    async with httpx.AsyncClient(transport=transport) as client:
        screener = ImageScreener(POLICY, client, seen)
        computed: list[int] = []
        original = screener._compute

        def counting(raw: bytes, algorithms: tuple[str, ...], budget: Any = None) -> Mapping[str, Sequence[str]]:
            computed.append(len(raw))
            return original(raw, algorithms, budget)

        screener._compute = counting  # type: ignore[method-assign]
        url = f"{base_url}/p/coffee.jpg"
        first = await screener.screen([ResultView(0, image_url=url)], rules)  # type: ignore[arg-type]
        again = await screener.screen([ResultView(5, image_url=url)], rules)  # type: ignore[arg-type]
        same_bytes = await screener.screen([ResultView(0, image_url=url + "?v=2")], rules)  # type: ignore[arg-type]
    assert first[0].verdict == again[5].verdict == same_bytes[0].verdict == ALLOW
    assert len(transport.urls) == 2  # the repeated URL was not fetched again
    assert len(computed) == 1  # the same bytes under another URL were not hashed again
    assert seen.seen == ["fetched", "cached", "fetched"]


@pytest.mark.anyio
async def test_page_budget_leaves_slow_thumbnails_unverified(rules: Rules, base_url: str) -> None:
    seen = Outcomes()
    screener = ImageScreener(replace(POLICY, page_budget=0.5), observer=seen)
    views = [ResultView(0, image_url=f"{base_url}/slow.jpg"),
             ResultView(1, image_url=f"{base_url}/p/astronaut.jpg")]
    try:
        out = await screener.screen(views, rules)  # type: ignore[arg-type]
    finally:
        await screener.aclose()
    assert out[0].verdict is None
    assert out[1].verdict is not None and out[1].verdict.action == "block"
    assert sorted(seen.seen) == ["fetched", "over-budget"]
