"""URL entries as columns: what one rule file's lines become (``read_url_file``), without a Python object
per entry, and the table built from them or from a list of ``Entry`` (``build_table``).

A 1M-line list is parsed in one loop: ``read_url_line`` (its fast path for the common shapes), one xxh64
per entry, a few appends to typed arrays; duplicates within a file are found afterwards with one sort of
the keys. The rule ids come back as ``path:line`` from the file table and the line numbers.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xxhash import xxh64_intdigest

from filter_proxy.signals.base import Entry
from filter_proxy.signals.url_canon import fallback_text, match_form
from filter_proxy.signals.url_lines import FAST_LINE, parse_url_line, read_url_line
from filter_proxy.signals.url_table import _PATH_SEED, ROOT_SEED, SEEDS, TableBuilder, UrlTable

__all__ = ["UrlBatch", "UrlEntries", "read_url_file", "build_table"]

_SEED_EXACT, _SEED_PREFIX, _SEED_DOMAIN = SEEDS["exact"], SEEDS["prefix"], SEEDS["domain"]


@dataclass
class UrlBatch:
    """One rule file's entries: keys and line numbers co-indexed, plus the prefix gates and fallback rows."""

    file: str
    category: str
    keys: array = field(default_factory=lambda: array("Q"))
    lines: array = field(default_factory=lambda: array("I"))
    roots: array = field(default_factory=lambda: array("Q"))
    fb_host: array = field(default_factory=lambda: array("I"))
    fb_path: array = field(default_factory=lambda: array("I"))
    fb_len: array = field(default_factory=lambda: array("I"))
    fb_line: array = field(default_factory=lambda: array("I"))
    max_line: int = 0
    max_labels: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: {"exact": 0, "prefix": 0, "domain": 0})

    def add(self, number: int, kind: str, canonical: str) -> None:
        """One valid entry at line ``number`` (its ``(kind, canonical)`` from ``parse_url_line``)."""
        if kind != "domain":
            canonical = match_form(canonical)  # pages and prefixes are matched in this form (url_canon)
        encoded = canonical.encode()
        self.lines.append(number)
        self.kinds[kind] += 1
        if kind == "domain":
            self.keys.append(xxh64_intdigest(encoded, _SEED_DOMAIN))
            labels = canonical.count(".") + 1
            if labels > self.max_labels:
                self.max_labels = labels
            return
        self.keys.append(xxh64_intdigest(encoded, _SEED_EXACT if kind == "exact" else _SEED_PREFIX))
        start = canonical.find("://") + 3
        base = canonical.partition("?")[0]
        slash = base.find("/", start)
        if slash == -1:
            slash = len(base)
        netloc = base[start:slash]
        if kind == "prefix":
            self.roots.append(xxh64_intdigest(encoded[:slash], ROOT_SEED))
        host = netloc[:netloc.find("]") + 1] if netloc[:1] == "[" else netloc.partition(":")[0]
        labels = host.count(".") + 1
        if labels > self.max_labels:
            self.max_labels = labels
        if start == 7 and canonical.startswith("http"):  # the fallback reads http(s) entries only
            path = base[slash:]
            text = path.lower() if "%" not in path else fallback_text(path)  # the same for a canonical path
            self.fb_host.append(xxh64_intdigest(host.encode(), _SEED_DOMAIN) & 0xFFFFFFFF)
            self.fb_path.append(xxh64_intdigest(text.encode("utf-8", "surrogatepass"), _PATH_SEED) & 0xFFFFFFFF)
            self.fb_len.append(len(text))
            self.fb_line.append(number)

    def drop_duplicates(self) -> list[tuple[int, str, str]]:
        """Keep the first of entries with equal keys; a warning ``(line, reason, "warning")`` for each other."""
        if len(self.keys) < 2:
            return []
        keys = np.frombuffer(self.keys, dtype=np.uint64)
        lines = np.asarray(self.lines, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")  # equal keys stay in line order
        ordered = keys[order]
        starts = np.ones(len(ordered), dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        if starts.all():
            return []
        first = lines[order][np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))]
        dropped = order[~starts]
        warnings = [(int(lines[i]), f"duplicate of line {int(f)}; ignored", "warning")
                    for i, f in zip(dropped.tolist(), first[~starts].tolist(), strict=True)]
        keep = np.ones(len(keys), dtype=bool)
        keep[dropped] = False
        gone = lines[dropped]
        self.keys = array("Q", keys[keep].tobytes())
        self.lines = array("I", lines[keep].astype(np.uint32).tobytes())
        fb_keep = ~np.isin(np.asarray(self.fb_line, dtype=np.uint64), gone)
        for name in ("fb_host", "fb_path", "fb_len", "fb_line"):
            column = getattr(self, name)
            kept = np.asarray(column, dtype=np.uint64)[fb_keep]
            setattr(self, name, array("I", kept.astype(np.uint32).tobytes()))
        return warnings

    def __len__(self) -> int:
        return len(self.keys)


class UrlEntries:
    """The URL entries of a rules directory, file by file (what ``Sources.entries["urls"]`` holds)."""

    def __init__(self) -> None:
        self.batches: list[UrlBatch] = []

    def __len__(self) -> int:
        return sum(len(b) for b in self.batches)

    def __bool__(self) -> bool:
        return any(len(b) for b in self.batches)

    def category_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for batch in self.batches:
            out[batch.category] = out.get(batch.category, 0) + len(batch)
        return out

    def file_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for batch in self.batches:
            out[batch.file] = out.get(batch.file, 0) + len(batch)
        return out


def read_url_file(chunks: Iterable[Sequence[str]], file: str, category: str
                  ) -> tuple[UrlBatch, list[tuple[int, str, str]]]:
    """Parse one rule file given as consecutive chunks of its lines: each item is a line without comment
    and edge spaces ("" for no entry), the first item of the first chunk line 1. Chunks keep the text of a
    1M-line file from being one list of a million strings. Returns the batch and its problems
    ``(line, reason, severity)`` in line order.

    The common line shapes (``FAST_LINE``) are handled inline, computing exactly what ``UrlBatch.add``
    computes for them; anything else goes through ``read_url_line`` and ``add``."""
    batch = UrlBatch(file, category)
    problems: list[tuple[int, str, str]] = []
    fast, xxh = FAST_LINE.fullmatch, xxh64_intdigest
    keys, lines, roots = batch.keys.append, batch.lines.append, batch.roots.append
    fb_host, fb_path, fb_len, fb_line = (batch.fb_host.append, batch.fb_path.append, batch.fb_len.append,
                                         batch.fb_line.append)
    dots = 0  # most dots in a host (labels - 1)
    domains = exact = prefix = 0
    number = 0
    seen = False  # any entry line at all
    for texts in chunks:
        seen = seen or any(texts)
        first = number + 1
        for number, text in enumerate(texts, start=first):  # noqa: B007 (runs on into the next chunk)
            if not text:
                continue
            found = fast(text)
            if found is None:
                kind, canonical, reason = read_url_line(text)
                if reason is not None:
                    problems.append((number, reason, "error"))
                else:
                    batch.add(number, kind, canonical)
                continue
            host = found[4]
            if host is not None:
                keys(xxh(host.encode(), _SEED_DOMAIN))
                lines(number)
                domains += 1
                count = host.count(".")
                if count > dots:
                    dots = count
                continue
            host, path = found[1], found[2].lower()  # match_form of a path of unreserved characters
            encoded = ("http://" + host + path).encode()
            if found[3]:
                keys(xxh(encoded, _SEED_PREFIX))
                roots(xxh(encoded[:7 + len(host)], ROOT_SEED))
                prefix += 1
            else:
                keys(xxh(encoded, _SEED_EXACT))
                exact += 1
            lines(number)
            count = host.count(".")
            if count > dots:
                dots = count
            fb_host(xxh(encoded[7:7 + len(host)], _SEED_DOMAIN) & 0xFFFFFFFF)
            fb_path(xxh(path.encode(), _PATH_SEED) & 0xFFFFFFFF)
            fb_len(len(path))
            fb_line(number)
    batch.max_line = number if seen else 0
    batch.max_labels = max(batch.max_labels, dots + 1 if domains or exact or prefix else 0)
    for kind, count in (("domain", domains), ("exact", exact), ("prefix", prefix)):
        batch.kinds[kind] += count
    duplicates = batch.drop_duplicates()
    if duplicates:
        problems = sorted(problems + duplicates)
    return batch, problems


def build_table(entries: Sequence[Entry] | UrlEntries) -> UrlTable:
    """The sorted table of ``entries``; ValueError names the rule id of an invalid entry."""
    builder = TableBuilder()
    batches = entries.batches if isinstance(entries, UrlEntries) else _batches(entries)
    for batch in batches:
        base = builder.add_file(batch.file, batch.category, batch.max_line, len(batch))
        builder.add_rows(base, np.asarray(batch.keys, dtype=np.uint64), np.asarray(batch.lines, dtype=np.uint64),
                         np.asarray(batch.roots, dtype=np.uint64),
                         tuple(np.asarray(c, dtype=np.uint64) for c in  # type: ignore[arg-type]
                               (batch.fb_host, batch.fb_path, batch.fb_len, batch.fb_line)))
        builder.max_labels = max(builder.max_labels, batch.max_labels)
        for kind, count in batch.kinds.items():
            builder.kinds[kind] += count
    return builder.build()


def _batches(entries: Sequence[Entry]) -> list[UrlBatch]:
    """Entries grouped by (file, category) in order of first appearance; the line from ``path:line``."""
    groups: dict[tuple[str, str], UrlBatch] = {}
    for entry in entries:
        kind, canonical, reason = parse_url_line(entry.value)
        if reason:
            raise ValueError(f"{entry.rule_id}: {reason}")
        file, _, line = entry.rule_id.rpartition(":")
        if not (file and line.isascii() and line.isdigit() and str(int(line)) == line and int(line) > 0):
            file, line = entry.rule_id, "0"
        batch = groups.get((file, entry.category))
        if batch is None:
            batch = groups[(file, entry.category)] = UrlBatch(file, entry.category)
        number = int(line)
        batch.add(number, kind, canonical)
        batch.max_line = max(batch.max_line, number)
    return list(groups.values())
