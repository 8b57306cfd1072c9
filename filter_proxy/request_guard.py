"""Requests whose meaning depends on who reads them are refused before anything is forwarded.

A filter in front of a backend is only as good as the agreement between what it reads and what the
backend executes. Each check below closes one way for the two to disagree (fail closed: 400, nothing sent):

- **Framing** (every request): ``Transfer-Encoding`` other than exactly ``chunked``, both
  ``Transfer-Encoding`` and ``Content-Length``, more than one of either, a non-numeric length, a header
  name that is not an RFC 9110 token (``Content-Length :``), a value with CR, LF or NUL, a ``Connection``
  header naming Content-Length / Transfer-Encoding / Content-Type / Content-Encoding / Host (the proxy
  drops what Connection names: the screened body went upstream as ``Content-Length: 0``). Some ASGI servers
  (h11) accept ``Content-Length`` together with chunked framing; the proxy then forwarded the client's
  length with the de-chunked body (aiohttp cut it at that length: another body than the client sent, or a
  backend waiting for bytes that never came).
- **Method and path overrides** (``X-HTTP-Method-Override`` & co., ``X-Original-URL`` / ``X-Rewrite-URL``,
  a ``_method`` query parameter): the route was chosen by the method and the path.
- **Query strings of screened routes**: a byte that is not visible ASCII (servers and frameworks decode raw
  bytes as Latin-1 or as UTF-8, differently), a malformed escape (``%u007a``, ``%zz``: some servers decode
  IIS-style ``%u``, others keep it), escapes that are not UTF-8 (``%F6``: Latin-1 there, U+FFFD here).
- **Bodies**: two ``Content-Type`` or ``Content-Encoding`` headers (every request: the filter reads the
  last, a servlet container the first, so a JSON body could be a form to the backend), and on screened
  routes a Content-Type naming two media types, a ``charset`` other than UTF-8 (an app that honours
  ``charset=utf-16`` or ``iso-8859-1`` reads other text than the filter), and formats the filter does not
  read as the backend does (YAML, CBOR, Smile, MessagePack: Elasticsearch accepts them as request bodies).
- **Response formats of screened routes** (per adapter, ``route_tables.FORMAT_PARAMS`` /
  ``FORMAT_ACCEPT``): ``format=yaml|cbor|smile`` and a YAML/CBOR/Smile/text ``Accept`` on Elasticsearch,
  ``wt`` other than ``json`` and JSONP ``json.wrf`` on Solr. The answer would be refused (502) after the
  backend ran the query anyway; refusing first says why.

``screened_scope`` then takes from a screened request what would let the backend answer with less than
the whole page, or with a page screened earlier: ``Range`` / ``If-Range`` (a slice the filter never sees
whole), the conditional headers (a ``304`` that keeps a page screened under older rules in the client's
cache) and any ``Accept-Encoding`` (asked for as ``identity``, so the backend answers in what the filter
reads; a compressed answer is still decoded or refused).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from filter_proxy.adapters.request import parse_query
from filter_proxy.adapters.route_tables import CONTENT_PARAMS, FORMAT_ACCEPT, FORMAT_PARAMS, ROUTING_PARAMS

__all__ = ["framing_refusal", "override_refusal", "query_refusal", "screened_refusal", "screened_scope", "METHOD_OVERRIDES"]

Headers = Sequence[tuple[bytes, bytes]]

# Headers some frameworks read as "treat this request as another method" or "as another path" (Symfony and
# IIS read X-Original-URL / X-Rewrite-URL as the request's path): the route was chosen by method and path.
METHOD_OVERRIDES = frozenset({b"x-http-method-override", b"x-http-method", b"x-method-override",
                              b"x-original-method", b"x-original-url", b"x-rewrite-url"})
# RFC 9110 §5.6.2 token characters: a header name is exactly these (deleted by translate: what is left is bad).
_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VISIBLE = bytes(range(0x21, 0x7F))
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_HIGH_ESCAPE = re.compile(rb"%[89A-Fa-f][0-9A-Fa-f]")
# Request headers dropped on screened routes (see the module docstring).
_PARTIAL = frozenset({b"range", b"if-range", b"if-none-match", b"if-modified-since", b"if-match",
                      b"if-unmodified-since", b"accept-encoding"})
_IDENTITY = (b"accept-encoding", b"identity")
# Headers a client must not name in Connection (a proxy drops what Connection names: the screened body
# would go upstream without its length, ``Content-Length: 0``, or without its type or coding).
_MEANINGFUL = frozenset({b"content-length", b"transfer-encoding", b"content-type", b"content-encoding", b"host"})
_ONCE = frozenset({b"content-type", b"content-encoding"})
_WATCHED = _ONCE | {b"content-length", b"transfer-encoding", b"connection"} | METHOD_OVERRIDES
_NAME_CHARS = _TOKEN + b"\n"
_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BODY_FORMATS = ("yaml", "cbor", "smile", "msgpack", "x-protobuf")


def framing_refusal(headers: Headers) -> str | None:
    """Why the request's framing or headers are ambiguous, or None. For every request, screened or not.
    Cheap on the common request (about a microsecond): two scans over the joined names and values, then
    a look at the few headers that matter."""
    names = b"\n".join([name for name, _ in headers]).lower()
    if names.translate(None, _NAME_CHARS) or b"\n\n" in names or names[:1] == b"\n" or names[-1:] == b"\n" \
            or (headers and not names) \
            or (headers and names.count(b"\n") >= len(headers)):  # (an empty name; a name holding a line feed)
        return "a header name that is not a token"
    values = b" ".join([value for _, value in headers])
    if b"\r" in values or b"\n" in values or b"\x00" in values:
        return "a header value with a line break or NUL"
    lengths = codings = 0
    once: set[bytes] = set()
    for name, value in headers:
        lowered = name.lower()
        if lowered not in _WATCHED:
            continue
        if lowered in _ONCE:  # two Content-Types: the filter reads the last, a servlet the first
            if lowered in once:
                return f"more than one {lowered.decode()} header"
            once.add(lowered)
        elif lowered == b"content-length":
            lengths += 1
            if not value.strip().isdigit():
                return "a Content-Length that is not a number"
        elif lowered == b"transfer-encoding":
            codings += 1
            if value.strip().lower() != b"chunked":
                return "a Transfer-Encoding other than 'chunked'"
        elif lowered == b"connection":
            if _MEANINGFUL & {t.strip().lower() for t in value.split(b",")}:
                # A proxy drops the headers Connection names: the body or its type would be lost on the way.
                return "a Connection header naming a header the request's meaning depends on"
        else:
            return "method override headers are not accepted"
    if lengths > 1 or codings > 1:
        return "more than one Content-Length or Transfer-Encoding"
    if lengths and codings:
        return "both Content-Length and Transfer-Encoding"
    return None


_OVERRIDE_PARAMS = frozenset({"_method", "x-http-method-override", "_httpmethod"})


def override_refusal(query: bytes) -> str | None:
    """Why a query string asks the app to treat the request as another method (Rails, Laravel, Express's
    method-override read ``_method``), or None. For every request: the route was chosen by the method."""
    if not query or (b"method" not in query.lower() and b"%" not in query):
        return None
    if any(key.strip().lower() in _OVERRIDE_PARAMS for key, _ in parse_query(query.decode("latin-1"))):
        return "method override parameters are not accepted"
    return None


def query_refusal(query: bytes) -> str | None:
    """Why a screened route's query string may read differently to the backend than to the filter."""
    if not query:
        return None
    if query.translate(None, _VISIBLE):
        return "the query string has bytes that are not visible ASCII (percent-encode them as UTF-8)"
    if b"%" in query:
        if _BAD_ESCAPE.search(query):
            return "the query string has a malformed percent escape"
        # Only an escape of a byte >= 0x80 can make the decoded bytes invalid UTF-8 (the rest is visible
        # ASCII, checked above): the usual query (%22, %2C, ...) needs no decoding here.
        if _HIGH_ESCAPE.search(query):
            try:
                unquote_to_bytes(query).decode("utf-8")
            except UnicodeDecodeError:
                return "the query string's escapes are not UTF-8"
    return None


# Per adapter, the parameter names screened_refusal looks for (as bytes: a query without any of them and
# without "%" is not parsed here at all).
_PARAM_NAMES: dict[str, tuple[bytes, ...]] = {
    adapter: tuple(sorted({n.encode() for n in (*FORMAT_PARAMS.get(adapter, {}), *ROUTING_PARAMS.get(adapter, ()),
                                                *CONTENT_PARAMS.get(adapter, ()))}))
    for adapter in {*FORMAT_PARAMS, *ROUTING_PARAMS, *CONTENT_PARAMS}
}


def screened_refusal(adapter: str, scope: dict[str, Any],
                     params: Sequence[tuple[str, str]] | None = None) -> tuple[int, str] | None:
    """(status, reason) when a request on a screened route must not be forwarded, else None. ``params``:
    the query string already read by ``parse_query`` (the middleware reads it once per request)."""
    query: bytes = scope.get("query_string", b"")
    reason = query_refusal(query)
    if reason is not None:
        return 400, reason
    content_type = accept = ""
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"content-type":
            content_type = value.decode("latin-1")
        elif lowered == b"accept":
            accept = value.decode("latin-1")
    if content_type:
        kind = content_type.lower()
        if "," in kind:  # "form, json": the filter reads one, the backend maybe the other
            return 400, "a Content-Type that names more than one media type"
        cut = kind.find("charset=")
        if cut >= 0:
            charset = kind[cut + 8 :].split(";", 1)[0].strip().strip('"')
            if charset not in _CHARSETS:
                return 400, "a request body in a charset other than UTF-8"
        if any(f in kind for f in _BODY_FORMATS):
            return 415, "a request body format the filter does not read"
    refused_accept = FORMAT_ACCEPT.get(adapter)
    if accept and refused_accept:
        # The backend answers in the first media type it names (Elasticsearch reads one, not a ranking;
        # "application/json, text/plain, */*" from axios is JSON).
        first = accept.split(",", 1)[0].split(";", 1)[0].strip().lower()
        if any(f in first for f in refused_accept):
            return 406, "a response format the filter cannot read (Accept); ask for JSON"
    names = _PARAM_NAMES.get(adapter)
    if query and names and (b"%" in query or any(n in query for n in names)):
        formats = FORMAT_PARAMS.get(adapter)
        routing = ROUTING_PARAMS.get(adapter)
        content = CONTENT_PARAMS.get(adapter)
        for key, value in parse_query(query.decode("latin-1")) if params is None else params:
            if routing and key in routing:
                return 403, "a request parameter selects another handler"
            if content and key in content:
                return 400, f"the parameter {key!r} reads query content the filter cannot see"
            if formats and key in formats:
                allowed = formats[key]
                if value.strip().lower() not in allowed:
                    return 400, f"the response format parameter {key!r} must be one of: " \
                                f"{', '.join(sorted(allowed)) or '(not accepted)'}"
    return None


def screened_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope forwarded on a screened route: no range or conditional headers, ``Accept-Encoding:
    identity``. The same scope object when there is nothing to change."""
    headers: Sequence[tuple[bytes, bytes]] = scope["headers"]
    if not any(name.lower() in _PARTIAL for name, _ in headers):
        return scope
    scope = dict(scope)
    kept = [(k, v) for k, v in headers if k.lower() not in _PARTIAL]
    kept.append(_IDENTITY)
    scope["headers"] = kept
    return scope
