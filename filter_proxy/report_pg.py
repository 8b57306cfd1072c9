"""The fleet's transparency report (principle 10) in PostgreSQL: every instance adds to one table.

Same guarantees as the embedded SQLite report (report.py), which stays the default: no column could hold
a query, an address or a user id, and CHECK constraints keep each column to a closed vocabulary, a plain
identifier or a count, so the table cannot hold text even if a bug tried to write some. One more key
column, ``instance``, says which filter instance counted a row, so the whole fleet is added up in one place
and a single box can still be told apart.

Counting is in memory on the request path (ReportCounter); a background task flushes the counts in one
batched transaction of additive upserts every ``snapshot_interval`` seconds, in a worker thread, so the
database is never on a request's path. If PostgreSQL is unreachable the counts stay in memory and are
added at the next successful flush (and on shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from filter_proxy.report import BUCKETS, ReportCounter, Row, _ident

log = logging.getLogger("filter_proxy.report")

TABLE = "filter_proxy_report_counts"
SCHEMES = ("postgresql://", "postgres://")

# Identifiers are at most 64 of [A-Za-z0-9_.-], the same vocabulary as the SQLite schema's GLOB checks.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    bucket   timestamp   NOT NULL CHECK (bucket = date_trunc('hour', bucket)),
    instance varchar(64) NOT NULL CHECK (instance ~ '^[A-Za-z0-9_.-]{{1,64}}$'),
    event    varchar(8)  NOT NULL CHECK (event IN ('request', 'removed', 'warning')),
    route    varchar(8)  NOT NULL CHECK (route IN ('', 'search', 'suggest', 'other')),
    category varchar(64) NOT NULL CHECK (category ~ '^[A-Za-z0-9_.-]{{0,64}}$'),
    action   varchar(8)  NOT NULL CHECK (action IN ('', 'allow', 'strip', 'warn', 'block')),
    signal   varchar(8)  NOT NULL CHECK (signal IN ('', 'term', 'url', 'image', 'other')),
    warning  varchar(64) NOT NULL CHECK (warning ~ '^[A-Za-z0-9_.-]{{0,64}}$'),
    n        bigint      NOT NULL CHECK (n >= 0),
    PRIMARY KEY (bucket, instance, event, route, category, action, signal, warning)
)
"""
# The deterrence funnel (issue 15): the SQLite store's ``funnel`` table with an instance column.
FUNNEL_TABLE = "filter_proxy_report_funnel"
SCHEMA += f""";
CREATE TABLE IF NOT EXISTS {FUNNEL_TABLE} (
    bucket   timestamp   NOT NULL CHECK (bucket = date_trunc('hour', bucket)),
    instance varchar(64) NOT NULL CHECK (instance ~ '^[A-Za-z0-9_.-]{{1,64}}$'),
    event    varchar(8)  NOT NULL CHECK (event IN ('shown', 'click', 'repeat')),
    kind     varchar(64) NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_-]{{0,63}}$'),
    lang     varchar(24) NOT NULL CHECK (lang ~ '^([a-z]{{2,3}}(-[a-z0-9]{{2,8}})*)?$'),
    variant  varchar(64) NOT NULL CHECK (variant ~ '^[a-z][a-z0-9_-]{{0,63}}$'),
    link     smallint    NOT NULL CHECK (link BETWEEN -1 AND 999),
    n        bigint      NOT NULL CHECK (n >= 0),
    PRIMARY KEY (bucket, instance, event, kind, lang, variant, link)
)
"""
_FUNNEL_COLUMNS = "bucket, instance, event, kind, lang, variant, link"
_FUNNEL_UPSERT = (f"INSERT INTO {FUNNEL_TABLE} ({_FUNNEL_COLUMNS}, n) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                  f"ON CONFLICT ({_FUNNEL_COLUMNS}) DO UPDATE SET n = {FUNNEL_TABLE}.n + excluded.n")
_COLUMNS = "bucket, instance, event, route, category, action, signal, warning"
_UPSERT = (f"INSERT INTO {TABLE} ({_COLUMNS}, n) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
           f"ON CONFLICT ({_COLUMNS}) DO UPDATE SET n = {TABLE}.n + excluded.n")
_LOCK_KEY = 0x66707270  # advisory lock: workers starting together must not race on CREATE TABLE


class ReportReadError(OSError):
    """The report database could not be read (message without the password)."""


def is_postgres_url(database: str) -> bool:
    return database.startswith(SCHEMES)


def describe(dsn: str) -> str:
    """``postgresql://host:port/dbname`` without user or password, for logs and error messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except Exception:  # a malformed DSN must not leak into a log line either
        return "postgresql://(unparsable)"
    return f"postgresql://{info.get('host', '')}:{info.get('port', '5432')}/{info.get('dbname', '')}"


def _connect(dsn: str, timeout: float) -> Any:
    import psycopg

    return psycopg.connect(dsn, connect_timeout=max(1, int(timeout)), autocommit=False)


def create_schema(dsn: str, timeout: float = 5.0) -> None:
    with _connect(dsn, timeout) as db, db.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(SCHEMA)


def _bucket_time(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%dT%H:%M")  # naive UTC, as the column stores it


class PostgresReportCounter(ReportCounter):
    """ReportCounter whose flushes go to PostgreSQL under this instance's name."""

    def __init__(self, dsn: str, bucket: str = "hour", instance: str = "default",
                 clock: Callable[[], float] = time.time, timeout: float = 5.0) -> None:
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {BUCKETS}")
        super().__init__(describe(dsn), bucket, clock)
        self.dsn = dsn
        self.instance = _ident(instance) or "default"
        self.timeout = timeout
        self._schema_ready = False

    def _store_error(self) -> type[Exception]:
        import psycopg

        return psycopg.Error

    def _write(self, counts: dict[Any, int], funnel: dict[Any, int]) -> int:
        """One transaction under this instance's name (``flush`` puts the counts back on failure)."""
        # Sorted, so two workers upserting overlapping keys lock rows in the same order (no deadlock).
        rows = [(_bucket_time(k[0]), self.instance, *k[1:], n) for k, n in sorted(counts.items())]
        funnel_rows = [(_bucket_time(k[0]), self.instance, *k[1:], n) for k, n in sorted(funnel.items())]
        with _connect(self.dsn, self.timeout) as db, db.cursor() as cur:
            if not self._schema_ready:  # PostgreSQL was down at start
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute(SCHEMA)
            if rows:
                cur.executemany(_UPSERT, rows)
            if funnel_rows:
                cur.executemany(_FUNNEL_UPSERT, funnel_rows)
        self._schema_ready = True
        return len(rows) + len(funnel_rows)

    async def _snapshots(self, interval: float) -> None:
        import psycopg

        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.flush)
            except psycopg.Error as exc:
                log.error("transparency report flush to %s failed, counts kept in memory: %s",
                          describe(self.dsn), type(exc).__name__)

    async def start(self, interval: float = 60.0) -> None:
        """Creates the table. Unlike the embedded SQLite file, an unreachable database does not stop the
        instance: filtering must not depend on a shared report store, so counts wait in memory (logged)."""
        import psycopg

        try:
            await asyncio.to_thread(create_schema, self.dsn, self.timeout)
            self._schema_ready = True
        except psycopg.Error as exc:
            log.error("transparency report: %s unreachable at start (%s); counting in memory until it is back",
                      describe(self.dsn), type(exc).__name__)
        self._task = asyncio.create_task(self._snapshots(interval))

    async def stop(self) -> None:
        import psycopg

        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.to_thread(self.flush)
        except psycopg.Error as exc:  # nothing more can be done; say how much is lost
            lost = sum(self.pending().values())
            log.error("transparency report: final flush to %s failed, %d counts lost: %s",
                      describe(self.dsn), lost, type(exc).__name__)


# --- reading --------------------------------------------------------------------------------------


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def read_fleet_rows(dsn: str, since: datetime, until: datetime | None = None,
                    timeout: float = 5.0) -> tuple[list[Row], dict[str, int]]:
    """Rows summed over every instance, for buckets starting in [since, until), and the screened
    requests per instance. ReportReadError when the database cannot be read."""
    import psycopg

    lo = _naive(since).replace(minute=0, second=0, microsecond=0)
    hi = _naive(until) if until else datetime(9999, 12, 31)
    try:
        with _connect(dsn, timeout) as db, db.cursor() as cur:
            cur.execute(
                f"SELECT to_char(bucket, 'YYYY-MM-DD\"T\"HH24:MI'), event, route, category, action, signal, "
                f"warning, sum(n) FROM {TABLE} WHERE bucket >= %s AND bucket < %s "
                f"GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1", (lo, hi))
            rows = [Row(*r[:7], int(r[7])) for r in cur.fetchall()]
            cur.execute(f"SELECT instance, sum(n) FROM {TABLE} WHERE event = 'request' AND bucket >= %s "
                        f"AND bucket < %s GROUP BY instance ORDER BY instance", (lo, hi))
            per_instance = {str(name): int(n) for name, n in cur.fetchall()}
    except psycopg.errors.UndefinedTable:
        raise ReportReadError(f"{describe(dsn)}: no report table yet (no instance has written to it)") from None
    except psycopg.Error as exc:
        raise ReportReadError(f"{describe(dsn)}: {type(exc).__name__}: {exc}") from None
    return rows, per_instance


def read_fleet_funnel_rows(dsn: str, since: datetime, until: datetime | None = None,
                           timeout: float = 5.0) -> list[tuple[Any, ...]]:
    """Funnel rows (bucket, event, kind, lang, variant, link, n) summed over every instance."""
    import psycopg

    lo = _naive(since).replace(minute=0, second=0, microsecond=0)
    hi = _naive(until) if until else datetime(9999, 12, 31)
    try:
        with _connect(dsn, timeout) as db, db.cursor() as cur:
            cur.execute(
                f"SELECT to_char(bucket, 'YYYY-MM-DD\"T\"HH24:MI'), event, kind, lang, variant, link, sum(n) "
                f"FROM {FUNNEL_TABLE} WHERE bucket >= %s AND bucket < %s GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1",
                (lo, hi))
            return [(*r[:5], int(r[5]), int(r[6])) for r in cur.fetchall()]
    except psycopg.errors.UndefinedTable:
        return []  # written before the funnel existed
    except psycopg.Error as exc:
        raise ReportReadError(f"{describe(dsn)}: {type(exc).__name__}: {exc}") from None
