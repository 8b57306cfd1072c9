"""Answers of the request side that are not a search page: refusals, OPTIONS on screened routes, and the
screened response kinds other than search and suggest (``kinds.py``) and multi-search (``multisearch.py``).

Functions of the FilterMiddleware instance ``mw`` (kept apart so middleware.py stays the search-page path).
The ASGI helpers come from exchange.py, which both modules share.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import orjson

from filter_proxy import exchange, kinds, multisearch
from filter_proxy.adapters.base import AdapterError
from filter_proxy.adapters.request import parse_query, path_texts
from filter_proxy.adapters.routes import ASYNC, DOCUMENT, DOCUMENTS, Decision
from filter_proxy.events import note_withheld
from filter_proxy.response_guard import listed_echo
from filter_proxy.routing import CanonicalPath
from filter_proxy.screening import decode_body, query_verdict, screen_page, screen_texts
from filter_proxy.warnings import warning_headers

if TYPE_CHECKING:
    from filter_proxy.exchange import Capture, Receive, Scope, Send
    from filter_proxy.middleware import FilterMiddleware
    from filter_proxy.rules.ruleset import RuleSet
    from filter_proxy.verdict import Verdict

logger = logging.getLogger("filter_proxy.middleware")


def carries_query(mw: FilterMiddleware, query_string: bytes) -> bool:
    """Whether the query string holds a non-empty value of the adapter's query parameter."""
    name = mw.adapter.query_param
    if not query_string or name.encode() not in query_string and b"%" not in query_string:
        return False
    return any(k == name and v.strip() for k, v in parse_query(query_string.decode("latin-1")))


async def refuse(mw: FilterMiddleware, decision: Decision, send: Send) -> None:
    if decision.reason == "encoded-slash":  # routing.py: %2F only inside a document id ({id} routes)
        await exchange.send_json(send, 400, {"error": "ambiguous request path: an encoded '/' outside a document id"})
        return
    if decision.reason == "case":
        reason = "the path's letter case differs from the route listed in routes.pass"
    elif decision.route is not None:
        reason = f"refused by {decision.route.origin}"
    else:
        reason = "this route is not in the filter's route table"
    await exchange.send_json(send, 403, {"error": "route not allowed by the filter", "reason": reason,
                                 "allow_with": "routes.pass or routes.screen (filter-proxy serve --print-routes)"})


async def options(mw: FilterMiddleware, decision: Decision, segments: tuple[str, ...], scope: Scope, receive: Receive,
                   send: Send) -> None:
    """OPTIONS on a screened route: its query parameters are screened; the app's answer is sent without
    a body (a preflight needs only the status and headers), so nothing unscreened leaves."""
    query_string: bytes = scope["query_string"]
    params = parse_query(query_string.decode("latin-1")) if query_string else []
    try:
        texts = mw.adapter.query_texts(params, b"", "")
        if decision.route is not None:  # the path's values (an id, an index) are asked for too
            texts = [*texts, *path_texts(decision.route.captured(segments))]
        blocked = query_verdict(texts, mw.holder.current).action == "block"
    except Exception:
        blocked = True  # an unreadable query is answered here, never forwarded
    if blocked:
        allow = ", ".join(mw.routes.methods_for(segments)).encode()
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(b"allow", allow), (b"content-length", b"0"), (b"cache-control", b"no-store"),
                                *mw.adapter.local_headers]})
        await send({"type": "http.response.body", "body": b""})
        return
    capture = exchange.Capture(mw.max_response_bytes)
    scope, receive = with_body(scope, b"", receive)  # a preflight's body is never forwarded
    try:
        with contextlib.suppress(exchange.Abort):
            await mw.app(scope, receive, capture.send)
    except TimeoutError:  # the proxy's total upstream deadline
        await exchange.send_json(send, 504, {"error": "upstream timed out"})
        return
    if not capture.status:
        await exchange.send_json(send, 502, {"error": "upstream response cannot be screened"})
        return
    headers = [(k, v) for k, v in capture.headers if k.lower() not in exchange.STALE_HEADERS]
    headers.append((b"content-length", b"0"))
    await send({"type": "http.response.start", "status": capture.status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def blocked_document(mw: FilterMiddleware, verdict: Verdict, rules: RuleSet, accept_language: str,
                           send: Send) -> bool:
    """A blocked query for one document (a listed id or index in the path) answered as the backend answers a
    missing document (ES ``found: false`` / 404, Meilisearch and Typesense 404), with the ``safety`` object;
    False where the backend's missing document is not a 404 (Solr ``doc: null``: the empty page does).
    Before, such a query got a 200 empty search page: ``exists()`` (a HEAD) read a listed id as present."""
    try:
        status, doc = mw.adapter.document_shape().drop(DOCUMENT, {"_index": None, "_id": None, "found": False},
                                                       {0}, 200)
    except (AdapterError, KeyError, TypeError):
        return False
    if status != 404 or not isinstance(doc, dict):
        return False
    headers = [(b"content-type", exchange.JSON), *warning_headers(False), (b"x-filter-action", b"block"),
               *mw.adapter.local_headers]
    if verdict.warning:
        lang = rules.warnings.choose_language(accept_language or None)
        variant = rules.warnings.pick_variant(verdict.warning, lang)
        doc["safety"] = rules.warnings.safety_object(verdict, lang, variant, mw.help_signer)
        mw.observer.warning_shown(verdict.warning, lang, rules.warnings.text(verdict.warning, lang)[0]
                                  .wording(variant).variant)
    body = orjson.dumps(doc)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


def body_of(mw: FilterMiddleware, capture: Capture) -> tuple[bytes, bool] | None:
    """The captured body, decoded when the app compressed it; None when it cannot be decoded."""
    body = capture.body()
    encoding = capture.encoding
    if encoding is not None and encoding.strip().lower() != b"identity":
        decoded = decode_body(body, encoding, mw.max_response_bytes)
        return None if decoded is None else (decoded, True)
    return body, False


async def finish_kind(
    mw: FilterMiddleware,
    kind: str,
    verdict: Verdict,
    rules: RuleSet,
    capture: Capture,
    elapsed: float,
    accept_language: str,
    send: Send,
) -> None:
    """Screen a document, documents, async, terms, rows or opaque response (``filter_proxy.kinds``).
    What cannot be read is refused (502), whatever its status: nothing unread leaves."""
    status, headers = capture.status, capture.headers
    read = body_of(mw, capture)
    if read is None:
        await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", kind,
                       "undecodable content-encoding")
        return
    body, decoded = read
    if not body or status in (204, 304):
        mw.observer.upstream(elapsed, "ok" if status < 500 else "error")
        await exchange.send_raw(send, status, headers, body, decoded, None, mw._removed(kind, 0))
        return
    try:
        doc = kinds.parse(kind, body, mw.adapter)
        if 200 <= status < 300 and mw.image_screener is not None and kind in (DOCUMENT, DOCUMENTS):
            new_status, doc, removed, _ = await kinds.screen_documents(
                kind, status, doc, mw.adapter, rules, mw.image_screener)
        elif 200 <= status < 300 and mw.image_screener is not None and kind == ASYNC:  # pictures as on _search
            new_status, doc, removed = await kinds.screen_async(status, doc, mw.adapter, rules, mw.image_screener)
        elif 200 <= status < 300:
            new_status, doc, removed = kinds.screen_kind(kind, status, doc, mw.adapter, rules)
        else:  # an error body may quote documents too
            kinds.screen_error(doc, rules)
            new_status, removed = status, []
    except kinds.Withheld as withheld:
        mw.observer.removed(withheld.removal.verdict, withheld.removal.url, withheld.removal.image_hash)
        note_withheld(mw.observer, withheld.reason, withheld.removal.verdict)
        await mw._fail(send, elapsed, "malformed", "upstream response withheld: it holds listed content", kind)
        return
    except (orjson.JSONDecodeError, AdapterError, ValueError, TypeError, KeyError) as exc:
        detail = str(exc) if isinstance(exc, AdapterError) else type(exc).__name__  # never response text
        await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", kind, detail)
        return
    mw.observer.upstream(elapsed, "ok" if status < 500 else "error")
    for removal in removed:
        mw.observer.removed(removal.verdict, removal.url, removal.image_hash)
    action = None
    if verdict.action == "warn" and verdict.warning and isinstance(doc, dict):
        lang = rules.warnings.choose_language(accept_language or None)
        variant = rules.warnings.pick_variant(verdict.warning, lang)
        doc["safety"] = rules.warnings.safety_object(verdict, lang, variant, mw.help_signer)
        mw.observer.warning_shown(verdict.warning, lang, variant)
        action = "warn"
    # What is sent is what was screened: the re-encoding of the parsed document, never the backend's bytes
    # (duplicate keys would read one way here and maybe another way in the client).
    body = kinds.encode(kind, doc, mw.adapter)
    await exchange.send_raw(send, new_status, headers, body, True, action, mw._removed(kind, len(removed)))


async def finish_multi(
    mw: FilterMiddleware,
    plan: multisearch.Plan,
    verdicts: list[Verdict],
    keep: list[int],
    capture: Capture | None,
    rules: RuleSet,
    elapsed: float,
    accept_language: str,
    send: Send,
) -> None:
    """Put a multi-search answer back together in the request's order: forwarded sub-queries get their
    screened sub-responses, blocked ones an empty page with the ``safety`` object in their slot."""
    shape = multisearch.shape_for(mw.adapter)
    lang = rules.warnings.choose_language(accept_language or None)
    doc: Any = None
    pages: list[Any] = []
    removed = 0
    status = 200
    headers: list[tuple[bytes, bytes]] = [(b"content-type", exchange.JSON), *mw.adapter.local_headers]
    if capture is not None:
        status, headers = capture.status, capture.headers
        read = body_of(mw, capture)
        try:
            if read is None:
                raise AdapterError("undecodable body")
            doc = orjson.loads(read[0])
            if not 200 <= status < 300:  # the backend refused the whole request: its error, screened
                kinds.screen_error(doc, rules)
                mw.observer.upstream(elapsed, "ok" if status < 500 else "error")
                await exchange.send_raw(send, status, headers, orjson.dumps(doc), True, None, 0)  # what was read
                return
            pages = shape.pages(doc)
            # Everything beside the sub-responses (ES "took", a key the backend added) is read too: a
            # listed string there has nothing removable around it (before: passed unread).
            kinds.screen_error(shape.envelope(doc), rules)
            if len(pages) != len(keep):
                raise AdapterError("multi-search answered another number of sub-responses")
            for n, page in enumerate(pages):
                try:
                    if isinstance(page, dict) and "error" in page and not ({"hits", "results"} & page.keys()):
                        kinds.screen_error(page, rules)  # one sub-query failed: its error, screened
                        continue
                    if mw.image_screener is None:
                        page, outcome = screen_texts(page, mw.adapter, rules, results=True)
                    else:
                        page, outcome = await screen_page(page, mw.adapter, rules, results=True,
                                                          image_screener=mw.image_screener)
                    kinds.raise_if_withheld(outcome)
                    echo = listed_echo(page, mw.adapter, rules)  # response_guard.py: only what the client sent
                    if echo is not None:
                        raise kinds.Withheld(echo, "echo")
                except (kinds.Withheld, AdapterError) as failed:
                    # One sub-response holds listed content it cannot lose, or has a shape that cannot be
                    # read: where the backend's shape has per-item errors (ES, Typesense), that slot alone
                    # becomes one; the others are kept. Else the whole answer is refused (below).
                    withheld = failed if isinstance(failed, kinds.Withheld) else None
                    item = shape.withheld_item(multisearch.WITHHELD if withheld else multisearch.UNREADABLE)
                    if item is None:
                        raise
                    if withheld is not None:
                        mw.observer.removed(withheld.removal.verdict, withheld.removal.url,
                                            withheld.removal.image_hash)
                        note_withheld(mw.observer, withheld.reason, withheld.removal.verdict)
                    pages[n] = item
                    continue
                pages[n] = page
                removed += len(outcome.removed)
                for removal in outcome.removed:
                    mw.observer.removed(removal.verdict, removal.url, removal.image_hash)
        except kinds.Withheld as withheld:
            mw.observer.removed(withheld.removal.verdict, withheld.removal.url, withheld.removal.image_hash)
            note_withheld(mw.observer, withheld.reason, withheld.removal.verdict)
            await mw._fail(send, elapsed, "malformed", "upstream response withheld: it holds listed content",
                           "multi")
            return
        except (orjson.JSONDecodeError, AdapterError, ValueError, TypeError, KeyError) as exc:
            detail = str(exc) if isinstance(exc, AdapterError) else type(exc).__name__  # never response text
            await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", "multi", detail)
            return
        mw.observer.upstream(elapsed, "ok" if status < 500 else "error")
    answered = dict(zip(keep, pages, strict=True))
    out: list[Any] = []
    action = None
    for i, verdict in enumerate(verdicts):
        page = answered[i] if i in answered else shape.empty(plan, i, mw.adapter)
        if verdict.warning and verdict.action in ("block", "warn") and isinstance(page, dict):
            variant = rules.warnings.pick_variant(verdict.warning, lang)
            page["safety"] = rules.warnings.safety_object(verdict, lang, variant, mw.help_signer)
            mw.observer.warning_shown(verdict.warning, lang, variant)
        if verdict.action in ("block", "warn"):
            action = "block" if verdict.action == "block" or action == "block" else "warn"
        out.append(page)
    doc = shape.assemble(doc, out)
    await exchange.send_raw(send, status, headers, orjson.dumps(doc), True, action, removed)


def canonical_scope(scope: Scope, path: CanonicalPath) -> Scope:
    """The scope the app sees: the canonical path, so the app (or the proxy) serves exactly what was routed."""
    if scope.get("raw_path") == path.raw and scope.get("path") == path.path:
        return scope
    scope = dict(scope)
    scope["path"] = path.path
    scope["raw_path"] = path.raw
    return scope


def with_body(scope: Scope, body: bytes, receive: Receive) -> tuple[Scope, Receive]:
    """A scope and receive for a rewritten request body (content-length set, chunked framing dropped)."""
    scope = dict(scope)
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"transfer-encoding")]
    scope["headers"].append((b"content-length", str(len(body)).encode()))
    return scope, exchange.replay(body, receive)
