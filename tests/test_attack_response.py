"""Response-side evasion by a hostile backend, in both modes: a listed term or host placed in the body or
in a header, under any content-encoding (decodable, unknown, stacked, lying), any content-type (JSON sent
as text, octet-stream, JSONP, YAML, NDJSON), BOMs and UTF-16, any status (redirects, errors, 204/304 with
a body, 206 slices), HEAD, trailers. Whatever the backend sends, nothing listed reaches the client, in any
reading of what it gets (raw, gzip/deflate-decoded, JSON-unescaped).

Before this file: a listed URL in ``Location`` (a redirect the browser follows), ``Link`` or any custom
header of a screened route's response passed untouched; an in-process app's body on HEAD / 204 / 304 and
trailers were passed unscreened."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from tests.support.hostile import (
    HostileBackend,
    as_response,
    asgi_messages,
    asgi_scope,
    call_asgi,
    es_page,
    hostile_backend,
    leaked,
    send_raw,
    status_of,
)
from tests.support.server import serve
from tests.test_middleware import build_rules

TERM = "zqxblocked"
URL = "https://blocked.example.invalid/page"


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


@pytest.fixture(scope="module")
def stack(rules: Any) -> Iterator[tuple[HostileBackend, str]]:
    with hostile_backend() as backend:
        app = create_proxy_app(backend.url, rules, "elasticsearch", deadline=5.0)
        with serve(app) as base:
            yield backend, base


# --- what a hostile backend can send -------------------------------------------------------------------

LISTED_VALUES = st.sampled_from([TERM, URL, f"<{URL}>; rel=preload", f"0; url={URL}", f"/search?q={TERM}",
                                 f"Zqx-Blocked {TERM.upper()}", "https://BLOCKED.example.invalid./x"])
HEADER_NAMES = st.sampled_from([b"location", b"content-location", b"link", b"refresh", b"x-title", b"warning",
                                b"x-debug", b"Location", b"X-Whatever"])
ENCODINGS = st.sampled_from(["", "gzip", "x-gzip", "GZIP", "deflate", "deflate-raw", "br", "zstd", "compress",
                             "gzip, gzip", "identity", "identity, gzip", "gzip, identity"])
TYPES = st.sampled_from(["application/json", "text/plain", "application/octet-stream", "text/html",
                         "application/javascript", "application/yaml", "application/x-ndjson", "",
                         "application/json; charset=utf-16", "application/vnd.elasticsearch+json;compatible-with=8"])
WRAPS = st.sampled_from(["json", "jsonp", "bom", "utf16", "ndjson", "escaped", "yaml", "slice"])
STATUSES = st.sampled_from([200, 201, 203, 206, 301, 302, 303, 307, 308, 400, 404, 409, 410, 451])


def _encode(body: bytes, encoding: str) -> bytes:
    for step in [e.strip().lower() for e in encoding.split(",") if e.strip()]:
        if step in ("gzip", "x-gzip"):
            body = gzip.compress(body)
        elif step == "deflate":
            body = zlib.compress(body)
        elif step == "deflate-raw":
            body = zlib.compress(body)[2:-4]
        elif step in ("br", "zstd", "compress"):
            body = b"\x1b\x00" + body  # bytes no decoder here reads: the listed text stays visible raw
    return body


def _wrap(doc: bytes, wrap: str) -> bytes:
    if wrap == "jsonp":
        return b"cb(" + doc + b");"
    if wrap == "bom":
        return b"\xef\xbb\xbf" + doc
    if wrap == "utf16":
        return doc.decode().encode("utf-16")
    if wrap == "ndjson":
        return doc + b"\n" + doc
    if wrap == "escaped":
        return doc.replace(b"zqx", b"\\u007aqx")
    if wrap == "yaml":
        return b"---\nhits:\n  hits:\n  - _source:\n      title: " + TERM.encode() + b"\n"
    if wrap == "slice":
        return json.dumps(TERM).encode()
    return doc


@st.composite
def hostile_answers(draw: st.DrawFn) -> bytes:
    status = draw(STATUSES)
    where = draw(st.sampled_from(["body", "header", "both"]))
    encoding = draw(ENCODINGS)
    ctype = draw(TYPES)
    title = f"{TERM} leaked" if where != "header" else "Bread recipe"
    body = _encode(_wrap(es_page("Soup", title), draw(WRAPS)), encoding)
    headers = []
    if ctype:
        headers.append(b"content-type: " + ctype.encode())
    if encoding:
        headers.append(b"content-encoding: " + encoding.encode())
    if where != "body":
        headers.append(draw(HEADER_NAMES) + b": " + draw(LISTED_VALUES).encode())
    if status == 206:
        headers.append(b"content-range: bytes 0-%d/99999" % (len(body) - 1))
    reason = b"X"
    head = b"HTTP/1.1 %d %s\r\n" % (status, reason) + b"".join(h + b"\r\n" for h in headers)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


ROUTES = [(b"GET", b"/_search?q=bread", b""), (b"GET", b"/books/_doc/1", b""), (b"POST", b"/books/_count", b"{}"),
          (b"POST", b"/_msearch", b'{"index":"books"}\n{"query":{"match_all":{}}}\n'),
          (b"POST", b"/_sql", b'{"query":"SELECT title FROM books"}'), (b"HEAD", b"/_search?q=bread", b""),
          (b"OPTIONS", b"/_search", b"")]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=hostile_answers(), route=st.sampled_from(ROUTES),
       accept_encoding=st.sampled_from([b"", b"gzip", b"gzip, deflate, br, zstd", b"identity", b"*"]))
def test_nothing_listed_leaves_whatever_the_backend_sends(stack: tuple[HostileBackend, str], answer: bytes,
                                                          route: tuple[bytes, bytes, bytes],
                                                          accept_encoding: bytes) -> None:
    backend, base = stack
    backend.answer = lambda request: answer
    method, target, body = route
    head = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    if accept_encoding:
        head += b"Accept-Encoding: " + accept_encoding + b"\r\n"
    if body:
        head += b"Content-Length: %d\r\n" % len(body)
    response = send_raw(base, head + b"Connection: close\r\n\r\n" + body, timeout=8)
    assert status_of(response), response[:200]
    assert not leaked(response), response[:400]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(client=st.lists(st.sampled_from([(b"Range", b"bytes=0-10"), (b"range", b"bytes=-5"),
                                        (b"If-Range", b'"e1"'), (b"If-None-Match", b'"e1"'),
                                        (b"If-Modified-Since", b"Sun, 29 Nov 2026 00:00:00 GMT"),
                                        (b"If-Match", b"*"), (b"If-Unmodified-Since", b"Sun, 29 Nov 2026 00:00:00 GMT"),
                                        (b"Accept-Encoding", b"gzip, br"), (b"accept-encoding", b"zstd")]),
                       min_size=1, max_size=5))
def test_the_backend_is_asked_for_the_whole_page_in_identity(stack: tuple[HostileBackend, str],
                                                             client: list[tuple[bytes, bytes]]) -> None:
    """A slice (Range) or a 304 (conditionals) is an answer the filter never sees whole or at all; a
    compressed one costs decoding. Before: Range and the conditionals were forwarded on screened routes."""
    backend, base = stack
    backend.answer = lambda request: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" \
                                     b"content-length: %d\r\n\r\n" % len(es_page("Bread")) + es_page("Bread")
    before = len(backend.requests)
    head = b"GET /_search?q=bread HTTP/1.1\r\nHost: x\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in client)
    response = send_raw(base, head + b"Connection: close\r\n\r\n")
    assert status_of(response) == 200
    forwarded = backend.requests[before:]
    assert len(forwarded) == 1
    lines = [line.lower() for line in forwarded[0].split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]]
    names = {line.split(b":", 1)[0] for line in lines}
    assert not names & {b"range", b"if-range", b"if-none-match", b"if-modified-since", b"if-match",
                        b"if-unmodified-since"}
    assert all(line == b"accept-encoding: identity" for line in lines if line.startswith(b"accept-encoding"))


# --- mode A: an app in process can send what no HTTP parser would pass ----------------------------------


def _app_sending(messages: list[dict[str, Any]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)
    return app


@st.composite
def app_answers(draw: st.DrawFn) -> list[dict[str, Any]]:
    status = draw(st.sampled_from([200, 204, 206, 301, 302, 304, 404]))
    listed_header = draw(st.booleans())
    body = draw(st.sampled_from([es_page(f"{TERM} leaked"), f"<p>{TERM}</p>".encode(), URL.encode(),
                                 gzip.compress(es_page(f"{TERM} leaked"))]))
    headers = [(b"content-type", draw(TYPES).encode() or b"application/json")]
    if body[:2] == b"\x1f\x8b":
        headers.append((b"content-encoding", b"gzip"))
    if listed_header:
        headers.append((draw(HEADER_NAMES).lower(), draw(LISTED_VALUES).encode()))
    trailers = draw(st.booleans())
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    if trailers:
        start["trailers"] = True
    out = [start, {"type": "http.response.body", "body": body, "more_body": trailers}]
    if trailers:
        out.append({"type": "http.response.body", "body": b"", "more_body": False})
        out.append({"type": "http.response.trailers", "headers": [(b"x-t", TERM.encode())], "more_trailers": False})
    return out


@settings(max_examples=150, deadline=None)
@given(messages=app_answers(), method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST"]),
       path=st.sampled_from([b"/_search", b"/books/_doc/1", b"/books/_count", b"/_sql"]))
def test_an_app_in_process_cannot_leak_either(rules: Any, messages: list[dict[str, Any]], method: str,
                                              path: bytes) -> None:
    if method == "POST" and path == b"/books/_doc/1":
        method = "GET"
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    body = b"{}" if method == "POST" else b""
    headers = [(b"content-type", b"application/json")]
    scope = asgi_scope(method, path, b"q=bread" if method == "GET" else b"", headers, body)
    sent = anyio.run(asgi_messages, mw, scope, body)
    start = next(m for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    trailers = [h for m in sent if m["type"] == "http.response.trailers" for h in m.get("headers", [])]
    response = as_response(start["status"], list(start["headers"]), data)
    assert not leaked(response), response[:400]
    assert not any(TERM.encode() in v for _, v in trailers)
    if (method == "HEAD" and start["status"] != 502) or start["status"] in (204, 304):
        assert data == b""  # (the filter's own 502 explains itself; servers drop HEAD bodies anyway)


def test_a_redirect_to_a_listed_url_is_withheld(rules: Any) -> None:
    """The plainest case of the class above, spelt out: 302 with Location on a listed host."""
    messages = [{"type": "http.response.start", "status": 302, "headers": [(b"location", URL.encode())]},
                {"type": "http.response.body", "body": b""}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    status, headers, _ = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_search", b"q=bread"))
    assert status == 502 and not any(k == b"location" for k, _ in headers)


def test_a_clean_redirect_still_passes(rules: Any) -> None:
    messages = [{"type": "http.response.start", "status": 302,
                 "headers": [(b"location", b"https://good.example.invalid/next")]},
                {"type": "http.response.body", "body": b""}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    status, headers, _ = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_search", b"q=bread"))
    assert status == 302 and (b"location", b"https://good.example.invalid/next") in headers


@settings(max_examples=30, deadline=None)
@given(size=st.sampled_from([200_000, 2_000_000, 20_000_000]), layers=st.integers(1, 3),
       encoding=st.sampled_from([b"gzip", b"deflate"]), route=st.sampled_from([b"/_search", b"/books/_doc/1"]))
def test_compression_bombs_are_bounded(rules: Any, size: int, layers: int, encoding: bytes, route: bytes) -> None:
    """A page that inflates past the response limit is refused (502), however small it arrives; a stacked
    encoding (``gzip, gzip``) is not decoded at all."""
    payload = b'{"hits":{"hits":[{"_source":{"title":"' + b"a" * size + b'"}}]}}'
    for _ in range(layers):
        payload = gzip.compress(payload) if encoding == b"gzip" else zlib.compress(payload)
    value = b", ".join([encoding] * layers)
    messages = [{"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json"), (b"content-encoding", value)]},
                {"type": "http.response.body", "body": payload}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch", max_response_bytes=100_000)
    status, _, body = anyio.run(call_asgi, mw, asgi_scope("GET", route, b"q=bread"))
    assert status == 502 and len(body) < 200


def _subset(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with keys dropped at random, as ``filter_path`` / ``_source`` filtering would; listed
    strings kept where they are."""
    if isinstance(value, dict):
        return {k: _subset(draw, v) for k, v in value.items() if TERM in json.dumps(v) or draw(st.booleans())}
    if isinstance(value, list):
        return [_subset(draw, v) for v in value]
    return value


@settings(max_examples=80, deadline=None)
@given(data=st.data(), pretty=st.booleans(), route=st.sampled_from([b"/_search", b"/books/_doc/1", b"/_sql",
                                                                  b"/books/_count", b"/_msearch"]))
def test_filtered_or_pretty_responses_are_still_screened(rules: Any, data: st.DataObject, pretty: bool,
                                                         route: bytes) -> None:
    """``filter_path``, ``_source`` includes and ``pretty`` / ``human`` change the response's shape and
    layout, not what is in it: whatever subset the backend returns, nothing listed leaves."""
    page = json.loads(es_page("Bread", f"{TERM} leaked"))
    page["aggregations"] = {"t": {"buckets": [{"key": TERM, "doc_count": 1}]}}
    page["_source"] = {"title": TERM}
    doc = _subset(data.draw, page)
    body = json.dumps(doc, indent=2 if pretty else None).encode()
    messages = [{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]},
                {"type": "http.response.body", "body": body}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    method = "POST" if route in (b"/_sql", b"/_msearch", b"/books/_count") else "GET"
    req = b'{"index":"b"}\n{}\n' if route == b"/_msearch" else b"{}" if method == "POST" else b""
    headers = [(b"content-type", b"application/x-ndjson" if route == b"/_msearch" else b"application/json")]
    status, out_headers, out = anyio.run(call_asgi, mw, asgi_scope(method, route, b"pretty=true&human=true",
                                                                   headers, req), req)
    assert not leaked(as_response(status, out_headers, out)), out[:300]


# --- the backend's echo of the request -------------------------------------------------------------------

ECHO_PAGES: dict[str, tuple[bytes, Any]] = {
    "solr": (b"/solr/books/select", lambda s: {"responseHeader": {"status": 0, "params": {"q": s}},
                                               "response": {"numFound": 0, "start": 0, "docs": []}}),
    "meilisearch": (b"/indexes/books/search", lambda s: {"hits": [], "query": s, "processingTimeMs": 1,
                                                         "estimatedTotalHits": 0}),
    "typesense": (b"/collections/books/documents/search", lambda s: {"hits": [], "found": 0,
                                                                     "request_params": {"q": s}}),
    "elasticsearch": (b"/_search", lambda s: {"took": 1, "hits": {"total": {"value": 0, "relation": "eq"},
                                                                   "hits": []},
                                              "suggest": {"s": [{"text": s, "offset": 0, "length": 5,
                                                                 "options": []}]}}),
    "searxng": (b"/search", lambda s: {"query": s, "results": [], "suggestions": []}),
}


@settings(max_examples=60, deadline=None)
@given(adapter=st.sampled_from(sorted(ECHO_PAGES)), echoed=LISTED_VALUES,
       query=st.sampled_from([b"q=bread", b"q=zqxwarn+bread"]))
def test_a_listed_echo_the_request_never_held_is_withheld(rules: Any, adapter: str, echoed: str,
                                                          query: bytes) -> None:
    """Echoes are skipped by page screening (a warned query must keep its page). Before: any backend could
    answer any query with listed text in its echo field (``query``, ``responseHeader.params``, ...) and it
    was sent. Now a page whose echo holds a listed string the client did not send is withheld, whatever
    the query's verdict (allowed or warned: before, a warned query's echo was not read; see
    tests/test_attack_echo.py); a warned query still gets its page when the echo is its own query."""
    path, page = ECHO_PAGES[adapter]
    messages = [{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]},
                {"type": "http.response.body", "body": json.dumps(page(echoed)).encode()}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter=adapter)
    status, headers, body = anyio.run(call_asgi, mw, asgi_scope("GET", path, query))
    assert not leaked(as_response(status, headers, body)), body[:200]


@pytest.mark.parametrize("adapter", sorted(ECHO_PAGES))
def test_a_warned_query_still_gets_its_page_with_its_own_echo(rules: Any, adapter: str) -> None:
    path, page = ECHO_PAGES[adapter]
    messages = [{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]},
                {"type": "http.response.body", "body": json.dumps(page("zqxwarn bread")).encode()}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter=adapter)
    status, headers, body = anyio.run(call_asgi, mw, asgi_scope("GET", path, b"q=zqxwarn+bread"))
    assert status == 200 and (b"x-filter-action", b"warn") in headers


@pytest.mark.parametrize("method", ["HEAD", "GET"])
@pytest.mark.parametrize("extension", [{"type": "http.response.pathsend", "path": "/etc/hostname"},
                                       {"type": "http.response.zerocopysend", "file": 0}])
def test_file_sending_extensions_send_nothing_unread(rules: Any, extension: dict[str, Any], method: str) -> None:
    """ASGI's pathsend / zerocopysend hand the server a file to send: on a screened route nothing reads it
    (a HEAD passes the app's messages through), so the response ends empty."""
    messages = [{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]},
                extension]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(mw, asgi_scope(method, b"/_search", b"q=bread"), receive, send)
    assert {m["type"] for m in sent} <= {"http.response.start", "http.response.body"}


CACHE_HEADERS = st.lists(st.tuples(
    st.sampled_from([b"cache-control", b"Cache-Control", b"expires", b"surrogate-control", b"CDN-Cache-Control",
                     b"pragma"]),
    st.sampled_from([b"public, max-age=86400", b"s-maxage=600", b"max-age=31536000, immutable", b"cache",
                     b"Thu, 01 Jan 2099 00:00:00 GMT", b"max-age=60"])), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cache=CACHE_HEADERS, route=st.sampled_from([b"/_search", b"/books/_doc/1", b"/_msearch"]))
def test_screened_answers_are_never_kept_by_shared_caches(rules: Any, cache: list[tuple[bytes, bytes]],
                                                          route: bytes) -> None:
    """A page screened under today's rules must not be served from a shared cache after a rule update: the
    backend's caching directives are replaced by ``private, no-cache`` on every screened route."""
    body = es_page("Bread")
    if route == b"/_msearch":
        body = json.dumps({"took": 1, "responses": [json.loads(body)]}).encode()
    messages = [{"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json"), *cache]},
                {"type": "http.response.body", "body": body}]
    mw = FilterMiddleware(_app_sending(messages), rules=rules, adapter="elasticsearch")
    method, request = ("POST", b'{}\n{"query":{"match":{"title":"bread"}}}\n') if route == b"/_msearch" else ("GET", b"")
    scope = asgi_scope(method, route, b"q=bread" if method == "GET" else b"",
                       [(b"content-type", b"application/x-ndjson")] if request else None, request)
    status, headers, _ = anyio.run(call_asgi, mw, scope, request)
    assert status == 200
    caching = [(k.lower(), v) for k, v in headers
               if k.lower() in (b"cache-control", b"expires", b"surrogate-control", b"cdn-cache-control", b"pragma")]
    assert caching == [(b"cache-control", b"private, no-cache")]


def test_no_store_stays_no_store() -> None:
    """The strictest directive wins: the filter's warning pages say no-store and keep saying it."""
    from filter_proxy.response_guard import uncached

    assert uncached([(b"Cache-Control", b"no-store, max-age=0"), (b"expires", b"0")]) == [(b"cache-control",
                                                                                           b"no-store")]
    assert uncached([(b"x-a", b"1")]) == [(b"x-a", b"1"), (b"cache-control", b"private, no-cache")]
