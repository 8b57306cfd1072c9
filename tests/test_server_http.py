"""uvicorn with filter_proxy.server_http.HttpToolsProtocol: a buffered response's head and body arrive in
one piece, a streamed one still gets its head before a late body, HEAD and chunked answers stay valid.
Real uvicorn on an ephemeral loopback port, raw sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.server_http import HttpToolsProtocol

LATE = asyncio.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/late":  # head now, body only when the test says so
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await LATE.wait()
        await send({"type": "http.response.body", "body": b"late"})
        return
    body = scope["query_string"] or b"-"
    if path == "/kind":  # which cycle serves the request (the override must be in use)
        body = type(send.__self__).__name__.encode()
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Server:
    def __init__(self, keep_alive: float = 5) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, http=HttpToolsProtocol, lifespan="off", log_level="warning",
                                timeout_keep_alive=keep_alive)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> _Server:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task
        self.sock.close()


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    return await asyncio.wait_for(reader.readuntil(marker), 10)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(st.sampled_from("abcxyz019=&"), min_size=1, max_size=40), min_size=1, max_size=4))
def test_buffered_answers_arrive_whole_on_one_keep_alive_connection(queries: list[str]) -> None:
    async def run() -> list[bytes]:
        async with _Server() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            out = []
            for q in queries:
                writer.write(f"GET /x?{q} HTTP/1.1\r\nhost: t\r\n\r\n".encode())
                head = await _read_until(reader, b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                out.append(head.split(b"\r\n", 1)[0] + b" " + await reader.readexactly(length))
            writer.close()
            return out

    assert asyncio.run(run()) == [b"HTTP/1.1 200 OK " + q.encode() for q in queries]


def test_a_late_body_does_not_hold_back_the_head() -> None:
    async def run() -> tuple[bytes, bytes]:
        LATE.clear()
        async with _Server() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /late HTTP/1.1\r\nhost: t\r\n\r\n")
            head = await _read_until(reader, b"\r\n\r\n")  # before the body exists
            LATE.set()
            body = await asyncio.wait_for(reader.readexactly(4), 10)
            writer.close()
            return head, body

    head, body = asyncio.run(run())
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"late"


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_head_requests_and_chunked_answers(method: str) -> None:
    async def run() -> bytes:
        async with _Server() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"{method} /chunked?ab HTTP/1.1\r\nhost: t\r\n\r\n".encode())
            head = await _read_until(reader, b"\r\n\r\n")
            rest = b"" if method == "HEAD" else await _read_until(reader, b"0\r\n\r\n")
            writer.write(b"GET /x?again HTTP/1.1\r\nhost: t\r\n\r\n")  # the connection is still usable
            again = await _read_until(reader, b"again")
            writer.close()
            return head + rest + b"|" + again

    out = asyncio.run(run())
    assert out.startswith(b"HTTP/1.1 200 OK")
    if method == "GET":
        assert b"2\r\nab\r\n2\r\nab\r\n0\r\n\r\n" in out
    assert out.endswith(b"again")


def test_the_coalescing_cycle_serves_requests() -> None:
    async def run() -> bytes:
        async with _Server() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /kind HTTP/1.1\r\nhost: t\r\n\r\n")
            out = await _read_until(reader, b"Cycle")
            writer.close()
            return out

    assert asyncio.run(run()).endswith(b"_LeanCycle")


def test_keep_alive_closes_an_idle_connection_but_not_a_busy_one() -> None:
    """One timer per idle period (server_http.HttpToolsProtocol): a connection whose requests keep coming,
    each within the keep-alive timeout, stays open for longer than the timeout in total; one left idle after
    its answer is closed by the server."""

    async def run() -> tuple[list[bytes], bytes]:
        async with _Server(keep_alive=1.0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            answers = []
            for i in range(8):  # 8 x 0.3 s: well past the 1 s timeout in total, never idle for 1 s
                writer.write(f"GET /x?n{i} HTTP/1.1\r\nhost: t\r\n\r\n".encode())
                answers.append((await _read_until(reader, f"n{i}".encode()))[-2:])
                await asyncio.sleep(0.3)
            rest = await asyncio.wait_for(reader.read(), 10)  # idle now: the server closes (EOF)
            writer.close()
            return answers, rest

    answers, rest = asyncio.run(run())
    assert answers == [f"n{i}".encode() for i in range(8)] and rest == b""
