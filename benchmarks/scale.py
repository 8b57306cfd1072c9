"""Scale: term rule sets of 10k / 100k / 1M entries and perceptual-hash lists of 100k / 1M / 10M entries:
build, compile, load time, resident memory and query time, each load in a fresh process; baselines
(Python set, pyahocorasick, linear numpy scan) measured the same way; bloom filter FPR measured vs configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import plots, synth
from benchmarks.harness import SuiteResult, log
from benchmarks.subjects import available, write_rules_dir

REPO = Path(__file__).resolve().parent.parent


def probe(kind: str, *args: Any, timeout: float = 1800) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.probe", kind, *map(str, args)], cwd=REPO,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"probe {kind} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool, out_dir: Path) -> SuiteResult:
    result = SuiteResult("scale", quick)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp:
        _terms(result, quick, Path(tmp), out_dir)
        _hashes(result, quick, Path(tmp), out_dir)
        _bloom(result, quick)
    result.seconds = time.monotonic() - started
    return result


def _terms(result: SuiteResult, quick: bool, tmp: Path, out_dir: Path) -> None:
    missing = available("filter_proxy.rules.loader", "filter_proxy.rules.bundle", "filter_proxy.matchers.terms",
                        "filter_proxy.signals.urls")
    if missing:
        result.note(f"term scale not measured: {missing}")
        result.target("terms_1m_load_s", None, "module missing")
        result.target("terms_1m_memory_mb", None, "module missing")
        return
    sizes = (10_000, 200_000) if quick else (10_000, 100_000, 1_000_000)
    if quick:
        result.note("quick mode: term sizes 10k / 200k instead of 10k / 100k / 1M, and no load from the rules "
                    "directory (compile only); the 1M targets are judged on the 200k figures and say so")
    rows: list[list[Any]] = []
    curves: dict[str, list[tuple[float, float]]] = {"filter-proxy bundle": [], "Python set": [], "pyahocorasick": []}
    load_curves: dict[str, list[tuple[float, float]]] = {k: [] for k in curves}
    top: dict[str, Any] = {}
    cli: dict[int, dict[str, dict[str, float]]] = {}
    for n in sizes:
        log(f"scale: {n:,} terms: generating and writing the rule directory")
        terms = synth.placeholder_terms(n, seed=31)
        root = write_rules_dir(tmp / f"terms{n}", terms=terms)
        (tmp / f"terms{n}.txt").write_text("\n".join(terms), encoding="utf-8")
        bundle = tmp / f"terms{n}.bundle"
        built = probe("terms-build", root, bundle, "no" if quick else "yes")
        cli[n] = {cmd: _cli(cmd, root, tmp / f"cli{n}.bundle") for cmd in ("compile", "check")}
        loaded = probe("terms-load", bundle, json.dumps(terms[:20]))
        log(f"scale: {n:,} terms: compile {built['compile_s']:.1f} s, load {loaded['load_s'] * 1000:.0f} ms, "
            f"{loaded['rss_queried_mb']:.1f} MB")
        rows.append([n, "filter-proxy (compiled bundle)", built["build_s"], built["compile_s"], built["bundle_mb"],
                     loaded["load_s"], loaded["rss_load_mb"], loaded["rss_queried_mb"], loaded["query_us"]])
        if loaded["hits"] != len(terms[:20]):
            result.note(f"{n:,} terms: only {loaded['hits']} of 20 listed probe terms matched after load")
        curves["filter-proxy bundle"].append((n, loaded["rss_queried_mb"]))
        load_curves["filter-proxy bundle"].append((n, loaded["load_s"]))
        base_ratio = []
        for kind, label in (("set", "Python set"), ("aho", "pyahocorasick")):
            b = probe("terms-baseline", kind, tmp / f"terms{n}.txt")
            rows.append([n, f"baseline: {label} (plain text; query on pre-split words, no normalisation)", None, None, None, b["load_s"], b["rss_load_mb"],
                         b["rss_load_mb"], b["query_us"]])
            curves[label].append((n, b["rss_load_mb"]))
            load_curves[label].append((n, b["load_s"]))
            base_ratio.append(f"{label} {b['rss_load_mb'] / max(loaded['rss_queried_mb'], 0.01):.1f}x the memory, "
                              f"query time {b['query_us'] / loaded['query_us']:.2f}x ours (ours includes normalisation, "
                              "the baseline's does not)")
        top = {"n": n, **loaded}
        result.note(f"{n:,} terms: " + ", ".join(base_ratio))
    result.table("Term rule sets: build, compile, load and memory (each load in a fresh process)",
                 ["terms", "matcher", "build s (dir)", "compile s", "bundle MB", "load s", "RSS after load MB",
                  "RSS after queries MB", "query us (median, verdict cache off)"], rows)
    result.table("`filter-proxy rules compile` / `rules check` on the term rule directory (fresh process each)",
                 ["terms", "command", "CPU s", "wall s", "peak RSS MB"],
                 [[n, f"rules {cmd}", r["cpu_s"], r["wall_s"], r["peak_mb"]] for n, runs in cli.items()
                  for cmd, r in runs.items()])
    label = "1M" if top["n"] == 1_000_000 else f"{top['n'] // 1000}k (quick)"
    for cmd in ("compile", "check"):
        r = cli[top["n"]][cmd]
        result.target(f"terms_1m_{cmd}_s", r["cpu_s"], f"measured at {label}: CPU time (user + system) of the "
                      f"command; wall {r['wall_s']:.1f} s on this shared machine")
        result.target(f"terms_1m_{cmd}_mb", r["peak_mb"], f"measured at {label}: the command's peak RSS")
    result.target("terms_1m_load_s", top["load_s"], f"measured at {label}")
    result.target("terms_1m_memory_mb", top["rss_queried_mb"], f"measured at {label}, RSS after queries")
    result.plots.append(plots.scale_curves(curves, "listed terms", "resident memory MB", "Term index memory",
                                           "scale_terms_memory.png", out_dir, target=64))
    result.plots.append(plots.scale_curves(load_curves, "listed terms", "load s", "Term index load time",
                                           "scale_terms_load.png", out_dir, target=1.0))


# The child reports its own peak (VmHWM of its own memory map) at exit: ru_maxrss from wait4 is not the
# child's alone on Linux, since exec carries the parent's high-water mark over (a child of this process,
# large after the 10M-hash step, read 4,956 MB for a command that peaks under 200 MB).
_CLI_CODE = """import os
from filter_proxy.cli import main
try:
    code = main()
finally:
    with open("/proc/self/status") as status:
        peak = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
    with open(os.environ["FP_BENCH_PEAK_FILE"], "w") as out:
        out.write(peak)
raise SystemExit(code)
"""


def _cli(command: str, root: Path, bundle: Path) -> dict[str, float]:
    """CPU time, wall time and peak RSS of ``filter-proxy rules <command>`` in its own process: CPU from
    os.wait4 (that child's own rusage), the peak from the child's own VmHWM (``_CLI_CODE``)."""
    args = ["-c", _CLI_CODE, "rules", command, str(root)]
    if command == "compile":
        args += ["-o", str(bundle)]
    peak_file = bundle.with_name(f"{bundle.name}.{command}.peak")
    env = {**os.environ, "FP_BENCH_PEAK_FILE": str(peak_file)}
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"rules {command} exited with {child.returncode}")
    peak_kb = int(peak_file.read_text() or 0)
    peak_file.unlink()
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.monotonic() - start,
            "peak_mb": peak_kb / 1024}


def _hashes(result: SuiteResult, quick: bool, tmp: Path, out_dir: Path) -> None:
    missing = available("filter_proxy.matchers.images")
    if missing:
        result.note(f"hash scale not measured: {missing}")
        for key in ("hashes_10m_load_s", "hashes_10m_memory_mb", "hashes_10m_query_ms"):
            result.target(key, None, "module missing")
        return
    sizes = (100_000, 1_000_000) if quick else (100_000, 1_000_000, 10_000_000)
    if quick:
        result.note("quick mode: hash sizes 100k / 1M instead of 100k / 1M / 10M; the 10M targets are judged "
                    "on the 1M figures and say so")
    rows: list[list[Any]] = []
    mem: dict[str, list[tuple[float, float]]] = {"filter-proxy (read)": [], "filter-proxy (mmap)": [], "numpy array": []}
    query: dict[str, list[tuple[float, float]]] = {"filter-proxy MIH": [], "linear numpy scan": []}
    top: dict[str, Any] = {}
    for n in sizes:
        path = tmp / f"hashes{n}.idx"
        log(f"scale: {n:,} phash hashes: building the index")
        built = probe("hashes-build", n, path)
        read = probe("hashes-load", path, "read")
        mapped = probe("hashes-load", path, "mmap")
        scan = probe("hashes-numpy", path)
        log(f"scale: {n:,} hashes: build {built['build_s']:.1f} s, load {read['load_s']:.2f} s, "
            f"{read['rss_queried_mb']:.0f} MB, query {read['near_ms']:.3f} ms (scan {scan['near_ms']:.2f} ms)")
        for label, r in (("filter-proxy, file read", read), ("filter-proxy, mmap", mapped)):
            rows.append([n, label, built["build_s"], built["to_bytes_s"], built["file_mb"], r["load_s"],
                         r["rss_queried_mb"], r["near_ms"], r["miss_ms"], r["variants8_ms"], 100 * r["recall"],
                         100 * r["random_hits"]])
        rows.append([n, "baseline: linear numpy popcount scan", None, None, n * 8 / 2**20, scan["load_s"],
                     scan["rss_load_mb"], scan["near_ms"], None, None, 100.0, None])
        mem["filter-proxy (read)"].append((n, read["rss_queried_mb"]))
        mem["filter-proxy (mmap)"].append((n, mapped["rss_queried_mb"]))
        mem["numpy array"].append((n, scan["rss_load_mb"]))
        query["filter-proxy MIH"].append((n, read["near_ms"]))
        query["linear numpy scan"].append((n, scan["near_ms"]))
        result.note(f"{n:,} hashes: linear scan / MIH query time = {scan['near_ms'] / read['near_ms']:.1f}x; "
                    f"memory {read['rss_queried_mb'] / max(scan['rss_load_mb'], 0.01):.1f}x the bare numpy array")
        top = {"n": n, **read}
    result.table("Perceptual hashes (phash, threshold 10): build, load, memory, query (fresh process per load)",
                 ["hashes", "index", "build s", "to_bytes s", "file MB", "load s", "RSS after queries MB",
                  "near query ms", "miss query ms", "8-variant query ms", "recall %", "random query hit %"], rows)
    result.note("'random query hit %': share of uniformly random 64-bit queries that find a listed hash within "
                "distance 10. It grows with the list (~n x 2.1e11 / 2^64): a 64-bit threshold of 10 over millions "
                "of hashes matches unrelated pictures; 256-bit PDQ at 31 does not have this problem.")
    label = "10M" if top["n"] == 10_000_000 else f"{top['n'] // 1_000_000}M (quick)"
    result.target("hashes_10m_load_s", top["load_s"], f"measured at {label}, from_bytes of the file read into memory")
    result.target("hashes_10m_memory_mb", top["rss_queried_mb"], f"measured at {label}")
    result.target("hashes_10m_query_ms", top["near_ms"], f"measured at {label}, one hash, near-duplicates within 0-10 bits")
    result.plots.append(plots.scale_curves(mem, "listed hashes", "resident memory MB", "Hash index memory",
                                           "scale_hashes_memory.png", out_dir, target=256))
    result.plots.append(plots.scale_curves(query, "listed hashes", "median query ms", "Near-match query time",
                                           "scale_hashes_query.png", out_dir, target=0.5))


def _bloom(result: SuiteResult, quick: bool) -> None:
    if available("filter_proxy.bloom"):
        result.note("bloom not measured: filter_proxy.bloom missing")
        return
    rows = []
    for n, rate in ((10_000, 0.01), (100_000, 0.001)) if quick else ((10_000, 0.01), (100_000, 0.001), (1_000_000, 0.001)):
        b = probe("bloom", n, rate)
        rows.append([n, rate * 100, b["measured"] * 100, b["probes"], b["nbytes"] / 2**20, b["build_s"],
                     f"{b['members_found']}/{b['members_probed']}"])
    result.table("Bloom filter (pybloom-live): configured vs measured false-positive rate",
                 ["items", "configured FPR %", "measured FPR %", "probes", "MB", "build s", "members found"], rows)
