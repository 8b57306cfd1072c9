"""Report sink (principle 2): matched content of ``report = true`` categories, for the trust & safety team.

Each record is a removed result's URL and/or matched image hash, its category, rule id, signal, action
and time: what was found, never who searched or what they typed. Records are de-duplicated over a
bounded window and handed to a writer (rotating JSONL file or webhook) by a background task behind a
bounded queue: a full queue drops the record and counts it, it never slows a search response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from filter_proxy.events import NullObserver
from filter_proxy.verdict import Verdict

log = logging.getLogger("filter_proxy.sink")


@dataclass(frozen=True, slots=True)
class SinkRecord:
    time: str  # ISO 8601, UTC
    category: str
    rule_id: str | None
    signal: str | None
    action: str
    url: str | None
    image_hash: str | None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


class SinkWriter(Protocol):
    async def write(self, records: list[SinkRecord]) -> None:
        """Deliver a batch; raise to report failure (the batch is then counted as failed)."""

    async def aclose(self) -> None: ...


class JsonlWriter:
    """Appends one JSON object per line; rotates at ``max_bytes`` keeping ``backups`` old files
    (``sink.jsonl.1`` is the newest backup), like logging.handlers.RotatingFileHandler."""

    def __init__(self, path: str | Path, max_bytes: int = 10_000_000, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups

    def _rotate(self) -> None:
        if self.backups <= 0:
            self.path.unlink(missing_ok=True)
            return
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def write_sync(self, records: list[SinkRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for record in records:
            line = record.to_json() + b"\n"
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(line) > self.max_bytes:
                self._rotate()
            with open(self.path, "ab") as fh:
                fh.write(line)

    async def write(self, records: list[SinkRecord]) -> None:
        await asyncio.to_thread(self.write_sync, records)

    async def aclose(self) -> None:
        pass


class WebhookWriter:
    """POSTs ``{"records": [...]}`` to a URL; retries transport errors, 429 and 5xx with exponential
    backoff; other 4xx answers are not retried (the receiver refused the batch)."""

    def __init__(self, url: str, *, retries: int = 5, backoff: float = 0.5, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._owns_client = client is None

    async def write(self, records: list[SinkRecord]) -> None:
        body = b'{"records":[' + b",".join(r.to_json() for r in records) + b"]}"
        headers = {"content-type": "application/json"}
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            else:
                if response.status_code < 300:
                    return
                reason = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    raise RuntimeError(f"report webhook refused the batch: {reason}")
            if attempt < self.retries:
                log.warning("report webhook attempt %d failed (%s), retrying", attempt + 1, reason)
                await asyncio.sleep(delay)
                delay *= 2
        raise RuntimeError(f"report webhook failed after {self.retries + 1} attempts: {reason}")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class ReportSink(NullObserver):
    """A FilterObserver forwarding removed content of reportable categories to a SinkWriter.

    ``removed`` runs on the event loop and only enqueues; ``start()`` runs the delivery task and
    ``stop()`` drains what is queued. ``on_event(outcome)`` is told "queued", "duplicate", "dropped",
    "written" and "failed" (e.g. Metrics.sink_event); ``counts`` keeps the same numbers.
    """

    def __init__(self, writer: SinkWriter, *, queue_size: int = 10_000, dedupe_size: int = 100_000,
                 batch_size: int = 100, clock: Callable[[], float] = time.time,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.writer = writer
        self.batch_size = batch_size
        self._queue: asyncio.Queue[SinkRecord] = asyncio.Queue(maxsize=queue_size)
        self._seen: OrderedDict[tuple[str, str | None, str | None], None] = OrderedDict()
        self._dedupe_size = dedupe_size
        self._clock = clock
        self._on_event = on_event
        self._task: asyncio.Task[None] | None = None
        self.counts: dict[str, int] = dict.fromkeys(("queued", "duplicate", "dropped", "written", "failed"), 0)

    def _count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] += n
        if self._on_event is not None:
            for _ in range(n):
                self._on_event(outcome)

    # --- FilterObserver (only removals matter here; the other events are NullObserver's no-ops) ------
    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        if not verdict.report or (url is None and image_hash is None):
            return  # not a reportable category, or nothing to report (e.g. a removed suggestion)
        key = (verdict.category or "", url, image_hash)
        if key in self._seen:
            self._seen.move_to_end(key)
            self._count("duplicate")
            return
        record = SinkRecord(
            time=datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds"),
            category=verdict.category or "",
            rule_id=verdict.rule_id,
            signal=verdict.signal,
            action=verdict.action,
            url=url,
            image_hash=image_hash,
        )
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._count("dropped")  # not remembered as seen: a later sighting may get through
            return
        self._seen[key] = None
        if len(self._seen) > self._dedupe_size:
            self._seen.popitem(last=False)
        self._count("queued")

    # --- delivery ------------------------------------------------------------------------------------
    async def _deliver(self, batch: list[SinkRecord]) -> None:
        try:
            await self.writer.write(batch)
        except Exception as exc:  # a sink failure must never take the server down
            log.error("report sink lost %d record(s): %s", len(batch), exc)
            self._count("failed", len(batch))
        else:
            self._count("written", len(batch))

    def _take_batch(self, first: SinkRecord) -> list[SinkRecord]:
        batch = [first]
        while len(batch) < self.batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = self._take_batch(await self._queue.get())
            await self._deliver(batch)
            for _ in batch:
                self._queue.task_done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def drain(self) -> None:
        """Wait until everything queued so far has been delivered (or failed)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            # Let the running task deliver everything queued (bounded by the writer's retries and
            # timeouts), then end it; cancelling mid-batch would lose records.
            if not self._task.done():
                await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():  # deliver what is left before closing
            await self._deliver(self._take_batch(self._queue.get_nowait()))
        await self.writer.aclose()


def build_sink(kind: str, *, path: str = "", max_bytes: int = 10_000_000, backups: int = 5,
               url: str | None = None, retries: int = 5, backoff: float = 0.5, timeout: float = 10.0,
               queue_size: int = 10_000, dedupe_size: int = 100_000,
               on_event: Callable[[str], None] | None = None) -> ReportSink | None:
    writer: Any
    if kind == "none":
        return None
    if kind == "jsonl":
        writer = JsonlWriter(path, max_bytes, backups)
    elif kind == "webhook" and url:
        writer = WebhookWriter(url, retries=retries, backoff=backoff, timeout=timeout)
    else:
        raise ValueError(f"unknown sink kind {kind!r} or missing url")
    return ReportSink(writer, queue_size=queue_size, dedupe_size=dedupe_size, on_event=on_event)
