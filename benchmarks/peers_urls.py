"""URL lists vs squidGuard (``run``, called by the peers suite) and filter-proxy's side of it:
``python -m benchmarks.peers_urls ENTRIES URLS`` (files, one per line) prints JSON {compile_s,
compile_cpu_s, bundle_mb, load_s, load_cpu_s, reload_s, rss_mb, rss_queried_mb, index_load_s, index_mb,
lookups_per_s, lookups_cpu_per_s, blocked}.

Compile and load each run in a fresh process, timed after the imports (as the scale suite times terms):
``compile`` writes the rule directory and times ``compile_rules``; ``load`` takes the resident size after
every import, then times reading the bundle and decoding its URL section alone (``index_*``: the URL
index's own load time and memory), drops it, and times ``load_rules`` of the whole bundle, once more (a
reload: the term index reads its English word list, a data file, once per process, whatever the lists hold),
and the lookups (``rss_mb``: the whole rule set, including that word list). A
compile in the same process would leave freed memory behind and blur the memory figures. Wall-clock and
CPU seconds are both kept: on a busy shared machine the CPU figures are the steadier ones.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import SuiteResult, log

REPO = Path(__file__).resolve().parent.parent


def _rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.peers_urls", *args], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def compile_step(entries_file: str, tmp: str) -> dict[str, Any]:
    from benchmarks import synth
    from benchmarks.subjects import write_rules_dir
    from filter_proxy.rules.bundle import compile_rules

    entries = Path(entries_file).read_text("utf-8").split()
    root = write_rules_dir(Path(tmp) / "rules", terms=synth.placeholder_terms(10, seed=1), urls=entries)
    bundle = Path(tmp) / "rules.bundle"
    del entries
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    compile_rules(root, bundle)
    return {"compile_s": time.perf_counter() - started, "compile_cpu_s": time.process_time() - cpu,
            "bundle": str(bundle), "bundle_mb": bundle.stat().st_size / 2**20}


def load_step(bundle: str, urls_file: str) -> dict[str, Any]:
    from filter_proxy.rules.bundle import read_bundle
    from filter_proxy.rules.loader import load_rules
    from filter_proxy.signals.urls import UrlIndex

    urls = Path(urls_file).read_text("utf-8").split()
    gc.collect()
    before = _rss_kib()
    started = time.perf_counter()
    _, sections = read_bundle(bundle)  # verified whole (checksums), as load_rules does
    index = UrlIndex.from_bytes(sections["urls"])
    index_load_s = time.perf_counter() - started
    index_mb = (_rss_kib() - before) / 1024
    del index, sections
    gc.collect()
    before = _rss_kib()
    started, cpu = time.perf_counter(), time.process_time()
    rules = load_rules(Path(bundle))
    load_s, load_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    rss_mb = (_rss_kib() - before) / 1024
    started = time.perf_counter()
    load_rules(Path(bundle))  # again, as a reload does: without the once-per-process set-up of other indexes
    reload_s = time.perf_counter() - started
    gc.collect()
    if hasattr(rules, "set_cache_size"):
        rules.set_cache_size(0)  # every lookup does the work, as squidGuard's do
    started, cpu = time.perf_counter(), time.process_time()
    blocked = sum(1 for u in urls if rules.check_url(u).action != "allow")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"load_s": load_s, "load_cpu_s": load_cpu_s, "reload_s": reload_s, "rss_mb": rss_mb,
            "rss_queried_mb": (_rss_kib() - before) / 1024, "index_load_s": index_load_s, "index_mb": index_mb,
            "lookups_per_s": len(urls) / seconds, "lookups_cpu_per_s": len(urls) / max(cpu_seconds, 1e-9),
            "blocked": blocked}


def measure(entries_file: str, urls_file: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fp-peers-") as tmp:
        built = _child("compile", entries_file, tmp)
        loaded = _child("load", built["bundle"], urls_file)
    return {"compile_s": built["compile_s"], "compile_cpu_s": built["compile_cpu_s"], "bundle_mb": built["bundle_mb"],
            **loaded}


def run(result: SuiteResult, root: Path, quick: bool) -> None:
    """squidGuard and filter-proxy on the same URL entries and the same stream of lookups, at 100k and 1M
    entries (quick: 100k only, and the 1M targets are judged on it, saying so)."""
    from benchmarks import peers_squidguard, synth

    sizes = (100_000,) if quick else (100_000, 1_000_000)
    stream_n = 50_000 if quick else 300_000
    rows: list[list[Any]] = []
    for size in sizes:
        entries = synth.placeholder_urls(size, seed=2)
        listed = [(e if "://" in e else f"http://{e}/").replace("*", "page") for e in entries[: stream_n // 100]]
        stream = synth.benign_urls(stream_n - len(listed)) + listed
        work = root / f"urls-{size}"
        work.mkdir()
        (work / "entries.txt").write_text("\n".join(entries), "utf-8")
        (work / "stream.txt").write_text("\n".join(stream), "utf-8")
        conf = peers_squidguard.configure(work / "sg", entries)
        sg_compile = peers_squidguard.compile_lists(conf)
        sg_rate, sg_blocked, sg_kib = peers_squidguard.lookups(conf, stream)
        fp = measure(str(work / "entries.txt"), str(work / "stream.txt"))
        log(f"peers: {size:,} URL entries: squidGuard {sg_rate:,.0f}/s, filter-proxy {fp['lookups_per_s']:,.0f}/s, "
            f"compile {fp['compile_s']:.2f} s, load {fp['load_s']:.2f} s, URL index {fp['index_mb']:.1f} MB")
        sg_mb = sg_kib / 1024
        rows.append([f"{size:,}", "squidGuard 1.6", sg_rate, sg_blocked, sg_mb, sg_compile, None, None, None, None])
        rows.append([f"{size:,}", "filter-proxy", fp["lookups_per_s"], fp["blocked"], fp["rss_mb"], fp["compile_s"],
                     fp["load_s"], fp["reload_s"], fp["index_mb"], fp["index_load_s"]])
        rows.append([f"{size:,}", "filter-proxy, CPU seconds (steadier on a busy machine)", fp["lookups_cpu_per_s"],
                     None, None, fp["compile_cpu_s"], fp["load_cpu_s"], None, None, None])
        rows.append([f"{size:,}", "ratio filter-proxy / squidGuard", fp["lookups_per_s"] / sg_rate, None,
                     fp["index_mb"] / sg_mb, fp["compile_s"] / sg_compile, None, None, None, None])
        if size == sizes[-1]:
            label = f"{size:,} entries" + ("" if size == 1_000_000 else " (quick: the target is for 1M)")
            result.target("url_lookups_vs_squidguard", fp["lookups_per_s"] / sg_rate, label)
            result.target("url_index_memory_mb", fp["index_mb"], f"{label}; the URL index alone (its bundle section "
                          f"read and decoded); the whole rule set with its 10-term index: {fp['rss_mb']:.1f} MB")
            result.target("url_compile_1m_s", fp["compile_s"], f"{label}; wall clock, {fp['compile_cpu_s']:.2f} s CPU")
            result.target("url_load_1m_s", fp["index_load_s"], f"{label}; the bundle read and verified whole and its "
                          f"URL index decoded; load_rules of the whole bundle {fp['load_s']:.2f} s in a fresh process "
                          f"({fp['load_cpu_s']:.2f} s CPU, including the term index's once-per-process word "
                          f"list), {fp['reload_s']:.2f} s as a reload")
    result.table("URL lists vs squidGuard (same entries, same stream; filter-proxy verdict cache off)",
                 ["entries", "filter", "lookups/s", "blocked", "memory MB", "compile s", "load s", "reload s",
                  "URL index MB", "URL index load s"], rows)
    result.note("squidGuard's memory is its peak resident size (it reads Berkeley DB files from disk); "
                "filter-proxy's 'memory MB' is the resident growth of a fresh process loading the whole bundle "
                "(URL list plus a 10-term index, whose word list is a fixed ~5 MB), 'URL index MB' that of "
                "reading and decoding the bundle's URL section alone (the ratio row uses it); 'load s' is "
                "load_rules in a fresh process, 'reload s' the same again in that process, 'URL index load s' "
                "reading and verifying the whole bundle and decoding its URL section; compile and load "
                "each run in a fresh process, timed after the imports; squidGuard's lookups/s exclude its "
                "start-up (a one-line run is subtracted).")


def main() -> None:
    if sys.argv[1] == "compile":
        print(json.dumps(compile_step(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "load":
        print(json.dumps(load_step(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))


if __name__ == "__main__":
    main()
