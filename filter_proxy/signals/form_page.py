"""The strings of a page read once for terms, combination rules and weighted phrases together (issue 16's
speed target, beside issue 14's page batch).

A rule set with combination rules (``signals/combos.py``) or weighted phrases (``signals/weighted.py``)
matches three term indexes on every string: the listed terms, the combinations' words and pairs, and the
weighted phrases (both ``word_spans.SpanIndex``, a ``TermIndex``). ``RuleSet.check_many`` used to read such
a page one string at a time, because ``term_page.clean`` (which finds the strings that certainly match
nothing, for a whole page in a few C-level passes) answers for one index.

``PageUnion`` is those indexes seen by ``clean`` as one: a word's first-stage answer is the strongest of
theirs (it may start an entry in any index: ``K``; else it may be the first piece of a split word in any:
``P`` or ``O``; else its shape), and a glued word counts when any index's first stage passes it. A word
cannot be ``P`` in one index and ``O`` in another (``O`` means "ordinary", the same set for all), so every
class run that ``clean`` would call unclean for one index is unclean for the union: a string ``clean``
calls ``CLEAN`` for the union matches nothing in any of them, and every other string is read once and
matched by all three (``RuleSet._forms_verdict``). The per-token classes are cached per raw token as
``clean`` caches them for one index.

Not used when an index holds hashed or substring entries (``clean`` does not cover them; ``TermIndex.match_many``
reads every string then too): each string is read on its own, as before.

Measured (``benchmarks/forms.py``'s page: 100k terms + 10k combinations + 10k weighted phrases, the speed
suite's 1,000-result pool, verdict cache off, ``check_many`` of a page's 20 strings + 10 ``check_url``, CPU
per 10-result page, median of 7 runs interleaved with main on the shared 2-core box): 0.597 -> 0.454 ms,
terms alone 0.365 / 0.333 in the same runs, so the forms' share went 0.23 -> 0.12 ms. Of the rest (profile):
``clean`` of the union ~0.15 ms (terms alone ~0.135), the ~5 strings per page it leaves ~0.11 ms (terms
~0.05, combinations ~0.03, weighted phrases ~0.015), URLs ~0.045. Tried and not kept: a
"trigger" index per form (combinations: the anchors and their pairs' joined forms; weighted phrases: the
positive ones), so that strings holding only a rule's ordinary words are skipped: exact (property-tested),
but the strings left went only 531 -> 484 of 2,000 and the page ~0.01 ms cheaper, for a bundle 12.5 -> 19.3 MB
(each single-word entry also gets the term index's wildcard prefix rows).
"""

from __future__ import annotations

from collections.abc import Sequence

from filter_proxy.matchers import term_page
from filter_proxy.matchers.term_forms import Segmenter, ordinary_words
from filter_proxy.matchers.term_page import CLEAN, WORDS, PageReading, clean
from filter_proxy.matchers.terms import TermIndex
from filter_proxy.normalize import _words
from filter_proxy.reading import Reading, glued_words

__all__ = ["PageUnion", "page_readings", "fold_tagged", "FULL"]

# First-stage answers (``matchers/terms``): a key (>= 0), a first piece (-2), an ordinary first piece (-3),
# nothing (-1). Ranked for the union: a key beats a piece beats nothing.
_FAIL, _PIECE, _PIECE_ORDINARY, _STEM = -1, -2, -3, -4
_GLUED_MAX = 1 << 15  # as ``TermIndex``'s glued-word cache


class PageUnion:
    """Several term indexes as ``term_page.clean`` sees one (module docstring). It holds only per-word and
    per-token answers (bounded by ``clean``), never a text."""

    def __init__(self, indexes: Sequence[TermIndex]) -> None:
        self._indexes = tuple(indexes)
        self._classes: dict[str, int] = {}  # raw ASCII token -> class for the union (filled by ``clean``)
        self._known: dict[str, int] = {}  # stays empty: ``clean`` then asks ``_first_stage`` for every new token
        self._ordinary = ordinary_words()
        # What a ``clean`` that also answers split pairs and compound chunks per index asks of it: the same
        # caches, holding the union's answers (``_glue_answer``, ``_probe``), and the compiled pass's tables
        # when that pass exists (filled by ``clean`` from those answers alone).
        self._glued: dict[str, tuple[int, bool]] = {}
        self._chunks: dict[str, bool] = {}
        tables = getattr(term_page, "kernel_tables", None)
        self._kernel = tables() if tables is not None else None

    @staticmethod
    def usable(indexes: Sequence[TermIndex]) -> bool:
        """``clean`` covers plain entries only: no hashed (``sha256:``) and no substring (``~``) entries."""
        return not any(index._hashed.keys.size or index._substrings for index in indexes)

    def _probe(self, key: int) -> bool:
        return any(index._probe(key) for index in self._indexes)

    def _glue_answer(self, glued: str) -> tuple[int, bool]:
        """(a key if the glued word passes any index's first stage, else -1; whether a third piece may follow
        in any), cached like each index caches its own."""
        found = self._glued.get(glued)
        if found is None:
            if len(self._glued) > _GLUED_MAX:
                self._glued.clear()
            key, more = _FAIL, False
            for index in self._indexes:
                answer = index._glue_answer(glued)
                if answer[0] != _FAIL:
                    key = answer[0]
                more = more or answer[1]
            found = self._glued[glued] = (key, more)
        return found

    def _first_stage(self, words: list[str], firsts: list[int | None]) -> list[int]:
        """Each word's strongest first-stage answer over the indexes (each index's own cache filled)."""
        best = [_FAIL] * len(words)
        for index in self._indexes:
            answers = list(map(index._known.get, words))
            if None in answers:
                answers = index._first_stage(words, answers)
            for k, answer in enumerate(answers):
                if answer >= 0:
                    best[k] = answer
                elif answer == _STEM and best[k] < 0:
                    best[k] = answer  # a plural ending of a listed word: read in Python (term_page STEM)
                elif answer != _FAIL and best[k] == _FAIL:
                    best[k] = answer  # _PIECE or _PIECE_ORDINARY: a word is ordinary for every index alike
        return best


def page_readings(union: PageUnion, texts: Sequence[object]) -> list[Reading | None]:
    """Per text: None when it certainly matches nothing in any of the union's indexes (``clean``'s
    ``CLEAN``); its ``Reading`` when ``clean`` knows that reading is its words and glued words only
    (``WORDS``: no alternate reading, no hashtag words); else ``FULL``: read the text in full."""
    page: PageReading = clean(union, texts)  # type: ignore[arg-type]  # the union answers what clean asks
    out: list[Reading | None] = []
    for i, (state, text) in enumerate(zip(page.states, texts, strict=True)):
        if state == CLEAN:
            out.append(None)
        elif state == WORDS:
            words = page.words.get(i)
            glued = page.glued.get(i)
            out.append(Reading(_words(text, True) if words is None else words, None, (),  # type: ignore[arg-type]
                               glued_words(text) if glued is None else glued))  # type: ignore[arg-type]
        else:
            out.append(FULL)
    return out


FULL = Reading([])  # the marker of a text to read in full (``reading.reading``); compared by identity


_SEGMENTER: list[Segmenter] = []  # one, made on first use (the ordinary words load once per process)


def fold_tagged(reading: Reading) -> Reading:
    """``reading`` with its hashtag/handle words segmented once for the three indexes instead of once in
    each: ``TermIndex._match_tagged`` looks up a tagged word and its ``Segmenter.middles`` whole, exactly as
    it looks up glued words, so they become glued words, in the order it looks them up (same matches, same
    order; ``tests/test_form_page.py`` checks it against ``TermIndex.match``). Segmenting was a third of the
    page's CPU on the speed suite's pool once the rest was batched."""
    if not reading.tagged:
        return reading
    if not _SEGMENTER:
        _SEGMENTER.append(Segmenter(ordinary_words()))
    middles = _SEGMENTER[0].middles
    glued = list(reading.glued)
    for word in reading.tagged:
        glued.append(word)
        glued.extend(middles(word))
    return reading._replace(tagged=(), glued=tuple(glued))
