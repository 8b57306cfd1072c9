"""The other written forms of a listed term: other-script skeletons, joined phrases, split words, and the
word list that segments hashtags and handles (issue 11, items 2 and 3).

Build time (``entry_forms``): a plain entry is indexed under

- its normalised words (``normalize``; and as it reads inside genuine text of its script, ``own_words``),
  and, when it has letters of another script with Latin look-alikes,
  every mix of each word's own form and its skeleton (``skeleton_words``: look-alikes folded), so that a
  Cyrillic entry matches its own script in genuine text *and* its mixed-script disguises, word by word
  (at most ``MAX_MIXES`` keys per entry);
- for a phrase, its words joined into one word (``#forbiddenphrasealpha``, ``ForbiddenPhraseAlpha``,
  letter-spaced ``f o r b i d d e n  p h r a s e ...``), unless that joined word is an ordinary dictionary
  word (``in to`` -> ``into``) or shorter than ``MIN_JOINED`` letters.

Every single-word key (a listed word or a joined phrase) also puts its proper prefixes of at least
``MIN_PIECE`` letters into a second, looser bitmap (``PIECE_ERROR``). At match time a word that passes that
probe is glued to the next one or two words (``zqx blocked``, ``zqx-blocked``, ``zqx_blocked``,
``zqx.blocked``: separators are already gone after ``normalize``) and the glued word is looked up like any
other; two ordinary words ("to be") are never glued: that is a phrase, and costs every field. A word inside a longer word is
never looked up (Scunthorpe), except inside a hashtag or handle (``Segmenter``).

Word list (``Segmenter``; built by ``matchers/ordinary_words.generate``, shipped as the package data file
``filter_proxy/data/ordinary_words.txt``): ``wordsegment``'s English word list (``words.txt``, 178k words), kept where the
word is also among ``wordsegment``'s 100,000 most frequent unigrams (a spelling list alone holds rarities
such as "zax"; frequent unigrams outside the spelling list are mostly fragments, "tion", "gan"), normalised
like text; one- and two-letter words only among the 300 most frequent. A hashtag word segments into a listed term when the letters before it
and after it split into such words or digit runs; listed terms are the rest of the vocabulary.
"""

from __future__ import annotations

import functools
import itertools
import re
from pathlib import Path
from typing import Any

from xxhash import xxh64_intdigest

from filter_proxy.matchers import ordinary_words as _ordinary_words
from filter_proxy.normalize import normalize, own_words, skeleton_words, words

__all__ = ["entry_forms", "piece_key", "piece_keys", "glue", "Segmenter", "ordinary_words", "MIN_JOINED", "MIN_PIECE", "PIECE_ERROR",
           "FAIL", "PIECE", "PIECE_ORDINARY", "MAX_CUTS", "STEM", "STEM_MIN", "PHRASE_STEM_MIN", "ENDING_LAST", "stem_candidates",
           "plural_of", "last_key", "dictionary_word"]

# First-stage answers of a word that fails the bitmap (keys are >= 0): it starts no listed phrase; it may be
# the first piece of a split listed word; the same, but an ordinary word (glued only to a next piece that is
# no ordinary word). Here, not in ``terms``, so that ``term_page`` reads them without an import cycle.
FAIL, PIECE, PIECE_ORDINARY, STEM = -1, -2, -3, -4  # STEM: a listed word with an inflection ending
MIN_JOINED = 6  # a joined phrase shorter than this is too likely an ordinary word
MIN_PIECE = 2  # one-letter pieces ("a", "i", "mode i") would glue onto half of all text
# Cut words glued back inside one phrase (each cut once, pieces >= MIN_PIECE, not two ordinary words): a glue
# is tried only where a listed phrase's prefix stopped passing, so each costs one key and one probe.
MAX_CUTS = 3
PIECE_ERROR = 0.05  # the piece bitmap only saves work (the glued word is still looked up): ~8 bits a key
MAX_MIXES = 16  # own/skeleton combinations per entry (2 ** 4 words that differ)
_MAX_WORD = 24  # longest ordinary word tried while segmenting


def piece_key(piece: str) -> int:
    """Key of "a listed single word starts with ``piece``" in the piece bitmap."""
    return xxh64_intdigest(b"\x01" + piece.encode())


def glue(left: str, right: str) -> str:
    """Two normalised pieces as one normalised word: a letter doubled across the seam collapses, as
    ``collapse_repeats`` would have done to the word written whole."""
    if left and right and left[-1] == right[0] and not right[0].isdigit():
        return left + right[1:]
    return left + right


def _glue_all(parts: list[str]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out = glue(out, part)
    return out if out.isalpha() else normalize(out)  # digits next to letters turn leet


# A listed word (>= STEM_MIN letters once normalised) with an inflection ending, as English spells it on an
# invented word: plural "s", "es", "z" (leet plural); "ing", "in" ("blockin'"), "ings", "ed", "er", "ers"; a
# final consonant "y" turned "i" ("ies", "ied", "ier", "iers"). A silent "e" dropped before the ending
# ("zqxblocke" -> "zqxblocking") and a letter shared with the ending ("zqxabi" + "ing" reads "zqxabing":
# ``collapse_repeats``) give the other stems; a doubled final consonant ("zqxbat" -> "zqxbatted") is one letter
# after ``collapse_repeats`` already. The possessive "'s" is a word of its own. Only where neither the written
# word nor its stem is an ordinary or dictionary word ("forbids" of a listed "forbid" stays unmatched).
STEM_MIN = 5
PHRASE_STEM_MIN = 3  # a phrase's last word ("forbidden phrase cats"): the phrase's other words guard it
ENDING_LAST = "sgndrz"  # the last letter of every ending: a cheap first test (``TermIndex._first_stage``)
_ENDINGS = ("s", "z", "es", "ing", "in", "ings", "ed", "er", "ers")
_Y_ENDINGS = ("ies", "ied", "ier", "iers")


def last_key(word: str) -> int:
    """Key of "a listed phrase ends with ``word``" in the piece bitmap (``TermIndex``'s inflection endings)."""
    return xxh64_intdigest(b"\x03" + word.encode())


def stem_candidates(word: str, minimum: int = STEM_MIN) -> list[str]:
    """The stems a word with an inflection ending may have, each of >= ``STEM_MIN`` letters, most likely
    first ("xqbsjis" -> "xqbsji"; "zqxkes" -> "zqxke", "zqxk"; "zqxbiocking" -> "zqxbiock", "zqxbiocke",
    "zqxbiocki"; "zqxpartied" -> "zqxparty", ...; whether any is meant: ``plural_of``). ``minimum``: a phrase's
    last word takes stems of ``PHRASE_STEM_MIN`` letters (its listed words before it make it the phrase)."""
    if len(word) <= minimum or word[-1] not in ENDING_LAST or not word.isalpha():
        return []
    out: dict[str, None] = {}
    for ending in _ENDINGS:
        if not word.endswith(ending):
            continue
        k = len(ending)
        stem = word[:-k]
        out[stem] = None
        if k > 1:
            out[word[:-k + 1]] = None  # the stem ended in the ending's first letter ("zqxblocke" + "ed")
            if ending[0] in "aeiou" and stem[-1:] != "e":
                out[stem + "e"] = None  # a silent "e" dropped ("zqxblocke" -> "zqxblocking")
                if word[-k] != "e":  # and the letter before it shared ("zqxabie" -> "zqxabings")
                    out[word[:-k + 1] + "e"] = None
    for ending in _Y_ENDINGS:
        if word.endswith(ending):
            out[word[:-len(ending)] + "y"] = None
    return [stem for stem in out if len(stem) >= minimum]


def plural_of(word: str, stem: str) -> bool:
    """Whether ``word`` may be read as ``stem`` with an inflection ending: neither is an ordinary word nor a word
    of the English dictionary (``dictionary_word``), so a dictionary word never becomes a listed one."""
    ordinary = ordinary_words()
    return not (word in ordinary or stem in ordinary or dictionary_word(word) or dictionary_word(stem))


SYSTEM_DICTIONARY = Path("/usr/share/dict/words")


@functools.lru_cache(maxsize=1)
def _dictionary_keys() -> Any:
    """xxh64 keys of ``wordsegment``'s English word list (``words.txt``, ~179k words, inflected forms too:
    "ablatives", "airdrops", which the ordinary-word list lacks) and of the system's word list where one is
    installed, normalised like text (``l`` as ``i``, repeated letters once; other words dropped), sorted:
    ~2 MB. Loaded on first use (~0.1 s): only when an inflection ending's stem
    passes an index's first stage."""
    import numpy as np
    from wordsegment import __file__ as package

    data = (Path(package).parent / "words.txt").read_bytes()
    if SYSTEM_DICTIONARY.is_file():  # the system's word list too, where installed (wamerican: "blockchains")
        data += b"\n" + SYSTEM_DICTIONARY.read_bytes()
    data = data.lower().replace(b"l", b"i")
    found = _REPEATED.sub(rb"\1", data).split()
    keys = np.fromiter(map(xxh64_intdigest, found), np.uint64, len(found))
    keys.sort()
    return keys


def dictionary_word(word: str) -> bool:
    """Whether normalised ``word`` is a word of the English dictionary (``_dictionary_keys``)."""
    keys = _dictionary_keys()
    key = xxh64_intdigest(word.encode())
    at = int(keys.searchsorted(key))
    return at < keys.size and int(keys[at]) == key


_REPEATED = re.compile(rb"([a-z])\1+")


def piece_keys(single: str) -> list[int]:
    """``piece_key`` of every proper prefix of ``single`` with at least ``MIN_PIECE`` letters."""
    if single.isascii():  # bytes slice like characters: one encode per word
        raw = b"\x01" + single.encode()
        return [xxh64_intdigest(raw[:n + 1]) for n in range(MIN_PIECE, len(single))]
    return [piece_key(single[:n]) for n in range(MIN_PIECE, len(single))]


def entry_forms(text: str, base: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(phrases to index, single words that take split pieces) for one plain entry; ``base``: its
    ``words(text)`` when the caller has them already (the build normalises each entry once)."""
    if base is None:
        base = words(text)
    if text.isascii():  # no other script: one form, and for a phrase its joined word (the 1M-entry case)
        phrase = " ".join(base)
        if len(base) == 1:
            return [phrase], [phrase]
        joined = _glue_all(base) if phrase.isascii() else normalize(phrase.replace(" ", ""))
        if len(joined) >= MIN_JOINED and " " not in joined and joined not in ordinary_words():
            return [phrase, joined], [joined]
        return [phrase], []
    own, skel = (base, base) if text.isascii() else (own_words(text), skeleton_words(text))
    phrases: dict[str, None] = {" ".join(base): None, " ".join(own): None}
    if skel != own:
        if len(skel) == len(own):
            differ = [i for i, (a, b) in enumerate(zip(own, skel, strict=True)) if a != b]
            choices = [(own[i], skel[i]) if i in differ else (own[i],) for i in range(len(own))]
            for mix in itertools.islice(itertools.product(*choices), MAX_MIXES):
                phrases[" ".join(mix)] = None
        phrases[" ".join(skel)] = None
    singles = list(dict.fromkeys(p for p in phrases if " " not in p))
    for phrase in list(phrases):
        if " " in phrase:
            # Normalised words glued: only the seams can change (a letter doubled across one collapses).
            joined = normalize(phrase.replace(" ", "")) if not phrase.isascii() else _glue_all(phrase.split(" "))
            if len(joined) >= MIN_JOINED and " " not in joined and joined not in ordinary_words():
                phrases.setdefault(joined, None)
                singles.append(joined)
    return list(phrases), list(dict.fromkeys(singles))


@functools.lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Normalised ordinary English words (see the module docstring): the shipped data file of
    ``ordinary_words`` (one read and split, not rebuilt from wordsegment at start); loaded once, on first use."""
    return _ordinary_words.load()


class Segmenter:
    """Candidate listed terms inside one hashtag/handle word: the middle parts whose prefix and suffix both
    split into ordinary words or digit runs."""

    def __init__(self, vocabulary: frozenset[str] | None = None) -> None:
        self._vocabulary = vocabulary

    @property
    def vocabulary(self) -> frozenset[str]:
        if self._vocabulary is None:
            self._vocabulary = ordinary_words()
        return self._vocabulary

    def _prefixes(self, text: str) -> list[bool]:
        """``ok[i]``: ``text[:i]`` splits into ordinary words and digit runs (``ok[0]`` is True). Forward: only
        the reachable starts are extended (most positions are not), each by at most ``_MAX_WORD``."""
        n, vocab = len(text), self.vocabulary
        ok = [True] + [False] * n
        for start in range(n):
            if ok[start]:
                for end in range(start + 1, min(n, start + _MAX_WORD) + 1):
                    if not ok[end] and self._ordinary(text, start, end, vocab):
                        ok[end] = True
        return ok

    def _suffixes(self, text: str) -> list[bool]:
        """``ok[j]``: ``text[j:]`` splits into ordinary words and digit runs (``ok[len]`` is True); the mirror of
        ``_prefixes``: each reachable end, from the last, extended backwards."""
        n, vocab = len(text), self.vocabulary
        ok = [False] * n + [True]
        for end in range(n, 0, -1):
            if ok[end]:
                for start in range(max(0, end - _MAX_WORD), end):
                    if not ok[start] and self._ordinary(text, start, end, vocab):
                        ok[start] = True
        return ok

    @staticmethod
    def _ordinary(text: str, start: int, end: int, vocab: frozenset[str]) -> bool:
        """``text[start:end]`` is an ordinary word or digits, also when the word lost its first letter to the
        same letter ending the word before it (``collapse_repeats`` merged the seam: "aba" + "aba")."""
        part = text[start:end]
        return part in vocab or part.isdigit() or (start > 0 and end - start > 2 and text[start - 1] + part in vocab)

    def middles(self, word: str, min_len: int = 3) -> list[str]:
        """Every ``word[i:j]`` (not the whole word) with a splittable prefix ``word[:i]`` and suffix ``word[j:]``;
        a letter at a seam may belong to both sides (collapsed repeats)."""
        n = len(word)
        prefix_ok, suffix_ok = self._prefixes(word), self._suffixes(word)
        out: dict[str, None] = {}
        for i in range(n):
            if not prefix_ok[i]:
                continue
            for j in range(i + min_len, n + 1):
                if suffix_ok[j] and (i, j) != (0, n):
                    out[word[i:j]] = None
                    if i > 0:
                        out[word[i - 1:j]] = None
                    if j < n:
                        out[word[i:j + 1]] = None
        if prefix_ok[n]:
            # The whole word reads as ordinary words ("#relationshipsis"): a listed term inside it counts only
            # where it reads as ordinary words itself ("mop|kit" in "#aremopkit"), not where it cuts one
            # ("re|lation": "iation" is no word).
            return [m for m in out if self._prefixes(m)[-1]]
        return list(out)
