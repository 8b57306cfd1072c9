"""FilterMiddleware in process (httpx.ASGITransport): routing, query screening, page screening, failures.

The rule set here is the real loader's output over a tiny rules directory (``build_rules``); the apps
behind the middleware are small Starlette / raw ASGI apps that count their calls. The helpers at the top
are shared with tests/test_proxy.py and the end-to-end tests.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.verdict import Verdict

pytestmark = pytest.mark.anyio

SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules"


# -- shared helpers -------------------------------------------------------------------------------------


class RecordingObserver:
    """Records what the middleware reports (FilterObserver)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.request_categories: list[str | None] = []
        self.removals: list[tuple[Verdict, str | None, str | None]] = []
        self.warnings: list[tuple[str, str]] = []
        self.upstreams: list[str] = []
        self.images: list[str] = []

    def request(self, route: str, action: str, category: str | None = None) -> None:
        self.requests.append((route, action))
        self.request_categories.append(category)

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        self.removals.append((verdict, url, image_hash))

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        self.warnings.append((kind, lang))

    def upstream(self, seconds: float, outcome: str) -> None:
        self.upstreams.append(outcome)

    def image_fetch(self, outcome: str) -> None:
        self.images.append(outcome)


def searx_page(clean: bool = False) -> dict[str, Any]:
    """A SearXNG JSON page: one clean result, one with a listed term, one on a listed domain, one image."""
    results = [
        {"url": "https://shop.example.invalid/garden", "title": "Garden tools", "content": "Rakes and spades."},
        {"url": "https://other.example.invalid/post", "title": "A post", "content": "It mentions zqxblocked."},
        {"url": "https://bad.example.invalid/page", "title": "Innocent title", "content": "Innocent text."},
        {
            "url": "https://photos.example.invalid/view/9",
            "title": "Seaside",
            "content": "",
            "thumbnail_src": "https://photos.example.invalid/thumb/9.jpg",
        },
    ]
    suggestions = ["garden tools", "zqxblocked ideas"]
    if clean:
        results = [results[0], results[3]]
        suggestions = ["garden tools"]
    return {"query": "garden", "number_of_results": 1230, "results": results, "suggestions": suggestions}


POLICY = """
[categories.zqx-abuse]
action = "block"
warning = "deterrence"
report = true

[categories.zqx-support]
action = "warn"
warning = "support"

[categories.zqx-spam]
action = "strip"

[images]
on_unverified = "hide-thumbnail"
"""


def build_rules(directory: Path, extra_terms: Sequence[str] = (), image_rows: Sequence[tuple[str, str]] = ()) -> Any:
    """A real rule set (load_rules) over a placeholder rules directory written under ``directory``; the
    warning texts are the shipped ones."""
    from filter_proxy.rules import load_rules

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.toml").write_text(POLICY, encoding="utf-8")
    shutil.copytree(SHIPPED_RULES / "warnings", directory / "warnings", dirs_exist_ok=True)
    files = {
        "terms/zqx-abuse.txt": ["zqxblocked", "forbidden phrase alpha", *extra_terms],
        "terms/zqx-support.txt": ["zqxwarn"],
        "terms/zqx-spam.txt": ["zqxspam"],
        "urls/zqx-abuse.txt": ["bad.example.invalid", "blocked.example.invalid"],
    }
    if image_rows:
        files["images/zqx-abuse.csv"] = [f"{algo},{hex_}" for algo, hex_ in image_rows]
    for name, lines in files.items():
        (directory / name).parent.mkdir(exist_ok=True)
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_rules(directory)


class Backend:
    """A SearXNG-shaped search app that records what reached it."""

    def __init__(self, page: Any = None, status: int = 200) -> None:
        self.calls = 0
        self.bodies: list[bytes] = []
        self.accept_encodings: list[str | None] = []
        self.page = page if page is not None else searx_page()
        self.status = status
        self.app = Starlette(
            routes=[
                Route("/search", self.search, methods=["GET", "POST", "HEAD"]),
                Route("/autocompleter", self.suggest),
                Route("/other", self.other, methods=["GET", "POST"]),
                WebSocketRoute("/ws", self.ws),
            ]
        )

    async def search(self, request: Request) -> Response:
        self.calls += 1
        self.bodies.append(await request.body())
        self.accept_encodings.append(request.headers.get("accept-encoding"))
        return JSONResponse(self.page, status_code=self.status, headers={"etag": '"v1"'})

    async def suggest(self, request: Request) -> Response:
        self.calls += 1
        return JSONResponse(["gar", ["garden", "zqxblocked garden", "garlic"]])

    async def other(self, request: Request) -> Response:
        self.calls += 1
        return Response(b"not json, never screened: zqxblocked", media_type="text/plain")

    async def ws(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def wrap(backend: Backend | Any, rules: Any, **kw: Any) -> FilterMiddleware:
    app = backend.app if isinstance(backend, Backend) else backend
    return FilterMiddleware(app, rules=rules, adapter=kw.pop("adapter", "searxng"), **kw)


# -- routing and pass-through ------------------------------------------------------------------------


async def test_passed_routes_pass_through_untouched(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules, pass_routes=["GET /other"])) as client:
        refused = await client.get("/other", params={"q": "zqxblocked"})  # a search query: not passed unread
        r = await client.get("/other", params={"x": "zqxblocked"})
    assert refused.status_code == 403
    assert r.status_code == 200
    assert r.content == b"not json, never screened: zqxblocked"
    assert "x-filter-removed" not in r.headers and "x-filter-action" not in r.headers
    assert backend.calls == 1


async def test_mounted_under_a_prefix_routes_without_it(rules: Any) -> None:
    """Starlette's Mount keeps the full path and sets root_path: routes are still written without it."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    backend = Backend()
    app = Starlette(routes=[Mount("/api", app=wrap(backend, rules))])
    async with client_for(app) as client:
        r = await client.get("/api/search", params={"q": "garden", "format": "json"})
        assert r.status_code == 200 and r.headers["x-filter-removed"] == "3"
        r = await client.get("/api/search", params={"q": "zqxblocked"})
        assert r.headers["x-filter-action"] == "block"
        assert (await client.get("/api/other")).status_code == 403
    assert backend.calls == 1


async def test_unlisted_routes_are_refused(rules: Any) -> None:
    """Deny by default (issue 10): a route the table does not list never reaches the app."""
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.get("/other", params={"q": "zqxblocked"})
        assert r.status_code == 403 and "routes.pass" in r.json()["allow_with"]
        r = await client.post("/other")
        assert r.status_code == 403
    assert backend.calls == 0


async def test_route_matching_patterns_and_odd_spellings(rules: Any) -> None:
    mw = wrap(Backend(), rules, search_paths=["/search", "/*/_search"], suggest_paths=["/ac/**"])
    assert mw.route("/search") == "search"
    assert mw.route("//search/") == "search"  # cannot slip past with another spelling
    assert mw.route("/books/_search") == "search"
    assert mw.route("/ac/x/y") == "suggest"
    assert mw.route("/books/_doc/1") is None
    assert mw.route("/search/more") is None
    assert mw.route("/x/../search") == "search"
    assert mw.route("/SEARCH") == "search"


async def test_websocket_and_lifespan_pass_through(rules: Any) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    closed: list[Any] = []

    async def send(message: Any) -> None:
        closed.append(message)

    mw = wrap(app, rules, pass_routes=["GET /ws"])
    await mw({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await mw({"type": "websocket", "path": "/ws"}, None, None)  # type: ignore[arg-type]
    # A websocket on a screened route is refused (nothing on it could be screened).
    await mw({"type": "websocket", "path": "/search"}, None, send)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]
    assert closed == [{"type": "websocket.close", "code": 1008}]


# -- the query ------------------------------------------------------------------------------------------


async def test_blocked_query_never_reaches_the_app(rules: Any) -> None:
    backend = Backend()
    observer = RecordingObserver()
    async with client_for(wrap(backend, rules, observer=observer)) as client:
        r = await client.get("/search", params={"q": "where is ZQXBLOCKED", "format": "json"})
    assert backend.calls == 0
    assert r.status_code == 200
    assert r.headers["x-filter-action"] == "block"
    assert r.headers["cache-control"] == "no-store"
    doc = r.json()
    assert doc["results"] == [] and doc["number_of_results"] == 0
    assert doc["safety"]["action"] == "block"
    assert doc["safety"]["warning"]["title"]
    assert "zqx-abuse.txt" not in r.text and ".txt:" not in r.text  # no rule id
    assert "zqxblocked" not in r.text.lower()  # the query is not echoed
    assert observer.requests == [("search", "block")]
    assert observer.request_categories == ["zqx-abuse"]
    assert observer.warnings == [("deterrence", "en")]


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("GET", {"params": {"q": "zqxblocked"}}),
        ("POST", {"data": {"q": "zqxblocked"}}),
        ("POST", {"json": {"q": "zqxblocked"}}),
    ],
    ids=["query-param", "form-field", "json-body"],
)
async def test_query_read_three_ways(rules: Any, method: str, kwargs: dict[str, Any]) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.request(method, "/search", **kwargs)
        assert r.headers["x-filter-action"] == "block"
        assert backend.calls == 0
        # The same shapes with a clean query reach the app, body intact (replayed after buffering).
        clean = {k: ({"q": "garden"} if k != "params" else {"q": "garden"}) for k in kwargs}
        r = await client.request(method, "/search", **clean)
    assert r.status_code == 200 and "x-filter-action" not in r.headers
    assert backend.calls == 1
    if method == "POST":
        assert b"garden" in backend.bodies[0]


async def test_elasticsearch_json_body_query(rules: Any) -> None:
    backend = Backend(page={"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}})
    app = Starlette(routes=[Route("/books/_search", backend.search, methods=["POST", "GET"])])
    mw = FilterMiddleware(app, rules=rules, adapter="elasticsearch")
    body = {"query": {"bool": {"must": [{"match": {"title": {"query": "forbidden phrase alpha"}}}]}}}
    async with client_for(mw) as client:
        r = await client.post("/books/_search", json=body)
        assert r.headers["x-filter-action"] == "block" and backend.calls == 0
        assert r.json()["hits"]["hits"] == []
        r = await client.post("/books/_search", json={"query": {"match": {"title": "garden"}}})
    assert r.status_code == 200 and backend.calls == 1


async def test_query_param_override(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules, query_param="term")) as client:
        r = await client.get("/search", params={"term": "zqxblocked"})
    assert r.headers["x-filter-action"] == "block" and backend.calls == 0


async def test_unreadable_query_body_is_refused(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.post("/search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and backend.calls == 0


async def test_oversize_request_body_is_refused(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules, max_body_bytes=100)) as client:
        r = await client.post("/search", data={"q": "x" * 200})
    assert r.status_code == 413 and backend.calls == 0


async def test_html_warning_page_for_browsers(rules: Any) -> None:
    backend = Backend()
    observer = RecordingObserver()
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    async with client_for(wrap(backend, rules, observer=observer)) as client:
        r = await client.get("/search", params={"q": "zqxblocked"}, headers={"accept": browser})
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["x-filter-action"] == "block"
        assert "<html" in r.text.lower() and ".txt:" not in r.text
        r = await client.get("/search", params={"q": "zqxblocked"}, headers={"accept": "*/*"})
        assert r.headers["content-type"].startswith("application/json")
    assert backend.calls == 0


async def test_warn_query_calls_app_and_attaches_safety(rules: Any) -> None:
    backend = Backend()
    observer = RecordingObserver()
    async with client_for(wrap(backend, rules, observer=observer)) as client:
        r = await client.get("/search", params={"q": "zqxwarn garden"})
    assert backend.calls == 1
    assert r.headers["x-filter-action"] == "warn"
    doc = r.json()
    assert doc["safety"]["action"] == "warn"
    assert len(doc["results"]) == 2  # the page is still screened
    assert observer.requests == [("search", "warn")]
    assert observer.request_categories == ["zqx-support"]
    assert observer.warnings == [("support", "en")]


# -- the page -------------------------------------------------------------------------------------------


async def test_results_removed_and_totals_fixed(rules: Any) -> None:
    backend = Backend()
    observer = RecordingObserver()
    async with client_for(wrap(backend, rules, observer=observer)) as client:
        r = await client.get("/search", params={"q": "garden"}, headers={"accept-encoding": "gzip"})
    doc = r.json()
    urls = [x["url"] for x in doc["results"]]
    # removed: text match in the snippet, listed domain in the URL
    assert urls == ["https://shop.example.invalid/garden", "https://photos.example.invalid/view/9"]
    assert doc["number_of_results"] == 1230 - 2
    assert r.headers["x-filter-removed"] == "3"  # two results and one suggestion
    assert doc["suggestions"] == ["garden tools"]
    assert int(r.headers["content-length"]) == len(r.content)
    assert "etag" not in r.headers  # the body changed
    assert "x-filter-action" not in r.headers
    assert ".txt:" not in r.text
    assert backend.accept_encodings == ["identity"]  # asked for a body it can screen
    assert sorted(v.category for v, _, _ in observer.removals) == ["zqx-abuse"] * 3
    assert observer.upstreams == ["ok"]


async def test_clean_page_is_sent_as_the_screened_document(rules: Any) -> None:
    # Deliberate change (issue 10.5): a parsed body is always re-encoded, so headers that described the
    # app's own bytes (etag, content-length) go, and the document is the same.
    page = searx_page(clean=True)
    backend = Backend(page=page)
    async with client_for(wrap(backend, rules)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.headers["x-filter-removed"] == "0"
    assert "etag" not in r.headers and r.headers["content-length"] == str(len(r.content))
    assert r.json() == page


async def test_suggest_route_drops_blocked_suggestions(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.get("/autocompleter", params={"q": "gar"})
        assert r.json() == ["gar", ["garden", "garlic"]]
        # off on suggest routes by default (deliberate change): the count would tell a prober which
        # prefix had a listed completion
        assert "x-filter-removed" not in r.headers
        r = await client.get("/autocompleter", params={"q": "zqxblocked"})
    assert r.json() == []  # a blocked prefix: no suggestions, app not called
    assert r.headers["x-filter-action"] == "block"
    assert backend.calls == 1


async def test_rule_holder_swap_takes_effect(rules: Any, tmp_path: Any) -> None:
    holder = RuleHolder(rules)
    backend = Backend()
    async with client_for(wrap(backend, holder)) as client:
        assert (await client.get("/search", params={"q": "zqxnewterm"})).status_code == 200
        holder.swap(build_rules(tmp_path, extra_terms=["zqxnewterm"]))
        r = await client.get("/search", params={"q": "zqxnewterm"})
    assert r.headers["x-filter-action"] == "block"
    assert backend.calls == 1


# -- failures: fail closed ------------------------------------------------------------------------------


def raw_app(status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        hdrs = headers if headers is not None else [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    "body",
    [b'{"results": [{"title": "zqxblocked"', b"<html>zqxblocked results</html>", b'{"no_results_key": 1}'],
    ids=["truncated-json", "html", "wrong-shape"],
)
async def test_unscreenable_page_is_502(rules: Any, body: bytes) -> None:
    observer = RecordingObserver()
    async with client_for(wrap(raw_app(200, body), rules, observer=observer)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 502
    assert b"zqxblocked" not in r.content
    assert observer.upstreams == ["malformed"]


async def test_oversize_page_is_502(rules: Any) -> None:
    body = orjson.dumps(searx_page())
    async with client_for(wrap(raw_app(200, body), rules, max_response_bytes=len(body) - 1)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 502 and b"zqxblocked" not in r.content


async def test_streaming_response_on_screened_route_is_502(rules: Any) -> None:
    async def events() -> Any:
        while True:  # never ends: must be refused, not buffered
            yield b"data: zqxblocked\n\n"

    async def search(request: Request) -> Response:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/search", search)])
    async with client_for(wrap(app, rules)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 502 and b"zqxblocked" not in r.content


async def test_gzip_page_from_app_is_decoded_and_screened(rules: Any) -> None:
    body = gzip.compress(orjson.dumps(searx_page()))
    hdrs = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    async with client_for(wrap(raw_app(200, body, hdrs), rules)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert len(r.json()["results"]) == 2


async def test_error_status_passes_without_results(rules: Any) -> None:
    error = orjson.dumps({"error": {"type": "bad_request", "reason": "bad query"}})
    async with client_for(wrap(raw_app(400, error), rules)) as client:
        r = await client.get("/search", params={"q": "garden"})
        assert r.status_code == 400 and r.content == error
    # ...but an error status carrying a page of results is screened all the same
    async with client_for(wrap(raw_app(404, orjson.dumps(searx_page())), rules)) as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 404 and b"zqxblocked" not in r.content


async def test_app_exception_mid_response_is_502(rules: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})
        raise RuntimeError("backend fell over")

    transport = httpx.ASGITransport(app=wrap(app, rules), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/search", params={"q": "garden"})
    assert r.status_code == 502


async def test_observer_never_sees_the_query(rules: Any) -> None:
    observer = RecordingObserver()
    async with client_for(wrap(Backend(), rules, observer=observer)) as client:
        await client.get("/search", params={"q": "garden zqxsecretquery"})
    assert "zqxsecretquery" not in repr(observer.__dict__)
    assert all(isinstance(v, Verdict) for v, _, _ in observer.removals)


async def test_query_never_logged(rules: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with client_for(wrap(raw_app(200, b'{"no_results_key": 1}'), rules)) as client:
        r = await client.get("/search", params={"q": "garden zqxsecretquery"})
    assert r.status_code == 502
    ours = [rec.getMessage() for rec in caplog.records if rec.name.startswith("filter_proxy")]
    assert ours  # the failure is logged...
    assert not any("zqxsecretquery" in message for message in ours)  # ...without what was asked


async def test_head_is_answered_as_the_screened_get(rules: Any) -> None:
    # Changed deliberately: a HEAD is forwarded as a GET and gets the screened GET answer's status and
    # headers (X-Filter-Removed too), never a body; before, the backend's HEAD answer went out unread.
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.head("/search", params={"q": "garden"})
        get = await client.get("/search", params={"q": "garden"})
        assert r.status_code == 200 and r.content == b""
        assert r.headers["x-filter-removed"] == get.headers["x-filter-removed"]
        r = await client.head("/search", params={"q": "zqxblocked"})
        assert r.headers["x-filter-action"] == "block" and r.content == b""
    assert backend.calls == 2


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.5", True),
        ("text/html;q=0", False),
    ],
)
def test_accept_negotiation(accept: str, html: bool) -> None:
    from filter_proxy.screening import prefers_html

    assert prefers_html(accept) is html


@pytest.mark.parametrize(
    "query",
    ["q=a+b&format=json", "q=%7Aqx%20blocked", "q", "q=&&x=1", "a=b=c", "q=%ZZ%", "q=caf%C3%A9+%FF", "=v", "q=é+x"],
)
def test_query_string_read_as_parse_qsl_reads_it(query: str) -> None:
    from urllib.parse import parse_qsl

    from filter_proxy.adapters.request import parse_query

    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)
