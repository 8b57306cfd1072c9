"""What screening a result's pictures found (light: no imaging imports), shared by the screener and the
page screening in ``screening.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from filter_proxy.matchers.image_region_match import REGION_KEY, parse_region
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS as EXACT
from filter_proxy.verdict import Verdict


@dataclass(slots=True)
class ImageCheck:
    """The outcome for the pictures of one result.

    ``verdict`` is None when some picture could not be verified and none matched (the middleware applies
    ``images.on_unverified``). On a match, ``url`` is the picture that matched and ``image_hash`` the
    ``algorithm:hex`` that matched it (for the report sink). ``shown`` maps each verified picture's URL to
    the address that serves the very bytes that were checked, when the screener rewrites them.
    """

    verdict: Verdict | None
    url: str | None = None
    image_hash: str | None = None
    shown: dict[str, str] = field(default_factory=dict)


def matched_hash(rules: Any, hashes: Mapping[str, str | Sequence[str]], verdict: Verdict) -> str | None:
    """``algorithm:hex`` of the query hash that produced ``verdict`` (what the report sink records), or
    None. Run only after a match, so its cost (a few more index lookups) is paid rarely."""
    index = getattr(rules, "images", None)
    if index is None or not verdict.matched:
        return None
    policy = getattr(rules, "policy", None)
    threshold = policy.threshold if policy is not None else (lambda c, a: 0)
    for algorithm in sorted(hashes, key=lambda a: a not in EXACT):  # exact digests first
        value = hashes[algorithm]
        for hex_ in [value] if isinstance(value, str) else list(value):
            for match in index.matches({algorithm: hex_}, threshold):
                if match.rule_id == verdict.rule_id:
                    if algorithm == REGION_KEY:  # a framed copy: the region's hash of the matching algorithm
                        return f"{match.algorithm}:{parse_region(hex_).get(match.algorithm, '')}"
                    return f"{algorithm}:{hex_.lower()}"
    # Agreement between algorithms (images.require_agreement): no single hash matches on its own.
    for algorithm, value in hashes.items():
        if algorithm not in EXACT and algorithm != REGION_KEY and value:
            return f"{algorithm}:{(value if isinstance(value, str) else value[0]).lower()}"
    return None


def rewrite_urls(doc: Any, replace: Mapping[str, str]) -> Any:
    """``doc`` with every string equal to a key of ``replace`` replaced by its value, wherever it occurs (a
    picture URL sits in adapter-specific fields; the same URL elsewhere shows the same picture). In place for
    dicts and lists; returns the document."""
    if isinstance(doc, str):
        return replace.get(doc, doc)
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in list(items):
            if isinstance(value, str):
                new = replace.get(value)
                if new is not None:
                    node[key] = new
            elif isinstance(value, dict | list):
                stack.append(value)
    return doc
