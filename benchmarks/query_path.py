"""The request side as the middleware runs it: a query sent in a backend's usual request shape, read by
that adapter (``Adapter.query_texts``: every string, query syntax undone) and judged by
``screening.query_verdict``. ``check_text`` sees a query as written; this sees what ``serve`` sees, so
the benign figure includes what reading query syntax adds (a ``?`` read as a wildcard, ``*`` pairs ...).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from benchmarks.harness import SuiteResult, log

# Shape -> (adapter, request maker): the generic adapter's ``q`` parameter, an Elasticsearch JSON body
# with a ``query_string`` query (Lucene syntax), a Solr ``q`` with edismax.
SHAPES: dict[str, tuple[str, Callable[[str], tuple[list[tuple[str, str]], bytes, str]]]] = {
    "generic ?q=": ("generic", lambda q: ([("q", q)], b"", "")),
    "Elasticsearch query_string body": ("elasticsearch", lambda q: (
        [], json.dumps({"query": {"query_string": {"query": q}}, "size": 10}).encode(), "application/json")),
    "Solr ?q= (edismax)": ("solr", lambda q: ([("q", q), ("defType", "edismax"), ("wt", "json")], b"", "")),
}


class QueryPath:
    """``action(shape, query)``: the middleware's verdict on ``query`` sent in ``shape``."""

    def __init__(self, rules: Any) -> None:
        from filter_proxy.adapters import get_adapter

        self.rules = rules
        self.adapters = {shape: (get_adapter(name), make) for shape, (name, make) in SHAPES.items()}

    def action(self, shape: str, query: str) -> str:
        from filter_proxy.screening import query_verdict

        adapter, make = self.adapters[shape]
        return query_verdict(adapter.query_texts(*make(query)), self.rules).action


def measure(result: SuiteResult, rules: Any, disguised: dict[str, list[str]], benign: dict[str, list[str]]) -> None:
    """Recall per disguise class and benign false matches (blocked and warned apart) per request shape;
    the targets take the worst shape."""
    path = QueryPath(rules)
    rows: list[list[Any]] = []
    found = dict.fromkeys(SHAPES, 0)
    total = 0
    misses: list[str] = []
    for name, queries in disguised.items():
        row: list[Any] = [name, len(queries)]
        for shape in SHAPES:
            hits = 0
            for query in queries:
                matched = path.action(shape, query) != "allow"
                hits += matched
                if not matched and len(misses) < 12:
                    misses.append(f"{shape}: {name}: {query!r}")
            found[shape] += hits
            row.append(100 * hits / max(1, len(queries)))
        total += len(queries)
        rows.append(row)
        log(f"quality (query path): {name}: " + ", ".join(f"{v:.1f} %" for v in row[2:]))
    result.table("Recall through the full query path (independent generator; % of disguised queries matched)",
                 ["class", "queries", *SHAPES], rows)
    recall = {shape: 100 * found[shape] / max(1, total) for shape in SHAPES}
    worst = min(recall, key=recall.__getitem__)
    result.target("term_recall_independent_query_path", recall[worst] if total else None,
                  f"worst shape {worst}; " + ", ".join(f"{s} {v:.2f} %" for s, v in recall.items()))
    if misses:
        result.note("query path, missed (placeholders): " + "; ".join(misses[:8]))

    brows: list[list[Any]] = []
    matched = {shape: 0 for shape in SHAPES}
    queries_n = 0
    examples: list[str] = []
    for source, lines in benign.items():
        for shape in SHAPES:
            actions = [path.action(shape, line) for line in lines]
            blocked, warned = actions.count("block"), actions.count("warn")
            other = sum(a not in ("allow", "block", "warn") for a in actions)
            as_text = sum(rules.check_text(line).action != "allow" for line, a in zip(lines, actions, strict=True)
                          if a != "allow")
            matched[shape] += blocked + warned + other
            brows.append([source, shape, len(lines), blocked, warned, other, as_text,
                          100 * (blocked + warned + other) / max(1, len(lines))])
            examples += [line for line, a in zip(lines, actions, strict=True)
                         if a != "allow" and rules.check_text(line).action == "allow"][:2]
        queries_n += len(lines)
    result.table("False matches through the full query path (outside corpus; per request shape)",
                 ["source", "shape", "queries", "blocked", "warned", "stripped", "also by check_text", "rate %"],
                 brows)
    rate = {shape: 100 * matched[shape] / max(1, queries_n) for shape in SHAPES}
    worst = max(rate, key=rate.__getitem__)
    result.target("benign_false_match_query_path", rate[worst] if queries_n else None,
                  f"worst shape {worst}: {matched[worst]} of {queries_n:,} queries; "
                  "'also by check_text' counts those the text checker matches on the line as written")
    if examples:
        result.note("benign lines matched only through the query path: " + "; ".join(repr(e[:90]) for e in examples[:6]))


def syntax_disguises(terms: list[str], per_class: int, rng: random.Random, contexts: tuple[str, ...]
                     ) -> dict[str, list[str]]:
    """Queries per query-syntax class of ``disguise_independent.QUERY_SYNTAX``, in ``contexts``."""
    from benchmarks import disguise_independent as ind

    out: dict[str, list[str]] = {}
    for name, fn in ind.QUERY_SYNTAX.items():
        sample = rng.sample(terms, min(per_class, len(terms)))
        out[name] = [contexts[i % len(contexts)].format(fn(term, rng)) for i, term in enumerate(sample)]
    return out
