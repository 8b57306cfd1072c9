"""Issue 10's request-path attacks, end to end over real HTTP: raw request lines (http.client sends the path
as written; httpx would resolve dot segments itself) to the reverse proxy on loopback, in front of a
loopback Elasticsearch-shaped backend that records every request reaching it."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from filter_proxy.proxy import create_proxy_app
from tests.support.backends import ES_HEADERS, ElasticsearchBackend
from tests.support.server import serve
from tests.test_middleware import build_rules

LISTED = "zqxblocked"
LEAKED = "zqxblocked leaked"  # the title of a listed document: it must never come back


class CatchAll(ElasticsearchBackend):
    """The ES stand-in plus an answer for any other path (so a leak would be visible as a 200)."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.routes.append(Route("/{rest:path}", self.anything,
                                            methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"]))

    async def anything(self, request: Request) -> Response:
        await self.record(request)
        path = request.url.path
        leaked = {"id": "9", "title": LEAKED}
        if request.method == "OPTIONS":
            return Response(f"preflight body {LEAKED}", headers={"allow": "GET,POST", **ES_HEADERS})
        if path == "/_sql":
            doc: Any = {"columns": [{"name": "title", "type": "text"}],
                        "rows": [["Bread recipe"], [LEAKED], ["Soup"]]}
        elif "/_doc/" in path:
            doc = {**self.hit(leaked), "found": True}
        elif "/_source/" in path:
            doc = leaked
        elif "/_explain/" in path:
            doc = {"_index": "books", "_id": "9", "matched": True,
                   "explanation": {"value": 1.0, "description": f"weight(title:{LEAKED})", "details": []}}
        elif path.rsplit("/", 1)[-1].startswith("_"):  # any other endpoint: a search page
            doc = self.page([leaked])
        else:  # index information and the like
            doc = {"acknowledged": True}
        return JSONResponse(doc, headers=ES_HEADERS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CatchAll, str]]:
    rules = build_rules(tmp_path_factory.mktemp("rules"))
    backend = CatchAll()
    with serve(backend.app) as upstream:
        app = create_proxy_app(upstream, rules, "elasticsearch")
        with serve(app) as base:
            yield backend, base


def raw_request(base: str, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        all_headers = {"content-type": "application/json", **(headers or {})}
        if body is not None:
            all_headers["content-length"] = str(len(body))
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def forwarded(backend: CatchAll, before: int) -> list[tuple[str, str, bytes]]:
    return backend.seen[before:]


DISGUISES = ["/x/../_search", "/books/x/../_search", "/x/..;/_search", "/_search;x=1", "/_SEARCH", "/_s%65arch",
             "//_search/", "/./_search", "/books//_search", "/%5Fsearch", "/_search/"]


@pytest.mark.parametrize("path", DISGUISES)
def test_a_disguised_search_path_is_screened(stack: tuple[CatchAll, str], path: str) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, headers, body = raw_request(base, "GET", f"{path}?q={LISTED}")
    assert status == 200 and headers.get("x-filter-action") == "block"
    assert forwarded(backend, before) == []  # the listed query never reached the backend
    status, _, body = raw_request(base, "GET", f"{path}?q=bread")
    assert status == 200 and b"zqxblocked listing" not in body and LEAKED.encode() not in body
    (method, seen_path, _), = forwarded(backend, before)
    assert seen_path.startswith("/") and ".." not in seen_path and "//" not in seen_path and ";" not in seen_path


@pytest.mark.parametrize("path", ["/x/%2e%2e/_search", "/x/%2E./_search", "/a%2F_search", "/a%2f..%2f_search",
                                  "/a%5C_search", "/_search%00", "/a%252e%252e/_search"])
def test_an_ambiguous_path_is_refused_with_400(stack: tuple[CatchAll, str], path: str) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, headers, body = raw_request(base, "GET", f"{path}?q={LISTED}")
    assert status == 400 and headers["content-type"] == "application/json" and "error" in json.loads(body)
    assert forwarded(backend, before) == []


def test_the_backend_receives_exactly_the_routed_path(stack: tuple[CatchAll, str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    raw_request(base, "GET", "//books///x/./../_search/?q=bread")
    assert [p for _, p, _ in forwarded(backend, before)] == ["/books/_search"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["x", "..", ".", "", "books", "_search", "y;p=1"]), min_size=1, max_size=6))
def test_whatever_the_path_a_listed_query_never_leaves(stack: tuple[CatchAll, str], segments: list[str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, _, body = raw_request(base, "GET", "/" + "/".join(segments) + f"?q={LISTED}")
    assert status in (200, 400, 403)
    assert LEAKED.encode() not in body
    for _, _, sent in forwarded(backend, before):
        assert LISTED.encode() not in sent


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/books/_msearch", b'{}\n{"query":{"match":{"title":"zqxblocked"}}}\n'),
        ("POST", "/_msearch/template", b'{"index":"books"}\n{"id":"t","params":{"q":"zqxblocked"}}\n'),
        ("POST", "/books/_async_search", b'{"query":{"match":{"title":"zqxblocked"}}}'),
        ("POST", "/books/_search/template", b'{"id":"t","params":{"q":"zqxblocked"}}'),
        ("POST", "/books/_knn_search", b'{"query":{"match":{"title":"zqxblocked"}}}'),
        ("POST", "/books/_terms_enum", b'{"field":"title","string":"zqxblocked"}'),
        ("POST", "/_sql", b'{"query":"SELECT * FROM books WHERE MATCH(title, \'zqxblocked\')"}'),
        ("POST", "/books/_count", b'{"query":{"match":{"title":"zqxblocked"}}}'),
        ("POST", "/books/_explain/1", b'{"query":{"match":{"title":"zqxblocked"}}}'),
        ("POST", "/books/_eql/search", b'{"query":"any where title == \\"zqxblocked\\""}'),
        ("POST", "/_mget", b'{"docs":[{"_index":"books","_id":"zqxblocked"}]}'),
    ],
)
def test_every_query_route_screens_its_query(stack: tuple[CatchAll, str], method: str, path: str, body: bytes) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, headers, answer = raw_request(base, method, path, body)
    assert status == 200 and headers.get("x-filter-action") == "block"
    assert forwarded(backend, before) == []


@pytest.mark.parametrize(("path", "key"), [("/books/_doc/9", "_source"), ("/books/_source/9", None),
                                           ("/_sql", "rows"), ("/books/_explain/9", None)])
def test_document_routes_screen_what_they_return(stack: tuple[CatchAll, str], path: str, key: str | None) -> None:
    _, base = stack
    status, _, body = raw_request(base, "POST" if path == "/_sql" else "GET", path,
                                  b'{"query":"SELECT title FROM books"}' if path == "/_sql" else None)
    assert LEAKED.encode() not in body
    if path == "/_sql":
        assert status == 200 and json.loads(body)["rows"] == [["Bread recipe"], ["Soup"]]
    elif path == "/books/_explain/9":
        assert status == 502  # an opaque answer holding a listed string is withheld whole
    else:
        assert status == 404


def test_unlisted_routes_are_refused_and_name_the_key(stack: tuple[CatchAll, str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    for method, path in [("GET", "/_security/user"), ("POST", "/_render/template"), ("GET", "/_unknown"),
                         ("PATCH", "/books/_search")]:
        status, _, body = raw_request(base, method, path)
        assert status == 403 and "routes.pass" in json.loads(body)["allow_with"]
    assert forwarded(backend, before) == []


def test_options_on_a_screened_route_never_leaks(stack: tuple[CatchAll, str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, headers, body = raw_request(base, "OPTIONS", f"/_search?q={LISTED}")
    assert status == 204 and body == b"" and "GET" in headers["allow"]
    assert forwarded(backend, before) == []
    status, headers, body = raw_request(base, "OPTIONS", "/books/_search")
    assert status == 200 and body == b""  # the app's status and headers, never its body
    assert headers["x-elastic-product"] == "Elasticsearch"


def test_closing_a_scroll_passes(stack: tuple[CatchAll, str]) -> None:
    _, base = stack
    status, headers, body = raw_request(base, "DELETE", "/_search/scroll", b'{"scroll_id":["scroll-1"]}')
    assert status == 200 and json.loads(body)["succeeded"] is True
    assert headers["x-elastic-product"] == "Elasticsearch"  # the proxy keeps the product header


def test_terms_enum_drops_listed_terms(stack: tuple[CatchAll, str]) -> None:
    _, base = stack
    status, _, body = raw_request(base, "POST", "/books/_terms_enum", b'{"field":"title","string":"b"}')
    assert status == 200 and json.loads(body)["terms"] == ["bread", "garden"]


def test_method_override_headers_are_refused(stack: tuple[CatchAll, str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    status, _, _ = raw_request(base, "DELETE", "/_search/scroll", b"{}", {"X-HTTP-Method-Override": "GET"})
    assert status == 400 and forwarded(backend, before) == []


def test_a_search_query_on_a_passed_route_is_refused(stack: tuple[CatchAll, str]) -> None:
    backend, base = stack
    before = len(backend.seen)
    assert raw_request(base, "GET", "/books?q=zqxblocked")[0] == 403
    assert raw_request(base, "GET", "/books?%71=zqxblocked")[0] == 403  # "q" spelt with an escape
    assert forwarded(backend, before) == []
    assert raw_request(base, "GET", "/books?pretty=true")[0] == 200


class Recording:
    """Any path, any method: records and answers an empty JSON object (a leak would show as forwarded)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append(scope.get("raw_path", b"").decode("latin-1"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


OTHER_BACKENDS = [
    ("solr", "GET", "/solr/books/x/../select?q=zqxblocked", None),
    ("solr", "GET", "/solr/books/select;jsessionid=1?q=zqxblocked", None),
    ("solr", "GET", "/solr/books/%73elect?q=zqxblocked", None),
    ("solr", "GET", "/solr//books/./suggest?suggest.q=zqxblocked", None),
    ("meilisearch", "POST", "/indexes/books/x/../search", b'{"q": "zqxblocked"}'),
    ("meilisearch", "POST", "/multi-search/", b'{"queries": [{"indexUid": "books", "q": "zqxblocked"}]}'),
    ("typesense", "GET", "/collections/books/documents/./search?q=zqxblocked&query_by=t", None),
    ("typesense", "POST", "//multi_search", b'{"searches": [{"collection": "books", "q": "zqxblocked"}]}'),
    ("searxng", "GET", "/static/../search?q=zqxblocked&format=json", None),
    ("searxng", "GET", "/autocompleter;x?q=zqxblocked", None),
]


@pytest.mark.parametrize(("adapter", "method", "target", "body"), OTHER_BACKENDS)
def test_disguised_routes_of_other_backends_are_screened(tmp_path_factory: pytest.TempPathFactory, adapter: str,
                                                         method: str, target: str, body: bytes | None) -> None:
    rules = build_rules(tmp_path_factory.mktemp("rules"))
    backend = Recording()
    with serve(backend) as upstream, serve(create_proxy_app(upstream, rules, adapter)) as base:
        status, headers, answer = raw_request(base, method, target, body)
    assert status == 200 and headers.get("x-filter-action") == "block", answer
    assert backend.seen == []
