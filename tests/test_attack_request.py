"""Request-side evasion: a listed term hidden in the query string or body so that the filter reads one thing
and the backend another. Generated, not listed: the term at a random place among duplicate parameters, in
other-case names and ``[]`` arrays, spelt with ``+`` / ``%20`` / escapes in either hex case, raw UTF-8
bytes, Latin-1 escapes of accented letters, IIS ``%u`` escapes; bodies with duplicate keys, deep nesting,
huge numbers, BOMs, UTF-16, invalid UTF-8, NDJSON without its last newline, and content types that lie or
name another charset. Property: whenever the app is called, no reading of what it got (UTF-8, Latin-1,
UTF-16, ``%u`` decoded, accents folded, JSON unescaped, first or last duplicate) holds the term.

Also: response-format parameters (Elasticsearch ``format`` / ``Accept``, Solr ``wt`` / ``json.wrf``) are
refused before the backend runs the query, and absolute-form, ``*`` and non-UTF-8 path targets never reach
the backend with a listed query.

Before this file: ``q=zqxbl%F6cked`` (Latin-1 ö: U+FFFD to the filter, ö to a Latin-1 reader), raw UTF-8
bytes in the query of a mounted app, ``%u007aqxblocked``, and ``charset=utf-16`` bodies were forwarded;
``/%C0%AE%C0%AE/_search`` (an overlong ``..``) was routed."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from filter_proxy.routing import PathError, canonical_path
from tests.support.hostile import HostileBackend, asgi_scope, call_asgi, hostile_backend, send_raw, status_of
from tests.test_middleware import build_rules

TERM = "zqxblocked"
ACCENTED = {"o": ["ö", "ó", "ô"], "e": ["é", "è", "ë"], "c": ["ç"]}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


class Recorder:
    """An in-process search app that records what reached it and answers an empty page of any backend."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append((scope["query_string"], body))
        page = {"took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}, "responses": [],
                "response": {"numFound": 0, "docs": []}, "count": 0, "results": []}
        out = json.dumps(page).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


# --- what a backend might read ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text.casefold() if c.isalnum() and not unicodedata.combining(c))


def _percent_u(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and text[i + 1 : i + 2] in ("u", "U") and len(text) >= i + 6:
            try:
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            except ValueError:
                pass
        out.append(text[i])
        i += 1
    return "".join(out)


def query_readings(query: bytes) -> list[str]:
    raw = query.replace(b"+", b" ")
    out = []
    for charset in ("utf-8", "latin-1"):
        out.append(raw.decode(charset, errors="ignore"))
        out.append(unquote_to_bytes(raw).decode(charset, errors="ignore"))
    out.append(_percent_u(raw.decode("latin-1")))
    return out


def body_readings(body: bytes) -> list[str]:
    texts = []
    for charset in ("utf-8", "utf-8-sig", "utf-16", "latin-1"):
        try:
            texts.append(body.decode(charset))
        except UnicodeDecodeError:
            continue
    out = list(texts)
    for text in texts:
        out.append(unquote(text.replace("+", " "), encoding="latin-1"))
        for line in [text, *text.splitlines()]:
            try:  # first duplicate wins, then last (json keeps the last)
                out.append(json.dumps(json.loads(line, object_pairs_hook=lambda p: dict(reversed(p))),
                                      ensure_ascii=False))
                out.append(json.dumps(json.loads(line), ensure_ascii=False))
            except (ValueError, RecursionError):
                pass
    return out


def holds_term(query: bytes, body: bytes) -> bool:
    return any(TERM in _fold(t) for t in [*query_readings(query), *body_readings(body)])


# --- generators -----------------------------------------------------------------------------------------


@st.composite
def spelt(draw: st.DrawFn) -> str:
    """The listed term as it may appear in a query string: per character plain, escaped (either hex case),
    an accented look-alike (UTF-8 escaped, Latin-1 escaped, raw UTF-8), ``%u`` escaped; maybe split."""
    out = []
    for ch in TERM:
        how = draw(st.integers(0, 7))
        if how == 1:
            out.append("%" + format(ord(ch), draw(st.sampled_from(["02X", "02x"]))))
        elif how == 2 and ch in ACCENTED:
            alt = draw(st.sampled_from(ACCENTED[ch]))
            form = draw(st.sampled_from(["utf8", "latin1", "raw"]))
            if form == "utf8":
                out.append("".join(f"%{b:02X}" for b in alt.encode("utf-8")))
            elif form == "latin1":
                out.append(f"%{ord(alt):02X}")
            else:
                out.append(alt.encode("utf-8").decode("latin-1"))  # raw bytes in the target
        elif how == 3:
            out.append(f"%u{ord(ch):04x}")
        else:
            out.append(ch)
    text = "".join(out)
    if draw(st.booleans()):
        cut = text.find("b") if "b" in text else len(text)
        if cut < len(text):
            text = text[:cut] + draw(st.sampled_from(["+", "%20", ""])) + text[cut:]
    return text


NAMES = st.sampled_from(["q", "Q", "q[]", "q[0]", "query", "text", "fq", "df", "QUERY", "q.alt", "source", "x"])
BENIGN = st.text(alphabet="abcdefghijklmnoprstuvw", min_size=1, max_size=6)


@st.composite
def query_strings(draw: st.DrawFn) -> bytes:
    pairs = [f"{draw(NAMES)}={draw(BENIGN)}" for _ in range(draw(st.integers(0, 3)))]
    listed = f"{draw(NAMES)}={draw(spelt())}"
    pairs.insert(draw(st.integers(0, len(pairs))), listed)
    return "&".join(pairs).encode("latin-1")


SEARCH_ROUTES = [("elasticsearch", b"/_search"), ("elasticsearch", b"/books/_count"),
                 ("solr", b"/solr/books/select"), ("meilisearch", b"/indexes/books/search"),
                 ("typesense", b"/collections/books/documents/search"), ("searxng", b"/search")]


@settings(max_examples=300, deadline=None)
@given(query=query_strings(), route=st.sampled_from(SEARCH_ROUTES), method=st.sampled_from(["GET", "POST"]))
def test_a_listed_query_never_reaches_the_app_whatever_the_spelling(rules: Any, query: bytes,
                                                                    route: tuple[str, bytes], method: str) -> None:
    adapter, path = route
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    headers = [(b"content-type", b"application/json")]
    body = b"{}" if method == "POST" and adapter in ("meilisearch",) else b""
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope(method, path, query, headers, body), body)
    assert not any(holds_term(q, b) for q, b in app.calls), (status, query)


# --- bodies ---------------------------------------------------------------------------------------------


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"bool": {"must": [value]}}
    return value


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(content type, body) with the listed term somewhere a backend reads it."""
    shape = draw(st.sampled_from(["json", "dup", "deep", "bignum", "escaped", "ndjson", "form"]))
    match = {"match": {"title": TERM}}
    if shape == "json":
        text = json.dumps({"query": _nest(match, draw(st.integers(0, 5)))})
    elif shape == "dup":  # the listed query under the first "query" key, a benign one under the last
        text = '{"query":' + json.dumps(match) + ',"query":{"match_all":{}}}'
    elif shape == "deep":
        depth = draw(st.sampled_from([100, 600, 2000, 5000]))
        text = '{"a":' * depth + json.dumps(TERM) + "}" * depth
    elif shape == "bignum":
        size = draw(st.sampled_from(["1e400", "-1e400", "9" * 400, "1.5e-400"]))
        text = '{"size":' + size + ',"query":' + json.dumps(match) + "}"
    elif shape == "escaped":
        text = json.dumps({"query": match}).replace("zqx", "\\u007aqx").replace("ked", "k\\u0065d")
    elif shape == "ndjson":
        text = '{"index":"books"}\n' + json.dumps({"query": match})
        if draw(st.booleans()):
            text += "\n"
    else:
        text = f"q={draw(spelt())}"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "bad-byte"]))
    if shape == "form" and not text.isascii():
        encoding = "latin-1"  # raw bytes of the spelling: as the generator made them
    if encoding == "bad-byte":
        raw = text.encode("utf-8").replace(b"blocked", b"bl\xffocked" if draw(st.booleans()) else b"blocked\xff")
    else:
        raw = text.encode(encoding)
    base = {"json": "application/json", "form": "application/x-www-form-urlencoded", "ndjson": "application/x-ndjson"}
    ctype = draw(st.sampled_from([base.get(shape, "application/json"), "text/plain", "", "application/json",
                                  "application/x-www-form-urlencoded", "application/yaml", "application/cbor"]))
    if ctype and draw(st.booleans()):
        ctype += "; charset=" + draw(st.sampled_from(["utf-8", "UTF-8", "utf-16", "iso-8859-1", "windows-1252"]))
    return ctype.encode(), raw


BODY_ROUTES = [("elasticsearch", b"/_search"), ("elasticsearch", b"/_msearch"), ("elasticsearch", b"/books/_count"),
               ("solr", b"/solr/books/select"), ("meilisearch", b"/indexes/books/search")]


@settings(max_examples=250, deadline=None)
@given(body=bodies(), route=st.sampled_from(BODY_ROUTES), method=st.sampled_from(["POST", "GET"]))
def test_a_listed_body_never_reaches_the_app_whatever_the_encoding(rules: Any, body: tuple[bytes, bytes],
                                                                   route: tuple[str, bytes], method: str) -> None:
    adapter, path = route
    ctype, raw = body
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    headers = [(b"content-type", ctype)] if ctype else []
    anyio.run(call_asgi, mw, asgi_scope(method, path, b"", headers, raw), raw)
    assert not any(holds_term(q, b) for q, b in app.calls), (ctype, raw[:80])


# --- response formats the filter cannot read ------------------------------------------------------------

FORMAT_CASES = [("elasticsearch", b"/_search", "format", ["json"]), ("elasticsearch", b"/_sql", "format", ["json"]),
                ("opensearch", b"/books/_search", "format", ["json"]),
                ("elasticsearch", b"/_search", "source_content_type", ["application/json"]),
                ("solr", b"/solr/books/select", "wt", ["json"]), ("searxng", b"/search", "format", ["json"]), ("solr", b"/solr/books/select", "json.wrf", [])]


@settings(max_examples=120, deadline=None)
@given(case=st.sampled_from(FORMAT_CASES),
       value=st.one_of(st.sampled_from(["yaml", "cbor", "smile", "txt", "csv", "tsv", "xml", "javabin", "php",
                                        "python", "ruby", "velocity", "xslt", "geojson", "JSON", "json", "json ",
                                        "callback", "cb", "application/yaml", "application/json",
                                        "application/cbor", "application/x-yaml"]),
                       st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)))
def test_response_formats_the_filter_cannot_read_are_refused_first(rules: Any, case: tuple[str, bytes, str, list[str]],
                                                                   value: str) -> None:
    adapter, path, name, readable = case
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    method = "POST" if path == b"/_sql" else "GET"
    body = b'{"query":"SELECT 1"}' if method == "POST" else b""
    query = f"{name}={quote(value)}&q=bread".encode()
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope(method, path, query, [(b"content-type", b"application/json")],
                                                        body), body)
    if value.strip().lower() in readable:
        assert len(app.calls) == 1
    else:
        assert app.calls == [] and 400 <= status < 500


@settings(max_examples=60, deadline=None)
@given(media=st.sampled_from(["application/yaml", "application/cbor", "application/smile", "text/plain",
                              "text/csv", "text/tab-separated-values", "application/x-yaml"]),
       extra=st.sampled_from(["", ", application/json", ";q=0.9", "; charset=utf-8"]),
       path=st.sampled_from([b"/_search", b"/books/_count", b"/books/_doc/1"]))
def test_elasticsearch_accept_headers_for_unreadable_formats_are_refused(rules: Any, media: str, extra: str,
                                                                          path: bytes) -> None:
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter="elasticsearch")
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope("GET", path, b"q=bread", [(b"accept", (media + extra).encode())]))
    assert app.calls == [] and status == 406


@pytest.mark.parametrize("accept", [b"application/vnd.elasticsearch+json; compatible-with=8",
                                    b"application/json, text/plain, */*", b"*/*",
                                    b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"])
def test_the_official_clients_accept_header_still_passes(rules: Any, accept: bytes) -> None:
    """The ES client's compatibility type, axios's default (JSON first), curl's, a browser's."""
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter="elasticsearch")
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_search", b"q=bread", [(b"accept", accept)]))
    assert status == 200 and len(app.calls) == 1


# --- path targets ---------------------------------------------------------------------------------------


@given(st.lists(st.sampled_from(["books", "_search", "x", "..", "."]), max_size=4),
       st.sampled_from(["%C0%AE", "%C0%AF", "%E0%80%AE", "%C1%9C", "%FF", "%80", "%F0%80%80%AF", "%ED%A0%80",
                        "%C3", "%E2%82"]),
       st.integers(0, 4))
def test_paths_with_escapes_that_are_not_utf8_are_refused(segments: list[str], bad: str, at: int) -> None:
    """Overlong forms (``%C0%AE`` = ``.``, ``%C0%AF`` = ``/`` to old decoders), lone and truncated bytes,
    surrogates: each server reads them its own way."""
    parts = list(segments)
    at = min(at, len(parts))
    parts.insert(at, bad + (bad if bad.startswith("%C0%AE") else "") + "_search")
    with pytest.raises(PathError):
        canonical_path(("/" + "/".join(parts)).encode())


@pytest.fixture(scope="module")
def proxy(rules: Any) -> Iterator[tuple[HostileBackend, str]]:
    from tests.support.server import serve

    with hostile_backend() as backend, serve(create_proxy_app(backend.url, rules, "elasticsearch")) as base:
        yield backend, base


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scheme=st.sampled_from(["http", "https", "HTTP", "ftp", "x"]),
       host=st.sampled_from(["127.0.0.1", "x", "a.example.invalid:9200", "[::1]:80", "u:p@x"]),
       path=st.sampled_from(["/_search", "/x/../_search", "/_SEARCH", "//_search", "/books/_search;x=1",
                             "/%5Fsearch", "/books/./_search/"]),
       query=st.sampled_from([f"q={TERM}", "q=%7Aqxblocked", f"Q={TERM}&q=ok"]))
def test_absolute_form_targets_are_screened_or_refused(proxy: tuple[HostileBackend, str], scheme: str, host: str,
                                                       path: str, query: str) -> None:
    backend, base = proxy
    before = len(backend.requests)
    target = f"{scheme}://{host}{path}?{query}".encode()
    answer = send_raw(base, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) in (200, 400, 403)
    assert not any(TERM.encode() in r.split(b"\r\n", 1)[0].lower() for r in backend.requests[before:])


@pytest.mark.parametrize("target", [b"*", b"*/_search", b"_search", b"?q=zqxblocked"])
def test_targets_that_are_not_paths_are_refused(proxy: tuple[HostileBackend, str], target: bytes) -> None:
    backend, base = proxy
    before = len(backend.requests)
    for method in (b"GET", b"OPTIONS"):
        answer = send_raw(base, method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(answer) in (400, 403, 404)
    assert backend.requests[before:] == []


def test_query_strings_that_read_two_ways_are_refused(rules: Any) -> None:
    """The three ways found by hand, spelt out (the generator above finds them too)."""
    for query in (b"q=zqxbl%F6cked", "q=zqxbl\u00f6cked".encode("utf-8"), b"q=%u007aqxblocked"):
        app = Recorder()
        mw = FilterMiddleware(app, rules=rules, adapter="elasticsearch")
        status, _, _ = anyio.run(call_asgi, mw, asgi_scope("GET", b"/_search", query))
        assert status == 400 and app.calls == []


@settings(max_examples=80, deadline=None)
@given(types=st.lists(st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain",
                                       "application/x-ndjson"]), min_size=2, max_size=3),
       joined=st.booleans(), route=st.sampled_from([("solr", b"/solr/books/select"), ("elasticsearch", b"/_search"),
                                                    ("meilisearch", b"/indexes/books/search")]))
def test_a_body_with_two_content_types_is_refused(rules: Any, types: list[str], joined: bool,
                                                  route: tuple[str, bytes]) -> None:
    """A JSON body whose string holds ``&q=zqx%62locked``: JSON to a filter reading the last type, a form
    with ``q=zqxblocked`` to a servlet reading the first. Before: forwarded (two headers, or one header
    naming two types, read as JSON)."""
    adapter, path = route
    body = b'{"a":"b&q=zqx%62locked&c=d"}'
    headers = [(b"content-type", ", ".join(types).encode())] if joined else [(b"content-type", t.encode())
                                                                             for t in types]
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope("POST", path, b"", headers, body), body)
    assert app.calls == [] and 400 <= status < 500


LOOKALIKES = {"s": ["ſ", "ｓ", "ѕ", "%C5%BF"], "e": ["е", "ｅ", "ё"], "a": ["а", "ａ"], "r": ["ｒ", "г"],
              "c": ["с", "ｃ", "ⅽ"], "h": ["һ", "ｈ"], "_": ["＿", "%EF%BC%BF", "%5F", "%5f"], "/": ["／", "%EF%BC%8F"]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), base_path=st.sampled_from(["/_search", "/books/_search", "/_msearch", "/books/_count"]))
def test_unicode_lookalike_paths_are_refused_or_screened(proxy: tuple[HostileBackend, str], data: st.DataObject,
                                                         base_path: str) -> None:
    """Look-alike letters (long s, fullwidth, Cyrillic), fullwidth solidus and low line, raw or escaped:
    a backend matching paths with Java's equalsIgnoreCase reads "_ſearch" as "_search". Either the path
    is the screened route (and the listed query is blocked) or it is refused; nothing listed is forwarded."""
    backend, base = proxy
    out = []
    for ch in base_path:
        if ch in LOOKALIKES and data.draw(st.booleans()):
            out.append(data.draw(st.sampled_from(LOOKALIKES[ch])))
        else:
            out.append(ch)
    target = quote("".join(out), safe="/%_").encode() + b"?q=" + TERM.encode()
    before = len(backend.requests)
    answer = send_raw(base, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) in (200, 400, 403)
    assert backend.requests[before:] == []


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from(["2", "3"]), body=bodies(), route=st.sampled_from(BODY_ROUTES))
def test_an_http2_body_without_content_length_is_read(rules: Any, version: str, body: tuple[bytes, bytes],
                                                      route: tuple[str, bytes]) -> None:
    """HTTP/2 and 3 need no Content-Length. Before: the middleware read a body only when the headers
    announced one, so under an HTTP/2 server (hypercorn) a listed JSON query reached a mounted app unread."""
    adapter, path = route
    ctype, raw = body
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    scope = asgi_scope("POST", path, b"", [(b"content-type", ctype)] if ctype else [])
    scope["http_version"] = version
    anyio.run(call_asgi, mw, scope, raw)
    assert not any(holds_term(q, b) for q, b in app.calls), (ctype, raw[:80])
