"""The fleet's transparency report in a real PostgreSQL: same numbers and guarantees as the SQLite one."""

from __future__ import annotations

import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.cli import main
from filter_proxy.report import ReportCounter, read_rows, summarize
from filter_proxy.report_pg import TABLE, PostgresReportCounter, create_schema, describe, read_fleet_rows
from tests.test_report import SINCE, T0, Clock, run_sequence

IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def test_same_totals_as_the_sqlite_report(postgres_dsn: str, tmp_path: Path) -> None:
    clock = Clock(T0)
    sqlite_counter = ReportCounter(tmp_path / "r.sqlite3", clock=clock)
    run_sequence(sqlite_counter, clock)
    sqlite_counter.flush()
    clock = Clock(T0)
    pg = PostgresReportCounter(postgres_dsn, instance="box-1", clock=clock)
    create_schema(postgres_dsn)
    run_sequence(pg, clock)
    assert pg.flush() > 0 and pg.pending() == {}
    rows, per_instance = read_fleet_rows(postgres_dsn, SINCE)
    assert rows == read_rows(tmp_path / "r.sqlite3", SINCE)  # same rows, same buckets, same order
    assert summarize(rows, SINCE, None)["requests"]["total"] == 4
    assert per_instance == {"box-1": 4}


def test_instances_and_workers_add_up(postgres_dsn: str) -> None:
    create_schema(postgres_dsn)

    def one(instance: str) -> None:
        clock = Clock(T0)
        counter = PostgresReportCounter(postgres_dsn, instance=instance, clock=clock)
        run_sequence(counter, clock)
        counter.flush()

    # Two workers of box-a and one of box-b flush at the same time (sorted upserts: no deadlock).
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(one, ["box-a", "box-a", "box-b"]))
    rows, per_instance = read_fleet_rows(postgres_dsn, SINCE)
    summary = summarize(rows, SINCE, None)
    assert summary["requests"]["total"] == 12
    assert summary["removed"]["by_category"] == {"zqx-abuse": 6, "zqx-spam": 6, "zqx-support": 3}
    assert per_instance == {"box-a": 8, "box-b": 4}


def test_concurrent_starts_create_the_table_once(postgres_dsn: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: create_schema(postgres_dsn), range(4)))
    with psycopg.connect(postgres_dsn) as db:
        columns = [r[0] for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (TABLE,))]
    assert columns == ["bucket", "instance", "event", "route", "category", "action", "signal", "warning", "n"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=80), column=st.sampled_from(["instance", "category", "warning",
                                                                      "route", "event", "action", "signal"]))
def test_the_schema_cannot_hold_text(postgres_dsn: str, text: str, column: str) -> None:
    create_schema(postgres_dsn)
    row = {"bucket": "2026-11-02 09:00", "instance": "box-1", "event": "request", "route": "search",
           "category": "", "action": "block", "signal": "", "warning": "", "n": 1}
    row[column] = text
    closed = {"route": {"search", "suggest", "other"}, "event": {"request", "removed", "warning"},
              "action": {"allow", "strip", "warn", "block"}, "signal": {"term", "url", "image", "other"}}
    allowed = text in closed[column] if column in closed else bool(IDENT.fullmatch(text))
    sql = f"INSERT INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})"
    with psycopg.connect(postgres_dsn) as db:
        if allowed:
            db.execute(sql, list(row.values()))
            db.rollback()
        else:
            with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.StringDataRightTruncation,
                                psycopg.errors.DataError)):
                db.execute(sql, list(row.values()))


def test_buckets_must_be_whole_hours_and_counts_not_negative(postgres_dsn: str) -> None:
    create_schema(postgres_dsn)
    base = ["box-1", "request", "search", "", "block", "", ""]
    sql = f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    with psycopg.connect(postgres_dsn) as db:
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(sql, ["2026-11-02 09:17", *base, 1])
        db.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(sql, ["2026-11-02 09:00", *base, -1])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failed_flush_keeps_the_counts_and_hides_the_password() -> None:
    dsn = f"postgresql://reporter:s3cretpw@127.0.0.1:{_closed_port()}/report"
    counter = PostgresReportCounter(dsn, instance="box-1", clock=Clock(T0), timeout=1)
    counter.request("search", "block", "zqx-abuse")
    with pytest.raises(psycopg.OperationalError):
        counter.flush()
    assert sum(counter.pending().values()) == 1
    assert "s3cretpw" not in describe(dsn) and "reporter" not in describe(dsn)


@pytest.mark.anyio
async def test_start_creates_the_table_and_stop_flushes(postgres_dsn: str) -> None:
    counter = PostgresReportCounter(postgres_dsn, instance="box-9")
    await counter.start(3600)
    counter.request("search", "allow")
    counter.request("suggest", "block", "zqx-abuse")
    await counter.stop()
    rows, per_instance = read_fleet_rows(postgres_dsn, SINCE)
    assert per_instance == {"box-9": 2}


def test_cli_reads_the_whole_fleet(postgres_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    create_schema(postgres_dsn)
    for instance in ("box-a", "box-b"):
        clock = Clock(T0)
        counter = PostgresReportCounter(postgres_dsn, instance=instance, clock=clock)
        run_sequence(counter, clock)
        counter.flush()
    assert main(["report", "--db", postgres_dsn, "--since", "2026-11-02", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"]["total"] == 8
    assert out["requests"]["by_instance"] == {"box-a": 4, "box-b": 4}
    assert main(["report", "--db", postgres_dsn, "--since", "2026-11-02"]) == 0
    assert "| box-a | 4 |" in capsys.readouterr().out


def test_cli_without_a_table_is_a_clear_error(postgres_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", postgres_dsn, "--since", "2026-11-02"]) == 2
    assert "no report table yet" in capsys.readouterr().err


@pytest.mark.anyio
async def test_an_instance_starts_while_postgres_is_down_and_catches_up() -> None:
    from tests.support.servers import running_postgres

    with running_postgres() as server:
        dsn = server.create_database()
        server.stop()
        counter = PostgresReportCounter(dsn, instance="box-late", timeout=1)
        await counter.start(3600)  # does not raise: filtering must not wait for the report store
        counter.request("search", "block", "zqx-abuse")
        with pytest.raises(psycopg.OperationalError):
            counter.flush()
        server.start_again()
        counter.request("search", "allow")
        await counter.stop()  # creates the table and writes everything counted meanwhile
        _, per_instance = read_fleet_rows(dsn, SINCE)
    assert per_instance == {"box-late": 2}
