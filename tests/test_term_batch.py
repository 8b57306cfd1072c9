"""Term lines read in bulk (``term_batch``, keys hashed with numpy by ``term_hash``) give exactly what the
line-by-line reading gives: the same keys, the same normalised phrases, the same index bytes and the same
problems for a whole rules directory."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from xxhash import xxh64_intdigest

from filter_proxy.matchers import term_batch
from filter_proxy.matchers.term_build import prefix_keys
from filter_proxy.matchers.term_forms import ordinary_words, piece_key, piece_keys
from filter_proxy.matchers.term_hash import padded, prefix_hashes, suffix_hashes, xxh64_many
from filter_proxy.normalize import words
from filter_proxy.rules.sources import build_indexes, read_sources
from filter_proxy.signals import term_lines
from tests.test_term_build import lines as mixed_lines
from tests.test_term_build import write_dir

ORDINARY = sorted(w for w in ordinary_words() if w.isascii() and w.isalpha() and len(w) >= 3)[:400]


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.binary(max_size=80), max_size=300), seed=st.sampled_from([0, 1, 7]),
       mark=st.sampled_from([b"", b"\x01", b"\x02"]), repeat=st.integers(1, 70))
def test_numpy_xxh64_is_xxhash(keys: list[bytes], seed: int, mark: bytes, repeat: int) -> None:
    keys = keys + [k[: len(k) // 2] for k in keys] * repeat  # lengths shared by many keys: the array path
    got = xxh64_many(keys, seed, mark=mark)
    assert got.dtype == np.uint64
    assert got.tolist() == [xxh64_intdigest(mark + k, seed) for k in keys]


letters = st.text("abcdefgilmnoz", min_size=1, max_size=30).map(str.encode)


@settings(max_examples=60, deadline=None)
@given(st.lists(letters, min_size=1, max_size=200))
def test_prefix_and_suffix_hashes_are_the_pieces_and_cuts_of_each_word(found: list[bytes]) -> None:
    data, lens = padded(found, mark=term_batch.PIECE_MARK)
    pieces = sorted((int(k), int(r)) for _, keys, rows in prefix_hashes(data, lens, 3, cut=1)
                    for k, r in zip(keys, rows, strict=True))
    assert pieces == sorted((k, i) for i, w in enumerate(found) for k in piece_keys(w.decode()))
    assert piece_key("abc") == xxh64_intdigest(term_batch.PIECE_MARK + b"abc")
    cuts_k, cuts_r = term_batch.single_cuts(b"\n".join(found), np.arange(len(found), dtype=np.uint32), len(found))
    assert sorted(zip(cuts_k.tolist(), cuts_r.tolist(), strict=True)) == sorted(
        (k, i) for i, w in enumerate(found) for k in prefix_keys(w.decode()))
    wdata, wlens = padded(found)
    ends_k, ends_r = suffix_hashes(wdata, wlens, 2, 5, cut=1)
    assert sorted(zip(ends_k.tolist(), ends_r.tolist(), strict=True)) == sorted(
        (xxh64_intdigest(b"\x02" + w[-n:]), i) for i, w in enumerate(found) for n in range(5, len(w)))


ascii_word = st.one_of(st.text("abcilLIoOsSzZ", min_size=1, max_size=12), st.sampled_from(ORDINARY),
                       st.text("abcl", min_size=1, max_size=1))
ascii_line = st.lists(ascii_word, min_size=1, max_size=15).flatmap(
    lambda ws: st.lists(st.sampled_from([" ", "  ", "   "]), min_size=len(ws) - 1, max_size=len(ws) - 1).map(
        lambda gaps: ws[0] + "".join(g + w for g, w in zip(gaps, ws[1:], strict=True))))


@settings(max_examples=80, deadline=None)
@given(st.lists(ascii_line, min_size=1, max_size=60))
def test_bulk_normalisation_is_words(texts: list[str]) -> None:
    assert all(term_batch.simple_lines(texts))
    phrases, odd = term_batch.normalise(texts)
    for i, (text, phrase) in enumerate(zip(texts, phrases, strict=True)):
        found = words(text)
        if i in odd:  # left to the line-by-line reading: spelled-out letters joined, or too many words
            assert len(found) > 12 or len(text.split()) != len(found) or len(phrase.split(b" ")) >= 12
            continue
        assert phrase == " ".join(found).encode()
    assert not any(term_batch.simple_lines(["", "zqx-blocked", "zqx2", "é", "~zqxab", " a"]))


def _read(root: Path, bulk: bool) -> tuple[tuple[bytes, list[str], dict[str, list[str]]], int]:
    runs = []
    original = term_lines.TermEntries._add_run

    def counted(self: term_lines.TermEntries, *args: object) -> None:
        runs.append(1)
        original(self, *args)

    with mock.patch.object(term_lines, "_MIN_RUN", 64 if bulk else 10**9), \
            mock.patch.object(term_lines.TermEntries, "_add_run", counted):
        sources = read_sources(root)
        data = build_indexes(sources)["terms"].to_bytes()
    others = {name: sorted(e.value for e in sources.entries[name]) for name in ("all", "weighted")}
    return (bytes(data), [str(p) for p in sources.problems], others), len(runs)


line_mix = st.one_of(ascii_line, mixed_lines(),
                     st.sampled_from(["all: zqxone zqxtwo", "weight=3 zqx phrase", "!!!", "# note", "",
                                      "zqx-blocked", "Zqx Blocked", "a b c zqx", "zqxabc  # comment"]))
# A file: runs of plain ASCII lines long enough to be read in bulk (mostly words of two letters or more, as
# lists hold: spelled-out letters and long lines end a run), between a few lines of every other kind.
run_word = st.one_of(st.text("abcilLIoOsSzZ", min_size=1, max_size=10).map(lambda w: "Zq" + w),
                     st.sampled_from(ORDINARY))
run_line = st.lists(run_word, min_size=1, max_size=4).map(" ".join)
term_file = st.lists(st.tuples(st.lists(run_line, min_size=64, max_size=90), st.lists(line_mix, max_size=8)),
                     min_size=1, max_size=3).map(lambda blocks: [x for run, rest in blocks for x in run + rest])


@settings(max_examples=12, deadline=None)
@given(files=st.lists(term_file, min_size=2, max_size=2), repeats=st.lists(st.integers(0, 10**6), max_size=10))
def test_directory_read_in_bulk_is_byte_for_byte_the_line_by_line_read(files: list[list[str]],
                                                                        repeats: list[int]) -> None:
    for r in repeats:  # duplicates, some within bulk runs, some across a bulk and a line-by-line line
        content = files[r % 2]
        content.insert(r % (len(content) + 1), content[(r // 7) % len(content)])
    with tempfile.TemporaryDirectory() as tmp:
        root = write_dir(Path(tmp), files)
        bulk, runs = _read(root, bulk=True)
        assert runs  # the premise: some lines were read in bulk
        assert bulk == _read(root, bulk=False)[0]
