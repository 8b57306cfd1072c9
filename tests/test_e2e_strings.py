"""Issue 10 (items 4-6), end to end over real HTTP: `filter-proxy`'s reverse proxy (and the mounted
middleware) in front of a loopback backend that answers canned bodies. One test per attack class: result
strings the field mapping did not name, sections besides the hits, duplicate JSON keys, error bodies, and
queries hidden in parameters, body options and query syntax."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from tests.support.server import serve
from tests.test_middleware import build_rules

LISTED = ("zqxblocked", "forbidden phrase alpha", "blocked.example.invalid")


class CannedBackend:
    """Answers every request with ``self.body`` / ``self.status`` / ``self.ctype``; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b"{}"
        self.status = 200
        self.ctype = b"application/json"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        self.calls += 1
        headers = [(b"content-type", self.ctype), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(Path(tmp_path_factory.mktemp("rules")))


@contextmanager
def filtered(mode: str, adapter: str, rules: Any) -> Iterator[tuple[CannedBackend, httpx.Client]]:
    backend = CannedBackend()
    if mode == "middleware":
        with serve(FilterMiddleware(backend, rules=rules, adapter=adapter)) as url, \
                httpx.Client(base_url=url, trust_env=False) as client:
            yield backend, client
    else:
        with serve(backend) as upstream, serve(create_proxy_app(upstream, rules, adapter)) as url, \
                httpx.Client(base_url=url, trust_env=False) as client:
            yield backend, client


def clean(text: str) -> bool:
    low = text.lower()
    return not any(listed in low for listed in LISTED)


def es_page(*hits: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"took": 1, "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": list(hits)},
                         **extra})


KEEP = {"_id": "keep", "_source": {"title": "Garden tools"}}

# (adapter, path, canned body, what must be gone): each a place the old mapping-driven screening missed.
RESPONSE_ATTACKS = {
    "unmapped _source field": ("elasticsearch", "/books/_search",
                               es_page(KEEP, {"_id": "bad", "_source": {"notes": {"deep": ["zqxblocked"]}}})),
    "mapped field of an unexpected type": ("elasticsearch", "/books/_search",
                                           es_page(KEEP, {"_id": "bad", "_source": {"title": {"en": "ZQXBLOCKED"}}})),
    "script_fields value": ("elasticsearch", "/books/_search",
                            es_page(KEEP, {"_id": "bad", "fields": {"calc": ["forbidden phrase alpha"]}})),
    "link object": ("elasticsearch", "/books/_search",
                    es_page(KEEP, {"_id": "bad", "_source": {"links": [{"href": "https://blocked.example.invalid/a"}]}})),
    "top_hits document": ("elasticsearch", "/books/_search", es_page(KEEP, aggregations={
        "by": {"buckets": [{"key": "tools", "doc_count": 1,
                            "top": {"hits": {"hits": [{"_source": {"note": "zqxblocked"}}]}}}]}})),
    "aggregation bucket key": ("elasticsearch", "/books/_search", es_page(KEEP, aggregations={
        "tags": {"buckets": [{"key": "tools", "doc_count": 2}, {"key": "zqxblocked", "doc_count": 1}]}})),
    "completion option _source": ("elasticsearch", "/books/_search", es_page(KEEP, suggest={
        "s": [{"text": "gar", "options": [{"text": "garden", "_source": {"body": "zqxblocked"}}]}]})),
    "Solr field alias (fl=t:title)": ("solr", "/solr/books/select", orjson.dumps({
        "response": {"numFound": 2, "docs": [{"id": "keep", "t": "Garden"}, {"id": "bad", "t": "zqxblocked"}]}})),
    "Solr spellcheck json.nl=map": ("solr", "/solr/books/select", orjson.dumps({
        "response": {"numFound": 0, "docs": []},
        "spellcheck": {"suggestions": {"gardn": {"numFound": 2, "suggestion": ["garden", "zqxblocked"]}}}})),
    "Solr grouped result": ("solr", "/solr/books/select", orjson.dumps({"grouped": {"cat": {"matches": 1, "groups": [
        {"groupValue": "tools", "doclist": {"numFound": 1, "docs": [{"id": "bad", "x": "zqxblocked"}]}}]}}})),
    "Typesense highlight object": ("typesense", "/collections/books/documents/search", orjson.dumps({
        "found": 1, "hits": [{"document": {"id": "1"}, "highlight": {"body": {"snippet": "<mark>zqx</mark>blocked"}}}]})),
    "Meilisearch _formatted": ("meilisearch", "/indexes/books/search", orjson.dumps({
        "hits": [{"id": 1, "_formatted": {"overview": "zqx<em>blocked</em>"}}], "query": "g", "estimatedTotalHits": 1})),
}


@pytest.mark.parametrize("mode", ["proxy", "middleware"])
@pytest.mark.parametrize("attack", sorted(RESPONSE_ATTACKS))
def test_listed_strings_anywhere_in_a_response_are_removed(mode: str, attack: str, rules: Any) -> None:
    adapter, path, body = RESPONSE_ATTACKS[attack]
    with filtered(mode, adapter, rules) as (backend, client):
        backend.body = body
        r = client.get(path, params={"q": "garden"})
    assert r.status_code == 200, r.text
    assert clean(r.text), r.text
    assert int(r.headers["x-filter-removed"]) >= 1
    assert int(r.headers["content-length"]) == len(r.content)


@pytest.mark.parametrize("mode", ["proxy", "middleware"])
@pytest.mark.parametrize("order", ["listed first", "listed last"])
def test_duplicate_keys_send_the_screened_document(mode: str, order: str, rules: Any) -> None:
    listed = b'"hits": {"total": 1, "hits": [{"_id": "bad", "_source": {"title": "zqxblocked"}}]}'
    benign = b'"hits": {"total": 1, "hits": [{"_id": "ok", "_source": {"title": "Garden"}}]}'
    pair = (listed, benign) if order == "listed first" else (benign, listed)
    with filtered(mode, "elasticsearch", rules) as (backend, client):
        backend.body = b"{" + pair[0] + b", " + pair[1] + b"}"
        r = client.get("/books/_search", params={"q": "garden"})
    assert r.status_code == 200
    # One "hits" key, the one that was screened: a client that reads the first duplicate reads it too.
    assert r.content.count(b'"hits":{') == 1
    assert clean(r.text)


@pytest.mark.parametrize("mode", ["proxy", "middleware"])
@pytest.mark.parametrize(("status", "body", "ctype", "expected"), [
    (400, b'{"error": {"reason": "failed on doc: zqxblocked"}}', b"application/json", 502),
    (404, b'{"error": "index_not_found", "index": "books"}', b"application/json", 404),
    (500, b"<html><body>Internal error</body></html>", b"text/html", 500),
    (500, b"<html><body>zqx<b>blocked</b></body></html>", b"text/html", 502),
    (503, b"x" * 20_000, b"text/plain", 502),
    (200, b"not json", b"text/plain", 502),
])
def test_error_bodies_are_screened(mode: str, status: int, body: bytes, ctype: bytes, expected: int,
                                   rules: Any) -> None:
    with filtered(mode, "elasticsearch", rules) as (backend, client):
        backend.status, backend.body, backend.ctype = status, body, ctype
        r = client.get("/books/_search", params={"q": "garden"})
    if mode == "proxy" and status >= 500:
        expected = 502  # the reverse proxy answers any upstream 5xx with its own 502 (proxy.py)
    assert r.status_code == expected
    assert clean(r.text)


# (adapter, path, params, JSON body or None): queries the old reader did not see.
QUERY_ATTACKS = {
    "Solr local param dereference": ("solr", "/solr/books/select", {"q": "{!v=$qq}", "qq": "zqxblocked"}, None),
    "Solr macro": ("solr", "/solr/books/select", {"q": "zqx${m}", "m": "blocked"}, None),
    "Solr json.query": ("solr", "/solr/books/select", {"json.query": '{"lucene": {"query": "zqxblocked"}}'}, None),
    "Solr escape": ("solr", "/solr/books/select", {"q": "title:zqx\\blocked"}, None),
    "ES trailing wildcard": ("elasticsearch", "/books/_search", {"q": "zqxblock*"}, None),
    "ES single-char wildcard": ("elasticsearch", "/books/_search", {"q": "zqx?locked"}, None),
    "ES leading wildcard": ("elasticsearch", "/books/_search", {"q": "title:*qxblocked"}, None),
    "Solr leading single-char wildcards": ("solr", "/solr/books/select", {"q": "??xblocked?"}, None),
    "ES field named like an option": ("elasticsearch", "/books/_search", {},
                                      {"query": {"match": {"analyzer": "zqxblocked"}}}),
    "ES script params": ("elasticsearch", "/books/_search", {},
                         {"query": {"script_score": {"script": {"params": {"w": "zqxblocked"}}}}}),
    "ES highlight_query": ("elasticsearch", "/books/_search", {},
                           {"highlight": {"highlight_query": {"match": {"t": "forbidden phrase alpha"}}}}),
    "ES rescore": ("elasticsearch", "/books/_search", {},
                   {"rescore": {"query": {"rescore_query": {"query_string": {"query": "zqx\\blocked"}}}}}),
    "Meilisearch filter": ("meilisearch", "/indexes/books/search", {}, {"q": "", "filter": "title = zqxblocked"}),
}


@pytest.mark.parametrize("mode", ["proxy", "middleware"])
@pytest.mark.parametrize("attack", sorted(QUERY_ATTACKS))
def test_queries_hidden_in_parameters_options_and_syntax_are_blocked(mode: str, attack: str, rules: Any) -> None:
    adapter, path, params, body = QUERY_ATTACKS[attack]
    with filtered(mode, adapter, rules) as (backend, client):
        if body is None:
            r = client.get(path, params=params)
        else:
            r = client.post(path, params=params, content=orjson.dumps(body),
                            headers={"content-type": "application/json"})
        assert backend.calls == 0  # the backend never saw the query
    assert r.status_code == 200 and r.headers["x-filter-action"] == "block"


@pytest.mark.parametrize("mode", ["proxy", "middleware"])
@pytest.mark.parametrize("where", ["hit", "outside any hit"])
def test_multi_search_sub_responses_are_screened_whole(mode: str, where: str, rules: Any) -> None:
    hits = [{"id": 1, "title": "Garden"}, {"id": 2, "title": "Rake"}]
    page: dict[str, Any] = {"indexUid": "books", "hits": hits, "query": "garden", "estimatedTotalHits": 2}
    if where == "hit":
        hits[1]["notes"] = [{"value": "zqxblocked"}]
    else:
        page["debug"] = {"explain": "zqxblocked"}
    request = {"queries": [{"indexUid": "books", "q": "garden"}]}
    with filtered(mode, "meilisearch", rules) as (backend, client):
        backend.body = orjson.dumps({"results": [page]})
        r = client.post("/multi-search", content=orjson.dumps(request), headers={"content-type": "application/json"})
    assert clean(r.text)
    if where == "hit":
        assert r.status_code == 200 and [h["id"] for h in r.json()["results"][0]["hits"]] == [1]
    else:
        assert r.status_code == 502  # nothing removable around it: the answer is withheld
