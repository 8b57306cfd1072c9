"""Structured logs: one JSON object per line, a request id on every record, and no user data.

Raw queries are never logged. Our own code never logs them; uvicorn's access log would (it prints the
request line with its query string and the client address), so ``AccessLogScrubber`` strips both, and
httpx logs each upstream request's full URL, so ``UrlQueryScrubber`` strips query strings there.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("filter_proxy_request_id", default=None)

# A client-supplied id is echoed only when it is short and plain, so it cannot smuggle text into logs.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Attributes every LogRecord has; anything else was passed via ``extra=`` and is emitted as a field.
# uvicorn's "color_message" (the same text with ANSI colours) is left out too.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "color_message"}


def request_id_from_header(value: str | None) -> str:
    """The client's X-Request-Id when well-formed, else a fresh random id."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (None outside a request) so formatters can rely on it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class AccessLogScrubber(logging.Filter):
    """Removes the query string and the client address from uvicorn access records.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with args (client_addr, method, full_path, http_version,
    status); full_path includes ``?q=...``, which is exactly what must never be written down.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, full_path, version, status = args
            path = str(full_path).split("?", 1)[0]
            record.args = ("-", method, path, version, status)
        elif args:
            # An unknown shape: keep the line but drop its arguments rather than risk leaking them.
            record.msg = "access log record (arguments withheld)"
            record.args = None
        return True


class UrlQueryScrubber(logging.Filter):
    """Removes query strings from URLs in a record's arguments. httpx logs every request at INFO as
    ``HTTP Request: GET http://upstream/search?q=... "HTTP/1.1 200 OK"``: in the reverse proxy that
    URL carries the user's query to the upstream."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_strip_query(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _strip_query(v) for k, v in record.args.items()}
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY_RE.sub("", record.msg)
        return True


_QUERY_RE = re.compile(r"\?[^\s\"']*")


def _strip_query(value: Any) -> Any:
    if isinstance(value, str | bytes) or type(value).__name__ == "URL":
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        return _QUERY_RE.sub("", text) if "?" in text else value
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key != "request_id" and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return super().format(record)


# Loggers of libraries we run that may write a request's URL (and so a query) into a record.
# (Logger filters do not apply to child loggers, so each one is named.)
URL_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


def install_scrubbers() -> None:
    """Attach the scrubbers to uvicorn's access logger and to the HTTP client loggers (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogScrubber) for f in access.filters):
        access.addFilter(AccessLogScrubber())
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, UrlQueryScrubber) for f in logger.filters):
            logger.addFilter(UrlQueryScrubber())


def configure_logging(level: str = "INFO", json: bool = True, stream: Any = None) -> logging.Handler:
    """Root logging for `serve`: one handler on stderr; uvicorn's loggers propagate to it.

    Run uvicorn with ``log_config=None`` so it does not replace this set-up.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_filter_proxy", False)]:
        root.removeHandler(old)
    handler._filter_proxy = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)  # follow the root level
        logger.propagate = True
    install_scrubbers()
    return handler


# -- human output on a terminal (`serve --log-format text`, the default when stderr is a TTY) ----------------

LOG_FORMATS = ("auto", "json", "text")
_LEVEL_COLOURS = {"DEBUG": "2", "INFO": "36", "WARNING": "33", "ERROR": "31;1", "CRITICAL": "31;1"}


class HumanFormatter(logging.Formatter):
    """One short line per record for a person at a terminal: time, level, message, then the request id
    and any ``extra=`` fields as ``key=value``. It formats what the scrubbing filters left in the record,
    exactly as JsonFormatter does, so it can show nothing that the JSON lines would not."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"\x1b[{_LEVEL_COLOURS.get(record.levelname, '0')}m{level}\x1b[0m"
        extras = [f"{k}={v}" for k, v in vars(record).items()
                  if k not in _STANDARD_ATTRS and k != "request_id" and not k.startswith("_")]
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            extras.append(f"request_id={rid}")
        line = f"{moment} {level} {record.getMessage()}" + (f"  ({', '.join(extras)})" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_log_format(log_format: str | None, json_default: bool, stream: Any = None) -> str:
    """"json" or "text": an explicit ``--log-format`` wins; "auto" (or none) means human text on a terminal
    and JSON lines otherwise (files, pipes, journald, log shippers); ``logging.json = false`` in the config
    asks for text everywhere."""
    if log_format in ("json", "text"):
        return log_format
    if not json_default:
        return "text"
    isatty = getattr(stream or sys.stderr, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def use_human_format(handler: logging.Handler, stream: Any = None) -> None:
    """Switch a handler made by ``configure_logging`` to HumanFormatter (coloured on a terminal)."""
    isatty = getattr(stream or sys.stderr, "isatty", None)
    handler.setFormatter(HumanFormatter(colour=bool(isatty and isatty())))
