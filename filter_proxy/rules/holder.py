"""An atomically swappable reference to the rule set currently in force."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet


class RuleHolder:
    """Holds the current RuleSet. Readers take ``holder.current`` once per request; a reload builds the new
    set beside the old one and swaps the reference (a single attribute store, atomic under the GIL), so a
    request never sees half of a rule set."""

    def __init__(self, rules: RuleSet) -> None:
        self._current = rules
        self._lock = threading.Lock()  # serialises writers only

    @property
    def current(self) -> RuleSet:
        return self._current

    def swap(self, rules: RuleSet) -> RuleSet:
        with self._lock:
            old, self._current = self._current, rules
        return old
