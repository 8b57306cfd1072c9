"""Reverse proxy: forward requests to an upstream search API over one pooled client, wrapped in
FilterMiddleware so that the configured search and suggest routes are screened.

Failure policy (DESIGN §7): upstream timeout → 504, connection error or 5xx → 502; the middleware adds
malformed or oversize responses on screened routes → 502. Other routes are streamed, never buffered.

Every upstream exchange (request sent, headers and the whole body read) runs under one total deadline
(``deadline``, config ``upstream.deadline``). httpx's own timeouts are per read, so an upstream that drips
one byte every half second would otherwise hold a request (and a connection slot) indefinitely. Past the
deadline before the response started: 504. After it started (a slow body): ``UpstreamDeadline`` is raised,
which the filtering middleware turns into 504 on a screened route, and which makes the server drop the
connection on a streamed pass-through route (its status line is already out; a short body must not look
complete). The deadline cancels the request's task as ``asyncio.timeout`` does, from a coarse timeout table
(forward_timeouts.py: up to 50 ms late, no timer handle per request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from filter_proxy.adapters.base import Adapter, FieldMapping
from filter_proxy.events import FilterObserver
from filter_proxy.forward import AiohttpHop, Hop, HopTimeout, HopUnreachable, HttpxHop, sendable_target
from filter_proxy.forward_timeouts import Timeouts
from filter_proxy.middleware import FilterMiddleware, Receive, Scope, Send
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.screening import ImageScreenerLike

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

logger = logging.getLogger("filter_proxy.proxy")

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. Host is rewritten to the upstream's.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)
DEFAULT_DEADLINE = 10.0  # seconds for one whole upstream exchange
# Forward-hop clients: filter_proxy/forward.py (aiohttp, httpx) and forward_lean.py (httptools).
HOPS = ("httptools", "aiohttp", "httpx")


class UpstreamDeadline(TimeoutError):
    """The total deadline passed after the response had started (a slow body)."""


class ReverseProxy:
    """Pure ASGI reverse proxy to ``upstream`` (``http(s)://host[:port][/prefix]``).

    The forward hop (filter_proxy/forward.py) is aiohttp's client, created on lifespan startup (or on first
    use when the server runs no lifespan) and closed on shutdown. ``hop="httpx"`` uses an httpx client of
    our own instead (kept for comparison in benchmarks); an httpx ``client`` passed in is used as is and
    never closed here.
    """

    # It forwards ``raw_path`` byte for byte (``_forward``), so an encoded "/" in a document id reaches the
    # backend as sent; FilterMiddleware then lets one through on an ``{id}`` route (routing.py).
    forwards_raw_path = True

    def __init__(
        self,
        upstream: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        client: httpx.AsyncClient | None = None,
        deadline: float = DEFAULT_DEADLINE,
        hop: str = "httptools",
    ) -> None:
        if not deadline > 0:
            raise ValueError(f"deadline must be > 0 seconds, not {deadline!r}")
        if hop not in HOPS:
            raise ValueError(f"hop must be one of {', '.join(HOPS)}, not {hop!r}")
        base = httpx.URL(upstream)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"upstream must be an http(s) URL with a host, not {upstream!r}")
        self.upstream = base
        self._origin = str(base.copy_with(raw_path=b"/")).rstrip("/")
        self._prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self.timeout = timeout
        self.limits = limits
        self.deadline = deadline
        self.hop_kind = "httpx" if client is not None else hop
        self._caller_client = client
        self._hop: Hop | None = None
        self._timeouts: Timeouts | None = None

    @property
    def hop(self) -> Hop:
        if self._hop is None:
            if self._caller_client is not None:
                self._hop = HttpxHop(self.timeout, self.limits, client=self._caller_client)
            elif self.hop_kind == "httpx":
                self._hop = HttpxHop(self.timeout, self.limits)
            elif self.hop_kind == "aiohttp":
                self._hop = AiohttpHop(self.timeout, self.limits)
            else:
                from filter_proxy.forward_lean import HttptoolsHop

                self._hop = HttptoolsHop(self.timeout, self.limits)
        return self._hop

    async def aclose(self) -> None:
        if self._hop is not None:
            await self._hop.aclose()
            self._hop = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._forward(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":  # not proxied: refuse the handshake (HTTP 403)
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.hop.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers, has_body = _request_headers(scope)
        # The canonical path the middleware routed on (it rewrote raw_path), byte for byte.
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string", b"")
        path = self._prefix + raw_path
        target = path + (b"?" + query if query else b"")
        # Nothing is sent unless the upstream would see exactly the routed target.
        if not sendable_target(target):
            await _error(send, 400, "request path cannot be forwarded as routed")
            return
        # The total deadline cancels this task, as asyncio.timeout() does, but from the proxy's coarse timeout
        # table (forward_timeouts.py) instead of a timer handle and a context manager per request.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        watch = _Watch(task)
        self._timeouts = timeouts = Timeouts.of(self._timeouts, loop)
        timer = timeouts.add(self.deadline, watch.expire)
        try:
            await self._exchange(scope["method"], target, headers, _body(receive) if has_body else None,
                                 send, watch)
        except asyncio.CancelledError:
            if watch.expired:
                watch.expired = False
                if task.uncancel() <= watch.cancelling:  # the deadline's own cancellation, nobody else's
                    self._deadline_passed(watch)
                    await _error(send, 504, "upstream timed out")
                    return
            raise  # cancelled from outside (client gone, shutdown)
        finally:
            timeouts.cancel(timer)
            if watch.expired:  # expired, but its cancellation did not surface here as CancelledError
                watch.expired = False
                task.uncancel()

    def _deadline_passed(self, watch: _Watch) -> None:
        if watch.started:
            logger.warning("upstream %s response exceeded the %.1f s deadline mid-body", self.upstream.host,
                           self.deadline)
            raise UpstreamDeadline(f"upstream response exceeded {self.deadline} s") from None

    async def _exchange(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: Any,
                        send: Send, watch: _Watch) -> None:
        try:
            response = await self.hop.send(method, self._origin, target, headers, body)
        except HopTimeout:
            watch.started = True
            await _error(send, 504, "upstream timed out")
            return
        except HopUnreachable as exc:
            logger.warning("upstream %s unreachable: %s", self.upstream.host, exc)
            watch.started = True
            await _error(send, 502, "upstream unreachable")
            return
        except ValueError:
            watch.started = True
            await _error(send, 400, "request path cannot be forwarded as routed")
            return
        try:
            watch.started = True
            if response.status >= 500:
                # The upstream's own error page may say anything: a clear 502 instead.
                await _error(send, 502, f"upstream error {response.status}")
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": _response_headers(response.raw_headers),
                }
            )
            # Raw bytes: a pass-through route keeps the upstream's content-encoding and length as they are.
            whole = response.whole_body()
            if whole is not None:  # already all here: one message instead of the read loop
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return
            async for chunk in response.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


class _Watch:
    """One request's total deadline: the task to cancel when it passes, and whether the answer has started
    (then the deadline cannot become a 504)."""

    __slots__ = ("task", "cancelling", "expired", "started")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.cancelling = task.cancelling()
        self.expired = False
        self.started = False

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()


def create_proxy_app(
    upstream: str,
    rules: RuleSet | RuleHolder,
    adapter: str | Adapter = "generic",
    *,
    search_paths: Sequence[str] | None = None,
    suggest_paths: Sequence[str] | None = None,
    screen_routes: Sequence[str] = (),
    pass_routes: Sequence[str] = (),
    refuse_routes: Sequence[str] = (),
    read_routes: Sequence[str] = (),
    query_param: str | None = None,
    fields: FieldMapping | None = None,
    observer: FilterObserver | None = None,
    image_screener: ImageScreenerLike | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_response_bytes: int = 10_000_000,
    max_body_bytes: int = 1_000_000,
    client: httpx.AsyncClient | None = None,
    limits: httpx.Limits = DEFAULT_LIMITS,
    removed_header: Sequence[str] = ("search",),
    back_url: str = "/",
    deadline: float = DEFAULT_DEADLINE,
    hop: str = "httptools",
) -> FilterMiddleware:
    """A filtering reverse proxy in front of ``upstream``: FilterMiddleware around a ReverseProxy.

    The returned app's ``.app`` is the ReverseProxy (its ``aclose()`` closes the pooled client).
    """
    proxy = ReverseProxy(upstream, timeout=timeout, limits=limits, client=client, deadline=deadline, hop=hop)
    return FilterMiddleware(
        proxy,
        rules=rules,
        adapter=adapter,
        search_paths=search_paths,
        suggest_paths=suggest_paths,
        screen_routes=screen_routes,
        pass_routes=pass_routes,
        refuse_routes=refuse_routes,
        read_routes=read_routes,
        query_param=query_param,
        fields=fields,
        observer=observer,
        image_screener=image_screener,
        max_body_bytes=max_body_bytes,
        max_response_bytes=max_response_bytes,
        removed_header=removed_header,
        back_url=back_url,
    )


# Request header names the single pass below handles specially (everything else is copied as is).
_REQUEST_SPECIAL = HOP_BY_HOP | {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                                 b"content-length"}


def _request_headers(scope: Scope) -> tuple[list[tuple[bytes, bytes]], bool]:
    """End-to-end request headers plus X-Forwarded-*, and whether the request has a body.

    One pass over the headers; a request with a Connection header (rare: browsers and HTTP/1.1 clients
    keep-alive by default) takes ``_request_headers_named``, which first reads the names it lists."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    out: list[tuple[bytes, bytes]] = []
    forwarded_for = host = b""
    has_body = False
    for name, value in raw:
        name = name.lower()
        if name in _REQUEST_SPECIAL:
            if name == b"connection":
                return _request_headers_named(scope)
            if name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"content-length":
                has_body = value != b"0"
                out.append((name, value))
            elif name == b"transfer-encoding":
                has_body = True
            # other hop-by-hop names, X-Forwarded-Proto/-Host: dropped (the latter replaced below)
        elif not name.startswith(b"proxy-"):
            out.append((name, value))
    return _forwarded(scope, out, forwarded_for, host), has_body


def _request_headers_named(scope: Scope) -> tuple[list[tuple[bytes, bytes]], bool]:
    """``_request_headers`` when a Connection header names more hop-by-hop headers."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    named = _connection_tokens(raw)
    out: list[tuple[bytes, bytes]] = []
    forwarded_for = host = b""
    has_body = False
    for name, value in raw:
        name = name.lower()
        if name in HOP_BY_HOP or name in named or name.startswith(b"proxy-"):
            if name == b"transfer-encoding":
                has_body = True
            continue
        if name == b"host":
            host = value
        elif name == b"x-forwarded-for":
            forwarded_for = value
        elif name in (b"x-forwarded-proto", b"x-forwarded-host"):
            continue  # replaced below with what this hop saw
        else:
            if name == b"content-length":
                has_body = value != b"0"
            out.append((name, value))
    return _forwarded(scope, out, forwarded_for, host), has_body


def _forwarded(scope: Scope, out: list[tuple[bytes, bytes]], forwarded_for: bytes,
               host: bytes) -> list[tuple[bytes, bytes]]:
    """``out`` plus X-Forwarded-For (the client's chain and this hop's client), -Proto and -Host."""
    client = scope.get("client")
    if client:
        ip = client[0].encode("latin-1")
        out.append((b"x-forwarded-for", forwarded_for + b", " + ip if forwarded_for else ip))
    elif forwarded_for:
        out.append((b"x-forwarded-for", forwarded_for))
    out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    if host:
        out.append((b"x-forwarded-host", host))
    return out


def _response_headers(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's end-to-end response headers, names lower-cased (one pass; a Connection header, which
    may name more hop-by-hop headers, takes the two-pass way)."""
    out = []
    for name, value in raw:
        name = name.lower()
        if name in HOP_BY_HOP:
            if name == b"connection":
                named = _connection_tokens(raw)
                return [(n, v) for n, v in ((n.lower(), v) for n, v in raw)
                        if n not in HOP_BY_HOP and n not in named]
            continue
        out.append((name, value))
    return out


def _connection_tokens(headers: Sequence[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in Connection are hop-by-hop too."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return frozenset(tokens)


async def _body(receive: Receive) -> Any:
    """The request body as it arrives (streamed, never buffered here)."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _error(send: Send, status: int, reason: str) -> None:
    body = orjson.dumps({"error": reason})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
