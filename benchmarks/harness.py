"""Shared plumbing: progress lines, timing helpers, machine info and the DESIGN §8 targets."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

_START = time.monotonic()


def log(message: str) -> None:
    """A progress line on stderr with the elapsed time since the run started."""
    print(f"[{time.monotonic() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_per_call(fn: Callable[[], Any], rounds: int, number: int) -> list[float]:
    """Seconds per call of ``fn``, one figure per round of ``number`` calls (take the median)."""
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        out.append((time.perf_counter() - start) / number)
    return out


def rss_kib() -> int:
    """Resident set size of this process in KiB, from /proc/self/status (no psutil needed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_info() -> dict[str, Any]:
    """What the figures were measured on; load average tells how busy the shared machine was."""
    import numpy

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in load],
        "commit": commit,
        "compiled_kernels": compiled_kernels(),
    }


def compiled_kernels() -> dict[str, bool]:
    """Each optional compiled module (a ``.pyx`` beside its pure-Python fallback) and whether it was built
    and imports here: a figure measured on the fallback is not the compiled figure."""
    import importlib
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "filter_proxy"
    found: dict[str, bool] = {}
    for source in sorted(package.rglob("*.pyx")):
        name = ".".join(source.relative_to(package.parent).with_suffix("").parts)
        try:
            importlib.import_module(name)
        except ImportError:
            found[name] = False
        else:
            found[name] = True
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """One row of DESIGN §8: ``higher`` means bigger is better (throughput, recall)."""

    key: str
    what: str
    unit: str
    minimum: float
    goal: float
    higher: bool

    def status(self, value: float | None) -> str:
        if value is None or value != value:  # None or NaN: not measured
            return "not measured"
        def ok(limit: float) -> bool:
            return value >= limit if self.higher else value <= limit
        if ok(self.goal):
            return "met (goal met)"
        if ok(self.minimum):
            return "met (goal not met)"
        return "not met"


def why_not_met(t: Target, value: float) -> str:
    """The words a "not met" needs: how far the value is from the minimum, and which way."""
    unit = "" if t.unit in ("ratio",) else f" {t.unit}"
    side = "below" if t.higher else "above"
    gap = abs(value - t.minimum) / t.minimum * 100 if t.minimum else float("inf")
    gap_text = f"{gap:.0f} %" if gap == gap and gap != float("inf") else "all of it"
    return f"{value:.3g}{unit} is {side} the minimum {t.minimum:g}{unit} ({gap_text} short)"


_T = Target
TARGETS: dict[str, Target] = {t.key: t for t in (
    _T("overhead_ratio", "filtered / pass-through requests/s (10-result page, 100k terms)", "ratio", 0.85, 0.90, True),
    _T("cpu_per_page_ms", "added CPU per 10-result page (text and URLs), median", "ms", 0.15, 0.08, False),
    _T("url_checks_per_s", "URL checks per second on one core (canonicalise + match)", "checks/s", 60_000, 100_000, True),
    _T("url_check_cpu_us", "CPU per RuleSet.check_url, verdict cache off (issue 14.2; ~4.3 us before the kernel)", "us",
       2.0, 1.5, False),
    _T("terms_1m_load_s", "1M terms: compiled bundle load time", "s", 1.0, 0.3, False),
    _T("terms_1m_memory_mb", "1M terms: resident memory after load", "MB", 64, 32, False),
    _T("terms_1m_compile_s", "1M terms: `rules compile` time (CPU s; wall beside it)", "s", 10, 10, False),
    _T("terms_1m_compile_mb", "1M terms: `rules compile` peak resident memory", "MB", 200, 200, False),
    _T("terms_1m_check_s", "1M terms: `rules check` time (CPU s; wall beside it)", "s", 10, 10, False),
    _T("terms_1m_check_mb", "1M terms: `rules check` peak resident memory", "MB", 200, 200, False),
    _T("hashes_10m_load_s", "10M perceptual hashes: load time", "s", 3.0, 1.0, False),
    _T("hashes_10m_memory_mb", "10M perceptual hashes: resident memory", "MB", 256, 160, False),
    _T("hashes_10m_query_ms", "10M perceptual hashes: median near-match query", "ms", 0.5, 0.25, False),
    _T("serve_vs_e2guardian_c1", "filter-proxy serve (1 worker) / e2guardian, proxied req/s at c=1", "ratio", 1.0, 2.0,
       True),
    _T("serve_vs_e2guardian_c16", "filter-proxy serve (2 workers) / e2guardian, proxied req/s at c=16", "ratio", 1.0,
       2.0, True),
    _T("worker_c16_over_c1", "one serve worker: req/s at c=16 / at c=1", "ratio", 1.0, 1.0, True),
    _T("url_lookups_vs_squidguard", "URL lookups/s vs squidGuard 1.6, same lists and stream", "ratio", 1.0, 1.5, True),
    _T("url_index_memory_mb", "URL list resident memory after bundle load", "MB", 64, 32, False),
    _T("url_compile_1m_s", "1M URL entries: rules compile time (issue 14.3)", "s", 3.0, 3.0, False),
    _T("url_load_1m_s", "1M URL entries: compiled bundle load time (issue 14.3)", "s", 0.3, 0.3, False),
    _T("term_recall", "recall on obfuscated variants of listed terms", "%", 99.0, 100.0, True),
    _T("benign_false_match", "false matches on benign text", "% of queries", 0.1, 0.0, False),
    _T("benign_false_match_forms", "false matches of combination rules and weighted phrases on benign text "
       "(issue 16)", "% of queries", 0.1, 0.0, False),
    _T("cpu_per_page_forms_ms", "CPU per page with 10k combinations + 10k weighted phrases beside 100k terms "
       "(issue 16)", "ms", 0.6, 0.3, False),
    _T("term_recall_independent", "recall on disguises from the independent generator (issue 11)", "%", 99.5, 100.0,
       True),
    _T("benign_false_match_outside", "false matches on an outside corpus (fortunes, fortunes-ru, wamerican)",
       "% of queries", 0.1, 0.0, False),
    _T("term_recall_independent_query_path", "recall on independent disguises (and query-syntax disguises) "
       "through the full query path (query_texts + query_verdict), worst request shape", "%", 99.5, 100.0, True),
    _T("benign_false_match_query_path", "false matches on an outside corpus through the full query path, worst "
       "request shape (generic q, ES query_string body, Solr q)", "% of queries", 0.1, 0.0, False),
    _T("image_tpr", "image TPR, ten common edits, shared bare-pHash list, 0 false matches", "%", 95.0, 99.0, True),
    _T("image_tpr_own", "image TPR, ten common edits, own enrollment (hashes add), 0 false matches", "%", 99.0, 100.0,
       True),
)}


@dataclass
class SuiteResult:
    """What one suite measured: tables of figures, target checks, notes and plots."""

    suite: str
    quick: bool
    machine: dict[str, Any] = field(default_factory=machine_info)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # title -> {"headers": [...], "rows": [...]}
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        self.tables[title] = {"headers": headers, "rows": rows}

    def target(self, key: str, value: float | None, note: str = "", failed_condition: str | None = None) -> None:
        """Record a measured value against its DESIGN §8 target ("met"/"not met" for minimum and goal).
        ``failed_condition`` names a condition of the target that the run did not satisfy: then it is not met."""
        t = TARGETS[key]
        status = t.status(value)
        if failed_condition and status != "not measured":
            status = f"not met ({failed_condition}; the value alone would be {status})"
        elif status == "not met" and value is not None:
            status = f"not met: {why_not_met(t, value)}"
        self.targets.append({
            "key": key, "what": t.what, "unit": t.unit, "value": value, "minimum": t.minimum,
            "goal": t.goal, "higher_is_better": t.higher, "status": status, "note": note,
        })

    def note(self, text: str) -> None:
        self.notes.append(text)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
