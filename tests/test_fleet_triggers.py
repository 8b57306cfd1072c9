"""Every reload trigger of a publishing node publishes (fleet.publish_on_reload).

With `serve --workers N`, SIGHUP and the file watcher live in the supervisor, which has no Redis client. A
worker configured to publish marks the state directory; the supervisor then hands each request to one
worker (coordination.announce_reload / take_triggers), which runs it like POST /-/reload: load here, then
publish. Unit tests on the state directory, then `serve --workers 2` in a subprocess against a real
redis-server on a loopback port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.coordination import (
    PUBLISHER_MARK,
    DirectoryCoordinator,
    announce_reload,
    read_generation,
    read_trigger,
)
from filter_proxy.fleet.status import fetch_status
from filter_proxy.reload import ReloadOutcome
from filter_proxy.rules.loader import load_rules
from tests.fleet_support import rules_version_dir
from tests.support.server import serve
from tests.test_serve import Upstream
from tests.test_workers import AUTH, TOKEN, until

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


# -- the state directory -------------------------------------------------------------------------------


def test_without_a_publishing_worker_a_trigger_bumps_the_generation(tmp_path: Path) -> None:
    assert "generation 1 sent to every worker" in announce_reload(tmp_path, force=True)
    assert read_generation(tmp_path) == (1, True) and read_trigger(tmp_path) == (0, False)


@settings(max_examples=10, deadline=None)
@given(workers=st.integers(1, 4), forces=st.lists(st.booleans(), min_size=1, max_size=4))
def test_with_a_publishing_worker_each_trigger_runs_once_in_one_worker(workers: int, forces: list[bool]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        handled: list[tuple[int, bool]] = []

        async def run() -> None:
            coordinators = []
            for i in range(workers):
                c = DirectoryCoordinator(directory, lambda: "v1", poll=0.01)

                async def reload(force: bool) -> ReloadOutcome:  # a bare bump must not happen here
                    raise AssertionError("the supervisor bumped the generation instead of handing it over")

                async def handler(force: bool, i: int = i) -> None:
                    handled.append((i, force))

                c.on_reload(reload)
                c.take_triggers(handler)
                await c.start()
                coordinators.append(c)
            assert (directory / PUBLISHER_MARK).exists()
            for n, force in enumerate(forces, 1):
                assert f"reload request {n} handed to a worker" in announce_reload(directory, force)
                with anyio.fail_after(20):  # a bound, so that a lost request fails instead of hanging
                    while len(handled) < n:
                        await anyio.sleep(0.01)
            await anyio.sleep(0.05)  # every worker has polled again: nobody runs a request twice
            for c in coordinators:
                await c.stop()

        anyio.run(run)
        assert [force for _, force in handled] == forces
        assert read_generation(directory)[0] == 0  # the handler (not the supervisor) decides what to reload


def test_requests_handed_to_different_workers_run_one_at_a_time(tmp_path: Path) -> None:
    # Each run reads the rule files when it runs; one at a time, the last run publishes the files as they
    # are now (two overlapping runs could publish an older state last).
    events: list[str] = []

    async def run() -> None:
        coordinators = []
        for i in range(3):
            c = DirectoryCoordinator(tmp_path, lambda: "v1", poll=0.01)

            async def handler(force: bool, i: int = i) -> None:
                events.append("start")
                await anyio.sleep(0.05)
                events.append("end")

            c.take_triggers(handler)
            await c.start()
            coordinators.append(c)
        for _ in range(4):
            announce_reload(tmp_path)
            await anyio.sleep(0.005)
        with anyio.fail_after(20):
            while events.count("end") < 1 or len(events) % 2 or events.count("end") < _runs(tmp_path):
                await anyio.sleep(0.01)
        for c in coordinators:
            await c.stop()

    anyio.run(run)
    assert events == ["start", "end"] * (len(events) // 2) and len(events) >= 2


def _runs(directory: Path) -> int:
    """Requests claimed so far (each is run once)."""
    return len(list((directory / "claims").glob("*"))) if (directory / "claims").exists() else 0

def test_a_worker_started_later_does_not_replay_old_requests(tmp_path: Path) -> None:
    (tmp_path / "workers").mkdir()
    (tmp_path / PUBLISHER_MARK).touch()
    announce_reload(tmp_path)
    late = DirectoryCoordinator(tmp_path, lambda: "v1", poll=0.01)
    handled: list[bool] = []

    async def run() -> None:
        async def handler(force: bool) -> None:
            handled.append(force)

        late.take_triggers(handler)
        await late.start()
        await anyio.sleep(0.1)
        await late.stop()

    anyio.run(run)
    assert handled == []


# -- serve --workers 2 + redis-server ------------------------------------------------------------------


@contextmanager
def serve_publishing_workers(tmp_path: Path, rules: Path, upstream: str, redis_url: str,
                             watch: bool) -> Iterator[tuple[Any, str]]:
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
[fleet]
redis_url = "{redis_url}"
instance = "publisher"
heartbeat = 0.3
status_ttl = 5.0
publish_on_reload = true
hash_cache = false
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILTER_PROXY_", "PROMETHEUS_"))}
    env["FILTER_PROXY_ADMIN_TOKEN"] = TOKEN
    cmd = [sys.executable, "-m", "filter_proxy.cli", "serve", "--config", str(config), "--upstream", upstream,
           "--rules", str(rules), "--port", "0", "--workers", "2", "--log-format", "json"]
    log = tmp_path / "serve.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        def port() -> int | None:
            assert proc.poll() is None, log.read_text()
            found = re.search(r"starting 2 workers on 127\.0\.0\.1:(\d+)", log.read_text())
            return int(found.group(1)) if found else None

        base = f"http://127.0.0.1:{until(port, 'serve to say its port')}"

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"{base}/-/workers", headers=AUTH).status_code == 200 and len(
                    httpx.get(f"{base}/-/workers", headers=AUTH).json()["workers"]) == 2
            except httpx.TransportError:
                return False

        until(ready, "both workers to report")
        yield proc, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def published_version(redis_url: str) -> str | None:
    status = anyio.run(fetch_status, redis_url)
    return status.current.version if status.current is not None else None


@pytest.mark.parametrize("trigger", ["sighup", "file watcher"])
def test_every_trigger_of_serve_workers_publishes_to_the_fleet(tmp_path: Path, redis_url: str,
                                                               trigger: str) -> None:
    rules = tmp_path / "live-rules"
    shutil.copytree(rules_version_dir(tmp_path, 1), rules)
    with serve(Upstream().app) as upstream, serve_publishing_workers(
            tmp_path, rules, upstream, redis_url, watch=trigger == "file watcher") as (proc, base):
        assert published_version(redis_url) is None  # nothing published yet
        shutil.copytree(rules_version_dir(tmp_path, 4), rules, dirs_exist_ok=True)  # adds zqxfleet2..4
        wanted = load_rules(rules).version
        if trigger == "sighup":
            proc.send_signal(signal.SIGHUP)
        # Published to the fleet (the Redis pointer every instance follows), and served by both workers here.
        until(lambda: published_version(redis_url) == wanted, "the new version to be published")
        until(lambda: {w["version"] for w in httpx.get(f"{base}/-/workers", headers=AUTH).json()["workers"]}
              == {wanted}, "both workers to serve it")
        r = httpx.get(f"{base}/search", params={"q": "zqxfleet4", "format": "json"})
        assert r.headers.get("x-filter-action") == "block"
        # The fleet's own status shows this instance's workers on the published version.
        # (Workers report to the fleet on their heartbeat, so their reports follow within a few seconds.)
        until(lambda: {w.version for w in anyio.run(fetch_status, redis_url).workers
                       if w.instance == "publisher"} == {wanted}, "the fleet status to show the version")
        if trigger == "sighup":
            # A broken rule set (a category policy.toml does not declare) is refused here, so never published.
            (rules / "terms" / "zqx-undeclared.txt").write_text("zqxfleet9\n", encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            until(lambda: "was not applied or not published" in (tmp_path / "serve.log").read_text(),
                  "the refusal to be logged")
            assert published_version(redis_url) == wanted
            # The old rules keep serving (a worker's status may name the refused attempt's version).
            assert [httpx.get(f"{base}/search", params={"q": q, "format": "json"}).headers.get("x-filter-action")
                    for q in ("zqxfleet4", "zqxfleet9") for _ in range(4)] == ["block"] * 4 + [None] * 4

