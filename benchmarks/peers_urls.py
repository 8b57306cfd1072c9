"""filter-proxy's side of the URL-list comparison with squidGuard: ``python -m benchmarks.peers_urls ENTRIES
URLS`` (files, one per line) prints JSON {compile_s, load_s, rss_mb, rss_queried_mb, bundle_mb,
lookups_per_s, blocked}.

Compile and load each run in a fresh process, timed after the imports (as the scale suite times terms):
``compile`` writes the rule directory and times ``compile_rules``; ``load`` takes the resident size after
every import, then times ``load_rules`` of the bundle and the lookups, so its memory is the rule set's
alone (a compile in the same process would leave freed memory behind and blur it).
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
    started = time.perf_counter()
    compile_rules(root, bundle)
    return {"compile_s": time.perf_counter() - started, "bundle": str(bundle),
            "bundle_mb": bundle.stat().st_size / 2**20}


def load_step(bundle: str, urls_file: str) -> dict[str, Any]:
    from filter_proxy.rules.loader import load_rules

    urls = Path(urls_file).read_text("utf-8").split()
    gc.collect()
    before = _rss_kib()
    started = time.perf_counter()
    rules = load_rules(Path(bundle))
    load_s = time.perf_counter() - started
    rss_mb = (_rss_kib() - before) / 1024
    if hasattr(rules, "set_cache_size"):
        rules.set_cache_size(0)  # every lookup does the work, as squidGuard's do
    started = time.perf_counter()
    blocked = sum(1 for u in urls if rules.check_url(u).action != "allow")
    rate = len(urls) / (time.perf_counter() - started)
    return {"load_s": load_s, "rss_mb": rss_mb, "rss_queried_mb": (_rss_kib() - before) / 1024,
            "lookups_per_s": rate, "blocked": blocked}


def measure(entries_file: str, urls_file: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fp-peers-") as tmp:
        built = _child("compile", entries_file, tmp)
        loaded = _child("load", built["bundle"], urls_file)
    return {"compile_s": built["compile_s"], "bundle_mb": built["bundle_mb"], **loaded}


def main() -> None:
    if sys.argv[1] == "compile":
        print(json.dumps(compile_step(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "load":
        print(json.dumps(load_step(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))


if __name__ == "__main__":
    main()
