"""The hot loop of a screened page: which of its results go (``screen_results``), and the ``Removal`` record.

Deny by default (DESIGN §1 step 5): every string of each result's nodes is screened, keys included, at any
depth; a string with markup is screened without it too; every URL-shaped part of a string, the mapped link,
thumbnail and further URLs are checked as URLs; backend-supplied hashes as hashes. This is what
``adapters.walk.collect`` reads over the nodes, read in fewer steps:

1. one walk per result collects its strings as they are (``walk.raw_strings``: no per-string tests);
2. the page's distinct strings get their derived forms once (markup stripped, URL parts), not once per
   occurrence: results of one page share their keys and many values;
3. every distinct string and stripped form is checked in one batch (``RuleSet.check_many``);
4. only the strings that matched are looked up per result, and only in results holding one.

``tests/test_page_results.py`` checks that this gives the removals of the plain reading (walk each result
with ``collect``, check each string) on generated pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from filter_proxy.adapters.base import ResultView
from filter_proxy.adapters.walk import (
    _MAYBE_URL,
    _URL_STARTS,
    glued,
    raw_strings,
    reads_as_is,
    strip_tags,
    url_parts,
)
from filter_proxy.encoded import page_readings, url_pieces
from filter_proxy.images_check import matched_hash
from filter_proxy.verdict import ALLOW, Verdict

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

__all__ = ["Removal", "screen_results"]


@dataclass(slots=True)
class Removal:
    """One removed result or suggestion, for the observer (never the query, never who asked)."""

    verdict: Verdict
    url: str | None = None
    image_hash: str | None = None


def screen_results(views: Sequence[ResultView], rules: RuleSet) -> dict[int, Removal]:
    """The results to remove, by index, with why. A result with nodes is read as every string of its
    nodes (module docstring); one without (a view made by hand) as its mapped texts only.

    Any matched verdict (block, warn or strip) removes the result: the action only decides what happens
    to a *query*; matching content is never shown.
    """
    fields: list[list[str]] = []
    add_field = fields.append
    for view in views:
        nodes = view.nodes
        if nodes:
            found: list[str] = []
            for node in nodes:
                raw_strings(node, found)
            add_field(found)
        else:
            add_field(view.texts())
    distinct = dict.fromkeys(chain.from_iterable(fields))
    # Only the strings not already found clean in every reading under these rules are read below
    # (``RuleSet.clean_strings``; None with the verdict caches off): a page seen before reads none.
    known = rules.clean_strings
    # A string with markup is read without it too (a walked string only; mapped texts are read as they
    # are, but stripping one of those as well changes nothing: its own verdict is what such a view reads).
    # One C-level search of the page's text first: most pages have no markup at all.
    try:
        if known is not None:
            distinct = dict.fromkeys(known.unknown(distinct))
        joined: str | None = "\x00" + "\x00".join(distinct) + "\x00"
        marked = "<" in joined
    except TypeError:  # a string that is not a str (a document built in process): read one by one
        distinct = dict.fromkeys(chain.from_iterable(fields))
        joined, marked, known = None, True, None
    bare = ({text: plain for text in distinct if "<" in text and (plain := strip_tags(text)) != text}
            if marked else {})
    # What a client gets by decoding a string (HTML references, percent-encoding, base64, escapes:
    # encoded.py) is read too, as the string itself; most pages have none.
    hidden = page_readings([*distinct, *bare.values()], None) if bare else page_readings(distinct, joined)
    if hidden:
        checked = list(dict.fromkeys(chain(distinct, bare.values(), chain.from_iterable(hidden.values()))))
    else:
        checked = list(dict.fromkeys(chain(distinct, bare.values()))) if bare else list(distinct)
    verdicts = rules.check_many(checked)
    if verdicts.count(ALLOW) == len(verdicts):  # the usual page: nothing listed (one C loop, no dict)
        listed: dict[str, Verdict] = {}
    else:
        listed = {text: found for text, found in zip(checked, verdicts, strict=True)
                  if found is not ALLOW and found.rank > 0}
    walked = listed
    if listed and (bare or hidden):
        # A walked string reads as itself, then without markup, then decoded: the first of the strongest
        # verdicts wins.
        walked = dict(listed)
        for text in (bare.keys() | hidden.keys()) if hidden else bare:
            if text not in distinct:  # a stripped form with readings: read through its own string
                continue
            forms = [bare[text]] if text in bare else []
            for form in (text, *forms):
                forms.extend(hidden.get(form, ()))
            for form in forms:
                other = listed.get(form)
                if other is not None:
                    own = walked.get(text)
                    if own is None or other.rank > own.rank:
                        walked[text] = other
    removals: dict[int, Removal] = {}
    if not listed:  # nothing listed as text (then nothing walked either): every result goes on to its URLs
        read = _screen_urls(list(zip(views, fields, strict=True)), distinct, rules, removals, hidden, bare)
        if known is not None:
            known.add(read)
        return removals
    kept: list[tuple[ResultView, list[str]]] = []
    for view, texts in zip(views, fields, strict=True):
        table = walked if view.nodes else listed
        if table and not table.keys().isdisjoint(texts):
            verdict = ALLOW
            for text in texts:
                found = table.get(text)
                if found is not None and found.rank > verdict.rank:
                    verdict = found
                    if found.action == "block":
                        break
            removals[view.index] = Removal(verdict, view.url)
        else:
            kept.append((view, texts))
    if kept:
        read = _screen_urls(kept, distinct, rules, removals, hidden, bare)
        if known is not None:
            known.add(text for text in read if text not in walked)
    return removals


def _screen_urls(kept: list[tuple[ResultView, list[str]]], distinct: dict[str, None], rules: RuleSet,
                 removals: dict[int, Removal], hidden: dict[str, list[str]] | None = None,
                 bare: dict[str, str] | None = None) -> list[str]:
    """The URLs of the results left (mapped link, thumbnail, further URLs, then the URL-shaped parts of
    their strings in order, ``walk.collect``'s ``links``): the first listed one removes the result; then
    backend-supplied hashes. Each distinct URL of the page is checked once, all before any result is
    read, so the usual page (nothing listed) needs no loop per result. Returns the strings of
    ``distinct`` (those still to read) whose URL parts were read and none listed."""
    # URL parts of the page's strings still to read, found once; the strings of results already removed
    # are left out when some were (only the results left are read, as one by one).
    strings = distinct if not removals else {text for view, texts in kept if view.nodes for text in texts
                                             if text in distinct}
    # ``url_parts`` finds nothing in prose without a slash, "www." or a dot before a name (most snippets).
    parts: dict[str, list[str]] = {}
    for text in strings:
        if "." in text or "//" in text or _MAYBE_URL(text):
            if (" " not in text and text.startswith(_URL_STARTS) and text.isprintable() and text.isascii()
                    and not glued(text) and reads_as_is(text)):
                parts[text] = [text]  # what ``url_parts`` answers for one token that starts as a URL
            elif found := url_parts(text):
                parts[text] = found
    if hidden:  # the URLs a decoded reading holds (a percent-encoded link, one inside a redirect's query)
        for text in strings:
            forms = [bare[text]] if bare and text in bare else []
            decoded = [r for form in (text, *forms) for r in hidden.get(form, ())]
            more = [u for r in decoded for u in (*url_parts(r), *url_pieces(r))]
            if more:
                parts[text] = [*parts.get(text, ()), *more]
    check_url = rules.check_url
    verdicts: dict[str, Verdict] = {}
    for view, _ in kept:
        url = view.url
        if url and url not in verdicts:
            verdicts[url] = check_url(url)
        url = view.image_url
        if url and url not in verdicts:
            verdicts[url] = check_url(url)
        if view.extra_urls:
            for url in view.extra_urls:
                if url and url not in verdicts:
                    verdicts[url] = check_url(url)
    for found in parts.values():
        for url in found:
            if url and url not in verdicts:
                verdicts[url] = check_url(url)
    found_verdicts = list(verdicts.values())
    if found_verdicts.count(ALLOW) == len(found_verdicts):  # the usual page: no URL listed
        listed: dict[str, Verdict] = {}
    else:
        listed = {url: verdict for url, verdict in verdicts.items()
                  if verdict is not ALLOW and verdict.action != "allow"}
    read = [text for text in strings if not listed or listed.keys().isdisjoint(parts.get(text, ()))]
    for view, texts in kept:
        if listed:
            removal = _first_listed(view, texts, parts, listed)
            if removal is not None:
                removals[view.index] = removal
                continue
        if view.image_hashes:
            verdict = rules.check_image_hashes(view.image_hashes)
            if verdict.action != "allow":
                # the report sink records the hash that matched, not the first one the backend sent
                removals[view.index] = Removal(verdict, view.url, matched_hash(rules, view.image_hashes, verdict))
    return read


def _first_listed(view: ResultView, texts: list[str], parts: dict[str, list[str]],
                  listed: dict[str, Verdict]) -> Removal | None:
    """The first listed URL of one result, in the order it is read, as a Removal; None when none is."""
    for url in (view.url, view.image_url, *view.extra_urls):
        if url and url in listed:
            return Removal(listed[url], url)
    if view.nodes:
        for text in texts:
            for url in parts.get(text, ()):
                if url in listed:
                    return Removal(listed[url], url)
    return None
