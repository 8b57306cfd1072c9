"""filter-proxy's side of the URL-list comparison with squidGuard, run in a fresh process so that its
resident memory is the rule set's alone: ``python -m benchmarks.peers_urls ENTRIES URLS`` (files, one per
line) prints JSON {compile_s, load_s, rss_mb, lookups_per_s, blocked}."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def _rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


def measure(entries: list[str], urls: list[str]) -> dict[str, float]:
    from benchmarks import synth
    from benchmarks.subjects import compile_rules, load_rules, write_rules_dir

    with tempfile.TemporaryDirectory(prefix="fp-peers-") as tmp:
        root = write_rules_dir(Path(tmp) / "rules", terms=synth.placeholder_terms(10, seed=1), urls=entries)
        bundle = Path(tmp) / "rules.bundle"
        started = time.perf_counter()
        compile_rules(root, bundle)
        compile_s = time.perf_counter() - started
        before = _rss_kib()
        started = time.perf_counter()
        rules = load_rules(bundle)
        load_s = time.perf_counter() - started
        rss_mb = (_rss_kib() - before) / 1024
        if hasattr(rules, "set_cache_size"):
            rules.set_cache_size(0)  # every lookup does the work, as squidGuard's do
        started = time.perf_counter()
        blocked = sum(1 for u in urls if rules.check_url(u).action != "allow")
        rate = len(urls) / (time.perf_counter() - started)
    return {"compile_s": compile_s, "load_s": load_s, "rss_mb": rss_mb, "lookups_per_s": rate, "blocked": blocked}


def main() -> None:
    entries = Path(sys.argv[1]).read_text("utf-8").split()
    urls = Path(sys.argv[2]).read_text("utf-8").split()
    print(json.dumps(measure(entries, urls)))


if __name__ == "__main__":
    main()
