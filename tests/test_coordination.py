"""Reload coordination and the shrink guard: which reloads are refused, how a request reaches every worker
through the state directory, and what POST /-/reload and GET /-/workers answer."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from filter_proxy.admin import parse_force
from filter_proxy.coordination import (
    DirectoryCoordinator,
    LocalCoordinator,
    WorkerStatus,
    bump_generation,
    read_generation,
)
from filter_proxy.ops import OpsApp, build_app
from filter_proxy.reload import Reloader, category_counts, shrink_problems
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.supervisor import watch_rules
from tests.support.server import serve
from tests.test_serve import ROOT, Upstream, make_config

TOKEN = "coordination-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

counts = st.dictionaries(st.sampled_from(["terms/a", "terms/b", "urls/a", "images/c"]),
                         st.integers(min_value=0, max_value=1000))


@given(old=counts, new=counts)
def test_shrink_problems_are_exactly_the_emptied_or_more_than_halved(old: dict[str, int], new: dict[str, int]) -> None:
    flagged = {p.split(" ", 1)[0] for p in shrink_problems(old, new)}
    for key, before in old.items():
        after = new.get(key, 0)
        assert (key in flagged) == (before > 0 and (after == 0 or after < before / 2)), (key, before, after)
    assert flagged <= set(old)  # a new or growing category is never a problem
    assert shrink_problems(old, None) == [] and shrink_problems(None, new) == []


def fake_rules(version: str, terms: dict[str, int]) -> SimpleNamespace:
    return SimpleNamespace(version=version, source="x", stats=lambda: {"by_category": {"terms": terms}})


def test_category_counts_read_the_ruleset_stats() -> None:
    assert category_counts(fake_rules("v", {"a": 3})) == {"terms/a": 3}
    assert category_counts(SimpleNamespace(stats=lambda: {"total": 1})) is None
    assert category_counts(object()) is None


@pytest.mark.anyio
async def test_a_shrinking_reload_is_refused_unless_forced() -> None:
    holder = RuleHolder(fake_rules("v1", {"abuse": 10, "spam": 4}))  # type: ignore[arg-type]
    next_rules = [fake_rules("v2", {"abuse": 4, "spam": 4})]
    reloader = Reloader(holder, "rules/", loader=lambda path: next_rules[0])
    outcome = await reloader.reload()
    assert not outcome.ok and outcome.refused == ("terms/abuse",) and outcome.version == "v1"
    assert "terms/abuse 10 -> 4" in (outcome.error or "") and "force=true" in (outcome.error or "")
    assert holder.current.version == "v1" and reloader.failures == 1
    outcome = await reloader.reload(force=True)
    assert outcome.ok and outcome.forced and holder.current.version == "v2"
    next_rules[0] = fake_rules("v3", {"abuse": 2, "spam": 4})  # exactly half: allowed
    assert (await reloader.reload()).ok and holder.current.version == "v3"
    next_rules[0] = fake_rules("v4", {"spam": 4})  # a category gone entirely
    assert (await reloader.reload()).refused == ("terms/abuse",)


def ops_app(reloader: Reloader, holder: RuleHolder) -> OpsApp:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("not an ops path")

    app = OpsApp(inner, holder=holder, reloader=reloader, admin_token=TOKEN)
    app.started = True
    return app


@pytest.mark.anyio
async def test_the_reload_reply_in_one_process() -> None:
    holder = RuleHolder(fake_rules("v1", {"abuse": 10}))  # type: ignore[arg-type]
    reloader = Reloader(holder, "rules/", loader=lambda path: fake_rules("v2", {"abuse": 1}))
    app = ops_app(reloader, holder)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://filter.test") as c:
        r = await c.post("/-/reload", headers=AUTH)
        assert r.status_code == 409
        body = r.json()
        assert body["ok"] is False and body["refused"] == ["terms/abuse"] and body["versions"] == ["v1"]
        assert [w["pid"] for w in body["workers"]] == [os.getpid()]
        assert (await c.post("/-/reload?force=maybe", headers=AUTH)).status_code == 400
        r = await c.post("/-/reload?force=true", headers=AUTH)
        assert r.status_code == 200 and r.json()["forced"] is True and r.json()["rules_version"] == "v2"
        r = await c.get("/-/workers", headers=AUTH)
        assert r.status_code == 200 and [w["version"] for w in r.json()["workers"]] == ["v2"]
        assert (await c.get("/-/workers")).status_code == 401
        assert (await c.post("/-/workers", headers=AUTH)).status_code == 405


@given(st.lists(st.sampled_from(["true", "1", "yes", "", "false", "0", "no", "maybe", "TRUE"]), max_size=3))
def test_parse_force(values: list[str]) -> None:
    query = "&".join(f"force={v}" for v in values).encode()
    got = parse_force(query)
    lowered = [v.lower() for v in values]
    if not values or all(v in ("false", "0", "no") for v in lowered):
        assert got is False
    elif all(v in ("true", "1", "yes", "") for v in lowered):
        assert got is True
    else:
        assert got is None


def test_generations_increase_by_one_per_request_from_many_threads(tmp_path: Path) -> None:
    def bump() -> None:
        for _ in range(25):
            bump_generation(tmp_path)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_generation(tmp_path) == (100, False)
    assert bump_generation(tmp_path, force=True) == 101 and read_generation(tmp_path) == (101, True)


@pytest.mark.anyio
async def test_a_worker_follows_the_generation_and_the_requester_waits_for_live_workers(tmp_path: Path) -> None:
    holder = RuleHolder(fake_rules("v1", {"abuse": 10}))  # type: ignore[arg-type]
    reloader = Reloader(holder, "rules/", loader=lambda path: fake_rules("v2", {"abuse": 10}))
    coordinator = DirectoryCoordinator(tmp_path, lambda: holder.current.version, poll=0.05, heartbeat=0.2)
    coordinator.on_reload(reloader.reload)
    # Another worker that has exited (its status must not be waited for) ...
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "workers" / f"{dead_pid}.json").write_text(
        f'{{"worker": "h:{dead_pid}", "pid": {dead_pid}, "generation": 0, "version": "v0", "updated": {time.time()}}}')
    await coordinator.start()
    try:
        report = await coordinator.request_reload(wait=10)
        assert report.ok and report.generation == 1 and report.versions == ["v2"]
        assert [w.pid for w in report.workers] == [os.getpid()]
        assert not (tmp_path / "workers" / f"{dead_pid}.json").exists()

        # ... and one that is alive but never answers: reported as pending once the wait is over.
        with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as silent:
            try:
                stuck = WorkerStatus(f"h:{silent.pid}", silent.pid, 1, "v2")
                (tmp_path / "workers" / f"{silent.pid}.json").write_text(json.dumps(stuck.to_json()))
                report = await coordinator.request_reload(wait=0.3)
                assert report.pending == (f"h:{silent.pid}",) and not report.ok
                assert {w.pid: w.generation for w in report.workers}[os.getpid()] == 2
            finally:
                silent.kill()
        # Heartbeats keep the status fresh while nothing happens.
        first = next(w for w in coordinator.workers() if w.pid == os.getpid()).updated
        with anyio.fail_after(10):
            while next(w for w in coordinator.workers() if w.pid == os.getpid()).updated == first:
                await anyio.sleep(0.05)
    finally:
        await coordinator.stop()
    assert not (tmp_path / "workers" / f"{os.getpid()}.json").exists()  # a stopped worker is not waited for


def test_the_supervisor_watcher_bumps_the_generation(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.txt").write_text("x")
    state = tmp_path / "state"
    state.mkdir()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_rules, args=(rules, state, stop), kwargs={"debounce_ms": 50})
    watcher.start()
    try:
        deadline = time.monotonic() + 30  # a bound so that a dead watcher fails instead of hanging
        while read_generation(state)[0] == 0:
            (rules / "a.txt").write_text(f"x{time.monotonic()}")  # until the watcher has registered
            assert time.monotonic() < deadline, "the watcher never saw a change"
            time.sleep(0.2)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


@pytest.mark.anyio
@pytest.mark.parametrize("force_reload", [False, True])
async def test_an_emptied_category_on_disk_is_refused_by_the_watcher_unless_configured(
        tmp_path: Path, force_reload: bool) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    with serve(Upstream().app) as upstream:
        app = build_app(make_config(tmp_path, rules, upstream, **{
            "rules.watch": True, "rules.debounce_ms": 50, "rules.force_reload": force_reload,
            "admin.token": TOKEN}))
        assert app.holder is not None
        before = app.holder.current.version
        with serve(app, lifespan="on"):
            # Only the two plain phrases of the five zqx-abuse terms are left: more than half gone. Written
            # again while nothing happened (the watcher may not be registered yet): no fixed sleep.
            with anyio.fail_after(30):
                while app.reloader.failures + app.reloader.successes == 0:
                    (rules / "terms" / "zqx-abuse.txt").write_text("zqxblocked\nforbidden phrase alpha\n")
                    for _ in range(6):
                        if app.reloader.failures + app.reloader.successes:
                            break
                        await anyio.sleep(0.05)
        if force_reload:
            assert app.reloader.successes >= 1 and app.holder.current.version != before
        else:
            assert app.reloader.failures >= 1 and app.holder.current.version == before
            assert "terms/zqx-abuse 5 -> 2" in (app.reloader.last_error or "")


def test_build_app_takes_a_coordinator_factory(tmp_path: Path) -> None:
    made: list[LocalCoordinator] = []

    def factory(version: Any) -> LocalCoordinator:
        assert version() is None  # called before the rules are loaded
        made.append(LocalCoordinator(version))
        return made[0]

    app = build_app(make_config(tmp_path, ROOT / "rules", "http://127.0.0.1:9"), coordinator_factory=factory)
    assert app.coordinator is made[0]
    assert made[0].workers()[0].version == app.holder.current.version  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_worker_starting_with_other_rules_than_the_others_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            status = WorkerStatus(f"h:{other.pid}", other.pid, 0, "v-old")
            (tmp_path / "workers").mkdir()
            (tmp_path / "workers" / f"{other.pid}.json").write_text(json.dumps(status.to_json()))
            coordinator = DirectoryCoordinator(tmp_path, lambda: "v-new")
            with caplog.at_level(logging.WARNING, logger="filter_proxy.coordination"):
                await coordinator.start()
                await coordinator.stop()
        finally:
            other.kill()
    assert any("serves rules version v-new, other workers serve v-old" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_the_reply_is_504_naming_a_worker_that_did_not_report(tmp_path: Path) -> None:
    holder = RuleHolder(fake_rules("v1", {"abuse": 10}))  # type: ignore[arg-type]
    reloader = Reloader(holder, "rules/", loader=lambda path: fake_rules("v2", {"abuse": 10}))
    coordinator = DirectoryCoordinator(tmp_path, lambda: holder.current.version, poll=0.05)
    coordinator.on_reload(reloader.reload)

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("not an ops path")

    app = OpsApp(inner, holder=holder, reloader=reloader, coordinator=coordinator, admin_token=TOKEN,
                 reload_wait=0.3)
    await coordinator.start()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as silent:
        try:
            stuck = WorkerStatus(f"h:{silent.pid}", silent.pid, 0, "v1")
            (tmp_path / "workers" / f"{silent.pid}.json").write_text(json.dumps(stuck.to_json()))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://filter.test") as c:
                r = await c.post("/-/reload", headers=AUTH)
        finally:
            silent.kill()
            await coordinator.stop()
    body = r.json()
    assert r.status_code == 504 and body["pending"] == [f"h:{silent.pid}"] and "in time" in body["error"]
    assert {w["pid"]: w["version"] for w in body["workers"]} == {os.getpid(): "v2", silent.pid: "v1"}
