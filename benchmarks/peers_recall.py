"""Disguise recall and benign false matches of e2guardian and `filter-proxy serve` on the same queries,
each sent as a search request through the running proxies (loopback only).

A query counts as blocked by e2guardian when its answer is e2guardian's block page (it answers 200 with
an HTML page naming E2Guardian), and by filter-proxy when its answer carries ``x-filter-action`` (block
or warn; the benign figures say which, and how many of them ``check_text`` also makes on the line as
written, against how many only the query path makes). Disguised queries: the same generator and contexts
as the quality suite (benchmarks/disguise.py).
"""

from __future__ import annotations

import http.client
import random
import urllib.parse
from typing import Any

from benchmarks import disguise, synth
from benchmarks.quality import CONTEXTS


def _ask(port: int, target: str) -> tuple[dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def blocked_by_e2guardian(port: int, origin: str, query: str) -> bool:
    _, body = _ask(port, f"{origin}/search?q={urllib.parse.quote_plus(query)}")
    return b"E2Guardian" in body


def filter_proxy_action(port: int, query: str) -> str:
    """``x-filter-action`` of filter-proxy's answer ("block", "warn"), "allow" without one."""
    headers, _ = _ask(port, f"/search?q={urllib.parse.quote_plus(query)}")
    return headers.get("x-filter-action", "allow")


def blocked_by_filter_proxy(port: int, query: str) -> bool:
    return filter_proxy_action(port, query) != "allow"


def _as_text(terms: list[str], lines: list[str]) -> list[bool]:
    """For each line, whether the rule set's ``check_text`` matches the line as written (in process, the
    same terms): a benign match that the text checker makes too comes from matching, not from the query
    path (reading the request, undoing query syntax)."""
    import tempfile
    from pathlib import Path

    from benchmarks.subjects import load_rules, write_rules_dir

    if not lines:
        return []
    with tempfile.TemporaryDirectory(prefix="fp-peers-text-") as tmp:
        rules = load_rules(write_rules_dir(Path(tmp) / "rules", terms=terms))
        return [rules.check_text(line).action != "allow" for line in lines]


def measure(terms: list[str], e2g_port: int, origin: str, fp_port: int, per_class: int,
            benign: int) -> tuple[list[list[Any]], dict[str, float]]:
    """Rows per disguise class and the overall figures {e2g_recall, fp_recall, e2g_benign, fp_benign} in %."""
    rng = random.Random(5)
    sample = rng.sample(terms, per_class)
    rows: list[list[Any]] = []
    totals = {"e2g": 0, "fp": 0, "n": 0}
    for name in ["(undisguised)", *disguise.all_names()]:
        e2g = fp = 0
        for i, term in enumerate(sample):
            text = term if name == "(undisguised)" else disguise.disguise(term, name, rng)
            query = CONTEXTS[i % len(CONTEXTS)].format(text)
            e2g += blocked_by_e2guardian(e2g_port, origin, query)
            fp += blocked_by_filter_proxy(fp_port, query)
        rows.append([name, per_class, 100 * e2g / per_class, 100 * fp / per_class])
        if name != "(undisguised)":
            totals["e2g"] += e2g
            totals["fp"] += fp
            totals["n"] += per_class
    lines = [line for lines in synth.benign_corpus(2, 8).values() for line in lines]
    queries = random.Random(9).sample(lines, min(benign, len(lines)))
    e2g_fp = sum(blocked_by_e2guardian(e2g_port, origin, q) for q in queries)
    actions = [filter_proxy_action(fp_port, q) for q in queries]
    matched = [q for q, a in zip(queries, actions, strict=True) if a != "allow"]
    as_text = sum(_as_text(terms, matched))
    n = len(queries)
    figures = {"e2g_recall": 100 * totals["e2g"] / totals["n"], "fp_recall": 100 * totals["fp"] / totals["n"],
               "e2g_benign": 100 * e2g_fp / n, "fp_benign": 100 * len(matched) / n,
               "fp_benign_blocked": 100 * actions.count("block") / n,
               "fp_benign_warned": 100 * actions.count("warn") / n,
               # Of the benign matches over HTTP: those check_text makes on the line as written (the matcher and
               # the rule set), and those only the query path makes (reading query syntax).
               "fp_benign_as_text": 100 * as_text / n, "fp_benign_query_path_only": 100 * (len(matched) - as_text) / n,
               "benign_queries": n}
    return rows, figures
