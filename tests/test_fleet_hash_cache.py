"""The shared thumbnail-hash tier on a real redis-server: a fleet fetches and hashes each picture once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filter_proxy.adapters.base import ResultView
from filter_proxy.fleet.hash_cache import SharedHashCache, canonical_thumbnail_url
from filter_proxy.fleet.metrics import fleet_metrics
from filter_proxy.images_screen import ImageScreener
from filter_proxy.matchers.images import ImageEntry, ImageIndex, compute_hashes
from filter_proxy.metrics import Metrics
from tests.support.server import serve
from tests.support.servers import free_port
from tests.test_images_screen import POLICY, Rules, jpeg

pytestmark = pytest.mark.anyio
SECRET = b"fleet-hash-key-0123456789abcdef"
ALGORITHMS = ("dhash", "phash", "sha256")


class Thumbs:
    """Loopback thumbnails; counts fetches per picture."""

    def __init__(self) -> None:
        self.fetches: dict[str, int] = {}
        self.app = Starlette(routes=[Route("/t/{name}.jpg", self.photo)])

    async def photo(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.fetches[name] = self.fetches.get(name, 0) + 1
        return Response(jpeg(name), media_type="image/jpeg")


@pytest.fixture(scope="module")
def thumbs() -> Iterator[tuple[Thumbs, str]]:
    t = Thumbs()
    with serve(t.app) as url:
        yield t, url


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The astronaut photo is listed (a real ImageIndex)."""
    listed = compute_hashes(jpeg("astronaut"), ["phash", "dhash"])
    return Rules(ImageIndex.build([ImageEntry(a, h, "listed", f"rules/images/listed.csv:{i + 1}")
                                   for i, (a, h) in enumerate(listed.items())]))


def view(index: int, url: str) -> ResultView:
    return ResultView(index, image_url=url)


def instance(redis_url: str, metrics: Metrics | None = None) -> ImageScreener:
    screener = ImageScreener(POLICY)
    screener.shared = SharedHashCache(redis_url, SECRET, metrics=fleet_metrics(metrics))
    return screener


async def test_a_fleet_hashes_each_picture_once(redis_url: str, thumbs: tuple[Thumbs, str], rules: Rules) -> None:
    t, base = thumbs
    metrics = Metrics()
    a, b = instance(redis_url, metrics), instance(redis_url)
    urls = [f"{base}/t/astronaut.jpg", f"{base}/t/camera.jpg"]
    try:
        first = await a.screen([view(i, u) for i, u in enumerate(urls)], rules)
        await a.shared.aclose()  # waits for the background writes
        a.shared = SharedHashCache(redis_url, SECRET)
        # A differently spelled URL of the same picture (host case) on the other instance: no fetch.
        second = await b.screen([view(0, urls[0].replace("127.0.0.1", "127.0.0.1.")),
                                 view(1, urls[1])], rules)
    finally:
        await a.aclose()
        await b.aclose()
        await a.shared.aclose()
        await b.shared.aclose()
    assert t.fetches == {"astronaut": 1, "camera": 1}
    assert first[0].verdict is not None and first[0].verdict.action == "block"  # the listed picture
    # Verdicts computed locally, from the shared hashes: the same as where the pictures were fetched.
    assert second[0].verdict == first[0].verdict and second[1].verdict == first[1].verdict
    assert metrics.value("filter_proxy_fleet_hash_cache_total", {"outcome": "stored"}) == 2


async def test_redis_holds_no_url_and_no_image(redis_url: str, thumbs: tuple[Thumbs, str], rules: Rules) -> None:
    t, base = thumbs
    screener = instance(redis_url)
    url = f"{base}/t/coffee.jpg"
    await screener.screen([view(0, url)], rules)
    await screener.shared.aclose()
    await screener.aclose()
    with redis.Redis.from_url(redis_url) as client:
        keys = client.keys("*")
        values = [client.get(k) for k in keys]
    assert len(keys) == 1
    stored = keys[0] + values[0]
    for secret in (b"coffee", b"127.0.0.1", base.encode(), url.encode()):
        assert secret not in stored
    assert len(values[0]) < 2000 < len(jpeg("coffee"))  # hashes, not the picture


async def test_values_written_without_the_fleet_key_are_not_trusted(
        redis_url: str, thumbs: tuple[Thumbs, str], rules: Rules) -> None:
    t, base = thumbs
    url = f"{base}/t/rocket.jpg"
    honest = SharedHashCache(redis_url, SECRET)
    forger = SharedHashCache(redis_url, b"someone-else-0123456789")
    key = honest.key_for(url, ALGORITHMS)
    benign = {"phash": ["0" * 16], "dhash": ["0" * 16], "sha256": ["0" * 64]}
    with redis.Redis.from_url(redis_url) as client:
        client.set(key, forger.encode(key, benign))  # right key name, tag made without the fleet key
    assert await honest.get(url, ALGORITHMS) is None
    await honest.aclose()
    await forger.aclose()
    before = t.fetches.get("rocket", 0)
    screener = instance(redis_url)
    try:
        await screener.screen([view(0, url)], rules)
    finally:
        await screener.shared.aclose()
        await screener.aclose()
    assert t.fetches["rocket"] == before + 1  # fetched and hashed here instead


async def test_redis_down_costs_one_timeout_then_is_skipped(thumbs: tuple[Thumbs, str], rules: Rules) -> None:
    t, base = thumbs
    now = [100.0]
    metrics = Metrics()
    cache = SharedHashCache(f"redis://127.0.0.1:{free_port()}/0", SECRET, retry_after=5.0,
                            metrics=fleet_metrics(metrics), clock=lambda: now[0])
    screener = ImageScreener(POLICY)
    screener.shared = cache
    try:
        verdicts = await screener.screen([view(0, f"{base}/t/astronaut.jpg")], rules)
        verdict = verdicts[0].verdict
        assert verdict is not None and verdict.action == "block"  # screened locally all the same
        assert await cache.get(f"{base}/t/camera.jpg", ALGORITHMS) is None
        assert metrics.value("filter_proxy_fleet_hash_cache_total", {"outcome": "error"}) == 1
        assert metrics.value("filter_proxy_fleet_hash_cache_total", {"outcome": "skipped"}) >= 1
        now[0] += 6.0  # after retry_after the tier is tried again
        assert await cache.get(f"{base}/t/camera.jpg", ALGORITHMS) is None
        assert metrics.value("filter_proxy_fleet_hash_cache_total", {"outcome": "error"}) == 2
    finally:
        await cache.aclose()
        await screener.aclose()


THUMB_URLS = st.from_regex(r"https?://[a-z][a-z0-9]{0,9}(\.[a-z][a-z0-9]{0,9}){0,3}(:[1-9][0-9]{1,3})?"
                           r"/[A-Za-z0-9/._~%-]{0,40}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(THUMB_URLS, st.binary(min_size=16, max_size=40))
def test_keys_are_keyed_hashes_that_reveal_nothing(url: str, secret: bytes) -> None:
    cache = SharedHashCache("redis://127.0.0.1:1/0", SECRET, client=object())
    other = SharedHashCache("redis://127.0.0.1:1/0", secret if secret != SECRET else secret + b"x",
                            client=object())
    key = cache.key_for(url, ALGORITHMS)
    assert key == cache.key_for(url, tuple(reversed(ALGORITHMS)))  # order of algorithms does not matter
    assert key != other.key_for(url, ALGORITHMS)  # without the fleet key nobody can compute or test it
    assert key != cache.key_for(url, ("phash",))
    host = url.split("/")[2].split(":")[0]
    assert url not in key and (len(host) < 4 or host not in key.split(":")[-1])
    shouted = url.replace(host, host.upper(), 1)  # one picture, another spelling: one entry
    assert canonical_thumbnail_url(shouted) == canonical_thumbnail_url(url)
    assert cache.key_for(shouted, ALGORITHMS) == key


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["phash", "dhash", "pdq", "sha256", "md5"]),
                       st.lists(st.binary(min_size=8, max_size=32).map(bytes.hex), min_size=1, max_size=8),
                       min_size=1),
       st.binary(max_size=200))
def test_values_round_trip_and_garbage_is_a_miss(hashes: dict[str, list[str]], garbage: bytes) -> None:
    cache = SharedHashCache("redis://127.0.0.1:1/0", SECRET, client=object())
    key = cache.key_for("https://a.example.invalid/t.jpg", ALGORITHMS)
    assert cache._decode(key, cache.encode(key, hashes)) == {a: tuple(h) for a, h in hashes.items()}
    assert cache._decode(key, garbage) is None
    assert cache._decode(key + "x", cache.encode(key, hashes)) is None  # a value moved to another key


class Pages:
    """A SearXNG-shaped search API whose result thumbnails it hosts itself (fetches counted)."""

    def __init__(self) -> None:
        self.base = ""
        self.fetches: dict[str, int] = {}
        self.app = Starlette(routes=[Route("/search", self.search), Route("/t/{name}.jpg", self.photo)])

    async def search(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        results = [{"url": f"https://site.example.invalid/{name}", "title": name, "content": "",
                    "thumbnail_src": f"{self.base}/t/{name}.jpg"} for name in ("astronaut", "camera")]
        return JSONResponse({"query": "", "number_of_results": 2, "results": results})

    async def photo(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.fetches[name] = self.fetches.get(name, 0) + 1
        return Response(jpeg(name), media_type="image/jpeg")


def test_two_served_instances_fetch_each_thumbnail_once(redis_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from filter_proxy.config import load_config
    from filter_proxy.ops import build_app
    from tests.test_middleware import build_rules

    listed = compute_hashes(jpeg("astronaut"), ["phash", "dhash"])
    rules = tmp_path / "rules"
    build_rules(rules, image_rows=[(a, listed[a]) for a in ("phash", "dhash")])
    with open(rules / "policy.toml", "a", encoding="utf-8") as fh:
        fh.write('allow_networks = ["127.0.0.0/8"]\npage_budget = 20.0\nfetch_timeout = 10.0\n')  # loopback
    monkeypatch.setenv("FILTER_PROXY_HASH_KEY", SECRET.decode())
    pages = Pages()

    def config(upstream: str, name: str) -> Any:
        return load_config(env={}, require_upstream=True, overrides={
            "upstream.url": upstream, "upstream.adapter": "searxng", "rules.path": str(rules),
            "rules.watch": False, "images.enabled": True, "report.enabled": False, "metrics.enabled": False,
            "fleet.redis_url": redis_url, "fleet.instance": name, "fleet.heartbeat": 0.5})

    with serve(pages.app) as upstream:
        pages.base = upstream
        with serve(build_app(config(upstream, "box-a"))) as a, serve(build_app(config(upstream, "box-b"))) as b:
            first = httpx.get(f"{a}/search", params={"q": "photos", "format": "json"}, timeout=60).json()
            with redis.Redis.from_url(redis_url) as client:
                deadline = time.monotonic() + 30  # the background writes; a bound, not a speed assertion
                while len(client.keys("filter-proxy:thumbs:*")) < 2:
                    assert time.monotonic() < deadline, "hashes never reached the shared tier"
                    time.sleep(0.05)
            second = httpx.get(f"{b}/search", params={"q": "photos", "format": "json"}, timeout=60).json()
    assert [r["url"] for r in first["results"]] == ["https://site.example.invalid/camera"]  # listed: removed
    assert second["results"] == first["results"]
    assert pages.fetches == {"astronaut": 1, "camera": 1}  # the second instance fetched nothing
