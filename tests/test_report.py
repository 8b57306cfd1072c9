"""Transparency report: counts per bucket, additive SQLite snapshots, md/json/csv output, plots."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from filter_proxy.cli import main
from filter_proxy.report import ReportCounter, format_report, parse_when, plot_report, read_rows, summarize
from filter_proxy.verdict import Verdict

T0 = datetime(2026, 11, 2, 9, 15, tzinfo=UTC).timestamp()  # 09:15 UTC
HOUR = 3600.0
ABUSE_TERM = Verdict("block", "zqx-abuse", "rules/terms/zqx-abuse.txt:3", "deterrence", "term", report=True)
ABUSE_IMAGE = Verdict("block", "zqx-abuse", "rules/images/zqx-abuse.csv:2", "deterrence", "image", 4, True)
SPAM_URL = Verdict("strip", "zqx-spam", "rules/urls/zqx-spam.txt:1", None, "url")
SUPPORT_TERM = Verdict("warn", "zqx-support", "rules/terms/zqx-support.txt:2", "support", "term")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_sequence(counter: ReportCounter, clock: Clock) -> None:
    clock.now = T0
    counter.request("search", "block", "zqx-abuse")
    counter.warning_shown("deterrence", "en")
    counter.request("search", "allow")
    counter.removed(ABUSE_IMAGE, "https://a.example.invalid/1", "0f0f0f0f0f0f0f0f")
    counter.removed(SPAM_URL, "https://spam.example.invalid/", None)
    counter.removed(SPAM_URL, "https://spam.example.invalid/2", None)
    clock.now = T0 + HOUR  # 10:15
    counter.request("search", "warn", "zqx-support")
    counter.warning_shown("support", "en")
    counter.removed(SUPPORT_TERM, "https://b.example.invalid/", None)
    counter.request("suggest", "allow")
    counter.removed(ABUSE_TERM, None, None)
    counter.upstream(0.1, "ok")  # not transparency data
    counter.image_fetch("fetched")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    clock = Clock(T0)
    path = tmp_path / "report.sqlite3"
    counter = ReportCounter(path, clock=clock)
    run_sequence(counter, clock)
    assert counter.flush() > 0
    assert counter.pending() == {}
    return path


SINCE = datetime(2026, 11, 2, tzinfo=UTC)


def test_totals_for_a_known_sequence(db: Path) -> None:
    summary = summarize(read_rows(db, SINCE), SINCE, None)
    assert summary["requests"] == {"total": 4, "by_action": {"allow": 2, "block": 1, "warn": 1},
                                   "by_route": {"search": 3, "suggest": 1},
                                   "by_category": {"zqx-abuse": 1, "zqx-support": 1}}
    assert summary["removed"] == {
        "total": 5,
        "by_category": {"zqx-abuse": 2, "zqx-spam": 2, "zqx-support": 1},
        "by_action": {"block": 2, "strip": 2, "warn": 1},
        "by_signal": {"image": 1, "term": 2, "url": 2},
    }
    assert summary["warnings"] == {"total": 2, "by_kind": {"deterrence": 1, "support": 1}}


def test_buckets_and_period_bounds(db: Path) -> None:
    rows = read_rows(db, SINCE)
    assert sorted({r.bucket for r in rows}) == ["2026-11-02T09:00", "2026-11-02T10:00"]
    only_ten = read_rows(db, parse_when("2026-11-02T10:00"), parse_when("2026-11-02T11:00"))
    assert {r.bucket for r in only_ten} == {"2026-11-02T10:00"}
    assert read_rows(db, parse_when("2026-11-03")) == []
    whole_day = read_rows(db, parse_when("2026-11-02"), parse_when("2026-11-02", end=True))
    assert sum(r.n for r in whole_day) == sum(r.n for r in rows)


def test_day_buckets(tmp_path: Path) -> None:
    clock = Clock(T0)
    counter = ReportCounter(tmp_path / "d.sqlite3", bucket="day", clock=clock)
    run_sequence(counter, clock)
    counter.flush()
    assert {r.bucket for r in read_rows(tmp_path / "d.sqlite3", SINCE)} == {"2026-11-02T00:00"}


def test_snapshots_are_additive_across_restarts_and_workers(db: Path) -> None:
    for _ in range(2):  # a restarted process and a second worker, writing the same database
        clock = Clock(T0)
        counter = ReportCounter(db, clock=clock)
        run_sequence(counter, clock)
        counter.flush()
    summary = summarize(read_rows(db, SINCE), SINCE, None)
    assert summary["requests"]["total"] == 12
    assert summary["removed"]["by_category"]["zqx-spam"] == 6
    assert summary["warnings"]["by_kind"] == {"deterrence": 3, "support": 3}


def test_schema_cannot_hold_query_text_or_user_data(db: Path) -> None:
    con = sqlite3.connect(db)
    columns = [row[1] for row in con.execute("PRAGMA table_info(counts)")]
    assert columns == ["bucket", "event", "route", "category", "action", "signal", "warning", "n"]
    bad_rows = [
        ("2026-11-02T09:00", "request", "search", "forbidden phrase alpha", "block", "", "", 1),  # free text
        ("2026-11-02T09:00", "query", "search", "", "block", "", "", 1),  # unknown event kind
        ("2026-11-02T09:00", "request", "192.0.2.7", "", "block", "", "", 1),  # an address as a route
        ("zqxblocked", "request", "search", "", "block", "", "", 1),  # text as a bucket
        ("2026-11-02T09:00", "warning", "", "", "", "", "user@example.invalid x", 1),
    ]
    for row in bad_rows:
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO counts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
    con.close()


def test_odd_category_names_are_stored_as_other(tmp_path: Path) -> None:
    counter = ReportCounter(tmp_path / "r.sqlite3", clock=Clock(T0))
    counter.removed(Verdict("block", "not an identifier!", signal="term"), None, None)
    counter.request("weird-route", "nonsense")
    counter.flush()
    rows = read_rows(tmp_path / "r.sqlite3", SINCE)
    assert {(r.event, r.route, r.category, r.action) for r in rows} == {
        ("removed", "", "other", "block"), ("request", "other", "", "allow")}


def test_failed_flush_keeps_the_counts(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    counter = ReportCounter(blocker / "r.sqlite3", clock=Clock(T0))
    counter.request("search", "block")
    with pytest.raises(sqlite3.Error):
        counter.flush()
    assert sum(counter.pending().values()) == 1


def test_formats(db: Path) -> None:
    summary = summarize(read_rows(db, SINCE), SINCE, None)
    md = format_report(summary, "md")
    assert "- Screened requests: 4" in md
    assert "## Removed results by category" in md
    assert "| zqx-spam | 2 |" in md
    assert "| deterrence | 1 |" in md
    assert json.loads(format_report(summary, "json")) == json.loads(json.dumps(summary))
    rows = list(csv.reader(io.StringIO(format_report(summary, "csv"))))
    assert rows[0] == ["section", "dimension", "key", "count"]
    assert ["removed", "total", "", "5"] in rows
    assert ["removed", "signal", "image", "1"] in rows
    assert ["warnings", "kind", "support", "1"] in rows
    with pytest.raises(ValueError):
        format_report(summary, "xml")


def test_cli_json_and_csv(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(db), "--since", "2026-11-02", "--until", "2026-11-02", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["removed"]["total"] == 5
    assert out["since"] == "2026-11-02T00:00:00+00:00"
    assert out["until"] == "2026-11-03T00:00:00+00:00"
    assert main(["report", "--db", str(db), "--since", "2026-11-02T10:00", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert ["requests", "total", "", "2"] in rows


def test_cli_reads_database_from_config(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "fp.toml"
    config.write_text(f'[report]\ndatabase = "{db}"\n')
    assert main(["report", "--config", str(config), "--since", "2026-11-01"]) == 0
    assert "- Warnings shown: 2" in capsys.readouterr().out


def test_cli_errors(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(db), "--since", "yesterday"]) == 2
    assert "not a date" in capsys.readouterr().err
    assert main(["report", "--db", str(db), "--since", "2026-11-03", "--until", "2026-11-01"]) == 2
    assert main(["report", "--db", str(tmp_path / "missing.sqlite3"), "--since", "2026-11-01"]) == 2
    assert "no report database" in capsys.readouterr().err


def test_plot_writes_a_png(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.png"
    assert main(["report", "--db", str(db), "--since", "2026-11-02", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 1000


def test_plot_without_matplotlib_is_a_clear_error(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    with pytest.raises(RuntimeError, match=r"needs matplotlib: pip install 'filter-proxy\[plot\]'"):
        plot_report(read_rows(db, SINCE), tmp_path / "x.png")


@pytest.mark.anyio
async def test_start_and_stop_flush(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite3"
    counter = ReportCounter(path, clock=Clock(T0))
    await counter.start(interval=3600)
    assert path.exists()  # the database is created at start, so a bad path fails early
    counter.request("search", "block")
    await counter.stop()  # shutdown flushes what is in memory
    assert sum(r.n for r in read_rows(path, SINCE)) == 1
