"""Prometheus metrics: a FilterObserver that counts what the filter does, on its own CollectorRegistry.

Labels are bounded sets (routes, actions, categories from policy.toml, warning kinds, outcomes): never
query text, URLs or client data. With several workers set PROMETHEUS_MULTIPROC_DIR before this module is
imported (``filter-proxy serve --workers N`` does); ``exposition()`` then merges every worker's files.

Per-request events (requests, removals, warnings, upstream latency, image fetches) are added to plain
dicts under one lock and handed to prometheus_client in batches: at every scrape and ``value()``, every
second while the service runs (so another worker's scrape lags by at most that), when it stops and at
exit. prometheus_client's ``labels()`` + ``inc()`` per event (a lock, label validation, and in
multiprocess mode a write into a memory-mapped file) cost more than the rest of the ops layer together
(benchmarks/README.md, "Where a proxied request's time goes").
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import contextlib
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from filter_proxy.verdict import Verdict

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Upstream calls are tens of milliseconds to seconds; image fetches are counted only.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def observe_many(child: Any, values: list[float]) -> None:
    """``child.observe(v)`` for every value, as one increment per bucket and one of the sum: observe() costs
    ~2 µs each (a lock per value, and an mmap write in multiprocess mode), once per proxied request. Same
    bucket rule as prometheus_client's (the first upper bound >= the value); a histogram child without the
    attributes this relies on is given the values one by one."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values:
            child.observe(value)
        return
    counts = [0] * len(bounds)
    for value in values:
        if value == value:  # a NaN is in no bucket (observe: no bound is >= it), only in the sum
            counts[bisect.bisect_left(bounds, value)] += 1  # the last bound is +Inf
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)
    total.inc(sum(values))


class Metrics:
    """Counters, histograms and gauges for one process. Implements FilterObserver."""

    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "filter_proxy") -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r, ns = self.registry, namespace
        self.requests = Counter("requests", "Screened requests by route and query verdict action.",
                                ["route", "action"], namespace=ns, registry=r)
        self.removed_results = Counter("results_removed", "Results or suggestions removed, by category and "
                                       "signal (term, url, image).", ["category", "signal", "action"],
                                       namespace=ns, registry=r)
        # Answers refused (502) because something listed remained where nothing could be removed: a response
        # header, the backend's echo of the request, any other part (events.WITHHELD_REASONS).
        self.withheld_responses = Counter("responses_withheld", "Screened answers withheld (502) because "
                                          "listed content remained, by reason, category and signal.",
                                          ["reason", "category", "signal"], namespace=ns, registry=r)
        self.warnings = Counter("warnings_shown", "Warnings shown, by kind and language.", ["kind", "lang"],
                                namespace=ns, registry=r)
        # The deterrence funnel (issue 15), the same counters as the report's funnel table.
        self.funnel_shown = Counter("funnel_shown", "Warnings shown, by kind, language and variant.",
                                    ["kind", "lang", "variant"], namespace=ns, registry=r)
        self.funnel_clicks = Counter("funnel_help_clicks", "Help links followed through /-/help/, by kind, "
                                     "language, variant and link index.", ["kind", "lang", "variant", "link"],
                                     namespace=ns, registry=r)
        self.funnel_repeats = Counter("funnel_repeat_searches", "Blocked searches that came back with the "
                                      "opt-in follow-up cookie, by kind and variant.", ["kind", "variant"],
                                      namespace=ns, registry=r)
        self.upstream_seconds = Histogram("upstream_seconds", "Upstream call latency by outcome.", ["outcome"],
                                          namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self.image_fetches = Counter("image_fetches", "Thumbnail screening outcomes.", ["outcome"],
                                     namespace=ns, registry=r)
        # One series per loaded version; summed over live workers it says how many serve each version.
        self.rules_info = Gauge("rules_info", "The rule set in force (value 1), by version and source.",
                                ["version", "source"], namespace=ns, registry=r, multiprocess_mode="livesum")
        self.rules_entries = Gauge("rules_entries", "Entries in the rule set in force, by kind.", ["kind"],
                                   namespace=ns, registry=r, multiprocess_mode="livemax")
        self.rules_load_seconds = Gauge("rules_load_seconds", "Seconds the last successful rule load took.",
                                        namespace=ns, registry=r, multiprocess_mode="livemax")
        self.reloads = Counter("rules_reloads", "Rule reloads by result (success, failure).", ["result"],
                               namespace=ns, registry=r)
        self.sink_records = Counter("sink_records", "Report-sink records by outcome (queued, written, "
                                    "duplicate, dropped, failed).", ["outcome"], namespace=ns, registry=r)
        self._rules_labels: tuple[str, str] | None = None
        for result in ("success", "failure"):  # so a dashboard sees 0, not "no data"
            self.reloads.labels(result)
        # Batched events: (counter, *labels) -> n, and per upstream outcome the bucket counts and sum.
        self._lock = threading.Lock()
        self._counts: dict[tuple[Any, ...], int] = {}
        self._latency: dict[str, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        ref = weakref.ref(self)
        atexit.register(lambda: (m := ref()) is not None and m.flush())  # a worker that exits keeps its counts

    def _count(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1

    # --- FilterObserver ------------------------------------------------------------------------------
    def request(self, route: str, action: str, category: str | None = None) -> None:
        self._count((self.requests, route, action))

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        self._count((self.removed_results, verdict.category or "unknown", verdict.signal or "unknown",
                     verdict.action))

    def withheld(self, reason: str, verdict: Verdict) -> None:
        self._count((self.withheld_responses, reason, verdict.category or "unknown", verdict.signal or "unknown"))

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        self._count((self.warnings, kind, lang))
        self._count((self.funnel_shown, kind, lang, variant))

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        self._count((self.funnel_clicks, kind, lang, variant, str(link)))

    def repeat_search(self, kind: str, variant: str) -> None:
        self._count((self.funnel_repeats, kind, variant))

    def upstream(self, seconds: float, outcome: str) -> None:
        with self._lock:
            values = self._latency.get(outcome)
            if values is None:
                self._latency[outcome] = [seconds]
            else:
                values.append(seconds)

    def image_fetch(self, outcome: str) -> None:
        self._count((self.image_fetches, outcome))

    # --- batches --------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand the batched events to prometheus_client (cheap when nothing happened)."""
        with self._lock:
            counts, self._counts = self._counts, {}
            latency, self._latency = self._latency, {}
        for (metric, *labels), n in counts.items():
            metric.labels(*labels).inc(n)
        for outcome, values in latency.items():
            observe_many(self.upstream_seconds.labels(outcome), values)

    async def start(self, interval: float = 1.0) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                self.flush()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    # --- operations -----------------------------------------------------------------------------------
    def rules_loaded(self, rules: Any, seconds: float | None = None) -> None:
        """A rule set came into force (at start or by reload)."""
        labels = (str(getattr(rules, "version", "")), str(getattr(rules, "source", "")))
        if self._rules_labels and self._rules_labels != labels:
            self.rules_info.labels(*self._rules_labels).set(0)  # zero first: multiprocess files keep values
            self.rules_info.remove(*self._rules_labels)
        self.rules_info.labels(*labels).set(1)
        self._rules_labels = labels
        stats = rules.stats() if callable(getattr(rules, "stats", None)) else {}
        if isinstance(stats, Mapping):
            for kind, value in stats.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self.rules_entries.labels(str(kind)).set(value)
        if seconds is not None:
            self.rules_load_seconds.set(seconds)

    def reload(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "failure").inc()

    def sink_event(self, outcome: str) -> None:
        self.sink_records.labels(outcome).inc()

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """A sample's current value in this process (0.0 when absent); for tests and the ready check."""
        self.flush()
        value = self.registry.get_sample_value(name, dict(labels or {}))
        return float(value or 0.0)

    def exposition(self) -> tuple[bytes, str]:
        """The /metrics body and content type; merges all workers' files in multiprocess mode."""
        self.flush()
        if multiprocess_enabled():
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Let the live* gauges of a finished worker go (called on worker shutdown in multiprocess mode)."""
    if multiprocess_enabled():
        _multiprocess.mark_process_dead(pid)
