"""End to end with thumbnail screening: FilterMiddleware and the proxy with a real ImageScreener fetching
thumbnails from a loopback server, hashing them and near-matching a listed hash (an ordinary sample photo,
listed as a stand-in). Listed picture → result removed; unreachable thumbnail → hidden (on_unverified)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from filter_proxy.images_screen import ImageScreener
from filter_proxy.matchers.images import compute_hashes
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from tests.support.server import serve
from tests.test_middleware import RecordingObserver, build_rules

data = pytest.importorskip("skimage.data")


def png(array: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert("RGB").resize((160, 120)).save(out, format="PNG")
    return out.getvalue()


LISTED = png(data.astronaut())
OTHER = png(data.coffee())


class ImageBackend:
    """SearXNG-shaped pages whose thumbnails this same server hosts."""

    def __init__(self) -> None:
        self.base = ""
        self.app = Starlette(routes=[Route("/search", self.search), Route("/img/{name}", self.image)])

    async def search(self, request: Request) -> Response:
        def result(n: int, thumb: str) -> dict[str, Any]:
            return {"url": f"https://site.example.invalid/{n}", "title": f"Photo {n}", "content": "",
                    "thumbnail_src": f"{self.base}/img/{thumb}"}

        results = [result(0, "other.png"), result(1, "listed.png"), result(2, "missing.png")]
        return JSONResponse({"query": "", "number_of_results": 3, "results": results})

    async def image(self, request: Request) -> Response:
        body = {"listed.png": LISTED, "other.png": OTHER}.get(request.path_params["name"])
        if body is None:
            return Response(b"gone", status_code=404)
        return Response(body, media_type="image/png")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    hashes = compute_hashes(LISTED, ["phash", "dhash"])
    rows = [(algo, hashes[algo]) for algo in ("phash", "dhash")]
    return build_rules(tmp_path_factory.mktemp("rules"), image_rows=rows)


@contextmanager
def served(mode: str, backend: ImageBackend, rules: Any, screener: ImageScreener) -> Iterator[str]:
    if mode == "middleware":
        # The thumbnails come from the backend served on its own: the filter routes only the search paths
        # (deny by default), so it would refuse to pass /img/ through itself.
        filtered = FilterMiddleware(backend.app, rules=rules, adapter="searxng", image_screener=screener)
        with serve(backend.app) as pictures, serve(filtered) as url:
            backend.base = pictures
            yield url
    else:
        with serve(backend.app) as upstream:
            backend.base = upstream
            with serve(create_proxy_app(upstream, rules, "searxng", image_screener=screener)) as url:
                yield url


@pytest.mark.parametrize("mode", ["middleware", "proxy"])
def test_listed_thumbnail_removes_result_and_unverified_is_hidden(mode: str, rules: Any) -> None:
    # Loopback thumbnails are refused by default (SSRF guard); this test's policy allows them.
    policy = replace(rules.policy.images, allow_networks=("127.0.0.0/8",))
    observer = RecordingObserver()
    screener = ImageScreener(policy, observer=observer)
    backend = ImageBackend()
    with served(mode, backend, rules, screener) as url, httpx.Client(base_url=url, trust_env=False) as client:
        r = client.get("/search", params={"q": "photos"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["url"] for x in results] == ["https://site.example.invalid/0", "https://site.example.invalid/2"]
    assert results[0]["thumbnail_src"].endswith("/img/other.png")  # a verified clean thumbnail stays
    assert "thumbnail_src" not in results[1] or not results[1]["thumbnail_src"]  # unverified: hidden
    assert r.headers["x-filter-removed"] == "1"
    assert r.json()["number_of_results"] == 2
    assert "fetched" in observer.images
