"""The total upstream deadline: an upstream that drips its response (one byte at a time, each well within
httpx's per-read timeout) is cut off at the deadline, over real HTTP against a loopback backend."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from filter_proxy.proxy import ReverseProxy, create_proxy_app
from tests.support.server import serve
from tests.test_middleware import RecordingObserver, build_rules

pytestmark = pytest.mark.anyio

BODY_BYTES = 400  # at one byte per DRIP seconds the whole body would take far longer than the deadline
DRIP = 0.1
DEADLINE = 0.6


class DripServer:
    """A raw HTTP/1.1 server on loopback. ``mode="body"``: the status line and headers at once, then the
    body one byte every ``DRIP`` seconds; ``mode="head"``: even the status line drips. It records how many
    connections the other side closed before the body was complete."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.cut_off = 0
        self.completed = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % BODY_BYTES)
            body = b'{"results": [], "pad": "' + b"x" * (BODY_BYTES - 27) + b'"}\n'
            assert len(body) == BODY_BYTES
            try:
                if self.mode == "body":
                    conn.sendall(head)
                    to_drip = body
                else:
                    to_drip = head + body
                for i in range(len(to_drip)):
                    if self.stop.wait(DRIP):
                        return
                    conn.sendall(to_drip[i:i + 1])
                self.completed += 1
            except OSError:  # the proxy gave up and closed the connection
                self.cut_off += 1

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(params=["body", "head"])
def dripping(request: pytest.FixtureRequest) -> Iterator[DripServer]:
    with DripServer(request.param) as server:
        yield server


async def until(predicate: Any) -> None:
    with anyio.fail_after(20):  # a bound so that a broken test fails instead of hanging
        while not predicate():
            await anyio.sleep(0.02)


async def test_a_dripping_search_response_is_504(dripping: DripServer, tmp_path: Path) -> None:
    observer = RecordingObserver()
    app = create_proxy_app(dripping.url, build_rules(tmp_path / "rules"), "searxng", observer=observer,
                           timeout=httpx.Timeout(5.0, connect=1.0), deadline=DEADLINE)
    with serve(app, lifespan="on") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            r = await client.get("/search", params={"q": "garden", "format": "json"})
    assert r.status_code == 504 and r.json() == {"error": "upstream timed out"}
    assert observer.upstreams == ["timeout"]
    await until(lambda: dripping.cut_off == 1)  # the upstream connection was closed, not left dripping
    assert dripping.completed == 0


async def test_a_dripping_pass_through_response_is_cut_off(dripping: DripServer) -> None:
    proxy = ReverseProxy(dripping.url, timeout=httpx.Timeout(5.0, connect=1.0), deadline=DEADLINE)
    with serve(proxy, lifespan="on") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            if dripping.mode == "head":  # nothing was sent yet: a clear 504
                r = await client.get("/_cluster/health")
                assert r.status_code == 504
            else:  # the status line is out: the connection is dropped, so a short body never looks complete
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.get("/_cluster/health")
    await until(lambda: dripping.cut_off == 1)
    assert dripping.completed == 0


def test_the_deadline_must_be_positive() -> None:
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="deadline"):
            ReverseProxy("http://127.0.0.1:9", deadline=bad)


async def _call_proxy(proxy: ReverseProxy, sent: list[dict[str, Any]]) -> None:
    scope = {"type": "http", "method": "GET", "path": "/_cluster/health", "raw_path": b"/_cluster/health",
             "query_string": b"", "headers": [(b"host", b"t")], "client": ("127.0.0.1", 1), "scheme": "http"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await proxy(scope, receive, send)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_cancellation_from_outside_is_not_a_504_and_a_504_leaves_the_task_uncancelled() -> None:
    import asyncio

    with DripServer("head") as server:
        # Someone else cancels the request's task (client gone, shutdown) well before the deadline: the
        # cancellation propagates, nothing is answered.
        proxy = ReverseProxy(server.url, timeout=httpx.Timeout(5.0, connect=1.0), deadline=30.0)
        sent: list[dict[str, Any]] = []
        task = asyncio.create_task(_call_proxy(proxy, sent))
        await asyncio.sleep(0.3)  # the request is out, waiting on the dripping head (or still connecting)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sent == []
        await proxy.aclose()
        # The deadline's own cancellation becomes a 504, and the task is no longer marked as cancelling
        # (later awaits in the same task, e.g. the middleware's, still work).
        proxy = ReverseProxy(server.url, timeout=httpx.Timeout(5.0, connect=1.0), deadline=DEADLINE)
        sent = []

        async def then_more() -> int:
            await _call_proxy(proxy, sent)
            await asyncio.sleep(0.01)
            current = asyncio.current_task()
            assert current is not None
            return current.cancelling()

        assert await asyncio.create_task(then_more()) == 0
        assert sent[0]["status"] == 504
        await proxy.aclose()
