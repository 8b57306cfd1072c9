"""The outcome of screening one piece of content (a query, a result, a URL, an image)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Strength order: when several categories match, the strongest action wins (block > warn > strip).
ACTION_RANK: dict[str, int] = {"allow": 0, "strip": 1, "warn": 2, "block": 3}
ACTIONS = tuple(ACTION_RANK)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a piece of content and why.

    ``rule_id`` is the ``path:line`` of the matching rule entry; it is for logs, metrics and the report
    sink, never for the client's response.
    """

    action: str = "allow"
    category: str | None = None
    rule_id: str | None = None
    warning: str | None = None  # warning kind, e.g. "deterrence" or "support"
    signal: str | None = None  # "term", "url" or "image"
    distance: int | None = None  # Hamming distance of an image near-match
    report: bool = False  # send the matched content to the report sink
    # Every rule that contributed (weighted phrases whose summed weight reached the category's limit);
    # like rule_id, for logs and the report only, never the client's response.
    rules: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.action != "allow"

    @property
    def rank(self) -> int:
        return ACTION_RANK[self.action]


ALLOW = Verdict()


def strongest(verdicts: Iterable[Verdict]) -> Verdict:
    """The strongest verdict; ties keep the first seen, so callers order by preference."""
    best = ALLOW
    for verdict in verdicts:
        if verdict.rank > best.rank:
            best = verdict
    return best
