"""URLs carried inside another URL: redirect wrappers and proxies (``https://r.example.invalid/out?url=<listed
URL>``, ``/web/2020/https://<listed host>/``), which a browser follows to the listed address.

``nested_urls(url)`` finds them in what follows the wrapper's host: a query or fragment value that is a URL
or a host name (``?to=blocked.example.invalid``), and a URL with a scheme anywhere in the path, each in the
text as written and percent-decoded once, twice and three times (a double-encoded parameter is decoded by
the redirector and again by the browser). ``UrlIndex.match`` checks them (and what they carry in turn) when
the wrapper itself is not listed, for every URL whatever its shape, so the compiled and the Python paths
give the same answers. A query or fragment value written in base64 (standard or URL-safe alphabet, padded
or not, maybe percent-encoded: ``?u=aHR0cHM6Ly9i...``) is read decoded too, when it decodes to UTF-8 text
that holds a URL or a host name. The cost: a few ``in`` tests for a URL without a query, fragment, escape
or second ``:`` (``UrlIndex.match``; ``may_carry``), a few ``find`` for one whose query holds no dot and no
long value, one regex pass otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

__all__ = ["nested_urls", "may_carry", "MAX_NESTED"]

MAX_NESTED = 16  # candidates per URL: a hostile URL with thousands of parameters costs no more
_AUTHORITY_END = re.compile(r"[/?#\\]")
_HOST = (r"(?:(?:[a-z0-9](?:[a-z0-9-]{0,62})\.)+[a-z][a-z0-9-]{1,62}"  # a name, a dotted IPv4 or an IPv6 literal
         r"|(?:0x[0-9a-f]{1,8}|[0-9]{1,10})(?:\.(?:0x[0-9a-f]{1,8}|[0-9]{1,10})){3}|\[[0-9a-f:.]+\])(?::\d{1,5})?")
_FOUND = re.compile(
    # a URL with a scheme (any number of slashes or backslashes), or scheme-relative, after any separator
    r"(?<=[=&?#;/:,|])(?:[a-z][a-z0-9+.-]{0,15}:[/\\]{2}|(?:https?|ftp|wss?):[/\\]*|[/\\]{2}(?=[a-z0-9\[]))[^&#\s]+"
    # a host name (maybe with a path) as a whole query or fragment value
    r"|(?<=[=?#&])(?:www\.)?" + _HOST + r"(?:[/\\?][^&#\s]*)?(?=$|[&#;])",
    re.IGNORECASE,
)


# A query or fragment value long enough to be a host or URL in base64 (12 characters: 9 bytes, "a.example"
# is more), as written or percent-encoded ("+", "/", "=" as %2B, %2F, %3D).
_LONG_VALUE = re.compile(r"=[A-Za-z0-9+/_%-]{12}")
_BASE64_VALUE = re.compile(r"(?<=[=])[A-Za-z0-9+/_-]{12,}={0,2}(?=$|[&#;])")


def may_carry(url: str) -> bool:
    """Whether ``nested_urls(url)`` can find anything: after a ``%``, a second ``:``, a dot in the query or
    fragment, or a long query value (maybe base64). ``UrlIndex.match`` asks this of every URL it does not
    find listed, so it is a few ``in`` / ``find`` tests for nearly all of them."""
    return ("%" in url or url.find(":", 6) >= 0 or ((mark := url.find("?")) >= 0 and url.find(".", mark) >= 0)
            or ((mark := url.find("#")) >= 0 and url.find(".", mark) >= 0)
            or ("=" in url and _LONG_VALUE.search(url) is not None))


def _base64_urls(tail: str) -> list[str]:
    """The URLs and host names that the base64 values of ``tail`` (a query or fragment) decode to."""
    found: list[str] = []
    for value in _BASE64_VALUE.findall(tail):
        body = value.rstrip("=")
        urlsafe = "-" in body or "_" in body
        if len(body) % 4 == 1 or (urlsafe and ("+" in body or "/" in body)):
            continue  # no base64 of any bytes, or two alphabets mixed
        try:
            text = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None,
                                    validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if text.isprintable() and ("." in text or "//" in text or "[" in text):
            found += _FOUND.findall("=" + text.strip())  # read as a whole value, as a plain one is
    return found


def nested_urls(url: str) -> list[str]:
    """The URLs and host names ``url`` carries after its own host (see the module docstring), at most
    ``MAX_NESTED``; empty for nearly every URL."""
    start = url.find("//")
    start = start + 2 if 0 <= start < 20 else 0
    end = _AUTHORITY_END.search(url, start)
    if end is None:
        return []
    tail = url[end.start():]
    encoded = "=" in tail and _LONG_VALUE.search(tail) is not None
    if "%" not in tail and ":" not in tail and "\\" not in tail and not encoded:
        # Then only a host name as a query or fragment value: it has a dot after the "?" or "#".
        query, fragment = tail.find("?"), tail.find("#")
        first = query if fragment < 0 or 0 <= query < fragment else fragment
        if first < 0 or tail.find(".", first) < 0:
            return []
    found: list[str] = []
    for _ in range(4):
        found += _FOUND.findall(tail)
        if encoded:
            found += _base64_urls(tail)
        if "%" not in tail or len(found) >= MAX_NESTED:
            break
        decoded = unquote(tail, errors="replace")
        if decoded == tail:
            break
        tail = decoded
    return list(dict.fromkeys(found))[:MAX_NESTED]
