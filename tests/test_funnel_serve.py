"""Issue 15 through `filter-proxy serve` (build_app, uvicorn on loopback, the demo backend upstream): the
warning's links go through /-/help/, a click is counted in /metrics and in the report store, and the
opt-in follow-up cookie counts a repeat blocked search."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from filter_proxy.config import load_config
from filter_proxy.demo.backend import create_backend
from filter_proxy.funnel.summary import funnel_summary
from filter_proxy.ops import build_app
from filter_proxy.report import read_funnel_rows
from tests.support.server import serve

ROOT = Path(__file__).resolve().parent.parent


def test_served_app_counts_clicks_and_repeats(tmp_path: Path) -> None:
    database = tmp_path / "report.sqlite3"
    with serve(create_backend()) as upstream:
        config = load_config(env={}, overrides={
            "upstream.url": upstream, "upstream.adapter": "searxng", "rules.path": str(ROOT / "rules"),
            "routes.search_paths": ["/search"], "routes.suggest_paths": ["/autocompleter"],
            "rules.watch": False, "images.enabled": False, "report.database": str(database),
            "admin.token_env": "", "funnel.repeat_cookie": True, "funnel.cookie_secure": False,
        }, require_upstream=True)
        with serve(build_app(config)) as base, httpx.Client(base_url=base, timeout=30) as client:
            first = client.get("/search", params={"q": "zqxblocked", "format": "json"})
            warning = first.json()["safety"]["warning"]
            assert all(link["url"].startswith("/-/help/") for link in warning["links"])
            assert first.headers["set-cookie"].startswith("fp_followup=deterrence.")
            click = client.get(warning["links"][1]["url"])  # httpx follows no redirect by default
            assert click.status_code == 303 and click.headers["location"] == "https://www.iwf.org.uk/report"
            call = client.get(warning["helplines"][0]["call"])
            assert call.status_code == 200 and re.search(r'href="tel:\+?[0-9]+"', call.text)
            assert client.get("/-/help/not-a-token").status_code == 404
            client.get("/search", params={"q": "zqxblocked", "format": "json"})  # carries the cookie: a repeat
            metrics = client.get("/metrics").text
    variant = warning["variant"]
    assert f'filter_proxy_funnel_help_clicks_total{{kind="deterrence",lang="en",link="1",variant="{variant}"}} 1.0' \
        in metrics
    assert f'filter_proxy_funnel_repeat_searches_total{{kind="deterrence",variant="{variant}"}} 1.0' in metrics
    funnel = funnel_summary(read_funnel_rows(database, datetime(2000, 1, 1, tzinfo=UTC)))  # flushed at stop
    clicks = {(g["variant"], g["lang"]): g["clicks"] for g in funnel["groups"]}
    assert clicks[(variant, "en")] == 2
    assert {(r["variant"], r["repeats"]) for r in funnel["repeats"]} == {(variant, 1)}
