"""Writing results: JSON per suite, a Markdown summary per suite, SUMMARY.md over all, and console tables."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import SuiteResult


def fmt(value: Any) -> str:
    """Human-sized numbers: 3 significant figures, thousands separators for big ones."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


WIDTH = 110  # console tables fit a terminal of this many columns; every detail is in the JSON


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False,
                 width: int = WIDTH) -> str:
    """An aligned plain-text table that fits ``width`` columns (long text cells wrap onto more lines),
    or a Markdown one (numbers right-aligned)."""
    cells = [[fmt(c) for c in row] for row in rows]
    if markdown:
        head = "| " + " | ".join(headers) + " |"
        align = "|" + "|".join("---:" if _numeric(rows, i) else "---" for i in range(len(headers))) + "|"
        body = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join([head, align, *body])
    natural = [max([len(h)] + [len(r[i]) for r in cells if i < len(r)]) for i, h in enumerate(headers)]
    # Headers wrap, numbers never: a column can shrink to its widest value (numbers) or to 12 (text).
    floor = [max([len(r[i]) for r in cells if i < len(r)] + [1]) if _numeric(rows, i) else min(n, 12)
             for i, n in enumerate(natural)]
    widths = _fit(natural, floor, width)

    def lines(row: Sequence[str]) -> list[str]:
        wrapped = [textwrap.wrap(c, w, break_long_words=True) or [""] for c, w in zip(row, widths, strict=False)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            out.append("  ".join(c.rjust(wd) if _numeric(rows, i) else c.ljust(wd)
                                 for i, (c, wd) in enumerate(zip(parts, widths, strict=False))).rstrip())
        return out

    out = [*lines(list(headers)), "  ".join("-" * w for w in widths)]
    for row in cells:
        out += lines(row)
    return "\n".join(out)


def _fit(widths: list[int], floor: list[int], limit: int) -> list[int]:
    """Narrow the column with the most room to spare, one character at a time, until the row (two spaces
    between columns) fits ``limit`` or no column can give more."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > limit:
        spare = [widths[i] - floor[i] for i in range(len(widths))]
        widest = max(range(len(widths)), key=lambda i: spare[i])
        if spare[widest] <= 0:
            break
        widths[widest] -= 1
    return widths


def _numeric(rows: Sequence[Sequence[Any]], index: int) -> bool:
    values = [r[index] for r in rows if index < len(r) and r[index] is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


TARGET_HEADERS = ["target", "measured", "minimum", "goal", "status"]
_SHORT = {"met (goal met)": "met, goal met", "met (goal not met)": "met", "not measured": "not measured"}


def short_status(status: str) -> str:
    return _SHORT.get(status, "NOT MET" if status.startswith("not met") else status)


def _target_row(t: dict[str, Any]) -> list[Any]:
    bound = ">=" if t["higher_is_better"] else "<="
    unit = "" if t["unit"] == "ratio" else f" {t['unit']}"
    measured = "-" if t["value"] is None else f"{fmt(t['value'])}{unit}"
    return [t["what"], measured, f"{bound} {fmt(t['minimum'])}", f"{bound} {fmt(t['goal'])}",
            short_status(t["status"])]


def target_rows(result: SuiteResult) -> list[list[Any]]:
    return [_target_row(t) for t in result.targets]


def target_details(targets: Sequence[dict[str, Any]]) -> list[str]:
    """One line per target that needs words: why it is not met, and the note on how it was measured."""
    out = []
    for t in targets:
        why = t["status"] if t["status"].startswith("not met") else ""
        words = "; ".join(w for w in (why, t["note"]) if w)
        if words:
            out.append(f"{t['what']}: {words}")
    return out


def _kernels(machine: dict[str, Any]) -> str:
    """Which optional compiled modules the run used (older results did not record it)."""
    kernels = machine.get("compiled_kernels")
    if kernels is None:
        return "compiled kernels: not recorded"
    if not kernels:
        return "compiled kernels: none in the tree"
    return "compiled kernels: " + ", ".join(f"{name.rsplit('.', 1)[-1]} {'built' if ok else 'NOT built (pure-Python fallback)'}"
                                            for name, ok in kernels.items())


def to_markdown(result: SuiteResult) -> str:
    m = result.machine
    out = [f"# Benchmark: {result.suite}{' (quick)' if result.quick else ''}", "",
           f"Measured {m['date']} on {m['cpu_count']} CPUs, Python {m['python']}, numpy {m['numpy']}, "
           f"load average {m['load_average']} at start and {m.get('load_average_end', '?')} at the end, commit {m['commit'] or '?'}; took {result.seconds:.0f} s. "
           f"{_kernels(m)}", ""]
    if result.targets:
        out += ["## DESIGN §8 targets", "", format_table(TARGET_HEADERS, target_rows(result), markdown=True), "",
                *(f"- {d}" for d in target_details(result.targets)), ""]
    for title, table in result.tables.items():
        out += [f"## {title}", "", format_table(table["headers"], table["rows"], markdown=True), ""]
    if result.notes:
        out += ["## Notes", "", *(f"- {n}" for n in result.notes), ""]
    if result.plots:
        out += ["## Plots", "", *(f"![{Path(p).stem}]({Path(p).name})" for p in result.plots), ""]
    return "\n".join(out)


def to_console(result: SuiteResult) -> str:
    out = [f"=== {result.suite}{' (quick)' if result.quick else ''} ==="]
    if result.targets:
        out += [format_table(TARGET_HEADERS, target_rows(result)), "",
                *(textwrap.fill(d, WIDTH, subsequent_indent="    ") for d in target_details(result.targets)), ""]
    for title, table in result.tables.items():
        out += [textwrap.fill(f"-- {title}", WIDTH), format_table(table["headers"], table["rows"]), ""]
    out += [textwrap.fill(f"note: {n}", WIDTH, subsequent_indent="    ") for n in result.notes]
    return "\n".join(out)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def write_results(result: SuiteResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<suite>.json`` and ``<suite>.md``; NaN becomes null so the JSON stays standard."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{result.suite}.json"
    md_path = out_dir / f"{result.suite}.md"
    data = _clean(result.to_dict())
    json_path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(result), encoding="utf-8")
    return json_path, md_path


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_summary(out_dir: Path) -> Path:
    """SUMMARY.md: every target from every suite JSON present in ``out_dir`` (latest run of each)."""
    rows: list[list[Any]] = []
    targets: list[dict[str, Any]] = []
    runs = []
    for path in sorted(out_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "suite" not in data:
            continue
        m = data["machine"]
        runs.append(f"- `{data['suite']}`{' (quick)' if data['quick'] else ''}: {m['date']}, {m['cpu_count']} CPUs, "
                    f"load {m['load_average']} -> {m.get('load_average_end', '?')}, Python {m['python']}, numpy {m['numpy']}, commit {m['commit'] or '?'}; {_kernels(m)}")
        targets += data["targets"]
        rows += [_target_row(t) for t in data["targets"]]
    text = ["# Benchmark summary: DESIGN §8 targets", "", format_table(TARGET_HEADERS, rows, markdown=True), "",
            *(f"- {d}" for d in target_details(targets)), "", "## Runs", "", *runs, ""]
    path = out_dir / "SUMMARY.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path


README_MARKER = "## Latest figures from this machine"


def update_readme(readme: Path, out_dir: Path) -> None:
    """Replace the README's "latest figures" section with SUMMARY.md's targets table and run list."""
    summary = (out_dir / "SUMMARY.md").read_text(encoding="utf-8")
    body = summary.split("\n", 2)[2] if summary.startswith("# ") else summary
    body = body.replace("\n## ", "\n### ")
    text = readme.read_text(encoding="utf-8")
    head = text.split(README_MARKER)[0]
    readme.write_text(f"{head}{README_MARKER}\n\n{body.strip()}\n\nFull tables: `results/<suite>.md`.\n",
                      encoding="utf-8")
