"""The forward hop: one pooled HTTP/1.1 client from the proxy to the upstream, behind a small interface.

Two implementations give the same contract (``Hop``):

- ``AiohttpHop`` (the default): aiohttp's ``ClientSession`` on a keep-alive ``TCPConnector``. Measured on
  the whole proxied request (benchmarks/README.md, "Where a proxied request's time goes") it is several
  times faster than httpx and, unlike httpx, does not slow down under concurrency: httpcore's pool scans
  every pooled connection (``has_expired`` -> ``get_extra_info`` -> a ``select`` on its socket) for each
  request, so one worker did less work per second at 16 connections than at 1.
- ``HttpxHop``: an ``httpx.AsyncClient`` handed in by a caller (tests, embedders that share one client).

Both send exactly the target bytes they are given (no dot-segment resolution, no re-escaping), add only
``Host`` (and the body framing the caller's headers imply), never decompress, never follow redirects,
never read proxy settings from the environment and keep no cookies. Failures come out as
``HopTimeout`` (connect or read timeout: the proxy answers 504) or ``HopUnreachable`` (502).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import httpx

Headers = Sequence[tuple[bytes, bytes]]

# A request target is sent only when every byte is a visible ASCII character (RFC 9112 §3.2: no spaces or
# controls); anything else cannot be sent as routed and is refused before connecting.
_VISIBLE = bytes(range(0x21, 0x7F))


class HopTimeout(Exception):
    """Connecting to or reading from the upstream took longer than its timeout."""


class HopUnreachable(Exception):
    """The upstream could not be reached or broke the exchange before its response started."""


class HopResponse(Protocol):
    status: int
    raw_headers: Headers

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    def whole_body(self) -> bytes | None:
        """The whole body when it has already arrived (then ``aiter_raw`` is not needed), else None."""

    async def aclose(self) -> None: ...


class Hop(Protocol):
    async def send(self, method: str, origin: str, target: bytes, headers: Headers,
                   body: AsyncIterator[bytes] | None) -> HopResponse: ...

    async def aclose(self) -> None: ...

    def open(self) -> None: ...

    @property
    def is_open(self) -> bool: ...


def sendable_target(target: bytes) -> bool:
    # Deleting every visible ASCII byte leaves nothing exactly when there was nothing else (one C pass).
    return target[:1] == b"/" and not target.translate(None, _VISIBLE)


# --- aiohttp --------------------------------------------------------------------------------------------
class _AiohttpResponse:
    def __init__(self, response: Any) -> None:
        self._response = response
        self.status: int = response.status
        self.raw_headers: Headers = response.raw_headers

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise HopTimeout("upstream body read timed out") from exc

    def whole_body(self) -> bytes | None:
        return None

    async def aclose(self) -> None:
        self._response.release()


class AiohttpHop:
    """aiohttp ``ClientSession`` created on first use (it must be made inside the running event loop)."""

    def __init__(self, timeout: httpx.Timeout, limits: httpx.Limits) -> None:
        self.timeout = timeout
        self.limits = limits
        self._session: Any = None

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    def open(self) -> None:
        if not self.is_open:
            self._open()

    def _open(self) -> Any:
        import aiohttp

        t = self.timeout
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0, limit_per_host=0,
            keepalive_timeout=self.limits.keepalive_expiry or 15.0, enable_cleanup_closed=False,
        )
        # sock_read is per read like httpx's read timeout; connect covers waiting for a pool slot too.
        connect = None if t.connect is None else t.connect + (t.pool or 0.0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=t.connect, sock_read=t.read),
            auto_decompress=False,  # a pass-through route keeps the upstream's content-encoding as it is
            trust_env=False,  # never route through a proxy named in the environment
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only what the client sent goes upstream: no default Accept, User-Agent or guessed Content-Type.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            raise_for_status=False,
            # h11 (httpx) accepted response heads up to 64 KiB; aiohttp's default is 8 KiB per line/field.
            max_line_size=65536,
            max_field_size=65536,
        )
        return self._session

    async def send(self, method: str, origin: str, target: bytes, headers: Headers,
                   body: AsyncIterator[bytes] | None) -> HopResponse:
        import aiohttp
        from multidict import CIMultiDict
        from yarl import URL

        session = self._session if self._session is not None and not self._session.closed else self._open()
        # encoded=True: yarl keeps the target verbatim (no dot-segment resolution, no re-quoting).
        url = URL(origin + target.decode("ascii"), encoded=True)
        hdrs = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)
        try:
            response = await session.request(method, url, headers=hdrs, data=body, allow_redirects=False,
                                             compress=None, chunked=None)
        except (aiohttp.ServerTimeoutError, aiohttp.ConnectionTimeoutError, TimeoutError) as exc:
            raise HopTimeout(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise HopUnreachable(type(exc).__name__) from exc
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# --- httpx ----------------------------------------------------------------------------------------------
class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.raw_headers: Headers = response.headers.raw

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.TimeoutException as exc:
            raise HopTimeout("upstream body read timed out") from exc

    def whole_body(self) -> bytes | None:
        return None

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxHop:
    """An ``httpx.AsyncClient``: the caller's (never closed here) or one of our own."""

    def __init__(self, timeout: httpx.Timeout, limits: httpx.Limits, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout.as_dict()
        self._owned = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False,
                                                   trust_env=False, transport=transport)

    @property
    def is_open(self) -> bool:
        return not self._client.is_closed

    def open(self) -> None:
        """Nothing to do: the client was made in ``__init__``."""

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    async def send(self, method: str, origin: str, target: bytes, headers: Headers,
                   body: AsyncIterator[bytes] | None) -> HopResponse:
        try:
            url = httpx.URL(origin).copy_with(raw_path=target)
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise ValueError("httpx cannot send this request target") from exc
        # httpx normalises paths (dot segments, some escapes): what it would send must be what was routed.
        if url.raw_path != target:
            raise ValueError("httpx would change the request target")
        request = httpx.Request(method, url, headers=list(headers), content=body,
                                extensions={"timeout": self._timeout})
        try:
            return _HttpxResponse(await self._client.send(request, stream=True))
        except httpx.TimeoutException as exc:
            raise HopTimeout(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise HopUnreachable(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
