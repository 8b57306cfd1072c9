"""Report sink: reportable removals only, de-duplicated, rotating JSONL, webhook with retries, bounded queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from filter_proxy.metrics import Metrics
from filter_proxy.sink import JsonlWriter, ReportSink, SinkRecord, WebhookWriter, build_sink
from filter_proxy.verdict import Verdict
from tests.support.server import serve

ABUSE_IMAGE = Verdict("block", "zqx-abuse", "rules/images/zqx-abuse.csv:2", "deterrence", "image", 4, True)
ABUSE_URL = Verdict("block", "zqx-abuse", "rules/urls/zqx-abuse.txt:5", "deterrence", "url", report=True)
SPAM_URL = Verdict("strip", "zqx-spam", "rules/urls/zqx-spam.txt:1", None, "url")  # report = false
T0 = 1_793_000_000.0
FIELDS = {"time", "category", "rule_id", "signal", "action", "url", "image_hash"}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.anyio
async def test_jsonl_records_only_reportable_content_once(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    sink = ReportSink(JsonlWriter(path), clock=lambda: T0)
    await sink.start()
    sink.removed(ABUSE_IMAGE, "https://a.example.invalid/1.jpg", "phash:8f3e0c1b2a4d5e6f")
    sink.removed(ABUSE_IMAGE, "https://a.example.invalid/1.jpg", "phash:8f3e0c1b2a4d5e6f")  # duplicate
    sink.removed(ABUSE_URL, "https://b.example.invalid/page", None)
    sink.removed(SPAM_URL, "https://spam.example.invalid/", None)  # category not reported
    sink.removed(ABUSE_URL, None, None)  # nothing to report (a removed suggestion)
    await sink.drain()
    await sink.stop()
    records = lines(path)
    assert records == [
        {"time": "2026-10-26T07:33:20+00:00", "category": "zqx-abuse", "rule_id": "rules/images/zqx-abuse.csv:2",
         "signal": "image", "action": "block", "url": "https://a.example.invalid/1.jpg",
         "image_hash": "phash:8f3e0c1b2a4d5e6f"},
        {"time": "2026-10-26T07:33:20+00:00", "category": "zqx-abuse", "rule_id": "rules/urls/zqx-abuse.txt:5",
         "signal": "url", "action": "block", "url": "https://b.example.invalid/page", "image_hash": None},
    ]
    assert all(set(r) == FIELDS for r in records)  # no field for queries, addresses or users
    assert sink.counts == {"queued": 2, "duplicate": 1, "dropped": 0, "written": 2, "failed": 0}


@pytest.mark.anyio
async def test_dedupe_window_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    sink = ReportSink(JsonlWriter(path), dedupe_size=2)
    await sink.start()
    for url in ("https://a.example.invalid/1", "https://a.example.invalid/2", "https://a.example.invalid/3",
                "https://a.example.invalid/3", "https://a.example.invalid/1"):  # /1 was evicted by /3
        sink.removed(ABUSE_URL, url, None)
    await sink.stop()
    assert [r["url"] for r in lines(path)] == [
        "https://a.example.invalid/1", "https://a.example.invalid/2", "https://a.example.invalid/3",
        "https://a.example.invalid/1"]
    assert sink.counts["duplicate"] == 1


def test_jsonl_rotation_keeps_n_backups(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    record = SinkRecord("2026-11-02T09:00:00+00:00", "zqx-abuse", "r:1", "url", "block",
                        "https://a.example.invalid/x", None)
    size = len(record.to_json()) + 1
    writer = JsonlWriter(path, max_bytes=size * 3, backups=2)
    records = [SinkRecord(record.time, record.category, f"r:{i}", "url", "block", record.url, None)
               for i in range(1, 12)]
    writer.write_sync(records)
    # 11 records, 3 per file: r:10-11 current, r:7-9 in .1, r:4-6 in .2; r:1-3 rotated out.
    assert [r["rule_id"] for r in lines(path)] == ["r:10", "r:11"]
    assert [r["rule_id"] for r in lines(tmp_path / "sink.jsonl.1")] == ["r:7", "r:8", "r:9"]
    assert [r["rule_id"] for r in lines(tmp_path / "sink.jsonl.2")] == ["r:4", "r:5", "r:6"]
    assert not (tmp_path / "sink.jsonl.3").exists()
    assert all(p.stat().st_size <= size * 3 for p in tmp_path.iterdir())


@pytest.mark.anyio
async def test_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = ReportSink(JsonlWriter(tmp_path / "s.jsonl"), queue_size=2, on_event=metrics.sink_event)
    # Not started: nothing drains, so the third record finds the queue full.
    for i in range(3):
        sink.removed(ABUSE_URL, f"https://a.example.invalid/{i}", None)
    assert sink.counts["queued"] == 2
    assert sink.counts["dropped"] == 1
    assert metrics.value("filter_proxy_sink_records_total", {"outcome": "dropped"}) == 1
    sink.removed(ABUSE_URL, "https://a.example.invalid/2", None)  # a dropped record is not remembered as sent
    assert sink.counts["duplicate"] == 0
    await sink.start()
    await sink.stop()
    assert len(lines(tmp_path / "s.jsonl")) == 2
    assert metrics.value("filter_proxy_sink_records_total", {"outcome": "written"}) == 2


class Receiver:
    """A loopback webhook receiver that fails the first ``fail`` POSTs with ``status``."""

    def __init__(self, fail: int = 0, status: int = 503) -> None:
        self.fail = fail
        self.status = status
        self.attempts = 0
        self.batches: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.attempts += 1
        status = self.status if self.attempts <= self.fail else 200
        if status == 200:
            assert scope["method"] == "POST"
            assert dict(scope["headers"])[b"content-type"] == b"application/json"
            self.batches.append(json.loads(body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.anyio
async def test_webhook_retries_then_delivers() -> None:
    receiver = Receiver(fail=2, status=503)
    with serve(receiver) as base:
        sink = ReportSink(WebhookWriter(f"{base}/intake", retries=3, backoff=0.01))
        await sink.start()
        sink.removed(ABUSE_URL, "https://b.example.invalid/page", None)
        sink.removed(ABUSE_IMAGE, "https://a.example.invalid/1.jpg", "phash:8f3e0c1b2a4d5e6f")
        await sink.drain()
        await sink.stop()
    assert receiver.attempts == 3
    delivered = [r for batch in receiver.batches for r in batch["records"]]
    assert [r["url"] for r in delivered] == ["https://b.example.invalid/page", "https://a.example.invalid/1.jpg"]
    assert all(set(r) == FIELDS for r in delivered)
    assert sink.counts["written"] == 2 and sink.counts["failed"] == 0


@pytest.mark.anyio
async def test_webhook_gives_up_after_retries_and_counts() -> None:
    receiver = Receiver(fail=100, status=500)
    with serve(receiver) as base:
        sink = ReportSink(WebhookWriter(f"{base}/intake", retries=2, backoff=0.01))
        await sink.start()
        sink.removed(ABUSE_URL, "https://b.example.invalid/page", None)
        await sink.drain()
        await sink.stop()
    assert receiver.attempts == 3  # first try + 2 retries
    assert sink.counts["failed"] == 1 and sink.counts["written"] == 0


@pytest.mark.anyio
async def test_webhook_client_errors_are_not_retried() -> None:
    receiver = Receiver(fail=100, status=400)
    with serve(receiver) as base:
        sink = ReportSink(WebhookWriter(f"{base}/intake", retries=5, backoff=0.01))
        await sink.start()
        sink.removed(ABUSE_URL, "https://b.example.invalid/page", None)
        await sink.drain()
        await sink.stop()
    assert receiver.attempts == 1
    assert sink.counts["failed"] == 1


@pytest.mark.anyio
async def test_webhook_connection_refused_is_retried_and_fails() -> None:
    with serve(Receiver()) as base:
        pass  # the port is closed again: connections are refused
    writer = WebhookWriter(f"{base}/intake", retries=1, backoff=0.01)
    record = SinkRecord("t", "zqx-abuse", "r:1", "url", "block", "https://a.example.invalid/", None)
    with pytest.raises(RuntimeError, match="after 2 attempts: ConnectError"):
        await writer.write([record])
    await writer.aclose()


def test_build_sink_kinds(tmp_path: Path) -> None:
    assert build_sink("none") is None
    jsonl = build_sink("jsonl", path=str(tmp_path / "x.jsonl"), max_bytes=10, backups=1)
    assert isinstance(jsonl, ReportSink) and isinstance(jsonl.writer, JsonlWriter)
    webhook = build_sink("webhook", url="http://127.0.0.1:9/")
    assert isinstance(webhook, ReportSink) and isinstance(webhook.writer, WebhookWriter)
    anyio.run(webhook.writer.aclose)
    with pytest.raises(ValueError):
        build_sink("webhook")
