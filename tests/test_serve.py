"""`filter-proxy serve` end to end: real rules, the reverse proxy, observers and the ops wrapper, over HTTP.

The upstream is a SearXNG-shaped fake search API on loopback. Query words used here ("qxyuniq...") are
unique so that a test can prove they reach no log record, report row or sink record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from filter_proxy.cli import main
from filter_proxy.config import Config, load_config
from filter_proxy.logs import install_scrubbers
from filter_proxy.ops import build_app
from filter_proxy.report import read_rows, summarize
from tests.support.server import serve
from tests.test_logs import serve_with_access_log

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "serve-test-token-0123456789"
BLOCKED_QUERY = "zqxblocked qxyuniqblocked"
ALLOWED_QUERY = "bread qxyuniqallowed"
SECRET_WORDS = ("qxyuniqblocked", "qxyuniqallowed", "qxyuniqhammer")


class Upstream:
    """A SearXNG-shaped search API: one ordinary result, two reportable abuse matches, one spam result."""

    def __init__(self) -> None:
        self.calls = 0
        self.app = Starlette(routes=[Route("/search", self.search)])

    async def search(self, request: Request) -> JSONResponse:
        self.calls += 1
        return JSONResponse({
            "query": request.query_params.get("q", ""),
            "number_of_results": 4,
            "results": [
                {"title": "Bread recipe", "url": "https://bakery.example.invalid/bread", "content": "flour"},
                {"title": "zqxblocked listing", "url": "https://a.example.invalid/x", "content": "x"},
                {"title": "Listed page", "url": "https://blocked.example.invalid/page", "content": "y"},
                {"title": "cheap zqxspam", "url": "https://spam.example.invalid/", "content": "z"},
            ],
            "answers": [], "infoboxes": [], "suggestions": [], "corrections": [],
        })


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", d)
    (d / "urls").mkdir(exist_ok=True)
    with open(d / "urls" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
        fh.write("\nblocked.example.invalid\n")
    return d


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    backend = Upstream()
    with serve(backend.app) as base:
        yield backend, base


def make_config(tmp_path: Path, rules: Path, upstream_url: str, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "upstream.url": upstream_url,
        "upstream.adapter": "searxng",
        "rules.path": str(rules),
        "rules.watch": False,
        "images.enabled": False,
        "report.database": str(tmp_path / "report.sqlite3"),
        "report.snapshot_interval": 3600.0,
        "sink.kind": "jsonl",
        "sink.path": str(tmp_path / "sink.jsonl"),
        "admin.token": TOKEN,
        "admin.token_env": "",
    }
    values.update(overrides)
    return load_config(env={}, overrides=values, require_upstream=True)


def metric(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_serve_end_to_end(tmp_path: Path, rules_dir: Path, upstream: tuple[Upstream, str],
                          caplog: pytest.LogCaptureFixture) -> None:
    backend, upstream_url = upstream
    install_scrubbers()
    caplog.set_level(logging.DEBUG)
    app = build_app(make_config(tmp_path, rules_dir, upstream_url))
    with serve_with_access_log(app) as base, httpx.Client(base_url=base) as client:
        assert client.get("/-/ready").status_code == 200
        r = client.get("/search", params={"q": BLOCKED_QUERY, "format": "json"})
        assert r.status_code == 200 and r.headers["x-filter-action"] == "block"
        assert r.json()["results"] == [] and r.json()["safety"]["action"] == "block"
        assert backend.calls == 0  # a blocked query never reaches the upstream
        r = client.get("/search", params={"q": ALLOWED_QUERY, "format": "json"})
        assert r.status_code == 200 and backend.calls == 1
        assert [x["url"] for x in r.json()["results"]] == ["https://bakery.example.invalid/bread"]
        assert r.headers["x-filter-removed"] == "3"
        assert len(r.headers["x-request-id"]) == 32
        metrics = client.get("/metrics").text
    assert metric(metrics, 'filter_proxy_requests_total{action="block",route="search"}') == 1
    assert metric(metrics, 'filter_proxy_requests_total{action="allow",route="search"}') == 1
    assert metric(metrics, 'filter_proxy_results_removed_total{action="block",category="zqx-abuse",signal="term"}') == 1
    assert metric(metrics, 'filter_proxy_results_removed_total{action="block",category="zqx-abuse",signal="url"}') == 1
    assert metric(metrics, 'filter_proxy_results_removed_total{action="strip",category="zqx-spam",signal="term"}') == 1
    assert metric(metrics, 'filter_proxy_upstream_seconds_count{outcome="ok"}') == 1
    assert metric(metrics, 'filter_proxy_sink_records_total{outcome="queued"}') == 2  # written after the response

    # Shutdown flushed the transparency counts and drained the sink.
    since = datetime(2000, 1, 1, tzinfo=UTC)
    summary = summarize(read_rows(tmp_path / "report.sqlite3", since), since, None)
    assert summary["requests"]["by_action"] == {"allow": 1, "block": 1}
    assert summary["removed"]["by_category"] == {"zqx-abuse": 2, "zqx-spam": 1}
    assert summary["warnings"]["by_kind"] == {"deterrence": 1}
    sink = [json.loads(line) for line in (tmp_path / "sink.jsonl").read_text().splitlines()]
    assert sorted(r["url"] for r in sink) == ["https://a.example.invalid/x", "https://blocked.example.invalid/page"]
    assert {r["category"] for r in sink} == {"zqx-abuse"}

    # No query text anywhere: log records (ours, uvicorn's access log, httpx's), report, sink.
    stored = (tmp_path / "sink.jsonl").read_text() + (tmp_path / "report.sqlite3").read_bytes().decode("latin-1")
    assert any(rec.name == "uvicorn.access" for rec in caplog.records)
    for word in SECRET_WORDS:
        assert word not in stored
        for rec in caplog.records:
            assert word not in rec.getMessage(), rec.name


@pytest.mark.anyio
async def test_admin_reload_through_the_served_app(tmp_path: Path, rules_dir: Path,
                                                   upstream: tuple[Upstream, str]) -> None:
    _backend, upstream_url = upstream
    app = build_app(make_config(tmp_path, rules_dir, upstream_url))
    params = {"q": "zqxnewterm", "format": "json"}
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            assert "x-filter-action" not in (await client.get("/search", params=params)).headers
            with open(rules_dir / "terms" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
                fh.write("\nzqxnewterm\n")
            assert (await client.post("/-/reload")).status_code == 401
            assert (await client.post("/-/reload", headers={"Authorization": "Bearer wrong-token-0123456789"})).status_code == 403
            r = await client.post("/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200 and r.json()["ok"] is True
            assert (await client.get("/search", params=params)).headers["x-filter-action"] == "block"
            (rules_dir / "terms" / "undeclared-category.txt").write_text("zqxother\n")
            r = await client.post("/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 422 and "undeclared-category" in r.json()["error"]
            assert (await client.get("/search", params=params)).headers["x-filter-action"] == "block"


@pytest.mark.anyio
async def test_reload_under_concurrent_requests_with_real_rules(tmp_path: Path, rules_dir: Path,
                                                               upstream: tuple[Upstream, str]) -> None:
    _backend, upstream_url = upstream
    app = build_app(make_config(tmp_path, rules_dir, upstream_url, **{"rules.watch": True, "rules.debounce_ms": 50}))
    actions: list[str] = []
    failures: list[str] = []
    done = asyncio.Event()

    async def hammer(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            try:
                r = await client.get("/search", params={"q": "zqxnewterm qxyuniqhammer", "format": "json"})
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            if r.status_code != 200:
                failures.append(str(r.status_code))
            actions.append(r.headers.get("x-filter-action", "allow"))

    async def until(predicate: Any) -> None:
        with anyio.fail_after(30):  # only so that a broken watcher fails instead of hanging
            while not predicate():
                await anyio.sleep(0.02)

    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base) as client, anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(hammer, client)
            await until(lambda: len(actions) > 20)
            listed = rules_dir / "terms" / "zqx-abuse.txt"
            before = listed.read_text(encoding="utf-8")
            # Written again while the rules version has not moved (the watcher may not be registered
            # yet): polling with a deadline, no fixed sleep.
            with anyio.fail_after(30):
                while actions[-1] != "block":
                    listed.write_text(before + "\nzqxnewterm\n", encoding="utf-8")
                    for _ in range(10):
                        if actions[-1] == "block":
                            break
                        await anyio.sleep(0.02)
            (rules_dir / "terms" / "undeclared-category.txt").write_text("zqxother\n")
            await until(lambda: "filter_proxy_rules_reloads_total{result=\"failure\"} 1.0" in app.metrics.exposition()[0].decode())
            mark = len(actions)
            await until(lambda: len(actions) > mark + 20)
            done.set()
    assert failures == []
    assert actions[0] == "allow" and set(actions) == {"allow", "block"}
    assert set(actions[mark:]) == {"block"}  # the broken set was refused; the previous one kept serving
    assert app.metrics.value("filter_proxy_rules_reloads_total", {"result": "success"}) >= 1


def test_serve_command_refuses_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("FILTER_PROXY_")]:
        monkeypatch.delenv(name)
    assert main(["serve"]) == 2
    assert "upstream.url: is required" in capsys.readouterr().err
    assert main(["serve", "--upstream", "ftp://127.0.0.1/"]) == 2
    assert "upstream.url: must be an http:// or https:// URL" in capsys.readouterr().err
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--port", "99999"]) == 2
    assert "server.port" in capsys.readouterr().err
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--adapter", "nosuch"]) == 2
    assert "upstream.adapter: unknown adapter 'nosuch'" in capsys.readouterr().err
    broken = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", broken)
    (broken / "terms" / "undeclared-category.txt").write_text("zqxother\n")
    config = tmp_path / "fp.toml"
    config.write_text(f'[report]\ndatabase = "{tmp_path / "r.sqlite3"}"\n[metrics]\nenabled = false\n')
    assert main(["serve", "--config", str(config), "--upstream", "http://127.0.0.1:9", "--adapter", "searxng",
                 "--rules", str(broken)]) == 2
    assert "rules refused" in capsys.readouterr().err


def test_field_overrides_extend_the_adapters_own_mapping(tmp_path: Path) -> None:
    from filter_proxy.ops import build_adapter

    config = load_config(env={"FILTER_PROXY_UPSTREAM_ADAPTER": "searxng",
                              "FILTER_PROXY_FIELDS_EXTRA_TEXT": "tags,category",
                              "FILTER_PROXY_FIELDS_IMAGE_HASH": "phash=thumb_phash"})
    mapping = build_adapter(config).fields
    assert mapping.extra_text == ("tags", "category")
    assert dict(mapping.image_hash) == {"phash": "thumb_phash"}
    assert mapping.snippet == ("content",)  # SearXNG's own snippet field is kept
    plain = build_adapter(load_config(env={"FILTER_PROXY_UPSTREAM_ADAPTER": "searxng"}))
    assert "tags" not in plain.fields.extra_text


def test_adapter_options_reach_the_generic_adapter(tmp_path: Path) -> None:
    from filter_proxy.ops import build_adapter

    path = tmp_path / "fp.toml"
    path.write_text('[upstream]\nadapter = "generic"\n[upstream.options]\nresults = "/data/items"\n'
                    'total = "/data/count"\n[routes]\nsearch_paths = ["/api/find"]\n')
    adapter = build_adapter(load_config(path))
    doc = {"data": {"items": [{"title": "one"}, {"title": "two"}], "count": 2}}
    assert [v.title for v in adapter.results(doc)] == ["one", "two"]
    adapter.remove_results(doc, {0})
    assert doc["data"] == {"items": [{"title": "two"}], "count": 1}


def test_a_set_up_that_screens_no_route_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from filter_proxy.config import ConfigError
    from filter_proxy.ops import build_adapter

    with pytest.raises(ConfigError, match="routes.search_paths"):
        build_adapter(load_config(env={"FILTER_PROXY_UPSTREAM_ADAPTER": "generic"}))
    assert main(["serve", "--upstream", "http://127.0.0.1:9"]) == 2
    assert "routes.search_paths" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="upstream.options"):
        build_adapter(load_config(env={"FILTER_PROXY_UPSTREAM_ADAPTER": "searxng",
                                       "FILTER_PROXY_UPSTREAM_OPTIONS": "nosuch=1"}))


def test_serve_with_two_workers_shares_metrics(tmp_path: Path, rules_dir: Path, upstream: tuple[Upstream, str]) -> None:
    _backend, upstream_url = upstream
    config = tmp_path / "fp.toml"
    config.write_text(f"""
[upstream]
adapter = "searxng"
[images]
enabled = false
[report]
database = "{tmp_path / 'report.sqlite3'}"
[metrics]
multiprocess_dir = "{tmp_path / 'metrics'}"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILTER_PROXY_", "PROMETHEUS_"))}
    cmd = [sys.executable, "-m", "filter_proxy.cli", "serve", "--config", str(config), "--upstream", upstream_url,
           "--rules", str(rules_dir), "--port", "0", "--workers", "2", "--log-format", "json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # --port 0: the system picks a free port and serve logs it (no probe-then-bind race).
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            found = re.search(r"starting 2 workers on 127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "serve never said which port it took"
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # a bound on start-up, not a speed assertion
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        with httpx.Client(base_url=base) as client:
            for _ in range(6):  # new connections: both workers likely serve some
                r = httpx.get(f"{base}/search", params={"q": BLOCKED_QUERY, "format": "json"})
                assert r.headers["x-filter-action"] == "block"
            # Each worker hands its counts to the shared files in batches (metrics.py: every second), so
            # another worker's scrape sees them within about a second; bounded wait, not a speed check.
            until = time.monotonic() + 30
            while True:
                text = client.get("/metrics").text
                seen = metric(text, 'filter_proxy_requests_total{action="block",route="search"}')
                if seen == 6 or time.monotonic() > until:
                    break
                time.sleep(0.2)
        assert seen == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
