"""FilterMiddleware: pure ASGI middleware that screens a search app's queries, results and suggestions.

Only the configured search and suggest routes are touched; every other path, websocket and lifespan
message goes straight to the app. On a screened route the request body is buffered (and replayed to the
app), the query is checked before the app is called, and the app's JSON response is buffered, screened and
re-encoded. Anything that cannot be screened is answered with 502: the unfiltered body never leaves.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from filter_proxy import answers, multisearch, pages, read_answers
from filter_proxy.adapters.base import Adapter, FieldMapping
from filter_proxy.adapters.request import parse_query, path_texts
from filter_proxy.adapters.routes import (
    CHANGE,
    DOCUMENT,
    MULTI,
    PASS,
    READ,
    REFUSE,
    SCREEN,
    TERMS,
    RouteTable,
    build_table,
)
from filter_proxy.events import FilterObserver, NullObserver
from filter_proxy.exchange import Abort as _Abort
from filter_proxy.exchange import ASGIApp, Receive, Scope, Send
from filter_proxy.exchange import Capture as _Capture
from filter_proxy.exchange import read_body as _read_body
from filter_proxy.exchange import replay as _replay
from filter_proxy.exchange import send_json as _send_json
from filter_proxy.funnel.cookie import RepeatCookie
from filter_proxy.funnel.token import HelpSigner
from filter_proxy.request_guard import framing_refusal, override_refusal, screened_refusal, screened_scope
from filter_proxy.response_guard import ResponseGuard, record_request
from filter_proxy.routing import PathError, request_path
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.screening import (
    ImageScreenerLike,
    decode_body,
    query_verdict,
)
from filter_proxy.verdict import Verdict, strongest

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet


logger = logging.getLogger("filter_proxy.middleware")

SEARCH, SUGGEST = pages.SEARCH, pages.SUGGEST


class FilterMiddleware:
    """Screen a search app's queries, results and suggestions (see the module docstring).

    ``rules`` is a RuleSet or a RuleHolder (hot reload: each request takes ``holder.current`` once).
    ``adapter`` is a name for ``get_adapter`` or an Adapter instance. Routing is deny by default: the
    adapter's route table (``adapters/route_tables.py``) says which routes are screened and which pass;
    every other route is refused (403). ``search_paths`` / ``suggest_paths`` add screened routes ("*" one
    segment, "**" any); ``screen_routes`` / ``pass_routes`` / ``refuse_routes`` add routes as
    ``"METHOD[,METHOD] /pattern [kind]"``; ``routes`` replaces the whole table. ``query_param`` overrides
    the adapter's query parameter name, ``fields`` its field mapping.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: RuleSet | RuleHolder,
        adapter: str | Adapter = "generic",
        search_paths: Sequence[str] | None = None,
        suggest_paths: Sequence[str] | None = None,
        screen_routes: Sequence[str] = (),
        pass_routes: Sequence[str] = (),
        refuse_routes: Sequence[str] = (),
        routes: RouteTable | None = None,
        query_param: str | None = None,
        fields: FieldMapping | None = None,
        observer: FilterObserver | None = None,
        image_screener: ImageScreenerLike | None = None,
        max_body_bytes: int = 1_000_000,
        max_response_bytes: int = 10_000_000,
        removed_header: Sequence[str] = (SEARCH,),
        back_url: str = "/",
        help_signer: HelpSigner | None = None,
        repeat_cookie: RepeatCookie | None = None,
    ) -> None:
        self.app = app
        # An encoded "/" can stay inside a document id only when the app forwards raw_path as is (the
        # reverse proxy); an app in process routes on the decoded path, where it is a separator (routing.py).
        self.slash_ids = bool(getattr(app, "forwards_raw_path", False))
        # Issue 15: help links through /-/help/<token> (counted) when set; the opt-in follow-up cookie.
        self.help_signer = help_signer
        self.repeat_cookie = repeat_cookie
        # Routes whose responses say how many results were removed (X-Filter-Removed). Off for suggest
        # routes by default: on autocomplete the count tells a prober which prefix had a listed completion.
        self.removed_header = frozenset(removed_header)
        self.back_url = back_url  # "back to search" on warning pages: the site's search page
        self.holder = rules if isinstance(rules, RuleHolder) else RuleHolder(rules)
        self.adapter = _make_adapter(adapter, fields, query_param)
        self.observer: FilterObserver = observer or NullObserver()
        self.image_screener = image_screener
        self.max_body_bytes = max_body_bytes
        self.max_response_bytes = max_response_bytes
        if routes is None:
            routes = build_table(
                self.adapter.default_routes(),
                search_paths=tuple(search_paths or ()),
                suggest_paths=tuple(suggest_paths or ()),
                screen=tuple(screen_routes),
                pass_=tuple(pass_routes),
                refuse=tuple(refuse_routes),
                case_insensitive=self.adapter.paths_case_insensitive,
            )
        self.routes = routes

    def route(self, path: str, method: str = "GET") -> str | None:
        """The response kind of a screened route ("search", "suggest", "document", ...) or None when the
        route passes or is refused."""
        try:
            decision = self.routes.decide(method, request_path({"path": path}).segments)
        except PathError:
            return None
        return decision.kind if decision.outcome == SCREEN else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        try:
            path = request_path(scope, self.slash_ids)
        except PathError as exc:
            if kind == "http":
                await _send_json(send, 400, {"error": f"ambiguous request path: {exc}"})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        method = scope.get("method", "GET") if kind == "http" else "GET"
        segments = path.segments
        root = scope.get("root_path")
        if root:  # mounted under a prefix (ASGI root_path): routes are written without it
            prefix = tuple(s for s in root.split("/") if s)
            if segments[: len(prefix)] == prefix:
                segments = segments[len(prefix) :]
        decision = self.routes.decide(method, segments)
        if kind != "http":  # websockets: only a route that passes may open one (nothing is screened there)
            if decision.outcome == PASS:
                await self.app(answers.canonical_scope(scope, path), receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if decision.outcome == REFUSE:
            await answers.refuse(self, decision, send)
            return
        refusal = framing_refusal(scope["headers"]) or override_refusal(scope["query_string"])  # request_guard.py
        if refusal is not None:
            await _send_json(send, 400, {"error": "request refused by the filter", "reason": refusal})
            return
        scope = answers.canonical_scope(scope, path)
        if decision.outcome in (PASS, READ):
            if answers.carries_query(self, scope["query_string"]):
                # A search query on a route that is not screened (e.g. an old SearXNG answering "/?q=" with
                # results): refused rather than passed unread.
                await _send_json(send, 403, {"error": "route not allowed by the filter",
                                             "reason": "a search query on a route that is not screened",
                                             "allow_with": "routes.screen"})
                return
            if decision.outcome == READ:  # forwarded as sent, the whole answer read (read_answers.py)
                await read_answers.read_route(self, scope, receive, send, segments)
                return
            await self.app(scope, receive, send)
            return
        query_string: bytes = scope["query_string"]
        params = parse_query(query_string.decode("latin-1")) if query_string else []  # once per request
        guarded = screened_refusal(self.adapter.name, scope, params)  # request_guard.py: query, charset, formats
        if guarded is not None:
            await _send_json(send, guarded[0], {"error": "request refused by the filter", "reason": guarded[1]})
            return
        scope = screened_scope(scope)  # no Range / conditional headers; Accept-Encoding: identity
        send = ResponseGuard(send, self.holder.current, method == "HEAD", self.observer)  # response headers screened
        if method == "OPTIONS":
            await answers.options(self, decision, segments, scope, receive, send)
            return
        # The path's own values (index, document id, collection) are read as query text too: an id or index
        # name is what the client asks for (``GET /b/_doc/<id>``).
        captured = decision.route.captured(segments) if decision.route is not None else segments
        await self._screen(decision.kind, scope, receive, send, params, captured)

    # -- one screened request -----------------------------------------------------------------------

    async def _screen(self, route: str, scope: Scope, receive: Receive, send: Send,
                      params: list[tuple[str, str]] | None = None, path_values: Sequence[str] = ()) -> None:
        """One screened request; ``params`` its query string as ``parse_query`` reads it (read here when
        None); ``path_values`` the path segments the route did not name literally (read as query text)."""
        rules = self.holder.current  # once: a reload mid-request never mixes two rule sets
        adapter = self.adapter
        if scope["method"] == "HEAD":
            # Forwarded as a GET without a body and screened as its answer; the HEAD gets that answer's status
            # and headers (ResponseGuard drops the body). Before, the backend's own HEAD answer went out
            # unread: 200 told whether a listed document existed (elasticsearch-py exists()).
            scope, receive = read_answers.as_get(scope, receive)
        content_type = accept = accept_language = cookie = ""
        has_body = compressed = False
        body_encoding: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"accept-language":
                accept_language = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
            elif name == b"content-length":
                has_body = value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"accept-encoding":
                compressed = True
            elif name == b"content-encoding":
                body_encoding = value
        if params is None:
            query_string: bytes = scope["query_string"]
            params = parse_query(query_string.decode("latin-1")) if query_string else []

        body = b""
        # HTTP/2 and 3 carry a body without Content-Length (request_guard.py's report: before, such a body
        # reached a mounted app unread); HTTP/1.x has none without Content-Length or Transfer-Encoding.
        if has_body or scope.get("http_version", "1.1") not in ("1.0", "1.1"):
            read = await _read_body(receive, self.max_body_bytes)
            if read is None:
                await _send_json(send, 413, {"error": "request body too large"})
                return
            body = read
            receive = _replay(body, receive)
            if body_encoding is not None and body_encoding.strip().lower() != b"identity":
                # A compressed request body (the ES client's http_compress): screened and forwarded decoded.
                decoded = decode_body(body, body_encoding, self.max_body_bytes)
                if decoded is None:
                    await _send_json(send, 400, {"error": "request cannot be screened"})
                    return
                scope = dict(scope)
                scope["headers"] = [h for h in scope["headers"] if h[0].lower() != b"content-encoding"]
                body = decoded
                scope, receive = answers.with_body(scope, body, receive)

        plan = None
        try:
            if route == MULTI:  # the request's own parameters here, each sub-query below
                plan = multisearch.shape_for(adapter).plan(body, adapter)
                texts = adapter.query_texts(params, b"", content_type)
            else:
                texts = adapter.query_texts(params, body, content_type)
            if path_values:
                texts = [*texts, *path_texts(path_values)]
        except Exception:
            # A query that cannot be read cannot be screened: it never reaches the app.
            await _send_json(send, 400, {"error": "request cannot be screened"})
            return
        verdict = query_verdict(texts, rules)
        sub_verdicts: list[Verdict] = []
        if plan is not None:
            sub_verdicts = [query_verdict(t, rules) for t in plan.texts]
            if plan.federated:  # one merged answer: blocked, warned and screened as one search
                verdict = strongest([verdict, *sub_verdicts])
                route, sub_verdicts = SEARCH, []
                body = multisearch.shape_for(adapter).encode(plan, list(range(len(plan.items))))
                scope, receive = answers.with_body(scope, body, receive)
        self.observer.request(route, verdict.action, verdict.category)
        if verdict.action == "block" and route == CHANGE:  # a write is refused, not answered as done
            await _send_json(send, 403, {"error": "request refused by the filter",
                                         "reason": "the request holds listed content"})
            return
        if verdict.action == "block" and route == DOCUMENT and await answers.blocked_document(
                self, verdict, rules, accept_language, send):
            return
        if verdict.action == "block":
            await self._send_blocked(route, verdict, rules, params, accept, accept_language, send, cookie)
            return
        keep: list[int] = []
        if plan is not None and route == MULTI:  # only the sub-queries that may go, even on HEAD
            keep = [i for i, v in enumerate(sub_verdicts) if v.action != "block"]
            if keep:
                body = multisearch.shape_for(adapter).encode(plan, keep)
                scope, receive = answers.with_body(scope, body, receive)
        if compressed:
            # Ask for an uncompressed body: screening needs the JSON, and decoding it costs CPU.
            scope = dict(scope)
            scope["headers"] = [h for h in scope["headers"] if h[0] != b"accept-encoding"]
            scope["headers"].append((b"accept-encoding", b"identity"))
        if plan is not None and route == MULTI and not keep:  # every sub-query blocked: no upstream call
            await answers.finish_multi(self, plan, sub_verdicts, keep, None, rules, 0.0, accept_language, send)
            return
        # What the client sent (and what of it goes on): the echo check lets the backend echo only that.
        record_request([*texts, *(t for i in (keep if route == MULTI else range(len(plan.texts)))
                                  for t in plan.texts[i])] if plan is not None else texts)
        capture = _Capture(self.max_response_bytes)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, capture.send)
        except _Abort:
            pass
        except TimeoutError:  # the proxy's total upstream deadline passed mid-body (proxy.UpstreamDeadline)
            self.observer.upstream(time.perf_counter() - started, "timeout")
            await _send_json(send, 504, {"error": "upstream timed out"})
            return
        except Exception:
            if capture.refused is None and capture.done:
                raise  # the app failed after a complete response: let the server log it
            if capture.refused is None:
                logger.exception("search app failed on a screened route")
                capture.refused = "error"
        elapsed = time.perf_counter() - started
        if capture.refused is not None or not capture.done:
            outcome = "error" if capture.refused == "error" else "malformed"
            too_large = capture.refused == "oversize"
            reason = "upstream response too large" if too_large else "upstream response cannot be screened"
            await self._fail(send, elapsed, outcome, reason, route)
            return
        if route in (SEARCH, SUGGEST):
            await self._finish(route, verdict, rules, capture, elapsed, accept_language, send, accept, texts)
        elif plan is not None:
            await answers.finish_multi(self, plan, sub_verdicts, keep, capture, rules, elapsed, accept_language, send)
        else:
            await answers.finish_kind(self, route, verdict, rules, capture, elapsed, accept_language, send)

    async def _finish(self, route: str, verdict: Verdict, rules: RuleSet, capture: _Capture, elapsed: float,
                      accept_language: str, send: Send, accept: str = "", query: Sequence[str] = ()) -> None:
        """A search or suggest page: pages.finish (screened, re-encoded, warned); ``query`` the texts whose
        verdict ``verdict`` is."""
        await pages.finish(self, route, verdict, rules, capture, elapsed, accept_language, send, accept, query)

    def _removed(self, route: str, count: int) -> int | None:
        """The X-Filter-Removed value, or None where the operator has it off. Suggest-like answers
        (suggest routes, index-term lists such as ES _terms_enum) follow the "suggest" switch (off by
        default: a count tells a prober which prefix was listed); every other answer the "search" one."""
        switch = SUGGEST if route in (SUGGEST, TERMS) else SEARCH
        return count if switch in self.removed_header else None

    async def _fail(self, send: Send, elapsed: float, outcome: str, reason: str, route: str = "",
                    detail: str = "") -> None:
        """Answer 502 and log it once: route, adapter, reason (and the request id the log handler adds).
        Never the query, the path or any text of the response."""
        self.observer.upstream(elapsed, outcome)
        why = f"{reason} ({detail})" if detail else reason
        logger.warning("502 on the %s route (%s adapter): %s", route or "screened", self.adapter.name, why,
                       extra={"route": route or "screened", "adapter": self.adapter.name, "reason": why,
                              "status": 502})
        await _send_json(send, 502, {"error": reason})

    async def _send_blocked(self, route: str, verdict: Verdict, rules: RuleSet, params: list[tuple[str, str]],
                            accept: str, accept_language: str, send: Send, cookie: str = "") -> None:
        """The query is blocked: pages.send_blocked (the app is never called)."""
        await pages.send_blocked(self, route, verdict, rules, params, accept, accept_language, send, cookie)


# -- helpers ------------------------------------------------------------------------------------------



def _make_adapter(adapter: str | Adapter, fields: FieldMapping | None, query_param: str | None) -> Adapter:
    if isinstance(adapter, str):
        from filter_proxy.adapters import get_adapter

        return get_adapter(adapter, fields, query_param=query_param) if query_param else get_adapter(adapter, fields)
    if query_param is not None:
        adapter = copy.copy(adapter)  # never change the caller's instance
        adapter.query_param = query_param
    return adapter
