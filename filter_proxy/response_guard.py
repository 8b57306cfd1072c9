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
and a browser revalidates through the filter, which strips conditional headers, so it is screened again. ``listed_echo`` reads the backend's echo of the request, which page screening
skips, when the query was allowed (the middleware withholds the page on a match).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from filter_proxy.adapters.base import Adapter
from filter_proxy.exchange import Message, Send, send_json
from filter_proxy.screening import Removal, check_query, screen_value

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

__all__ = ["INERT", "ResponseGuard", "listed_echo", "listed_header", "uncached"]

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
    for name, value in headers:
        lowered = name.lower()
        if lowered in INERT or not value:
            continue
        text = value.decode("latin-1")
        if check_query([text], rules).action != "allow":
            return lowered
    return None


def listed_echo(doc: Any, adapter: Adapter, rules: RuleSet) -> Removal | None:
    """A listed string in the backend's echo of the request (Solr ``responseHeader``, Meilisearch ``query``,
    Typesense ``request_params``, ES suggest ``text``, SearXNG ``query``). Page screening skips echoes so
    that a *warned* query keeps its page; ask this only when the query was allowed: the echo of an
    allowed request holds nothing listed, so a listed echo was put there by the backend (a hostile one
    could answer any query with listed text in ``query``)."""
    for owner, key in adapter.echoes(doc):
        try:
            value = owner[key]
        except (KeyError, IndexError, TypeError):
            continue
        found = screen_value(value, rules)
        if found is not None:
            return found
    return None


class ResponseGuard:
    """A ``send`` for one screened request (see the module docstring)."""

    __slots__ = ("send", "rules", "head", "empty", "withheld")

    def __init__(self, send: Send, rules: RuleSet, head: bool = False) -> None:
        self.send = send
        self.rules = rules
        self.head = head
        self.empty = head
        self.withheld = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            name = listed_header(message.get("headers", ()), self.rules)
            if name is not None:
                self.withheld = True
                logger.warning("502 on a screened route: the response header %s holds listed content",
                               name.decode("latin-1"), extra={"reason": "listed response header", "status": 502})
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
