"""Attack-test helpers: a hostile backend that answers raw bytes and records every request it parses, a raw
client that sends bytes as written, and a leak test that reads a response the ways a client could.

The backend speaks HTTP/1.1 on a loopback socket (port 0) in a thread. It parses each request on a
connection (Content-Length or chunked framing), so a request smuggled behind another one shows up as a
request of its own. Answers are raw bytes from ``answer(request_bytes)``, so responses that no well-behaved
framework would send (lying headers, bodies on 304, stacked encodings) can be produced.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

LISTED_TERM = b"zqxblocked"
LISTED_HOST = b"blocked.example.invalid"


def ok_json(body: bytes, headers: bytes = b"content-type: application/json\r\n", status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + headers + b"content-length: %d\r\n\r\n" % len(body) + body


def es_page(*titles: str) -> bytes:
    hits = [{"_index": "b", "_id": str(i), "_score": 1.0, "_source": {"title": t}} for i, t in enumerate(titles)]
    return json.dumps({"took": 1, "timed_out": False,
                       "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}).encode()


class HostileBackend:
    def __init__(self) -> None:
        self.requests: list[bytes] = []  # every request parsed, head and body, as received
        self.raw: list[bytes] = []  # every byte received, per connection
        self.answer: Callable[[bytes], bytes] = lambda request: ok_json(es_page("Bread"))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buf = b""
        seen = bytearray()
        self.raw.append(b"")
        slot = len(self.raw) - 1
        try:
            while True:
                request, buf = _parse(buf)
                if request is None:
                    data = conn.recv(65536)
                    if not data:
                        return
                    seen += data
                    self.raw[slot] = bytes(seen)
                    buf += data
                    continue
                self.requests.append(request)
                conn.sendall(self.answer(request))
        except OSError:
            return
        finally:
            conn.close()


def _parse(buf: bytes) -> tuple[bytes | None, bytes]:
    """One complete request from the front of ``buf`` (and the rest), or (None, buf)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    head = buf[: end + 4]
    rest = buf[end + 4 :]
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        pos = 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                return None, buf
            size = int(rest[pos:nl].split(b";")[0] or b"0", 16)
            if size == 0:
                trailer_end = rest.find(b"\r\n\r\n", nl - 2 if nl >= 2 else 0)
                if trailer_end < 0:
                    return None, buf
                stop = trailer_end + 4
                return head + rest[:stop], rest[stop:]
            pos = nl + 2 + size + 2
            if pos > len(rest):
                return None, buf
    if len(rest) < length:
        return None, buf
    return head + rest[:length], rest[length:]


@contextmanager
def hostile_backend() -> Iterator[HostileBackend]:
    backend = HostileBackend()
    try:
        yield backend
    finally:
        backend.close()


def send_raw(base: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` as written on a new connection; return every byte of the answer (until the server
    closes, or one complete response by Content-Length)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        out = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
    return out


def status_of(response: bytes) -> int:
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def readings(body: bytes, encoding: bytes = b"") -> list[bytes]:
    """``body`` as a client could read it: raw, decoded by its content-encoding (gzip / deflate, any
    order), and JSON string escapes undone."""
    out = [body]
    for attempt in (lambda b: gzip.decompress(b), lambda b: zlib.decompress(b), lambda b: zlib.decompress(b, -15)):
        with contextlib.suppress(Exception):  # not in that encoding
            out.append(attempt(body))
    decoded: list[bytes] = []
    for item in out:
        with contextlib.suppress(Exception):  # not JSON
            decoded.append(json.dumps(json.loads(item), ensure_ascii=False).encode())
    return out + decoded


def leaked(response: bytes, needles: tuple[bytes, ...] = (LISTED_TERM, LISTED_HOST)) -> bool:
    """True when a listed term or host is in the response's head or in any reading of its body."""
    head, _, body = response.partition(b"\r\n\r\n")
    texts = [head, *readings(body)]
    return any(n in t.lower() for t in texts for n in needles)


def asgi_scope(method: str, path: bytes, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
               body: bytes = b"") -> dict[str, Any]:
    heads = list(headers or [])
    if body and not any(k == b"content-length" for k, _ in heads):
        heads.append((b"content-length", str(len(body)).encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path.decode("latin-1"), "raw_path": path, "query_string": query, "root_path": "",
            "headers": heads, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}


async def asgi_messages(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[dict[str, Any]]:
    """Run one HTTP exchange through an ASGI app in process: every message it sent, in order."""
    import asyncio

    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


async def call_asgi(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one HTTP exchange through an ASGI app in process: (status, headers, body as sent)."""
    messages = await asgi_messages(app, scope, body)
    start = next(m for m in messages if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], list(start.get("headers", [])), data


def as_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """An in-process exchange as the bytes a client would read (for ``leaked``)."""
    head = b"HTTP/1.1 %d X\r\n" % status + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return head + b"\r\n" + body
