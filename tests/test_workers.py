"""`serve --workers 2` over real HTTP (a subprocess on a loopback port): POST /-/reload and SIGHUP reload
the rules in every worker without restarting one, the reply says what each worker serves, and a reload
that would empty or halve a category is refused unless forced."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import serve
from tests.test_serve import ROOT, Upstream

TOKEN = "workers-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_TERM = "zqxnewterm"
START_BOUND = 90.0  # seconds; a bound so that a broken server fails the test instead of hanging it

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", d)
    return d


@pytest.fixture
def upstream_url() -> Iterator[str]:
    with serve(Upstream().app) as base:
        yield base


def until(predicate: Callable[[], Any], what: str, bound: float = START_BOUND) -> Any:
    deadline = time.monotonic() + bound
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def serve_workers(tmp_path: Path, rules: Path, upstream: str, workers: int = 2,
                  watch: bool = False) -> Iterator[tuple[Any, str]]:
    config = tmp_path / "fp.toml"
    config.write_text(f"""
[upstream]
adapter = "searxng"
[rules]
watch = {"true" if watch else "false"}
debounce_ms = 50
[images]
enabled = false
[metrics]
enabled = false
[report]
database = "{tmp_path / 'report.sqlite3'}"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILTER_PROXY_", "PROMETHEUS_"))}
    env["FILTER_PROXY_ADMIN_TOKEN"] = TOKEN
    cmd = [sys.executable, "-m", "filter_proxy.cli", "serve", "--config", str(config), "--upstream", upstream,
           "--rules", str(rules), "--port", "0", "--workers", str(workers), "--log-format", "json"]
    log = tmp_path / "serve.log"  # a file, not a pipe: a full pipe nobody reads would stall the workers
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        # --port 0: the system picks a free port and serve logs it (no probe-then-bind race).
        def port() -> int | None:
            assert proc.poll() is None, log.read_text()
            found = re.search(rf"starting {workers} workers on 127\.0\.0\.1:(\d+)", log.read_text())
            return int(found.group(1)) if found else None

        base = f"http://127.0.0.1:{until(port, 'serve to say its port')}"
        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"{base}/-/ready").status_code == 200
            except httpx.TransportError:
                return False

        until(ready, "the server to start")
        # Every worker has started once each has written its status (requests reach any of them).
        until(lambda: len(httpx.get(f"{base}/-/workers", headers=AUTH).json()["workers"]) == workers,
              "every worker to report")
        yield proc, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def workers_of(base: str) -> list[dict[str, Any]]:
    return httpx.get(f"{base}/-/workers", headers=AUTH).json()["workers"]


def action(base: str, query: str) -> str:
    """One search on a fresh connection (so successive requests spread over the workers)."""
    r = httpx.get(f"{base}/search", params={"q": query, "format": "json"})
    assert r.status_code == 200, r.text
    return r.headers.get("x-filter-action", "allow")


def add_term(rules: Path, term: str) -> None:
    with open(rules / "terms" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
        fh.write(f"\n{term}\n")


def test_post_reload_reaches_every_worker_and_refuses_a_shrink(tmp_path: Path, rules_dir: Path,
                                                                upstream_url: str) -> None:
    with serve_workers(tmp_path, rules_dir, upstream_url) as (_proc, base):
        before = workers_of(base)
        old_version = before[0]["version"]
        assert {w["version"] for w in before} == {old_version}
        assert [action(base, NEW_TERM) for _ in range(10)] == ["allow"] * 10

        add_term(rules_dir, NEW_TERM)
        r = httpx.post(f"{base}/-/reload", headers=AUTH, timeout=30)
        body = r.json()
        assert r.status_code == 200 and body["ok"] is True, body
        assert sorted(w["pid"] for w in body["workers"]) == sorted(w["pid"] for w in before)
        assert len({w["version"] for w in body["workers"]}) == 1 and body["versions"] != [old_version]
        assert all(w["generation"] == body["generation"] and w["ok"] for w in body["workers"])
        assert [action(base, NEW_TERM) for _ in range(40)] == ["block"] * 40
        new_version = body["versions"][0]

        # Keep 2 of the 5 zqx-abuse terms: more than half of a category gone is refused everywhere.
        (rules_dir / "terms" / "zqx-abuse.txt").write_text("zqxblocked\nforbidden phrase alpha\n")
        r = httpx.post(f"{base}/-/reload", headers=AUTH, timeout=30)
        body = r.json()
        assert r.status_code == 409 and body["ok"] is False, body
        assert body["refused"] == ["terms/zqx-abuse"] and "force=true" in body["error"]
        assert len(body["workers"]) == 2 and all(not w["ok"] for w in body["workers"])
        assert body["versions"] == [new_version]  # the previous rules keep serving in every worker
        assert [action(base, NEW_TERM) for _ in range(20)] == ["block"] * 20

        r = httpx.post(f"{base}/-/reload", params={"force": "true"}, headers=AUTH, timeout=30)
        body = r.json()
        assert r.status_code == 200 and body["ok"] is True and body["forced"] is True, body
        assert len(body["workers"]) == 2 and body["versions"] != [new_version]
        assert [action(base, NEW_TERM) for _ in range(20)] == ["allow"] * 20
        assert action(base, "zqxblocked") == "block"


def test_sighup_reloads_every_worker_without_restarting_one(tmp_path: Path, rules_dir: Path,
                                                            upstream_url: str) -> None:
    with serve_workers(tmp_path, rules_dir, upstream_url) as (proc, base):
        before = workers_of(base)
        pids = sorted(w["pid"] for w in before)
        failures: list[str] = []
        done = threading.Event()
        counts = [0]

        def load() -> None:  # a small bounded load: one request at a time per thread, throughout
            with httpx.Client(base_url=base) as client:
                while not done.is_set():
                    try:
                        r = client.get("/search", params={"q": "bread qxyuniqload", "format": "json"})
                        if r.status_code != 200:
                            failures.append(str(r.status_code))
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                    counts[0] += 1

        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            until(lambda: counts[0] > 20, "the load to run")
            add_term(rules_dir, NEW_TERM)
            proc.send_signal(signal.SIGHUP)
            after = until(lambda: (ws := workers_of(base)) and all(w["generation"] >= 1 for w in ws) and ws,
                          "every worker to reload")
            mark = counts[0]
            until(lambda: counts[0] > mark + 20, "more load after the reload")
        finally:
            done.set()
            for t in threads:
                t.join(timeout=30)
        assert failures == []
        assert sorted(w["pid"] for w in after) == pids  # reloaded in place, no worker restarted
        assert len({w["version"] for w in after}) == 1 and after[0]["version"] != before[0]["version"]
        assert [action(base, NEW_TERM) for _ in range(40)] == ["block"] * 40

        # SIGHUP sent to one worker instead of the supervisor reaches every worker too.
        generation = max(w["generation"] for w in after)
        os.kill(after[0]["pid"], signal.SIGHUP)
        again = until(lambda: (ws := workers_of(base)) and all(w["generation"] > generation for w in ws) and ws,
                      "every worker to follow a worker's SIGHUP")
        assert sorted(w["pid"] for w in again) == pids
        assert proc.poll() is None


def test_one_file_watcher_reloads_every_worker(tmp_path: Path, rules_dir: Path, upstream_url: str) -> None:
    with serve_workers(tmp_path, rules_dir, upstream_url, watch=True) as (_proc, base):
        before = workers_of(base)

        def reloaded() -> list[dict[str, Any]] | None:
            add_term(rules_dir, NEW_TERM)  # again until the supervisor's watcher has registered
            ws = workers_of(base)
            return ws if all(w["generation"] >= 1 for w in ws) else None

        after = until(reloaded, "the watcher to reload every worker")
        assert sorted(w["pid"] for w in after) == sorted(w["pid"] for w in before)
        # Every worker ends on the same files (later appends may still be arriving: wait for one version).
        final = until(lambda: (ws := workers_of(base)) and len({w["version"] for w in ws}) == 1
                      and ws[0]["version"] != before[0]["version"] and ws, "one version everywhere")
        assert len(final) == 2
        assert [action(base, NEW_TERM) for _ in range(40)] == ["block"] * 40


def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path: Path, rules_dir: Path,
                                                                 upstream_url: str) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT): a burst of connections reaches both
    workers. With one shared socket, whichever worker woke first took most of a burst (supervisor.py)."""
    import socket

    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this platform")
    with serve_workers(tmp_path, rules_dir, upstream_url) as (_proc, base):
        port = int(base.rsplit(":", 1)[1])
        conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
        prefixes = set()
        try:
            for conn in conns:  # every connection is open before the first request
                conn.sendall(b"GET /-/health HTTP/1.1\r\nhost: t\r\n\r\n")
            for conn in conns:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    assert chunk, head
                    head += chunk
                found = re.search(rb"x-request-id: ([0-9a-f]{12})", head.lower())
                assert found, head
                prefixes.add(found.group(1))  # per-process random prefix of the request id (ops_app.py)
        finally:
            for conn in conns:
                conn.close()
        # 32 connections hashed over 2 sockets all land on one with probability 2 ** -31.
        assert len(prefixes) == 2
        listening = subprocess.run(["ss", "-tlnH", f"( sport = :{port} )"], capture_output=True, text=True)
        if listening.returncode == 0:
            assert len(listening.stdout.strip().splitlines()) == 2  # two listening sockets, one per worker
