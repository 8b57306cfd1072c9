"""The answers of search and suggest routes, for FilterMiddleware (functions of it, like answers.py):
``finish`` screens the app's captured page and sends its re-encoding (with the warn notice when the query
was warned), ``send_blocked`` answers a blocked query without calling the app. A leaf besides the
middleware, which imports it (the middleware only as a type here: no cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from filter_proxy import kinds
from filter_proxy.adapters.base import Adapter, AdapterError
from filter_proxy.events import note_withheld
from filter_proxy.exchange import JSON as _JSON
from filter_proxy.exchange import send_raw as _send_raw
from filter_proxy.exchange import send_warning as _send_warning
from filter_proxy.response_guard import listed_echo
from filter_proxy.screening import (
    PageOutcome,
    decode_body,
    prefers_html,
    screen_page,
    screen_texts,
    screen_value,
)
from filter_proxy.warnings import warn_page

if TYPE_CHECKING:
    from filter_proxy.exchange import Capture as _Capture
    from filter_proxy.exchange import Send
    from filter_proxy.middleware import FilterMiddleware
    from filter_proxy.page_results import Removal
    from filter_proxy.rules.ruleset import RuleSet
    from filter_proxy.verdict import Verdict

SEARCH = "search"
SUGGEST = "suggest"
# A non-JSON error body (an HTML or text error page) up to this size is screened as text and passed when
# clean; a longer one is refused (502): short error pages are the norm, long ones may quote content.
MAX_PLAIN_ERROR_BYTES = 8192


async def finish(
    mw: FilterMiddleware,
    route: str,
    verdict: Verdict,
    rules: RuleSet,
    capture: _Capture,
    elapsed: float,
    accept_language: str,
    send: Send,
    accept: str = "",
    query: Sequence[str] = (),
) -> None:
    """``query`` holds the query texts the client sent (``middleware._screen``: what ``record_request``
    recorded): an echo that is exactly one of them needs no second reading (``_echoes_read``)."""
    status = capture.status
    body = capture.body()
    headers = capture.headers
    observer = mw.observer
    rewritten = False
    encoding = capture.encoding
    if encoding is not None and encoding.strip().lower() != b"identity":
        decoded = decode_body(body, encoding, mw.max_response_bytes)
        if decoded is None:
            await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", route,
                             "undecodable content-encoding")
            return
        body, rewritten = decoded, True
    ok = 200 <= status < 300
    if status >= 500:
        observer.upstream(elapsed, "timeout" if status == 504 else "error")
    if not body or status in (204, 304):
        if status < 500:
            observer.upstream(elapsed, "ok")
        await _send_raw(send, status, headers, body, rewritten, None, mw._removed(route, 0))
        return
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        # A non-JSON error body passes only when it is short text with nothing listed in it (an error
        # page from a proxy in between); anything else on a screened route is refused.
        readable, listed = (False, None) if ok or len(body) > MAX_PLAIN_ERROR_BYTES else _read_plain_text(body, rules)
        if listed is not None:  # withheld for what it holds, counted as such (never the text)
            observer.removed(listed.verdict, listed.url, listed.image_hash)
            note_withheld(observer, "content", listed.verdict)
        if not readable or listed is not None:
            await mw._fail(send, elapsed, "malformed", "upstream response is not valid JSON" if ok else
                             "upstream error response cannot be screened", route)
        else:
            await _send_raw(send, status, headers, body, rewritten, None, mw._removed(route, 0))
        return
    whole = False  # screened whole, as an error body in no page shape
    try:
        if mw.image_screener is None:  # no coroutine on the common path
            doc, outcome = screen_texts(doc, mw.adapter, rules, results=route == SEARCH)
        else:
            doc, outcome = await screen_page(
                doc, mw.adapter, rules, results=route == SEARCH, image_screener=mw.image_screener
            )
    except Exception as exc:
        if ok:
            # An AdapterError's message is ours and names only the shape (keys, pointers); any other
            # exception's message may quote result text, so only its type. Never the query or the path.
            detail = str(exc) if isinstance(exc, AdapterError) else type(exc).__name__
            await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", route, detail)
            return
        # An error body in no page shape (a backend's error JSON, which can quote documents): every
        # string of it is screened; it is sent, re-encoded, only when nothing in it is listed.
        outcome = PageOutcome(withheld=screen_value(doc, rules))
        whole = True
    reason = "content"
    # An error body screened whole has no page echo to read apart (its echo was read with the rest; the
    # adapter cannot find an echo in a shape it cannot read, and asking it raised before).
    if outcome.withheld is None and not whole and not _echoes_read(doc, mw.adapter, query):
        # response_guard.py: the echo holds nothing listed the client did not send
        outcome.withheld, reason = listed_echo(doc, mw.adapter, rules), "echo"
    if outcome.withheld is not None:
        observer.removed(outcome.withheld.verdict, outcome.withheld.url, outcome.withheld.image_hash)
        note_withheld(observer, reason, outcome.withheld.verdict)
        await mw._fail(send, elapsed, "malformed", "upstream response withheld: it cannot be screened", route)
        return
    if status < 500:
        observer.upstream(elapsed, "ok")
    for removal in outcome.removed:
        observer.removed(removal.verdict, removal.url, removal.image_hash)
    action = None
    if verdict.action == "warn" and verdict.warning:
        action = "warn"
        lang = rules.warnings.choose_language(accept_language or None)
        variant = rules.warnings.pick_variant(verdict.warning, lang)
        if isinstance(doc, dict):
            doc["safety"] = rules.warnings.safety_object(verdict, lang, variant, mw.help_signer)
            observer.warning_shown(verdict.warning, lang, variant)
    removed = mw._removed(route, len(outcome.removed))
    if action is not None and route == SEARCH and ok and prefers_html(accept):
        # A browser gets the notice above the (screened) results, as a page, like a blocked search.
        page = warn_page(rules.warnings, verdict, lang, mw.adapter, doc, mw.back_url, variant,
                         mw.help_signer)
        await _send_warning(send, page.encode("utf-8"), b"text/html; charset=utf-8", action, removed)
        return
    # What is sent is what was screened: always the re-encoding of the parsed document, never the
    # backend's bytes. Those may hold duplicate keys, which orjson (like most parsers) reads as the last
    # one while a client may read the first; re-encoding makes them one document (~20 us for 20 kB).
    body, rewritten = orjson.dumps(doc), True
    await _send_raw(send, status, headers, body, rewritten, action, removed)


async def send_blocked(
    mw: FilterMiddleware,
    route: str,
    verdict: Verdict,
    rules: RuleSet,
    params: list[tuple[str, str]],
    accept: str,
    accept_language: str,
    send: Send,
    cookie: str = "",
) -> None:
    """The query is blocked: the app is never called. A warning page for browsers, else the backend's
    own empty shape with a ``safety`` object. The rule id is never included."""
    catalog = rules.warnings
    lang = catalog.choose_language(accept_language or None)
    variant = catalog.pick_variant(verdict.warning, lang)
    if route == SEARCH and prefers_html(accept):
        body = catalog.render_html(verdict, lang, back_url=mw.back_url, variant=variant,
                                   signer=mw.help_signer).encode("utf-8")
        content_type = b"text/html; charset=utf-8"
    else:
        # Every screened kind but suggestions answers a blocked query with the backend's empty page.
        if route == SUGGEST:
            doc = mw.adapter.empty_suggestions(params)
        elif route == SEARCH:
            doc = mw.adapter.empty(params)
        else:
            doc = kinds.blocked(route, mw.adapter)
        if isinstance(doc, dict) and verdict.warning:
            doc["safety"] = catalog.safety_object(verdict, lang, variant, mw.help_signer)
        body = orjson.dumps(doc)
        content_type = _JSON
    extra = list(mw.adapter.local_headers)
    if verdict.warning and (content_type != _JSON or isinstance(doc, dict)):
        shown = catalog.text(verdict.warning, lang)[0].wording(variant).variant
        mw.observer.warning_shown(verdict.warning, lang, shown)
        if mw.repeat_cookie is not None and route == SEARCH:
            # Opt-in (funnel/cookie.py): a blocked search after a warning is counted for that warning's
            # variant; the new warning replaces the cookie, so each warning has at most one repeat.
            follow = mw.repeat_cookie.read(cookie) if cookie else None
            if follow is not None:
                mw.observer.repeat_search(follow.kind, follow.variant)
            header = mw.repeat_cookie.header(verdict.warning, shown)
            if header is not None:
                extra.append(header)
    await _send_warning(send, body, content_type, "block", mw._removed(route, 0), extra)


def _echoes_read(doc: Any, adapter: Adapter, query: Sequence[str]) -> bool:
    """True when every echo of the request in ``doc`` is a string that is exactly one of the query texts the
    client sent (``query``, as ``record_request`` recorded them), without markup: ``listed_echo`` passes
    such an echo whatever it holds (a listed string or URL part of it is part of what the client sent), so
    reading it costs a check and changes nothing. Anything else is read by ``listed_echo``."""
    echoes = adapter.echoes(doc)
    if not echoes or not query:
        return not echoes
    plain = {text for text in query if type(text) is str}
    for owner, key in echoes:
        try:
            value = owner[key]
        except (KeyError, IndexError, TypeError):
            continue
        if type(value) is not str or "<" in value or value not in plain:
            return False
    return True


def _read_plain_text(body: bytes, rules: RuleSet) -> tuple[bool, Removal | None]:
    """(whether ``body`` is UTF-8 text, the first listed string or URL in it, markup stripped too)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False, None
    return True, screen_value(text, rules)
