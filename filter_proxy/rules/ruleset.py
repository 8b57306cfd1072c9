"""RuleSet: one loaded, immutable rule set and the checks the filter runs against it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from filter_proxy.rules.policy import PERCEPTUAL_ALGORITHMS, Policy
from filter_proxy.verdict import ACTION_RANK, ALLOW, Verdict

if TYPE_CHECKING:
    from filter_proxy.matchers.images import ImageIndex
    from filter_proxy.matchers.terms import TermIndex
    from filter_proxy.matchers.urls import UrlIndex
    from filter_proxy.warnings import WarningCatalog

EXACT_ALGORITHMS = ("md5", "sha1", "sha256")
_BLOCK_RANK = ACTION_RANK["block"]


class _Match(Protocol):
    @property
    def category(self) -> str: ...

    @property
    def rule_id(self) -> str: ...


class RuleSet:
    """Terms, URLs and image hashes with the policy that says what a match means.

    Built by ``load_rules`` from a directory or a compiled bundle; never changed afterwards, so one
    instance can be shared by every request and swapped whole on reload (see RuleHolder).
    """

    def __init__(
        self,
        *,
        policy: Policy,
        warnings: WarningCatalog,
        terms: TermIndex,
        urls: UrlIndex,
        images: ImageIndex,
        version: str,
        source: str,
        stats: Mapping[str, Any] | None = None,
        allow: Sequence[str] = (),
    ) -> None:
        self.policy = policy
        self.warnings = warnings
        self.terms = terms
        self.urls = urls
        self.images = images
        self.version = version
        self.source = source
        self.allow = tuple(allow)
        self.loaded_at = time.time()
        self._stats = dict(stats or {})
        # Per category: (rank, action, warning, report), looked up once per match, never per call.
        self._category = {
            name: (ACTION_RANK[cat.action], cat.action, cat.warning, cat.report)
            for name, cat in policy.categories.items()
        }
        # Hash what the index can match, and always the exact digests (cheap, and lists ship in them).
        image_algorithms = set(images.algorithms) | set(EXACT_ALGORITHMS)
        self._image_algorithms = tuple(sorted(image_algorithms))
        self._exact_algorithms = tuple(a for a in self._image_algorithms if a not in PERCEPTUAL_ALGORITHMS)

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} from {self.source!r}: {self.stats()['total']} entries>"

    # -- text -------------------------------------------------------------------------------------

    def check_text(self, text: str) -> Verdict:
        """The verdict for one piece of text (a query, a title, a snippet, a suggestion)."""
        matches = self.terms.match(text)
        if not matches:  # the common case: no allocation beyond the index's own lookup
            return ALLOW
        return self._resolve(matches, "term")

    def check_texts(self, texts: Iterable[str]) -> Verdict:
        """The strongest verdict over several fields of one result. Each field is matched on its own so
        that phrases never span two fields; stops at the first block."""
        best = ALLOW
        for text in texts:
            if not text:
                continue
            verdict = self.check_text(text)
            if verdict.rank > best.rank:
                best = verdict
                if best.rank == _BLOCK_RANK:
                    break
        return best

    # -- URLs -------------------------------------------------------------------------------------

    def check_url(self, url: str) -> Verdict:
        matches = self.urls.match(url)
        if not matches:
            return ALLOW
        return self._resolve(matches, "url")

    # -- images -----------------------------------------------------------------------------------

    def check_image(self, data: bytes) -> Verdict:
        """Hash the image bytes (perceptual hashes the index uses, plus exact digests) and near-match them.

        Raises ``ImageDecodeError`` when the bytes are not an image and no exact digest matches, so the
        caller can apply ``images.on_unverified``.
        """
        from filter_proxy.matchers.images import ImageDecodeError, compute_hashes, compute_query_hashes

        if len(self.images) == 0:
            return ALLOW
        images = self.policy.images
        try:
            # Query hashes include the flipped and rotated variants, so mirrored copies match too.
            hashes = compute_query_hashes(
                data, self._image_algorithms, max_pixels=images.max_pixels, min_pdq_quality=images.min_pdq_quality
            )
        except ImageDecodeError:
            # Exact digests need no decoding: a listed file is caught even when it will not decode.
            verdict = self.check_image_hashes(compute_hashes(data, self._exact_algorithms))
            if verdict.matched:
                return verdict
            raise
        return self.check_image_hashes(hashes)

    def check_image_hashes(self, hashes: Mapping[str, str | Sequence[str]]) -> Verdict:
        """Near-match precomputed hashes (algorithm -> hex, or -> several hexes such as dihedral variants),
        e.g. supplied by the backend with a result. Unknown algorithms and malformed hexes are ignored."""
        if not hashes or len(self.images) == 0:
            return ALLOW
        # The closest match per category, closest first; the strongest category wins, then the closest.
        matches = self.images.matches(hashes, self.policy.threshold)
        if not matches:
            return ALLOW
        return self._resolve(matches, "image")

    # -- introspection ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Entry counts per kind (flat numbers, as metrics want them) and per kind and category::

            {"terms": 5, "urls": 3, "images": 6, "allow": 1, "total": 14,
             "by_category": {"terms": {"zqx-abuse": 4, ...}, "urls": {...}, "images": {...}}}
        """
        by_category = {kind: dict(self._stats.get(kind, {})) for kind in ("terms", "urls", "images")}
        out: dict[str, Any] = {kind: sum(counts.values()) for kind, counts in by_category.items()}
        out["allow"] = int(self._stats.get("allow", len(self.allow)))
        out["total"] = out["terms"] + out["urls"] + out["images"]
        out["by_category"] = by_category
        return out

    # -- internals --------------------------------------------------------------------------------

    def _category_policy(self, category: str) -> tuple[int, str, str | None, bool]:
        found = self._category.get(category)
        if found is None:
            # A compiled index naming a category the policy lacks cannot come from a checked rule set;
            # fail closed rather than let the content through.
            return _BLOCK_RANK, "block", None, False
        return found

    def _resolve(self, matches: Sequence[_Match], signal: str) -> Verdict:
        """Strongest action over all matches (block > warn > strip); ties keep the first match."""
        best: _Match | None = None
        best_policy: tuple[int, str, str | None, bool] | None = None
        for match in matches:
            policy = self._category_policy(match.category)
            if best_policy is None or policy[0] > best_policy[0]:
                best, best_policy = match, policy
        assert best is not None and best_policy is not None
        _, action, warning, report = best_policy
        distance = getattr(best, "distance", None)  # image matches carry their Hamming distance
        return Verdict(action, best.category, best.rule_id, warning, signal, distance, report)
