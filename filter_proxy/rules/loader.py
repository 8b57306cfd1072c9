"""Loading rules: a directory or a compiled bundle, every problem located as ``path:line``.

``check_rules`` collects all problems at once (for `filter-proxy rules check`); ``load_rules`` refuses a
rule set with any error and returns a RuleSet otherwise. A path that is a compiled bundle (recognised by
its magic bytes) is loaded by ``filter_proxy.rules.bundle``; a directory is read by
``filter_proxy.rules.sources``.
"""

from __future__ import annotations

from pathlib import Path

from filter_proxy.errors import Problem, RulesError
from filter_proxy.rules.bundle import is_bundle, load_bundle
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.rules.sources import Sources, build_indexes, build_ruleset, read_sources

__all__ = ["check_rules", "load_rules", "Sources", "build_indexes", "build_ruleset", "read_sources"]


def check_rules(path: str | Path) -> list[Problem]:
    """Every problem (errors and warnings) in a rules directory or bundle, in file order."""
    path = Path(path)
    if path.is_file() and is_bundle(path):
        try:
            load_bundle(path)
        except RulesError as exc:
            return list(exc.problems)
        return []
    try:
        return read_sources(path).problems
    except RulesError as exc:
        return list(exc.problems)


def load_rules(path: str | Path) -> RuleSet:
    """A RuleSet from a rules directory or a compiled bundle; RulesError when anything is wrong."""
    path = Path(path)
    if path.is_file():
        if is_bundle(path):
            return load_bundle(path)
        raise RulesError(str(path), 0, "not a rules directory or a compiled rules bundle")
    sources = read_sources(path)
    if sources.errors:
        raise RulesError.from_problems(sources.problems)
    return build_ruleset(sources, str(path))
