"""The buffered ASGI exchange of a screened route: read and replay the request body, capture the app's
response within a size limit, and send buffered responses with headers that describe what is sent.

A leaf module (ASGI types and bytes only), so the middleware and its answers share it without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filter_proxy.warnings import warning_headers

__all__ = ["ASGIApp", "Abort", "Capture", "Message", "Receive", "Scope", "Send", "read_body", "replay",
           "send_json", "send_raw", "send_warning", "JSON"]

# Responses that never end cannot be screened as one page: refuse them at once instead of buffering.
STREAMING_TYPES = (b"text/event-stream", b"application/x-ndjson", b"multipart/x-mixed-replace")
# Headers of the app's response that no longer describe the re-encoded body.
STALE_HEADERS = frozenset({b"content-length", b"content-encoding", b"etag", b"content-md5", b"accept-ranges"})
NO_CACHE = frozenset({b"cache-control"})  # replaced by no-store on a response that carries a warning
JSON = b"application/json"
# The headers send_raw drops, by (rewritten, carries a warning): made once, not per response.
_STALE = {(rewritten, warned): (STALE_HEADERS if rewritten else frozenset()) | (NO_CACHE if warned else frozenset())
          for rewritten in (False, True) for warned in (False, True)}


class Abort(Exception):
    """Raised inside the wrapped ``send`` to stop an app whose response cannot be screened."""


class Capture:
    """Collects the app's response on a screened route (status, headers, body), within a size limit."""

    __slots__ = ("status", "headers", "encoding", "chunks", "size", "limit", "done", "refused")

    def __init__(self, limit: int) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.encoding: bytes | None = None  # the content-encoding header, read while the headers are checked
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.done = False
        self.refused: str | None = None  # why the response was refused ("oversize", "streaming")

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                self.size += len(body)
                if self.size > self.limit:
                    self.refused = "oversize"
                    raise Abort
                self.chunks.append(body)
            if not message.get("more_body", False):
                self.done = True
        elif kind == "http.response.start":
            self.status = message["status"]
            headers = message.get("headers", ())
            # Kept as sent (a list, per ASGI): the response is rebuilt from it, never changed in place.
            self.headers = headers if type(headers) is list else list(headers)
            self.encoding = None
            for name, value in self.headers:
                name = name.lower()
                if name == b"content-type":
                    if value.lower().startswith(STREAMING_TYPES):
                        self.refused = "streaming"
                        raise Abort
                elif name == b"content-length":
                    if value.isdigit() and int(value) > self.limit:
                        self.refused = "oversize"  # refused before a byte of the body is read
                        raise Abort
                elif name == b"content-encoding" and self.encoding is None:
                    self.encoding = value

    def body(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # client went away
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body to the app once, then defers to the real one."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def send_raw(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    rewritten: bool,
    action: str | None,
    removed: int | None,
) -> None:
    """Send a buffered response; when the body was rewritten, drop headers that described the old one."""
    if rewritten or action is not None:
        stale = _STALE[bool(rewritten), action is not None]
        out = [(k, v) for k, v in headers if k.lower() not in stale]
        if rewritten:
            out.append((b"content-length", str(len(body)).encode()))
    else:
        out = list(headers)
    if removed is not None:
        out.append((b"x-filter-removed", str(removed).encode()))
    if action is not None:
        out.append((b"x-filter-action", action.encode()))
        out.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def send_warning(send: Send, body: bytes, content_type: bytes, action: str, removed: int | None,
                        extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A response that carries a warning (page or JSON): the security headers of warnings.py."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               *warning_headers(content_type != JSON), (b"x-filter-action", action.encode()), *extra]
    if removed is not None:
        headers.append((b"x-filter-removed", str(removed).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, doc: dict[str, Any]) -> None:
    body = orjson.dumps(doc)
    headers = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
