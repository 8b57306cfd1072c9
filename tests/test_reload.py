"""Hot reload: swap beside the old rules, refuse broken ones, file watching, SIGHUP, and no dropped request."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from filter_proxy.metrics import Metrics
from filter_proxy.ops import CallbackService, OpsApp
from filter_proxy.reload import Reloader, ReloadOutcome
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.holder import RuleHolder
from tests.support.server import serve


class FakeRules:
    def __init__(self, version: str, source: str) -> None:
        self.version = version
        self.source = source

    def stats(self) -> dict[str, int]:
        return {"total": 1}


def file_loader(path: str) -> FakeRules:
    """A stand-in for load_rules: the rule set's version is the text of version.txt (directory) or of the
    bundle file; text starting with "broken" is refused like a bad rule file."""
    p = Path(path)
    target = p / "version.txt" if p.is_dir() else p
    text = target.read_text().strip()
    if text.startswith("broken"):
        raise RulesError(str(target), 1, "broken entry")
    return FakeRules(text, path)


def rules_dir(tmp_path: Path, version: str = "v1") -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "version.txt").write_text(version)
    return d


async def wait_for(predicate: Any) -> None:
    # A generous upper bound only so that a broken watcher fails the test instead of hanging it.
    with anyio.fail_after(30):
        while not predicate():
            await anyio.sleep(0.02)


async def change_until(change: Any, predicate: Any) -> None:
    """Make a change, then poll the rules version; make it again while nothing happened, because a watcher
    that was not registered yet misses the first one. No fixed sleep: done as soon as the version moved."""
    with anyio.fail_after(30):
        while True:
            change()
            for _ in range(10):
                if predicate():
                    return
                await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_reload_swaps_and_counts(tmp_path: Path) -> None:
    d = rules_dir(tmp_path)
    holder = RuleHolder(file_loader(str(d)))  # type: ignore[arg-type]
    metrics = Metrics()
    reloader = Reloader(holder, d, metrics=metrics, loader=file_loader)
    (d / "version.txt").write_text("v2")
    assert await reloader.reload() == ReloadOutcome(True, None, "v2", "v1")
    assert holder.current.version == "v2"
    assert metrics.value("filter_proxy_rules_info", {"version": "v2", "source": str(d)}) == 1
    assert metrics.value("filter_proxy_rules_reloads_total", {"result": "success"}) == 1


@pytest.mark.anyio
async def test_broken_rules_keep_the_old_set_and_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = rules_dir(tmp_path)
    holder = RuleHolder(file_loader(str(d)))  # type: ignore[arg-type]
    metrics = Metrics()
    reloader = Reloader(holder, d, metrics=metrics, loader=file_loader)
    (d / "version.txt").write_text("broken")
    with caplog.at_level(logging.ERROR, logger="filter_proxy.reload"):
        outcome = await reloader.reload()
    ok, error = outcome.ok, outcome.error
    assert not ok and outcome.version == "v1" and outcome.refused == ()
    assert error == f"{d / 'version.txt'}:1: broken entry"
    assert holder.current.version == "v1"
    assert reloader.failures == 1 and reloader.last_error == error
    assert metrics.value("filter_proxy_rules_reloads_total", {"result": "failure"}) == 1
    assert any(error in r.getMessage() and "keeping version v1" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_unexpected_loader_error_is_refused_too(tmp_path: Path) -> None:
    holder = RuleHolder(FakeRules("v1", "x"))  # type: ignore[arg-type]

    def crash(path: str) -> Any:
        raise MemoryError("too big")

    outcome = await Reloader(holder, tmp_path, loader=crash).reload()
    assert not outcome.ok and outcome.error == f"{tmp_path}: MemoryError: too big"
    assert holder.current.version == "v1"


@pytest.mark.anyio
async def test_load_runs_off_the_event_loop_and_reloads_are_serialised(tmp_path: Path) -> None:
    holder = RuleHolder(FakeRules("v0", "x"))  # type: ignore[arg-type]
    main_thread = threading.get_ident()
    threads: list[int] = []
    active = 0
    overlap = False
    gate = threading.Event()

    def slow(path: str) -> FakeRules:
        nonlocal active, overlap
        threads.append(threading.get_ident())
        active += 1
        overlap = overlap or active > 1
        gate.wait(timeout=30)  # bounded, so a loader wrongly run on the loop cannot hang the suite
        active -= 1
        return FakeRules(f"v{len(threads)}", path)

    reloader = Reloader(holder, tmp_path, loader=slow)
    first = asyncio.create_task(reloader.reload())
    second = asyncio.create_task(reloader.reload())
    await wait_for(lambda: len(threads) == 1)
    assert holder.current.version == "v0"  # the old set serves while the new one is built
    gate.set()
    assert (await first).ok and (await second).ok
    assert not overlap
    assert main_thread not in threads
    assert holder.current.version == "v2"


@pytest.mark.anyio
async def test_watching_a_directory(tmp_path: Path) -> None:
    d = rules_dir(tmp_path)
    holder = RuleHolder(file_loader(str(d)))  # type: ignore[arg-type]
    metrics = Metrics()
    reloader = Reloader(holder, d, metrics=metrics, loader=file_loader, debounce_ms=50)
    await reloader.start(watch=True, sighup=False)
    try:
        await change_until(lambda: (d / "version.txt").write_text("v2"), lambda: holder.current.version == "v2")
        (d / "version.txt").write_text("broken again")
        await wait_for(lambda: reloader.failures >= 1)
        assert holder.current.version == "v2"
        (d / "version.txt").write_text("v3")
        await wait_for(lambda: holder.current.version == "v3")
    finally:
        await reloader.stop()
    assert metrics.value("filter_proxy_rules_reloads_total", {"result": "failure"}) >= 1


@pytest.mark.anyio
async def test_watching_a_bundle_replaced_atomically(tmp_path: Path) -> None:
    bundle = tmp_path / "rules.bundle"
    bundle.write_text("b1")
    holder = RuleHolder(file_loader(str(bundle)))  # type: ignore[arg-type]
    reloader = Reloader(holder, bundle, loader=file_loader, debounce_ms=50)
    await reloader.start(watch=True, sighup=False)
    try:
        (tmp_path / "unrelated.txt").write_text("x")  # other files in the directory are ignored

        def roll_out() -> None:  # how a rollout replaces an immutable bundle
            staged = tmp_path / "rules.bundle.tmp"
            staged.write_text("b2")
            os.replace(staged, bundle)

        await change_until(roll_out, lambda: holder.current.version == "b2")
    finally:
        await reloader.stop()
    assert reloader.successes >= 1 and reloader.failures == 0


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
async def test_sighup_reloads(tmp_path: Path) -> None:
    d = rules_dir(tmp_path)
    holder = RuleHolder(file_loader(str(d)))  # type: ignore[arg-type]
    reloader = Reloader(holder, d, loader=file_loader)
    await reloader.start(watch=False, sighup=True)
    try:
        assert reloader._sighup  # only then is it safe to send the signal to ourselves
        (d / "version.txt").write_text("v2")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(lambda: holder.current.version == "v2")
    finally:
        await reloader.stop()
    assert not reloader._sighup


class VersionApp:
    """Answers every request with the version of the rules in force, taken once per request."""

    def __init__(self, holder: RuleHolder) -> None:
        self.holder = holder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        version = self.holder.current.version.encode()
        await asyncio.sleep(0)  # a request in flight across a swap keeps the set it started with
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": version})


@pytest.mark.anyio
async def test_reload_under_concurrent_requests(tmp_path: Path) -> None:
    d = rules_dir(tmp_path)
    holder = RuleHolder(file_loader(str(d)))  # type: ignore[arg-type]
    metrics = Metrics()
    reloader = Reloader(holder, d, metrics=metrics, loader=file_loader, debounce_ms=50)
    app = OpsApp(VersionApp(holder), holder=holder, reloader=reloader, metrics=metrics,
                 services=[CallbackService(lambda: reloader.start(watch=True, sighup=False), reloader.stop)])
    seen: list[str] = []
    failures: list[str] = []
    done = asyncio.Event()

    async def hammer(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            try:
                r = await client.get("/search", params={"q": "bread"})
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            if r.status_code != 200:
                failures.append(str(r.status_code))
            seen.append(r.text)

    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base) as client, anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(hammer, client)
            await change_until(lambda: (d / "version.txt").write_text("v2"), lambda: seen and seen[-1] == "v2")
            (d / "version.txt").write_text("broken rules")
            await wait_for(lambda: metrics.value("filter_proxy_rules_reloads_total", {"result": "failure"}) >= 1)
            mark = len(seen)
            await wait_for(lambda: len(seen) > mark + 20)
            done.set()
    assert failures == []
    assert set(seen) == {"v1", "v2"}
    assert set(seen[mark:]) == {"v2"}  # the broken set never served; the old one kept going
    assert holder.current.version == "v2"
