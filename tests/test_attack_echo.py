"""The backend's echo of the request (Solr ``responseHeader.params``, Meilisearch ``query`` / ``facetQuery``,
Typesense ``request_params``, ES suggest ``text``, SearXNG ``query``): skipped by page screening so that a
warned query keeps its page, and read by ``response_guard.listed_in_echo``, which lets a listed echo string
through only when the client sent it on this request.

Before: the echo was read only when the query was *allowed*. A warned query (``q=zqxwarn``) could be
answered with any other listed string in its echo and the page was sent; on opaque, count, terms and
error answers and inside ``_async_search`` pages the echo was never read at all, and a Solr
``responseHeader`` without ``params`` was dropped unread. And the 502 that withholds such an answer (or a
listed response header) was not counted anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from filter_proxy.metrics import Metrics
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.rules import load_rules
from tests.support.hostile import as_response, asgi_scope, call_asgi, leaked
from tests.test_middleware import build_rules


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The shared placeholder rules plus a second warned term: the echo must not carry *another* listed
    string of the same action either."""
    directory = tmp_path_factory.mktemp("rules")
    build_rules(directory)
    with open(directory / "terms" / "zqx-support.txt", "a", encoding="utf-8") as out:
        out.write("zqxcaution\n")
    return load_rules(directory)


def _app_sending(doc: Any, status: int = 200) -> Any:
    body = json.dumps(doc).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    return app


# Where each backend echoes the request, on a search page: (path, page with the echo set to s).
SEARCH_ECHOES: dict[str, tuple[bytes, Any]] = {
    "solr": (b"/solr/books/select", lambda s: {"responseHeader": {"status": 0, "params": {"q": s, "rows": "10"}},
                                               "response": {"numFound": 0, "start": 0, "docs": []}}),
    "meilisearch": (b"/indexes/books/search", lambda s: {"hits": [], "query": s, "processingTimeMs": 1,
                                                         "estimatedTotalHits": 0}),
    "typesense": (b"/collections/books/documents/search", lambda s: {"hits": [], "found": 0,
                                                                     "request_params": {"q": s, "per_page": 10}}),
    "elasticsearch": (b"/_search", lambda s: {"took": 1, "hits": {"total": {"value": 0, "relation": "eq"},
                                                                   "hits": []},
                                              "suggest": {"s": [{"text": s, "offset": 0, "length": 5,
                                                                 "options": []}]}}),
    "searxng": (b"/search", lambda s: {"query": s, "results": [], "suggestions": []}),
}

# Listed strings of every action (block, strip, warn), phrase, URL and host forms, disguised: (text, needle).
LISTED = st.sampled_from([
    ("zqxblocked", b"zqxblocked"), ("ZQX-Blocked", b"zqx-blocked"), ("forbidden phrase alpha", b"phrase alpha"),
    ("zqxspam", b"zqxspam"), ("zqxcaution", b"zqxcaution"), ("https://bad.example.invalid/x", b"bad.example"),
    ("blocked.example.invalid/p", b"blocked.example"), ("see https://BLOCKED.example.invalid./p", b"blocked.example"),
    ("<em>zqx</em>spam", b"zqx</em>spam"),
])
# Queries the filter lets through: allowed, and warned (the support category), in several spellings.
QUERIES = st.sampled_from(["bread", "zqxwarn", "zqxwarn bread", "ZQXWARN soup", "bread zqxcaution"])


def _echo_with(form: str, query: str, listed: str) -> Any:
    """The listed string in the echo: alone, after the client's own query, or nested in an echo object."""
    if form == "alone":
        return listed
    if form == "appended":
        return f"{query} {listed}"
    return {"other": [listed], query: "x"} if form == "nested" else listed.upper()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(adapter=st.sampled_from(sorted(SEARCH_ECHOES)), query=QUERIES, listed=LISTED,
       form=st.sampled_from(["alone", "appended", "nested", "upper"]))
def test_an_echo_never_carries_a_listed_string_the_client_did_not_send(rules: Any, adapter: str, query: str,
                                                                       listed: tuple[str, bytes], form: str) -> None:
    path, page = SEARCH_ECHOES[adapter]
    text, needle = listed
    assume(text.lower() not in query.lower())  # the client's own words may come back (next test)
    mw = FilterMiddleware(_app_sending(page(_echo_with(form, query, text))), rules=rules, adapter=adapter)
    q = query.replace(" ", "+").encode()
    status, headers, body = anyio.run(call_asgi, mw, asgi_scope("GET", path, b"q=" + q))
    assert status == 502, (status, body[:200])
    assert not leaked(as_response(status, headers, body), (needle,)), body[:300]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(adapter=st.sampled_from(sorted(SEARCH_ECHOES)), data=st.data(),
       query=st.sampled_from(["zqxwarn", "zqxwarn bread", "Soup ZQXWARN", "zqxcaution bread zqxwarn"]))
def test_a_warned_query_keeps_its_page_when_the_echo_is_what_it_sent(rules: Any, adapter: str, data: st.DataObject,
                                                                    query: str) -> None:
    """The echo may be the query itself, in another case or spacing, or one token of it (ES term suggesters
    echo each analysed token, SearXNG the query without its ``!bang``)."""
    path, page = SEARCH_ECHOES[adapter]
    echo = data.draw(st.sampled_from([query, query.lower(), query.upper(), "  " + query.replace(" ", "   "),
                                      *query.split()]))
    mw = FilterMiddleware(_app_sending(page(echo)), rules=rules, adapter=adapter)
    status, headers, body = anyio.run(call_asgi, mw, asgi_scope("GET", path, b"q=" + query.replace(" ", "+").encode()))
    assert status == 200 and (b"x-filter-action", b"warn") in headers, body[:200]


# Answers that are not a search page, each with the backend's echo: (adapter, method, path, query string or
# body for a query, answer with the echo set to s).
def _async(s: Any) -> Any:
    return {"id": "FjE", "is_partial": False, "is_running": False, "response": {
        "took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
        "suggest": {"s": [{"text": s, "offset": 0, "length": 4, "options": []}]}}}


OTHER_ECHOES: dict[str, tuple[str, str, bytes, Any, Any]] = {
    "es-count": ("elasticsearch", "GET", b"/books/_count", None, lambda s: {"count": 0, "query": s}),
    "es-async": ("elasticsearch", "POST", b"/books/_async_search", None, _async),
    "es-async-get": ("elasticsearch", "GET", b"/_async_search/FjE", None, _async),
    "meili-facets": ("meilisearch", "POST", b"/indexes/books/facet-search", "facetQuery",
                     lambda s: {"facetHits": [], "facetQuery": s, "processingTimeMs": 1}),
    "solr-terms": ("solr", "GET", b"/solr/books/terms", None,
                   lambda s: {"responseHeader": {"status": 0, "params": {"terms.prefix": s}},
                              "terms": {"title": ["bread", 2]}}),
    "solr-header": ("solr", "GET", b"/solr/books/terms", None,
                    lambda s: {"responseHeader": {"status": 0, "note": s}, "terms": {"title": ["bread", 2]}}),
}


def _request(method: str, path: bytes, body_key: str | None, query: str) -> tuple[dict[str, Any], bytes]:
    if method == "GET":
        return asgi_scope("GET", path, b"q=" + query.replace(" ", "+").encode()), b""
    doc = {"facetName": "genre", body_key: query} if body_key else {"query": {"query_string": {"query": query}}}
    body = json.dumps(doc).encode()
    return asgi_scope(method, path, b"", [(b"content-type", b"application/json")], body), body


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(OTHER_ECHOES)), query=QUERIES, listed=LISTED,
       form=st.sampled_from(["alone", "appended", "nested", "upper"]), status=st.sampled_from([200, 200, 404]))
def test_echoes_of_other_answers_are_read_too(rules: Any, case: str, query: str, listed: tuple[str, bytes],
                                              form: str, status: int) -> None:
    """Opaque, count, terms, async and error answers: the echo was dropped unread (any query verdict)."""
    adapter, method, path, body_key, answer = OTHER_ECHOES[case]
    text, needle = listed
    assume(text.lower() not in query.lower())
    mw = FilterMiddleware(_app_sending(answer(_echo_with(form, query, text)), status), rules=rules, adapter=adapter)
    scope, body = _request(method, path, body_key, query)
    got, headers, out = anyio.run(call_asgi, mw, scope, body)
    assert got == 502, (case, got, out[:200])
    assert not leaked(as_response(got, headers, out), (needle,)), out[:300]


@pytest.mark.parametrize("case", sorted(set(OTHER_ECHOES) - {"solr-header"}))
def test_a_warned_query_echoed_back_in_other_answers_keeps_its_answer(rules: Any, case: str) -> None:
    adapter, method, path, body_key, answer = OTHER_ECHOES[case]
    mw = FilterMiddleware(_app_sending(answer("ZQXWARN")), rules=rules, adapter=adapter)
    scope, body = _request(method, path, body_key, "zqxwarn")
    got, headers, out = anyio.run(call_asgi, mw, scope, body)
    assert got == 200 and (b"x-filter-action", b"warn") in headers, out[:200]


# --- the withheld answer is counted ----------------------------------------------------------------------


def _withheld(metrics: Metrics, reason: str) -> float:
    return metrics.value("filter_proxy_responses_withheld_total",
                         {"reason": reason, "category": "zqx-abuse", "signal": "term"})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["header", "echo", "content", "opaque", "multi-echo"]),
       adapter=st.sampled_from(["elasticsearch", "solr", "meilisearch"]))
def test_every_withheld_answer_is_counted_with_its_reason(rules: Any, tmp_path: Path, where: str,
                                                          adapter: str) -> None:
    """A 502 for listed content left in an answer is counted by reason, category and signal (never text)."""
    from prometheus_client import CollectorRegistry

    metrics = Metrics(CollectorRegistry())
    path, page = SEARCH_ECHOES[adapter]
    headers = [(b"content-type", b"application/json")]
    query, body, method = b"q=bread", b"", "GET"
    reason = "echo"
    if where == "header":
        doc, reason = page("bread"), "header"
        headers.append((b"x-title", b"zqxblocked"))
    elif where == "echo":
        doc = page("zqxblocked")
    elif where == "content":
        doc, reason = {**page("bread"), "debug": {"note": "zqxblocked"}}, "content"
    elif where == "opaque":
        path, doc, reason = b"/books/_count", {"count": 1, "note": "zqxblocked"}, "content"
        if adapter != "elasticsearch":
            path, doc = (b"/indexes/books/facet-search", {"facetHits": [], "facetQuery": "zqxblocked"}) \
                if adapter == "meilisearch" else (b"/solr/books/terms", {"responseHeader": {"params": {
                    "q": "zqxblocked"}}, "terms": {}})
            reason = "echo"
            query, method = (b"", "POST") if adapter == "meilisearch" else (query, method)
            body = b'{"facetName":"genre","facetQuery":"bread"}' if adapter == "meilisearch" else b""
    else:
        if adapter != "meilisearch":
            return  # one multi-search shape is enough here; test_attack_response covers the rest
        path, method, query = b"/multi-search", "POST", b""
        body = b'{"queries":[{"indexUid":"books","q":"bread"}]}'
        doc = {"results": [{"indexUid": "books", "hits": [], "query": "zqxblocked", "processingTimeMs": 1}]}
    data = json.dumps(doc).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    mw = FilterMiddleware(app, rules=rules, adapter=adapter, observer=metrics)
    scope = asgi_scope(method, path, query, [(b"content-type", b"application/json")] if body else None, body)
    status, _, out = anyio.run(call_asgi, mw, scope, body)
    assert status == 502, out[:200]
    assert _withheld(metrics, reason) == 1
    assert b"zqxblocked" not in metrics.exposition()[0]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.sampled_from([400, 404, 409, 429, 500, 503]),
       page=st.sampled_from(["<html><body><p>error near {}</p></body></html>", "no such index: {}", "{}\n",
                             "failed: <b>{}</b> at https://ok.example.org/x"]),
       listed=st.sampled_from(["zqxblocked", "ZQXBLOCKED", "zqx<i></i>blocked"]),
       adapter=st.sampled_from(["elasticsearch", "solr", "meilisearch", "searxng"]))
def test_a_non_json_error_body_withheld_for_listed_text_is_counted_as_content(
        rules: Any, status: int, page: str, listed: str, adapter: str) -> None:
    """A short text error page passes only when nothing in it is listed; when it is withheld for a listed
    string, the 502 is counted under responses_withheld{reason="content"} (never the text)."""
    from prometheus_client import CollectorRegistry

    metrics = Metrics(CollectorRegistry())
    data = page.format(listed).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": data})

    mw = FilterMiddleware(app, rules=rules, adapter=adapter, observer=metrics)
    path = SEARCH_ECHOES.get(adapter, (b"/search", None))[0]
    status_out, _, out = anyio.run(call_asgi, mw, asgi_scope("GET", path, b"q=bread"), b"")
    assert status_out == 502 and b"zqxblocked" not in out.lower()
    assert _withheld(metrics, "content") == 1
    assert b"zqxblocked" not in metrics.exposition()[0].lower()
