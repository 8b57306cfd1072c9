"""filter-proxy: keep child sexual abuse material out of search results and suggestions."""

from filter_proxy.rules.errors import RulesError
from filter_proxy.verdict import Verdict

__all__ = ["RulesError", "Verdict"]
