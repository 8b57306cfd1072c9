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

The index (``signals.url_table``) is a sorted array of 64-bit hashes of the canonical keys with a compact
line id each, behind a two-probe bitmap; a check is one canonicalisation plus a handful of hashed probes
(the page, the page without its query, each path prefix on a host with prefix entries, each parent
domain), almost all answered "no" by the bitmap. The rule id ``path:line`` comes back from the line id.
The optional compiled kernel (``signals/_url_kernel.pyx``) reads the plain URL shape and computes and
probes those keys in C; ``_probe_python`` is the definition it is tested against, and the path without it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from xxhash import xxh64_intdigest

from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.url_canon import (
    _clean_query,
    canonical_host,
    canonicalize_url,
    fallback_text,
    host_spans,
    match_form,
)
from filter_proxy.signals.url_lines import parse_url_line, read_url_line
from filter_proxy.signals.url_nested import MAX_CARRIED, carried, may_carry
from filter_proxy.signals.url_rows import UrlBatch, UrlEntries, build_table, read_url_file
from filter_proxy.signals.url_table import ROOT_SEED, SEEDS, UrlTable, path_hash

__all__ = ["UrlEntry", "UrlMatch", "UrlIndex", "UrlSignal", "UrlEntries", "canonicalize_url", "canonical_host",
           "parse_url_line", "read_url_line"]

UrlEntry = Entry  # (text, category, rule_id): the name the URL index has always taken
_EXACT, _PREFIX, _DOMAIN = SEEDS["exact"], SEEDS["prefix"], SEEDS["domain"]
# Characters that continue a path segment (the fallback text is lower-cased): a listed path followed by one
# of them is another path. "" (the end of the text) is not among them.
_SEGMENT_GOES_ON = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.~")
_NESTED_DEPTH = 3  # a wrapper in a wrapper in a wrapper: deeper nesting is no redirect chain a browser follows

try:  # the optional compiled check (setup.py builds it); without it the definitions below run
    from filter_proxy.signals import _url_kernel as _kernel  # type: ignore[attr-defined]
except ImportError:
    _kernel = None
if _kernel is not None and (
        (_kernel.EXACT_SEED, _kernel.PREFIX_SEED, _kernel.DOMAIN_SEED, _kernel.ROOT_SEED)
        != (_EXACT, _PREFIX, _DOMAIN, ROOT_SEED)
        or _kernel.xxh64(b"filter-proxy url kernel", _EXACT) != xxh64_intdigest(b"filter-proxy url kernel", _EXACT)):
    _kernel = None  # seeds out of step, or a big-endian host: never hash differently from the index
if _kernel is not None and not hasattr(_kernel, "may_carry"):
    _kernel = None  # a stale build (before the nested-URL pre-test): the pure-Python path, not an error
if _kernel is not None:
    try:  # a stale build (plain_probe without the match_form argument): the pure-Python path, not an error
        _kernel.plain_probe("http://a.example.invalid/A", _clean_query, b"\xff" * 8, 63, True, True, match_form)
    except TypeError:
        _kernel = None


@dataclass(frozen=True, slots=True)
class UrlMatch:
    category: str
    rule_id: str


def _probe_python(canonical: str, bits: bytes, mask: int, has_prefix: bool, has_domain: bool) -> list[int]:
    """The candidate keys of a canonical URL that pass the two-probe bitmap ``bits``, in this order: the
    page; the page without its query; when ``scheme://netloc`` is in the bitmap (``ROOT_SEED``), each path
    prefix on a segment boundary, host root first; the host (port dropped) and each parent that still has
    a dot. The definition; ``_url_kernel.probe`` is the compiled copy (tests/test_url_kernel.py)."""
    encoded = canonical.encode()  # ASCII: byte offsets are character offsets
    keys = [xxh64_intdigest(encoded, _EXACT)]
    start = canonical.find("://") + 3
    # The path's slash is looked for before any "?": a "/" inside the query ("host?r=/x") is not one.
    base, query_mark, _ = canonical.partition("?")
    if query_mark:  # a listed page without a query matches it with any query appended
        encoded = encoded[:len(base)]
        keys.append(xxh64_intdigest(encoded, _EXACT))
    end = base.find("/", start)
    netloc_end = end = end if end >= 0 else len(base)
    # Hosts with prefix entries are in the bitmap under their "scheme://netloc" (a URL on another host
    # needs no walk along its path; a bitmap false positive only costs the walk).
    if has_prefix:
        root = xxh64_intdigest(encoded[:end], ROOT_SEED)
        at, at2 = root & mask, root >> 32 & mask
        if bits[at >> 3] >> (at & 7) & 1 and bits[at2 >> 3] >> (at2 & 7) & 1:
            # Every segment boundary of the path, host root included: /a/b -> host, host/a, host/a/b.
            while True:
                keys.append(xxh64_intdigest(encoded[:end], _PREFIX))
                if end >= len(base):
                    break
                end = base.find("/", end + 1)
                if end == -1:
                    end = len(base)
    if has_domain:
        host = encoded[start:netloc_end]
        if b":" in host:
            host = host.rsplit(b":", 1)[0]
        # The host and each parent that still has a dot: a domain entry always has one.
        keys.append(xxh64_intdigest(host, _DOMAIN))
        dot = host.find(b".")
        while dot != -1:
            after = host.find(b".", dot + 1)
            if after == -1:
                break
            keys.append(xxh64_intdigest(host[dot + 1:], _DOMAIN))
            dot = after
    out = []
    for key in keys:
        at, at2 = key & mask, key >> 32 & mask
        if bits[at >> 3] >> (at & 7) & 1 and bits[at2 >> 3] >> (at2 & 7) & 1:
            out.append(key)
    return out


class UrlIndex:
    """Exact URLs, path prefixes and domains (with subdomains): hashed keys in a ``UrlTable``."""

    def __init__(self, table: UrlTable) -> None:
        self._table = table
        self._has_prefix = table.kinds.get("prefix", 0) > 0
        self._has_domain = table.kinds.get("domain", 0) > 0
        self._bits, self._mask = table.bits, table.mask

    @classmethod
    def build(cls, entries: Sequence[Entry] | UrlEntries) -> UrlIndex:
        """Index ``entries``; ValueError names the rule id of an invalid entry."""
        return cls(build_table(entries))

    def match(self, url: str, depth: int = _NESTED_DEPTH) -> list[UrlMatch]:
        """The entries ``url`` matches: itself as browsers read it, else (when it is not listed) the URLs
        it carries (``url_nested``: a redirect wrapper's parameter, a proxy's path), ``depth`` levels."""
        if _kernel is not None:  # the compiled pass: the plain URL shape read and probed in C
            keys = _kernel.plain_probe(url, _clean_query, self._bits, self._mask, self._has_prefix,
                                       self._has_domain, match_form)
            if keys is None:  # any other shape: the general canonicaliser, the keys hashed in C if ASCII
                canonical = canonicalize_url(url)
                if canonical is None:
                    return self._fallback(url) if isinstance(url, str) and url.strip() else []
                canonical = match_form(canonical)
                keys = _kernel.probe(canonical, self._bits, self._mask, self._has_prefix, self._has_domain)
                if keys is None:  # not ASCII: the definition below reads it
                    keys = _probe_python(canonical, self._bits, self._mask, self._has_prefix, self._has_domain)
        else:
            canonical = canonicalize_url(url)
            if canonical is None:
                return self._fallback(url) if isinstance(url, str) and url.strip() else []
            keys = _probe_python(match_form(canonical), self._bits, self._mask, self._has_prefix,
                                 self._has_domain)
        if keys:
            hits = self._table.lookup(keys)
            if hits:
                rule = self._table.rule
                return [UrlMatch(*rule(row)) for row in dict.fromkeys(hits)]
        # Nearly every URL ends here: not listed, and (without an escape, a second ":" or a dot in its
        # query or fragment) nothing after its host that could carry another URL.
        if depth and (_kernel.may_carry(url, may_carry) if _kernel is not None else may_carry(url)):
            inner, hosts = carried(url)
            for nested in inner[:MAX_CARRIED]:
                found = self.match(nested, depth - 1)
                if found:
                    return found
            for nested in hosts[:MAX_CARRIED]:  # what follows a path host was read in ``url`` already
                found = self.match(nested, 0)
                if found:
                    return found
            if len(inner) > MAX_CARRIED or len(hosts) > MAX_CARRIED:  # decoys past the limit: fail closed
                return self._fallback(url)
        return []

    def _fallback(self, url: str) -> list[UrlMatch]:
        """Conservative match of a URL that cannot be canonicalised (see the module docstring)."""
        text = fallback_text(url)
        table = self._table
        hits: list[int] = []
        slashes: list[int] | None = None
        found: dict[int, set[int]] = {}  # path length -> hashes of the text at each "/" with that length
        for span in host_spans(text, table.max_labels):
            # Every listed domain has a dot and every key is ASCII (IDNA forms are among the spans).
            if "." not in span or not span.isascii():
                continue
            key = xxh64_intdigest(span.encode(), _DOMAIN)
            hits += table.lookup([key])
            for want, length, row in table.fallback_rows(key):
                if not length:  # the host itself (or the host with a query) is listed
                    hits.append(row)
                    continue
                if slashes is None:
                    slashes = [i for i, char in enumerate(text) if char == "/"]
                if length not in found:
                    # The path must end where a segment ends: "/gallery" is not found in "/galleryx".
                    found[length] = {path_hash(text[i:i + length]) for i in slashes if i + length <= len(text)
                                     and text[i + length:i + length + 1] not in _SEGMENT_GOES_ON}
                if want in found[length]:  # the host as labels, its path anywhere
                    hits.append(row)
        rule = table.rule
        return [UrlMatch(*rule(row)) for row in dict.fromkeys(hits)]

    def __len__(self) -> int:
        return len(self._table)

    def category_sizes(self) -> dict[str, int]:
        return self._table.category_sizes()

    def to_bytes(self) -> bytes:
        return self._table.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> UrlIndex:
        try:
            return cls(UrlTable.from_bytes(data))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as exc:
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
        kind, canonical, reason = read_url_line(text)
        if reason is not None:
            raise SignalError(reason)
        return text, (kind, canonical)

    @classmethod
    def parse_lines(cls, chunks: Iterable[Sequence[str]], file: str, category: str
                    ) -> tuple[UrlBatch, list[tuple[int, str, str]]]:
        """A whole rule file at once, as consecutive chunks of its lines (each line without comment and
        edge spaces, "" when it holds no entry; the first is line 1): its entries as columns and its
        problems ``(line, reason, severity)``, the same as ``parse_line`` per line plus the duplicate
        warnings."""
        return read_url_file(chunks, file, category)

    @classmethod
    def build(cls, entries: Sequence[Entry] | UrlEntries, allow: Sequence[str] = ()) -> UrlIndex:
        return UrlIndex.build(entries)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> UrlIndex:
        return UrlIndex.from_bytes(data)
