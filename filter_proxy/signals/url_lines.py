"""URL entry lines: their syntax (``parse_url_line``) and a fast path for the shapes big lists are made of.

``parse_url_line`` is the definition: a bare host is a domain entry (``canonical_host``), a URL ending in
``*`` a path prefix, any other URL an exact page (``canonicalize_url``). ``read_url_line`` gives exactly the
same answer; it first tries one regex for the two shapes that make up nearly every line of a large list,
a bare lower-case ASCII domain and an ``http(s)://host/plain/path`` URL (optionally ending in ``/*``), and
falls back to ``parse_url_line`` for anything else (upper case, ``www.``, IDNA, percent-encoding, ports,
userinfo, numeric hosts, trailing dots, queries, dot segments). A hypothesis test checks that both agree.
Measured on the scale generator's lines: ~0.35 µs a line on the fast path against ~1.5-2.5 µs.
"""

from __future__ import annotations

import re

from filter_proxy.signals.url_canon import canonical_host, canonicalize_url

__all__ = ["FAST_LINE", "parse_url_line", "read_url_line"]

# A host the canonicaliser would return unchanged: lower-case ASCII labels (no "www." first: it may be
# dropped), at least two of them, the last not starting with a digit (it may be a numeric IPv4 form).
# An http(s) URL takes no "_" in its host (``canonicalize_url``'s own fast path does not: the result would be
# the same, but the full path is the definition, so the fast path stays inside what both read identically),
# path segments of unreserved characters that are neither empty nor dot segments (kept as they are), an
# optional trailing "/" and an optional final "*" (a prefix). Groups: 1 host, 2 path, 3 "*" | 4 domain.
FAST_LINE = re.compile(r"https?://((?!www\.)(?:[a-z0-9-]+\.)+[a-z-][a-z0-9-]*)"
                       r"((?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*)/?(\*?)"
                       r"|((?!www\.)(?:[a-z0-9_-]+\.)+[a-z_-][a-z0-9_-]*)")


def parse_url_line(line: str) -> tuple[str, str, str | None]:
    """Validate one entry line: ``(kind, canonical, reason)``, kind in {"exact", "prefix", "domain"}.

    ``reason`` is None when valid. ``canonical`` is the key stored in the index.
    """
    text = line.strip()
    if not text:
        return "exact", "", "empty entry"
    if any(c.isspace() for c in text):
        return "exact", "", "a URL entry cannot contain spaces"
    if "://" not in text and "/" not in text and "\\" not in text:
        host = canonical_host(text.removeprefix("*.").lstrip("."))
        if host is None or "." not in host.strip("[]"):
            return "domain", "", f"not a domain name: {text!r} (write a bare host such as example.invalid)"
        return "domain", host, None
    kind = "exact"
    if text.endswith("*"):
        kind, text = "prefix", text[:-1]
    if "*" in text:
        return kind, "", "'*' is only allowed at the end of a URL prefix (https://host/path/*)"
    canonical = canonicalize_url(text)
    if canonical is None:
        return kind, "", f"not a valid URL: {text!r}"
    if kind == "prefix" and "?" in canonical:
        return kind, "", "a URL prefix cannot contain a query string"
    return kind, canonical, None


def read_url_line(line: str) -> tuple[str, str, str | None]:
    """``parse_url_line(line)``, by one regex for the common shapes (see the module docstring)."""
    found = FAST_LINE.fullmatch(line)
    if found is None:
        return parse_url_line(line)
    if found[4]:
        return "domain", found[4], None
    return ("prefix" if found[3] else "exact"), "http://" + found[1] + found[2], None
