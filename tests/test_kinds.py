"""Response kinds other than search pages (filter_proxy/kinds.py, adapters/documents.py), in process: each
backend's document, documents, async, terms, rows and opaque answers are screened or withheld, and what
cannot be read is 502."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filter_proxy.middleware import FilterMiddleware
from tests.test_middleware import build_rules

LISTED = "zqxblocked listing"
CLEAN = "Bread recipe"


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def answer(doc: Any, status: int = 200, raw: bytes | None = None) -> Any:
    """An app answering every path with ``doc`` (JSON) or ``raw`` bytes."""

    async def endpoint(request: Request) -> Response:  # noqa: RUF029 - Starlette needs a coroutine
        body = raw if raw is not None else orjson.dumps(doc)
        return Response(body, status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/{p:path}", endpoint, methods=["GET", "POST"])])


def call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def through(rules: Any, adapter: str, doc: Any, method: str, path: str, status: int = 200,
            raw: bytes | None = None) -> httpx.Response:
    return call(FilterMiddleware(answer(doc, status, raw), rules=rules, adapter=adapter), method, path)


CASES = [
    # adapter, method, path, upstream document, expected status, expected document
    ("solr", "GET", "/solr/books/get?id=1", {"doc": {"id": "1", "title": LISTED}}, 200, {"doc": None}),
    ("solr", "GET", "/solr/books/get?id=1", {"doc": {"id": "1", "title": CLEAN}}, 200, {"doc": {"id": "1", "title": CLEAN}}),
    ("solr", "GET", "/solr/books/get?ids=1,2",
     {"response": {"numFound": 2, "start": 0, "docs": [{"id": "1", "title": CLEAN}, {"id": "2", "title": LISTED}]}},
     200, {"response": {"numFound": 1, "start": 0, "docs": [{"id": "1", "title": CLEAN}]}}),
    ("solr", "GET", "/solr/books/terms?terms.fl=title",
     {"terms": {"title": ["bread", 3, "zqxblocked", 2, "soup", 1]}}, 200, {"terms": {"title": ["bread", 3, "soup", 1]}}),
    ("solr", "GET", "/solr/books/terms?terms.fl=title&json.nl=map",
     {"terms": {"title": {"bread": 3, "zqxblocked": 2}}}, 200, {"terms": {"title": {"bread": 3}}}),
    ("elasticsearch", "GET", "/books/_doc/2",
     {"_index": "books", "_id": "2", "found": True, "_source": {"title": LISTED}}, 404,
     {"_index": "books", "_id": "2", "found": False}),
    ("elasticsearch", "GET", "/books/_source/2", {"title": LISTED}, 404, None),
    ("elasticsearch", "POST", "/books/_async_search",
     {"id": "a", "is_running": False, "response": {"hits": {"total": {"value": 2, "relation": "eq"}, "hits": [
         {"_id": "1", "_source": {"title": CLEAN}}, {"_id": "2", "_source": {"title": LISTED}}]}}}, 200,
     {"id": "a", "is_running": False, "response": {"hits": {"total": {"value": 1, "relation": "eq"}, "hits": [
         {"_id": "1", "_source": {"title": CLEAN}}]}}}),
    ("elasticsearch", "GET", "/_async_search/a", {"id": "a", "is_running": True}, 200, {"id": "a", "is_running": True}),
    ("opensearch", "POST", "/_plugins/_sql",
     {"schema": [{"name": "title"}], "datarows": [[CLEAN], [LISTED]], "total": 2, "size": 2, "status": 200}, 200,
     {"schema": [{"name": "title"}], "datarows": [[CLEAN]], "total": 1, "size": 1, "status": 200}),
    ("elasticsearch", "POST", "/_query", {"columns": [{"name": "url"}], "values": [["https://blocked.example.invalid/p"]]},
     200, {"columns": [{"name": "url"}], "values": []}),
    ("elasticsearch", "POST", "/books/_count", {"count": 3}, 200, {"count": 3}),
    ("solr", "POST", "/solr/books/stream",
     {"result-set": {"docs": [{"title": CLEAN}, {"title": LISTED}, {"EOF": True, "RESPONSE_TIME": 3}]}}, 200,
     {"result-set": {"docs": [{"title": CLEAN}, {"EOF": True, "RESPONSE_TIME": 3}]}}),
    ("solr", "GET", "/solr/books/export?q=*:*",
     {"responseHeader": {"status": 0}, "response": {"numFound": 2, "docs": [{"title": CLEAN}, {"title": LISTED}]}},
     200, {"responseHeader": {"status": 0}, "response": {"numFound": 1, "docs": [{"title": CLEAN}]}}),
    ("elasticsearch", "POST", "/books/_eql/search",
     {"is_partial": False, "hits": {"total": {"value": 3, "relation": "eq"},
                                    "events": [{"_id": "1", "_source": {"title": CLEAN}},
                                               {"_id": "2", "_source": {"title": LISTED}}],
                                    "sequences": [{"join_keys": ["k"], "events": [{"_source": {"title": LISTED}}]}]}},
     200, {"is_partial": False, "hits": {"total": {"value": 1, "relation": "eq"},
                                         "events": [{"_id": "1", "_source": {"title": CLEAN}}], "sequences": []}}),
    ("meilisearch", "GET", "/indexes/books/documents/2", {"id": "2", "title": LISTED}, 404, None),
    ("meilisearch", "GET", "/indexes/books/documents",
     {"results": [{"id": "1", "title": CLEAN}, {"id": "2", "title": LISTED}], "offset": 0, "limit": 20, "total": 2},
     200, {"results": [{"id": "1", "title": CLEAN}], "offset": 0, "limit": 20, "total": 1}),
    ("typesense", "GET", "/collections/books/documents/2", {"id": "2", "title": LISTED}, 404, None),
]


@pytest.mark.parametrize(("adapter", "method", "path", "doc", "status", "expected"), CASES)
def test_document_kinds(rules: Any, adapter: str, method: str, path: str, doc: Any, status: int,
                        expected: Any) -> None:
    r = through(rules, adapter, doc, method, path)
    assert r.status_code == status
    assert LISTED.encode() not in r.content and b"blocked.example.invalid" not in r.content
    if expected is not None:
        assert r.json() == expected


@pytest.mark.parametrize(
    ("adapter", "path", "doc"),
    [("elasticsearch", "/books/_explain/2", {"matched": True, "explanation": {"description": f"weight({LISTED})"}}),
     ("elasticsearch", "/books/_field_caps", {"fields": {LISTED: {}}}),  # keys are read too
     ("solr", "/solr/books/graph", {"nodes": [{"title": LISTED}]}),
     # a listed facet hit is removed (tests/test_attack_response_shapes.py); beside the hits it withholds
     ("meilisearch", "/indexes/books/facet-search", {"facetHits": [{"value": "garden", "count": 1}], "note": LISTED})],
)
def test_opaque_answers_holding_a_listed_string_are_withheld(rules: Any, adapter: str, path: str, doc: Any) -> None:
    r = through(rules, adapter, doc, "POST", path)
    assert r.status_code == 502 and LISTED.encode() not in r.content


@pytest.mark.parametrize(
    ("adapter", "path", "raw", "status"),
    [("elasticsearch", "/books/_doc/1", b"<html>not json</html>", 200),
     ("elasticsearch", "/books/_doc/1", b"<html>zqxblocked</html>", 404),
     ("elasticsearch", "/_mget", b'{"docs": {"not": "a list"}}', 200),
     ("elasticsearch", "/books/_terms_enum", b'{"terms": [1, 2]}', 200),
     ("solr", "/solr/books/get", b'{"unexpected": true}', 200),
     ("meilisearch", "/indexes/books/documents", b'{"hits": []}', 200),
     ("elasticsearch", "/books/_doc/1", b'{"error": {"reason": "zqxblocked listing"}}', 400)],
)
def test_unreadable_or_listed_error_answers_are_502(rules: Any, adapter: str, path: str, raw: bytes,
                                                    status: int) -> None:
    r = through(rules, adapter, None, "GET", path, status=status, raw=raw)
    assert r.status_code == 502 and b"zqxblocked" not in r.content


def test_a_clean_error_answer_keeps_its_status(rules: Any) -> None:
    r = through(rules, "elasticsearch", {"error": {"type": "index_not_found_exception"}, "status": 404}, "GET",
                "/books/_doc/1", status=404)
    assert r.status_code == 404 and r.json()["status"] == 404


def test_a_blocked_query_on_a_count_route_answers_zero(rules: Any) -> None:
    r = call(FilterMiddleware(answer({"count": 9}), rules=rules, adapter="elasticsearch"), "GET",
             "/books/_count?q=zqxblocked")
    assert r.json()["count"] == 0 and r.json()["safety"]["action"] == "block"


def test_a_warned_query_on_a_document_route_carries_the_warning(rules: Any) -> None:
    app = FilterMiddleware(answer({"_index": "b", "_id": "1", "found": True, "_source": {"title": CLEAN}}),
                           rules=rules, adapter="elasticsearch")
    r = call(app, "GET", "/b/_doc/1?q=zqxwarn")
    assert r.status_code == 200 and r.json()["safety"]["action"] == "warn" and r.headers["x-filter-action"] == "warn"


def test_solr_qt_parameter_is_refused(rules: Any) -> None:
    r = through(rules, "solr", {"response": {"docs": []}}, "GET", "/solr/books/select?q=x&qt=/export")
    assert r.status_code == 403


class PictureScreener:
    """An ImageScreenerLike that reads a picture as listed when its URL says so, and cannot verify
    ``slow`` pictures (a real screener fetches and hashes; tests/test_e2e_images.py covers that)."""

    async def screen(self, views: list[Any], rules: Any) -> dict[int, Any]:  # noqa: RUF029 - the protocol is async
        from filter_proxy.images_check import ImageCheck
        from filter_proxy.verdict import ALLOW, Verdict

        out = {}
        for view in views:
            url = view.image_url or ""
            if "listed-picture" in url:
                out[view.index] = ImageCheck(Verdict("block", category="zqx-abuse", signal="image"), url=url)
            elif "slow" not in url:
                out[view.index] = ImageCheck(ALLOW)
        return out


@pytest.mark.parametrize(
    ("doc", "status", "kept"),
    [({"_index": "b", "_id": "1", "found": True, "_source": {"title": CLEAN, "thumbnail": "https://p.example.invalid/listed-picture.png"}}, 404, False),
     ({"_index": "b", "_id": "1", "found": True, "_source": {"title": CLEAN, "thumbnail": "https://p.example.invalid/ok.png"}}, 200, True)],
)
def test_document_pictures_are_checked_too(rules: Any, doc: Any, status: int, kept: bool) -> None:
    app = FilterMiddleware(answer(doc), rules=rules, adapter="elasticsearch", image_screener=PictureScreener())
    r = call(app, "GET", "/b/_doc/1")
    assert r.status_code == status and (b"listed-picture" not in r.content)
    assert (r.json().get("_source", {}).get("title") == CLEAN) == kept


def test_a_compressed_request_body_is_screened_and_forwarded_decoded(rules: Any) -> None:
    import gzip

    seen: list[bytes] = []

    async def search(request: Request) -> Response:
        seen.append(await request.body())
        return Response(orjson.dumps({"hits": {"hits": []}}), media_type="application/json")

    app = FilterMiddleware(Starlette(routes=[Route("/b/_search", search, methods=["POST"])]), rules=rules,
                           adapter="elasticsearch")
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    blocked = call(app, "POST", "/b/_search", headers=headers,
                   content=gzip.compress(b'{"query": {"match": {"title": "zqxblocked"}}}'))
    assert blocked.json()["safety"]["action"] == "block" and seen == []
    clean = call(app, "POST", "/b/_search", headers=headers, content=gzip.compress(b'{"query": {"match_all": {}}}'))
    assert clean.status_code == 200 and seen == [b'{"query": {"match_all": {}}}']
    broken = call(app, "POST", "/b/_search", headers=headers, content=b"not gzip")
    assert broken.status_code == 400


def test_an_echo_of_a_warned_query_does_not_withhold_an_opaque_answer(rules: Any) -> None:
    app = FilterMiddleware(answer({"facetHits": [{"value": "bread", "count": 1}], "facetQuery": "zqxwarn"}),
                           rules=rules, adapter="meilisearch")
    r = call(app, "POST", "/indexes/books/facet-search", json={"facetName": "t", "facetQuery": "zqxwarn", "q": "zqxwarn"})
    assert r.status_code == 200 and r.json()["safety"]["action"] == "warn"
    r = call(FilterMiddleware(answer({"responseHeader": {"params": {"terms.prefix": "zqxwarn"}},
                                      "terms": {"t": ["bread", 1]}}), rules=rules, adapter="solr"),
             "GET", "/solr/books/terms?terms.prefix=zqxwarn")
    assert r.status_code == 200 and r.json()["terms"] == {"t": ["bread", 1]}


def test_what_is_sent_is_what_was_screened(rules: Any) -> None:
    """Duplicate keys: the parser keeps one, a client might read the other; the answer is re-encoded."""
    raw = (b'{"_index": "b", "_id": "1", "found": true, "_source": {"title": "zqxblocked listing"}, '
           b'"_source": {"title": "Bread recipe"}}')
    r = through(rules, "elasticsearch", None, "GET", "/b/_doc/1", raw=raw)
    assert b"zqxblocked" not in r.content and r.json()["_source"] == {"title": CLEAN}
