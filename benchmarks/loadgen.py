"""A small HTTP/1.1 keep-alive load generator on asyncio streams, bounded in request count and time.

Loopback only: it refuses any host other than 127.0.0.1 / ::1 / localhost. Kept minimal (no httpx) so that
on a 2-core machine the client spends as little CPU as possible and the server's cost dominates.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _worker(host: str, port: int, paths: list[str], offset: int, result: LoadResult, deadline: float,
                  budget: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            path = paths[i % len(paths)]
            i += 1
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode())
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies.append(time.perf_counter() - start)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.requests += 1
    finally:
        writer.close()


async def run_load(host: str, port: int, paths: list[str], concurrency: int, max_requests: int,
                   max_seconds: float) -> LoadResult:
    if host not in LOOPBACK:
        raise ValueError("the load generator only sends traffic to loopback")
    result = LoadResult()
    budget = [max_requests]
    start = time.perf_counter()
    deadline = start + max_seconds
    await asyncio.gather(*(_worker(host, port, paths, k * 7, result, deadline, budget) for k in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result
