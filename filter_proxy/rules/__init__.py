"""Rule sets: reading and validating rule files and policy.toml, RuleSet, compiled bundles.

What a rule line means is the signal registry's business (``filter_proxy.signals``); this package reads
files and the policy and asks it. Nothing outside ``filter_proxy.rules`` that this package imports imports
it back, so the names below are imported eagerly.
"""

from __future__ import annotations

from filter_proxy.errors import Problem, RulesError
from filter_proxy.rules.bundle import compile_rules
from filter_proxy.rules.loader import check_rules, load_rules
from filter_proxy.rules.ruleset import RuleSet

__all__ = ["Problem", "RuleSet", "RulesError", "check_rules", "compile_rules", "load_rules"]
