"""Reading the transparency report (``report.py`` writes it): rows of a period, the summary, and the
report as Markdown, JSON, CSV or a plot. Read-only; nothing here runs on the request path."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Row:
    bucket: str
    event: str
    route: str
    category: str
    action: str
    signal: str
    warning: str
    n: int


def parse_when(text: str, end: bool = False) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (UTC). A bare date as an end bound includes that whole day."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def read_rows(database: str | Path, since: datetime, until: datetime | None = None) -> list[Row]:
    """Rows whose bucket starts in [since, until)."""
    if not Path(database).exists():
        raise FileNotFoundError(f"no report database at {database}")
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        lo = since.strftime("%Y-%m-%dT%H:00")
        hi = until.strftime("%Y-%m-%dT%H:%M") if until else "9999-12-31T23:59"
        cur = db.execute("SELECT * FROM counts WHERE bucket >= ? AND bucket < ? ORDER BY bucket", (lo, hi))
        return [Row(*r) for r in cur.fetchall()]
    finally:
        db.close()


def read_funnel_rows(database: str | Path, since: datetime, until: datetime | None = None) -> list[tuple[Any, ...]]:
    """Funnel rows (bucket, event, kind, lang, variant, link, n) whose bucket starts in [since, until)."""
    if not Path(database).exists():
        raise FileNotFoundError(f"no report database at {database}")
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        lo = since.strftime("%Y-%m-%dT%H:00")
        hi = until.strftime("%Y-%m-%dT%H:%M") if until else "9999-12-31T23:59"
        try:
            cur = db.execute("SELECT * FROM funnel WHERE bucket >= ? AND bucket < ? ORDER BY bucket", (lo, hi))
        except sqlite3.OperationalError:  # a database written before the funnel existed
            return []
        return [tuple(r) for r in cur.fetchall()]
    finally:
        db.close()


def _totals(rows: Iterable[Row], event: str, key: Callable[[Row], str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.event == event:
            out[key(r)] += r.n
    return dict(sorted(out.items()))


def summarize(rows: list[Row], since: datetime, until: datetime | None) -> dict[str, Any]:
    removed = [r for r in rows if r.event == "removed"]
    return {
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "requests": {
            "total": sum(r.n for r in rows if r.event == "request"),
            "by_action": _totals(rows, "request", lambda r: r.action),
            "by_route": _totals(rows, "request", lambda r: r.route),
            # Queries that matched a category (blocked, warned or stripped), per category.
            "by_category": _totals([r for r in rows if r.category], "request", lambda r: r.category),
        },
        "removed": {
            "total": sum(r.n for r in removed),
            "by_category": _totals(removed, "removed", lambda r: r.category),
            "by_action": _totals(removed, "removed", lambda r: r.action),
            "by_signal": _totals(removed, "removed", lambda r: r.signal),
        },
        "warnings": {
            "total": sum(r.n for r in rows if r.event == "warning"),
            "by_kind": _totals(rows, "warning", lambda r: r.warning),
        },
    }


_SECTIONS = (
    ("Screened requests by query action", "requests", "by_action", "action"),
    ("Screened requests by route", "requests", "by_route", "route"),
    ("Screened requests by instance", "requests", "by_instance", "instance"),  # fleet reports only
    ("Matched queries by category", "requests", "by_category", "category"),
    ("Removed results by category", "removed", "by_category", "category"),
    ("Removed results by action", "removed", "by_action", "action"),
    ("Removed results by signal", "removed", "by_signal", "signal"),
    ("Warnings shown by kind", "warnings", "by_kind", "kind"),
)


def format_report(summary: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["section", "dimension", "key", "count"])
        for section in ("requests", "removed", "warnings"):
            writer.writerow([section, "total", "", summary[section]["total"]])
        for _title, section, group, dim in _SECTIONS:
            for key, n in summary[section].get(group, {}).items():
                writer.writerow([section, dim, key, n])
        return buf.getvalue()
    if fmt == "md":
        until = summary["until"] or "now"
        lines = [f"# Transparency report: {summary['since']} to {until}", ""]
        lines.append(f"- Screened requests: {summary['requests']['total']}")
        lines.append(f"- Removed results and suggestions: {summary['removed']['total']}")
        lines.append(f"- Warnings shown: {summary['warnings']['total']}")
        for title, section, group, dim in _SECTIONS:
            if group not in summary[section]:
                continue
            lines += ["", f"## {title}", "", f"| {dim} | count |", "|---|---:|"]
            items = summary[section][group]
            lines += [f"| {k or '-'} | {n} |" for k, n in items.items()] or ["| (none) | 0 |"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r} (md, json or csv)")


def plot_report(rows: list[Row], out: str | Path) -> None:
    """Counts over time as a PNG: blocked/warned queries, removals per category, warnings per kind."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'filter-proxy[plot]'") from None
    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r.event == "request" and r.action in ("block", "warn"):
            series[f"queries {r.action}ed"][r.bucket] += r.n
        elif r.event == "removed":
            series[f"removed: {r.category}"][r.bucket] += r.n
        elif r.event == "warning":
            series[f"warnings: {r.warning}"][r.bucket] += r.n
    buckets = sorted({r.bucket for r in rows})
    xs = [datetime.strptime(b, "%Y-%m-%dT%H:%M") for b in buckets]
    fig, ax = plt.subplots(figsize=(10, 5))
    try:
        for name, counts in sorted(series.items()):
            ax.plot(xs, [counts.get(b, 0) for b in buckets], marker="o", label=name)
        ax.set_title("filter-proxy transparency report")
        ax.set_xlabel("time (UTC)")
        ax.set_ylabel("count per bucket")
        if series:
            ax.legend(loc="upper left", fontsize="small")
        fig.autofmt_xdate()
        fig.savefig(str(out), dpi=100)
    finally:
        plt.close(fig)
