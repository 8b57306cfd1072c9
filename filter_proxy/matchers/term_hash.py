"""xxh64 of many short byte strings at once, with numpy: the same 64-bit keys as ``xxhash.xxh64_intdigest``
(the matching side hashes one key at a time with it), computed column-wise over a padded byte matrix.

Why: a 1M-term rules directory hashes ~14M keys (phrases, joined phrases, word prefixes, split-word pieces,
wildcard cuts). One ``xxh64_intdigest`` call is cheap, but building each key as a Python ``bytes`` and
calling per key cost ~0.4 µs a key (~5 s of a 1M-term compile); here all keys of one length are hashed by
a few dozen array operations (tens of ns a key). ``tests/test_term_hash.py`` checks every function against
``xxh64_intdigest`` on generated strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xxhash import xxh64_intdigest

__all__ = ["xxh64_rows", "xxh64_many", "prefix_hashes", "suffix_hashes", "padded"]

_M64 = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
                           0x27D4EB2F165667C5)
P1, P2, P3, P4, P5 = (np.uint64(p) for p in (_P1, _P2, _P3, _P4, _P5))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _round(acc: np.ndarray, lane: np.ndarray) -> np.ndarray:
    return _rotl(acc + lane * P2, 31) * P1


def _lane64(data: np.ndarray, at: int) -> np.ndarray:
    return np.ascontiguousarray(data[:, at:at + 8]).view("<u8")[:, 0].astype(np.uint64, copy=False)


def _lane32(data: np.ndarray, at: int) -> np.ndarray:
    return np.ascontiguousarray(data[:, at:at + 4]).view("<u4")[:, 0].astype(np.uint64)


def xxh64_rows(data: np.ndarray, length: int, seed: int = 0) -> np.ndarray:
    """xxh64 (``seed``) of the first ``length`` bytes of every row of the ``uint8`` matrix ``data``."""
    n = data.shape[0]
    if length >= 32:
        v = [np.full(n, (seed + _P1 + _P2) & _M64, np.uint64), np.full(n, (seed + _P2) & _M64, np.uint64),
             np.full(n, seed & _M64, np.uint64), np.full(n, (seed - _P1) & _M64, np.uint64)]
        at = 0
        while at + 32 <= length:
            for i in range(4):
                v[i] = _round(v[i], _lane64(data, at + 8 * i))
            at += 32
        h = _rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)
        zero = np.zeros(n, np.uint64)
        for i in range(4):
            h = (h ^ _round(zero, v[i])) * P1 + P4
        h = h + np.uint64(length)
    else:
        h = np.full(n, (seed + _P5 + length) & _M64, np.uint64)
        at = 0
    zero = np.zeros(n, np.uint64)
    while at + 8 <= length:
        h = _rotl(h ^ _round(zero, _lane64(data, at)), 27) * P1 + P4
        at += 8
    if at + 4 <= length:
        h = _rotl(h ^ (_lane32(data, at) * P1), 23) * P2 + P3
        at += 4
    while at < length:
        h = _rotl(h ^ (data[:, at].astype(np.uint64) * P5), 11) * P1
        at += 1
    h = (h ^ (h >> np.uint64(33))) * P2
    h = (h ^ (h >> np.uint64(29))) * P3
    return h ^ (h >> np.uint64(32))


def padded(keys: Sequence[bytes], mark: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
    """(``uint8`` matrix with row i = ``mark + keys[i]`` zero-padded to a multiple of 8, lengths) for
    column-wise hashing (numpy's fixed-width bytes conversion pads in C: no Python loop over the keys)."""
    lens = np.fromiter(map(len, keys), np.int64, len(keys))
    w = int(lens.max()) if lens.size else 0
    lens += len(mark)
    total = max(w + len(mark), 8)
    total += -total % 8
    out = np.zeros((len(keys), total), np.uint8)
    if mark:
        out[:, :len(mark)] = np.frombuffer(mark, np.uint8)
    if w:
        out[:, len(mark):len(mark) + w] = np.array(keys, dtype=f"S{w}").view(np.uint8).reshape(len(keys), w)
    return out, lens


def _by_length(data: np.ndarray, lens: np.ndarray, seed: int) -> np.ndarray:
    out = np.empty(lens.size, np.uint64)
    if not lens.size:
        return out
    order = np.argsort(lens, kind="stable")
    sorted_lens = lens[order]
    bounds = np.flatnonzero(np.diff(sorted_lens)) + 1
    for group in np.split(order, bounds):
        length = int(lens[group[0]])
        out[group] = xxh64_rows(data[group], length, seed)
    return out


def xxh64_many(keys: Sequence[bytes], seed: int = 0, mark: bytes = b"") -> np.ndarray:
    """``[xxh64_intdigest(mark + k, seed) for k in keys]`` as a ``uint64`` array. Keys of one length are
    hashed together; lengths held by few keys are hashed one by one (cheaper than a pass of array ops)."""
    out = np.empty(len(keys), np.uint64)
    if not keys:
        return out
    lens = np.fromiter(map(len, keys), np.int64, len(keys))
    counts = np.bincount(lens)
    few = counts[lens] < 64
    if few.any():
        idx = np.flatnonzero(few)
        out[idx] = np.fromiter((xxh64_intdigest(mark + keys[i], seed) for i in idx.tolist()), np.uint64, idx.size)
        many = np.flatnonzero(~few)
        if not many.size:
            return out
        keys = [keys[i] for i in many.tolist()]
    else:
        many = None
    data, klens = padded(keys, mark=mark)
    hashed = _by_length(data, klens, seed)
    if many is None:
        return hashed
    out[many] = hashed
    return out


def prefix_hashes(data: np.ndarray, lens: np.ndarray, first: int, cut: int = 0
                  ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(m, keys, rows)`` blocks: the keys of every prefix ``data[row, :m]`` with ``first <= m <= lens[row] -
    cut`` (``data``: rows as ``padded`` makes them, the mark counted in ``lens``), one block per length."""
    blocks = []
    for m in range(first, int(lens.max(initial=0)) - cut + 1):
        sel = np.flatnonzero(lens - cut >= m).astype(np.int32)
        if sel.size:
            blocks.append((m, xxh64_rows(data[sel], m), sel))
    return blocks


def suffix_hashes(data: np.ndarray, lens: np.ndarray, mark: int, first: int, cut: int = 1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(keys, row) of ``bytes([mark]) + word[-n:]`` for every ``first <= n <= len(word) - cut`` of each row
    (``data``: the unmarked words as ``padded`` makes them, ``lens`` their lengths)."""
    keys, rows = [], []
    for n in range(first, int(lens.max(initial=0)) - cut + 1):
        sel = np.flatnonzero(lens - cut >= n)
        if not sel.size:
            continue
        block = np.zeros((sel.size, n + 1 + (-(n + 1) % 8)), np.uint8)
        block[:, 0] = mark
        cols = (lens[sel] - n)[:, None] + np.arange(n)[None, :]
        block[:, 1:n + 1] = data[sel[:, None], cols]
        keys.append(xxh64_rows(block, n + 1))
        rows.append(sel)
    if not keys:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(rows)
