"""Workers of ``serve --workers N`` open the report database at the same moment when they start; a fresh
database must open in every one of them (a CI run had one worker fail with "database is locked" while the
other switched the new file to WAL, and the whole server stopped)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from filter_proxy.report import connect


def _open(path: str, barrier: object, results: object) -> None:
    try:
        barrier.wait()  # type: ignore[attr-defined]
        connect(path).close()
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 -- reported to the test
        results.put(repr(exc))  # type: ignore[attr-defined]


def test_workers_opening_a_fresh_report_database_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = 6
    for round_ in range(8):
        path = tmp_path / f"report{round_}.sqlite3"
        barrier, results = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(path), barrier, results)) for _ in range(workers)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert outcomes == ["ok"] * workers, (round_, outcomes)
