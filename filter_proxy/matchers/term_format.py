"""The bytes of a term index (``TermIndex.to_bytes`` / ``from_bytes``): format ``FPTERMS4``.

``FPTERMS4`` + header (seven little-endian uint64: JSON length, plain rows, hashed rows, bitmap bytes, piece
bitmap bytes, rule lines, rule runs) + JSON meta (padded to 8 bytes) + 8-byte-aligned arrays: plain keys
and rule numbers, hashed keys and rule numbers, rule lines, rule runs (start, category, file), the bitmap
and the piece bitmap. Read without copying: the arrays view the buffer. Format 4: the piece bitmap also
marks phrases' last words (their plural endings are read); a format-3 index lacks those marks, so it would
read less than its rules say and is refused like the older ones. Format 3: rows hold rule numbers
(12 bytes, not 18); 2: joined/skeleton/piece keys; older formats are refused with a "recompile" message.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from filter_proxy.matchers.term_table import Rules, Table

__all__ = ["MAGIC", "parts", "read"]

MAGIC = b"FPTERMS4"


def parts(meta: dict, plain: Table, hashed: Table, bitmap: bytes | memoryview,
          pieces: bytes | memoryview) -> list[bytes | memoryview]:
    """The index as the buffers to write one after another (views of the arrays, no copy)."""
    rules = plain.rules
    if hashed.keys.size and hashed.rules is not rules:
        raise ValueError("the plain and hashed tables of a term index must share their rules")
    head = json.dumps(meta, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    bits, piece_bits = np.frombuffer(bitmap, np.uint8), np.frombuffer(pieces, np.uint8)
    arrays = [*plain.arrays(), *hashed.arrays(), *rules.arrays(), bits, piece_bits]
    out = [MAGIC, struct.pack("<QQQQQQQ", len(head), plain.keys.size, hashed.keys.size, bits.size, piece_bits.size,
                              len(rules), rules.starts.size), head]
    for arr in arrays:
        raw = memoryview(np.ascontiguousarray(arr)).cast("B")
        out.append(raw)
        if -raw.nbytes % 8:
            out.append(b"\0" * (-raw.nbytes % 8))
    return out


def read(data: bytes | memoryview) -> tuple[dict, Table, Table, np.ndarray, np.ndarray]:
    """(meta, plain table, hashed table, bitmap, piece bitmap) viewing ``data``; ValueError when damaged."""
    view = memoryview(data).cast("B")
    if bytes(view[:7]) == MAGIC[:7] and bytes(view[:8]) != MAGIC:
        raise ValueError(f"term index format {bytes(view[7:8]).decode('ascii', 'replace')} is not supported "
                         f"(this filter-proxy reads format {MAGIC[7:].decode()}): recompile the bundle with "
                         "`filter-proxy rules compile`")
    if bytes(view[:8]) != MAGIC:
        raise ValueError("not a term index (bad magic)")
    try:
        meta_len, n_plain, n_hashed, n_bitmap, n_pieces, n_rules, n_runs = struct.unpack_from("<QQQQQQQ", view, 8)
        offset = 64
        meta = json.loads(bytes(view[offset:offset + meta_len]))
        offset += meta_len
        out = []
        for count, dtype in ((n_plain, np.uint64), (n_plain, np.uint32), (n_hashed, np.uint64),
                             (n_hashed, np.uint32), (n_rules, np.uint32), (n_runs, np.uint32),
                             (n_runs, np.uint16), (n_runs, np.uint32), (n_bitmap, np.uint8),
                             (n_pieces, np.uint8)):
            arr = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
            offset += -(-arr.nbytes // 8) * 8
            out.append(arr)
        meta["entries"]  # noqa: B018 -- the header must say how many entries it holds
        plain_rule, hashed_rule, starts = out[1], out[3], out[5]
        if (plain_rule.size and int(plain_rule.max()) >= n_rules) or (
                hashed_rule.size and int(hashed_rule.max()) >= n_rules) or (n_rules and (
                not starts.size or int(starts[0]) != 0 or int(starts.max()) >= n_rules)):
            raise ValueError("rule numbers out of range")
    except (ValueError, struct.error, json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"damaged term index: {exc}") from exc
    rules = Rules(*out[4:8])
    return meta, Table(out[0], out[1], rules), Table(out[2], out[3], rules), out[8], out[9]
