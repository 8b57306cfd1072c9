"""The last check on a screened route's response as it leaves: its headers, and bodies that must be empty.

Screening reads the body. A hostile or compromised backend can put content in the head instead:
``Location: https://<listed>/`` on a redirect (the browser follows it), ``Link: <listed>; rel=preload``,
``Refresh``, ``Content-Location`` or any custom header a client shows. ``ResponseGuard`` wraps the ASGI
``send`` of a screened request: every header value except the framing and caching ones (``INERT``) is
checked as text and its URL-shaped parts as URLs (``screening.check_query``: the same checks as a query);
a listed one withholds the response (502, nothing of it sent). It also sends no body where HTTP allows
none (HEAD, 204, 304): an app in process could send one, and nothing screened it. Trailers are dropped
(nothing screens them). Caching directives are replaced by ``private, no-cache``: a page screened under
today's rules must not be served by a shared cache (or a CDN's ``Surrogate-Control``) after a rule update,
and a browser revalidates through the filter, which strips conditional headers, so it is screened again.

``listed_echo`` / ``listed_in_echo`` read the backend's echo of the request (Solr ``responseHeader.params``,
Meilisearch ``query``, Typesense ``request_params``, ES suggest ``text``, SearXNG ``query``), which page
screening skips so that a *warned* query keeps its page. Every string of an echo is screened; a listed
one passes only when it is part of what the client itself sent on this request (``record_request``,
compared without case and runs of spaces: backends echo analysed tokens and trimmed queries). So the
echo of a warned query may hold the warned query, and nothing else listed: before, a warned query's echo
was not read at all, and a hostile backend could answer ``q=<warned term>`` with any listed text there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from filter_proxy.adapters.base import Adapter
from filter_proxy.adapters.walk import strings as walk_strings
from filter_proxy.encoded import add_readings
from filter_proxy.events import FilterObserver, note_withheld
from filter_proxy.exchange import Message, Send, send_json
from filter_proxy.screening import Removal, check_query

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet
    from filter_proxy.verdict import Verdict

__all__ = ["INERT", "ResponseGuard", "listed_echo", "listed_header", "listed_in_echo", "record_request", "uncached"]

logger = logging.getLogger("filter_proxy.middleware")

# Framing, caching and the filter's own headers: values nobody reads as content (skipped, for speed).
INERT = frozenset({
    b"content-type", b"content-length", b"content-encoding", b"transfer-encoding", b"connection",
    b"keep-alive", b"date", b"etag", b"last-modified", b"age", b"vary", b"accept-ranges", b"cache-control",
    b"expires", b"pragma", b"x-elastic-product", b"x-filter-action", b"x-filter-removed",
    b"content-security-policy", b"x-content-type-options", b"referrer-policy", b"x-frame-options",
    b"strict-transport-security", b"allow",
})
_NO_BODY = frozenset({204, 304})
# Directives that let a cache keep (and serve without asking) a page screened under older rules.
_CACHING = frozenset({b"cache-control", b"expires", b"surrogate-control", b"cdn-cache-control", b"pragma"})
_NO_SHARED_CACHE = (b"cache-control", b"private, no-cache")


def uncached(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with their caching directives replaced by ``private, no-cache`` (module docstring), or by
    ``no-store`` where they said so (the filter's warning pages: nothing of them is kept on disk)."""
    kept: list[tuple[bytes, bytes]] = []
    store = True
    for name, value in headers:
        lower = name.lower()
        if lower in _CACHING:
            store = store and not (lower == b"cache-control" and b"no-store" in value.lower())
        else:
            kept.append((name, value))
    kept.append(_NO_SHARED_CACHE if store else (b"cache-control", b"no-store"))
    return kept


def listed_header(headers: Iterable[tuple[bytes, bytes]], rules: RuleSet) -> bytes | None:
    """The name of the first header whose value holds a listed term or URL, else None."""
    found = listed_header_verdict(headers, rules)
    return found[0] if found is not None else None


def listed_header_verdict(headers: Iterable[tuple[bytes, bytes]], rules: RuleSet) -> tuple[bytes, Verdict] | None:
    """(lower-cased name, verdict) of the first header whose value holds a listed term or URL, else None."""
    for name, value in headers:
        lowered = name.lower()
        if lowered in INERT or not value:
            continue
        verdict = check_query([value.decode("latin-1")], rules)
        if verdict.action != "allow":
            return lowered, verdict
    return None


# What the client sent on the screened request being answered (its query texts, as the adapter read them).
# A ContextVar, not an argument: the echo is read in several places of the answer (search pages, multi-search
# sub-pages, async pages, opaque answers, error bodies) and each ASGI request runs in its own task, so one
# request never sees another's texts. Outside a request (scans, tests) it is empty: every echo string is
# then screened like any other string.
_SENT: ContextVar[tuple[str, ...]] = ContextVar("filter_proxy_sent_texts", default=())


def record_request(texts: Iterable[str]) -> None:
    """Remember what the client sent on this request (called once per screened request by the middleware,
    before the backend is asked): the echo check lets a listed echo string through only when the client
    sent it."""
    _SENT.set(tuple(t for t in texts if isinstance(t, str)))


def fold_text(text: str) -> str:
    return " ".join(text.casefold().split())


def _was_sent(text: str, sent: Sequence[str]) -> bool:
    """True when ``text`` is part of one of the client's own texts (case and runs of spaces ignored):
    then the echo tells the client nothing it did not send. Only asked of an echo string that matched."""
    folded = fold_text(text)
    return bool(folded) and any(folded in fold_text(s) for s in sent)


def listed_in_echo(values: Iterable[Any], rules: RuleSet) -> Removal | None:
    """The Removal for the first string (or URL) of the echo ``values`` that is listed and was not sent by
    the client on this request (module docstring), else None. Every string at any depth, keys too, markup
    stripped beside the original, URL-shaped parts as URLs (``adapters.walk``)."""
    texts: list[str] = []
    links: list[str] = []
    for value in values:
        found_texts, found_links = walk_strings(value)
        texts += found_texts
        links += found_links
    return first_unsent(texts, links, rules, _SENT.get)


def first_unsent(texts: list[str], links: list[str], rules: RuleSet,
                 sent_by_client: Callable[[], Sequence[str]]) -> Removal | None:
    """The Removal for the first listed string of ``texts`` (with their decoded readings, added to both
    lists) or listed URL of ``links`` that the client did not send (``sent_by_client()``: asked only once
    something matched), else None."""
    add_readings(texts, links)  # decoded readings a client gets (encoded.py)
    sent: Sequence[str] | None = None
    if texts:
        for text, verdict in zip(texts, rules.check_many(texts), strict=True):
            if verdict.action != "allow":
                sent = sent_by_client() if sent is None else sent
                if not _was_sent(text, sent):
                    return Removal(verdict)
    for link in links:
        verdict = rules.check_url(link)
        if verdict.action != "allow":
            sent = sent_by_client() if sent is None else sent
            if not _was_sent(link, sent):
                return Removal(verdict, link)
    return None


def listed_echo(doc: Any, adapter: Adapter, rules: RuleSet) -> Removal | None:
    """A listed string in the backend's echo of the request that the client did not send (module
    docstring), for any query verdict: page screening skips the echo (``Adapter.echoes``), so this is
    where it is read. The middleware withholds the page on a match."""
    values = []
    for owner, key in adapter.echoes(doc):
        try:
            values.append(owner[key])
        except (KeyError, IndexError, TypeError):
            continue
    return listed_in_echo(values, rules) if values else None


class ResponseGuard:
    """A ``send`` for one screened request (see the module docstring)."""

    __slots__ = ("send", "rules", "head", "empty", "withheld", "observer")

    def __init__(self, send: Send, rules: RuleSet, head: bool = False, observer: FilterObserver | None = None) -> None:
        self.send = send
        self.rules = rules
        self.head = head
        self.empty = head
        self.withheld = False
        self.observer = observer

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            found = listed_header_verdict(message.get("headers", ()), self.rules)
            if found is not None:
                name, verdict = found
                self.withheld = True
                if self.observer is not None:
                    note_withheld(self.observer, "header", verdict)
                logger.warning("502 on a screened route: the response header %s holds listed content (rule %s)",
                               name.decode("latin-1"), verdict.rule_id,
                               extra={"reason": "listed response header", "status": 502})
                await send_json(self.send, 502, {"error": "upstream response withheld: it holds listed content"})
                return
            status = message["status"]
            if status in _NO_BODY or status < 200:
                self.empty = True
            message = {**message, "headers": uncached(message.get("headers", ()))}
            if message.get("trailers"):
                message["trailers"] = False
            await self.send(message)
            return
        if self.withheld or kind == "http.response.trailers":
            return
        if kind != "http.response.body":
            # An extension that sends bytes nothing here read (http.response.pathsend, zerocopysend: a file
            # by path or descriptor): the response ends empty instead.
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        elif self.empty and message.get("body"):
            message = {**message, "body": b""}
        await self.send(message)
