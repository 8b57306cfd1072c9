"""PNG plots with matplotlib's Agg backend (no display needed). Each function returns the file it wrote.

Every plot says what run it comes from (quick or full, commit, machine, date) in a footer, and draws the
DESIGN §8 minimum it is judged against as a red dashed line, so a plot copied out of context cannot be
mistaken for a full run or read without its target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.harness import TARGETS  # noqa: E402

_RUN: dict[str, Any] = {"quick": False, "footer": ""}


def set_run(quick: bool, machine: dict[str, Any]) -> None:
    """Label every following plot with this run (called once per run by ``python -m benchmarks``)."""
    _RUN["quick"] = quick
    _RUN["footer"] = (f"{'QUICK run (smaller sizes)' if quick else 'full run'} | commit {machine.get('commit') or '?'}"
                      f" | {machine.get('cpu_count', '?')} CPUs, Python {machine.get('python', '?')}"
                      f" | {machine.get('date', '')}")


def run_label() -> str:
    return " (quick run)" if _RUN["quick"] else ""


def _save(fig: Any, out_dir: Path, name: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    for ax in fig.axes:  # "(quick run)" on every title: a quick figure is never taken for a full one
        if _RUN["quick"] and ax.get_title() and not ax.get_title().endswith(run_label()):
            ax.set_title(ax.get_title() + run_label())
    if _RUN["footer"]:
        fig.text(0.01, 0.005, _RUN["footer"], fontsize=7, color="#444444", ha="left", va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def recall_bars(rows: list[list[Any]], name: str, out_dir: Path) -> str:
    """rows: [class, queries, ours %, baseline %]."""
    labels = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r[2] for r in rows], width=0.4, label="filter-proxy")
    ax.bar([i + 0.2 for i in x], [r[3] for r in rows], width=0.4, label="plain set (lower-case only)")
    minimum = TARGETS["term_recall"].minimum
    ax.axhline(minimum, color="red", linestyle="--", linewidth=1, label=f"minimum {minimum:g} %")
    ax.set_xticks(list(x), labels, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("recall %")
    ax.set_ylim(0, 125)
    ax.set_title("Recall on disguised listed terms, per disguise class")
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    return _save(fig, out_dir, name)


def image_tpr_bars(rows: list[list[Any]], series: list[str], name: str, out_dir: Path) -> str:
    """rows: [edit, tpr per series...]."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(series))
    for s, label in enumerate(series):
        ax.bar([i + (s - (len(series) - 1) / 2) * width for i in range(len(rows))], [r[1 + s] for r in rows],
               width=width, label=label)
    minimum = TARGETS["image_tpr"].minimum
    ax.axhline(minimum, color="red", linestyle="--", linewidth=1, label=f"minimum {minimum:g} %")
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("true-positive rate %")
    ax.set_ylim(0, 125)
    ax.set_title("Image near-match TPR per edit (at the policy thresholds)")
    ax.legend(fontsize=7, loc="upper center", ncol=3)
    return _save(fig, out_dir, name)


def scale_curves(series: dict[str, list[tuple[float, float]]], xlabel: str, ylabel: str, title: str,
                 name: str, out_dir: Path, target: float | None = None) -> str:
    """Log-log curves: series label -> [(size, value), ...]."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in series.items():
        points = [(x, y) for x, y in points if y == y and y is not None and y > 0]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    if target is not None:
        ax.axhline(target, color="red", linestyle="--", linewidth=1, label="target (minimum)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, name)


def throughput_bars(rows: list[tuple[str, float, float]], name: str, out_dir: Path,
                    minimum_ratio: float | None = 0.85) -> str:
    """rows: (label, pass-through req/s, filtered req/s). The target is a ratio, so it is drawn on each
    filtered bar as the level it must reach: ``minimum_ratio`` x that group's pass-through."""
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r[1] for r in rows], width=0.4, label="pass-through")
    ax.bar([i + 0.2 for i in x], [r[2] for r in rows], width=0.4, label="FilterMiddleware")
    if minimum_ratio is not None:
        for i, r in enumerate(rows):
            ax.hlines(minimum_ratio * r[1], i + 0.0, i + 0.4, colors="red", linestyles="--", linewidth=1.2,
                      label=f"minimum ({minimum_ratio:g} x pass-through)" if i == 0 else None)
    ax.set_xticks(list(x), [r[0] for r in rows], fontsize=8, rotation=15, ha="right")
    ax.set_ylabel("requests/s")
    ax.set_title("Throughput: pass-through vs filtered")
    ax.legend(fontsize=8)
    return _save(fig, out_dir, name)
