"""Rule sets: parsing and validating rule files, RuleSet, compiled bundles.

Names are imported lazily: the matchers import ``filter_proxy.rules.errors`` and ``.policy``, and an eager
import of the loader here would make that a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filter_proxy.rules.bundle import compile_rules
    from filter_proxy.rules.errors import Problem, RulesError
    from filter_proxy.rules.loader import check_rules, load_rules
    from filter_proxy.rules.ruleset import RuleSet

_EXPORTS = {
    "Problem": "filter_proxy.rules.errors",
    "RulesError": "filter_proxy.rules.errors",
    "check_rules": "filter_proxy.rules.loader",
    "load_rules": "filter_proxy.rules.loader",
    "compile_rules": "filter_proxy.rules.bundle",
    "RuleSet": "filter_proxy.rules.ruleset",
}

__all__ = ["Problem", "RuleSet", "RulesError", "check_rules", "compile_rules", "load_rules"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'filter_proxy.rules' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
