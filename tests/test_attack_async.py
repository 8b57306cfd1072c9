"""Search answers wrapped in an async envelope (Elasticsearch ``_async_search`` submit / get, OpenSearch's
asynchronous search plugin), their status routes, and the sibling async routes (EQL, SQL, ES|QL), read as
``_search`` pages are: results, buckets, suggest options and thumbnails removed when listed, anything else
listed withholds the answer, what cannot be read is refused (rest-api-spec / elasticsearch-specification:
``AsyncSearchDocumentResponseBase`` = ids and times + ``response: AsyncSearch`` = hits, aggregations,
suggest, fields, profile, _shards, _clusters; ``StatusResponseBase`` = ids, times, _shards, _clusters,
completion_status).

Before: an async page's thumbnails were never checked (a listed picture passed on ``_async_search`` while
the same page on ``_search`` dropped it); ``GET _async_search/status/<id>`` and ``_eql/search/status/<id>``
passed the backend's bytes unread (shard failure reasons can quote anything); a blocked async query was
answered with a bare search page instead of the async envelope; ``GET _sql/async/status``, ES|QL
``POST _query/async/<id>/stop`` and the async deletes were refused (clients broke)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import as_response, asgi_scope, call_asgi, leaked
from tests.test_kinds import PictureScreener
from tests.test_middleware import build_rules

PICTURE = "https://p.example.invalid/listed-picture.png"


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def _page(listed: str, where: str) -> dict[str, Any]:
    """A search page (the ``response`` of an async answer) with ``listed`` placed at ``where``."""
    clean = {"_index": "b", "_id": "1", "_score": 1.0, "_source": {"title": "Bread", "thumbnail": "https://p.example.invalid/ok.png"}}
    hit = {"_index": "b", "_id": "2", "_score": 1.0, "_source": {"title": "Soup"}}
    page: dict[str, Any] = {"took": 1, "timed_out": False, "num_reduce_phases": 2,
                            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                            "hits": {"total": {"value": 2, "relation": "eq"}, "max_score": 1.0, "hits": [clean, hit]}}
    if where == "hit":
        hit["_source"]["body"] = {"notes": [f"x {listed}"]}
    elif where == "hit-field":
        hit["fields"] = {"tags": [listed]}
    elif where == "picture":
        hit["_source"]["thumbnail"] = PICTURE
    elif where == "bucket":
        page["aggregations"] = {"sterms#genres": {"buckets": [{"key": "bread", "doc_count": 1},
                                                            {"key": listed, "doc_count": 1}]}}
    elif where == "top-hits":
        page["aggregations"] = {"g": {"buckets": [{"key": "b", "doc_count": 1, "top": {"hits": {
            "total": {"value": 1, "relation": "eq"}, "hits": [{"_index": "b", "_id": "3", "_source": {"t": listed}}]}}}]}}
    elif where == "suggest":
        page["suggest"] = {"s": [{"text": "bred", "offset": 0, "length": 4,
                                  "options": [{"text": "bread", "score": 0.8}, {"text": listed, "score": 0.7}]}]}
    return page


REMOVABLE = ["hit", "hit-field", "picture", "bucket", "top-hits", "suggest"]
# Parts with nothing removable around them: the answer is withheld.
WITHHELD = ["page-extra", "profile", "error", "clusters", "envelope-extra"]


def _envelope(wrapper: str, page: Any, listed: str, where: str) -> dict[str, Any]:
    if wrapper == "opensearch":
        doc: dict[str, Any] = {"id": "FjE", "state": "SUCCEEDED", "start_time_in_millis": 1,
                               "expiration_time_in_millis": 2, "response": page}
    else:
        doc = {"id": "FjE", "is_partial": False, "is_running": False, "start_time_in_millis": 1,
               "expiration_time_in_millis": 2, "completion_time_in_millis": 2, "response": page}
    if where == "page-extra":
        page["fields"] = {"note": listed}
    elif where == "profile":
        page["profile"] = {"shards": [{"id": "x", "searches": [{"query": [{"description": f"title:{listed}"}]}]}]}
    elif where == "clusters":
        page["_clusters"] = {"details": {"remote": {"failures": [{"reason": {"reason": listed}}]}}}
    elif where == "error":
        doc["error"] = {"type": "search_phase_execution_exception", "reason": f"failed on {listed}"}
    elif where == "envelope-extra":
        doc["debug"] = [listed]
    return doc


ROUTES = {  # wrapper -> [(method, path)]
    "elasticsearch": [("POST", b"/books/_async_search"), ("POST", b"/_async_search"), ("GET", b"/_async_search/FjE"),
                      ("GET", b"/_ASYNC_SEARCH/FjE")],
    "opensearch": [("POST", b"/_plugins/_asynchronous_search"), ("GET", b"/_plugins/_asynchronous_search/FjE")],
}
LISTED = st.sampled_from([("zqxblocked", b"zqxblocked"), ("Zqx-Blocked", b"zqx-blocked"),
                          ("forbidden phrase alpha", b"phrase alpha"), ("https://blocked.example.invalid/p", b"blocked.example"),
                          ("zqxspam", b"zqxspam")])


def _through(rules: Any, doc: Any, method: str, path: bytes, adapter: str = "elasticsearch",
             status: int = 200, raw: bytes | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = raw if raw is not None else json.dumps(doc).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    mw = FilterMiddleware(app, rules=rules, adapter=adapter, image_screener=PictureScreener())
    request = b'{"query":{"match":{"title":"bread"}}}' if method == "POST" else b""
    heads = [(b"content-type", b"application/json")] if request else None
    return anyio.run(call_asgi, mw, asgi_scope(method, path, b"", heads, request), request)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wrapper=st.sampled_from(sorted(ROUTES)), data=st.data(), listed=LISTED, where=st.sampled_from(REMOVABLE + WITHHELD))
def test_an_async_page_is_screened_as_a_search_page(rules: Any, wrapper: str, data: st.DataObject,
                                                    listed: tuple[str, bytes], where: str) -> None:
    method, path = data.draw(st.sampled_from(ROUTES[wrapper]))
    text, needle = listed
    doc = _envelope(wrapper, _page(text, where), text, where)
    status, headers, body = _through(rules, doc, method, path, "opensearch" if wrapper == "opensearch" else "elasticsearch")
    response = as_response(status, headers, body)
    assert not leaked(response, (needle, b"listed-picture")), body[:300]
    if where in WITHHELD:
        assert status == 502, body[:200]
        return
    assert status == 200, body[:200]
    out = json.loads(body)
    assert out["id"] == "FjE" and [h["_id"] for h in out["response"]["hits"]["hits"]][:1] == ["1"]
    assert "https://p.example.invalid/ok.png" in body.decode()  # the clean result and its picture stay


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wrapper=st.sampled_from(sorted(ROUTES)), data=st.data(),
       raw=st.sampled_from([b'{"id":"x","response":"zqx"}', b'{"id":"x","response":[1]}', b"[1,2]", b"not json",
                            b'{"id":"x","response":{"hits":"zqx"}}', b'{"id":"x","response":{"hits":{"hits":7}}}']))
def test_an_async_answer_that_cannot_be_read_is_refused(rules: Any, wrapper: str, data: st.DataObject,
                                                        raw: bytes) -> None:
    method, path = data.draw(st.sampled_from(ROUTES[wrapper]))
    status, _, body = _through(rules, None, method, path, "opensearch" if wrapper == "opensearch" else "elasticsearch",
                               raw=raw)
    assert status == 502, body[:200]


STATUS_ROUTES = [b"/_async_search/status/FjE", b"/_eql/search/status/FjE", b"/_sql/async/status/FjE"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(STATUS_ROUTES), listed=LISTED,
       where=st.sampled_from(["shards", "clusters", "error", "id", None]))
def test_async_status_answers_are_read(rules: Any, path: bytes, listed: tuple[str, bytes], where: str | None) -> None:
    """Before: passed unread. Now every string is read (opaque): a listed one withholds the answer."""
    text, needle = listed
    doc: dict[str, Any] = {"id": "FjE", "is_running": False, "is_partial": False, "completion_status": 200,
                           "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
    if where == "shards":
        doc["_shards"]["failures"] = [{"shard": 0, "index": "b", "reason": {"type": "x", "reason": text}}]
    elif where == "clusters":
        doc["_clusters"] = {"details": {"r": {"status": "failed", "failures": [{"reason": {"reason": text}}]}}}
    elif where == "error":
        doc["error"] = {"reason": text}
    elif where == "id":
        doc["id"] = text
    status, headers, body = _through(rules, doc, "GET", path)
    assert not leaked(as_response(status, headers, body), (needle,)), body[:300]
    assert status == (200 if where is None else 502), body[:200]


def test_a_blocked_async_query_gets_the_async_envelope(rules: Any) -> None:
    """The official clients read ``response`` of an async answer; the blocked answer has it (empty)."""
    mw = FilterMiddleware(lambda *a: None, rules=rules, adapter="elasticsearch")
    for method, path, query, body in [("POST", b"/books/_async_search", b"q=zqxblocked", b""),
                                      ("POST", b"/_async_search", b"", b'{"query":{"match":{"t":"zqxblocked"}}}')]:
        heads = [(b"content-type", b"application/json")] if body else None
        status, _, out = anyio.run(call_asgi, mw, asgi_scope(method, path, query, heads, body), body)
        doc = json.loads(out)
        assert status == 200 and doc["is_running"] is False and doc["response"]["hits"]["hits"] == []
        assert doc["safety"]["action"] == "block"


@pytest.mark.parametrize(("method", "path", "doc", "outcome"), [
    ("POST", b"/_query/async/FjE/stop", {"columns": [{"name": "t", "type": "keyword"}],
                                         "values": [["bread"], ["zqxblocked"]], "is_running": False}, 200),
    ("DELETE", b"/_query/async/FjE", {"acknowledged": True}, 200),
    ("DELETE", b"/_sql/async/delete/FjE", {"acknowledged": True}, 200),
    ("GET", b"/_sql/async/status/FjE", {"id": "FjE", "is_running": False, "completion_status": 200}, 200),
])
def test_the_async_siblings_are_routed(rules: Any, method: str, path: bytes, doc: Any, outcome: int) -> None:
    """ES|QL stop answers rows (screened: the listed row removed); deletes pass; SQL status is read."""
    status, _, body = _through(rules, doc, method, path)
    assert status == outcome, body[:200]
    assert b"zqxblocked" not in body
