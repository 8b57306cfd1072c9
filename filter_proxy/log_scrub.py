"""No query string reaches a log line: scrubbing, kept apart from formatting (logs.py) so that any
formatter (JSON, a human one on a TTY) writes only what was scrubbed here.

A user's query travels in URLs: uvicorn's access log prints the request line, httpx logs every upstream
request's full URL at INFO, and an exception's text or a task's repr may quote a URL. So every record is
scrubbed as a whole, whatever logger made it:

- the message is formatted once (``msg % args``) and the result scrubbed; ``args`` become None, so no
  later formatter can format the raw arguments again;
- the exception and stack text are rendered once into ``record.exc_text`` / ``stack_info`` and scrubbed
  (formatters must render ``exc_text``, never ``exc_info`` again; logging.Formatter already does);
- string ``extra=`` fields are scrubbed; uvicorn's ``color_message`` (the raw message again) is dropped;
- uvicorn.access records also lose the client address.

The scrubbing rule: from the first ``?`` of a line (whatever follows it: a decoded query may start with
a space), everything up to the end of the line is removed, except a request line's tail (`` HTTP/1.1" 200``, `` "HTTP/1.1 200 OK"``). It does
not try to find where a query ends (a raw ``'``, ``"`` or ``#`` may be inside it); a little text after a
URL is lost instead, and a log message must not ask questions. It runs twice: in a log-record factory (every record at creation, so that every
handler, pytest's caplog included, sees the scrubbed record) and as a filter on the served handler (for
records made any other way). Both passes are idempotent.
"""

from __future__ import annotations

import logging
import re
import traceback
from http import HTTPStatus
from typing import Any

# A query starts at any "?": a decoded one may begin with a space, so no guess about what follows.
_QUERY_START = re.compile(r"\?")
# The end of a request line kept after the cut: uvicorn's ` HTTP/1.1" 200`, httpx's ` "HTTP/1.1 200 OK"`.
# Only standard reason phrases, so that text made to look like a tail cannot carry anything else.
_PHRASES = "|".join(sorted((re.escape(s.phrase) for s in HTTPStatus), key=len, reverse=True))
_REQUEST_TAIL = re.compile(rf"\s\"?HTTP/\d(?:\.\d)?\"?(?:\s\d{{3}}(?:\s(?:{_PHRASES}))?\"?)?$")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_SCRUBBED = "_filter_proxy_scrubbed"
_WITHHELD = "log record could not be formatted (arguments withheld)"


def _scrub_line(line: str) -> str:
    match = _QUERY_START.search(line)
    if match is None:
        return line
    rest = line[match.start():]
    tail = _REQUEST_TAIL.search(rest)
    return line[:match.start()] + (tail.group(0) if tail else "")


def scrub_text(text: str) -> str:
    """``text`` without query strings (see the module docstring), line by line."""
    if "?" not in text:
        return text
    return "\n".join(_scrub_line(line) for line in text.split("\n"))


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


_ACCESS = AccessLogScrubber()
ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access line (client, method, path?query, version, status)


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub ``record`` in place (idempotent) and return it."""
    if not getattr(record, _SCRUBBED, False):
        if record.name == "uvicorn.access" and record.msg == ACCESS_FORMAT:
            _ACCESS.filter(record)
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: logging would print them on stderr, so withhold them
            message = _WITHHELD
        record.msg, record.args = scrub_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        setattr(record, _SCRUBBED, True)
    # extra= fields are set after the record factory ran: scrub them on every pass.
    record.__dict__.pop("color_message", None)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and isinstance(value, str) and "?" in value:
            setattr(record, key, scrub_text(value))
    return record


class ScrubFilter(logging.Filter):
    """A handler (or logger) filter that scrubs every record passing through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


def install_record_factory() -> None:
    """Scrub every record when it is made, whichever logger and handler it goes to (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _SCRUBBED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    setattr(factory, _SCRUBBED, True)
    logging.setLogRecordFactory(factory)

