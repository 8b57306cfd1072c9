"""Rule rollout through a real redis-server: publish, every worker follows, refusals, fail static, status."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

from filter_proxy.cli import main
from filter_proxy.coordination import LocalCoordinator
from filter_proxy.fleet.protocol import HISTORY, BundlePointer, Keys
from filter_proxy.fleet.publisher import PublishError, publish_bundle
from filter_proxy.fleet.service import FleetCoordinator, FleetRollout
from filter_proxy.fleet.status import fetch_status
from filter_proxy.fleet.subscriber import Backoff
from filter_proxy.metrics import Metrics
from filter_proxy.reload import Reloader
from filter_proxy.rules.bundle import compile_rules
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.rules.loader import load_rules
from filter_proxy.rules.signing import TrustedKeys
from tests.fleet_support import bundle, rules_version_dir, write_keypair
from tests.support.server import serve
from tests.support.servers import running_redis

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _own_stage_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staged bundles (rules/signing.py) go under this test's directory, not the machine's /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


async def until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    # An upper bound only, so that a broken rollout fails instead of hanging; never a speed assertion.
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


@asynccontextmanager
async def workers(redis_url: str, base: Path, n: int = 2, *, keys: TrustedKeys | None = None,
                  heartbeat: float = 0.5, metrics: list[Metrics] | None = None,
                  backoff_max: float = 0.5) -> AsyncIterator[list[FleetRollout]]:
    """n workers of instance "box", each with its own holder starting on rules version 1."""
    rollouts = []
    for i in range(n):
        holder = RuleHolder(load_rules(rules_version_dir(base, 1)))
        m = metrics[i] if metrics else None
        rollouts.append(FleetRollout(redis_url, holder, instance="box", keys=keys, heartbeat=heartbeat,
                                     status_ttl=5, backoff_max=backoff_max, metrics=m))
    for i, r in enumerate(rollouts):
        r.state.worker = f"w{i}"  # one process here; real workers are told apart by pid
        r.heartbeat.key = Keys().status("box", f"w{i}")
        await r.start()
    try:
        await until(lambda: all(r.subscriber.connected.is_set() for r in rollouts))
        yield rollouts
    finally:
        for r in rollouts:
            await r.stop()


async def cli(argv: list[str]) -> int:
    """The command line runs its own event loop: call it from a thread."""
    return int(await anyio.to_thread.run_sync(main, argv))


def versions(rollouts: list[FleetRollout]) -> set[str | None]:
    return {r.version() for r in rollouts}


async def test_publish_reaches_every_worker_and_status_lists_them(
        redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v2, version2 = bundle(tmp_path, 2)
    async with workers(redis_url, tmp_path) as rollouts:
        pointer, reached = await publish_bundle(redis_url, v2)
        assert pointer.version == version2 and reached == 2
        await until(lambda: versions(rollouts) == {version2})
        assert all(r.holder.current.check_text("zqxfleet2").action == "block" for r in rollouts)
        await until(lambda: all(r.state.applied_at for r in rollouts))
        for r in rollouts:
            r.heartbeat.poke()
        with anyio.fail_after(20):
            while not ((status := await fetch_status(redis_url)).converged and len(status.workers) == 2
                       and {w.version for w in status.workers} == {version2}):
                await anyio.sleep(0.05)
        assert {(w.instance, w.worker, w.version) for w in status.workers} == {("box", "w0", version2),
                                                                              ("box", "w1", version2)}
        assert await cli(["fleet", "status", "--redis", redis_url, "--check"]) == 0
        out = capsys.readouterr().out
        assert f"published: version {version2}" in out and "all serve the published version" in out
    # Stopped workers leave the listing at once (their keys are deleted; the TTL covers a crash).
    assert (await fetch_status(redis_url)).workers == []


async def test_a_broken_bundle_is_refused_everywhere_and_the_old_one_keeps_serving(
        redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    v2, version2 = bundle(tmp_path, 2)
    broken = tmp_path / "broken.bundle"
    raw = bytearray(bundle(tmp_path, 3)[0].read_bytes())
    raw[-10] ^= 0xFF  # payload no longer matches its checksum
    broken.write_bytes(raw)
    async with workers(redis_url, tmp_path) as rollouts:
        await publish_bundle(redis_url, v2)
        await until(lambda: versions(rollouts) == {version2})
        with pytest.raises(PublishError, match="not a valid rules bundle"):  # the CLI path checks first
            await publish_bundle(redis_url, broken)
        with caplog.at_level(logging.ERROR, logger="filter_proxy.fleet"):
            pointer, _ = await publish_bundle(redis_url, broken, check=False)
            await until(lambda: all(pointer.sha256 in r.state.refused for r in rollouts))
        assert versions(rollouts) == {version2}
        assert all("checksum" in r.state.refused[pointer.sha256] for r in rollouts)
        assert any("refused on this instance" in rec.getMessage() for rec in caplog.records)
        snapshot = rollouts[0].state.snapshot(rollouts[0].version())
        assert snapshot["state"] == "refused" and snapshot["version"] == version2
        for r in rollouts:
            r.heartbeat.poke()
        await anyio.sleep(0.2)
        assert await cli(["fleet", "status", "--redis", redis_url, "--check"]) == 1
        # The next good publish is applied.
        v4, version4 = bundle(tmp_path, 4)
        await publish_bundle(redis_url, v4)
        await until(lambda: versions(rollouts) == {version4})


async def test_a_wrongly_signed_bundle_is_refused_with_a_clear_log_line(
        redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    team_key, team_pub = write_keypair(tmp_path, "team")
    other_key, _ = write_keypair(tmp_path, "other")
    good, good_version = bundle(tmp_path, 2, team_key)
    bad, _ = bundle(tmp_path, 3, other_key, name="stranger")
    unsigned, _ = bundle(tmp_path, 4, name="unsigned")
    async with workers(redis_url, tmp_path, keys=TrustedKeys.load(team_pub)) as rollouts:
        await publish_bundle(redis_url, good)
        await until(lambda: versions(rollouts) == {good_version})
        with caplog.at_level(logging.ERROR, logger="filter_proxy.fleet"):
            for refused in (bad, unsigned):
                pointer, _ = await publish_bundle(redis_url, refused)
                await until(lambda p=pointer: all(p.sha256 in r.state.refused for r in rollouts))
        assert versions(rollouts) == {good_version}
        messages = [rec.getMessage() for rec in caplog.records]
        assert any("not a trusted key" in m for m in messages)
        assert any("unsigned" in m for m in messages)


async def test_fail_static_while_redis_is_down_then_catch_up(tmp_path: Path) -> None:
    v2, version2 = bundle(tmp_path, 2)
    v3, version3 = bundle(tmp_path, 3)
    metrics = [Metrics(), Metrics()]
    with running_redis() as server:
        async with workers(server.url, tmp_path, metrics=metrics) as rollouts:
            await publish_bundle(server.url, v2)
            await until(lambda: versions(rollouts) == {version2})
            assert all(r.degraded() is None for r in rollouts)
            assert metrics[0].value("filter_proxy_fleet_redis_connected") == 1
            server.stop()
            await until(lambda: all(r.degraded() for r in rollouts))
            assert versions(rollouts) == {version2}  # still serving the last good rules
            assert "Redis unreachable" in (rollouts[0].degraded() or "")
            assert metrics[0].value("filter_proxy_fleet_redis_connected") == 0
            assert metrics[0].value("filter_proxy_fleet_redis_errors_total", {"part": "rollout"}) >= 1
            server.start()  # same port, data kept (append-only file)
            await publish_bundle(server.url, v3)  # published while the workers may still be backing off
            await until(lambda: versions(rollouts) == {version3})
            await until(lambda: all(r.degraded() is None for r in rollouts))
            assert metrics[1].value("filter_proxy_fleet_redis_connected") == 1


async def test_workers_started_while_redis_is_down_serve_local_rules(tmp_path: Path) -> None:
    with running_redis() as server:
        url = server.url
        server.stop()
        holder = RuleHolder(load_rules(rules_version_dir(tmp_path, 1)))
        local = holder.current.version
        rollout = FleetRollout(url, holder, instance="box", heartbeat=0.3, backoff_max=0.3)
        await rollout.start()
        try:
            await until(lambda: rollout.degraded() is not None)
            assert rollout.version() == local
            v2, version2 = bundle(tmp_path, 2)
            server.start()
            await publish_bundle(url, v2)
            await until(lambda: rollout.version() == version2)
        finally:
            await rollout.stop()


async def test_bundles_too_big_for_redis_go_by_url(redis_url: str, tmp_path: Path) -> None:
    v2, version2 = bundle(tmp_path, 2)
    v3, version3 = bundle(tmp_path, 3)
    with pytest.raises(PublishError, match="--url"):
        await publish_bundle(redis_url, v2, max_inline=1000)
    app = Starlette(routes=[Route("/v3.bundle", lambda request: FileResponse(v3))])
    async with workers(redis_url, tmp_path) as rollouts:
        pointer, _ = await publish_bundle(redis_url, v2, url=v2.as_uri())
        assert pointer.location == "url"
        await until(lambda: versions(rollouts) == {version2})
        with serve(app) as base:
            await publish_bundle(redis_url, v3, url=f"{base}/v3.bundle")
            await until(lambda: versions(rollouts) == {version3})
        client = aioredis.Redis.from_url(redis_url)
        try:  # by URL: the bytes are not in Redis
            assert await client.get(Keys().bundle(pointer.sha256)) is None
        finally:
            await client.aclose()


async def test_history_keeps_only_recent_bundles(redis_url: str, tmp_path: Path) -> None:
    for n in range(1, HISTORY + 3):
        await publish_bundle(redis_url, bundle(tmp_path, n)[0])
    client = aioredis.Redis.from_url(redis_url)
    try:
        stored = [k async for k in client.scan_iter(match="filter-proxy:rules:bundle:*")]
        history = [json.loads(x) for x in await client.lrange(Keys().history, 0, -1)]
    finally:
        await client.aclose()
    assert len(history) == HISTORY
    assert {k.decode().rsplit(":", 1)[1] for k in stored} == {h["sha256"] for h in history}


async def test_publish_on_reload_loads_here_then_publishes(redis_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "live-rules"
    shutil.copytree(rules_version_dir(tmp_path, 1), rules)
    async with workers(redis_url, tmp_path, n=1) as rollouts:
        here = RuleHolder(load_rules(rules))
        local = LocalCoordinator(lambda: here.current.version, Reloader(here, rules).reload)
        coordinator = FleetCoordinator(local, rollouts[0], rules, redis_url, prefix="filter-proxy",
                                       max_inline=1 << 26)
        await coordinator.start()
        shutil.rmtree(rules)
        shutil.copytree(rules_version_dir(tmp_path, 5), rules)
        report = await coordinator.request_reload(wait=20)
        assert report.ok and not report.pending, report
        assert [(w.worker, w.version) for w in report.workers] == [("box:w0", here.current.version)]
        assert versions(rollouts) == {here.current.version}
        # A category policy.toml does not declare: refused here, so never published.
        (rules / "terms" / "zqx-undeclared.txt").write_text("zqxfleet9\n")
        before = here.current.version
        report = await coordinator.request_reload(wait=1)
        assert not report.ok and report.error
        await anyio.sleep(0.3)
        assert here.current.version == before and versions(rollouts) == {before}
        await coordinator.stop()


async def test_a_publish_that_halves_a_category_needs_force(redis_url: str, tmp_path: Path) -> None:
    shrunk = tmp_path / "shrunk"
    shutil.copytree(rules_version_dir(tmp_path, 3), shrunk)
    (shrunk / "terms" / "zqx-abuse.txt").write_text("zqxblocked\n")
    out = tmp_path / "shrunk.bundle"
    version = compile_rules(shrunk, out)["version"]
    async with workers(redis_url, tmp_path) as rollouts:
        pointer, _ = await publish_bundle(redis_url, out)
        await until(lambda: all(pointer.sha256 in r.state.refused for r in rollouts))
        assert all("would empty or more than halve terms/zqx-abuse" in r.state.refused[pointer.sha256]
                   for r in rollouts)
        assert version not in versions(rollouts)
        assert await cli(["rules", "publish", str(out), "--redis", redis_url, "--force"]) == 0
        await until(lambda: versions(rollouts) == {version})


async def test_status_without_redis_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.servers import free_port

    assert await cli(["fleet", "status", "--redis", f"redis://127.0.0.1:{free_port()}/0"]) == 2
    assert "Redis unreachable" in capsys.readouterr().err
    assert await cli(["fleet", "status"]) == 2
    assert "no Redis URL" in capsys.readouterr().err


@given(st.floats(0.001, 1.0), st.floats(1.0, 60.0), st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_backoff_grows_to_its_maximum_with_jitter(first: float, maximum: float, draws: list[float]) -> None:
    values = iter(draws)
    backoff = Backoff(first, maximum, rng=lambda: next(values))
    for n, draw in enumerate(draws):
        ceiling = min(maximum, first * 2 ** n)
        delay = backoff.next()
        assert ceiling / 2 - 1e-9 <= delay <= ceiling + 1e-9
        assert delay == pytest.approx(ceiling * (0.5 + draw / 2))
    backoff.reset()
    assert backoff.failures == 0


def test_post_reload_publishes_to_the_fleet_and_ready_reports_it(redis_url: str, tmp_path: Path) -> None:
    import httpx

    from filter_proxy.config import load_config
    from filter_proxy.ops import build_app
    from tests.test_serve import TOKEN, Upstream

    rules = tmp_path / "live-rules"
    shutil.copytree(rules_version_dir(tmp_path, 1), rules)
    backend = Upstream()
    with serve(backend.app) as upstream_url:
        config = load_config(env={}, require_upstream=True, overrides={
            "upstream.url": upstream_url, "upstream.adapter": "searxng", "rules.path": str(rules),
            "rules.watch": False, "images.enabled": False, "report.enabled": False,
            "admin.token": TOKEN, "admin.token_env": "", "fleet.redis_url": redis_url,
            "fleet.instance": "box-http", "fleet.heartbeat": 0.3, "fleet.publish_on_reload": True})
        with serve(build_app(config)) as base, httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/-/ready").json()["status"] == "ready"
            shutil.rmtree(rules)
            shutil.copytree(rules_version_dir(tmp_path, 6), rules)
            r = client.post("/-/reload", headers={"authorization": f"Bearer {TOKEN}"})
            body = r.json()
            assert r.status_code == 200, body
            version = load_rules(rules).version
            assert body["rules_version"] == version and body["versions"] == [version]
            assert [w["worker"].split(":")[0] for w in body["workers"]] == ["box-http"]
            status = anyio.run(fetch_status, redis_url)
            assert status.current is not None and status.current.version == version
            r = client.get("/search", params={"q": "zqxfleet6", "format": "json"})
            assert r.headers.get("x-filter-action") == "block"


POINTER_FIELDS = st.sampled_from(["version", "sha256", "size", "signature", "location", "url", "published_at",
                                  "force", "other"])


@given(st.dictionaries(st.one_of(POINTER_FIELDS, st.text(max_size=10)),
                       st.one_of(st.text(max_size=30), st.binary(max_size=30).map(lambda b: b.hex()),
                                 st.integers().map(str), st.floats(allow_nan=False).map(str))))
def test_any_pointer_in_redis_is_read_or_refused_cleanly(raw: dict[str, str]) -> None:
    try:
        pointer = BundlePointer.from_redis({k.encode(): v.encode() for k, v in raw.items()})
    except ValueError as exc:
        assert "malformed rules pointer" in str(exc)
        return
    if pointer is None:
        assert raw == {}
    else:
        assert BundlePointer.from_redis(pointer.to_redis()) == pointer


@given(st.text(min_size=1, max_size=20), st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
       st.integers(0, 1 << 40), st.booleans(), st.floats(0, 2e9))
def test_pointers_round_trip(version: str, sha: str, size: int, force: bool, when: float) -> None:
    pointer = BundlePointer(version, sha, size, "c2ln", "inline", "", when, force)
    assert BundlePointer.from_redis(pointer.to_redis()) == pointer
    assert pointer.identity.startswith(sha) and (pointer.identity != sha) == force


async def test_publish_without_redis_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.servers import free_port

    v2, _ = bundle(tmp_path, 2)
    assert await cli(["rules", "publish", str(v2), "--redis", f"redis://127.0.0.1:{free_port()}/0"]) == 2
    assert "not published" in capsys.readouterr().err


async def test_a_url_pointer_never_reads_more_than_was_published() -> None:
    from filter_proxy.fleet.subscriber import FetchError, fetch_from_url

    with pytest.raises(FetchError, match="longer than the published 1000 bytes"):
        await fetch_from_url("file:///dev/zero", 1000)
