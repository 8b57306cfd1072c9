"""Peers side by side, in one run, interleaved: proxied req/s through e2guardian and `filter-proxy serve`
in front of the same static loopback backend (wrk, c=1 and c=16), and URL lookups/s, memory and compile
time against squidGuard on the same URL lists and stream. Each peer is skipped with a note when it is not
installed (``apt-get install e2guardian squidguard wrk``). Everything runs on 127.0.0.1 only.

How the peers are configured: benchmarks/peers_e2g.py and benchmarks/peers_squidguard.py (docstrings).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchmarks import peers_e2g, peers_hop, peers_recall, peers_squidguard, peers_urls, synth
from benchmarks.harness import SuiteResult, log, median
from benchmarks.subjects import REPO, compile_rules, write_rules_dir

N_TERMS = 100_000
N_URLS = 10_000
SEARCH = "/search?q=garden"
HOP_PREFIX = "proxy app, 1 worker, hop: "


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:  # e2guardian may ignore SIGTERM while its workers drain
            proc.kill()
            proc.wait(timeout=10)


def wrk(url: str, connections: int, seconds: float, proxy_target: str | None = None) -> tuple[float, int]:
    """Requests/s and non-2xx/socket-error count of one wrk run (one thread: the other core is the server's)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.TemporaryDirectory(prefix="fp-wrk-") as tmp:
        if proxy_target:  # through a forward proxy: absolute-form request target
            script = Path(tmp) / "proxy.lua"
            script.write_text(f'wrk.path = "{proxy_target}"\n', "utf-8")
            cmd += ["-s", str(script)]
        out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return (float(rate.group(1)) if rate else 0.0), bad


def run(quick: bool, out_dir: Path) -> SuiteResult:
    result = SuiteResult("peers", quick)
    with tempfile.TemporaryDirectory(prefix="fp-peers-") as tmp:
        root = Path(tmp)
        if shutil.which("wrk") is None:
            result.note("proxied req/s not measured: wrk is not installed (apt-get install wrk)")
        else:
            _proxies(result, root, quick)
        missing = peers_squidguard.available()
        if missing:
            result.note(f"URL lookups vs squidGuard not measured: {missing}")
        else:
            peers_urls.run(result, root, quick)
    return result


# --- proxied requests ---------------------------------------------------------------------------------------
def _proxies(result: SuiteResult, root: Path, quick: bool) -> None:
    # Like the quality suite: no listed term is (or is read as) a word of the benign corpus the run sends.
    vocab = synth.vocabulary(synth.benign_corpus())
    terms = synth.placeholder_terms(10_000 if quick else N_TERMS, seed=1, avoid=vocab, read=synth.filter_reading)
    rules = write_rules_dir(root / "rules", terms=terms, urls=synth.placeholder_urls(N_URLS, seed=2))
    bundle = root / "rules.bundle"
    log(f"peers: compiling {len(terms):,} terms")
    compile_rules(rules, bundle)
    procs: list[subprocess.Popen[bytes]] = []
    subjects: dict[str, tuple[str, str | None]] = {}  # name -> (wrk URL, absolute target through a proxy)
    try:
        backend_port = _free_port()
        backend = subprocess.Popen([sys.executable, "-m", "benchmarks.peers_backend", "--port", str(backend_port)],
                                   cwd=REPO, stdout=subprocess.DEVNULL)
        procs.append(backend)
        _wait_port(backend_port, backend)
        origin = f"http://127.0.0.1:{backend_port}"
        subjects["direct"] = (origin + SEARCH, None)
        for name, workers in (("filter-proxy serve, 1 worker", 1), ("filter-proxy serve, 2 workers", 2)):
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "filter_proxy.cli", "serve", "--upstream", origin, "--adapter", "searxng",
                 "--rules", str(bundle), "--port", str(port), "--workers", str(workers)],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            _wait_port(port, proc)
            subjects[name] = (f"http://127.0.0.1:{port}{SEARCH}", None)
        for hop in peers_hop.HOPS:  # the same proxy with each forward-hop client (no ops wrapper)
            port = _free_port()
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.peers_hop", "--hop", hop, "--upstream", origin,
                                     "--rules", str(bundle), "--port", str(port)], cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            _wait_port(port, proc)
            subjects[f"{HOP_PREFIX}{hop}"] = (f"http://127.0.0.1:{port}{SEARCH}", None)
        missing = peers_e2g.available()
        if missing:
            result.note(f"e2guardian not measured: {missing}")
        else:
            port = _free_port()
            (root / "e2g").mkdir()
            e2g = peers_e2g.start(peers_e2g.configure(root / "e2g", port, terms))
            procs.append(e2g)
            _wait_port(port, e2g)
            subjects["e2guardian 5.3.5"] = (f"http://127.0.0.1:{port}", origin + SEARCH)
        time.sleep(2 if quick else 5)  # workers finish loading the bundle
        for url, target in subjects.values():  # warm-up: pools, caches, JIT-free but lazy imports
            wrk(url, 4, 1, target)
        _measure(result, subjects, quick)
        if "e2guardian 5.3.5" in subjects:
            _recall(result, terms, subjects, origin, quick)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _measure(result: SuiteResult, subjects: dict[str, tuple[str, str | None]], quick: bool) -> None:
    rounds, seconds = (2, 2) if quick else (3, 5)
    runs: dict[tuple[str, int], list[float]] = {}
    errors: dict[tuple[str, int], int] = {}
    for r in range(rounds):
        for conc in (1, 16):
            for name, (url, target) in subjects.items():  # interleaved: every subject once per round
                rate, bad = wrk(url, conc, seconds, target)
                runs.setdefault((name, conc), []).append(rate)
                errors[name, conc] = errors.get((name, conc), 0) + bad
                log(f"peers: round {r + 1} c={conc} {name}: {rate:,.0f} req/s")
    med = {k: median(v) for k, v in runs.items()}
    e2g = "e2guardian 5.3.5"
    rows = []
    for name in subjects:
        c1, c16 = med[name, 1], med[name, 16]
        rows.append([name, c1, c16, c1 / med["direct", 1], c16 / med["direct", 16],
                     c1 / med[e2g, 1] if (e2g, 1) in med else None,
                     c16 / med[e2g, 16] if (e2g, 16) in med else None, errors[name, 1] + errors[name, 16]])
    result.table("Proxied 10-result page through each filter (wrk, loopback, medians of interleaved rounds)",
                 ["path", "c=1 req/s", "c=16 req/s", "c=1 / direct", "c=16 / direct", "c=1 / e2guardian",
                  "c=16 / e2guardian", "errors"], rows)
    one, two = "filter-proxy serve, 1 worker", "filter-proxy serve, 2 workers"
    if (e2g, 1) in med:
        result.target("serve_vs_e2guardian_c1", med[one, 1] / med[e2g, 1], "1 worker, c=1")
        result.target("serve_vs_e2guardian_c16", med[two, 16] / med[e2g, 16], "--workers 2, c=16")
    hops = [n for n in subjects if n.startswith(HOP_PREFIX)]
    base = f"{HOP_PREFIX}httpx"
    if base in hops:
        result.table("Forward-hop clients on the whole proxied request (same app, same rules; ratio to httpx)",
                     ["hop client", "c=1 req/s", "c=16 req/s", "c=1 / httpx", "c=16 / httpx", "c=16 / own c=1"],
                     [[n.removeprefix(HOP_PREFIX), med[n, 1], med[n, 16], med[n, 1] / med[base, 1],
                       med[n, 16] / med[base, 16], med[n, 16] / med[n, 1]] for n in hops])
    result.target("worker_c16_over_c1", med[one, 16] / med[one, 1], "1 worker: req/s at c=16 / at c=1")
    result.note(f"{rounds} interleaved round(s) of {seconds} s per subject and concurrency; wrk and every server "
                "share the machine's 2 cores (and other users' jobs), so compare the ratios, not the absolutes.")


def _port(url: str) -> int:
    return int(urllib.parse.urlsplit(url).port or 80)


def _recall(result: SuiteResult, terms: list[str], subjects: dict[str, tuple[str, str | None]], origin: str,
            quick: bool) -> None:
    per_class, benign = (30, 300) if quick else (150, 2000)
    e2g_port = _port(subjects["e2guardian 5.3.5"][0])
    fp_port = _port(subjects["filter-proxy serve, 1 worker"][0])
    log("peers: disguise recall and benign false matches through e2guardian and filter-proxy")
    rows, fig = peers_recall.measure(terms, e2g_port, origin, fp_port, per_class, benign)
    result.table("Disguised listed queries blocked, through each proxy (% of queries; same queries)",
                 ["class", "queries", "e2guardian %", "filter-proxy %"], rows)
    result.table("Overall, same queries", ["figure", "e2guardian", "filter-proxy"],
                 [["recall on disguised listed queries %", fig["e2g_recall"], fig["fp_recall"]],
                  [f"benign queries blocked % (of {fig['benign_queries']:,} real English lines)", fig["e2g_benign"],
                   fig["fp_benign"]],
                  ["  of which filter-proxy blocked %", None, fig["fp_benign_blocked"]],
                  ["  of which filter-proxy warned %", None, fig["fp_benign_warned"]],
                  ["  of which check_text matches the line as written too %", None, fig["fp_benign_as_text"]],
                  ["  of which only the query path matched %", None, fig["fp_benign_query_path_only"]]])
