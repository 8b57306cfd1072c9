"""Routes whose answers are read (outcome ``read`` in the route tables): index information, mappings and
settings, aliases, ``_cat`` tables, templates and stored scripts, schema and config reads, task lists,
collection management, and writes whose answers carry documents.

Before, these routes passed unread (streamed back as the backend wrote them), yet their answers hold stored,
operator- or user-supplied strings: synonyms and stop words in settings, alias filters and stored search
templates (queries), task descriptions that quote a running query, index and alias names in a ``_cat``
table, the stored document a Typesense ``DELETE`` answers with. Deny by default: what the filter does not
read, it does not pass on. The request is forwarded as the client sent it (nothing in it is screened: a
write of the operator's indexer is not a search), and the answer is buffered (the response size limit:
larger is refused, 502) and read whole:

- JSON: every string and key at any depth, duplicate keys too (parsed with each object's pairs kept, so a
  key that a client reads first and this parser would have dropped is read); JSON lines likewise;
- text (``text/*``, XML, a body without a content type that is UTF-8): the whole text in overlapping pieces
  of 50,000 characters (URL parts are looked for in a string's first 100,000), markup stripped beside it,
  URL-shaped parts as URLs; a text that parses as JSON (lines) is read as JSON too;
- anything else (YAML, CBOR, Smile, binary) that is not empty: refused (502).

A listed string or URL withholds the whole answer (502, the filter's JSON error), unless it is part of what
the client itself sent on this request (its path, query string, body: ``response_guard``'s echo rule, here
for the whole answer): a write's answer that echoes the document the client wrote may pass, a stored string
it never sent may not. A clean answer is sent byte for byte as the backend sent it. A HEAD is forwarded as a
GET and answered with the status and headers the GET answer gets, without a body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from filter_proxy import exchange
from filter_proxy.adapters.request import parse_query
from filter_proxy.adapters.walk import strings as walk_strings
from filter_proxy.events import note_withheld
from filter_proxy.request_guard import screened_scope
from filter_proxy.response_guard import ResponseGuard, first_unsent, fold_text
from filter_proxy.screening import Removal, decode_body

if TYPE_CHECKING:
    from filter_proxy.exchange import Message, Receive, Scope, Send
    from filter_proxy.middleware import FilterMiddleware
    from filter_proxy.rules.ruleset import RuleSet

logger = logging.getLogger("filter_proxy.middleware")

ROUTE = "read"
_NO_BODY = frozenset({204, 304})
_TEXT_TYPES = ("text/",)
_TEXT_SUBTYPES = ("json", "xml")  # application/json, +json, ndjson; application/xml, +xml (OpenSearch description)


class Unreadable(ValueError):
    """The answer is in a format the filter cannot read (502)."""


class Tee:
    """A ``receive`` that hands the client's body to the app as it comes, keeping up to ``limit`` bytes of
    it: what the client sent, for the echo rule. A longer body is forwarded whole, and only its first
    ``limit`` bytes count as sent (a string past them that the answer repeats is read as not sent)."""

    __slots__ = ("receive", "limit", "chunks", "size")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk and self.size < self.limit:
                kept = chunk[: self.limit - self.size]
                self.chunks.append(kept)
                self.size += len(kept)
        return message

    def body(self) -> bytes:
        return b"".join(self.chunks)


def _empty_receive(receive: Receive) -> Receive:
    return exchange.replay(b"", receive)


def as_get(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
    """A HEAD forwarded as a GET without a body (the answer is read as the GET answer; the client gets its
    status and headers only): the backend cannot answer a HEAD with a status the filter did not read."""
    scope = dict(scope)
    scope["method"] = "GET"
    scope["headers"] = [(k, v) for k, v in scope["headers"]
                        if k.lower() not in (b"content-length", b"transfer-encoding", b"content-type",
                                             b"content-encoding")]
    return scope, _empty_receive(receive)


def sent_texts(segments: Sequence[str], query_string: bytes, body: bytes) -> tuple[str, ...]:
    """What the client sent on this request, folded (case, runs of spaces): the path's segments and query
    parameters percent-decoded, the body as text and, when it is JSON (lines) or a form, its strings."""
    texts: list[str] = [unquote(s) for s in segments]
    if query_string:
        for name, value in parse_query(query_string.decode("latin-1")):
            texts += (name, value)
    if body:
        text = body.decode("utf-8", "replace")
        texts.append(text)
        for doc in _json_documents(text):
            found, links = walk_strings(doc)
            texts += found
            texts += links
        if "=" in text and "{" not in text[:1]:
            for name, value in parse_query(text):
                texts += (name, value)
    return tuple(fold_text(t) for t in texts if t)


def _pairs(pairs: list[tuple[str, Any]]) -> list[Any]:
    # Every key and value of an object, duplicates included (a dict would keep only the last one).
    return [item for pair in pairs for item in pair]


def _json_documents(text: str) -> list[Any]:
    """The JSON documents of ``text``: one, or one a line (JSON lines); [] when it is neither."""
    try:
        return [json.loads(text, object_pairs_hook=_pairs)]
    except ValueError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return []
    try:
        return [json.loads(line, object_pairs_hook=_pairs) for line in lines]
    except ValueError:
        return []


def _media(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def readable(body: bytes, media: str | None) -> list[Any]:
    """The values to read in an answer: its JSON documents, and for text its whole text as well. Raises
    Unreadable when the answer is neither JSON nor text (or not UTF-8)."""
    is_json = media is not None and "json" in media.rsplit("/", 1)[-1]
    is_text = media is None or media.startswith(_TEXT_TYPES) or any(s in media.rsplit("/", 1)[-1]
                                                                    for s in _TEXT_SUBTYPES)
    if not is_text:
        raise Unreadable(f"an answer of type {media} cannot be read")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("the answer is not UTF-8 text") from None
    documents = _json_documents(text)
    if is_json:
        if not documents:
            raise Unreadable("a JSON answer that does not parse")
        return documents
    return [*pieces(text), *documents]  # a long text in overlapping pieces, each read whole


_PIECE = 50_000  # below walk's URL scan limit (a longer string has URL parts looked for in its start only)
_OVERLAP = 4_096  # pieces overlap: a URL or phrase across a cut is whole in one of them


def pieces(text: str) -> list[str]:
    """A long text (a ``_cat`` table, a page, a long JSON string) in overlapping pieces short enough that every
    URL in it is looked for (``walk.url_parts`` reads the first 100,000 characters of a string)."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + _PIECE, len(text))
        out.append(text[start:end])
        if end == len(text):
            break
        start = end - _OVERLAP
    return out


def listed_unsent(values: Sequence[Any], rules: RuleSet, sent_by_client: Callable[[], tuple[str, ...]]
                  ) -> Removal | None:
    """The Removal for the first listed string or URL of ``values`` (every string and key at any depth,
    markup stripped beside it, URL-shaped parts as URLs, decoded readings) that the client did not send
    (``sent_by_client()``: folded texts, asked only once something matched)."""
    texts: list[str] = []
    links: list[str] = []
    for value in values:
        found, found_links = walk_strings(value)
        texts += found
        links += found_links
    # A long JSON string: in pieces too (a text answer is cut into pieces already, in ``readable``).
    long = [piece for text in texts if len(text) > _PIECE for piece in pieces(text)]
    if long:
        found, found_links = walk_strings(long)
        texts += found
        links += found_links
    return first_unsent(texts, links, rules, sent_by_client)


async def read_route(mw: FilterMiddleware, scope: Scope, receive: Receive, send: Send,
                     segments: Sequence[str]) -> None:
    """Forward the request, read the whole answer (module docstring), send it unchanged or refuse it."""
    rules = mw.holder.current  # once: a reload mid-request never mixes two rule sets
    head = scope["method"] == "HEAD"
    send = ResponseGuard(send, rules, head, mw.observer)  # headers screened, no body on HEAD / 204 / 304
    scope = screened_scope(scope)  # the whole answer, fresh, uncompressed
    if head:
        scope, receive = as_get(scope, receive)
    tee = Tee(receive, mw.max_body_bytes)
    capture = exchange.Capture(mw.max_response_bytes)
    started = time.perf_counter()
    try:
        with contextlib.suppress(exchange.Abort):
            await mw.app(scope, tee, capture.send)
    except TimeoutError:  # the proxy's total upstream deadline
        mw.observer.upstream(time.perf_counter() - started, "timeout")
        await exchange.send_json(send, 504, {"error": "upstream timed out"})
        return
    except Exception:
        if capture.refused is None and capture.done:
            raise
        logger.exception("search app failed on a read route")
        capture.refused = "error"
    elapsed = time.perf_counter() - started
    if capture.refused is not None or not capture.done or not capture.status:
        too_large = capture.refused == "oversize"
        reason = "upstream response too large" if too_large else "upstream response cannot be screened"
        await mw._fail(send, elapsed, "error" if capture.refused == "error" else "malformed", reason, ROUTE)
        return
    status, headers = capture.status, capture.headers
    body = capture.body()
    decoded = False
    if capture.encoding is not None and capture.encoding.strip().lower() != b"identity":
        plain = decode_body(body, capture.encoding, mw.max_response_bytes)
        if plain is None:
            await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", ROUTE,
                           "undecodable content-encoding")
            return
        body, decoded = plain, True
    if body and status not in _NO_BODY:
        try:
            values = readable(body, _media(headers))
            found = listed_unsent(values, rules, lambda: sent_texts(segments, scope["query_string"], tee.body()))
        except (Unreadable, ValueError, TypeError, RecursionError) as exc:
            detail = str(exc) if isinstance(exc, Unreadable) else type(exc).__name__  # never response text
            await mw._fail(send, elapsed, "malformed", "upstream response cannot be screened", ROUTE, detail)
            return
        if found is not None:
            mw.observer.removed(found.verdict, found.url, found.image_hash)
            note_withheld(mw.observer, "content", found.verdict)
            await mw._fail(send, elapsed, "malformed", "upstream response withheld: it holds listed content", ROUTE)
            return
    mw.observer.upstream(elapsed, "ok" if status < 500 else "error")
    await exchange.send_raw(send, status, headers, body, decoded, None, None)
