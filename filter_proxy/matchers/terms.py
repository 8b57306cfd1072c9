"""Blocked terms and phrases: entry syntax, validation and a compact, fast index.

Entry syntax (one per line in ``rules/terms/<category>.txt``; the loader strips comments and blanks):

- ``forbidden phrase alpha``: a phrase, matched on whole normalised words (``filter_proxy.normalize``), so
  disguises are undone and ``zqxab`` never matches inside ``zqxabulous``. At most 12 words / 200 chars.
- ``~zqxcoined``: a substring entry, matched inside longer words too. It must normalise to one word of at
  least 5 characters (shorter ones would hit ordinary words).
- ``sha256:<64 hex>``: a hashed phrase, the SHA-256 of the UTF-8 of the *normalised* phrase (``filter-proxy
  rules hash "..."`` prints it). Hashed phrases of up to ``HASHED_MAX_WORDS`` words are matched. Hashed
  substring entries (``~sha256:``) are refused: matching them would mean hashing every substring.

Allow-list phrases (``rules/allow/*.txt``) are normalised the same way; an allow-phrase occurrence whose
words cover a match's words cancels that match.

Index design (DESIGN §10, chosen by measurement on a 2-core box):

- Every plain phrase has a 64-bit key, ``xxh64`` of its normalised form (~0.2 µs per key). The exact stage
  is a sorted ``uint64`` array of those keys with a co-sorted ``uint32`` rule number (``term_table``: 12 bytes a row),
  loaded zero-copy with ``np.frombuffer``. A 64-bit collision with 1M entries has odds ~1e-13 per n-gram.
- The first stage is a two-probe bloom bitmap over the phrase keys *and all their proper word prefixes*,
  whose probe positions are two slices of the key itself. A pybloom-live lookup re-hashes in Python
  (~1.5-4 µs); this probe costs ~0.1 µs, so the hot path walks the text word by word, extends an n-gram
  only while the bitmap says "maybe a prefix", and confirms the few survivors with one vectorised
  ``np.searchsorted``. A clean field costs about one key and one probe per word.
- Per-word cache (match_words 10.3 -> 0.9 µs for a 14-word field, 100k terms): the first stage's unigram
  answer (the word's key if it passes the bitmap, else ``_FAIL``) per normalised word, in a dict bounded at
  ``_KNOWN_MAX`` entries (cleared whole when full: ordinary words recur). A clean field is one C-level
  ``map(dict.get)`` plus a ``count``. The cache holds single normalised words, never a whole text.
- Hashed phrases cannot be walked by prefix: every n-gram up to ``HASHED_MAX_WORDS`` is SHA-256'd and
  searched in a sorted array of the hashes' first 8 bytes (slower; only when hashed entries exist).
- Other written forms (``term_forms``): joined phrases and other-script skeletons are extra keys of the same
  row; split words are glued at match time after a word that passes a second, looser bitmap of listed
  words' prefixes (two ordinary words are never glued); hashtag/handle words are segmented (``reading.reading``).
  Built in one streaming pass by ``term_build``; bytes: ``term_format`` (``FPTERMS4``).
- A page's strings at once: ``match_many`` on ``term_page.clean`` (and its compiled kernel).
- Substring entries sit in a small dict keyed by their first 5 characters, probed with every 5-character
  window of every word. They are meant for a few distinctive coined terms, not for bulk lists.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

import numpy as np
from xxhash import xxh64_intdigest

from filter_proxy.matchers import term_format
from filter_proxy.matchers.term_build import PREFIX_MARK, PREFIX_MIN_LETTERS, SUFFIX_MARK, TermBuilder
from filter_proxy.matchers.term_entries import (
    HASHED_MAX_WORDS,
    MAX_CHARS,
    MAX_WORDS,
    MIN_SUBSTRING,
    TermEntry,
    TermMatch,
    parse_term_line,
    parse_term_words,
    sha_key,
    term_key,
    validate_term,
)
from filter_proxy.matchers.term_forms import (
    ENDING_LAST,
    FAIL,
    MAX_CUTS,
    MIN_PIECE,
    PHRASE_STEM_MIN,
    PIECE,
    PIECE_ORDINARY,
    STEM,
    Segmenter,
    glue,
    last_key,
    ordinary_words,
    piece_key,
    plural_of,
    stem_candidates,
)
from filter_proxy.matchers.term_hash import xxh64_many
from filter_proxy.matchers.term_page import CLEAN, MATCHED, WORDS, clean, kernel_matcher, kernel_tables
from filter_proxy.matchers.term_table import Table
from filter_proxy.normalize import _words
from filter_proxy.reading import glued_words, reading

__all__ = ["TermEntry", "TermMatch", "TermIndex", "parse_term_line", "validate_term", "term_key",
           "HASHED_MAX_WORDS", "MAX_WORDS", "MAX_CHARS", "MIN_SUBSTRING"]

_FAIL, _PIECE, _PIECE_ORDINARY, _STEM = FAIL, PIECE, PIECE_ORDINARY, STEM  # first-stage answers (term_forms)
_NO_SPAN = (-1, -1)  # a match inside a hashtag/handle word: no allow phrase covers it
_KNOWN_MAX = 1 << 15  # per-index cache of first-stage answers per normalised word


_PREFIX_MARK = "\x01"  # the mark of wildcard-cut keys (term_build.PREFIX_MARK)
_SUFFIX_MARK = "\x02"  # the mark of wildcard-cut ends (term_build.SUFFIX_MARK)


class TermIndex:
    """Whole-word phrase, hashed phrase and substring matching with allow-list cancellation."""

    def __init__(self, meta: dict, plain: Table, hashed: Table, bitmap: np.ndarray, pieces: np.ndarray) -> None:
        self._meta = meta
        self._categories: list[str] = meta["categories"]
        self._files: list[str] = meta["files"]
        self._max_words: int = meta["max_words"]
        self._plain, self._hashed = plain, hashed
        # The plain keys as Python ints by bisection: a page's few candidates cost less than numpy's call
        # overhead (``_rows``; numpy's vectorised search for many).
        self._plain_view = memoryview(np.ascontiguousarray(plain.keys))
        self._bitmap = bitmap.tobytes() if bitmap.size <= (1 << 16) else memoryview(bitmap)
        self._mask = int(bitmap.size * 8 - 1)
        # Second, looser bitmap: exact proper prefixes (>= MIN_PIECE letters) of listed single words.
        self._pieces = pieces.tobytes() if pieces.size <= (1 << 16) else memoryview(pieces)
        self._piece_mask = int(pieces.size * 8 - 1)
        self._glued: dict[str, tuple[int, bool]] = {}  # glued pieces -> (key or _FAIL, may be extended)
        self._tag_keys: dict[str, list[int]] = {}  # hashtag/handle word -> its keys that pass the first stage
        self._substrings: dict[str, list[tuple[str, int]]] = {}
        for text, row in meta["substrings"]:
            self._substrings.setdefault(text[:MIN_SUBSTRING], []).append((text, row))
        self._sub_rows: list[tuple[int, int, int]] = [tuple(r) for r in meta["substring_rows"]]
        self._known: dict[str, int] = {}  # normalised word -> key if its unigram passes the bitmap, else _FAIL
        self._stems: dict[str, tuple[str, ...]] = {}  # a _STEM word -> its stems (cleared with ``_known``)
        self._classes: dict[str, int] = {}  # raw ASCII token -> what the first stage makes of it (term_page)
        self._chunks: dict[str, bool] = {}  # whitespace-free chunk -> its glued words may pass (term_page)
        self._row_matches: dict[int, tuple[tuple[int, int, int], TermMatch]] = {}  # plain row -> its match
        self._kernel = kernel_tables()  # the same two answers for the compiled pass (None: not built)
        # The compiled pass also matches the strings whose words it reads, from the same bitmaps and keys.
        self._matcher = kernel_matcher(self._bitmap, self._mask, self._pieces, self._piece_mask,
                                       self._plain_view, self._max_words)
        self._ordinary = ordinary_words()  # loaded once per process (~0.2 s), shared by every index
        self._segmenter = Segmenter(self._ordinary)
        self._allow: dict[int, set[str]] = {}
        for phrase in meta["allow"]:
            self._allow.setdefault(phrase.count(" ") + 1, set()).add(phrase)

    # -- building -------------------------------------------------------------------------------------

    @classmethod
    def build(cls, entries: Iterable[TermEntry], allow: Sequence[str] = (),
              error_rate: float = 0.001) -> TermIndex:
        """Index ``entries``; ValueError names the rule id of an invalid entry (``term_build``)."""
        builder = TermBuilder(error_rate)
        for entry in entries:
            text, substring, reason, found = parse_term_words(("~" if entry.substring else "") + entry.text)
            if reason:
                raise ValueError(f"{entry.rule_id}: {reason}")
            builder.add_entry(text, substring, entry.category, entry.rule_id, found)
        return cls(*builder.finish(allow))

    # -- matching -------------------------------------------------------------------------------------

    _PLURALS = True  # a listed word with a plural ending matches (``_stem``); not for combination words

    def match(self, text: str) -> list[TermMatch]:
        """Matches in ``text``: its words, its alternate reading (edge symbols as letters) and the
        segmented words of its hashtags and handles (``normalize.reading``)."""
        read = reading(text)
        found = self._found(read.words, read.tagged, read.glued)
        if read.alternate is not None:
            found += self._found(read.alternate, ())
        return self._to_matches(found) if found else []

    def match_many(self, texts: Sequence[str]) -> list[list[TermMatch]]:
        """``[self.match(t) for t in texts]`` for the strings of a page: the strings that certainly match
        nothing are found for the whole page at once (``term_page.clean``); a string without ``@ | ! #``
        is matched on its words and glued words without the rest of ``reading``; the others by ``match``."""
        if self._hashed.keys.size or self._substrings:
            return [self.match(text) for text in texts]
        page = clean(self, texts, self._matcher)
        states = page.states
        out: list[list[TermMatch]] = [[] for _ in states]
        if states.count(CLEAN) == len(states):  # the common page: nothing to read
            return out
        triple, row_matches = self._plain.triple, self._row_matches
        for i, state in enumerate(states):
            if state == CLEAN:
                continue
            text = texts[i]
            if state == MATCHED:  # the kernel's rows: ``_found``'s, before the allow list
                if self._allow:
                    found = [(start, end, *triple(row)) for start, end, row in page.rows[i]]
                    found = self._cancel_allowed(_words(text, True), found)
                    out[i] = self._to_matches(found) if found else []
                else:  # ``_to_matches`` from each row's (rule, match), kept per row
                    seen: dict[tuple[int, int, int], TermMatch] = {}
                    for _, _, row in page.rows[i]:
                        rule, match = row_matches.get(row) or self._row_match(row)
                        seen.setdefault(rule, match)
                    out[i] = list(seen.values())
            elif state == WORDS:
                words = page.words.get(i)
                glued = page.glued.get(i)
                found = self._found(_words(text, True) if words is None else words, (),
                                    glued_words(text) if glued is None else glued)
                if found:
                    out[i] = self._to_matches(found)
            else:
                out[i] = self.match(text)
        return out

    def _row_match(self, row: int) -> tuple[tuple[int, int, int], TermMatch]:
        """(category, file, line) of a plain table row and its ``TermMatch``; kept per row (bounded like the
        other caches: a page's listed words recur)."""
        if len(self._row_matches) > _KNOWN_MAX:
            self._row_matches.clear()
        rule = self._plain.triple(row)
        cat, file, line = rule
        found = self._row_matches[row] = (rule, TermMatch(self._categories[cat],
                                                          f"{self._files[file]}:{line}" if line else self._files[file]))
        return found

    def clear_cache(self) -> None:
        """Forget the per-word first-stage answers (benchmarks measure the cold path with this)."""
        self._known.clear()
        self._stems.clear()
        self._row_matches.clear()
        self._glued.clear()
        self._tag_keys.clear()
        self._classes.clear()
        self._chunks.clear()
        if self._kernel is not None:
            for table in self._kernel:
                table.clear()

    def match_words(self, words: list[str], tagged: Sequence[str] = (), glued: Sequence[str] = ()) -> list[TermMatch]:
        """Matches among already-normalised ``words`` (``normalize.words(text)``); ``tagged`` are hashtag or
        handle words to segment and ``glued`` words to look up whole (``reading.reading(text)``)."""
        found = self._found(words, tagged, glued)
        return self._to_matches(found) if found else []

    def _found(self, words: list[str], tagged: Sequence[str], glued: Sequence[str] = ()
               ) -> list[tuple[int, int, int, int, int]]:
        found: list[tuple[int, int, int, int, int]] = []
        if words:
            found = self._found_words(words)
            if self._hashed.keys.size:
                found.extend(self._match_hashed(words))
            if self._substrings:
                found.extend(self._match_substrings(words))
        if tagged or glued:
            found.extend(self._match_tagged(tagged, glued))
        if found and self._allow:
            found = self._cancel_allowed(words, found)
        return found

    def _found_words(self, words: list[str]) -> list[tuple[int, int, int, int, int]]:
        """Plain and split matches among ``words``; then, where a word is a listed word with a plural ending
        (``_STEM``), the same words with its stem in its place."""
        # First stage per word from the cache: one C-level map; None marks a word not seen yet.
        firsts = list(map(self._known.get, words))
        if firsts.count(_FAIL) == len(firsts):  # every word known and failing, the common clean field
            return []
        if None in firsts:
            firsts = self._first_stage(words, firsts)
        stems = firsts.count(_STEM)
        if stems:
            # "es": two stems may pass the first stage ("zqxkes": "zqxke", "zqxk"); each its own reading.
            options = [self._stem_of(word) if first == _STEM else (word,)
                       for word, first in zip(words, firsts, strict=True)]
            stemmed = [[found[k] if k < len(found) else found[-1] for found in options]
                       for k in range(max(map(len, options)))]
            firsts = [self._piece_answer(word) if first == _STEM else first
                      for word, first in zip(words, firsts, strict=True)]
        fails = firsts.count(_FAIL)
        found: list[tuple[int, int, int, int, int]] = []
        if fails + firsts.count(_PIECE) + firsts.count(_PIECE_ORDINARY) == len(firsts):  # splits only
            if fails != len(firsts):
                found = self._match_splits(words, firsts)
        else:
            found = self._match_plain(words, firsts)
        if stems:
            for other in stemmed:
                found += self._found_words(other)
        return found

    def _piece_answer(self, word: str) -> int:
        """The first stage's answer for a word that fails the bitmap: a first piece of a split word or not."""
        return (_PIECE_ORDINARY if word in self._ordinary else _PIECE) if self._piece(word) else _FAIL

    def _stem_of(self, word: str) -> tuple[str, ...]:
        """The stems of a ``_STEM`` word (cached with the first-stage answers)."""
        stems = self._stems.get(word)
        if stems is None:
            stems = self._stems[word] = self._stem(word) or (word,)
        return stems

    def _stem(self, word: str) -> tuple[str, ...]:
        """The stems of a listed word with a plural ending (``term_forms.stem_candidates``): those that are a
        listed word or phrase start (the first stage) or the last word of a listed phrase (piece bitmap)."""
        bitmap, mask, pieces, pmask = self._bitmap, self._mask, self._pieces, self._piece_mask
        out = []
        for stem in stem_candidates(word):
            key = term_key(stem)
            p, q = key & mask, (key >> 32) & mask
            if not (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                key = last_key(stem)
                p, q = key & pmask, (key >> 32) & pmask
                if not (pieces[p >> 3] >> (p & 7)) & (pieces[q >> 3] >> (q & 7)) & 1:
                    continue
            # Only now (rare): no ordinary or dictionary word on either side.
            if plural_of(word, stem):
                out.append(stem)
        return tuple(out)

    def _probe(self, key: int) -> bool:
        bitmap, mask = self._bitmap, self._mask
        p, q = key & mask, (key >> 32) & mask
        return bool((bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1)

    def _piece(self, piece: str) -> bool:
        """Maybe a proper prefix of a listed single word (``zqx`` of ``zqxblocked``)."""
        if len(piece) < MIN_PIECE:
            return False
        key, bitmap, mask = piece_key(piece), self._pieces, self._piece_mask
        p, q = key & mask, (key >> 32) & mask
        return bool((bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1)

    def _glue_answer(self, glued: str) -> tuple[int, bool]:
        """(key if the glued word passes the first stage else _FAIL, whether a third piece may follow);
        cached like single words: ordinary word pairs recur."""
        found = self._glued.get(glued)
        if found is None:
            if len(self._glued) > _KNOWN_MAX:
                self._glued.clear()
            key = term_key(glued)
            if not self._probe(key):
                key = _FAIL
                # A listed word cut and inflected ("zqx blocking"): the key of its stem (``_stem``'s guard).
                if self._PLURALS and glued[-1] in ENDING_LAST and (stems := self._stem(glued)):
                    key = next((k for k in map(term_key, stems) if self._probe(k)), _FAIL)
            found = self._glued[glued] = (key, self._piece(glued))
        return found

    def _first_stage(self, words: list[str], firsts: list[int | None]) -> list[int]:
        """Fill in the unigram answers the cache lacks: the word's key if it passes the bitmap, else _PIECE if
        it may be the first piece of a split listed word, else _FAIL."""
        known, bitmap, mask = self._known, self._bitmap, self._mask
        if len(known) > _KNOWN_MAX:  # bounded: start over rather than track recency per hit
            known.clear()
            self._stems.clear()
        out: list[int] = []
        for word, first in zip(words, firsts, strict=True):
            if first is None:
                key = xxh64_intdigest(word.encode())
                p, q = key & mask, (key >> 32) & mask
                if (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                    first = key
                else:
                    # An ordinary word as the first piece ("to be", "data model") is glued only to a piece that
                    # is no ordinary word ("no uggagrum"): two ordinary words are a phrase, not a split word.
                    first = ((_PIECE_ORDINARY if word in self._ordinary else _PIECE) if self._piece(word)
                             else _FAIL)
                    # (Before a piece: the piece bitmap is looser; ``_found_words`` tries the piece too.)
                    if self._PLURALS and word[-1] in ENDING_LAST and (stems := self._stem(word)):
                        first = _STEM  # a listed word with an inflection ending: "zqxblockeds", "-ing"
                        self._stems[word] = stems
                known[word] = first
            out.append(first)
        return out

    def _match_plain(self, words: list[str], firsts: list[int]) -> list[tuple[int, int, int, int, int]]:
        """Candidates from the words that pass the first stage, extended word by word while the bitmap
        says "maybe a prefix", confirmed by one vectorised lookup in the exact table; then split words."""
        bitmap, mask, count = self._bitmap, self._mask, len(words)
        cands: list[int] = []
        spans: list[tuple[int, int]] = []
        for i, first in enumerate(firsts):
            if first < 0:
                continue
            cands.append(first)
            spans.append((i, i + 1))
            gram = words[i]
            for j in range(i + 2, (i + self._max_words if i + self._max_words < count else count) + 1):
                gram = gram + " " + words[j - 1]
                key = xxh64_intdigest(gram.encode())
                p, q = key & mask, (key >> 32) & mask
                if not (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                    # A later word of a phrase cut in two ("forbidden phr ase alpha"): it and the next glued.
                    if j < count and self._gluable(words[j - 1], words[j]):
                        self._extend(gram[:-len(words[j - 1])] + glue(words[j - 1], words[j]), i, j + 1, words,
                                     cands, spans, True, 1)
                    if self._PLURALS:  # the phrase's last word with an inflection ending
                        self._ended(gram[:-len(words[j - 1])], words[j - 1], i, j, cands, spans)
                    break
                cands.append(key)
                spans.append((i, j))
        found = [(*spans[q], *self._plain.triple(row)) for q, row in self._rows(cands)]
        return found + self._match_splits(words, firsts)

    def _gluable(self, left: str, right: str) -> bool:
        """Two words that may be one word of a phrase cut in two: both of two letters or more, not both
        ordinary words (two ordinary words are a phrase, not a cut word)."""
        ordinary = self._ordinary
        return len(left) >= MIN_PIECE and len(right) >= MIN_PIECE and not (left in ordinary and right in ordinary)

    def _extend(self, gram: str, start: int, end: int, words: list[str], cands: list[int],
                spans: list[tuple[int, int]], probe: bool, cuts: int) -> None:
        """Candidates of ``gram`` (``words[start:end]`` with ``cuts`` cut words glued back; ``probe``: its own
        key is not checked yet) and of it extended word by word while the bitmap says "maybe a prefix"; where
        it stops passing, the word and the next glued back too ("forb idden phr ase alpha"), up to
        ``MAX_CUTS`` cut words per phrase; at most ``_max_words`` normalised words."""
        bitmap, mask = self._bitmap, self._mask
        key = xxh64_intdigest(gram.encode())
        if probe:
            p, q = key & mask, (key >> 32) & mask
            if not (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                return
            cands.append(key)
            spans.append((start, end))
        top = start + self._max_words + cuts
        count = len(words)
        for k in range(end + 1, (top if top < count else count) + 1):
            word = words[k - 1]
            gram = gram + " " + word
            key = xxh64_intdigest(gram.encode())
            p, q = key & mask, (key >> 32) & mask
            if not (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                if cuts < MAX_CUTS and k < count and self._gluable(word, words[k]):
                    self._extend(gram[:-len(word)] + glue(word, words[k]), start, k + 1, words, cands, spans,
                                 True, cuts + 1)
                if self._PLURALS:
                    self._ended(gram[:-len(word)], word, start, k, cands, spans)
                break
            cands.append(key)
            spans.append((start, k))

    def _ended(self, head: str, word: str, start: int, end: int, cands: list[int],
               spans: list[tuple[int, int]]) -> None:
        """Candidates of ``head`` (a listed phrase's first words and a space, as far as they passed) with
        ``word``'s stems in its place (``stem_candidates``: "forbidden phrase alphas", "... alphaing"): a
        phrase's last word with an inflection ending. Its listed words before it make it the phrase, so the
        dictionary guard of a single word is not needed here ("alpha" is a dictionary word), and stems of
        ``PHRASE_STEM_MIN`` letters count ("forbidden phrase cats"); only where a phrase's prefix passed, so a
        handful of keys at most."""
        bitmap, mask = self._bitmap, self._mask
        for stem in stem_candidates(word, PHRASE_STEM_MIN):
            key = xxh64_intdigest((head + stem).encode())
            p, q = key & mask, (key >> 32) & mask
            if (bitmap[p >> 3] >> (p & 7)) & (bitmap[q >> 3] >> (q & 7)) & 1:
                cands.append(key)
                spans.append((start, end))

    def _match_splits(self, words: list[str], firsts: list[int]) -> list[tuple[int, int, int, int, int]]:
        """Split words: a word that may start a listed single word glued to the next one or two (answers
        cached per glued string: ordinary pairs recur). Two ordinary words are never glued."""
        cands: list[int] = []
        spans: list[tuple[int, int]] = []
        ordinary, cached, last = self._ordinary, self._glued.get, len(words) - 1
        for i in [i for i, f in enumerate(firsts) if f != _FAIL]:
            if i == last:
                break
            first, word, nxt = firsts[i], words[i], words[i + 1]
            if first >= 0:  # a listed word or phrase start: is it also a first piece?
                if not self._piece(word):
                    continue
                first = _PIECE_ORDINARY if word in ordinary else _PIECE
            if len(nxt) < MIN_PIECE or (first == _PIECE_ORDINARY and nxt in ordinary):
                continue
            glued = word + nxt[1:] if word[-1] == nxt[0] and not nxt[0].isdigit() else word + nxt
            key, more = cached(glued) or self._glue_answer(glued)
            if key != _FAIL:
                cands.append(key)
                spans.append((i, i + 2))
                if self._max_words > 1:  # the first word of a phrase cut in two ("forbid dden phrase")
                    self._extend(glued, i, i + 2, words, cands, spans, False, 1)
            if more and i + 2 <= last and len(words[i + 2]) >= MIN_PIECE:
                key, _ = self._glue_answer(glue(glued, words[i + 2]))
                if key != _FAIL:
                    cands.append(key)
                    spans.append((i, i + 3))
        if not cands:
            return []
        return [(*spans[q], *self._plain.triple(row)) for q, row in self._rows(cands)]

    def _match_tagged(self, tagged: Sequence[str], glued: Sequence[str]) -> list[tuple[int, int, int, int, int]]:
        """Listed single words (and joined phrases) inside hashtag/handle words, between ordinary words or
        digits (``#zqxblockedlife``, ``@zqxblockedfan``), and ``glued`` words looked up whole."""
        cands = [k for k in map(term_key, glued) if self._probe(k)]
        known = self._tag_keys
        for word in tagged:
            keys = known.get(word)
            if keys is None:  # segmenting is ~0.1 ms a word: its answer is kept per word, like ``_known``
                if len(known) > _KNOWN_MAX:
                    known.clear()
                keys = known[word] = [k for k in map(term_key, (word, *self._segmenter.middles(word)))
                                      if self._probe(k)]
            cands.extend(keys)
        return [(*_NO_SPAN, *self._plain.triple(row)) for _, row in self._rows(cands)]

    def _rows(self, keys: list[int]) -> list[tuple[int, int]]:
        """``self._plain.lookup(keys)``: (query index, row) for every row whose key equals a query key."""
        if len(keys) > 16:
            return self._plain.lookup(keys)
        view, out = self._plain_view, []
        size = len(view)
        for q, key in enumerate(keys):
            row = bisect_left(view, key)
            while row < size and view[row] == key:
                out.append((q, row))
                row += 1
        return out

    def _match_hashed(self, words: list[str]) -> list[tuple[int, int, int, int, int]]:
        keys: list[int] = []
        spans: list[tuple[int, int]] = []
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + HASHED_MAX_WORDS) + 1):
                keys.append(sha_key(" ".join(words[i:j])))
                spans.append((i, j))
        return [(*spans[q], *self._hashed.triple(row)) for q, row in self._hashed.lookup(keys)]

    def _match_substrings(self, words: list[str]) -> list[tuple[int, int, int, int, int]]:
        out = []
        subs = self._substrings
        for i, word in enumerate(words):
            for start in range(len(word) - MIN_SUBSTRING + 1):
                for text, row in subs.get(word[start:start + MIN_SUBSTRING], ()):
                    if word.startswith(text, start):
                        out.append((i, i + 1, *self._sub_rows[row]))
        return out

    def _cancel_allowed(self, words: list[str], found: list[tuple[int, int, int, int, int]]
                        ) -> list[tuple[int, int, int, int, int]]:
        covers = [(a, a + n) for n, phrases in self._allow.items()
                  for a in range(len(words) - n + 1) if " ".join(words[a:a + n]) in phrases]
        return [m for m in found if not any(a <= m[0] and m[1] <= b for a, b in covers)]

    def _to_matches(self, found: list[tuple[int, int, int, int, int]]) -> list[TermMatch]:
        seen: dict[tuple[int, int, int], None] = dict.fromkeys((cat, file, line) for _, _, cat, file, line in found)
        return [TermMatch(self._categories[cat], f"{self._files[file]}:{line}" if line else self._files[file])
                for cat, file, line in seen]

    # -- size and (de)serialisation -------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._meta["entries"] + self._hashed.keys.size + len(self._sub_rows))

    # -- wildcard prefixes (query side; added for issue 10.6 by the "strings" engineer) ---------------

    def match_prefix(self, words: list[str]) -> list[TermMatch]:
        """Listed single-word entries (plain or substring) that start with the last of the normalised
        ``words`` (a query term cut by a trailing wildcard): ``["zqxbi"]`` finds ``zqxblocked``. Only cuts
        keeping at least ``PREFIX_MIN_LETTERS`` letters count. Exact: one lookup in the plain table, where
        ``term_build.prefix_keys`` put a marked key for every such cut (about 1.2 rows of 12 bytes per entry on a
        synthetic list; phrases get none, which would triple the table)."""
        if not words or len(words[-1]) < PREFIX_MIN_LETTERS:
            return []
        return self._marked(_PREFIX_MARK + words[-1])

    def match_suffix(self, words: list[str]) -> list[TermMatch]:
        """Listed single-word entries that end with the first of the normalised ``words`` (a query term
        after a leading wildcard): ``["xblocked"]`` finds ``zqxblocked``; the same ``PREFIX_MIN_LETTERS``
        rule and the same exact lookup as ``match_prefix`` (marked end keys from ``term_build.prefix_keys``)."""
        if not words or len(words[0]) < PREFIX_MIN_LETTERS:
            return []
        return self._marked(_SUFFIX_MARK + words[0])

    def has_cuts(self, texts: Sequence[str], ends: bool) -> list[bool]:
        """``[bool(self.match_suffix([t]) if ends else self.match_prefix([t])) for t in texts]`` for many
        normalised one-word ``texts`` at once: their marked keys hashed together and looked up in one
        search (a contains-wildcard's ~1,300 candidate ends, ``fuzzy_query.infix_verdict``)."""
        if not texts:
            return []
        mark = SUFFIX_MARK if ends else PREFIX_MARK
        keys = xxh64_many([t.encode() for t in texts], mark=mark)
        table = self._plain.keys
        if not table.size:
            return [False] * len(texts)
        order = keys.argsort()  # sorted needles: numpy's binary search narrows from the last answer
        at = table.searchsorted(keys[order]).clip(0, table.size - 1)
        hits = np.empty(keys.size, dtype=bool)
        hits[order] = table[at] == keys[order]
        found = hits.tolist()
        return [hit and len(t) >= PREFIX_MIN_LETTERS for hit, t in zip(found, texts, strict=True)]

    def _marked(self, marked: str) -> list[TermMatch]:
        found = [(0, 0, *self._plain.triple(row)) for _, row in self._rows([term_key(marked)])]
        return self._to_matches(found) if found else []

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes for a in (*self._plain.arrays(), *self._hashed.arrays(), *self._plain.rules.arrays()))
                + self._mask // 8 + 1 + self._piece_mask // 8 + 1)

    def to_bytes(self) -> bytes:
        """``FPTERMS4`` + header (JSON length, counts) + JSON meta + 8-byte-aligned arrays: plain keys and
        rule numbers, hashed keys and rule numbers, rule lines, rule runs (start, category, file), bitmaps."""
        return b"".join(self.to_parts())

    def to_parts(self) -> list[bytes | memoryview]:
        """``to_bytes`` as the buffers to write one after another (views of the arrays, no copy)."""
        return term_format.parts(self._meta, self._plain, self._hashed, self._bitmap, self._pieces)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> TermIndex:
        """Load without copying the arrays (they view ``data``); ValueError on a damaged buffer."""
        return cls(*term_format.read(data))
