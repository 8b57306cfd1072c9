"""RuleSet: one loaded, immutable rule set and the checks the filter runs against it.

Verdict cache (DESIGN §8 speed target): popular documents recur across result pages, so ``check_text``,
``check_texts`` and ``check_url`` keep bounded LRUs (``cache_size`` entries each, 32768 by default; 0
turns them off; ``clear_cache`` empties them) from a field to its verdict. The keys are never the text
itself, so the cache holds no query or result text: they are Python's ``hash(text)``, a 64-bit SipHash
under the per-process random key, cheap and cached on the string. An attacker who cannot learn that
key cannot craft a listed text that collides with a cached benign one (~2^-49 per try with a full
cache). When the key is not random (``PYTHONHASHSEED`` set), keys are 16-byte BLAKE2b digests instead
(~0.7 µs more per field). The cache lives and dies with this immutable rule set, so a reload can never
serve a stale verdict.

Measured (demo corpus, 100k terms, 10k URLs, 2-core box; page = 10 x ``check_texts((title, snippet))``
+ ``check_url(url)``, median): cache off 0.145 ms, cold (every field a miss) 0.163 ms, warm (every field
seen before) 0.010 ms. On the speed suite's pool (longer snippets, curly quotes, ``www.`` and tracking
queries in URLs) the cache-off page went 0.45 -> 0.28 ms once those took the fast paths. A miss costs ~0.5 µs per field, a hit saves ~5 µs, so the cache pays from a hit
rate of ~10%. Two plain-dict generations approximate an LRU at dict speed (``_VerdictCache``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from hashlib import blake2b
from typing import TYPE_CHECKING, Any, Protocol

from filter_proxy.normalize import words as normal_words
from filter_proxy.reading import Reading
from filter_proxy.rules.clean_strings import CleanStrings
from filter_proxy.rules.policy import Policy
from filter_proxy.signals import registry
from filter_proxy.signals.base import SignalIndex
from filter_proxy.signals.form_page import FULL, PageUnion, fold_tagged, page_readings
from filter_proxy.signals.images import ImageDecodeError, ImageSignals, digest_image, hash_image
from filter_proxy.signals.registry import EXACT_ALGORITHMS
from filter_proxy.signals.word_spans import read as read_text
from filter_proxy.verdict import ACTION_RANK, ALLOW, Verdict

if TYPE_CHECKING:
    from filter_proxy.matchers.terms import TermIndex
    from filter_proxy.signals.combos import ComboIndex
    from filter_proxy.signals.urls import UrlIndex
    from filter_proxy.signals.weighted import WeightedIndex
    from filter_proxy.warnings import WarningCatalog

_BLOCK_RANK = ACTION_RANK["block"]
DEFAULT_CACHE_SIZE = 1 << 15


def _digest(text: str) -> bytes:
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# Cache keys: SipHash under the interpreter's random key when there is one (see the module docstring).
_cache_key: Callable[[str], object] = (
    hash if sys.flags.hash_randomization and os.environ.get("PYTHONHASHSEED", "random") == "random" else _digest
)


class _Match(Protocol):
    @property
    def category(self) -> str: ...

    @property
    def rule_id(self) -> str: ...


class _VerdictCache:
    """Two generations of plain dicts, an LRU approximation at dict speed (an ``OrderedDict`` with
    ``move_to_end`` costs ~2x per probe). New verdicts go into ``recent``; when it holds half the bound,
    it becomes ``previous`` and the old ``previous`` is dropped. A hit in ``previous`` is copied back
    into ``recent``, so a verdict in use survives and at most ``size`` entries are held."""

    __slots__ = ("_recent", "_previous", "_half")

    def __init__(self, size: int) -> None:
        self._recent: dict[object, Verdict] = {}
        self._previous: dict[object, Verdict] = {}
        self._half = max(1, size // 2)

    def get(self, value: str, check: Callable[[str], Verdict]) -> Verdict:
        key = _cache_key(value)
        verdict = self._recent.get(key)
        if verdict is not None:
            return verdict
        verdict = self._previous.get(key)
        if verdict is None:
            verdict = check(value)
        if len(self._recent) >= self._half:
            self._previous, self._recent = self._recent, {}
        self._recent[key] = verdict
        return verdict

    def find(self, value: str) -> Verdict | None:
        """The cached verdict of ``value`` (kept in use, as ``get`` does), or None."""
        key = _cache_key(value)
        verdict = self._recent.get(key)
        if verdict is None:
            verdict = self._previous.get(key)
            if verdict is not None:
                self.put(value, verdict)
        return verdict

    def put(self, value: str, verdict: Verdict) -> None:
        if len(self._recent) >= self._half:
            self._previous, self._recent = self._recent, {}
        self._recent[_cache_key(value)] = verdict


class RuleSet:
    """One index per index group of the signal registry (``indexes``: ``terms``, ``urls``, ``images``) with
    the policy that says what a match means. Each check answers through one path: text through the terms
    signal, a URL through the URL signal, image hashes through the image signals together (``images``).

    Built by ``load_rules`` from a directory or a compiled bundle; never changed afterwards, so one
    instance can be shared by every request and swapped whole on reload (see RuleHolder).
    """

    def __init__(
        self,
        *,
        policy: Policy,
        warnings: WarningCatalog,
        indexes: Mapping[str, SignalIndex],
        version: str,
        source: str,
        stats: Mapping[str, Any] | None = None,
        sizes: Mapping[str, Mapping[str, int]] | None = None,
        allow: Sequence[str] = (),
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.policy = policy
        self.warnings = warnings
        # One index per index group of the signal registry: "terms", "urls", "images".
        self.indexes = {group: indexes[group] if group in indexes else builder.build([])
                        for group, builder in registry.INDEXES.items()}
        self.terms: TermIndex = self.indexes["terms"]  # type: ignore[assignment]
        self.urls: UrlIndex = self.indexes["urls"]  # type: ignore[assignment]
        self.images: ImageSignals = self.indexes["images"]  # type: ignore[assignment]
        self.combos: ComboIndex = self.indexes["combos"]  # type: ignore[assignment]
        self.weights: WeightedIndex = self.indexes["weights"]  # type: ignore[assignment]
        # Only a rule set that lists combinations or weighted phrases pays for a second reading of a text.
        self._forms = len(self.combos) > 0 or len(self.weights) > 0
        self._score_limits = policy.score_limits()
        # The page batch over terms and the forms' word indexes together (signals/form_page), when it applies.
        page_indexes = [self.terms, *(form.term_index for form in (self.combos, self.weights) if len(form))]
        self._page_union = PageUnion(page_indexes) if self._forms and PageUnion.usable(page_indexes) else None
        # check_many: the verdict of a page string's term matches (rules, never text; Verdicts are frozen).
        self._term_verdicts: dict[tuple[Any, ...], Verdict] = {}
        # Expected false matches per picture of each category's perceptual list (set by the loader).
        self.image_findings: list[Any] = []
        images = self.images
        self.version = version
        self.source = source
        self.allow = tuple(allow)
        self.loaded_at = time.time()
        self._stats = dict(stats or {})
        self._sizes = {signal: dict(counts) for signal, counts in (sizes or {}).items()}  # signal -> category -> n
        # Per category: (rank, action, warning, report), looked up once per match, never per call.
        self._category = {
            name: (ACTION_RANK[cat.action], cat.action, cat.warning, cat.report)
            for name, cat in policy.categories.items()
        }
        # Hash what the index can match, and always the exact digests (cheap, and lists ship in them).
        image_algorithms = set(images.algorithms) | set(EXACT_ALGORITHMS)
        self._image_algorithms = tuple(sorted(image_algorithms))
        self._exact_algorithms = tuple(a for a in self._image_algorithms if a in EXACT_ALGORITHMS)
        self._cache_size = max(0, int(cache_size))
        self._text_cache = _VerdictCache(self._cache_size)
        self._url_cache = _VerdictCache(self._cache_size)
        # Page strings found clean in every reading (page_results); None with the caches off.
        self.clean_strings: CleanStrings | None = CleanStrings(self._cache_size) if self._cache_size else None

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} from {self.source!r}: {self.stats()['total']} entries>"

    # -- text -------------------------------------------------------------------------------------

    def check_text(self, text: str) -> Verdict:
        """The verdict for one piece of text (a query, a title, a snippet, a suggestion)."""
        if not self._cache_size or not isinstance(text, str):
            return self._check_text(text)
        return self._text_cache.get(text, self._check_text)

    def check_texts(self, texts: Iterable[str]) -> Verdict:
        """The strongest verdict over several fields of one result. Each field is matched on its own so
        that phrases never span two fields; several fields are matched together (``check_many``)."""
        fields = [text for text in texts if text]
        best = ALLOW
        for verdict in self.check_many(fields) if len(fields) > 1 else map(self.check_text, fields):
            if verdict is not ALLOW and verdict.rank > best.rank:
                best = verdict
                if best.rank == _BLOCK_RANK:
                    break
        return best

    def check_many(self, texts: Sequence[str]) -> list[Verdict]:
        """``[check_text(t) for t in texts]`` over the strings of a page at once (issue 14): the term index
        normalises and looks up every uncached string together (``TermIndex.match_many``). A rule set with
        combination rules or weighted phrases does the same over its three indexes at once
        (``signals/form_page``): the strings that certainly match none of them are found for the page, and
        each other string is read once for all three."""
        cache = self._text_cache if self._cache_size else None
        if cache is None:
            return self._match_page(texts)
        out = [ALLOW] * len(texts)
        where: list[int] = []
        missing = []
        for i, text in enumerate(texts):
            found = cache.find(text) if isinstance(text, str) else None
            if found is None:
                where.append(i)
                missing.append(text)
            else:
                out[i] = found
        if not missing:  # every string cached: no page pass at all (~3 µs a call, 2-3 calls a request)
            return out
        for i, text, verdict in zip(where, missing, self._match_page(missing), strict=True):
            out[i] = verdict
            if isinstance(text, str):
                cache.put(text, verdict)
        return out

    def _match_page(self, texts: Sequence[str]) -> list[Verdict]:
        """The verdicts of ``texts`` without the cache (``check_many``)."""
        if self._forms:
            if self._page_union is None:
                return [self._check_forms(text) for text in texts]
            forms = self._forms_verdict
            return [ALLOW if found is None else forms(read_text(text) if found is FULL else found)
                    for text, found in zip(texts, page_readings(self._page_union, texts), strict=True)]
        found = self.terms.match_many(texts)
        out = [ALLOW] * len(found)
        known = self._term_verdicts
        for i, matches in enumerate(found):
            if matches:
                key = tuple(matches)
                verdict = known.get(key)
                if verdict is None:
                    if len(known) > 4096:  # bounded: cleared whole, like the index's caches
                        known.clear()
                    verdict = known[key] = self._resolve(matches, "term")
                out[i] = verdict
        return out

    def check_prefix(self, text: str) -> Verdict:
        """A query term cut short by a trailing wildcard (``text`` is what precedes the wildcard): the
        verdict of the listed entries that start with it, when it keeps at least five letters of them
        (``TermIndex.match_prefix``). Not cached: it runs only for queries with wildcards."""
        matches = self.terms.match_prefix(normal_words(text))
        return self._resolve(matches, "term") if matches else ALLOW

    def check_suffix(self, text: str) -> Verdict:
        """A query term after a leading wildcard (``text`` starts with what follows the wildcard): the
        verdict of the listed one-word entries that end with it, when it keeps at least five letters of
        them (``TermIndex.match_suffix``, the mirror of ``check_prefix``)."""
        matches = self.terms.match_suffix(normal_words(text))
        return self._resolve(matches, "term") if matches else ALLOW

    def _check_text(self, text: str) -> Verdict:
        if self._forms:
            return self._check_forms(text)
        matches = self.terms.match(text)
        if not matches:  # the common case: no allocation beyond the index's own lookup
            return ALLOW
        return self._resolve(matches, "term")

    def check_forms(self, texts: Sequence[str]) -> Verdict:
        """Combination rules and weighted phrases over several texts read as one (the parts of one query);
        ALLOW at once when the rule set lists neither. Not cached: queries with several parts only."""
        if not self._forms:
            return ALLOW
        reading = read_text(" \n ".join(t for t in texts if isinstance(t, str)))
        found: list[Any] = [*self.combos.match_reading(reading),
                            *self.weights.match_reading(reading, self._score_limits)]
        return self._resolve(found, "term") if found else ALLOW

    def _check_forms(self, text: str) -> Verdict:
        """Terms, combination rules and weighted phrases together, on one reading of the text."""
        return self._forms_verdict(read_text(text))

    def _forms_verdict(self, reading: Reading) -> Verdict:
        """Terms, combination rules and weighted phrases on one reading of a text (what ``TermIndex.match``
        reads, computed once for the three; hashtag words segmented once, ``form_page.fold_tagged``)."""
        reading = fold_tagged(reading)
        terms = self.terms
        found: list[Any] = terms.match_words(reading.words, reading.tagged, reading.glued)
        if reading.alternate is not None:
            found += terms.match_words(reading.alternate)
        found += [*self.combos.match_reading(reading), *self.weights.match_reading(reading, self._score_limits)]
        return self._resolve(found, "term") if found else ALLOW

    # -- URLs -------------------------------------------------------------------------------------

    def check_url(self, url: str) -> Verdict:
        """The verdict for one URL, read as browsers read it (``signals.url_canon``); a URL that cannot be
        read is matched on its text instead, never allowed for being unreadable (``signals.urls``)."""
        if not self._cache_size or not isinstance(url, str):  # _check_url written out: one call less per URL
            matches = self.urls.match(url)
            return self._resolve(matches, "url") if matches else ALLOW
        return self._url_cache.get(url, self._check_url)

    def _check_url(self, url: str) -> Verdict:
        matches = self.urls.match(url)
        if not matches:
            return ALLOW
        return self._resolve(matches, "url")

    # -- verdict cache ----------------------------------------------------------------------------

    def set_cache_size(self, size: int) -> None:
        """Bound each verdict cache to about ``size`` entries (0 turns caching off) and empty it."""
        self._cache_size = max(0, int(size))
        self.clear_cache()

    def clear_cache(self) -> None:
        """Forget every cached verdict (benchmarks use it to measure the cold path)."""
        self._text_cache = _VerdictCache(self._cache_size)
        self._url_cache = _VerdictCache(self._cache_size)
        self.clean_strings = CleanStrings(self._cache_size) if self._cache_size else None

    # -- images -----------------------------------------------------------------------------------

    def check_image(self, data: bytes) -> Verdict:
        """Hash the image bytes (perceptual hashes the index uses, plus exact digests) and near-match them.

        Raises ``ImageDecodeError`` when the bytes are not an image and no exact digest matches, so the
        caller can apply ``images.on_unverified``.
        """
        if len(self.images) == 0:
            return ALLOW
        images = self.policy.images
        try:
            # Query hashes include the flipped and rotated variants, so mirrored copies match too.
            hashes = hash_image(
                data, self._image_algorithms, max_pixels=images.max_pixels, min_pdq_quality=images.min_pdq_quality
            )
        except ImageDecodeError:
            # Exact digests need no decoding: a listed file is caught even when it will not decode.
            verdict = self.check_image_hashes(digest_image(data, self._exact_algorithms))
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

    def category_sizes(self) -> dict[str, dict[str, int]]:
        """Entries per category and signal, every declared category included (``{}`` when it lists
        nothing), e.g. ``{"zqx-abuse": {"terms": 4, "urls": 2, "phash": 3}, "zqx-spam": {}}``. For the
        reload guard that refuses a rule set which empties or halves a category."""
        out: dict[str, dict[str, int]] = {name: {} for name in self.policy.categories}
        for signal, counts in self._sizes.items():
            for category, count in counts.items():
                if count:
                    out.setdefault(category, {})[signal] = int(count)
        return out

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
        rules = getattr(best, "rules", ())  # weighted phrases name every contributing rule
        return Verdict(action, best.category, best.rule_id, warning, signal, distance, report, rules)
