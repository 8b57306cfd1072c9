"""One canonical request path, shared by both modes (mounted FilterMiddleware and ``filter-proxy serve``).

The path is resolved once, from the raw bytes the client sent (ASGI ``raw_path``, else ``path``), and the
filter routes on the result and forwards exactly it. Resolving it in one place closes the gap between what
the filter routes on and what the backend executes (``/x/../_search`` routed as "not a search", then
resolved by the HTTP client or the backend into ``/_search``).

Steps, in order (each backend reads paths at least this way; the result is a path they all read alike):

1. refuse what stays ambiguous: a backslash (raw or ``%5C``), NUL or another control byte, a double
   encoding ``%25XX``, a malformed escape; an encoded slash ``%2F`` unless the caller forwards the raw path
   (``slash_ids``, below);
2. per segment, drop ``;`` parameters (servlet containers such as Solr's Jetty ignore them, and ``..;`` is
   a ``..`` there);
3. decode the escapes of unreserved characters (``%5F`` is ``_``, ``%41`` is ``A``); other escapes stay,
   with upper-case hex; a byte that must be escaped (non-ASCII, space, quotes) is escaped;
4. a segment that was an encoded ``.`` or ``..`` is refused (servers disagree about those), and so are
   escapes that do not decode as UTF-8 (overlong forms such as ``%C0%AE``, which old servers read as ``.``);
5. remove dot segments (RFC 3986 §5.2.4), collapse repeated slashes, drop a trailing slash.

An encoded slash (``%2F``, any case) is part of its segment for Elasticsearch / OpenSearch, which route on
the raw path (``RestController`` splits ``rawPath`` at ``/`` and decodes each parameter after matching:
``GET /idx/_doc/a%2Fb`` is the document ``a/b``). With ``slash_ids`` (the reverse proxy, which forwards
``raw_path`` byte for byte) such a segment is kept, escaped as ``%2F``, and only a route's ``{id}`` segment
matches it (``adapters.routes``); a piece between encoded slashes that is empty, ``.`` or ``..`` (also
as ``%2e``) is refused, so a reader that decodes ``%2F`` before routing (a proxy in between) cannot
resolve it into another path. Without ``slash_ids`` (an ASGI app in process routes on the decoded
``path``, where ``%2F`` is a separator) it is refused as before.

Case is not folded in the path that is forwarded (document ids are case-sensitive); route matching compares
literal segments case-insensitively and lets a case variant of a *pass* route through only on backends
that read paths case-insensitively (see ``adapters.routes``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

__all__ = ["CanonicalPath", "PathError", "canonical_path", "request_path"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_DOUBLE_ESCAPE = re.compile(r"%25[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# pchar (RFC 3986 §3.3) minus "%" (escapes are read separately) and ";" (cut before this table is used).
_PCHAR = _UNRESERVED | frozenset(b"!$&'()*+,=:@")
_MAX_PATH = 8192


class PathError(ValueError):
    """A request path that cannot be given one meaning; the filter answers 400 and forwards nothing."""


@dataclass(frozen=True, slots=True)
class CanonicalPath:
    """``raw``: the ASCII bytes forwarded upstream; ``path``: the same, percent-decoded (ASGI ``path``);
    ``segments``: the decoded-unreserved segments route matching reads."""

    raw: bytes
    path: str
    segments: tuple[str, ...]


def _segment(raw: bytes, slash_ids: bool = False) -> str:
    """One segment, ``;`` parameters dropped, unreserved escapes decoded, the rest escaped canonically."""
    cut = raw.find(b";")
    if cut >= 0:
        raw = raw[:cut]
    if not raw:
        return ""
    out = bytearray()
    escaped_dot = slashed = False
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25:  # "%"
            if i + 2 >= n:
                raise PathError("malformed percent escape")
            hi, lo = raw[i + 1], raw[i + 2]
            if hi not in _HEX or lo not in _HEX:
                raise PathError("malformed percent escape")
            value = int(raw[i + 1 : i + 3], 16)
            if value == 0x2F:
                if not slash_ids:
                    raise PathError("encoded '/' in the path")
                slashed = True
            if value == 0x5C:
                raise PathError("encoded backslash in the path")
            if value < 0x20 or value == 0x7F:
                raise PathError("encoded control character in the path")
            if value == 0x25 and i + 4 < n and raw[i + 3] in _HEX and raw[i + 4] in _HEX:
                raise PathError("double percent-encoding in the path")
            if value in _UNRESERVED:
                out.append(value)
                escaped_dot = escaped_dot or value == 0x2E
            else:
                out += b"%%%02X" % value
            i += 3
            continue
        if byte == 0x5C:
            raise PathError("backslash in the path")
        if byte < 0x20 or byte == 0x7F:
            raise PathError("control character in the path")
        if byte in _PCHAR:
            out.append(byte)
        else:  # must be escaped on the wire (non-ASCII, space, quotes, ...): escape it the one way
            out += b"%%%02X" % byte
        i += 1
    text = out.decode("ascii")
    # The double encoding again on the result: "%25%37%37" is "%2577" once its unreserved escapes are decoded,
    # which one more decoding (a proxy in between) reads as "%77", then "w".
    if _DOUBLE_ESCAPE.search(text):
        raise PathError("double percent-encoding in the path")
    if escaped_dot and text in (".", ".."):
        raise PathError("encoded dot segment in the path")
    if slashed and any(piece in ("", ".", "..") for piece in text.split("%2F")):
        raise PathError("encoded '/' beside an empty or dot segment")
    return text


@lru_cache(maxsize=4096)
def canonical_path(raw: bytes, slash_ids: bool = False) -> CanonicalPath:
    """The canonical form of a raw request path (no query string). Raises PathError when ambiguous.
    ``slash_ids``: an encoded slash stays inside its segment (module docstring)."""
    if len(raw) > _MAX_PATH:
        raise PathError("path too long")
    if not raw:
        raw = b"/"
    if raw[:1] != b"/":
        raise PathError("the path must start with '/'")
    if b"%" in raw or not raw.isascii():
        try:  # the whole path, before dot segments: an overlong form (%C0%AE for ".") or a stray byte is
            # read differently by each server, wherever it stands
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise PathError("bytes or percent escapes in the path that are not UTF-8") from None
    stack: list[str] = []
    for part in raw.split(b"/"):
        seg = _segment(part, slash_ids)
        if seg in ("", "."):
            continue
        if seg == "..":
            if stack:
                stack.pop()
            continue
        stack.append(seg)
    text = "/" + "/".join(stack)
    encoded = text.encode("ascii")
    return CanonicalPath(encoded, unquote(text) if "%" in text else text, tuple(stack))


def request_path(scope: Mapping[str, Any], slash_ids: bool = False) -> CanonicalPath:
    """The canonical path of an ASGI HTTP scope: from ``raw_path`` when the server gave one (the bytes as
    sent), else from ``path`` (already decoded by the server, so re-encoded as UTF-8). ``slash_ids``: the
    app forwards ``raw_path`` as is, so an encoded slash can stay inside a document id."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes | bytearray) or not raw:
        path = scope.get("path") or "/"
        raw = str(path).encode("utf-8")
        if b"%" in raw:  # a decoded path may hold a literal "%": escape it so it is not read twice
            raw = raw.replace(b"%", b"%25")
    else:
        raw = bytes(raw)
        cut = raw.find(b"?")  # some servers leave the query on raw_path; it is never part of the path
        if cut >= 0:
            raw = raw[:cut]
    return canonical_path(raw, slash_ids)
