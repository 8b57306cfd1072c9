"""Multi-search in each backend's shape, in process (FilterMiddleware around the loopback stand-ins):
each sub-query screened, blocked ones answered in their slot, the rest forwarded and screened, order kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from tests.support.backends import ElasticsearchBackend, MeilisearchBackend, TypesenseBackend
from tests.test_middleware import build_rules

QUERIES = {"clean": "bread", "blocked": "zqxblocked", "warn": "zqxwarn bread"}
LEAKS = (b"zqxblocked listing", b"blocked.example.invalid")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    """One request to ``app`` in process (synchronous, so hypothesis can drive it)."""

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def es_body(kinds: list[str]) -> bytes:
    lines = []
    for kind in kinds:
        lines += [json.dumps({"index": "books"}), json.dumps({"query": {"match": {"title": QUERIES[kind]}}})]
    return ("\n".join(lines) + "\n").encode()


def check_slots(slots: list[Any], kinds: list[str], hits_of: Any) -> None:
    assert len(slots) == len(kinds)
    for slot, kind in zip(slots, kinds, strict=True):
        if kind == "blocked":
            assert hits_of(slot) == [] and slot["safety"]["action"] == "block"
        else:
            assert hits_of(slot), kind  # forwarded and answered
            if kind == "warn":
                assert slot["safety"]["action"] == "warn"
            else:
                assert "safety" not in slot


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(QUERIES)), min_size=1, max_size=5))
def test_es_msearch_any_mix(rules: Any, kinds: list[str]) -> None:
    backend = ElasticsearchBackend()
    app = FilterMiddleware(backend.app, rules=rules, adapter="elasticsearch")
    r = call(app, "POST", "/_msearch", content=es_body(kinds),
                   headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and r.headers["x-elastic-product"] == "Elasticsearch"
    assert not any(leak in r.content for leak in LEAKS)
    check_slots(r.json()["responses"], kinds, lambda s: s["hits"]["hits"])
    forwarded = [b for _, p, b in backend.seen if p == "/_msearch"]
    if all(k == "blocked" for k in kinds):
        assert forwarded == []  # nothing to ask: the backend is never called
    else:
        assert len(forwarded) == 1 and b"zqxblocked" not in forwarded[0]
        assert forwarded[0].count(b"\n") == 2 * sum(k != "blocked" for k in kinds)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(QUERIES)), min_size=1, max_size=4))
def test_meilisearch_and_typesense_any_mix(rules: Any, kinds: list[str]) -> None:
    meili = MeilisearchBackend()
    app = FilterMiddleware(meili.app, rules=rules, adapter="meilisearch")
    r = call(app, "POST", "/multi-search",
                   json={"queries": [{"indexUid": "books", "q": QUERIES[k]} for k in kinds]})
    assert r.status_code == 200 and not any(leak in r.content for leak in LEAKS)
    check_slots(r.json()["results"], kinds, lambda s: s["hits"])
    assert all(s["indexUid"] == "books" for s in r.json()["results"])

    ts = TypesenseBackend()
    app = FilterMiddleware(ts.app, rules=rules, adapter="typesense")
    r = call(app, "POST", "/multi_search?query_by=title",
                   json={"searches": [{"collection": "books", "q": QUERIES[k]} for k in kinds]})
    assert r.status_code == 200 and not any(leak in r.content for leak in LEAKS)
    check_slots(r.json()["results"], kinds, lambda s: s["hits"])


def test_federated_and_union_searches_are_screened_as_one(rules: Any) -> None:
    meili = MeilisearchBackend()
    app = FilterMiddleware(meili.app, rules=rules, adapter="meilisearch")
    federated = {"federation": {}, "queries": [{"indexUid": "books", "q": "bread"}]}
    r = call(app, "POST", "/multi-search", json=federated)
    assert r.status_code == 200 and "hits" in r.json() and not any(leak in r.content for leak in LEAKS)
    federated["queries"].append({"indexUid": "books", "q": "zqxblocked"})
    calls = len(meili.seen)
    r = call(app, "POST", "/multi-search", json=federated)
    assert r.json()["hits"] == [] and r.json()["safety"]["action"] == "block" and len(meili.seen) == calls

    ts = TypesenseBackend()
    app = FilterMiddleware(ts.app, rules=rules, adapter="typesense")
    r = call(app, "POST", "/multi_search", json={"union": True, "searches": [{"q": "zqxblocked"}]})
    assert r.json()["hits"] == [] and r.json()["safety"]["action"] == "block" and ts.seen == []


def test_a_blocked_common_parameter_blocks_every_sub_query(rules: Any) -> None:
    ts = TypesenseBackend()
    app = FilterMiddleware(ts.app, rules=rules, adapter="typesense")
    r = call(app, "POST", "/multi_search?q=zqxblocked", json={"searches": [{"collection": "books"}]})
    assert r.headers["x-filter-action"] == "block" and ts.seen == []


@pytest.mark.parametrize(
    ("adapter", "path", "body"),
    [("elasticsearch", "/_msearch", b'{}\n'), ("elasticsearch", "/_msearch", b'{}\n[1]\n'),
     ("elasticsearch", "/_msearch", b'{}\n\n'), ("meilisearch", "/multi-search", b'{"queries": {}}'),
     ("typesense", "/multi_search", b'[]'), ("typesense", "/multi_search", b'{"searches": ["x"]}')],
)
def test_an_unreadable_multi_search_is_refused(rules: Any, adapter: str, path: str, body: bytes) -> None:
    backend = {"elasticsearch": ElasticsearchBackend, "meilisearch": MeilisearchBackend,
               "typesense": TypesenseBackend}[adapter]()
    app = FilterMiddleware(backend.app, rules=rules, adapter=adapter)
    r = call(app, "POST", path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and backend.seen == []


def test_a_sub_response_count_mismatch_fails_closed(rules: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def short(request: Any) -> JSONResponse:  # noqa: RUF029 - Starlette needs a coroutine
        return JSONResponse({"took": 1, "responses": []})

    app = FilterMiddleware(Starlette(routes=[Route("/_msearch", short, methods=["POST"])]), rules=rules,
                           adapter="elasticsearch")
    r = call(app, "POST", "/_msearch", content=es_body(["clean"]))
    assert r.status_code == 502
