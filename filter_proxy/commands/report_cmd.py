"""`filter-proxy report`: transparency totals from the report database (principle 10)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import UTC, datetime, timedelta


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="print transparency totals (screened requests, removals, warnings) for a period",
        description="Totals per category, action, signal and warning kind from the report database. "
        "Dates are UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM; a bare --until date includes that day.",
    )
    p.add_argument("--since", metavar="DATE", help="start of the period (default: 30 days ago)")
    p.add_argument("--until", metavar="DATE", help="end of the period (default: now)")
    p.add_argument("--format", choices=("md", "json", "csv"), default="md")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--db", metavar="PATH", help="report database: a SQLite file, or a postgresql:// URL "
                        "for the whole fleet")
    source.add_argument("--config", metavar="FILE", help="take [report] database from this filter-proxy.toml")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the counts over time (needs matplotlib)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from filter_proxy.config import ConfigError, load_config
    from filter_proxy.report import format_report, parse_when, plot_report, read_rows, summarize

    def fail(message: str) -> int:
        print(f"filter-proxy report: {message}", file=sys.stderr)
        return 2

    try:
        since = parse_when(args.since) if args.since else datetime.now(UTC) - timedelta(days=30)
        until = parse_when(args.until, end=True) if args.until else None
    except ValueError as exc:
        return fail(str(exc))
    if until is not None and until <= since:
        return fail("--until must be after --since")
    database = args.db
    if database is None:
        try:
            database = load_config(args.config).report.database
        except ConfigError as exc:
            return fail(f"configuration error: {exc}")
    by_instance: dict[str, int] | None = None
    try:
        if database.startswith(("postgresql://", "postgres://")):
            from filter_proxy.report_pg import read_fleet_rows  # the fleet's report (report_pg.py)

            rows, by_instance = read_fleet_rows(database, since, until)
        else:
            rows = read_rows(database, since, until)
    except (OSError, sqlite3.Error) as exc:
        return fail(str(exc))
    summary = summarize(rows, since, until)
    if by_instance is not None:
        summary["requests"]["by_instance"] = by_instance
    sys.stdout.write(format_report(summary, args.format))
    if args.plot:
        try:
            plot_report(rows, args.plot)
        except RuntimeError as exc:
            return fail(str(exc))
    return 0
