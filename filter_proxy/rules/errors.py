"""Rule-file errors, re-exported: they live in ``filter_proxy.errors`` so that modules the rule loader
imports (the warning catalog) can report problems without importing ``filter_proxy.rules``."""

from filter_proxy.errors import Problem, RulesError

__all__ = ["Problem", "RulesError"]
