"""What a fuzzy query term (``zqxblXcked~1``, ``zqxblacked~``) or a contains-wildcard (``*qxblocke*``,
``infix_verdict`` at the end) can find in the backend, read against the listed one-word terms. Fuzzy:
the backend matches indexed words within Damerau-Levenshtein distance (Lucene caps it at 2; ``~`` alone
is ES's ``AUTO``: 1 edit for 3-5 letters, 2 for longer), and an edit can be anywhere, not only at the
ends (``querysyntax.fuzzy_readings`` reads those).

Bounded, with the term index's public lookups only (``TermIndex.match_prefix`` / ``match_suffix``: exact
lookups of the marked cuts of every listed one-word entry, >= 5 letters, never whole; ``match_words``: the
exact whole-word lookup). A candidate W is the term T with its edits inside one region, W = T[:i] + X +
T[j:]:

- when i >= 5, W starts with T[:5]: a listed word does only when ``match_prefix(T[:5])`` finds one;
- when len(T) - j >= 5, W ends with T[j:]: only when ``match_suffix(T[j:])`` finds one;
- otherwise (the edits cover the middle of a short term) W's first five letters are looked up.

The candidates are generated left to right, one edit after another, and a branch is cut as soon as its
prefix (five letters or more, with an edit in it) or the fixed rest after its last edit (five letters or
more) cannot belong to a listed word; the survivors are looked up whole. So a term next to nothing listed
costs a few lookups; only a term next to a listed word is expanded. Budgets (``MAX_LOOKUPS``) bound the
work of one query string; past them the rest of its fuzzy terms is read at the ends only (its results
are screened anyway). Terms of other scripts than ASCII letters and digits are not probed (the
substitution alphabet is ``a-z0-9``); candidates keep at least five letters (``MIN_LETTERS``), as the
wildcard rule does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from filter_proxy.normalize import words as normal_words
from filter_proxy.verdict import ALLOW, Verdict, strongest

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

__all__ = ["ALPHABET", "INFIX_SIDE", "MAX_EDITS", "MAX_LOOKUPS", "MIN_LETTERS", "candidates", "fuzzy_verdict",
           "infix_verdict"]

# Normalised words hold no "l" (read as "i") and no digits (read as letters): the edits stay among what
# a normalised listed word can hold (``normalize.words``); repeated letters collapse there too.
ALPHABET = "abcdefghijkmnopqrstuvwxyz"
MIN_LETTERS = 5
MAX_EDITS = 2  # Lucene's LevenshteinAutomata supports no more
MAX_LOOKUPS = 1500  # prefix and suffix lookups, and candidates, per fuzzy term (measured: <= ~300, ~2 ms)
MAX_TERM = 40  # longer terms are not probed (no listed word is that long; the work grows with length)
INFIX_SIDE = 2  # a contains-wildcard's core is read with up to this many letters before or after it


class _Lookups:
    """Memoised exact lookups against one term index, counted against ``MAX_LOOKUPS``."""

    __slots__ = ("terms", "prefixes", "suffixes", "left")

    def __init__(self, terms: object, budget: int) -> None:
        self.terms = terms
        self.prefixes: dict[str, bool] = {}
        self.suffixes: dict[str, bool] = {}
        self.left = budget

    def prefix(self, text: str) -> bool:
        """Some listed one-word entry longer than ``text`` starts with it (``len(text) >= 5``)."""
        return self._ask(self.prefixes, self.terms.match_prefix, text)  # type: ignore[attr-defined]

    def suffix(self, text: str) -> bool:
        """Some listed one-word entry longer than ``text`` ends with it."""
        return self._ask(self.suffixes, self.terms.match_suffix, text)  # type: ignore[attr-defined]

    def _ask(self, known: dict[str, bool], lookup: Callable[[list[str]], list[object]], text: str) -> bool:
        """One lookup per distinct text, each spending one unit of the budget."""
        found = known.get(text)
        if found is None:
            if self.left <= 0:
                raise _OverBudget
            self.left -= 1
            found = known[text] = bool(lookup([text]))
        return found


class _OverBudget(Exception):
    pass


def _ops(term: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """One edit at each position, in position order: (i, j, replacements) for ``term[:i] + x + term[j:]``
    (insertion before i; substitution or deletion of term[i]; transposition of term[i], term[i + 1])."""
    out: list[tuple[int, int, tuple[str, ...]]] = []
    n = len(term)
    for p in range(n + 1):
        out.append((p, p, tuple(ALPHABET)))
        if p < n:
            out.append((p, p + 1, (*(c for c in ALPHABET if c != term[p]), "")))
        if p + 1 < n and term[p] != term[p + 1]:
            out.append((p, p + 2, (term[p + 1] + term[p],)))
    return out


def _side(term: str, edits: int, starts: Callable[[str], bool], out: set[str], limit: int) -> None:
    """Candidates with up to ``edits`` edits, none in ``term[:5]``: a depth-first walk left to right that
    follows an edit only while what it has built so far starts a listed word (``starts``: one exact
    lookup of a marked cut, memoised). Run on the reversed term with the suffix lookup for the other side."""
    ops = _ops(term)
    first = next(k for k, op in enumerate(ops) if op[0] >= MIN_LETTERS) if len(term) >= MIN_LETTERS else len(ops)

    def walk(done: str, pos: int, left: int, start: int) -> None:
        for i, j, replacements in ops[start:]:
            if i < pos:
                continue
            head = done + term[pos:i]
            rest = term[j:]
            # Candidates of this group start with ``head``. The cut keys are proper prefixes: the one
            # candidate that is ``head`` itself (the rest deleted) is looked up whole instead.
            if not starts(head):
                if rest:
                    if not done:
                        return  # an unedited longer head of the term starts nothing either
                    continue
                replacements = ("",) if "" in replacements else ()
            for x in replacements:
                built = head + x
                if len(built) + len(rest) < MIN_LETTERS or (rest and x and not starts(built)):
                    continue
                out.add(built + rest)
                if len(out) > limit:
                    raise _OverBudget
                if left > 1:
                    walk(built, j, left - 1, first)

    walk("", 0, edits, first)


def candidates(term: str, edits: int, lookups: _Lookups, limit: int = MAX_LOOKUPS) -> set[str]:
    """Words within ``edits`` edits of ``term`` (normalised, ``normalize.words``) that may be listed
    one-word entries (module docstring), at least ``MIN_LETTERS`` letters: every edit of one letter; two
    edits when they leave the first five or the last five letters alone (one edit in each is not read).
    Raises _OverBudget past ``limit`` candidates or lookups."""
    out: set[str] = set()
    if edits <= 0:
        return out
    n = len(term)
    _side(term, edits, lookups.prefix, out, limit)
    backward: set[str] = set()
    _side(term[::-1], edits, lambda s: lookups.suffix(s[::-1]), backward, limit)
    out.update(w[::-1] for w in backward)
    # One edit that touches both the first and the last five letters (terms under ten letters): few
    # enough to look up whole.
    for i, j, replacements in _ops(term):
        if i < MIN_LETTERS and n - j < MIN_LETTERS:
            out.update(w for x in replacements if len(w := term[:i] + x + term[j:]) >= MIN_LETTERS)
    if len(out) > limit:
        raise _OverBudget
    out.discard(term)
    return out


def fuzzy_verdict(text: str, edits: int, rules: RuleSet, budget: int = MAX_LOOKUPS) -> Verdict:
    """The strongest verdict of the listed one-word entries within ``edits`` edits of the fuzzy term
    ``text`` (as the backend reads ``text~edits``), ALLOW when none is or the term is not probed."""
    words = normal_words(text)
    if len(words) != 1:
        return ALLOW
    term = words[0]
    if not (MIN_LETTERS <= len(term) <= MAX_TERM and term.isascii() and term.isalnum()):
        return ALLOW
    lookups = _Lookups(rules.terms, budget)
    try:
        found = candidates(term, max(0, min(edits, MAX_EDITS)), lookups)
    except _OverBudget:
        return ALLOW  # not read past the budget: the backend's results are still screened
    if not found:
        return ALLOW
    ordered = sorted(found)
    matched = [w for w, hit in zip(ordered, map(rules.terms.match_words, ([w] for w in ordered)), strict=True) if hit]
    return strongest(rules.check_text(w) for w in matched) if matched else ALLOW


# The letters a contains-wildcard's core may have beside it: repeated letters collapse in normalised words,
# so such an end is another, shorter one.
_EXTRAS = tuple(extra for size in range(1, INFIX_SIDE + 1)
                for extra in map("".join, itertools.product(ALPHABET, repeat=size))
                if not any(a == b for a, b in zip(extra, extra[1:], strict=False)))


def infix_verdict(text: str, rules: RuleSet) -> Verdict:
    """A contains-wildcard's core (``*qxblocke*``: the backend finds every indexed word with ``qxblocke``
    inside): the strongest verdict of the listed one-word entries that hold the core with at most
    ``INFIX_SIDE`` letters before it or after it, ALLOW when none does. A listed word that starts or ends
    with the core is ``QueryPrefix`` / ``QuerySuffix``'s; one with more letters on both sides (for a core
    of five letters, a listed word of ten or more) is not read here (its results are screened). Each
    candidate end is one exact lookup of a marked cut, 2 x (25 + 600) at most, all in two batches."""
    words = normal_words(text)
    if len(words) != 1:
        return ALLOW
    core = words[0]
    if not (MIN_LETTERS <= len(core) <= MAX_TERM and core.isascii() and core.isalnum()):
        return ALLOW
    ends = [core + extra for extra in _EXTRAS if extra[0] != core[-1]]  # listed words may end with these
    starts = [extra + core for extra in _EXTRAS if extra[-1] != core[0]]  # ... or start with these
    # All candidate ends in two batched lookups (one by one they cost ~2.7 ms of CPU per core); only the
    # few that are cuts of a listed word are resolved to a verdict.
    terms = rules.terms
    found = [rules.check_suffix(text) for text, hit in zip(ends, terms.has_cuts(ends, ends=True), strict=True) if hit]
    found += [rules.check_prefix(text) for text, hit in zip(starts, terms.has_cuts(starts, ends=False), strict=True)
              if hit]
    return strongest(found) if found else ALLOW
