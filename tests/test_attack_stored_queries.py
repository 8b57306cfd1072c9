"""Queries that reach the backend outside a search route's strings: in the path, and on writes that run or
store a query. Generated requests, each through FilterMiddleware in process (an app that records what
reached it) and a few end to end through ``serve`` with the official clients.

Before this file:
- a document id or index name in the path was never read: ``GET /b/_doc/<listed term>`` (elasticsearch-py
  ``get``, opensearch-py ``get``), Meilisearch ``get_document``, Typesense ``documents[id].retrieve()``
  reached the backend, while ``mget`` of the same id was blocked;
- writes that run a query or store one passed unread: ES/OpenSearch ``delete_by_query``,
  ``update_by_query``, ``put_alias`` / ``update_aliases`` with a filter, index creation with aliases or
  synonyms, ``put_settings`` (synonyms), Meilisearch ``delete_documents(filter=...)`` and settings
  (synonyms), Typesense ``documents.delete`` / ``documents.update`` with ``filter_by``;
- SearXNG ``POST /`` with a form body ``q=...`` passed (an old SearXNG searches there).

Now: the path's non-literal segments are query text (percent-decoded), those writes are screened (kind
``change``): a listed one is refused with 403, counted, never forwarded; their answers are read as opaque.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.events import NullObserver
from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import asgi_scope, call_asgi
from tests.test_attack_request import Recorder
from tests.test_middleware import build_rules

LISTED = ("zqxblocked", "forbidden phrase alpha")
# Benign words: letters without q, x, z (no listed term starts or hides in them).
BENIGN = st.text(alphabet="abcdefghijklmnoprstuvwy", min_size=3, max_size=10)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


class Counting(NullObserver):
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []

    def request(self, route: str, action: str, category: str | None) -> None:
        self.requests.append((route, action, category))


@st.composite
def path_value(draw: st.DrawFn, value: str) -> str:
    """``value`` as a client may write it in a path segment: each character as is or percent-encoded
    (either hex case), spaces as %20."""
    out = []
    for char in value:
        if char == " " or draw(st.booleans()):
            escape = quote(char, safe="")
            if escape == char:
                escape = "%" + format(ord(char), "02X")
            out.append(escape.lower() if draw(st.booleans()) else escape)
        else:
            out.append(char)
    return "".join(out)


# (adapter, method, path template): {v} is where the value goes (a document id, an index, a collection).
PATH_ROUTES = [
    ("elasticsearch", "GET", "/b/_doc/{v}"), ("elasticsearch", "GET", "/b/_source/{v}"),
    ("elasticsearch", "POST", "/b/_explain/{v}"), ("elasticsearch", "GET", "/b/_termvectors/{v}"),
    ("elasticsearch", "GET", "/{v}/_search"), ("elasticsearch", "GET", "/{v}/_count"),
    ("opensearch", "GET", "/b/_doc/{v}"), ("opensearch", "GET", "/{v}/_search"),
    ("meilisearch", "GET", "/indexes/b/documents/{v}"), ("meilisearch", "POST", "/indexes/{v}/search"),
    ("typesense", "GET", "/collections/b/documents/{v}"), ("typesense", "GET", "/collections/{v}/documents/search"),
    ("solr", "GET", "/solr/{v}/select"),
]


def _call(mw: FilterMiddleware, method: str, path: str, query: bytes = b"", body: bytes = b"",
          content_type: bytes = b"application/json") -> int:
    headers = [(b"content-type", content_type)] if body else []
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope(method, path.encode(), query, headers, body), body)
    return status


@SETTINGS
@given(route=st.sampled_from(PATH_ROUTES), term=st.sampled_from(LISTED), data=st.data())
def test_a_listed_value_in_the_path_never_reaches_the_backend(rules: Any, route: tuple[str, str, str], term: str,
                                                             data: st.DataObject) -> None:
    adapter, method, template = route
    value = data.draw(path_value(term.replace(" ", "-") if "{v}/" in template else term))
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status = _call(mw, method, template.replace("{v}", value))
    assert app.calls == [], (template, value)
    assert status in (200, 400, 403, 404)


@SETTINGS
@given(route=st.sampled_from(PATH_ROUTES), term=st.sampled_from(LISTED), data=st.data())
def test_a_listed_value_in_the_path_of_a_preflight_never_reaches_the_backend(
        rules: Any, route: tuple[str, str, str], term: str, data: st.DataObject) -> None:
    adapter, _, template = route
    value = data.draw(path_value(term.replace(" ", "-") if "{v}/" in template else term))
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status = _call(mw, "OPTIONS", template.replace("{v}", value))
    assert app.calls == [], (template, value)
    assert status in (204, 400, 403)


@SETTINGS
@given(route=st.sampled_from(PATH_ROUTES), word=BENIGN)
def test_an_ordinary_value_in_the_path_is_forwarded(rules: Any, route: tuple[str, str, str], word: str) -> None:
    adapter, method, template = route
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    _call(mw, method, template.replace("{v}", word))
    assert len(app.calls) == 1


# Writes that run or store a query: (adapter, method, path, how the request carries a text).
def _es_bodies(text: str) -> list[tuple[str, str, bytes, bytes]]:
    query = {"match": {"title": text}}
    return [
        ("POST", "/b/_delete_by_query", b"", json.dumps({"query": query}).encode()),
        ("POST", "/b/_update_by_query", b"", json.dumps({"query": query, "script": {"source": "ctx._source.n=1"}}).encode()),
        ("PUT", "/b/_alias/a", b"", json.dumps({"filter": query}).encode()),
        ("POST", "/b/_alias/a", b"", json.dumps({"filter": query}).encode()),
        ("POST", "/_aliases", b"", json.dumps({"actions": [{"add": {"index": "b", "alias": "a", "filter": query}}]}).encode()),
        ("PUT", "/c", b"", json.dumps({"aliases": {"a": {"filter": query}}}).encode()),
        ("PUT", "/c", b"", json.dumps({"settings": {"analysis": {"filter": {"s": {"type": "synonym",
                                                                                  "synonyms": [f"bread => {text}"]}}}}}).encode()),
        ("PUT", "/b/_settings", b"", json.dumps({"index": {"analysis": {"filter": {"s": {"synonyms": [f"bread, {text}"]}}}}}).encode()),
        ("POST", "/b/_delete_by_query", ("q=" + quote(text)).encode(), b""),
    ]


def _meili_bodies(text: str) -> list[tuple[str, str, bytes, bytes]]:
    return [
        ("POST", "/indexes/b/documents/delete", b"", json.dumps({"filter": f"title = '{text}'"}).encode()),
        ("PUT", "/indexes/b/settings/synonyms", b"", json.dumps({"bread": [text]}).encode()),
        ("PATCH", "/indexes/b/settings", b"", json.dumps({"synonyms": {"bread": [text]}}).encode()),
        ("PUT", "/indexes/b/settings/stop-words", b"", json.dumps([text]).encode()),
    ]


def _typesense_bodies(text: str) -> list[tuple[str, str, bytes, bytes]]:
    filter_by = ("filter_by=" + quote(f"title:={text}")).encode()
    return [
        ("DELETE", "/collections/b/documents", filter_by, b""),
        ("PATCH", "/collections/b/documents", filter_by, json.dumps({"n": 1}).encode()),
    ]


WRITES = {"elasticsearch": _es_bodies, "opensearch": _es_bodies, "meilisearch": _meili_bodies,
          "typesense": _typesense_bodies}


@SETTINGS
@given(adapter=st.sampled_from(sorted(WRITES)), term=st.sampled_from(LISTED), pick=st.integers(0, 50))
def test_a_write_that_runs_or_stores_a_listed_query_is_refused(rules: Any, adapter: str, term: str,
                                                                pick: int) -> None:
    requests = WRITES[adapter](term)
    method, path, query, body = requests[pick % len(requests)]
    app = Recorder()
    observer = Counting()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter, observer=observer)
    status = _call(mw, method, path, query, body)
    assert app.calls == [], (method, path)
    assert status == 403
    assert observer.requests == [("change", "block", "zqx-abuse")]


@SETTINGS
@given(adapter=st.sampled_from(sorted(WRITES)), word=BENIGN, pick=st.integers(0, 50))
def test_an_ordinary_write_of_those_kinds_goes_through(rules: Any, adapter: str, word: str, pick: int) -> None:
    requests = WRITES[adapter](word)
    method, path, query, body = requests[pick % len(requests)]
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status = _call(mw, method, path, query, body)
    assert len(app.calls) == 1, (method, path)
    assert status == 200


@SETTINGS
@given(term=st.sampled_from(LISTED), field=st.sampled_from(["q", "Q", "q "]))
def test_searxng_post_to_the_root_is_not_passed(rules: Any, term: str, field: str) -> None:
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter="searxng")
    body = (quote(field) + "=" + quote(term)).encode()
    status = _call(mw, "POST", "/", b"", body, b"application/x-www-form-urlencoded")
    assert app.calls == []
    assert status == 403


# --- end to end: the official clients through ``serve`` --------------------------------------------------


def _client_calls(kind: str, base: str, term: str) -> list[tuple[str, Any]]:
    query = {"match": {"title": term}}
    if kind in ("elasticsearch", "opensearch"):
        if kind == "elasticsearch":
            from elasticsearch import Elasticsearch

            es: Any = Elasticsearch(base, request_timeout=5, max_retries=0)
            by_query = [lambda: es.delete_by_query(index="b", query=query),
                        lambda: es.update_by_query(index="b", query=query),
                        lambda: es.indices.put_alias(index="b", name="a", filter=query),
                        lambda: es.indices.update_aliases(actions=[{"add": {"index": "b", "alias": "a", "filter": query}}])]
        else:
            from opensearchpy import OpenSearch

            es = OpenSearch(base, timeout=5, max_retries=0)
            by_query = [lambda: es.delete_by_query(index="b", body={"query": query}),
                        lambda: es.update_by_query(index="b", body={"query": query}),
                        lambda: es.indices.put_alias(index="b", name="a", body={"filter": query})]
        return [("get", lambda: es.get(index="b", id=term)), ("get_source", lambda: es.get_source(index="b", id=term)),
                *(("by query", f) for f in by_query)]
    if kind == "meilisearch":
        import meilisearch

        index = meilisearch.Client(base, "key", timeout=5).index("b")
        return [("get_document", lambda: index.get_document(term)),
                ("delete_documents", lambda: index.delete_documents(filter=f"title = '{term}'")),
                ("update_synonyms", lambda: index.update_synonyms({"bread": [term]}))]
    import typesense

    port = int(base.rsplit(":", 1)[1])
    client = typesense.Client({"api_key": "k", "nodes": [{"host": "127.0.0.1", "port": port, "protocol": "http"}],
                               "connection_timeout_seconds": 5, "num_retries": 0})
    documents = client.collections["b"].documents
    return [("retrieve", lambda: documents[term].retrieve()),
            ("delete by filter", lambda: documents.delete({"filter_by": f"title:={term}"})),
            ("update by filter", lambda: documents.update({"n": 1}, {"filter_by": f"title:={term}"}))]


@pytest.mark.parametrize("kind", ["elasticsearch", "opensearch", "meilisearch", "typesense"])
def test_official_clients_cannot_reach_the_backend_through_paths_or_writes(rules: Any, kind: str) -> None:
    from filter_proxy.proxy import create_proxy_app
    from filter_proxy.server_http import HttpToolsProtocol
    from tests.support.hostile import LISTED_TERM, hostile_backend
    from tests.support.server import serve

    with hostile_backend() as backend:
        app = create_proxy_app(backend.url, rules, kind)
        with serve(app, http=HttpToolsProtocol, log_config=None) as base:
            for name, call in _client_calls(kind, base, LISTED_TERM.decode()):
                with contextlib.suppress(Exception):  # a refusal is an error to the client; what matters is the backend
                    call()
                assert not any(LISTED_TERM in r.lower() for r in backend.requests), name


def test_path_values_are_read_decoded(tmp_path: Path) -> None:
    from filter_proxy.adapters.request import path_texts

    assert "zqx/blocked" in path_texts(["zqx%2Fblocked"])
    assert path_texts(["b", " "]) == ["b"]
