"""A fast static HTTP/1.1 backend for the proxy benchmarks: one fixed 10-result SearXNG-shaped JSON page
for every GET, keep-alive, on loopback only.

It is an asyncio Protocol on uvloop (no framework), so that the backend is never what limits a proxy in
front of it: direct wrk against it is ~10x any proxy's figure on this machine.
``python -m benchmarks.peers_backend --port N [--page FILE]`` (port 0: prints the chosen port).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import orjson

LOOPBACK = "127.0.0.1"


def static_page(seed: int = 5) -> bytes:
    """A benign 10-result page (SearXNG shape), ~3 KB, deterministic."""
    from benchmarks import synth

    rng = random.Random(seed)
    corpus = [line for lines in synth.benign_corpus(4, 30).values() for line in lines]
    urls = synth.benign_urls(10, seed=seed)
    results = [{"title": " ".join(rng.choice(corpus).split()[:8]), "content": rng.choice(corpus), "url": urls[i],
                "engine": "bench", "score": 1.0} for i in range(10)]
    return orjson.dumps({"query": "garden", "number_of_results": 10, "results": results})


class _Static(asyncio.Protocol):
    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # Requests are bodiless GETs: each ends with an empty line; answer every complete one (pipelining too).
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(self.response * count)


def response_bytes(body: bytes) -> bytes:
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


async def serve(port: int, body: bytes) -> None:
    loop = asyncio.get_running_loop()
    response = response_bytes(body)
    server = await loop.create_server(lambda: _Static(response), LOOPBACK, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--page", type=Path, help="JSON body to serve (default: a generated 10-result page)")
    args = parser.parse_args()
    body = args.page.read_bytes() if args.page else static_page()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio still works, just slower
        pass
    try:
        asyncio.run(serve(args.port, body))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
