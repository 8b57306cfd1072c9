"""The httptools forward hop (filter_proxy/forward_lean.py) on its own: keep-alive reuse, response framings
(length, chunked, end of connection, interim 1xx), a streamed body of no stated length, a stale pooled
connection retried once, timeouts and the pool limit. Raw loopback servers only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.forward import HopTimeout, HopUnreachable
from filter_proxy.forward_lean import HttptoolsHop
from filter_proxy.proxy import DEFAULT_LIMITS, DEFAULT_TIMEOUT

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return head + body
            body += data[:-2]
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + (await reader.readexactly(length) if length else b"")


async def _get(hop: HttptoolsHop, origin: str, target: bytes = b"/",
               body: AsyncIterator[bytes] | None = None, method: str = "GET",
               whole: bool = False) -> tuple[int, bytes]:
    response = await hop.send(method, origin, target, [], body)
    try:
        if whole:  # as the proxy reads it: the whole body when it is all here, else the read loop
            await asyncio.sleep(0.01)
            got = response.whole_body()
            if got is not None:
                return response.status, got
        return response.status, b"".join([c async for c in response.aiter_raw()])
    finally:
        await response.aclose()


def _chunked(payload: bytes, sizes: list[int]) -> bytes:
    out, i = b"", 0
    for n in sizes:
        piece = payload[i:i + n]
        i += n
        if piece:
            out += b"%x\r\n%b\r\n" % (len(piece), piece)
    rest = payload[i:]
    if rest:
        out += b"%x\r\n%b\r\n" % (len(rest), rest)
    return out + b"0\r\n\r\n"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=4),
       st.lists(st.integers(1, 64), max_size=5), st.sampled_from(["length", "chunked", "close"]), st.booleans())
def test_every_framing_gives_the_body_and_keep_alive_reuses_one_connection(
        bodies: list[bytes], sizes: list[int], framing: str, whole: bool) -> None:
    connections = []
    answers = iter(bodies)  # in order across connections (a "close" answer ends its connection)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            for payload in answers:
                await _read_request(reader)
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # an interim answer is skipped
                if framing == "length":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(payload), payload))
                elif framing == "chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + _chunked(payload, sizes))
                else:  # delimited by the end of the connection
                    writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + payload)
                    await writer.drain()
                    writer.close()
                    return
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def run() -> list[tuple[int, bytes]]:
        server, origin = await _serve(handler)
        hop = HttptoolsHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS)
        try:
            return [await _get(hop, origin, whole=whole) for _ in bodies]
        finally:
            await hop.aclose()
            server.close()
            await server.wait_closed()

    got = asyncio.run(run())
    assert got == [(200, b) for b in bodies]
    assert len(connections) == (len(bodies) if framing == "close" else 1)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=200), min_size=1, max_size=5))
def test_a_streamed_body_without_a_length_is_sent_chunked_and_arrives_whole(parts: list[bytes]) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async def run() -> int:
        server, origin = await _serve(handler)
        hop = HttptoolsHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS)
        try:
            status, _ = await _get(hop, origin, b"/in", body(), "POST")
            return status
        finally:
            await hop.aclose()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) == 204
    head, _, sent = seen[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower() and sent == b"".join(parts)


def test_a_pooled_connection_closed_by_the_upstream_is_retried_once_on_a_new_one() -> None:
    served = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        served.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        # Keep-alive advertised, but the connection is dropped once idle (a server's idle timeout).
        await asyncio.sleep(0.05)
        writer.close()

    async def run() -> list[tuple[int, bytes]]:
        server, origin = await _serve(handler)
        hop = HttptoolsHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS)
        try:
            first = await _get(hop, origin)
            await asyncio.sleep(0.2)
            return [first, await _get(hop, origin)]
        finally:
            await hop.aclose()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) == [(200, b"ok"), (200, b"ok")]
    assert len(served) == 2


def test_a_silent_upstream_is_a_timeout_and_a_broken_answer_is_unreachable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def run(handler: Handler, timeout: httpx.Timeout) -> None:
        server, origin = await _serve(handler)
        hop = HttptoolsHop(timeout, DEFAULT_LIMITS)
        try:
            await _get(hop, origin)
        finally:
            await hop.aclose()
            server.close()

    with pytest.raises(HopTimeout):
        asyncio.run(run(silent, httpx.Timeout(0.2)))
    with pytest.raises(HopUnreachable):
        asyncio.run(run(garbage, DEFAULT_TIMEOUT))


def test_the_pool_limit_makes_requests_wait_for_a_free_connection() -> None:
    connections = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                await _read_request(reader)
                await asyncio.sleep(0.01)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> list[tuple[int, bytes]]:
        server, origin = await _serve(handler)
        hop = HttptoolsHop(DEFAULT_TIMEOUT, httpx.Limits(max_connections=2, max_keepalive_connections=2))
        try:
            return list(await asyncio.gather(*(_get(hop, origin) for _ in range(8))))
        finally:
            await hop.aclose()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) == [(200, b"x")] * 8
    assert len(connections) <= 2
