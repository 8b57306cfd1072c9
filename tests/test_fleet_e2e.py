"""The fleet acceptance test: three `filter-proxy serve` instances (one with two workers), a real Redis and
a real PostgreSQL on loopback, and a bounded load generator running throughout.

publish a signed version -> every worker of every instance serves it, 0 failed requests; publish a wrongly
signed one -> refused everywhere, the old version keeps serving; stop Redis -> 0 failed requests and
/-/ready degraded; start it again and publish -> the fleet converges; the PostgreSQL report's totals equal
the requests the load generator made, per category and per instance.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from filter_proxy.cli import main
from tests.fleet_support import bundle, write_keypair
from tests.support.server import serve
from tests.support.servers import PostgresServer, free_port, running_redis
from tests.test_serve import Upstream

INSTANCES = (("fp-a", 2), ("fp-b", 1), ("fp-c", 1))  # (name, workers)
WORKERS = sum(w for _, w in INSTANCES)
# The load: an ordinary query, a listed abuse term (blocked) and a support term (warned).
QUERIES = ("bread", "zqxblocked", "zqxhelp")
CATEGORY_OF_ACTION = {"block": "zqx-abuse", "warn": "zqx-support"}
MAX_REQUESTS, MAX_SECONDS = 20000, 120.0  # the load generator's bounds (it runs until told to stop)
BOUND = 60.0  # how long to wait for a state before failing (a hang guard, not a speed assertion)


class Load:
    """Counts every search request made to the fleet by what the response says it was (the category of a
    blocked or warned query); failures are any non-200 answer or transport error."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = bases
        self.lock = threading.Lock()
        self.made: Counter[str] = Counter()  # category ("" for none) -> requests
        self.per_instance: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def request(self, base: str, query: str, client: httpx.Client | None = None) -> httpx.Response | None:
        try:
            if client is not None:
                r = client.get(f"{base}/search", params={"q": query, "format": "json"})
            else:  # a new connection: reaches any worker of the instance
                r = httpx.get(f"{base}/search", params={"q": query, "format": "json"}, timeout=30)
        except httpx.HTTPError as exc:
            with self.lock:
                self.failures.append(f"{base}: {type(exc).__name__}")
            return None
        with self.lock:
            if r.status_code != 200:
                self.failures.append(f"{base}: HTTP {r.status_code}")
                return r
            self.made[CATEGORY_OF_ACTION.get(r.headers.get("x-filter-action", ""), "")] += 1
            self.per_instance[base] += 1
        return r

    def total(self) -> int:
        with self.lock:
            return sum(self.made.values())

    def _run(self, base: str) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=30) as client:
            for query in itertools.cycle(QUERIES):
                if self.stop.is_set() or self.total() >= MAX_REQUESTS or time.monotonic() - started > MAX_SECONDS:
                    return
                self.request(base, query, client)
                time.sleep(0.01)  # a steady load that leaves the 2 cores to the servers

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._run, args=(b,), daemon=True) for b in self.bases]
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def wait_for(predicate: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < BOUND, f"timed out waiting for: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def fleet_status(redis_url: str) -> dict[str, Any]:
    """`filter-proxy fleet status --format json`, in-process."""
    import asyncio

    from filter_proxy.fleet.status import fetch_status, format_status

    return dict(json.loads(format_status(asyncio.run(fetch_status(redis_url)), "json")))


def serving(redis_url: str, version: str, state: str = "ok") -> bool:
    try:
        status = fleet_status(redis_url)
    except Exception:
        return False
    workers = status["workers"]
    return len(workers) == WORKERS and all(w["version"] == version and w["state"] == state for w in workers)


def ready(base: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/-/ready", timeout=10)
    return {"code": r.status_code, **r.json()}


@pytest.fixture
def fleet(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[dict[str, Any]]:
    team_key, team_pub = write_keypair(tmp_path, "team")
    other_key, _ = write_keypair(tmp_path, "other")
    v1, version1 = bundle(tmp_path, 1, team_key)
    dsn = postgres_server.create_database()
    backend = Upstream()
    procs: list[subprocess.Popen[bytes]] = []
    with running_redis() as redis_server, serve(backend.app) as upstream_url:
        bases = []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FILTER_PROXY_", "PROMETHEUS_"))}
        env["TMPDIR"] = str(tmp_path)  # staged bundles (rules/signing.py) stay in this test's directory
        for name, workers in INSTANCES:
            port = free_port()
            config = tmp_path / f"{name}.toml"
            config.write_text(f"""
[server]
port = {port}
workers = {workers}
[upstream]
url = "{upstream_url}"
adapter = "searxng"
[rules]
path = "{v1}"
watch = false
public_key = "{team_pub}"
[images]
enabled = false
[report]
database = "{dsn}"
snapshot_interval = 1.0
[fleet]
redis_url = "{redis_server.url}"
instance = "{name}"
heartbeat = 0.5
status_ttl = 5.0
backoff_max = 0.5
[metrics]
multiprocess_dir = "{tmp_path / f'metrics-{name}'}"
[logging]
json = false
""")
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen([sys.executable, "-m", "filter_proxy.cli", "serve", "--config",
                                           str(config)], env=env, stdout=log, stderr=log))
            bases.append(f"http://127.0.0.1:{port}")
        try:
            for proc, base in zip(procs, bases, strict=True):
                def up(proc: subprocess.Popen[bytes] = proc, base: str = base) -> bool:
                    assert proc.poll() is None, "an instance exited during start-up"
                    try:
                        return ready(base)["code"] == 200
                    except httpx.HTTPError:
                        return False

                wait_for(up, f"{base} ready")
            wait_for(lambda: len(fleet_status(redis_server.url)["workers"]) == WORKERS, "every worker's heartbeat")
            yield {"redis": redis_server, "bases": bases, "dsn": dsn, "team_key": team_key,
                   "other_key": other_key, "version1": version1, "dir": tmp_path, "procs": procs,
                   "names": [n for n, _ in INSTANCES]}
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def blocked_everywhere(load: Load, bases: list[str], term: str, probes: int = 4) -> bool:
    """``term`` is blocked on every instance, over new connections (so any worker may answer)."""
    for base in bases:
        for _ in range(probes):
            r = load.request(base, term)
            if r is None or r.headers.get("x-filter-action") != "block":
                return False
    return True


def publish(path: Path, redis_url: str) -> int:
    return main(["rules", "publish", str(path), "--redis", redis_url])


def test_fleet_rollout_fail_static_and_report(fleet: dict[str, Any]) -> None:
    redis_server, bases, tmp = fleet["redis"], fleet["bases"], fleet["dir"]
    url = redis_server.url
    assert serving(url, fleet["version1"]) or fleet_status(url)["published"] is None
    load = Load(bases)
    load.start()
    try:
        # 1. A new signed version reaches every worker of every instance.
        v2, version2 = bundle(tmp, 2, fleet["team_key"])
        assert not blocked_everywhere(load, bases[:1], "zqxfleet2", probes=1)
        published = time.monotonic()
        assert publish(v2, url) == 0
        wait_for(lambda: serving(url, version2), "every worker on version 2")
        wait_for(lambda: blocked_everywhere(load, bases, "zqxfleet2"), "version 2 blocking everywhere")
        rollout_seconds = time.monotonic() - published
        status = fleet_status(url)
        assert {w["instance"] for w in status["workers"]} == set(fleet["names"])
        lags = [w["lag"] for w in status["workers"]]
        assert all(lag is not None for lag in lags)  # every worker applied the published version itself

        # 2. A wrongly signed version is refused everywhere; version 2 keeps serving.
        v3, _ = bundle(tmp, 3, fleet["other_key"], name="wrongly-signed")
        assert publish(v3, url) == 0  # the publisher has no say: the instances check
        wait_for(lambda: serving(url, version2, state="refused"), "every worker refusing version 3")
        assert blocked_everywhere(load, bases, "zqxfleet2")
        r = load.request(bases[1], "zqxfleet3")
        assert r is not None and r.headers.get("x-filter-action") != "block"  # version 3 is not in force
        corrupt = tmp / "corrupt.bundle"
        corrupt.write_bytes(v2.read_bytes()[:-100])
        assert publish(corrupt, url) == 2  # not even announced

        # 3. Redis stops: every instance keeps serving version 2 and says it is degraded.
        served_before = load.total()
        redis_server.stop()
        wait_for(lambda: all(ready(b)["status"] == "degraded" for b in bases for _ in range(3)),
                 "every instance degraded")
        assert all(ready(b)["code"] == 200 and ready(b)["rules_version"] == version2 for b in bases)
        metrics = httpx.get(f"{bases[0]}/metrics", timeout=10).text
        assert "filter_proxy_fleet_redis_connected 0.0" in metrics
        wait_for(lambda: load.total() > served_before + 30, "requests served while Redis is down")
        assert blocked_everywhere(load, bases, "zqxfleet2")

        # 4. Redis returns: the instances reconnect, catch up and converge on the next version.
        redis_server.start()
        v4, version4 = bundle(tmp, 4, fleet["team_key"])
        assert publish(v4, url) == 0
        wait_for(lambda: serving(url, version4), "every worker on version 4")
        wait_for(lambda: all(ready(b)["status"] == "ready" for b in bases for _ in range(3)), "all ready again")
        wait_for(lambda: blocked_everywhere(load, bases, "zqxfleet4"), "version 4 blocking everywhere")
    finally:
        load.finish()
    assert load.failures == []
    assert load.total() > 100

    # 5. Graceful stop flushes every worker's counts; the fleet's report adds up to what was requested.
    for proc in fleet["procs"]:
        proc.send_signal(signal.SIGTERM)
    for proc in fleet["procs"]:
        # uvicorn re-raises SIGTERM after its graceful shutdown in a single process; a supervisor exits 0.
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    out = subprocess.run([sys.executable, "-m", "filter_proxy.cli", "report", "--db", fleet["dsn"], "--since",
                          datetime.now(UTC).strftime("%Y-%m-%d"), "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    assert report["requests"]["total"] == load.total()
    expected = {category: n for category, n in load.made.items() if category}
    assert report["requests"]["by_category"] == expected
    by_base = dict(zip(bases, fleet["names"], strict=True))
    assert report["requests"]["by_instance"] == {by_base[b]: n for b, n in load.per_instance.items()}
    for name in fleet["names"]:
        text = (tmp / f"{name}.log").read_text(errors="replace")
        assert "not a trusted key" in text and "refused on this instance" in text
        assert "Redis unreachable" in text
    # Reported, not asserted (no wall-clock assertions): DESIGN/issue 13 ask for under 2 s.
    print(f"\nfleet: {load.total()} requests, 0 failed; version 2 applied by each of {WORKERS} workers "
          f"{min(lags):.3f}-{max(lags):.3f} s after publish (their clocks), seen blocking on every instance "
          f"{rollout_seconds:.2f} s after publish returned")
