"""Page strings found clean in every reading, remembered per rule set (``RuleSet.clean_strings``).

A result string is read as itself, without its markup, as a client decodes it and for every URL-shaped part
of it (``page_results.screen_results``): all of that is a function of the string and the rules alone. A
string found clean in every reading is remembered here, so the next page that holds it (a popular result,
a repeated snippet, the same field names) reads only the strings it has not seen. The verdict caches do the
same for one reading each; this spares the readings themselves (markup, decoded forms, URL parts). Bounded
like them: two generations of sets, the older dropped when the newer holds half the bound; a string seen
again is copied forward. A new rule set (a reload) starts empty, so nothing is remembered across rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["CleanStrings"]


class CleanStrings:
    """At most about ``size`` strings known clean under one rule set."""

    __slots__ = ("_recent", "_previous", "_half")

    def __init__(self, size: int) -> None:
        self._recent: set[str] = set()
        self._previous: set[str] = set()
        self._half = max(1, size // 2)

    def __len__(self) -> int:
        return len(self._recent) + len(self._previous)

    def unknown(self, strings: Collection[str]) -> list[str]:
        """The strings of ``strings`` not known clean, in order (those known stay remembered)."""
        recent = self._recent
        if recent.issuperset(strings):  # a page seen before: one C-level pass
            return []
        previous = self._previous
        out: list[str] = []
        again: list[str] = []
        for text in strings:
            if text not in recent:
                (again if text in previous else out).append(text)
        if again:
            self.add(again)
        return out

    def add(self, strings: Iterable[str]) -> None:
        """Remember ``strings`` as clean in every reading."""
        recent = self._recent
        for text in strings:
            if len(recent) >= self._half:
                self._previous, recent = recent, set()
                self._recent = recent
            recent.add(text)
