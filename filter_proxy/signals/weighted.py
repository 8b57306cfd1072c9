"""Weighted phrases: ``weight=+40 phrase`` (or ``weight=-20 phrase``) in ``rules/terms/<category>.txt``.

A text's score in a category is the sum of the weights of that category's distinct phrases it contains
(each phrase counted once per text); when it reaches the category's ``score_limit`` (``policy.toml``) the
text gets the category's action. Negative weights are context that lowers the score ("... in a medical
textbook"). Phrases are read as listed terms are (``SpanIndex`` over ``TermIndex``), disguises included.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import NamedTuple

from filter_proxy.matchers.term_entries import TermEntry, parse_term_line
from filter_proxy.normalize import normalize
from filter_proxy.reading import Reading
from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.word_spans import SpanIndex, pack, read, unpack

__all__ = ["WeightedSignal", "WeightedIndex", "Score", "parse_weighted"]

_MAGIC = b"FPWEIGH1"
_HEAD = re.compile(r"^weight\s*=\s*([+-]?\d+)\s+(.*)$", re.I | re.S)
MAX_WEIGHT = 1000


_CLAIM = re.compile(r"\s*weight\s*=", re.I)  # compiled once: every term line is asked (1M-line lists)

class Score(NamedTuple):
    """A category whose summed weight in one text reached its limit; ``rules`` contributed (positive
    weights first, largest first), ``rule_id`` is the largest contributor."""

    category: str
    rule_id: str
    score: int
    rules: tuple[str, ...]


def parse_weighted(text: str) -> tuple[int, str]:
    """(weight, phrase as written) of a ``weight=+N phrase`` line; SignalError."""
    head = _HEAD.match(text.strip())
    if head is None:
        raise SignalError("a weighted phrase reads 'weight=+40 some phrase' (or a negative weight)")
    weight = int(head[1])
    if weight == 0 or abs(weight) > MAX_WEIGHT:
        raise SignalError(f"weight {weight}: must be a whole number from -{MAX_WEIGHT} to +{MAX_WEIGHT}, not 0")
    phrase = head[2].strip()
    if phrase.startswith("~") or phrase[:7].lower() == "sha256:":
        raise SignalError("weighted phrases are plain phrases (no '~' substring or sha256: entries)")
    _, _, reason = parse_term_line(phrase)
    if reason is not None:
        raise SignalError(reason)
    return weight, phrase


class WeightedSignal(SignalType):
    name = "weighted"
    index_group = "weights"
    source = "terms"
    catch_all = False
    verdict_signal = "term"
    exact = True

    @classmethod
    def claims(cls, text: str) -> bool:
        return _CLAIM.match(text) is not None  # then parse_weighted judges the rest

    @classmethod
    def parse_line(cls, text: str) -> tuple[str, Hashable]:
        """``value`` is ``"<weight> <phrase>"``; duplicates: the same normalised phrase."""
        weight, phrase = parse_weighted(text)
        return f"{weight:+d} {phrase}", ("weight", normalize(phrase))

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> WeightedIndex:
        return WeightedIndex.build(entries, allow)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> WeightedIndex:
        return WeightedIndex.from_bytes(data)


class WeightedIndex:
    def __init__(self, meta: dict, spans: SpanIndex) -> None:
        self._meta = meta
        self._spans = spans
        self._weights: dict[str, tuple[str, int]] = {rid: (cat, w) for rid, cat, w in meta["weights"]}

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> WeightedIndex:
        terms: list[TermEntry] = []
        weights: list[list] = []
        for entry in entries:
            weight_text, _, phrase = entry.value.partition(" ")
            try:
                weight = int(weight_text)
            except ValueError:
                raise ValueError(f"{entry.rule_id}: not a weighted phrase value: {entry.value!r}") from None
            terms.append(TermEntry(phrase, entry.category, entry.rule_id))
            weights.append([entry.rule_id, entry.category, weight])
        return cls({"weights": weights}, SpanIndex.build(terms, allow=allow))

    def __len__(self) -> int:
        return len(self._weights)

    @property
    def term_index(self) -> SpanIndex:
        """The term index that finds the words (``RuleSet.check_many`` screens a page with it, ``form_page``)."""
        return self._spans

    def categories(self) -> set[str]:
        return {cat for cat, _ in self._weights.values()}

    def match(self, text: str, limit: dict[str, int]) -> list[Score]:
        return self.match_reading(read(text), limit) if self._weights else []

    def match_reading(self, reading: Reading, limit: dict[str, int]) -> list[Score]:
        """Categories whose score reaches ``limit[category]`` (a category without a limit never scores)."""
        if not self._weights:
            return []
        found = self._spans.spans(reading)
        if not found:
            return []
        weights = self._weights
        per: dict[str, dict[str, int]] = {}
        for _, _, rule_id in found:
            category, weight = weights[rule_id]
            per.setdefault(category, {})[rule_id] = weight
        out: list[Score] = []
        for category, contributions in per.items():
            total = sum(contributions.values())
            cap = limit.get(category)
            if cap is not None and total >= cap:
                ranked = sorted(contributions, key=lambda r: -contributions[r])
                out.append(Score(category, ranked[0], total, tuple(ranked)))
        return out

    def to_bytes(self) -> bytes:
        return pack(_MAGIC, self._meta, self._spans)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> WeightedIndex:
        return cls(*unpack(data, _MAGIC, "weighted-phrase", ("weights",)))
