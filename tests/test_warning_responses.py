"""Warning responses in both modes: security headers, HTML for `warn` too, no category name, the
X-Filter-Removed switch, the report database's default place, and the 502 log line."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.config import ConfigError, load_config
from filter_proxy.logs import JsonFormatter, request_id_var
from filter_proxy.proxy import create_proxy_app
from filter_proxy.report import default_database
from filter_proxy.warnings import HTML_CSP, JSON_CSP, ResultLink
from tests.support.server import serve
from tests.test_middleware import Backend, build_rules, client_for, wrap

pytestmark = pytest.mark.anyio
HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules") / "rules")


def assert_warning_headers(r: httpx.Response, html: bool) -> None:
    for name, value in SECURITY.items():
        assert r.headers[name] == value, name
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and csp.encode() == (HTML_CSP if html else JSON_CSP)
    if html:
        assert "default-src 'none'" in csp and "script-src" not in csp


@pytest.mark.parametrize("mode", ["middleware", "proxy"])
@pytest.mark.parametrize("accept", [HTML, "application/json"])
async def test_blocked_responses_carry_the_security_headers(rules: Any, mode: str, accept: str) -> None:
    backend = Backend()
    if mode == "middleware":
        app: Any = wrap(backend, rules)
        async with client_for(app) as client:
            r = await client.get("/search", params={"q": "zqxblocked"}, headers={"accept": accept})
    else:
        with serve(backend.app) as upstream:
            app = create_proxy_app(upstream, rules, "searxng")
            async with client_for(app) as client:
                r = await client.get("/search", params={"q": "zqxblocked"}, headers={"accept": accept})
            await app.app.aclose()
    assert r.status_code == 200 and r.headers["x-filter-action"] == "block" and backend.calls == 0
    html = accept == HTML
    assert r.headers["content-type"].startswith("text/html" if html else "application/json")
    assert_warning_headers(r, html)
    assert "zqxblocked" not in r.text and "zqx-abuse" not in r.text  # no query echo, no category name
    if not html:
        assert set(r.json()["safety"]) == {"action", "warning"}


async def test_a_browser_gets_html_for_warn_too(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        r = await client.get("/search", params={"q": "zqxwarn garden"}, headers={"accept": HTML,
                                                                                "accept-language": "fr"})
        api = await client.get("/search", params={"q": "zqxwarn garden"})
    assert backend.calls == 2  # warn: the search still runs
    assert r.headers["content-type"].startswith("text/html") and r.headers["x-filter-action"] == "warn"
    assert_warning_headers(r, html=True)
    page = r.text
    assert '<html lang="fr"' in page and 'class="notice support"' in page and 'role="alert"' not in page
    assert page.index('id="warning-title"') < page.index('id="results-title"')  # the notice above the results
    assert "Garden tools" in page and "https://shop.example.invalid/garden" in page
    assert "zqxblocked" not in page and "bad.example.invalid" not in page  # the results were screened
    assert "zqxwarn" not in page  # never the query
    assert re.search(r'<a class="back" href="/">', page)
    # an API client keeps the JSON page, with the safety object and no category name
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["safety"]["warning"]["kind"] == "support" and "category" not in api.json()["safety"]


async def test_removed_count_only_where_enabled(rules: Any) -> None:
    backend = Backend()
    async with client_for(wrap(backend, rules)) as client:
        search = await client.get("/search", params={"q": "garden"})
        suggest = await client.get("/autocompleter", params={"q": "zqx"})
    assert search.headers["x-filter-removed"] == "3" and "x-filter-removed" not in suggest.headers
    async with client_for(wrap(backend, rules, removed_header=["search", "suggest"])) as client:
        suggest = await client.get("/autocompleter", params={"q": "gar"})
    assert suggest.headers["x-filter-removed"] == "1"


def test_responses_config() -> None:
    assert load_config(env={}).responses.removed_header == ["search"]
    config = load_config(env={"FILTER_PROXY_RESPONSES_REMOVED_HEADER": 'search, suggest'})
    assert config.responses.removed_header == ["search", "suggest"]
    with pytest.raises(ConfigError, match="responses.removed_header"):
        load_config(env={"FILTER_PROXY_RESPONSES_REMOVED_HEADER": 'everything'})


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_result_links_are_http_only(url: str) -> None:
    link = ResultLink.make("t", url)
    assert link.url is None or link.url.lower().startswith(("http://", "https://"))


def test_report_database_defaults_to_the_state_directory(tmp_path: Path) -> None:
    assert default_database({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "filter-proxy" / "report.sqlite3"
    assert default_database({"HOME": str(tmp_path)}) == tmp_path / ".local/state/filter-proxy/report.sqlite3"
    assert default_database({"HOME": str(tmp_path), "XDG_STATE_HOME": "relative"}).is_relative_to(tmp_path)
    config = load_config(env={})
    assert Path(config.report.database).is_absolute() and Path(config.report.database).name == "report.sqlite3"


async def test_a_502_names_route_adapter_reason_and_request_id(rules: Any, caplog: pytest.LogCaptureFixture) -> None:
    backend = Backend(page={"results": "not a list"})
    token = request_id_var.set("req-42")
    try:
        with caplog.at_level(logging.WARNING, logger="filter_proxy.middleware"):
            async with client_for(wrap(backend, rules)) as client:
                r = await client.get("/search", params={"q": "zqxquery garden"})
        [record] = [rec for rec in caplog.records if rec.name == "filter_proxy.middleware"]
        line = JsonFormatter().format(record)  # as the server's handler formats it, within the request
    finally:
        request_id_var.reset(token)
    assert r.status_code == 502
    assert record.route == "search" and record.adapter == "searxng" and "'results' is not a list" in record.reason
    assert '"request_id":"req-42"' in line and '"route":"search"' in line and "zqxquery" not in line


async def test_every_502_is_logged_once_with_its_reason(rules: Any, caplog: pytest.LogCaptureFixture) -> None:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def not_json(_request: Any) -> Response:
        return Response("<html>zqxquery is not json</html>", media_type="application/json")

    app = Starlette(routes=[Route("/search", not_json)])
    with caplog.at_level(logging.WARNING, logger="filter_proxy.middleware"):
        async with client_for(wrap(app, rules)) as client:
            r = await client.get("/search", params={"q": "zqxquery"})
    assert r.status_code == 502
    [record] = [rec for rec in caplog.records if rec.name == "filter_proxy.middleware"]
    assert record.route == "search" and record.adapter == "searxng" and "not valid JSON" in record.reason
    assert "zqxquery" not in record.getMessage() and "zqxquery" not in str(vars(record))


async def test_index_term_lists_follow_the_suggest_switch(rules: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def terms_enum(_request: Any) -> JSONResponse:  # ES _terms_enum: autocomplete over index terms
        return JSONResponse({"_shards": {"total": 1, "successful": 1, "failed": 0},
                             "terms": ["garden", "zqxblocked"], "complete": True})

    app = Starlette(routes=[Route("/books/_terms_enum", terms_enum, methods=["GET", "POST"])])
    async with client_for(wrap(app, rules, adapter="elasticsearch")) as client:
        r = await client.post("/books/_terms_enum", json={"field": "title", "string": "ga"})
    assert r.status_code == 200 and r.json()["terms"] == ["garden"]
    assert "x-filter-removed" not in r.headers  # a count here would tell a prober which prefix was listed
    async with client_for(wrap(app, rules, adapter="elasticsearch", removed_header=["suggest"])) as client:
        r = await client.post("/books/_terms_enum", json={"field": "title", "string": "ga"})
    assert r.headers["x-filter-removed"] == "1"


async def test_back_to_search_goes_where_the_operator_says(rules: Any) -> None:
    async with client_for(wrap(Backend(), rules, back_url="/find")) as client:
        r = await client.get("/search", params={"q": "zqxblocked"}, headers={"accept": HTML})
    assert '<a class="back" href="/find">' in r.text
    assert load_config(env={"FILTER_PROXY_RESPONSES_BACK_URL": "https://search.example.invalid/"}).responses.back_url
    for bad in ("javascript:alert(1)", "//evil.example.invalid/", "http://x.example.invalid/"):
        with pytest.raises(ConfigError, match="responses.back_url"):
            load_config(env={"FILTER_PROXY_RESPONSES_BACK_URL": bad})
