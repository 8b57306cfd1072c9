"""The funnel section of the transparency report: per warning kind, language and variant.

Input rows are the report store's ``funnel`` table: (bucket, event, kind, lang, variant, link, n).
Rates carry a 95 % Wilson score interval; each pair of variants of the same kind and language gets the
difference of their click rates with Newcombe's hybrid score interval and the pooled two-proportion
z-test's two-sided p-value (stats.py). Repeat searches (opt-in cookie) are per kind and variant, over all
languages (the cookie holds no language), so they are compared per kind.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from filter_proxy.funnel.stats import newcombe, two_proportion_z, wilson

FunnelRow = Sequence[Any]  # bucket, event, kind, lang, variant, link, n


def _rate(successes: int, trials: int) -> dict[str, Any]:
    low, high = wilson(min(successes, trials), trials) if trials else (0.0, 1.0)
    return {"rate": successes / trials if trials else None, "ci95": [low, high]}


def _compare(a: dict[str, Any], b: dict[str, Any], what: str, trials: str) -> dict[str, Any]:
    s1, n1, s2, n2 = a[what], a[trials], b[what], b[trials]
    s1, s2 = min(s1, n1), min(s2, n2)
    low, high = newcombe(s1, n1, s2, n2) if n1 and n2 else (-1.0, 1.0)
    z, p = two_proportion_z(s1, n1, s2, n2)
    return {"a": a["variant"], "b": b["variant"], "difference": (s1 / n1 - s2 / n2) if n1 and n2 else None,
            "ci95": [low, high], "z": z, "p_value": p}


def funnel_summary(rows: Iterable[FunnelRow]) -> dict[str, Any]:
    shown: dict[tuple[str, str, str], int] = defaultdict(int)
    clicks: dict[tuple[str, str, str], int] = defaultdict(int)
    by_link: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    repeats: dict[tuple[str, str], int] = defaultdict(int)
    for _bucket, event, kind, lang, variant, link, n in rows:
        if event == "shown":
            shown[(kind, lang, variant)] += n
        elif event == "click":
            clicks[(kind, lang, variant)] += n
            by_link[(kind, lang, variant)][int(link)] += n
        elif event == "repeat":
            repeats[(kind, variant)] += n
    groups: list[dict[str, Any]] = []
    for key in sorted(set(shown) | set(clicks)):
        kind, lang, variant = key
        s, c = shown.get(key, 0), clicks.get(key, 0)
        groups.append({"kind": kind, "lang": lang, "variant": variant, "shown": s, "clicks": c,
                       "click_rate": _rate(c, s), "clicks_by_link": {str(k): v for k, v in sorted(by_link[key].items())}})
    per_kind_variant: dict[tuple[str, str], int] = defaultdict(int)
    for (kind, _lang, variant), n in shown.items():
        per_kind_variant[(kind, variant)] += n
    repeat_groups = [{"kind": k, "variant": v, "shown": per_kind_variant.get((k, v), 0), "repeats": r,
                      "repeat_rate": _rate(r, per_kind_variant.get((k, v), 0))}
                     for (k, v), r in sorted(repeats.items())]
    comparisons = []
    by_kind_lang: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for g in groups:
        by_kind_lang[(g["kind"], g["lang"])].append(g)
    for (kind, lang), members in sorted(by_kind_lang.items()):
        for a, b in combinations(members, 2):
            comparisons.append({"kind": kind, "lang": lang, "measure": "click_rate",
                                **_compare(a, b, "clicks", "shown")})
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in repeat_groups:
        by_kind[g["kind"]].append(g)
    for kind, members in sorted(by_kind.items()):
        for a, b in combinations(members, 2):
            comparisons.append({"kind": kind, "lang": "", "measure": "repeat_rate",
                                **_compare(a, b, "repeats", "shown")})
    return {"groups": groups, "repeats": repeat_groups, "comparisons": comparisons,
            "method": "rates: Wilson score 95% interval; differences: Newcombe hybrid score 95% interval "
                      "and pooled two-proportion z-test (two-sided p)"}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _ci(pair: Sequence[float]) -> str:
    return f"[{100 * pair[0]:.2f}%, {100 * pair[1]:.2f}%]"


def funnel_markdown(funnel: dict[str, Any]) -> str:
    lines = ["", "## Deterrence funnel (per kind, language and variant)", "",
             "| kind | lang | variant | shown | help clicks | click rate | 95% CI |", "|---|---|---|---:|---:|---:|---|"]
    lines += [f"| {g['kind']} | {g['lang']} | {g['variant']} | {g['shown']} | {g['clicks']} | "
              f"{_pct(g['click_rate']['rate'])} | {_ci(g['click_rate']['ci95'])} |" for g in funnel["groups"]] \
        or ["| (none) | | | 0 | 0 | - | |"]
    if funnel["repeats"]:
        lines += ["", "### Repeat blocked searches (opt-in follow-up cookie)", "",
                  "| kind | variant | shown | repeats | repeat rate | 95% CI |", "|---|---|---:|---:|---:|---|"]
        lines += [f"| {g['kind']} | {g['variant']} | {g['shown']} | {g['repeats']} | "
                  f"{_pct(g['repeat_rate']['rate'])} | {_ci(g['repeat_rate']['ci95'])} |" for g in funnel["repeats"]]
    if funnel["comparisons"]:
        lines += ["", "### Variants compared", "",
                  "| kind | lang | measure | a - b | difference | 95% CI (Newcombe) | z | p |",
                  "|---|---|---|---|---:|---|---:|---:|"]
        lines += [f"| {c['kind']} | {c['lang'] or 'all'} | {c['measure']} | {c['a']} - {c['b']} | "
                  f"{_pct(c['difference'])} | {_ci(c['ci95'])} | {c['z']:.2f} | {c['p_value']:.3g} |"
                  for c in funnel["comparisons"]]
    lines += ["", f"Method: {funnel['method']}."]
    return "\n".join(lines) + "\n"


def funnel_csv(funnel: dict[str, Any]) -> str:
    """Rows in the report's CSV columns (section, dimension, key, count); the intervals are in --format json."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for g in funnel["groups"]:
        key = f"{g['kind']}/{g['lang']}/{g['variant']}"
        writer.writerow(["funnel", "shown", key, g["shown"]])
        writer.writerow(["funnel", "clicks", key, g["clicks"]])
    for g in funnel["repeats"]:
        writer.writerow(["funnel", "repeats", f"{g['kind']}/{g['variant']}", g["repeats"]])
    return buf.getvalue()


def plot_funnel(rows: Iterable[FunnelRow], out: str | Path) -> None:
    """Shown, help clicks and repeats per (kind, lang, variant) over time, as a PNG (two panels: counts,
    and the click rate per bucket)."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'filter-proxy[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for bucket, event, kind, lang, variant, _link, n in rows:
        series[(f"{kind}/{lang or '*'}/{variant}", event)][bucket] += n
    buckets = sorted({b for counts in series.values() for b in counts})
    xs = [datetime.strptime(b, "%Y-%m-%dT%H:%M") for b in buckets]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    try:
        for (name, event), counts in sorted(series.items()):
            top.plot(xs, [counts.get(b, 0) for b in buckets], marker="o", label=f"{event}: {name}")
        for (name, event), counts in sorted(series.items()):
            if event != "shown":
                continue
            clicked = series.get((name, "click"), {})
            rates = [100 * clicked.get(b, 0) / counts[b] if counts.get(b) else float("nan") for b in buckets]
            bottom.plot(xs, rates, marker="o", label=name)
        top.set_title("filter-proxy deterrence funnel")
        top.set_ylabel("count per bucket")
        bottom.set_ylabel("help-click rate (%)")
        bottom.set_xlabel("time (UTC)")
        if series:
            top.legend(loc="upper left", fontsize="small")
            bottom.legend(loc="upper left", fontsize="small")
        fig.autofmt_xdate()
        fig.savefig(str(out), dpi=100)
    finally:
        plt.close(fig)
