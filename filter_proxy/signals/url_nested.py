"""URLs carried inside another URL: redirect wrappers and proxies (``https://r.example.invalid/out?url=<listed
URL>``, ``/web/2020/https://<listed host>/``), which a browser follows to the listed address.

``nested_urls(url)`` finds them in what follows the wrapper's host: a query or fragment value that is a URL
or a host name (``?to=blocked.example.invalid``), and a URL with a scheme anywhere in the path, each in the
text as written and percent-decoded once, twice and three times (a double-encoded parameter is decoded by
the redirector and again by the browser). ``UrlIndex.match`` checks them (and what they carry in turn) when
the wrapper itself is not listed, for every URL whatever its shape, so the compiled and the Python paths
give the same answers. The cost: a few ``in`` tests for a URL without a query, fragment, escape or second
``:`` (``UrlIndex.match``), a few ``find`` for one whose query holds no dot, one regex pass otherwise.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["nested_urls", "MAX_NESTED"]

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


def nested_urls(url: str) -> list[str]:
    """The URLs and host names ``url`` carries after its own host (see the module docstring), at most
    ``MAX_NESTED``; empty for nearly every URL."""
    start = url.find("//")
    start = start + 2 if 0 <= start < 20 else 0
    end = _AUTHORITY_END.search(url, start)
    if end is None:
        return []
    tail = url[end.start():]
    if "%" not in tail and ":" not in tail and "\\" not in tail:
        # Then only a host name as a query or fragment value: it has a dot after the "?" or "#".
        query, fragment = tail.find("?"), tail.find("#")
        first = query if fragment < 0 or 0 <= query < fragment else fragment
        if first < 0 or tail.find(".", first) < 0:
            return []
    found: list[str] = []
    for _ in range(4):
        found += _FOUND.findall(tail)
        if "%" not in tail or len(found) >= MAX_NESTED:
            break
        decoded = unquote(tail, errors="replace")
        if decoded == tail:
            break
        tail = decoded
    return list(dict.fromkeys(found))[:MAX_NESTED]
