"""End to end over real HTTP, both modes, every backend adapter, on the documented response fixtures.

Mode A: FilterMiddleware around an in-process Starlette search app, served by uvicorn.
Mode B: create_proxy_app served by uvicorn in front of a fake backend served by uvicorn on loopback.
The fake backend answers every path with the fixture named in the request's ``x-fixture`` header (which the
proxy forwards like any end-to-end header) and counts its calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filter_proxy.adapters import get_adapter
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from tests.support.server import serve
from tests.test_middleware import build_rules

FIXTURES = Path(__file__).parent / "fixtures" / "backends"
# Placeholders the fixtures plant in results, suggestions and URLs; none may survive screening.
PLANTED = ("zqxblocked", "forbidden phrase alpha", "blocked.example.invalid")

# (adapter, route kind, fixture file): every search / suggest response fixture the adapters document.
CASES = [
    ("elasticsearch", "search", "search.json"),
    ("elasticsearch", "search", "search_total_int.json"),
    ("elasticsearch", "search", "suggest.json"),
    ("searxng", "search", "search.json"),
    ("searxng", "suggest", "autocomplete_opensearch.json"),
    ("searxng", "suggest", "autocomplete_plain.json"),
    ("opensearch-suggestions", "suggest", "suggest.json"),
    ("solr", "search", "select.json"),
    ("solr", "suggest", "suggest.json"),
    ("meilisearch", "search", "search.json"),
    ("meilisearch", "search", "search_paged.json"),
    ("typesense", "search", "search.json"),
    ("typesense", "search", "grouped.json"),
]


class FixtureBackend:
    def __init__(self) -> None:
        self.calls = 0
        self.app = Starlette(routes=[Route("/{path:path}", self.answer, methods=["GET", "POST"])])

    async def answer(self, request: Request) -> Response:
        self.calls += 1
        name = request.headers["x-fixture"]
        return Response((FIXTURES / name).read_bytes(), media_type="application/json")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def concrete(pattern: str) -> str:
    """A request path matching a route pattern ("*" → one segment, "**" → none)."""
    parts = [("books" if p == "*" else p) for p in pattern.split("/") if p and p != "**"]
    return "/" + "/".join(parts)


def route_path(adapter: str, kind: str) -> str:
    try:
        made = get_adapter(adapter)
    except ValueError:
        pytest.skip(f"adapter {adapter!r} is not registered yet")
    paths = made.default_search_paths if kind == "search" else made.default_suggest_paths
    if not paths:  # e.g. Elasticsearch suggestions arrive in _search responses
        paths = made.default_search_paths
    return concrete(paths[0])


@contextmanager
def mode_server(mode: str, backend: FixtureBackend, rules: Any, adapter: str) -> Iterator[str]:
    if mode == "middleware":
        with serve(FilterMiddleware(backend.app, rules=rules, adapter=adapter)) as url:
            yield url
    else:
        with serve(backend.app) as upstream, serve(create_proxy_app(upstream, rules, adapter)) as url:
            yield url


@pytest.fixture(scope="module")
def servers(rules: Any) -> Iterator[Callable[[str, str], tuple[FixtureBackend, str]]]:
    """One server (pair) per mode and adapter for the whole module: uvicorn start/stop is the slow part."""
    started: dict[tuple[str, str], tuple[FixtureBackend, str]] = {}
    with ExitStack() as stack:

        def get(mode: str, adapter: str) -> tuple[FixtureBackend, str]:
            if (mode, adapter) not in started:
                backend = FixtureBackend()
                started[mode, adapter] = backend, stack.enter_context(mode_server(mode, backend, rules, adapter))
            return started[mode, adapter]

        yield get


@pytest.mark.parametrize("mode", ["middleware", "proxy"])
@pytest.mark.parametrize(("adapter", "kind", "fixture"), CASES, ids=[f"{a}-{f}" for a, _, f in CASES])
def test_fixture_pages_are_screened(mode: str, adapter: str, kind: str, fixture: str, servers: Any) -> None:
    if not (FIXTURES / adapter / fixture).is_file():
        pytest.skip(f"fixture {adapter}/{fixture} not present")
    path = route_path(adapter, kind)
    backend, url = servers(mode, adapter)
    backend.calls = 0
    with httpx.Client(base_url=url, trust_env=False) as client:
        headers = {"x-fixture": f"{adapter}/{fixture}"}
        r = client.get(path, params={"q": "garden"}, headers=headers)
        assert r.status_code == 200, r.text
        assert backend.calls == 1
        body = r.text.lower()
        for planted in PLANTED:
            assert planted not in body, f"{planted!r} survived"
        if kind == "suggest":  # off on suggest routes by default (deliberate change)
            assert "x-filter-removed" not in r.headers
        else:
            assert int(r.headers["x-filter-removed"]) >= 1
        assert int(r.headers["content-length"]) == len(r.content)
        assert ".txt:" not in r.text  # never a rule id

        r = client.get(path, params={"q": "Forbidden  Phrase ALPHA"}, headers=headers)
        assert r.status_code == 200 and r.headers["x-filter-action"] == "block"
        assert backend.calls == 1  # the backend never saw the blocked query
        assert ".txt:" not in r.text
        made = get_adapter(adapter)
        doc = r.json()
        assert made.suggestions(doc) == []  # a blocked prefix gets no suggestions
        if kind == "search":
            assert made.results(doc) == []
            assert "forbidden" not in r.text.lower()  # the blocked query is not echoed in a search page


@pytest.mark.parametrize("mode", ["middleware", "proxy"])
def test_browser_gets_the_warning_page(mode: str, rules: Any) -> None:
    backend = FixtureBackend()
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    with mode_server(mode, backend, rules, "searxng") as url, httpx.Client(base_url=url, trust_env=False) as client:
        r = client.get("/search", params={"q": "zqxblocked"}, headers={"accept": accept})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["x-filter-action"] == "block"
        assert "<html" in r.text.lower()
        assert "zqxblocked" not in r.text.lower() and ".txt:" not in r.text
        # the warning page still reaches a browser when it sends the query by form POST
        r = client.post("/search", data={"q": "zqxblocked"}, headers={"accept": accept})
        assert r.headers["content-type"].startswith("text/html")
    assert backend.calls == 0


@pytest.mark.parametrize("mode", ["middleware", "proxy"])
def test_warn_query_gets_results_and_support_warning(mode: str, rules: Any) -> None:
    backend = FixtureBackend()
    with mode_server(mode, backend, rules, "searxng") as url, httpx.Client(base_url=url, trust_env=False) as client:
        r = client.get("/search", params={"q": "zqxwarn"}, headers={"x-fixture": "searxng/search.json"})
    assert r.status_code == 200 and r.headers["x-filter-action"] == "warn"
    doc = r.json()
    assert doc["safety"]["action"] == "warn" and doc["safety"]["warning"]["title"]
    assert doc["results"] and "zqxblocked" not in r.text.lower()
    assert backend.calls == 1
