"""CPU time per proxied request of `filter-proxy serve`, A/B between source trees, interleaved.

On a shared machine req/s swings with other people's jobs; the CPU time a worker spends per request
(``/proc/<pid>/stat`` user + system of the serving processes, divided by the requests wrk completed) is
the steadier figure. Each tree's `serve` runs from its own checkout (``PYTHONPATH``) in front of the same
static loopback backend (benchmarks/peers_backend.py) with the same rules; the trees take turns, every
round, at each concurrency.

``python -m benchmarks.peers_cpu --tree before=/path/a --tree after=/path/b [--workers 2] [--conc 1 16]
[--e2guardian]`` (``--e2guardian``: e2guardian configured as in benchmarks/peers_e2g.py with the same terms,
measured the same way, as the reference). Prints one line per run and the medians; writes nothing into
the repository.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import synth
from benchmarks.harness import median
from benchmarks.peers import SEARCH, _free_port, _stop, _wait_port
from benchmarks.subjects import REPO, write_rules_dir

TICK = os.sysconf("SC_CLK_TCK")


def _tree_pids(root: int) -> list[int]:
    """``root`` and its descendants (the supervisor and its workers)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                todo += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return pids


def cpu_seconds(root: int) -> float:
    total = 0
    for pid in _tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def wrk(url: str, connections: int, seconds: float, script: Path | None = None) -> tuple[float, int]:
    """(req/s, requests completed) of one wrk run; non-2xx or socket errors raise."""
    extra = ["-s", str(script)] if script else []
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", *extra, url], capture_output=True,
                         text=True, timeout=seconds + 60).stdout
    if re.search(r"Non-2xx|Socket errors", out):
        raise RuntimeError(f"errors in wrk run:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if not rate or not done:
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    return float(rate.group(1)), int(done.group(1))


def start(tree: str, origin: str, rules: Path, workers: int, extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.Popen([sys.executable, "-m", "filter_proxy.cli", "serve", "--upstream", origin, "--adapter",
                             "searxng", "--rules", str(rules), "--port", str(port), "--workers", str(workers),
                             *extra], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    return proc, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--conc", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `serve` argument (all trees)")
    parser.add_argument("--e2guardian", action="store_true", help="e2guardian as a reference subject")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="fp-peers-cpu-") as tmp:
        vocab = synth.vocabulary(synth.benign_corpus())
        terms = synth.placeholder_terms(args.terms, seed=1, avoid=vocab, read=synth.filter_reading)
        rules = write_rules_dir(Path(tmp) / "rules", terms=terms, urls=synth.placeholder_urls(1000, seed=2))
        try:
            bport = _free_port()
            backend = subprocess.Popen([sys.executable, "-m", "benchmarks.peers_backend", "--port", str(bport)],
                                       cwd=REPO, stdout=subprocess.DEVNULL)
            procs.append(backend)
            _wait_port(bport, backend)
            origin = f"http://127.0.0.1:{bport}"
            servers: dict[str, tuple[subprocess.Popen[bytes], str, Path | None]] = {}
            for name, path in trees.items():
                proc, port = start(path, origin, rules, args.workers, args.serve_arg)
                procs.append(proc)
                servers[name] = (proc, f"http://127.0.0.1:{port}{SEARCH}", None)
            if args.e2guardian:
                from benchmarks import peers_e2g

                port = _free_port()
                (Path(tmp) / "e2g").mkdir()
                proc = peers_e2g.start(peers_e2g.configure(Path(tmp) / "e2g", port, terms))
                procs.append(proc)
                _wait_port(port, proc)
                script = Path(tmp) / "proxy.lua"  # through a forward proxy: absolute-form target
                script.write_text(f'wrk.path = "{origin}{SEARCH}"\n', "utf-8")
                servers["e2guardian"] = (proc, f"http://127.0.0.1:{port}", script)
            time.sleep(2)
            for _proc, url, script in servers.values():
                wrk(url, 4, 1, script)
            cpu: dict[tuple[str, int], list[float]] = {}
            rate: dict[tuple[str, int], list[float]] = {}
            for r in range(args.rounds):
                for conc in args.conc:
                    for name, (proc, url, script) in servers.items():
                        before = cpu_seconds(proc.pid)
                        rps, done = wrk(url, conc, args.seconds, script)
                        used = cpu_seconds(proc.pid) - before
                        cpu.setdefault((name, conc), []).append(used / done * 1e6)
                        rate.setdefault((name, conc), []).append(rps)
                        print(f"round {r + 1} c={conc} {name}: {rps:,.0f} req/s, {used / done * 1e6:.0f} µs CPU/req",
                              flush=True)
            print(f"medians ({args.rounds} rounds of {args.seconds} s, workers {args.workers}, "
                  f"load {os.getloadavg()[0]:.1f}):")
            for conc in args.conc:
                for name in servers:
                    ratio = (f", {median(rate[name, conc]) / median(rate['e2guardian', conc]):.2f}x e2guardian"
                             if "e2guardian" in servers else "")
                    print(f"  c={conc:<3} {name:<12} {median(rate[name, conc]):8,.0f} req/s{ratio} "
                          f"{median(cpu[name, conc]):6.0f} µs CPU/req  (runs: "
                          f"{', '.join(f'{v:.0f}' for v in cpu[name, conc])})")
        finally:
            for proc in reversed(procs):
                _stop(proc)


if __name__ == "__main__":
    main()
