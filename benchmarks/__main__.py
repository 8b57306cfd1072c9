"""``python -m benchmarks [speed|scale|quality ...] [--quick] [--out DIR]``: run suites, print tables, write
``<suite>.json``, ``<suite>.md``, PNG plots and ``SUMMARY.md``.

Full runs write to ``benchmarks/results/`` (committed: the figures the README quotes). Quick runs write to
``benchmarks/results/quick/`` (ignored by git) and are never allowed to replace the full-run results."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.harness import log
from filter_proxy.commands.progress import steps

SUITES = ("speed", "scale", "quality", "peers")
RESULTS = Path(__file__).resolve().parent / "results"
QUICK_RESULTS = RESULTS / "quick"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="suite", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (under two minutes)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for JSON, Markdown and PNG results (default: benchmarks/results, or "
                        "benchmarks/results/quick with --quick)")
    parser.add_argument("--update-readme", action="store_true",
                        help="also copy the summary into benchmarks/README.md (its 'latest figures' section)")
    args = parser.parse_args(argv)
    if args.out is None:
        results = Path(__file__).resolve().parent / "results"
        args.out = results / "quick" if args.quick else results
    suites = args.suites or list(SUITES)
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    if args.out is None:
        args.out = QUICK_RESULTS if args.quick else RESULTS
    if args.quick and args.out.resolve() == RESULTS:
        parser.error(f"--quick results never replace the full-run results in {RESULTS}; use the default "
                     f"({QUICK_RESULTS}) or another --out")
    if args.quick and args.update_readme:
        parser.error("--update-readme copies full-run figures only; run without --quick")
    from benchmarks import plots
    from benchmarks.harness import machine_info

    plots.set_run(args.quick, machine_info())
    started = time.monotonic()
    failed = False
    with steps() as progress:
        for number, name in enumerate(suites, start=1):
            progress.step(f"suite {name} ({number} of {len(suites)}){' quick' if args.quick else ''}")
            log(f"suite {name}{' (quick)' if args.quick else ''}: start")
            module = importlib.import_module(f"benchmarks.{name}")
            try:
                result = module.run(args.quick, args.out)
            except Exception as exc:  # one broken suite must not hide the others' figures
                log(f"suite {name} failed: {type(exc).__name__}: {exc}")
                failed = True
                continue
            result.machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
            json_path, md_path = report.write_results(result, args.out)
            print(report.to_console(result), flush=True)
            log(f"suite {name}: done in {result.seconds:.0f} s -> {json_path}, {md_path}")
    summary = report.write_summary(args.out)
    if args.update_readme:
        report.update_readme(Path(__file__).resolve().parent / "README.md", args.out)
    log(f"all done in {time.monotonic() - started:.0f} s; summary {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
