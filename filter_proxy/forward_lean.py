"""A lean HTTP/1.1 forward hop: asyncio protocol + httptools' response parser + a keep-alive pool.

Why a client of our own: on the whole proxied request aiohttp's client was ~40 % of a worker's CPU samples
(benchmarks/README.md, "Where a proxied request's time goes"): request and header objects, a multidict
per response, a yarl URL, timers, a stream reader and tracing hooks per request. What a reverse proxy needs
is much less: one ``transport.write`` of the request head (the target verbatim, the caller's headers and
Host), one parser feed per read, and the connection back to the pool. Same contract as the other hops
(``forward.Hop``): nothing added but Host (and ``transfer-encoding: chunked`` for a streamed body of no
stated length), no decompression, no redirects, no cookies, no proxy from the environment.

Pool: idle connections in a LIFO deque per hop (one origin per proxy); a connection goes back only after
its whole response was read and both sides keep it alive. A request that fails on a *reused* connection
before any response byte (the upstream closed it while idle) is retried once on a new connection when it
has no streamed body. Limits: ``max_connections`` open at once (further requests wait, within the
connect timeout), idle ones closed after ``keepalive_expiry``. Timeouts: connect (+ pool wait), and read
(each wait for more response bytes, kept in a coarse table swept every 50 ms instead of a timer handle per
wait: forward_timeouts.py); the proxy's total ``upstream.deadline`` wraps the whole exchange.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

from filter_proxy.forward import Headers, HopResponse, HopTimeout, HopUnreachable
from filter_proxy.forward_timeouts import Timeouts

# Buffered response bytes above which reading from the upstream pauses until the consumer catches up.
_HIGH_WATER = 256 * 1024
_MAX_HEAD_BYTES = 65536  # like the other hops: response heads up to 64 KiB


class _Conn(asyncio.Protocol):
    """One upstream connection and the response being read on it (httptools parser callbacks)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeouts: Timeouts) -> None:
        self.loop = loop
        self.timeouts = timeouts  # the hop's coarse timeout table for this loop (forward_timeouts.py)
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.counted = False  # holds one of the pool's max_connections slots
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._write_ready: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.head_bytes = 0
        self.head_done = self.done = self.skip = self.paused = self.keep_alive = False
        self.until_close = False  # the body ends when the connection does (no length, not chunked)
        self.error: Exception | None = None
        self.received = False

    # --- asyncio protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received = True
        if not self.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.done = True  # a 101: nothing of the upgraded stream is read; the connection is not reused
            self.closed = True
        except httptools.HttpParserError as exc:
            self._fail(HopUnreachable(f"malformed upstream response: {type(exc).__name__}"))
        if not self.head_done and self.head_bytes > _MAX_HEAD_BYTES:
            self._fail(HopUnreachable("upstream response head too large"))
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is None and self.head_done and self.until_close and not self.done and self.error is None:
            self.done = True  # the body was delimited by the (orderly) end of the connection
        elif not self.done and self.error is None:
            self.error = HopUnreachable("upstream closed the connection")
        self._wake()
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    def pause_writing(self) -> None:
        self._write_ready = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)
        self._write_ready = None

    # --- httptools callbacks ---------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # an interim answer (100 Continue): wait for the real one
            self.skip = True
            self.headers = []
            return
        self.status = status
        self.head_done = True
        if status not in (204, 304):
            framed = False
            for name, _ in self.headers:
                low = name.lower()
                if low == b"content-length" or low == b"transfer-encoding":
                    framed = True
                    break
            self.until_close = not framed

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.skip:
            self.skip = False
            return
        self.keep_alive = self.parser.should_keep_alive()  # only valid here: the parser resets after
        self.done = True

    # --- waiting ---------------------------------------------------------------------------------------
    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _timed_out(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(HopTimeout("upstream read timed out"))

    async def wait(self, timeout: float | None) -> None:
        """Until the parser has more for us (or an error / a timeout, raised as HopTimeout)."""
        self._waiter = waiter = self.loop.create_future()
        timer = self.timeouts.add(timeout, self._timed_out) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                self.timeouts.cancel(timer)

    async def drain(self) -> None:
        ready = self._write_ready
        if ready is not None:
            await ready
        if self.closed:
            raise HopUnreachable("upstream closed the connection")

    def take(self) -> list[bytes]:
        chunks = list(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.paused and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        return chunks

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Response:
    def __init__(self, hop: HttptoolsHop, conn: _Conn, head_only: bool) -> None:
        self._hop = hop
        self._conn = conn
        self.status: int = conn.status
        self.raw_headers: Headers = conn.headers
        self._head_only = head_only

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        conn, read = self._conn, self._hop.read_timeout
        if self._head_only:
            return
        while True:
            if conn.chunks:
                for chunk in conn.take():
                    yield chunk
            if conn.done and not conn.chunks:
                return
            if conn.error is not None:
                raise conn.error
            await conn.wait(read)

    def whole_body(self) -> bytes | None:
        """The whole body when the response is already complete (a small answer usually arrives with its
        head, in one read): the proxy then passes it on in one message, without the read loop."""
        conn = self._conn
        if self._head_only:
            return b""
        if not conn.done or conn.error is not None:
            return None
        chunks = conn.take()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def aclose(self) -> None:
        conn = self._conn
        if conn.done and conn.keep_alive and not conn.closed and not self._head_only and not conn.chunks:
            self._hop.release(conn)
        else:
            conn.close()
            self._hop.forget(conn)


class HttptoolsHop:
    """The pool and the request writer (see the module docstring)."""

    def __init__(self, timeout: httpx.Timeout, limits: httpx.Limits) -> None:
        self.connect_timeout = timeout.connect
        self.pool_timeout = timeout.pool
        self.read_timeout = timeout.read
        self.write_timeout = timeout.write
        self.max_connections = limits.max_connections or 0
        self.max_idle = limits.max_keepalive_connections if limits.max_keepalive_connections is not None else 1 << 30
        self.expiry = limits.keepalive_expiry if limits.keepalive_expiry is not None else 1e9
        self._idle: deque[_Conn] = deque()
        self._open = 0
        self._slots: deque[asyncio.Future[None]] = deque()
        self._is_open = False
        self._origin: str | None = None
        self._host_header = b""
        self._address: tuple[str, int, ssl.SSLContext | None, str | None] | None = None
        self._timeouts: Timeouts | None = None

    @property
    def is_open(self) -> bool:
        return self._is_open

    def open(self) -> None:
        self._is_open = True

    def _target(self, origin: str) -> None:
        url = httpx.URL(origin)
        if url.scheme not in ("http", "https") or not url.host:
            raise HopUnreachable("upstream must be an http(s) URL")
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        context = ssl.create_default_context() if tls else None
        self._address = (url.host, port, context, url.host if tls else None)
        self._host_header = origin.split("://", 1)[1].encode("ascii")  # as the other hops send it
        self._origin = origin

    # --- pool ------------------------------------------------------------------------------------------
    def release(self, conn: _Conn) -> None:
        if not self._is_open or len(self._idle) >= self.max_idle:
            conn.close()
            self.forget(conn)
            return
        conn.idle_since = time.monotonic()
        conn._reset()
        conn.reused = True
        self._idle.append(conn)
        self._hand_slot()

    def forget(self, conn: _Conn) -> None:
        """A connection that will not come back: its slot is free."""
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._hand_slot()

    def _hand_slot(self) -> None:
        while self._slots:
            waiter = self._slots.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _idle_connection(self) -> _Conn | None:
        """The most recently released idle connection when it is still open and fresh, else None (then
        ``_connection`` closes the stale ones and opens or waits for one)."""
        idle = self._idle
        if idle:
            conn = idle[-1]
            if not conn.closed and time.monotonic() - conn.idle_since < self.expiry:
                return idle.pop()
        return None

    async def _connection(self, fresh: bool) -> _Conn:
        idle = self._idle
        now = time.monotonic()
        while idle and not fresh:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.expiry:
                return conn
            conn.close()
            self.forget(conn)
        while self.max_connections and self._open >= self.max_connections:
            if idle:  # over the limit with idle connections: close the oldest for a new one
                old = idle.popleft()
                old.close()
                self.forget(old)
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._slots.append(waiter)
            try:
                async with asyncio.timeout(self.pool_timeout):
                    await waiter
            except TimeoutError as exc:
                raise HopTimeout("no upstream connection free") from exc
            if idle and not fresh:
                return await self._connection(False)
        assert self._address is not None
        host, port, context, server_hostname = self._address
        loop = asyncio.get_running_loop()
        self._timeouts = timeouts = Timeouts.of(self._timeouts, loop)
        self._open += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(lambda: _Conn(loop, timeouts), host, port, ssl=context,
                                                       server_hostname=server_hostname)
        except TimeoutError as exc:
            self._open -= 1
            self._hand_slot()
            raise HopTimeout("upstream connect timed out") from exc
        except OSError as exc:
            self._open -= 1
            self._hand_slot()
            raise HopUnreachable(type(exc).__name__) from exc
        except BaseException:
            self._open -= 1
            self._hand_slot()
            raise
        conn.counted = True
        return conn

    # --- one exchange ----------------------------------------------------------------------------------
    async def send(self, method: str, origin: str, target: bytes, headers: Headers,
                   body: AsyncIterator[bytes] | None) -> HopResponse:
        self._is_open = True  # reopened on use after aclose(), like aiohttp's lazily made session
        if origin != self._origin:
            self._target(origin)
        parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self._host_header, b"\r\n"]
        framed = False
        for name, value in headers:
            if name == b"content-length":
                framed = True
            parts += (name, b": ", value, b"\r\n")
        if body is not None and not framed:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        first = b""
        if body is not None:  # the head goes out with the first body chunk (a buffered body: one write)
            first = await anext(body, b"")
            if not framed and first:
                first = b"%x\r\n%b\r\n" % (len(first), first)
        request = b"".join(parts) + first
        for attempt in (0, 1):
            # The usual case, a live idle connection, without a coroutine for the pool's slow path.
            conn = self._idle_connection() if attempt == 0 else None
            if conn is None:
                conn = await self._connection(fresh=attempt == 1)
            try:
                return await self._exchange(conn, method, request, body, framed)
            except HopUnreachable:
                # A reused connection the upstream closed while idle, before any answer: once more on a new
                # connection, when the request can be sent again (no body streamed from the client).
                retry = conn.reused and not conn.received and (body is None or not first)
                conn.close()
                self.forget(conn)
                if attempt == 1 or not retry:
                    raise
            except BaseException:
                conn.close()
                self.forget(conn)
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, conn: _Conn, method: str, request: bytes, body: AsyncIterator[bytes] | None,
                        framed: bool) -> _Response:
        if conn.closed:
            raise HopUnreachable("upstream closed the connection")
        conn.transport.write(request)
        if body is not None:
            async for chunk in body:
                if not chunk:
                    continue
                await conn.drain()
                conn.transport.write(chunk if framed else b"%x\r\n%b\r\n" % (len(chunk), chunk))
            if not framed:
                conn.transport.write(b"0\r\n\r\n")
        while not conn.head_done:
            if conn.error is not None:
                raise conn.error
            await conn.wait(self.read_timeout)
        return _Response(self, conn, head_only=method == "HEAD")

    async def aclose(self) -> None:
        self._is_open = False
        while self._idle:
            conn = self._idle.pop()
            conn.close()
            self.forget(conn)
        await asyncio.sleep(0)  # let the transports finish closing inside the loop that owns them
