"""URLs carried inside another URL: redirect wrappers and proxies (``https://r.example.invalid/out?url=<listed
URL>``, ``/web/2020/https://<listed host>/``, ``/go/<listed host>/page``, ``/out/<base64 of a listed URL>``),
which a browser follows to the listed address.

``carried(url)`` finds them in what follows the wrapper's host: a query or fragment value that is a URL or a
host name (``?to=blocked.example.invalid``); a URL with a scheme anywhere in the path; a path segment that
is a host name, maybe after a userinfo (``/go/blocked.example.invalid/x``, read with what follows it); a
query value, a whole query or fragment, or a path segment in base64 (standard or URL-safe alphabet, padded
or not) or hexadecimal that decodes to UTF-8 text holding a URL or a host name; each in the text as
written and percent-decoded once, twice and three times (a double-encoded parameter is decoded by the
redirector and again by the browser). ``UrlIndex.match`` checks them (and what the first kind carry in
turn) when the wrapper itself is not listed, for every URL whatever its shape, so the compiled and the
Python paths give the same answers; up to ``MAX_CARRIED`` of each kind, and past that (decoys) it matches
the URL's text as it matches an unreadable URL's. ``nested_urls(url)``: both kinds, at most ``MAX_NESTED``.

The cost: ``may_carry`` first (compiled: ``_url_kernel.may_carry``), one pass over the URL that says no for
a URL without an escape, a second ``:``, a dot after its host or a value or segment of 12 characters; a few
regex passes otherwise (what a redirect can hide in is what ordinary URLs have too: file names, long ids).
Not read: a bare integer or hexadecimal IPv4 address as a path segment (``/go/3221226050``: numeric ids look
the same), base64 of base64, other encodings (base32, ROT13, reversed).
"""

from __future__ import annotations

import binascii
import re
from urllib.parse import unquote

__all__ = ["nested_urls", "carried", "may_carry", "MAX_NESTED", "MAX_CARRIED"]

MAX_NESTED = 16  # candidates ``nested_urls`` gives
# Candidates ``UrlIndex.match`` reads per URL (``carried``'s limit): a redirect behind up to this many decoy
# values is read; with more, the URL's text is matched as an unreadable URL's is (fail closed), so a hostile
# URL with thousands of parameters costs no more than this.
MAX_CARRIED = 256
_AUTHORITY_END = re.compile(r"[/?#\\]")
# A name, a dotted IPv4 or an IPv6 literal, maybe with a trailing dot and a port; in ``_U``, a name's labels
# may hold any letters or digits (an internationalised name, read where the text is not ASCII).
_NAME, _NAME_U = r"(?:[a-z0-9](?:[a-z0-9-]{0,62})\.)+[a-z][a-z0-9-]{1,62}", r"(?:[^\W_][\w-]{0,62}\.)+[^\W\d_][\w-]{1,62}"
_ADDRESS = r"|(?:0x[0-9a-f]{1,8}|[0-9]{1,10})(?:\.(?:0x[0-9a-f]{1,8}|[0-9]{1,10})){3}|\[[0-9a-f:.]+\])\.?(?::\d{1,5})?"
_HOST, _HOST_U = "(?:" + _NAME + _ADDRESS, "(?:" + _NAME_U + _ADDRESS


def _found(host: str) -> re.Pattern[str]:
    return re.compile(
        # a URL with a scheme (any number of slashes or backslashes), or scheme-relative, after any separator
        r"(?<=[=&?#;/:,|])(?:[a-z][a-z0-9+.-]{0,15}:[/\\]{2}|(?:https?|ftp|wss?):[/\\]*|[/\\]{2}(?=[a-z0-9\[]))[^&#\s]+"
        # a host name (maybe with a path) as a whole query or fragment value
        r"|(?<=[=?#&])(?:www\.)?" + host + r"(?:[/\\?][^&#\s]*)?(?=$|[&#;])",
        re.IGNORECASE,
    )


_FOUND, _FOUND_U = _found(_HOST), _found(_HOST_U)


# A path segment that is a host name, maybe after a userinfo (``/go/blocked.example.invalid/x``: a
# redirector's or an archive's target without its scheme), after each "/" (in a lookahead, so that they may
# follow each other; the "/" is matched, not looked behind for: a literal first is found faster).
# ``carried`` adds what follows it, to a "&", "#" or space, and reads it as ``http://`` + that: the plain
# shape the compiled kernel reads. A file name (``/index.html``) is such a host too, and is simply not listed.
_PATH_HOST, _PATH_HOST_U = (re.compile(r"/(?=((?:[^/@\s?#&]*@)?(?:www\.)?" + host + r")(?=$|[/\\?;&#]))",
                                      re.IGNORECASE) for host in (_HOST, _HOST_U))
_REST_END = re.compile(r"[&#\s]")
# What follows a path host is read up to this many characters (cut after a "/": a path cut at a segment
# boundary is under every prefix the whole path is under), so that each candidate costs a bounded time.
_REST = 256
# ``may_carry``'s test for what may hold an encoded URL (base64, hexadecimal): a query value of 12 characters
# or more (9 bytes in base64, "a.example" is more), or a path segment, a whole query or a whole fragment of
# 12 such characters (hexadecimal is in the same alphabet). A percent-encoded one has a "%".
_LONG_VALUE = re.compile(r"=[A-Za-z0-9+/_-]{12}|[/?#][A-Za-z0-9+_-]{12}")
# The first character of the base64 of UTF-8 text that starts with a printable character: an ASCII one's
# top six bits are 8-31 ("I"-"Z", "a"-"f"), a multi-byte lead byte's 48-61 ("w"-"z", "0"-"9"); and of the
# hexadecimal of such text (2-7, C-F). A path segment starting with "g"-"v" (most slugs) is not decoded.
_TEXT_START = "[A-Za-fw-z0-9]"
# Encoded values: a query value, a whole query or a whole fragment of 12 characters or more (group 1;
# base64 in either alphabet, or hexadecimal), a path segment of 12 or more that starts as text's encoding
# does (group 2). Standard base64 in a path may keep its "/" (a redirector reading the rest of the path
# reads the segments as one value): in the base64 of ASCII text a "/" (a 63) is only ever a group's fourth
# character (a "?" or DEL as its third byte), so the segment before the first one decodes to the text
# before its "?": the host and the path, all that a domain, prefix or page entry is matched on. A segment
# may end in a file name's extension (``/r/<base64>.html``).
_ENCODED = re.compile(r"[=?#]([A-Za-z0-9+/_-]{12,}={0,2})(?=$|[&#;])"
                      r"|/(" + _TEXT_START + r"[A-Za-z0-9+_-]{11,}={0,2})(?:\.[A-Za-z0-9]{1,5})?(?=$|[/?#;])")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){9,}")


def may_carry(url: str) -> bool:
    """Whether ``nested_urls(url)`` can find anything: after a ``%`` or a second ``:``, or when what follows
    the host holds a dot (a host in the query, the fragment or the path), or a long value, path segment,
    query or fragment (maybe base64 or hexadecimal). ``UrlIndex.match`` asks this of every URL it does not
    find listed; ``_url_kernel.may_carry`` is its compiled copy (tests/test_url_kernel.py)."""
    if "%" in url or url.find(":", 6) >= 0:
        return True
    end = _AUTHORITY_END.search(url, _host_start(url))
    if end is None:
        return False
    at = end.start()
    return url.find(".", at) >= 0 or _LONG_VALUE.search(url, at) is not None


def _query_dot(tail: str) -> bool:
    """Whether ``tail`` holds a dot after its first ``?`` or ``#``."""
    query, fragment = tail.find("?"), tail.find("#")
    first = query if fragment < 0 or 0 <= query < fragment else fragment
    return first >= 0 and tail.find(".", first) >= 0


def _host_start(url: str) -> int:
    """Where the host starts: after the first ``//`` among the first 20 characters, else 0."""
    start = url.find("//")
    return start + 2 if 0 <= start < 20 else 0


_URLSAFE = str.maketrans("-_", "+/")


def _decoded(body: str) -> str | None:
    """``body`` (base64 in either alphabet, without its padding; ASCII) decoded as UTF-8 text, or None.
    Random ids and tokens are the usual values here: no exception is raised for them (they cost more than
    the rest of the check)."""
    urlsafe = "-" in body or "_" in body
    if len(body) % 4 == 1 or (urlsafe and ("+" in body or "/" in body)):
        return None  # no base64 of any bytes, or two alphabets mixed
    try:
        data = binascii.a2b_base64((body.translate(_URLSAFE) if urlsafe else body) + "=" * (-len(body) % 4),
                                   strict_mode=True)
    except binascii.Error:
        return None
    return _utf8(data)


def _utf8(data: bytes) -> str | None:
    """``data`` as UTF-8 text, or None (a replacement character marks bytes that are no UTF-8)."""
    text = data.decode("utf-8", "replace")
    return None if "\ufffd" in text else text


def _path_hosts(tail: str, limit: int, pattern: re.Pattern[str]) -> list[str]:
    """Each path host of ``tail`` (``pattern``: ``_PATH_HOST`` or, for non-ASCII text, ``_PATH_HOST_U``) with
    what follows it (at most ``_REST`` characters), at most ``limit + 1``."""
    found: list[str] = []
    for match in pattern.finditer(tail):
        start, end = match.span(1)
        stop = _REST_END.search(tail, end, end + _REST + 1)
        rest = tail[end:stop.start() if stop else end + _REST + 1]
        if len(rest) > _REST:
            rest = rest[:rest.rfind("/", 0, _REST) + 1]
        found.append(tail[start:end] + rest)
        if len(found) > limit:
            break
    return found


def _encoded_urls(tail: str) -> list[str]:
    """The URLs and host names that the base64 or hexadecimal values of ``tail`` (what follows a host)
    decode to (``_ENCODED``)."""
    found: list[str] = []
    for value, segment in _ENCODED.findall(tail):
        body = (value or segment).rstrip("=")
        text = _utf8(bytes.fromhex(body)) if _HEX.fullmatch(body) is not None else None
        if text is None:
            text = _decoded(body)
        if text is not None:
            text = text.strip()  # ``echo URL | base64`` encodes a line break too
        if text and text.isprintable() and ("." in text or "//" in text or "[" in text):
            # read as a whole value, as a plain one is
            found += (_FOUND if text.isascii() else _FOUND_U).findall("=" + text)
    return found


def nested_urls(url: str) -> list[str]:
    """The URLs and host names ``url`` carries after its own host (see the module docstring), at most
    ``MAX_NESTED``; empty for nearly every URL."""
    inner, hosts = carried(url, MAX_NESTED)
    return list(dict.fromkeys(inner + hosts))[:MAX_NESTED]


def carried(url: str, limit: int = MAX_CARRIED) -> tuple[list[str], list[str]]:
    """``(inner, hosts)``: the URLs and host names ``url`` carries (a query or fragment value, a URL with a
    scheme in the path, an encoded value), and the ``http://`` URLs that its path segments that are host
    names start (``/go/blocked.example.invalid/x``), each at most ``limit`` (more: ``limit + 1``, the caller
    then knows some were left). The second need not be read for what they carry in turn: that follows
    them in ``url`` too."""
    end = _AUTHORITY_END.search(url, _host_start(url))
    if end is None:
        return [], []
    tail = url[end.start():]
    found: list[str] = []
    hosts: list[str] = []
    for _ in range(4):
        ascii = tail.isascii()
        if ":" in tail or "//" in tail or "\\" in tail or _query_dot(tail):
            # (a URL needs a ":" or "//", a host value a dot after "?#")
            found += (_FOUND if ascii else _FOUND_U).findall(tail)
        if "." in tail or "[" in tail:
            hosts += _path_hosts(tail, limit, _PATH_HOST if ascii else _PATH_HOST_U)
        if len(tail) > 12:
            found += _encoded_urls(tail)
        if "%" not in tail or len(found) > limit:
            break
        decoded = unquote(tail, errors="replace")
        if decoded == tail:
            break
        tail = decoded
    return (list(dict.fromkeys(found))[:limit + 1],
            ["http://" + host for host in dict.fromkeys(hosts)][:limit + 1])
