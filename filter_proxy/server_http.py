"""uvicorn's httptools protocol with less work per request: each response's head and first body bytes in
one socket write, the response head built in one pass, and one keep-alive timer per idle period instead of
one per request.

- **One write per response.** uvicorn writes the status line and headers as soon as the app sends
  ``http.response.start``, and the body with the next message: two ``send`` syscalls per response, and on
  loopback two wake-ups of the client. A buffered answer (every screened page) sends both messages in one
  step, so the head is held until the first body message and written with it. When no body message follows
  within the same event-loop iteration (a streamed pass-through route waiting on its upstream), the head
  goes out alone at the next iteration, so a client never waits for headers longer than before.
- **The head in one pass.** uvicorn searches two regular expressions per response header; here the names
  and the values are each checked by one search over their concatenation (both patterns match single
  bytes, so joining cannot make or hide a match). Same checks, same errors, same framing rules.
- **Keep-alive timer.** uvicorn cancels a timer on every read and creates one after every response (a
  timer handle per request). Here a timer is armed when a connection goes idle and none is pending; when
  it fires it closes the connection only if the connection has been idle for the whole timeout since its
  last response, and otherwise re-arms for the rest. Same timeout, same moment of closing.

Everything else (parsing, scope, pipelining, upgrades, 400s, flow control, graceful shutdown) is uvicorn's:
only the request cycle's ``send`` and the keep-alive bookkeeping are overridden. The cycle is swapped in
``_start_asgi_task`` (where uvicorn hands the request's cycle to its task); if a future uvicorn no longer
calls it, responses are simply written as uvicorn writes them. ``filter-proxy serve`` passes
``HttpToolsProtocol`` as uvicorn's ``http`` setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

_HEADER_RE = httptools_impl.HEADER_RE
_HEADER_VALUE_RE = httptools_impl.HEADER_VALUE_RE
_STATUS_LINE = httptools_impl.STATUS_LINE
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})  # read by _start


class _LeanCycle(httptools_impl.RequestResponseCycle):
    """uvicorn's request cycle with ``send`` rewritten (see the module docstring); same instance layout."""

    _held: bytes | None = None
    # The connection's loop, set by the protocol: asyncio.get_running_loop() is a getpid() system call per
    # response on Python 3.11 (it checks the loop belongs to this process).
    _loop: asyncio.AbstractEventLoop | None = None

    def _flush_held(self) -> None:
        head, self._held = self._held, None
        if head and not self.transport.is_closing():
            self.transport.write(head)

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self._start(message)
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")
        if kind != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
            out = b""
        elif self.chunked_encoding:
            out = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more_body:
                out += b"0\r\n\r\n"
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            out = body
        head = self._held
        if head is not None:
            self._held = None
            out = head + out
        if out:
            self.transport.write(out)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    def _start(self, message: Any) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        status = message["status"]
        headers = message.get("headers", ())
        if self.default_headers:
            headers = self.default_headers + list(headers)
        if self.access_log:
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(self.scope), self.scope["method"],
                                    get_path_with_query_string(self.scope), self.scope["http_version"], status)
        content = [_STATUS_LINE[status]]
        has_connection_close = False
        for name, value in headers:
            name = name.lower()
            if name in _FRAMING:  # one set lookup for the other headers instead of three comparisons
                if name == b"content-length":
                    if self.chunked_encoding is None:
                        self.expected_content_length = int(value.decode())
                        self.chunked_encoding = False
                elif name == b"transfer-encoding":
                    if value.lower() == b"chunked":
                        self.expected_content_length = 0
                        self.chunked_encoding = True
                elif b"close" in [t.lower().strip() for t in value.split(b",")]:
                    self.keep_alive = False
                    has_connection_close = True
            content += (name, b": ", value, b"\r\n")
        if _HEADER_RE.search(b"".join(content[1::4])):
            raise RuntimeError("Invalid HTTP header name.")
        if _HEADER_VALUE_RE.search(b"".join(content[3::4])):
            raise RuntimeError("Invalid HTTP header value.")
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True  # neither content-length nor transfer-encoding given
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self._held = b"".join(content)
        (self._loop or asyncio.get_running_loop()).call_soon(self._flush_held)


class HttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    _idle_at: float | None = None  # loop time of the last completed response while idle; None while busy

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if type(cycle) is httptools_impl.RequestResponseCycle:
            cycle.__class__ = _LeanCycle  # same instance layout; only send() differs
            cycle._loop = self.loop
        super()._start_asgi_task(cycle, app)

    # --- keep-alive: one timer per idle period (module docstring) ----------------------------------------
    def _unset_keepalive_if_required(self) -> None:
        self._idle_at = None  # bytes arrived: busy; a pending timer finds this and leaves the connection open

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            self._idle_at = None
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_at = now = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_at(now + self.timeout_keep_alive, self._keep_alive_due)

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        idle = self._idle_at
        if idle is None or self.transport.is_closing():
            return  # busy: the next completed response arms a timer again
        due = idle + self.timeout_keep_alive
        if self.loop.time() >= due:
            self.transport.close()
        else:
            self.timeout_keep_alive_task = self.loop.call_at(due, self._keep_alive_due)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        timer, self.timeout_keep_alive_task = self.timeout_keep_alive_task, None
        if timer is not None:
            timer.cancel()
