"""Structured logs: JSON lines with request ids; access logs without query strings or client addresses."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import httpx
import pytest

from filter_proxy.logs import (
    AccessLogScrubber,
    JsonFormatter,
    RequestIdFilter,
    UrlQueryScrubber,
    configure_logging,
    install_scrubbers,
    request_id_from_header,
    request_id_var,
)
from filter_proxy.ops import OpsApp
from tests.support.server import serve

PLACEHOLDER = "zqxblocked"


def test_request_id_from_header() -> None:
    assert request_id_from_header("abc-123_X.y:z") == "abc-123_X.y:z"
    for bad in (None, "", "has space", "new\nline", "x" * 65, "quote\"", "ünïcode"):
        rid = request_id_from_header(bad)
        assert re.fullmatch(r"[0-9a-f]{32}", rid), bad
    assert request_id_from_header(None) != request_id_from_header(None)


def test_json_formatter_includes_request_id_and_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("filter_proxy.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    token = request_id_var.set("rid-1")
    try:
        logger.info("rules reloaded: %s", "v2", extra={"rules_version": "v2", "seconds": 0.5})
    finally:
        request_id_var.reset(token)
    logger.warning("outside a request")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    logger.removeHandler(handler)
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "rules reloaded: v2"
    assert first["level"] == "INFO" and first["logger"] == "filter_proxy.test_json"
    assert first["request_id"] == "rid-1"
    assert first["rules_version"] == "v2" and first["seconds"] == 0.5
    assert first["time"].endswith("+00:00")
    assert "request_id" not in second
    assert "ValueError: boom" in third["exception"]


def access_record(full_path: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, "h11_impl.py", 1, '%s - "%s %s HTTP/%s" %d',
                             ("192.0.2.7:51234", "GET", full_path, "1.1", 200), None)


def test_url_scrubber_strips_query_strings_from_httpx_records() -> None:
    record = logging.LogRecord("httpx", logging.INFO, "x", 1, 'HTTP Request: %s %s "%s %d %s"',
                               ("GET", httpx.URL(f"http://127.0.0.1:9200/_search?q={PLACEHOLDER}&size=10"),
                                "HTTP/1.1", 200, "OK"), None)
    UrlQueryScrubber().filter(record)
    assert record.getMessage() == 'HTTP Request: GET http://127.0.0.1:9200/_search "HTTP/1.1 200 OK"'


def test_access_log_scrubber_strips_query_and_client() -> None:
    record = access_record(f"/search?q={PLACEHOLDER}&page=2")
    assert AccessLogScrubber().filter(record)
    assert record.getMessage() == '- - "GET /search HTTP/1.1" 200'
    odd = logging.LogRecord("uvicorn.access", logging.INFO, "x", 1, "%s %s", ("GET", f"/s?q={PLACEHOLDER}"), None)
    AccessLogScrubber().filter(odd)
    assert PLACEHOLDER not in odd.getMessage()


def test_configure_logging_routes_uvicorn_through_one_json_handler() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging("DEBUG", json=True, stream=stream)
        configure_logging("DEBUG", json=True, stream=stream)  # idempotent: still one handler of ours
        ours = [h for h in root.handlers if getattr(h, "_filter_proxy", False)]
        assert len(ours) == 1
        handler = ours[0]
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "192.0.2.7:1", "GET",
                                                 f"/search?q={PLACEHOLDER}", "1.1", 200)
        out = stream.getvalue()
        assert PLACEHOLDER not in out and "192.0.2.7" not in out
        assert json.loads(out.splitlines()[-1])["message"] == '- - "GET /search HTTP/1.1" 200'
    finally:
        for h in [h for h in root.handlers if getattr(h, "_filter_proxy", False)]:
            root.removeHandler(h)
        root.setLevel(saved[0])
        assert handler not in root.handlers


def serve_with_access_log(app: Any) -> Any:
    """uvicorn with its access log on and log_config=None (as `serve` runs it), so records propagate to
    the root logger where caplog sees them."""
    return serve(app, log_config=None, access_log=True, log_level="debug", lifespan="on")


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    logging.getLogger("filter_proxy.test").debug("handled %s", scope["path"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_uvicorn_access_log_never_carries_the_query(caplog: pytest.LogCaptureFixture) -> None:
    install_scrubbers()
    caplog.set_level(logging.DEBUG)
    with serve_with_access_log(OpsApp(echo)) as base:
        r = httpx.get(f"{base}/search", params={"q": f"{PLACEHOLDER} forbidden phrase alpha"},
                      headers={"X-Request-Id": "req-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "req-42"
    access = [rec for rec in caplog.records if rec.name == "uvicorn.access"]
    assert [rec.getMessage() for rec in access] == ['- - "GET /search HTTP/1.1" 200']
    assert any(rec.getMessage() == "handled /search" for rec in caplog.records)
    for rec in caplog.records:
        assert PLACEHOLDER not in rec.getMessage() and "forbidden phrase" not in rec.getMessage()
        assert PLACEHOLDER not in JsonFormatter().format(rec)
