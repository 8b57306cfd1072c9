"""What is shown is what was checked (issue 11 item 6g): a host that answers the filter with one picture and
the browser with another (cloaking by User-Agent) cannot show the browser a picture the filter never saw.
Loopback only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from skimage import data
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from filter_proxy.images_screen import ImageScreener
from filter_proxy.matchers.images import compute_hashes
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.thumbs import PREFIX, ShownThumbnails, ThumbRoute
from tests.support.server import serve
from tests.test_middleware import build_rules


def png(name: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(getattr(data, name)()).convert("RGB").resize((160, 120)).save(out, format="PNG")
    return out.getvalue()


LISTED, HARMLESS = png("astronaut"), png("coffee")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


class CloakingHost:
    """Serves the harmless picture to the filter's fetcher (Accept: image/*, no browser User-Agent) and the
    listed one to browsers; a search page whose thumbnail points at it."""

    def __init__(self) -> None:
        self.base = ""
        self.app = Starlette(routes=[Route("/search", self.search), Route("/pic.png", self.picture),
                                     Route("/vector.svg", self.vector)])

    async def search(self, request: Request) -> Response:
        results = [{"url": "https://site.example.invalid/1", "title": "one", "content": "",
                    "thumbnail_src": f"{self.base}/pic.png"},
                   {"url": "https://site.example.invalid/2", "title": "two", "content": "",
                    "thumbnail_src": f"{self.base}/vector.svg"}]
        return JSONResponse({"query": "", "number_of_results": 2, "results": results})

    async def picture(self, request: Request) -> Response:
        browser = "Mozilla" in request.headers.get("user-agent", "")
        return Response(LISTED if browser else HARMLESS, media_type="image/png")

    async def vector(self, request: Request) -> Response:
        return Response(SVG, media_type="image/svg+xml")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"), image_rows=list(compute_hashes(LISTED, ["phash"]).items()))


@pytest.fixture
def served(rules: Any) -> Iterator[tuple[str, ShownThumbnails, str]]:
    host = CloakingHost()
    store = ShownThumbnails(b"k" * 32)
    policy = replace(rules.policy.images, allow_networks=("127.0.0.0/8",), page_budget=30.0, fetch_timeout=30.0)
    screener = ImageScreener(policy, shown=store)
    app = ThumbRoute(store, FilterMiddleware(host.app, rules=rules, adapter="searxng", image_screener=screener),
                     screener=screener, rules=lambda: rules)
    with serve(host.app) as pictures, serve(app) as url:  # the picture host apart: the filter routes /search only
        host.base = pictures
        yield url, store, pictures


def test_browser_gets_the_bytes_the_filter_checked(served: tuple[str, ShownThumbnails, str]) -> None:
    url, store, pictures = served
    browser = {"user-agent": "Mozilla/5.0 (X11)", "accept": "application/json"}
    with httpx.Client(base_url=url, trust_env=False, headers=browser) as client:
        page = client.get("/search", params={"q": "photos"}).json()
        assert httpx.get(f"{pictures}/pic.png", headers=browser, trust_env=False).content == LISTED  # the cloak
        thumb = page["results"][0]["thumbnail_src"]
        assert thumb.startswith(PREFIX)
        shown = client.get(thumb)
        assert shown.status_code == 200 and shown.content == HARMLESS  # what was hashed, not the cloak
        assert shown.headers["content-type"] == "image/png" and shown.headers["x-content-type-options"] == "nosniff"
        # the SVG was never verified (not a raster Pillow decodes): hidden, never rewritten or served
        assert "thumbnail_src" not in page["results"][1] or not page["results"][1]["thumbnail_src"]
        # not an open proxy: a URL the filter did not sign is refused, and so is a forged token
        forged = ShownThumbnails(b"x" * 32).token(f"{url}/pic.png")
        assert client.get(PREFIX + forged).status_code == 404
        assert client.get(PREFIX + "bm90LWEtdG9rZW4").status_code == 404
    store._items.clear()  # evicted (or screened by another worker): fetched and screened again on demand
    with httpx.Client(base_url=url, trust_env=False) as client:
        again = client.get(thumb)
    assert again.status_code == 200 and again.content == HARMLESS


@given(st.text(min_size=1, max_size=200), st.binary(min_size=16, max_size=64))
def test_tokens_round_trip_and_bind_to_the_secret(url: str, secret: bytes) -> None:
    store = ShownThumbnails(secret)
    token = store.token(url)
    assert store.url_of(token) == url
    assert ShownThumbnails(secret + b"!").url_of(token) is None
    encoded, _, mac = token.partition(".")
    other = ShownThumbnails(secret).token(url + "x").partition(".")[0]
    assert store.url_of(f"{other}.{mac}") is None  # a MAC never carries over to another URL


def test_store_is_bounded_in_bytes_and_time() -> None:
    now = [0.0]
    store = ShownThumbnails(b"s" * 32, max_bytes=2 * len(HARMLESS) + 10, ttl=60, clock=lambda: now[0])
    assert store.keep("a", HARMLESS) and store.keep("b", HARMLESS) and store.keep("c", HARMLESS)
    assert store.get("a") is None and store.get("c") is not None and store.size <= store.max_bytes
    assert store.keep("svg", SVG) is None  # only raster pictures are ever served under our origin
    now[0] = 61
    assert store.get("c") is None and store.route("b") is None


def test_the_demo_shows_thumbnails_from_the_checked_bytes() -> None:
    from filter_proxy.demo.app import create_demo_app

    rules_dir = Path(__file__).resolve().parents[1] / "rules"
    with serve(create_demo_app(rules_dir)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        page = client.get("/search", params={"q": "apple pie", "format": "json"}).json()
        thumbs = [r.get("thumbnail") or r.get("thumbnail_src") for r in page["results"]]
        thumbs = [t for t in thumbs if t]
        assert thumbs and all(t.startswith(PREFIX) for t in thumbs)
        shown = client.get(thumbs[0])
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
        html = client.get("/", params={"q": "apple pie"}, headers={"accept": "text/html"}).text
        assert f'src="{PREFIX}' in html


def test_served_app_rewrites_thumbnails_when_configured(tmp_path: Path) -> None:
    import re
    import shutil

    from filter_proxy.config import load_config
    from filter_proxy.ops import build_app

    rules_dir = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules", rules_dir)
    policy = (rules_dir / "policy.toml").read_text(encoding="utf-8")
    policy = re.sub(r"(?m)^(page_budget|fetch_timeout) = .*$", r"\1 = 30.0", policy)  # a busy test machine
    (rules_dir / "policy.toml").write_text(policy.replace("[images]\n", '[images]\nallow_networks = ["127.0.0.0/8"]\n'))
    host = CloakingHost()
    with serve(host.app) as upstream:
        host.base = upstream
        config = load_config(env={}, overrides={
            "upstream.url": upstream, "upstream.adapter": "searxng", "rules.path": str(rules_dir),
            "rules.watch": False, "report.enabled": False, "metrics.enabled": False, "admin.token_env": "",
            "images.rewrite_thumbnails": True}, require_upstream=True)
        with serve(build_app(config)) as base, httpx.Client(base_url=base, trust_env=False) as client:
            page = client.get("/search", params={"q": "photos", "format": "json"}).json()
            thumb = page["results"][0]["thumbnail_src"]
            assert thumb.startswith(PREFIX)
            assert client.get(thumb, headers={"user-agent": "Mozilla/5.0"}).content == HARMLESS
