"""Structured logs: one JSON object per line, a request id on every record, and no user data.

Raw queries are never logged. Our own code never logs them; uvicorn's access log, httpx's request lines
and exception texts would, so every record is scrubbed before any formatter sees it (log_scrub.py: query
strings and client addresses). Formatting lives here, scrubbing there, so a formatter never has to care.
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

from filter_proxy.log_scrub import AccessLogScrubber, ScrubFilter, install_record_factory, scrub_text

__all__ = ["AccessLogScrubber", "JsonFormatter", "RequestIdFilter", "ScrubFilter", "TextFormatter",
           "UrlQueryScrubber", "configure_logging", "install_scrubbers", "request_id_from_header",
           "request_id_var"]

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


# Kept under their former names: httpx records are scrubbed like every other record now.
UrlQueryScrubber = ScrubFilter


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
        if record.exc_info or record.exc_text:
            # exc_text was rendered and scrubbed by log_scrub; render (and scrub) only a record made otherwise.
            out["exception"] = record.exc_text or scrub_text(self.formatException(record.exc_info))  # type: ignore[arg-type]
        if record.stack_info:
            out["stack"] = record.stack_info
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return super().format(record)


def install_scrubbers() -> None:
    """Scrub every log record of this process from now on, whatever its logger (idempotent)."""
    install_record_factory()


def configure_logging(level: str = "INFO", json: bool = True, stream: Any = None,
                      access_log: bool = True) -> logging.Handler:
    """Root logging for `serve`: one handler on stderr; uvicorn's loggers propagate to it. The handler
    scrubs every record (also one made before ``install_scrubbers``) before its formatter sees it.
    ``access_log`` False silences uvicorn's access log (a worker calls this after uvicorn set it up).

    Run uvicorn with ``log_config=None`` so it does not replace this set-up.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(ScrubFilter())
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
    if not access_log:
        logging.getLogger("uvicorn.access").propagate = False
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
        if record.exc_info or record.exc_text:
            # as JsonFormatter: exc_text was rendered and scrubbed by log_scrub; scrub one made otherwise
            line += "\n" + (record.exc_text or scrub_text(self.formatException(record.exc_info)))  # type: ignore[arg-type]
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
