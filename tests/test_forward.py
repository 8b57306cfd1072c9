"""The forward hop (filter_proxy/forward.py) against a raw loopback socket server that records the exact
bytes it receives: the request target goes out byte for byte, only Host is added to the caller's headers,
and both hop implementations agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.forward import AiohttpHop, HopUnreachable, HttpxHop, sendable_target
from filter_proxy.forward_lean import HttptoolsHop
from filter_proxy.proxy import DEFAULT_LIMITS, DEFAULT_TIMEOUT

BODY = b'{"results": []}'
REPLY = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\n"
         b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

# Visible ASCII without the characters httpx would escape or resolve (so both hops can be compared).
SEGMENT = st.text(st.sampled_from("abcXYZ019-._~%2F!$&'()*+,;=:@"), min_size=0, max_size=8)
QUERY = st.text(st.sampled_from("abz09=&%+-._~"), min_size=0, max_size=12)


async def _exchange(hop: Any, target: bytes, headers: list[tuple[bytes, bytes]],
                    body: AsyncIterator[bytes] | None = None, reply: bytes = REPLY) -> tuple[bytes, int, bytes]:
    """Send one request through ``hop`` to a raw server; returns (request head it saw, status, body)."""
    seen = bytearray()
    got_head = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.extend(head)
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        if length:
            seen.extend(await reader.readexactly(length))
        got_head.set()
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        response = await hop.send("GET" if body is None else "PUT", f"http://127.0.0.1:{port}", target, headers,
                                  body)
        try:
            chunks = [c async for c in response.aiter_raw()]
        finally:
            await response.aclose()
        await got_head.wait()
        return bytes(seen), response.status, b"".join(chunks)
    finally:
        await hop.aclose()
        server.close()
        await server.wait_closed()


def _hops() -> list[Any]:
    return [AiohttpHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS), HttpxHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS),
            HttptoolsHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS)]


@settings(max_examples=40, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=4), QUERY)
def test_the_target_is_sent_byte_for_byte_by_both_hops(segments: list[str], query: str) -> None:
    target = ("/" + "/".join(segments) + (f"?{query}" if query else "")).encode()
    if any(s in (".", "..") for s in segments):
        target = target.replace(b"/.", b"/x.")  # httpx resolves dot segments: compared where both can send
    heads = []
    for hop in _hops():
        head, status, body = asyncio.run(_exchange(hop, target, [(b"x-custom", b"kept")]))
        assert status == 200 and body == BODY
        assert head.split(b"\r\n", 1)[0] == b"GET " + target + b" HTTP/1.1"
        heads.append(head)
    names = [sorted(line.split(b":", 1)[0].lower() for line in h.split(b"\r\n")[1:] if line) for h in heads]
    assert all(n == [b"host", b"x-custom"] for n in names)  # nothing but Host is added, by any hop


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["x", "..", ".", "", "a;b", "%2e%2e"]), min_size=1, max_size=5))
def test_dot_segments_go_out_verbatim_on_the_aiohttp_and_httptools_hops(segments: list[str]) -> None:
    target = ("/" + "/".join(segments)).encode()
    for hop in (AiohttpHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS), HttptoolsHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS)):
        head, _, _ = asyncio.run(_exchange(hop, target, []))
        assert head.split(b"\r\n", 1)[0] == b"GET " + target + b" HTTP/1.1"


def test_a_streamed_body_keeps_its_length_and_bytes() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"payload "
        yield b"bytes"

    for hop in _hops():
        head, status, _ = asyncio.run(_exchange(hop, b"/echo", [(b"content-length", b"13")], body()))
        lower = head.lower()
        assert status == 200 and head.endswith(b"\r\n\r\npayload bytes")
        assert b"content-length: 13" in lower and b"transfer-encoding" not in lower
        assert b"content-type" not in lower  # no guessed content type is added


def test_a_long_response_header_is_passed_by_both_hops() -> None:
    long = b"x-long: " + b"a" * 20_000 + b"\r\n"
    reply = REPLY.replace(b"\r\n\r\n", b"\r\n" + long + b"\r\n", 1)
    for hop in _hops():
        _, status, body = asyncio.run(_exchange(hop, b"/", [], reply=reply))
        assert status == 200 and body == BODY


@given(st.binary(min_size=1, max_size=20))
def test_only_visible_ascii_targets_are_sendable(raw: bytes) -> None:
    target = b"/" + raw
    assert sendable_target(target) == all(0x21 <= b <= 0x7E for b in raw)


def test_a_refused_connection_is_unreachable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def attempt(hop: Any) -> None:
        try:
            await hop.send("GET", f"http://127.0.0.1:{port}", b"/", [], None)
        finally:
            await hop.aclose()

    for hop in _hops():
        with pytest.raises(HopUnreachable):
            asyncio.run(attempt(hop))


def test_the_caller_httpx_client_is_not_closed() -> None:
    async def run() -> bool:
        async with httpx.AsyncClient(trust_env=False) as mine:
            hop = HttpxHop(DEFAULT_TIMEOUT, DEFAULT_LIMITS, client=mine)
            await hop.aclose()
            return not mine.is_closed

    assert asyncio.run(run())
