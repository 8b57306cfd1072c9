"""Answers of routes that passed unread before (index info, mappings, settings, aliases, ``_cat`` tables,
templates, stored scripts, tasks, schema and config reads, collection management, synonyms, write answers
that carry documents) are read whole: a listed string anywhere in them withholds the answer (502); a clean
answer is sent byte for byte as the backend sent it.

Generated: the placeholder term (``zqx`` + letters, listed for the example), the route (every read route of
every adapter, with an answer in the shape the backend gives there), where the term goes (any string at any
depth, a new key at any depth, the key itself, a line of a text table), its case and the text around it.
Before the fix these routes were passed (the term reached the client).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.routes import PASS, READ, build_table
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.routing import canonical_path
from tests.support.hostile import asgi_scope, call_asgi
from tests.test_middleware import build_rules

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LETTERS = "abcdefghijklmnopqrstuvwy"  # no "x": an ordinary word never holds "zqx"
TERM = st.text(alphabet=LETTERS, min_size=3, max_size=8).map(lambda s: "zqx" + s)
WORD = st.text(alphabet=LETTERS, min_size=3, max_size=10)
JSON_CT = b"application/json"
TEXT_CT = b"text/plain; charset=UTF-8"
HTML_CT = b"text/html; charset=utf-8"

_ES_TASK = {"nodes": {"n1": {"name": "n1", "tasks": {"n1:7": {
    "node": "n1", "id": 7, "type": "transport", "action": "indices:data/write/delete/byquery",
    "description": "delete-by-query [books] updated with query {\"match\":{\"title\":\"soup\"}}",
    "running_time_in_nanos": 10, "cancellable": True}}}}}

# (adapter, method, path, request body, answer content type, answer): every kind of read answer
CASES: list[tuple[str, str, str, bytes, bytes, Any]] = [
    ("elasticsearch", "GET", "/books", b"", JSON_CT,
     {"books": {"aliases": {}, "mappings": {"properties": {"title": {"type": "text"}}},
                "settings": {"index": {"number_of_shards": "1"}}}}),
    ("elasticsearch", "GET", "/books/_mapping", b"", JSON_CT,
     {"books": {"mappings": {"properties": {"title": {"type": "text", "analyzer": "english"}}}}}),
    ("elasticsearch", "GET", "/books/_settings", b"", JSON_CT,
     {"books": {"settings": {"index": {"analysis": {"filter": {"syn": {"type": "synonym",
                                                                       "synonyms": ["bread, loaf"]},
                                                               "stop": {"type": "stop", "stopwords": ["the"]}}}}}}}),
    ("elasticsearch", "GET", "/_alias/recent", b"", JSON_CT,
     {"books": {"aliases": {"recent": {"filter": {"term": {"title": "bread"}}}}}}),
    ("elasticsearch", "GET", "/_aliases", b"", JSON_CT, {"books": {"aliases": {"all": {}}}}),
    ("elasticsearch", "GET", "/_cat/indices", b"", TEXT_CT,
     "green open books abc 1 1 4 0 10kb 10kb\nyellow open recipes def 1 1 2 0 5kb 5kb\n"),
    ("elasticsearch", "GET", "/_cat/aliases", b"", JSON_CT,
     [{"alias": "recent", "index": "books", "filter": "*", "routing.index": "-"}]),
    ("elasticsearch", "GET", "/_index_template/books", b"", JSON_CT,
     {"index_templates": [{"name": "books", "index_template": {"index_patterns": ["books-*"],
                                                               "template": {"aliases": {"b": {}}}}}]}),
    ("elasticsearch", "GET", "/_component_template/syn", b"", JSON_CT,
     {"component_templates": [{"name": "syn", "component_template": {"template": {"settings": {}}}}]}),
    ("elasticsearch", "GET", "/_scripts/find", b"", JSON_CT,
     {"_id": "find", "found": True, "script": {"lang": "mustache",
                                              "source": "{\"query\":{\"match\":{\"title\":\"{{q}}\"}}}"}}),
    ("elasticsearch", "GET", "/_tasks", b"", JSON_CT, _ES_TASK),
    ("elasticsearch", "GET", "/_query_rules/promo", b"", JSON_CT,
     {"ruleset_id": "promo", "rules": [{"rule_id": "r1", "type": "pinned", "criteria": [
         {"type": "exact", "metadata": "user_query", "values": ["bread"]}], "actions": {"ids": ["1"]}}]}),
    ("elasticsearch", "GET", "/_synonyms/books", b"", JSON_CT,
     {"count": 1, "synonyms_set": [{"id": "s1", "synonyms": "bread, loaf"}]}),
    ("elasticsearch", "GET", "/_nodes/hot_threads", b"", TEXT_CT,
     "::: {n1}{abc}{127.0.0.1}\n   Hot threads at 2026-01-01, interval=500ms:\n    0.0% cpu usage by thread\n"),
    ("elasticsearch", "POST", "/books/_update/1", b'{"doc":{"pages":3},"_source":true}', JSON_CT,
     {"_index": "books", "_id": "1", "result": "updated",
      "get": {"found": True, "_source": {"title": "Bread", "pages": 3}}}),
    ("elasticsearch", "POST", "/_bulk", b'{"update":{"_index":"books","_id":"1"}}\n{"doc":{"p":1},"_source":true}\n',
     JSON_CT, {"took": 1, "errors": False, "items": [{"update": {"_index": "books", "_id": "1", "status": 200,
                                                                "get": {"_source": {"title": "Bread"}}}}]}),
    ("opensearch", "GET", "/books/_settings", b"", JSON_CT, {"books": {"settings": {"index": {"uuid": "abc"}}}}),
    ("solr", "GET", "/solr/books/schema/analysis/synonyms/english", b"", JSON_CT,
     {"responseHeader": {"status": 0, "QTime": 1},
      "synonymMappings": {"initArgs": {"ignoreCase": True}, "managedMap": {"bread": ["loaf"]}}}),
    ("solr", "GET", "/solr/books/schema", b"", JSON_CT,
     {"responseHeader": {"status": 0}, "schema": {"name": "books", "fields": [{"name": "title", "type": "text"}]}}),
    ("solr", "GET", "/solr/books/config", b"", JSON_CT, {"config": {"requestHandler": {"/select": {"defaults": {}}}}}),
    ("solr", "GET", "/solr/admin/cores", b"", JSON_CT, {"status": {"books": {"name": "books", "index": {"numDocs": 4}}}}),
    ("solr", "POST", "/solr/books/update", b'[{"id":"1","title":"Bread"}]', JSON_CT,
     {"responseHeader": {"status": 0, "QTime": 3}}),
    ("meilisearch", "GET", "/indexes/books/settings", b"", JSON_CT,
     {"synonyms": {"bread": ["loaf"]}, "stopWords": ["the"], "dictionary": ["j.r.r."], "filterableAttributes": []}),
    ("meilisearch", "GET", "/indexes/books/settings/synonyms", b"", JSON_CT, {"bread": ["loaf"]}),
    ("meilisearch", "GET", "/indexes", b"", JSON_CT,
     {"results": [{"uid": "books", "primaryKey": "id"}], "offset": 0, "limit": 20, "total": 1}),
    ("meilisearch", "GET", "/tasks", b"", JSON_CT,
     {"results": [{"uid": 3, "indexUid": "books", "status": "succeeded", "type": "documentDeletion",
                   "details": {"originalFilter": "\"title = soup\"", "deletedDocuments": 1}}],
      "total": 1, "limit": 20, "from": 3, "next": None}),
    ("meilisearch", "GET", "/batches/1", b"", JSON_CT,
     {"uid": 1, "details": {"synonyms": {"bread": ["loaf"]}}, "stats": {"types": {"settingsUpdate": 1}}}),
    ("typesense", "GET", "/collections/books", b"", JSON_CT,
     {"name": "books", "num_documents": 4, "fields": [{"name": "title", "type": "string"}]}),
    ("typesense", "GET", "/collections/books/synonyms", b"", JSON_CT,
     {"synonyms": [{"id": "s1", "synonyms": ["bread", "loaf"]}]}),
    ("typesense", "GET", "/collections/books/overrides/o1", b"", JSON_CT,
     {"id": "o1", "rule": {"query": "bread", "match": "exact"}, "includes": [{"id": "1", "position": 1}]}),
    ("typesense", "GET", "/aliases", b"", JSON_CT, {"aliases": [{"name": "b", "collection_name": "books"}]}),
    ("typesense", "GET", "/presets", b"", JSON_CT, {"presets": [{"name": "p", "value": {"q": "bread"}}]}),
    ("typesense", "GET", "/stopwords", b"", JSON_CT, {"stopwords": [{"id": "s", "stopwords": ["the"]}]}),
    ("typesense", "GET", "/synonym_sets/books/items", b"", JSON_CT, [{"id": "s1", "synonyms": ["bread", "loaf"]}]),
    ("typesense", "DELETE", "/collections/books/documents/1", b"", JSON_CT, {"id": "1", "title": "Bread"}),
    ("typesense", "PATCH", "/collections/books/documents/1", b'{"pages":3}', JSON_CT,
     {"id": "1", "title": "Bread", "pages": 3}),
    ("searxng", "GET", "/config", b"", JSON_CT,
     {"engines": [{"name": "wikipedia", "categories": ["general"]}], "instance_name": "SearXNG"}),
    ("searxng", "GET", "/preferences", b"", HTML_CT,
     "<html><body><h1>Preferences</h1><p>Engines: wikipedia</p></body></html>"),
    ("searxng", "GET", "/stats", b"", HTML_CT, "<html><body><table><tr><td>wikipedia</td></tr></table></body></html>"),
]
JSONL_IMPORT = ("typesense", "POST", "/collections/books/documents/import", b'{"id":"1","title":"Bread"}\n',
                TEXT_CT, None)


class Answering:
    """A backend that answers every request with fixed bytes, and records what it was asked."""

    def __init__(self, body: bytes, content_type: bytes, status: int = 200) -> None:
        self.body, self.content_type, self.status = body, content_type, status
        self.methods: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.methods.append(scope["method"])
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", self.content_type), (b"content-length", b"%d" % len(self.body))]})
        await send({"type": "http.response.body", "body": self.body})


_RULES: dict[str, Any] = {}


def rules_for(term: str, base: Path) -> Any:
    if term not in _RULES:
        _RULES[term] = build_rules(base / term, extra_terms=[term])
    return _RULES[term]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("read-rules")


def exchange(rules: Any, adapter: str, method: str, path: str, body: bytes, answer: bytes,
             content_type: bytes) -> tuple[int, bytes, Answering]:
    app = Answering(answer, content_type)
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    headers = [(b"content-type", b"application/json")] if body else []
    status, _, out = anyio.run(call_asgi, mw, asgi_scope(method, path.encode(), b"", headers, body), body)
    return status, out, app


@st.composite
def planted(draw: st.DrawFn, value: Any, text: str) -> Any:
    """``value`` with ``text`` put somewhere in it: inside a string leaf, as a new key or value at any depth,
    or as a key."""
    if isinstance(value, str):
        if "\n" in value:  # a text table: inside one of its lines
            lines = value.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            cut = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut] + " " + text + " " + lines[i][cut:]
            return "\n".join(lines)
        if value.startswith("<"):  # markup: inside an element's text
            cut = value.index(">") + 1
            return value[:cut] + text + value[cut:]
        return draw(st.sampled_from([text, f"{value} {text}", f"{text}, {value}"]))
    if isinstance(value, dict) and value:
        how = draw(st.integers(0, 2))
        if how == 0:
            key = draw(st.sampled_from(sorted(value)))
            return {**value, key: draw(planted(value[key], text))}
        if how == 1:
            return {**value, text: draw(st.sampled_from([1, "x", {"a": "b"}]))}
        return {**value, draw(WORD): text}
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value)))
        if i == len(value):
            return [*value, text]
        return [*value[:i], draw(planted(value[i], text)), *value[i + 1 :]]
    return text


def encoded(answer: Any) -> bytes:
    return answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()


def test_every_case_is_a_read_route() -> None:
    for adapter, method, path, *_ in [*CASES, JSONL_IMPORT]:
        table = build_table(get_adapter(adapter).default_routes())
        assert table.decide(method, canonical_path(path.encode()).segments).outcome == READ, (adapter, path)


@SETTINGS
@given(case=st.sampled_from(CASES), term=TERM, upper=st.booleans(), data=st.data())
def test_a_listed_string_in_a_read_answer_withholds_it(base: Path, case: tuple[Any, ...], term: str, upper: bool,
                                                       data: st.DataObject) -> None:
    adapter, method, path, body, content_type, answer = case
    rules = rules_for(term, base)
    spelled = term.upper() if upper else term
    status, out, app = exchange(rules, adapter, method, path, body, encoded(data.draw(planted(answer, spelled))),
                                content_type)
    assert status == 502, out
    assert term not in out.decode("latin-1").lower()
    assert json.loads(out)["error"].startswith("upstream response withheld")
    assert app.methods == [method]


@SETTINGS
@given(case=st.sampled_from(CASES), term=TERM, word=WORD, data=st.data())
def test_a_clean_read_answer_is_sent_byte_for_byte(base: Path, case: tuple[Any, ...], term: str, word: str,
                                                   data: st.DataObject) -> None:
    adapter, method, path, body, content_type, answer = case
    sent = encoded(data.draw(planted(answer, word)))
    status, out, _ = exchange(rules_for(term, base), adapter, method, path, body, sent, content_type)
    assert (status, out) == (200, sent)


@SETTINGS
@given(term=TERM, word=WORD, n=st.integers(1, 4), at=st.integers(0, 3), upper=st.booleans())
def test_typesense_import_with_return_doc_is_read_line_by_line(base: Path, term: str, word: str, n: int, at: int,
                                                               upper: bool) -> None:
    """JSON lines as text: a listed string in any line's document withholds, escaped or not."""
    adapter, method, path, body, content_type, _ = JSONL_IMPORT
    rules = rules_for(term, base)
    lines = [{"success": True, "document": {"id": str(i), "title": word}} for i in range(n)]
    clean = b"\n".join(json.dumps(line).encode() for line in lines)
    assert exchange(rules, adapter, method, path + "?return_doc=true", body, clean, content_type)[:2] == (200, clean)
    spelled = term.upper() if upper else term
    lines[min(at, n - 1)]["document"]["title"] = spelled
    listed = b"\n".join(json.dumps(line, ensure_ascii=upper).encode() for line in lines)
    escaped = listed.replace(b"z", b"\\u007a") if not upper else listed  # "\u007a": z, as a JSON escape
    for answer in (listed, escaped):
        status, out, _ = exchange(rules, adapter, method, path + "?return_doc=true", body, answer, content_type)
        assert status == 502 and term.encode() not in out.lower()


@SETTINGS
@given(term=TERM, word=WORD)
def test_a_write_answer_may_echo_what_the_client_wrote_but_no_stored_string(base: Path, term: str, word: str) -> None:
    """Typesense answers a create / upsert with the document the client sent: the client's own listed term
    may come back (it tells the client nothing). A partial update answers the whole stored document: a listed
    string it holds that the client did not send withholds the answer, as a DELETE's stored document does."""
    rules = rules_for(term, base)
    sent = json.dumps({"id": "1", "title": f"{word} {term}"}).encode()
    status, out, _ = exchange(rules, "typesense", "POST", "/collections/books/documents", sent, sent, JSON_CT)
    assert (status, out) == (200, sent)
    stored = json.dumps({"id": "1", "title": f"{word} {term}", "pages": 3}).encode()
    status, out, _ = exchange(rules, "typesense", "PATCH", "/collections/books/documents/1", b'{"pages":3}', stored,
                              JSON_CT)
    assert status == 502 and term.encode() not in out
    status, out, _ = exchange(rules, "typesense", "DELETE", "/collections/books/documents/1", b"", stored, JSON_CT)
    assert status == 502 and term.encode() not in out


@SETTINGS
@given(case=st.sampled_from(CASES), term=TERM, data=st.data(),
       key=st.text(alphabet=LETTERS, min_size=1, max_size=5))
def test_a_duplicate_key_cannot_hide_a_listed_string(base: Path, case: tuple[Any, ...], term: str,
                                                     data: st.DataObject, key: str) -> None:
    """A JSON object with the same key twice: one parser keeps the first value, another the last. Both are read."""
    adapter, method, path, body, _, answer = case
    if not isinstance(answer, dict):
        return
    raw = json.dumps(answer).encode()
    first = data.draw(st.booleans())
    pair = (f'"{key}": "{term}", "{key}": "ok"' if first else f'"{key}": "ok", "{key}": "{term}"').encode()
    doubled = b"{" + pair + b", " + raw[1:]
    status, out, _ = exchange(rules_for(term, base), adapter, method, path, body, doubled, JSON_CT)
    assert status == 502 and term.encode() not in out


@pytest.mark.parametrize("content_type", [b"application/yaml", b"application/cbor", b"application/smile",
                                          b"application/octet-stream", b"image/png"])
def test_an_answer_the_filter_cannot_read_is_refused(base: Path, content_type: bytes) -> None:
    rules = rules_for("zqxunread", base)
    status, out, _ = exchange(rules, "elasticsearch", "GET", "/books/_mapping", b"", b"books:\n  mappings: {}\n",
                              content_type)
    assert status == 502 and b"books" not in out


def test_a_json_answer_that_does_not_parse_is_refused(base: Path) -> None:
    status, _, _ = exchange(rules_for("zqxunread", base), "meilisearch", "GET", "/indexes", b"", b'{"results": [',
                            JSON_CT)
    assert status == 502


def test_an_answer_larger_than_the_limit_is_refused(base: Path) -> None:
    app = Answering(b'{"a": "' + b"b" * 5000 + b'"}', JSON_CT)
    mw = FilterMiddleware(app, rules=rules_for("zqxunread", base), adapter="elasticsearch", max_response_bytes=1000)
    status, _, out = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_cat/indices"))
    assert status == 502 and b"bbbb" not in out


def test_static_files_and_health_still_stream_unread() -> None:
    for adapter, path in [("searxng", "/static/themes/simple/app.js"), ("searxng", "/favicon.ico"),
                          ("typesense", "/health"), ("meilisearch", "/health"), ("solr", "/solr/books/admin/ping")]:
        table = build_table(get_adapter(adapter).default_routes())
        assert table.decide("GET", canonical_path(path.encode()).segments).outcome == PASS, (adapter, path)


@SETTINGS
@given(term=TERM)
def test_an_operators_pass_route_still_passes_unread(base: Path, term: str) -> None:
    """``[routes] pass`` is the operator's documented choice: it wins over the adapter's read route."""
    answer = json.dumps({"books": {"aliases": {term: {}}}}).encode()
    app = Answering(answer, JSON_CT)
    mw = FilterMiddleware(app, rules=rules_for(term, base), adapter="elasticsearch", pass_routes=["GET /_aliases"])
    status, _, out = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_aliases"))
    assert (status, out) == (200, answer)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=TERM, lines=st.integers(2500, 6000), at=st.floats(0, 1), host=st.booleans())
def test_a_listed_string_deep_in_a_long_text_answer_withholds_it(base: Path, term: str, lines: int, at: float,
                                                                 host: bool) -> None:
    """A ``_cat`` table longer than the part of a string where URLs are looked for (100,000 characters): a
    listed host or term on any line is found (the text is also read in overlapping pieces)."""
    rows = [f"green open idx-{i} uuid{i} 1 1 {i} 0 10kb 10kb" for i in range(lines)]
    listed = "https://blocked.example.invalid/x" if host else term
    rows.insert(int(at * lines), f"yellow open {listed} x")
    body = "\n".join(rows).encode()
    status, out, _ = exchange(rules_for(term, base), "elasticsearch", "GET", "/_cat/indices", b"", body, TEXT_CT)
    assert status == 502 and b"blocked.example" not in out and term.encode() not in out
