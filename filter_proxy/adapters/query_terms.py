"""One query term's readings beyond its letters, for ``querysyntax``: the marker types a reading carries
(``QueryPrefix``, ``QuerySuffix``, ``QueryInfix``, ``QueryFuzzy``: each checked its own way by the rule
set), the ordinary-word test that tells a question mark or emphasis from wildcard syntax (``_ordinary``),
and what a fuzzy term (``zqxblocke~``) can match in the backend (``fuzzy_readings``). Split from
``querysyntax``, which re-exports these names.
"""

from __future__ import annotations

import functools
import itertools
import re
from importlib import resources

from filter_proxy.matchers.term_forms import ordinary_words
from filter_proxy.normalize import words as normal_words

__all__ = ["FUZZY_MIN_LETTERS", "FUZZY_PROBE_MIN_LETTERS", "MAX_FUZZY_TERMS", "QueryFuzzy", "QueryInfix",
           "QueryPrefix", "QuerySuffix", "fuzzy_readings"]

FUZZY_MIN_LETTERS = 6
FUZZY_PROBE_MIN_LETTERS = 5  # a fuzzy term probed for edits anywhere (fuzzy_query.py) keeps five letters
MAX_FUZZY_TERMS = 16  # fuzzy terms probed per request (each costs up to ~2 ms); the rest: ends only
_FUZZY = re.compile(rf"(?<![\w\"~])(\w{{{FUZZY_PROBE_MIN_LETTERS},}})~(\d+(?:\.\d+)?)?(?![\w~])")
_RUNS = re.compile(r"(.)\1+")
_COMMON_WORDS = 20_000  # the most frequent words as written; shorter than three letters once normalised
_LATIN = re.compile(r"[a-z]")


class QueryPrefix(str):
    """The text before a trailing wildcard (``"forbidden phrase alp"`` for ``forbidden phrase alp*``): a
    listed phrase that starts with it counts as asked for (``RuleSet.check_prefix``)."""

    __slots__ = ()


class QueryFuzzy(str):
    """A fuzzy term (``zqxblXcked~1``) and the edits the backend allows it (``edits``: Lucene caps them at
    2; ``~`` alone is ES's AUTO, 1 edit up to five letters, 2 beyond): the listed one-word terms within
    that many edits of it count as asked for (``fuzzy_query.fuzzy_verdict``, edits anywhere in the term)."""

    edits: int

    def __new__(cls, text: str, edits: int) -> QueryFuzzy:
        made = super().__new__(cls, text)
        made.edits = edits
        return made

    def __reduce__(self) -> tuple[type, tuple[str, int]]:
        return (QueryFuzzy, (str(self), self.edits))


class QueryInfix(str):
    """The core of a contains-wildcard (``"qxblocke"`` for ``*qxblocke*``): a listed one-word term holding
    it inside, with a few letters on one side, counts as asked for (``fuzzy_query.infix_verdict``)."""

    __slots__ = ()


class QuerySuffix(str):
    """The text after a leading wildcard (``"xblocked"`` for ``*xblocked``): a listed one-word term that
    ends with its first word counts as asked for (``RuleSet.check_suffix``, the mirror of ``QueryPrefix``)."""

    __slots__ = ()


def _ordinary(text: str) -> bool:
    """``text`` (without wildcards) reads as ordinary words: every normalised word is an ordinary English
    word (``term_forms.ordinary_words``, the segmenter's list), is at most two letters once normalised and
    written as a common word ("ok", "bill" -> "bi"), or holds no Latin letter at all (numbers, Cyrillic
    prose). A ``?`` ending such a term is a question mark, a ``*`` pair around it emphasis."""
    vocabulary = ordinary_words()
    for word in normal_words(text):
        if not (word in vocabulary or not _LATIN.search(word) or (len(word) <= 2 and _short_ordinary(text))):
            return False
    return True


@functools.cache
def _common_words() -> frozenset[str]:
    """The most frequent English words as written (wordsegment's unigram counts): "ok", "bill" read
    "ok", "bi" once normalised, too short for ``ordinary_words`` to keep."""
    with resources.files("wordsegment").joinpath("unigrams.txt").open(encoding="utf-8") as fh:
        return frozenset(line.split("\t", 1)[0] for line in itertools.islice(fh, _COMMON_WORDS))


def _short_ordinary(text: str) -> bool:
    """Every word of ``text`` as written is at most two letters or a common English word."""
    common = _common_words()
    return all(len(w) <= 2 or w in common for w in re.findall(r"[a-z]+", text.lower()))


def _latin(text: str) -> bool:
    """Some normalised word of ``text`` has a Latin letter (the ``?`` expansion alphabet is Latin)."""
    return any(_LATIN.search(w) for w in normal_words(text))


def fuzzy_readings(text: str) -> list[str]:
    """What a fuzzy term (``zqxblocke~``, ``xqxblocked~1``) can match in the backend, read for screening:
    the backend finds terms one or two edits away, so a listed one-word term that starts or ends with the
    term (a letter dropped or changed at the other end), or the term with one or two letters cut from an
    end (letters added there) counts as asked for. Only terms of at least ``FUZZY_MIN_LETTERS`` letters
    (the wildcard rule's five, plus the edit); ``~0`` is exact, phrase slop (``"a b"~2``) is not fuzzy, and
    a ``~`` after an ordinary word is read as punctuation (as a ``?`` is).
    Edits anywhere in the term (``zqxblXcked~1``) are read by a ``QueryFuzzy`` per term (at most
    ``MAX_FUZZY_TERMS`` per request, of at least ``FUZZY_PROBE_MIN_LETTERS`` letters), checked against the
    listed terms by ``fuzzy_query.fuzzy_verdict``."""
    out: list[str] = []
    probed = 0
    for match in _FUZZY.finditer(text):
        term, edits = match.group(1), match.group(2)
        if (edits and float(edits) == 0) or _ordinary(term):  # "~" after an ordinary word: punctuation
            continue
        if len(term) >= FUZZY_MIN_LETTERS:
            out.extend((term[:-1], term[:-2], term[1:], term[2:]))
            out.extend((QueryPrefix(term), QueryPrefix(term[:-1]), QuerySuffix(term), QuerySuffix(term[1:])))
        if probed < MAX_FUZZY_TERMS:
            probed += 1
            # A run of one letter is read as one letter once normalised ("kkk" -> "k"): the backend, reading
            # the term as written, finds words that many edits nearer than the normalised probe says.
            collapsed = len(term) - len(_RUNS.sub(r"\1", term))
            out.append(QueryFuzzy(term, min(2, _fuzzy_edits(term, edits) + collapsed)))
    return list({(type(r), str(r)): r for r in out}.values())


def _fuzzy_edits(term: str, written: str | None) -> int:
    """The edits a backend allows ``term~written``: the number (at most 2, Lucene's limit); none written
    is ES's AUTO (1 up to five letters, else 2); an old-style similarity below 1 (``~0.8``) is read as 2."""
    if not written:
        return 1 if len(term) <= 5 else 2
    value = float(written)
    return 2 if value < 1 else min(2, int(value))
