"""A HEAD on a screened route must not tell whether a listed document exists.

Before: a HEAD was forwarded as a HEAD and the backend's status went out unread, so elasticsearch-py's
``exists()`` / ``exists_source()`` (``HEAD /<index>/_doc/<id>``, ``HEAD /<index>/_source/<id>``) answered True
for a document the filter withholds on GET. Now a HEAD is forwarded as a GET, screened as the GET answer is,
and gets that answer's status and headers without a body (a withheld document: the backend's not-found).

Generated (in process): the placeholder term, the screened route of each adapter (document by id, search,
documents), the answer's wording; the HEAD's status and headers equal the GET's, its body is empty and the
backend only ever sees a GET. With the official clients: a loopback backend serving a clean and a listed
document, ``exists()`` is True for the clean one only, and False for a listed id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import asgi_scope, call_asgi
from tests.test_clients import served_app
from tests.test_middleware import build_rules

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LETTERS = "abcdefghijklmnopqrstuvwy"
TERM = st.text(alphabet=LETTERS, min_size=3, max_size=8).map(lambda s: "zqx" + s)
WORD = st.text(alphabet=LETTERS, min_size=3, max_size=10)
ES_HEADERS = {"x-elastic-product": "Elasticsearch"}


def _es_doc(title: str) -> Any:
    return {"_index": "books", "_id": "1", "_version": 1, "found": True, "_source": {"id": "1", "title": title}}


def _es_page(title: str) -> Any:
    return {"took": 1, "timed_out": False, "hits": {"total": {"value": 1, "relation": "eq"},
                                                    "hits": [{"_index": "books", "_id": "1", "_score": 1.0,
                                                              "_source": {"title": title}}]}}


# (adapter, path, answer for a title): screened routes a HEAD can probe
ROUTES: list[tuple[str, str, Any]] = [
    ("elasticsearch", "/books/_doc/1", _es_doc),
    ("opensearch", "/books/_doc/1", _es_doc),
    ("elasticsearch", "/books/_source/1", lambda t: {"id": "1", "title": t}),
    ("elasticsearch", "/books/_search", _es_page),
    ("meilisearch", "/indexes/books/documents/1", lambda t: {"id": 1, "title": t}),
    ("meilisearch", "/indexes/books/documents", lambda t: {"results": [{"id": 1, "title": t}], "offset": 0,
                                                           "limit": 20, "total": 1}),
    ("typesense", "/collections/books/documents/1", lambda t: {"id": "1", "title": t}),
    ("solr", "/solr/books/get", lambda t: {"doc": {"id": "1", "title": t}}),
]


class Answering:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.methods: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.methods.append(scope["method"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-elastic-product", b"Elasticsearch")]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


_RULES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("head-rules")


def rules_for(term: str, base: Path) -> Any:
    if term not in _RULES:
        _RULES[term] = build_rules(base / term, extra_terms=[term])
    return _RULES[term]


def _call(rules: Any, adapter: str, method: str, path: str, answer: bytes) -> tuple[int, dict[bytes, bytes], bytes,
                                                                                  list[str]]:
    app = Answering(answer)
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status, headers, body = anyio.run(call_asgi, mw, asgi_scope(method, path.encode()))
    return status, dict(headers), body, app.methods


@SETTINGS
@given(route=st.sampled_from(ROUTES), term=TERM, word=WORD, listed=st.booleans(), upper=st.booleans())
def test_a_head_gets_what_the_screened_get_gets_without_a_body(base: Path, route: tuple[str, str, Any], term: str,
                                                               word: str, listed: bool, upper: bool) -> None:
    adapter, path, make = route
    title = f"{word} {term.upper() if upper else term}" if listed else word
    answer = json.dumps(make(title)).encode()
    rules = rules_for(term, base)
    get_status, get_headers, get_body, _ = _call(rules, adapter, "GET", path, answer)
    status, headers, body, methods = _call(rules, adapter, "HEAD", path, answer)
    assert methods == ["GET"]  # the backend never answers a HEAD the filter did not read
    assert body == b""
    assert status == get_status
    assert headers == get_headers
    if listed and adapter != "solr" and "_search" not in path and path.rsplit("/", 1)[-1] != "documents":
        assert status in (404, 502)  # a withheld document: not found (or the whole answer withheld)


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch", "meilisearch", "typesense"]), term=TERM)
def test_a_head_for_a_listed_id_is_not_found(base: Path, adapter: str, term: str) -> None:
    """The id itself is listed: the query is blocked before anything is forwarded, and answered as the
    backend answers a missing document (404), not as an empty search page (200: "exists")."""
    path = {"meilisearch": f"/indexes/books/documents/{term}",
            "typesense": f"/collections/books/documents/{term}"}.get(adapter, f"/books/_doc/{term}")
    for method in ("HEAD", "GET"):
        status, headers, body, methods = _call(rules_for(term, base), adapter, method, path, b"{}")
        assert status == 404 and methods == []
        assert headers[b"x-filter-action"] == b"block"
        assert method == "GET" or body == b""
        assert term.encode() not in body


# --- the official clients through `filter-proxy serve` -----------------------------------------------------

STORED = {"1": {"title": "Bread recipe"}, "2": {"title": "zqxblocked listing"},
          "3": {"title": "Soup", "url": "https://blocked.example.invalid/page"}}


class DocumentBackend:
    """ES ``_doc`` and ``_source`` by id (Starlette answers HEAD on a GET route), recording methods."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.app = Starlette(routes=[
            Route("/", self.info, methods=["GET"]),
            Route("/{index}/_doc/{id}", self.doc, methods=["GET"]),
            Route("/{index}/_source/{id}", self.source, methods=["GET"]),
        ])

    async def info(self, request: Request) -> Response:
        return JSONResponse({"name": "n", "cluster_name": "c", "cluster_uuid": "u", "tagline": "You Know, for Search",
                             "version": {"number": "9.0.0", "build_flavor": "default", "distribution": None}},
                            headers=ES_HEADERS)

    async def doc(self, request: Request) -> Response:
        self.methods.append(request.method)
        index, doc_id = request.path_params["index"], request.path_params["id"]
        if doc_id not in STORED:
            return JSONResponse({"_index": index, "_id": doc_id, "found": False}, 404, headers=ES_HEADERS)
        return JSONResponse({"_index": index, "_id": doc_id, "_version": 1, "found": True,
                             "_source": STORED[doc_id]}, headers=ES_HEADERS)

    async def source(self, request: Request) -> Response:
        self.methods.append(request.method)
        doc_id = request.path_params["id"]
        if doc_id not in STORED:
            return JSONResponse({"error": {"type": "resource_not_found_exception"}, "status": 404}, 404,
                                headers=ES_HEADERS)
        return JSONResponse(STORED[doc_id], headers=ES_HEADERS)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any,
                                                                                                       DocumentBackend]]:
    rules_dir = tmp_path_factory.mktemp("head-client-rules")
    build_rules(rules_dir)
    backend = DocumentBackend()
    with served_app(backend.app, request.param, rules_dir) as base_url:
        if request.param == "elasticsearch":
            from elasticsearch import Elasticsearch

            es: Any = Elasticsearch(base_url, request_timeout=10)
        else:
            from opensearchpy import OpenSearch

            es = OpenSearch([base_url], timeout=10)
        yield es, backend
        es.close()


def test_official_client_exists_is_false_for_a_listed_document(client: tuple[Any, DocumentBackend]) -> None:
    es, backend = client
    assert es.exists(index="books", id="1")
    assert es.exists_source(index="books", id="1")
    for listed in ("2", "3"):  # a listed term in the title; a listed domain in a URL
        assert not es.exists(index="books", id=listed)
        assert not es.exists_source(index="books", id=listed)
    assert not es.exists(index="books", id="zqxblocked")  # a listed id: blocked, never forwarded
    assert not es.exists(index="books", id="9")  # missing
    assert "HEAD" not in backend.methods
