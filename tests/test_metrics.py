"""Prometheus metrics after a scripted sequence of filter events."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.events import MultiObserver
from filter_proxy.metrics import Metrics
from filter_proxy.verdict import Verdict

ABUSE_TERM = Verdict("block", "zqx-abuse", "rules/terms/zqx-abuse.txt:3", "deterrence", "term", report=True)
ABUSE_IMAGE = Verdict("block", "zqx-abuse", "rules/images/zqx-abuse.csv:2", "deterrence", "image", 4, True)
SPAM_URL = Verdict("strip", "zqx-spam", "rules/urls/zqx-spam.txt:1", None, "url")


def scripted(observer: Metrics | MultiObserver) -> None:
    # Three searches: one blocked, one allowed with two removals, one warned; one suggest request.
    observer.request("search", "block")
    observer.warning_shown("deterrence", "en")
    observer.request("search", "allow")
    observer.upstream(0.02, "ok")
    observer.image_fetch("fetched")
    observer.image_fetch("cached")
    observer.removed(ABUSE_IMAGE, "https://a.example.invalid/1", "phash:0f0f0f0f0f0f0f0f")
    observer.removed(SPAM_URL, "https://spam.example.invalid/x", None)
    observer.request("search", "warn")
    observer.upstream(3.0, "timeout")
    observer.warning_shown("support", "fr")
    observer.request("suggest", "allow")
    observer.removed(ABUSE_TERM, None, None)


def test_values_after_a_scripted_sequence() -> None:
    m = Metrics()
    scripted(MultiObserver(m))
    v = m.value
    assert v("filter_proxy_requests_total", {"route": "search", "action": "block"}) == 1
    assert v("filter_proxy_requests_total", {"route": "search", "action": "allow"}) == 1
    assert v("filter_proxy_requests_total", {"route": "search", "action": "warn"}) == 1
    assert v("filter_proxy_requests_total", {"route": "suggest", "action": "allow"}) == 1
    assert v("filter_proxy_results_removed_total", {"category": "zqx-abuse", "signal": "image", "action": "block"}) == 1
    assert v("filter_proxy_results_removed_total", {"category": "zqx-abuse", "signal": "term", "action": "block"}) == 1
    assert v("filter_proxy_results_removed_total", {"category": "zqx-spam", "signal": "url", "action": "strip"}) == 1
    assert v("filter_proxy_warnings_shown_total", {"kind": "deterrence", "lang": "en"}) == 1
    assert v("filter_proxy_warnings_shown_total", {"kind": "support", "lang": "fr"}) == 1
    assert v("filter_proxy_upstream_seconds_count", {"outcome": "ok"}) == 1
    assert v("filter_proxy_upstream_seconds_sum", {"outcome": "timeout"}) == 3.0
    assert v("filter_proxy_upstream_seconds_bucket", {"outcome": "ok", "le": "0.025"}) == 1
    assert v("filter_proxy_upstream_seconds_bucket", {"outcome": "ok", "le": "0.01"}) == 0
    assert v("filter_proxy_image_fetches_total", {"outcome": "fetched"}) == 1
    assert v("filter_proxy_image_fetches_total", {"outcome": "cached"}) == 1


def test_registries_are_isolated() -> None:
    a, b = Metrics(), Metrics()
    a.request("search", "block")
    assert a.value("filter_proxy_requests_total", {"route": "search", "action": "block"}) == 1
    assert b.value("filter_proxy_requests_total", {"route": "search", "action": "block"}) == 0


def test_rule_set_version_load_time_and_reloads() -> None:
    m = Metrics()
    assert m.value("filter_proxy_rules_reloads_total", {"result": "failure"}) == 0
    assert b"filter_proxy_rules_reloads_total{result=\"failure\"} 0.0" in m.exposition()[0]
    v1 = SimpleNamespace(version="v1", source="rules/", stats=lambda: {"terms": 5, "urls": 2, "total": 7})
    v2 = SimpleNamespace(version="v2", source="rules/", stats=lambda: {"terms": 6, "urls": 2, "total": 8})
    m.rules_loaded(v1, 0.25)
    assert m.value("filter_proxy_rules_info", {"version": "v1", "source": "rules/"}) == 1
    assert m.value("filter_proxy_rules_entries", {"kind": "terms"}) == 5
    assert m.value("filter_proxy_rules_load_seconds") == 0.25
    m.rules_loaded(v2, 0.5)
    m.reload(True)
    m.reload(False)
    m.reload(False)
    assert m.value("filter_proxy_rules_info", {"version": "v2", "source": "rules/"}) == 1
    body = m.exposition()[0].decode()
    assert 'version="v1"' not in body  # the old version's series is gone
    assert m.value("filter_proxy_rules_entries", {"kind": "total"}) == 8
    assert m.value("filter_proxy_rules_reloads_total", {"result": "success"}) == 1
    assert m.value("filter_proxy_rules_reloads_total", {"result": "failure"}) == 2


def test_exposition_is_prometheus_text() -> None:
    m = Metrics()
    m.request("search", "allow")
    body, content_type = m.exposition()
    assert content_type.startswith("text/plain; version=")
    assert b'filter_proxy_requests_total{action="allow",route="search"} 1.0' in body
    assert b"# TYPE filter_proxy_upstream_seconds histogram" in body


def test_multiprocess_mode_merges_worker_processes(tmp_path: Path) -> None:
    # PROMETHEUS_MULTIPROC_DIR is read when prometheus_client is imported, so each "worker" is a process.
    worker = textwrap.dedent("""
        from filter_proxy.metrics import Metrics
        m = Metrics()
        m.request("search", "block")
        m.removed(__import__("filter_proxy.verdict").verdict.Verdict("block", "zqx-abuse", signal="term"),
                  None, None)
    """)
    reader = "from filter_proxy.metrics import Metrics; import sys; sys.stdout.write(Metrics().exposition()[0].decode())"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True)
    out = subprocess.run([sys.executable, "-c", reader], env=env, check=True, capture_output=True, text=True).stdout
    assert 'filter_proxy_requests_total{action="block",route="search"} 2.0' in out
    assert 'filter_proxy_results_removed_total{action="block",category="zqx-abuse",signal="term"} 2.0' in out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(min_value=-1, max_value=100, allow_nan=False),
                                   st.sampled_from([0.0, 0.005, 0.01, 0.1, 1.0, 10.0, float("inf"),
                                                    float("nan")])), max_size=30), min_size=1, max_size=3))
def test_batched_latencies_give_the_buckets_and_sum_of_observe(batches: list[list[float]]) -> None:
    """Metrics.flush hands latencies over in batches (observe_many); the histogram must read as if every
    value had been observed on its own."""
    import math

    from prometheus_client import CollectorRegistry, Histogram

    from filter_proxy.metrics import observe_many

    one, many = CollectorRegistry(), CollectorRegistry()
    by_one = Histogram("lat_seconds", "x", ["outcome"], registry=one).labels("ok")
    by_many = Histogram("lat_seconds", "x", ["outcome"], registry=many).labels("ok")
    for batch in batches:
        for value in batch:
            by_one.observe(value)
        observe_many(by_many, batch)

    def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
        return {(s.name, s.labels.get("le", "")): s.value for m in registry.collect() for s in m.samples
                if not s.name.endswith("_created")}

    a, b = samples(one), samples(many)
    assert a.keys() == b.keys()
    for key, value in a.items():
        if key[0].endswith("_sum"):  # added in another order: equal up to rounding
            assert (math.isnan(value) and math.isnan(b[key])) or math.isclose(value, b[key], rel_tol=1e-9,
                                                                                abs_tol=1e-9) or value == b[key]
        else:
            assert value == b[key], key
