"""The arrays behind ``UrlIndex``: hashed canonical keys, compact line ids, a first-stage bitmap.

Keys. Every entry is one 64-bit key, ``xxh64`` of its canonical form with a seed per kind (exact page, path
prefix, domain), so the kinds never meet. The keys are one sorted ``uint64`` array; beside it a ``uint32``
line id per key (a rule file's base plus the line number), from which the rule id ``path:line`` and the
category come back through a small table of files. A lookup hashes the few keys a URL can match (the page,
the page without its query, each path prefix, each parent domain) and checks each against a two-probe
bitmap (a power of two, 10-20 bits a key: 0.7-2.6 % false positives; 2 MB at 1M entries); only a bitmap
hit is searched for in the sorted keys (one ``bisect`` over a memoryview of the array, no numpy call and
no per-entry Python object). The bitmap also holds ``scheme://netloc`` of every prefix entry (``ROOT_SEED``),
so a URL on a host without prefix entries skips the walk along its path.

False matches. Two different canonical keys share a 64-bit hash with probability 2^-64 per pair: at 1M
entries a lookup key hits some other entry's hash with probability ~1e6 / 1.8e19 = 5.4e-14, so a URL
(up to ~10 keys) is falsely matched with probability below ~5e-13, about one URL in 2e12 screened. A
false match blocks a benign URL (it can never let a listed one through). Two lines of one file are taken
for duplicates only when their keys are equal (same bound; the warning names both lines).

Fallback (URLs that cannot be canonicalised, ``signals.urls``): every http page and prefix entry also has a
row of four ``uint32`` columns sorted by the low 32 bits of its host's domain key: the hash and length of its path as the
fallback reads text (``fallback_text``), and its line id. A host found in the text leads to its rows; a row
matches when its path occurs in the text (a hash of the text at each ``/`` with the row's length).

Layout (little-endian): ``FPURLS3\\0``, u32 header length, JSON header (files with their category, base
line id and entry count; counts per kind; bitmap size; the most labels of a listed host), then the arrays,
each 8-byte aligned: keys u64, ids u32, fallback host / path / length / id u32, bitmap. Memory at 1M
entries (a third each domains, prefixes, pages): 12 MB keys and ids, 10.7 MB fallback rows, 2 MB bitmap.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

import numpy as np
from xxhash import xxh64_intdigest

__all__ = ["SEEDS", "ROOT_SEED", "UrlTable", "TableBuilder", "key_of", "path_hash"]

MAGIC = b"FPURLS3\0"  # 3: page and prefix keys in url_canon.match_form (paths in any case)
_HEAD = struct.Struct("<8sI")
SEEDS = {"exact": 0x5EED_0E1A_C7, "prefix": 0x5EED_0F1F_E7, "domain": 0x5EED_0D0A_17}
ROOT_SEED = 0x5EED_0200_75  # "scheme://netloc" of a prefix entry: only in the bitmap, gates prefix probes
_PATH_SEED = 0x5EED_0FA7_B5
_BITS_PER_KEY = 10  # at least; the bitmap is a power of two (10-20 bits a key, 0.7-2.6 % false positives)
NO_LINE = 0  # line 0: the rule id is the file alone (an Entry whose rule id has no ":line")
HOST_SCAN = 12288  # fallback rows looked at per host (a bound on hostile or huge per-host lists)


def key_of(kind: str, canonical: str) -> int:
    return xxh64_intdigest(canonical.encode(), SEEDS[kind])


def path_hash(text: str) -> int:
    return xxh64_intdigest(text.encode("utf-8", "surrogatepass"), _PATH_SEED) & 0xFFFFFFFF


def _align(offset: int) -> int:
    return offset + (-offset % 8)


class UrlTable:
    """The loaded arrays (views into the bytes they were read from, or fresh arrays after a build)."""

    __slots__ = ("keys", "ids", "fb_host", "fb_path", "fb_len", "fb_id", "bits", "nbits", "mask", "files",
                 "bases", "counts", "max_labels", "kinds", "_data")

    def __init__(self, arrays: dict[str, Any], header: dict[str, Any], data: Any = None) -> None:
        self._data = data  # keeps the buffer the views point into alive
        self.keys, self.ids = arrays["keys"], arrays["ids"]
        self.fb_host, self.fb_path = arrays["fb_host"], arrays["fb_path"]
        self.fb_len, self.fb_id = arrays["fb_len"], arrays["fb_id"]
        self.bits = bytes(arrays["bits"])  # a copy (2 MB at 1M entries): bytes index faster than a memoryview
        self.nbits = int(header["bits"])
        if self.nbits & (self.nbits - 1) or self.nbits < 8 or len(self.bits) * 8 != self.nbits:
            raise ValueError("bitmap size is not a power of two")
        self.mask = self.nbits - 1
        sources = header["sources"]
        self.files = [(str(f), str(c)) for f, c, _, _ in sources]
        self.bases = [int(b) for _, _, b, _ in sources]
        self.counts = [int(n) for _, _, _, n in sources]
        self.max_labels = int(header["max_labels"])
        self.kinds = {str(k): int(v) for k, v in header["kinds"].items()}

    # -- lookups --------------------------------------------------------------------------------------
    def maybe(self, key: int) -> bool:
        """Whether the bitmap may hold ``key`` (no false negatives)."""
        bits, mask = self.bits, self.mask
        at = key & mask
        if not bits[at >> 3] >> (at & 7) & 1:
            return False
        at = key >> 32 & mask
        return bool(bits[at >> 3] >> (at & 7) & 1)

    def lookup(self, keys: list[int]) -> list[int]:
        """The line ids listed under any of ``keys``, in the order of ``keys`` (usually none: nearly every
        key stops at the bitmap)."""
        bits, mask = self.bits, self.mask
        out: list[int] = []
        for key in keys:
            at = key & mask
            if bits[at >> 3] >> (at & 7) & 1:
                at = key >> 32 & mask
                if bits[at >> 3] >> (at & 7) & 1:
                    out += self.rows(key)
        return out

    def rows(self, key: int) -> list[int]:
        """The line ids listed under ``key`` (a search of the sorted keys)."""
        keys = self.keys
        i = bisect_left(keys, key)
        out = []
        while i < len(keys) and keys[i] == key:
            out.append(self.ids[i])
            i += 1
        return out

    def fallback_rows(self, host_key: int) -> list[tuple[int, int, int]]:
        """(path hash, path length, line id) of the http page and prefix entries on the host whose domain
        key (``key_of("domain", host)``) is ``host_key``: the fallback rows are sorted by its low 32 bits."""
        fb_host = self.fb_host
        want = host_key & 0xFFFFFFFF
        i = bisect_left(fb_host, want)
        end = min(len(fb_host), i + HOST_SCAN)
        out = []
        while i < end and fb_host[i] == want:
            out.append((self.fb_path[i], self.fb_len[i], self.fb_id[i]))
            i += 1
        return out

    def rule(self, line_id: int) -> tuple[str, str]:
        """(category, rule id) of a line id."""
        source = bisect_right(self.bases, line_id) - 1
        file, category = self.files[source]
        line = line_id - self.bases[source]
        return category, (f"{file}:{line}" if line != NO_LINE else file)

    def __len__(self) -> int:
        return len(self.keys)

    def category_sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, category), count in zip(self.files, self.counts, strict=True):
            out[category] = out.get(category, 0) + count
        return out

    # -- bytes ----------------------------------------------------------------------------------------
    _ORDER = (("keys", "Q", 8), ("ids", "I", 4), ("fb_host", "I", 4), ("fb_path", "I", 4), ("fb_len", "I", 4),
              ("fb_id", "I", 4), ("bits", "B", 1))

    def to_bytes(self) -> bytes:
        header = {"rows": len(self.keys), "fallback": len(self.fb_host), "bits": self.nbits,
                  "sources": [[f, c, b, n] for (f, c), b, n in zip(self.files, self.bases, self.counts, strict=True)],
                  "max_labels": self.max_labels, "kinds": self.kinds}
        head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        head += b" " * (-(len(head) + _HEAD.size) % 8)
        chunks = [_HEAD.pack(MAGIC, len(head)), head]
        for name, code, _ in self._ORDER:
            value = getattr(self, name)
            data = value if isinstance(value, bytes) else np.asarray(value, dtype={"Q": "<u8", "I": "<u4"}[code]).tobytes()
            chunks.append(data + b"\0" * (-len(data) % 8))
        return b"".join(chunks)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> UrlTable:
        view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
        if len(view) < _HEAD.size:
            raise ValueError("truncated")
        magic, head_len = _HEAD.unpack_from(view)
        if magic != MAGIC:
            raise ValueError("bad magic (a URL index of another format: recompile the bundle)")
        offset = _HEAD.size + head_len
        header = json.loads(bytes(view[_HEAD.size:offset]))
        sizes = {"keys": header["rows"], "ids": header["rows"], "bits": (int(header["bits"]) + 7) // 8,
                 **{name: header["fallback"] for name in ("fb_host", "fb_path", "fb_len", "fb_id")}}
        arrays: dict[str, Any] = {}
        swap = sys.byteorder != "little"
        for name, code, width in cls._ORDER:
            length = int(sizes[name]) * width
            if length < 0 or offset + length > len(view):
                raise ValueError(f"truncated ({name})")
            part = view[offset:offset + length]
            if swap and width > 1:  # the arrays are little-endian on disk
                part = memoryview(np.frombuffer(part, dtype=f"<u{width}").astype(f"=u{width}").tobytes())
            arrays[name] = _view(part, code)
            offset = _align(offset + length)
        return cls(arrays, header, data)


class TableBuilder:
    """Collects rows (file by file or entry by entry) and sorts them into a ``UrlTable``."""

    def __init__(self) -> None:
        self._files: list[tuple[str, str]] = []
        self._bases: list[int] = []
        self._counts: list[int] = []
        self._next = 0
        self._keys: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self._roots: list[np.ndarray] = []
        self._fb: list[tuple[np.ndarray, ...]] = []
        self.max_labels = 0
        self.kinds = {"exact": 0, "prefix": 0, "domain": 0}

    def add_file(self, file: str, category: str, max_line: int, count: int) -> int:
        """Register one rule file (its lines 1..max_line); returns its base line id."""
        base = self._next
        self._next = base + max_line + 1
        if self._next > 0xFFFFFFFF:
            raise ValueError(f"{file}: too many URL list lines for 32-bit line ids")
        self._files.append((file, category))
        self._bases.append(base)
        self._counts.append(count)
        return base

    def add_rows(self, base: int, keys: np.ndarray, lines: np.ndarray, roots: np.ndarray,
                 fallback: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        """``keys``/``lines`` co-indexed; ``roots`` (prefix gates); ``fallback``: host, path, length, line."""
        self._keys.append(np.asarray(keys, dtype=np.uint64))
        self._ids.append(np.asarray(lines, dtype=np.uint64) + np.uint64(base))
        self._roots.append(np.asarray(roots, dtype=np.uint64))
        host, path, length, line = fallback
        self._fb.append((np.asarray(host, dtype=np.uint32), np.asarray(path, dtype=np.uint32),
                         np.asarray(length, dtype=np.uint32), np.asarray(line, dtype=np.uint64) + np.uint64(base)))

    def build(self) -> UrlTable:
        def cat(parts: Iterable[np.ndarray], dtype: Any) -> np.ndarray:
            parts = list(parts)
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        keys, ids = cat(self._keys, np.uint64), cat(self._ids, np.uint32)
        order = _order(keys, ids)
        keys, ids = keys[order], ids[order]
        fb = [cat((f[i] for f in self._fb), np.uint32) for i in range(4)]
        fb_order = np.argsort((fb[0].astype(np.uint64) << np.uint64(32)) | fb[3])  # by host, then line id
        fb = [column[fb_order] for column in fb]
        roots = cat(self._roots, np.uint64)
        nbits = 1 << max(10, (_BITS_PER_KEY * (len(keys) + len(roots))).bit_length())
        bits = _bitmap(np.concatenate([keys, roots]), nbits)
        header = {"bits": nbits, "max_labels": self.max_labels, "kinds": self.kinds,
                  "sources": [[f, c, b, n] for (f, c), b, n in zip(self._files, self._bases, self._counts,
                                                                    strict=True)]}
        arrays = {"keys": _view(keys, "Q"), "ids": _view(ids, "I"), "fb_host": _view(fb[0], "I"),
                  "fb_path": _view(fb[1], "I"), "fb_len": _view(fb[2], "I"), "fb_id": _view(fb[3], "I"),
                  "bits": _view(bits, "B")}
        return UrlTable(arrays, header, (keys, ids, fb, bits))


def _order(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The order by key, then line id (file order, line order): one quicksort of the keys, which are nearly
    all distinct (3x faster than lexsort at 1M rows); lexsort only when some keys repeat."""
    order = np.argsort(keys)
    ordered = keys[order]
    if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
        order = np.lexsort((ids, keys))
    return order


def _bitmap(keys: np.ndarray, nbits: int) -> np.ndarray:
    """Two probes per key: its low bits and its bits from 32 up (nbits is a power of two), packed
    little-endian within bytes."""
    flags = np.zeros(nbits, dtype=bool)
    mask = np.uint64(nbits - 1)
    flags[(keys & mask).astype(np.int64)] = True
    flags[((keys >> np.uint64(32)) & mask).astype(np.int64)] = True
    return np.packbits(flags, bitorder="little")


def _view(buffer: Any, code: str) -> Any:
    """A flat view of ``buffer`` as ``code`` items (an empty array when it is empty: a memoryview of zero
    length cannot be cast)."""
    view = memoryview(buffer).cast("B")
    return view.cast(code) if len(view) else array(code)
