"""Measurements that need a fresh process (load time and resident memory), run as
``python -m benchmarks.probe <kind> <args...>``; prints one JSON object on stdout.

Memory is the VmRSS delta across the load (read from /proc/self/status), taken after every import so
module code is not counted; a second figure is taken after queries have touched the loaded data.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import median, rss_kib

BENIGN = ["how to bake sourdough bread at home", "python list comprehension examples",
          "weather forecast for the weekend hiking trip", "cheap flights to lisbon in may",
          "history of the printing press in europe", "best practices for code review comments"]


def _mb(kib: int) -> float:
    return kib / 1024


def terms_build(rules_dir: str, bundle: str, with_dir_load: str = "yes") -> dict[str, Any]:
    from filter_proxy.rules.bundle import compile_rules
    from filter_proxy.rules.loader import load_rules

    build = float("nan")
    if with_dir_load == "yes":
        start = time.perf_counter()
        load_rules(Path(rules_dir))
        build = time.perf_counter() - start
    start = time.perf_counter()
    compile_rules(Path(rules_dir), Path(bundle))
    return {"build_s": build, "compile_s": time.perf_counter() - start, "bundle_mb": Path(bundle).stat().st_size / 2**20}


def terms_load(bundle: str, listed: str) -> dict[str, Any]:
    from filter_proxy.rules.loader import load_rules

    queries = BENIGN + [f"where to find {t}" for t in json.loads(listed)]
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    rules = load_rules(Path(bundle))
    load = time.perf_counter() - start
    after_load = rss_kib()
    if hasattr(rules, "set_cache_size"):
        rules.set_cache_size(0)  # the same queries repeat below: time the matching, not the verdict cache
    times, hits = [], 0
    for _ in range(20):
        for q in queries:
            t0 = time.perf_counter()
            hits += rules.check_text(q).action != "allow"
            times.append(time.perf_counter() - t0)
    return {"load_s": load, "rss_load_mb": _mb(after_load - before), "rss_queried_mb": _mb(rss_kib() - before),
            "query_us": 1e6 * median(times), "hits": hits // 20, "queries": len(queries)}


def terms_baseline(kind: str, terms_file: str) -> dict[str, Any]:
    from benchmarks.baselines import AhoCorasickTerms, SetTerms

    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    phrases = Path(terms_file).read_text("utf-8").split("\n")
    matcher = SetTerms(phrases) if kind == "set" else AhoCorasickTerms(phrases)
    del phrases
    gc.collect()
    load = time.perf_counter() - start
    mem = rss_kib() - before
    times = []
    for _ in range(20):
        for q in BENIGN:
            words = q.split()
            t0 = time.perf_counter()
            matcher.match_words(words)
            times.append(time.perf_counter() - t0)
    return {"load_s": load, "rss_load_mb": _mb(mem), "query_us": 1e6 * median(times)}


def _codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(2) \
        + np.random.default_rng(seed + 1).integers(0, 2, size=n, dtype=np.int64).astype(np.uint64)


def hashes_build(n: int, out: str, seed: int = 17) -> dict[str, Any]:
    from filter_proxy.matchers.images import ImageEntry, ImageIndex

    codes = _codes(n, seed)
    np.save(out + ".npy", codes)
    hexes = [f"{int(c):016x}" for c in codes.tolist()]
    start = time.perf_counter()
    index = ImageIndex.build(ImageEntry("phash", h, "zqx-abuse", f"bench/images/zqx-abuse.csv:{i + 1}")
                             for i, h in enumerate(hexes))
    build = time.perf_counter() - start
    del hexes
    start = time.perf_counter()
    data = index.to_bytes()
    to_bytes = time.perf_counter() - start
    Path(out).write_bytes(data)
    return {"build_s": build, "to_bytes_s": to_bytes, "file_mb": len(data) / 2**20}


def _queries(codes: np.ndarray, count: int, seed: int) -> tuple[list[str], list[str], list[int]]:
    rng = random.Random(seed)
    near, miss, expect = [], [], []
    for _ in range(count):
        row = rng.randrange(len(codes))
        value = int(codes[row])
        flips = rng.randint(0, 10)
        for bit in rng.sample(range(64), flips):
            value ^= 1 << bit
        near.append(f"{value:016x}")
        expect.append((row + 1, flips))
        miss.append(f"{rng.getrandbits(64):016x}")
    return near, miss, expect


def hashes_load(path: str, mode: str, threshold: int = 10) -> dict[str, Any]:
    import mmap

    from filter_proxy.matchers.images import ImageIndex

    codes = np.load(path + ".npy")
    near, miss, expect = _queries(codes, 300, 5)
    variants = [[near[i], *miss[i * 7 % len(miss): i * 7 % len(miss) + 7]] for i in range(len(near))]
    del codes
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    if mode == "read":
        data: Any = Path(path).read_bytes()
    else:
        fh = open(path, "rb")  # noqa: SIM115 - the mapping must outlive this function's measurements
        data = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
    index = ImageIndex.from_bytes(data)
    load = time.perf_counter() - start
    after_load = rss_kib()

    def thr(_c: str, _a: str) -> int:
        return threshold

    def timed(queries: list[Any]) -> tuple[list[float], list[Any]]:
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            found.append(index.match({"phash": q}, thr))
            times.append(time.perf_counter() - t0)
        return times, found

    t_near, f_near = timed(near)
    t_miss, f_miss = timed(miss)
    t_var, _ = timed(variants)
    # Found: the planted entry, or another listed hash at least as close (in a dense list one may be closer).
    recall = sum(1 for f, (line, flips) in zip(f_near, expect, strict=True)
                 if f and (f.rule_id.endswith(f":{line}") or f.distance <= flips)) / len(near)
    return {"load_s": load, "rss_load_mb": _mb(after_load - before), "rss_queried_mb": _mb(rss_kib() - before),
            "near_ms": 1000 * median(t_near), "miss_ms": 1000 * median(t_miss), "variants8_ms": 1000 * median(t_var),
            "recall": recall, "random_hits": sum(1 for f in f_miss if f) / len(miss)}


def hashes_numpy(path: str, threshold: int = 10) -> dict[str, Any]:
    from benchmarks.baselines import LinearHashScan

    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    scan = LinearHashScan(np.load(path + ".npy"))
    load = time.perf_counter() - start
    mem = rss_kib() - before
    near, _, _ = _queries(scan.codes, 30, 5)
    times = []
    for q in near:
        t0 = time.perf_counter()
        scan.near(int(q, 16), threshold)
        times.append(time.perf_counter() - t0)
    return {"load_s": load, "rss_load_mb": _mb(mem), "near_ms": 1000 * median(times)}


def bloom_fpr(n: int, error_rate: float) -> dict[str, Any]:
    from filter_proxy.bloom import Bloom

    start = time.perf_counter()
    bloom = Bloom.build((f"zqxitem{i}" for i in range(n)), capacity=n, error_rate=error_rate)
    build = time.perf_counter() - start
    members = sum(f"zqxitem{i}" in bloom for i in range(0, n, max(1, n // 10_000)))
    probes = 100_000
    return {"build_s": build, "configured": error_rate, "measured": bloom.measured_fpr(probes), "probes": probes,
            "nbytes": bloom.nbytes, "members_found": members, "members_probed": len(range(0, n, max(1, n // 10_000)))}


KINDS = {"terms-build": terms_build, "terms-load": terms_load, "terms-baseline": terms_baseline,
         "hashes-build": hashes_build, "hashes-load": hashes_load, "hashes-numpy": hashes_numpy, "bloom": bloom_fpr}


def main() -> None:
    kind, *args = sys.argv[1:]
    converted = [int(a) if a.isdigit() else float(a) if a.replace(".", "", 1).isdigit() else a for a in args]
    print(json.dumps(KINDS[kind](*converted)))


if __name__ == "__main__":
    main()
