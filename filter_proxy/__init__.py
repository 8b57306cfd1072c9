"""filter-proxy: keep child sexual abuse material out of search results and suggestions."""

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.proxy import create_proxy_app
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.loader import load_rules
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.verdict import Verdict

__all__ = ["FilterMiddleware", "RuleSet", "RulesError", "Verdict", "create_proxy_app", "load_rules"]
