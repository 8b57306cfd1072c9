"""Screening one buffered page: which results, suggestions and other parts go, which thumbnails are hidden.

Deny by default (DESIGN §1 steps 5-6): every string of each result is screened (not only the mapped
fields: ``page_results.screen_results``, re-exported here with ``Removal``); the adapter's other removable parts (``Adapter.sections``) are screened and dropped; finally one
walk reads every string of the document as it will be sent (skipping parts already screened whole and
kept, and the backend's echo of the request). A listed string found by that walk has nothing removable
around it, so the page is withheld (``PageOutcome.withheld``; the middleware answers 502).

Pure logic shared by both modes (mounted middleware and reverse proxy). Nothing here touches ASGI or the
network except the optional image screener, which is awaited by ``screen_page``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from filter_proxy.adapters.base import Adapter, ResultView
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.querysyntax import QueryFuzzy, QueryInfix, QueryPrefix, QuerySuffix
from filter_proxy.adapters.walk import collect_except, may_hold_url, url_parts
from filter_proxy.adapters.walk import strings as walk_strings
from filter_proxy.encoded import add_readings
from filter_proxy.fuzzy_query import fuzzy_verdict, infix_verdict
from filter_proxy.images_check import ImageCheck, rewrite_urls
from filter_proxy.page_results import Removal, screen_results
from filter_proxy.verdict import ALLOW, Verdict

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet


class ImageScreenerLike(Protocol):
    async def screen(self, views: list[ResultView], rules: RuleSet) -> dict[int, ImageCheck]: ...


@dataclass(slots=True)
class PageOutcome:
    removed: list[Removal] = field(default_factory=list)
    hidden_images: int = 0
    # A listed string outside any removable part (set by the last walk): the page must not be sent.
    withheld: Removal | None = None

    @property
    def changed(self) -> bool:
        return bool(self.removed) or self.hidden_images > 0


# Query readings checked by a lookup of their own, not as text (querysyntax, fuzzy_query).
_MARKED = frozenset({QueryPrefix, QuerySuffix, QueryFuzzy, QueryInfix})


def check_query(texts: Sequence[str], rules: RuleSet) -> Verdict:
    """The verdict for a request's query texts (``Adapter.query_texts``): each as text, a ``QueryPrefix``
    (a term cut by a trailing wildcard) against the listed terms it starts, a ``QuerySuffix`` (after a
    leading wildcard) against those it ends, and URL-shaped parts as URLs.
    Stops at the first block."""
    plain = [t for t in texts if type(t) is not QueryPrefix and type(t) is not QuerySuffix and type(t) is not QueryInfix]
    best = rules.check_texts(plain) if plain else ALLOW
    if best.action == "block":
        return best
    if len(plain) > 1:
        # Issue 16: the words of a combination rule, or weighted phrases, spread over several parts of one
        # query (two match clauses, q and fq) are still one query. Terms keep matching part by part.
        together = rules.check_forms(plain)
        if together.rank > best.rank:
            best = together
            if best.action == "block":
                return best
    for text in texts:
        if type(text) in _MARKED:
            if type(text) is QueryFuzzy:  # edits anywhere in a fuzzy term (fuzzy_query.py)
                verdict = fuzzy_verdict(text, text.edits, rules)
            elif type(text) is QueryInfix:  # "*core*": a listed word with the core inside
                verdict = infix_verdict(text, rules)
            else:
                verdict = rules.check_prefix(text) if type(text) is QueryPrefix else rules.check_suffix(text)
            if verdict.rank > best.rank:
                best = verdict
                if best.action == "block":
                    return best
    links = [u for t in plain if may_hold_url(t) for u in url_parts(t)]
    if links:
        listed = _listed_url(rules, None, None, links)
        if listed is not None and listed[0].rank > best.rank:
            best = listed[0]
    return best


def _listed_url(rules: RuleSet, url: str | None, image_url: str | None, *more: Sequence[str]
                ) -> tuple[Verdict, str] | None:
    """The first of the URLs that the URL rules match, with its verdict; None when none is listed."""
    check_url = rules.check_url
    for candidate in (url, image_url):
        if candidate:
            verdict = check_url(candidate)
            if verdict.action != "allow":
                return verdict, candidate
    for urls in more:
        for candidate in urls:
            verdict = check_url(candidate)
            if verdict.action != "allow":
                return verdict, candidate
    return None


def screen_value(value: Any, rules: RuleSet, skip: set[int] | None = None) -> Removal | None:
    """Screen every string of one JSON value (a single document, an error body): the Removal that a
    listed string or URL in it calls for, or None when it is clean. Containers whose ``id`` is in
    ``skip`` are not entered (parts screened on their own)."""
    if skip:
        texts: list[str] = []
        links: list[str] = []
        collect_except(value, texts, links, skip, set())
    else:
        texts, links = walk_strings(value)
    add_readings(texts, links)  # decoded readings a client gets (encoded.py)
    verdict = rules.check_texts(texts)
    if verdict.action != "allow":
        return Removal(verdict)
    listed = _listed_url(rules, None, None, links)
    return Removal(listed[0], listed[1]) if listed is not None else None


def screen_sections(doc: Any, adapter: Adapter, rules: RuleSet, outcome: PageOutcome, skip: set[int]) -> None:
    """Screen and remove the adapter's other removable parts (buckets, top_hits and grouped documents,
    completion options, facet values). A part screened whole and kept is added to ``skip``."""
    sections = adapter.sections(doc)
    if not sections:
        return
    # A part screened whole does not read the parts nested in it (a bucket's top_hits documents, its
    # sub-buckets): each is screened and removed on its own, so a listed top hit drops that hit only.
    nested = {id(n) for sec in sections if sec.texts is None
              and type(n := sec.owner[sec.key]) in (dict, list)}
    drop: dict[int, tuple[Any, set[int | str], int]] = {}
    for section in sections:
        if section.texts is not None:
            removal = _screen_texts_only(section.texts, rules)
            node = None
        else:
            node = section.owner[section.key]
            removal = screen_value(node, rules, nested - {id(node)})
        if removal is None:
            if node is not None and type(node) in (dict, list):
                skip.add(id(node))
            continue
        keys = drop.setdefault(id(section.owner), (section.owner, set(), section.width))[1]
        if section.key not in keys:  # one removal per part, however many of its sections matched
            keys.add(section.key)
            outcome.removed.append(removal)
            for holder, key in section.counts:  # the container's count says one less
                lower(holder, key, 1)
    for owner, keys, width in drop.values():
        if isinstance(owner, dict):
            for key in keys:
                owner.pop(key, None)
        else:
            gone = {int(k) + w for k in keys for w in range(width)}
            owner[:] = [item for i, item in enumerate(owner) if i not in gone]


def _screen_texts_only(texts: list[str], rules: RuleSet) -> Removal | None:
    return screen_value(texts, rules)  # the same reading as a walk: markup stripped, URL parts checked


def screen_rest(doc: Any, adapter: Adapter, rules: RuleSet, skip: set[int]) -> Removal | None:
    """The last walk: every string of the document as it will be sent, except the parts already screened
    whole and kept (``skip``) and the backend's echo of the request. A listed string here has no removable
    part around it: the caller withholds the whole response."""
    skip_keys = {(id(owner), key) for owner, key in adapter.echoes(doc)}
    texts: list[str] = []
    links: list[str] = []
    collect_except(doc, texts, links, skip, skip_keys)
    add_readings(texts, links)  # decoded readings a client gets (encoded.py)
    verdict = rules.check_texts(texts)
    if verdict.action != "allow":
        return Removal(verdict)
    listed = _listed_url(rules, None, None, links)
    return Removal(listed[0], listed[1]) if listed is not None else None


def _kept_nodes(views: Sequence[ResultView], removed: dict[int, Removal]) -> set[int]:
    return {id(node) for view in views if view.index not in removed for node in view.nodes
            if type(node) in (dict, list)}


def screen_texts(doc: Any, adapter: Adapter, rules: RuleSet, *, results: bool) -> tuple[Any, PageOutcome]:
    """``screen_page`` without an image screener: plain synchronous code, so the middleware's common path
    makes no coroutine for it."""
    outcome = PageOutcome()
    skip: set[int] = set()
    if results:
        views = adapter.results(doc)
        if views:
            removals = screen_results(views, rules)
            skip = _kept_nodes(views, removals)
            if removals:
                doc = adapter.remove_results(doc, set(removals))
                outcome.removed.extend(removals.values())
    return _finish_page(doc, adapter, rules, outcome, skip), outcome


async def screen_page(
    doc: Any,
    adapter: Adapter,
    rules: RuleSet,
    *,
    results: bool,
    image_screener: ImageScreenerLike | None = None,
) -> tuple[Any, PageOutcome]:
    """Screen a parsed page: drop matching results, suggestions and other removable parts, hide
    unverified thumbnails, then read every string left. Returns the (possibly new) document, as the
    adapter's ``remove_*`` methods return it; ``outcome.withheld`` says the page must not be sent.

    ``results`` is False on suggest routes (their documents carry suggestions only). Adapter errors
    propagate: the caller fails closed.
    """
    if image_screener is None:
        return screen_texts(doc, adapter, rules, results=results)
    outcome = PageOutcome()
    skip: set[int] = set()
    if results:
        views = adapter.results(doc)
        if views:
            removals = screen_results(views, rules)
            hide: list[int] = []
            shown: dict[str, str] = {}
            await _screen_images(views, rules, image_screener, removals, hide, shown)
            for index in hide:  # before removal: indices refer to the original order
                adapter.hide_image(doc, index)
            outcome.hidden_images = len(hide)
            skip = _kept_nodes(views, removals)
            if removals:
                doc = adapter.remove_results(doc, set(removals))
                outcome.removed.extend(removals.values())
            if shown:  # verified pictures are shown from the bytes that were checked (images_check.py)
                doc = rewrite_urls(doc, shown)  # in place: the kept nodes in ``skip`` stay the same objects
    return _finish_page(doc, adapter, rules, outcome, skip), outcome


def _finish_page(doc: Any, adapter: Adapter, rules: RuleSet, outcome: PageOutcome, skip: set[int]) -> Any:
    doc = _screen_suggestions(doc, adapter, rules, outcome)
    screen_sections(doc, adapter, rules, outcome, skip)
    outcome.withheld = screen_rest(doc, adapter, rules, skip)
    return doc


def _screen_suggestions(doc: Any, adapter: Adapter, rules: RuleSet, outcome: PageOutcome) -> Any:
    suggestions = adapter.suggestions(doc)
    if suggestions:
        dropped: set[int] = set()
        for i, text in enumerate(suggestions):
            # Read as any string of a page: markup stripped too, URL-shaped parts checked as URLs.
            removal = screen_value(text, rules)
            if removal is not None:
                dropped.add(i)
                outcome.removed.append(removal)
        if dropped:
            doc = adapter.remove_suggestions(doc, dropped)
    return doc


async def _screen_images(
    views: Sequence[ResultView],
    rules: RuleSet,
    screener: ImageScreenerLike,
    removals: dict[int, Removal],
    hide: list[int],
    shown: dict[str, str],
) -> None:
    # Results already removed need no picture check. Backend-supplied hashes were checked above; the
    # screener decides whether they stand in for fetching (only when the list holds that algorithm) and
    # fetches every further image field.
    candidates = [v for v in views if (v.image_url or v.extra_images) and v.index not in removals]
    if not candidates:
        return
    checks = await screener.screen(candidates, rules)
    on_unverified = rules.policy.images.on_unverified
    for view in candidates:
        check = checks.get(view.index)
        verdict = check.verdict if check is not None else None  # not answered: unverified (fail closed)
        if verdict is None:  # could not be checked in time: the policy decides
            if on_unverified == "drop-result":
                removals[view.index] = Removal(Verdict("strip", signal="image"), view.url)
            elif on_unverified == "hide-thumbnail":
                hide.append(view.index)
        elif verdict.matched:  # the matched content is the picture: report its address and hash
            assert check is not None
            removals[view.index] = Removal(verdict, check.url or view.image_url or view.url, check.image_hash)
        elif check is not None:
            shown.update(check.shown)


def prefers_html(accept: str) -> bool:
    """True when the Accept header ranks text/html above JSON (a browser), False for API clients and */*."""
    if "html" not in accept:
        return False
    html_q = json_q = 0.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        q = 1.0
        if params:
            for param in params.split(";"):
                name, _, value = param.partition("=")
                if name.strip() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in ("application/json", "application/*", "*/*"):
            json_q = max(json_q, q)
    return html_q > 0 and html_q > json_q


def decode_body(body: bytes, encoding: bytes, limit: int) -> bytes | None:
    """gzip / deflate bodies (an upstream that ignored ``accept-encoding: identity``); None when unknown,
    corrupt or larger than ``limit`` once decoded."""
    enc = encoding.strip().lower()
    if enc in (b"gzip", b"x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif enc == b"deflate":
        wbits = zlib.MAX_WBITS
    else:
        return None
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or inflater.unconsumed_tail:
        return None
    return out


def query_verdict(texts: Sequence[str], rules: RuleSet) -> Verdict:
    """The verdict for one request's (or one sub-query's) query texts. The one place every query verdict
    of the request side is taken (whole requests, multi-search sub-queries, OPTIONS): each text, a
    wildcard ``QueryPrefix`` against the listed terms it starts, URL-shaped parts as URLs
    (``screening.check_query``)."""
    return check_query(texts, rules) if texts else ALLOW
