"""Transparency report (principle 10): counts of what was screened, per time bucket, in SQLite.

``ReportCounter`` is a FilterObserver that adds to in-memory counts and flushes them as additive upserts,
so counts survive restarts and several workers can share one database. The schema has no column that
could hold a query, an address or a user id, and CHECK constraints keep every column to a closed
vocabulary or a plain identifier: it can't store what a person typed or who they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from filter_proxy.events import NullObserver
from filter_proxy.report_read import (
    Row,
    format_report,
    parse_when,
    plot_report,
    read_funnel_rows,
    read_rows,
    summarize,
)  # the reading side, re-exported
from filter_proxy.verdict import Verdict

__all__ = ["BUCKETS", "EVENTS", "FUNNEL_EVENTS", "ReportCounter", "Row", "bucket_of", "connect", "default_database",
           "format_report", "parse_when", "plot_report", "read_funnel_rows", "read_rows", "summarize"]

log = logging.getLogger("filter_proxy.report")

EVENTS = ("request", "removed", "warning")
BUCKETS = ("hour", "day")
_IDENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    bucket   TEXT NOT NULL CHECK (bucket GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:00'),
    event    TEXT NOT NULL CHECK (event IN ('request', 'removed', 'warning')),
    route    TEXT NOT NULL CHECK (route IN ('', 'search', 'suggest', 'other')),
    category TEXT NOT NULL CHECK (length(category) <= 64 AND category NOT GLOB '*[^A-Za-z0-9_.-]*'),
    action   TEXT NOT NULL CHECK (action IN ('', 'allow', 'strip', 'warn', 'block')),
    signal   TEXT NOT NULL CHECK (signal IN ('', 'term', 'url', 'image', 'other')),
    warning  TEXT NOT NULL CHECK (length(warning) <= 64 AND warning NOT GLOB '*[^A-Za-z0-9_.-]*'),
    n        INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (bucket, event, route, category, action, signal, warning)
) WITHOUT ROWID;
"""

# The deterrence funnel (issue 15): per warning kind, language and variant, how often a warning was shown,
# a help link (by its index in the catalogue's list of that kind) was followed, and (opt-in) a repeat
# blocked search came back with the follow-up cookie. The same closed vocabulary as ``counts``: no column
# can hold text a person typed, an address or an identifier.
FUNNEL_EVENTS = ("shown", "click", "repeat")
FUNNEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS funnel (
    bucket   TEXT NOT NULL CHECK (bucket GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:00'),
    event    TEXT NOT NULL CHECK (event IN ('shown', 'click', 'repeat')),
    kind     TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64 AND kind NOT GLOB '*[^a-z0-9_-]*'),
    lang     TEXT NOT NULL CHECK (length(lang) <= 24 AND lang NOT GLOB '*[^a-z0-9-]*'),
    variant  TEXT NOT NULL CHECK (length(variant) BETWEEN 1 AND 64 AND variant NOT GLOB '*[^a-z0-9_-]*'),
    link     INTEGER NOT NULL CHECK (link BETWEEN -1 AND 999),
    n        INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (bucket, event, kind, lang, variant, link)
) WITHOUT ROWID;
"""
_FUNNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_FUNNEL_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")

FunnelKey = tuple[str, str, str, str, str, int]  # bucket, event, kind, lang, variant, link (-1: none)

Key = tuple[str, str, str, str, str, str, str]  # bucket, event, route, category, action, signal, warning


def _ident(value: str | None) -> str:
    """A category or warning kind as stored: a plain identifier, else "other" (never free text)."""
    if not value:
        return ""
    return value if _IDENT_RE.match(value) else "other"


def bucket_of(ts: float, size: str = "hour") -> str:
    # Called for every counted event: the formatted hour is cached (UTC hours are whole multiples of 3600 s
    # since the epoch), saving a datetime + strftime per event on the request path.
    # datetime.fromtimestamp rounds to the microsecond (half even): so does this, then floors to the hour.
    whole = math.floor(ts)
    seconds = whole + (round((ts - whole) * 1e6) >= 1_000_000)
    return _bucket(seconds // 3600, size)


@lru_cache(maxsize=64)
def _bucket(hour: int, size: str) -> str:
    moment = datetime.fromtimestamp(hour * 3600, UTC)
    if size == "day":
        moment = moment.replace(hour=0)
    return moment.strftime("%Y-%m-%dT%H:00")


APP_DIR = "filter-proxy"
DATABASE_NAME = "report.sqlite3"


def default_database(env: dict[str, str] | None = None) -> Path:
    """Where the report database lives when the configuration names none: the XDG state directory
    (``$XDG_STATE_HOME/filter-proxy/report.sqlite3``, by default ``~/.local/state/...``), never the
    current directory, so a server started from a source checkout writes nothing into it."""
    import os

    values = os.environ if env is None else env
    state = values.get("XDG_STATE_HOME") or ""
    base = Path(state) if state and Path(state).is_absolute() else Path(values.get("HOME") or Path.home()) / ".local" / "state"
    return base / APP_DIR / DATABASE_NAME


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (and create) the report database. WAL + busy timeout let several workers write."""
    with contextlib.suppress(OSError):  # the default lives in a state directory that may not exist yet;
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # if it cannot be made, sqlite3 says why
    db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    # Workers starting together race to turn a new file to WAL and create the tables; SQLite answers the
    # losers "database is locked" at once for the journal-mode switch (its busy handler is not used there).
    deadline = time.monotonic() + 30
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA + FUNNEL_SCHEMA)
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.01)


class ReportCounter(NullObserver):
    """Counts screened requests, removals and warnings per (bucket, category, action, signal, kind).
    Upstream latency and image fetches are operational data (see metrics), so they stay no-ops here."""

    def __init__(self, database: str | Path, bucket: str = "hour", clock: Callable[[], float] = time.time) -> None:
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {BUCKETS}")
        self.database = Path(database)
        self.bucket = bucket
        self._clock = clock
        self._lock = threading.Lock()  # increments (event loop) vs flushes (a worker thread)
        self._counts: defaultdict[Key, int] = defaultdict(int)
        self._funnel: defaultdict[FunnelKey, int] = defaultdict(int)
        self._flush_lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._window: tuple[float, float, str] = (0.0, 0.0, "")  # [start, end) of the hour, its bucket

    def _bucket_now(self) -> str:
        """``bucket_of(now)``, from the current hour's window when now is well inside it (one comparison per
        event instead of the rounding and a cache lookup)."""
        ts = self._clock()
        if self._window[0] <= ts < self._window[1]:
            return self._window[2]
        label = bucket_of(ts, self.bucket)
        start = (math.floor(ts) // 3600) * 3600
        if start <= ts < start + 3599.999:  # far from the hour's edges, where bucket_of rounds
            self._window = (start, start + 3599.999, label)
        return label

    def _add(self, event: str, route: str = "", category: str = "", action: str = "", signal: str = "",
             warning: str = "") -> None:
        key = (self._bucket_now(), event, route, category, action, signal, warning)
        with self._lock:
            self._counts[key] += 1

    # --- FilterObserver ------------------------------------------------------------------------------
    def request(self, route: str, action: str, category: str | None = None) -> None:
        # The category of a screened query (blocked or warned searches per category); never its text.
        self._add("request", route if route in ("search", "suggest") else "other", category=_ident(category),
                  action=action if action in ("allow", "strip", "warn", "block") else "allow")

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        # url and image_hash are deliberately not counted: the report is aggregate numbers only.
        signal = verdict.signal if verdict.signal in ("term", "url", "image") else "other"
        self._add("removed", category=_ident(verdict.category) or "other", action=verdict.action,
                  signal=signal, warning=_ident(verdict.warning))

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        self._add("warning", warning=_ident(kind) or "other")
        self._add_funnel("shown", kind, lang, variant)

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        self._add_funnel("click", kind, lang, variant, link)

    def repeat_search(self, kind: str, variant: str) -> None:
        # The cookie holds no language (less to store); repeats are per kind and variant only.
        self._add_funnel("repeat", kind, "", variant)

    def _add_funnel(self, event: str, kind: str, lang: str, variant: str, link: int = -1) -> None:
        """Anything outside the vocabulary is not counted (it can only come from a bug: tokens and
        cookies are verified before they reach here)."""
        if not (_FUNNEL_NAME.match(kind) and _FUNNEL_NAME.match(variant) and (lang == "" or _FUNNEL_LANG.match(lang))
                and -1 <= link <= 999):
            return
        key = (self._bucket_now(), event, kind, lang, variant, link)
        with self._lock:
            self._funnel[key] += 1

    # --- persistence ---------------------------------------------------------------------------------
    def pending(self) -> dict[Key, int]:
        with self._lock:
            return dict(self._counts)

    def flush(self) -> int:
        """Add the in-memory counts to the database; returns how many rows were upserted. Blocking: call
        it from a thread when an event loop is running. Counts are put back if the write fails."""
        with self._flush_lock:
            with self._lock:
                counts, self._counts = self._counts, defaultdict(int)
                funnel, self._funnel = self._funnel, defaultdict(int)
            if not counts and not funnel:
                return 0
            try:
                return self._write(counts, funnel)
            except self._store_error():
                with self._lock:
                    for key, n in counts.items():
                        self._counts[key] += n
                    for fkey, n in funnel.items():
                        self._funnel[fkey] += n
                raise

    def _store_error(self) -> type[Exception]:
        """The error type of this store: a failed write of it puts the counts back."""
        return sqlite3.Error

    def _write(self, counts: dict[Key, int], funnel: dict[Any, int]) -> int:
        """Upsert one batch in one transaction; the rows written."""
        db = connect(self.database)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO counts VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET n = n + excluded.n",
                [(*key, n) for key, n in counts.items()],
            )
            db.executemany("INSERT INTO funnel VALUES (?, ?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT DO UPDATE SET n = n + excluded.n",
                           [(*key, n) for key, n in funnel.items()])
            db.execute("COMMIT")
        finally:
            db.close()
        return len(counts) + len(funnel)

    async def _snapshots(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.flush)
            except sqlite3.Error as exc:
                log.error("transparency report flush failed, counts kept in memory: %s", exc)

    async def start(self, interval: float = 60.0) -> None:
        await asyncio.to_thread(lambda: connect(self.database).close())  # fail at start, not an hour later
        self._task = asyncio.create_task(self._snapshots(interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.flush)
