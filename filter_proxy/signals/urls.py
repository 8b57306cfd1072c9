"""The URL signal: entry syntax, validation and the index of blocked URLs, prefixes and domains.

Entry syntax (one per line in ``rules/urls/<category>.txt``; the loader strips comments and blanks):

- ``https://example.invalid/gallery/page.html``: an exact page (after canonicalisation, see
  ``signals.url_canon``). Without a query it also matches that page with any query string or fragment
  appended (``/page.html?x=1``), as squidGuard does; an entry with a query (``/item?id=7``) matches only
  that query (tracking parameters and order aside).
- ``https://example.invalid/gallery/*``: a path prefix on segment boundaries: matches ``/gallery``,
  ``/gallery/`` and ``/gallery/x/y`` (any query), never ``/gallery-other``. ``https://example.invalid/*``
  is the whole host (without subdomains).
- ``example.invalid`` (a bare host, no scheme or path): that domain and every subdomain
  (``a.b.example.invalid``). A leading ``*.`` or ``.`` is accepted and means the same. Unicode and
  punycode spellings of a host are one entry.

Fail closed: a URL that cannot be canonicalised is not allowed for that reason. It is matched on its
``fallback_text`` (lower-cased, percent-decoded, backslashes as slashes): a listed domain occurring in it
as a run of whole labels (``x.blocked.example.invalid.evil`` included) matches, and so does a listed page's
or prefix's host occurring so together with its path (case-insensitively, query aside).

The index is three dicts of canonical strings (exact URLs, path prefixes, domains). A check is one
canonicalisation plus a handful of dict probes (one per host label, one more for a query-less page, and one
per path segment only on a host that has prefix entries), so it needs no bloom stage.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.url_canon import canonical_host, canonicalize_url, fallback_text, host_spans

__all__ = ["UrlEntry", "UrlMatch", "UrlIndex", "UrlSignal", "canonicalize_url", "canonical_host",
           "parse_url_line"]

_MAGIC = "FPURLS1"
UrlEntry = Entry  # (text, category, rule_id): the name the URL index has always taken


@dataclass(frozen=True, slots=True)
class UrlMatch:
    category: str
    rule_id: str


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


_HOST_SCAN = 4096  # keys looked at per host in a fallback (a bound on hostile or huge per-host lists)


def _max_labels(*tables: dict[str, list[int]]) -> int:
    """Labels of the longest host named by any key (the fallback tries label runs up to that length)."""
    most = 0
    for table in tables:
        for key in table:
            start = key.find("://") + 3 if "://" in key else 0
            end = len(key)
            for mark in "/?:":
                at = key.find(mark, start)
                if at != -1:
                    end = min(end, at)
            most = max(most, key.count(".", start, end) + 1)
    return most


def _on_host(keys: list[str], host: str) -> list[tuple[str, str]]:
    """(key, path) of the sorted http keys on ``host`` (any port), path without query, at most _HOST_SCAN
    per kind of continuation. Other schemes' entries (ftp, ws) are not looked at by the fallback."""
    root = "http://" + host
    found = []
    at = bisect_left(keys, root)
    if at < len(keys) and keys[at] == root:
        found.append((root, ""))
    for mark in "/:?":  # the keys on this host are the ranges root + "/", root + ":", root + "?"
        start = root + mark
        at = bisect_left(keys, start)
        for i in range(at, min(len(keys), at + _HOST_SCAN)):  # (islice would walk from index 0)
            key = keys[i]
            if not key.startswith(start):
                break
            path = key[len(root):].partition("?")[0]
            found.append((key, path[path.find("/"):] if "/" in path else ""))
    return found


class UrlIndex:
    """Exact URLs, path prefixes and domains (with subdomains), each a dict canonical -> rule rows."""

    def __init__(self, exact: dict[str, list[int]], prefix: dict[str, list[int]], domain: dict[str, list[int]],
                 rows: list[tuple[str, str]], max_labels: int | None = None) -> None:
        self._exact, self._prefix, self._domain, self._rows = exact, prefix, domain, rows
        # "scheme://netloc" of every prefix entry: a URL on another host needs no walk along its path.
        self._prefix_roots = frozenset(key[:key.find("/", key.index("://") + 3) % (len(key) + 1)] for key in prefix)
        # For the fallback only, made on its first use: the exact and prefix keys in sorted order (the tables
        # are built in key order, so sorting is one linear pass) and the labels of the longest listed host.
        self._sorted: tuple[list[str], list[str]] | None = None
        self._max_labels = max_labels

    @classmethod
    def build(cls, entries: Sequence[Entry]) -> UrlIndex:
        """Index ``entries``; ValueError names the rule id of an invalid entry."""
        tables: dict[str, dict[str, list[int]]] = {"exact": {}, "prefix": {}, "domain": {}}
        rows: list[tuple[str, str]] = []
        for entry in entries:
            kind, canonical, reason = parse_url_line(entry.value)
            if reason:
                raise ValueError(f"{entry.rule_id}: {reason}")
            tables[kind].setdefault(canonical, []).append(len(rows))
            rows.append((entry.category, entry.rule_id))
        # Key order makes the serialised tables sorted, which the fallback's host lookup relies on (cheaply).
        exact, prefix, domain = ({key: table[key] for key in sorted(table)} for table in tables.values())
        return cls(exact, prefix, domain, rows, _max_labels(exact, prefix, domain))

    def match(self, url: str) -> list[UrlMatch]:
        canonical = canonicalize_url(url)
        if canonical is None:
            return self._fallback(url) if isinstance(url, str) and url.strip() else []
        hits: list[int] = []
        exact = self._exact.get(canonical)
        if exact:
            hits += exact
        start = canonical.find("://") + 3
        # The path's slash is looked for before any "?": a "/" inside the query ("host?r=/x") is not one.
        base, query_mark, _ = canonical.partition("?")
        if query_mark:  # a listed page without a query matches it with any query appended
            page = self._exact.get(base)
            if page:
                hits += page
        end = base.find("/", start)
        netloc_end = end = end if end >= 0 else len(base)
        if base[:end] in self._prefix_roots:  # empty when there are no prefix entries
            # Every segment boundary of the path, host root included: /a/b -> host, host/a, host/a/b.
            while True:
                hits += self._prefix.get(base[:end], ())
                if end >= len(base):
                    break
                end = base.find("/", end + 1)
                if end == -1:
                    end = len(base)
        if self._domain:
            host = base[start:netloc_end]
            if ":" in host:
                host = host.rsplit(":", 1)[0]
            # The host and each parent that still has a dot: a domain entry always has one.
            domain = self._domain
            dot = 0
            while dot != -1:
                found = domain.get(host[dot:])
                if found:
                    hits += found
                dot = host.find(".", dot) + 1
                if not dot or host.find(".", dot) == -1:
                    break
        if not hits:
            return []
        return [UrlMatch(*self._rows[row]) for row in dict.fromkeys(hits)]

    def _fallback(self, url: str) -> list[UrlMatch]:
        """Conservative match of a URL that cannot be canonicalised (see the module docstring)."""
        text = fallback_text(url)
        if self._max_labels is None:
            self._max_labels = _max_labels(self._exact, self._prefix, self._domain)
        if self._sorted is None:
            self._sorted = (sorted(self._exact), sorted(self._prefix))
        hits: list[int] = []
        for span in host_spans(text, self._max_labels):
            if "." not in span:  # every listed domain has a dot; a dotless host is too rare to search for
                continue
            hits += self._domain.get(span, ())
            for keys, table in zip(self._sorted, (self._exact, self._prefix), strict=True):
                for key, path in _on_host(keys, span):
                    if not path or fallback_text(path) in text:  # the host as labels, its path anywhere
                        hits += table[key]
        return [UrlMatch(*self._rows[row]) for row in dict.fromkeys(hits)]

    def __len__(self) -> int:
        return len(self._rows)

    def category_sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for category, _ in self._rows:
            out[category] = out.get(category, 0) + 1
        return out

    def to_bytes(self) -> bytes:
        return json.dumps({"magic": _MAGIC, "exact": self._exact, "prefix": self._prefix, "domain": self._domain,
                           "rows": self._rows, "max_labels": self._max_labels}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> UrlIndex:
        try:
            doc = json.loads(bytes(data))
            if doc.get("magic") != _MAGIC:
                raise ValueError("bad magic")
            return cls(doc["exact"], doc["prefix"], doc["domain"], [tuple(r) for r in doc["rows"]],
                       doc.get("max_labels"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a URL index: {exc}") from exc


class UrlSignal(SignalType):
    name = "urls"
    index_group = "urls"
    source = "urls"
    verdict_signal = "url"
    exact = True

    @classmethod
    def canonical(cls, url: str) -> str | None:
        """The form URLs are compared in (``canonicalize_url``); None when it cannot be read."""
        return canonicalize_url(url)

    @classmethod
    def parse_line(cls, text: str) -> tuple[str, Hashable]:
        """Two spellings of one URL (case, ``www.``, tracking parameters, Unicode or punycode host) are
        one entry: the duplicate key is the kind and canonical form."""
        kind, canonical, reason = parse_url_line(text)
        if reason is not None:
            raise SignalError(reason)
        return text, (kind, canonical)

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> UrlIndex:
        return UrlIndex.build(entries)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> UrlIndex:
        return UrlIndex.from_bytes(data)
