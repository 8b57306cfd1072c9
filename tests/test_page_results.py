"""Issue 14 (the middleware's own cost): the page walk and the result screening were rewritten for speed
(``walk.collect`` written out, ``walk.raw_strings`` + derived forms once per distinct string,
``page_results.screen_results`` checking URLs page-wide). Here the new code must read exactly what the plain
code before it read, on generated pages: the same strings in the same order, the same removals (index,
verdict, URL). The old code is kept below verbatim as the reference."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.base import FieldMapping, ResultView
from filter_proxy.adapters.walk import (
    FORMAT_KEYS,
    collect,
    collect_except,
    raw_strings,
    strip_tags,
    url_parts,
)
from filter_proxy.page_results import Removal, screen_results
from filter_proxy.verdict import ALLOW, Verdict
from tests.test_middleware import build_rules
from tests.test_screen_every_string import ADAPTERS, page, plant, result, rules


# --- the reference: the code before the rewrite ---------------------------------------------------------
def old_collect(value: Any, texts: list[str], links: list[str]) -> None:
    stack = [value]
    pop, push = stack.pop, stack.append
    add_text, add_links = texts.append, links.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(child) is str:
                    here: tuple[str, ...] = (child,) if key in FORMAT_KEYS else (key, child)
                else:
                    here = () if key in FORMAT_KEYS else (key,)
                for text in here:
                    if text:
                        add_text(text)
                        if "<" in text:
                            plain = strip_tags(text)
                            if plain != text:
                                add_text(plain)
                        if "." in text or "//" in text:
                            add_links(url_parts(text))
                if type(child) in (dict, list):
                    push(child)
        elif kind is list or kind is tuple:
            for child in item:
                if type(child) is str:
                    if child:
                        add_text(child)
                        if "<" in child:
                            plain = strip_tags(child)
                            if plain != child:
                                add_text(plain)
                        if "." in child or "//" in child:
                            add_links(url_parts(child))
                elif type(child) in (dict, list, tuple):
                    push(child)
        elif kind is str and item:
            add_text(item)
            if "<" in item and (plain := strip_tags(item)) != item:
                add_text(plain)
            add_links(url_parts(item))


def old_collect_except(value: Any, texts: list[str], links: list[str], skip: set[int],
                       skip_keys: set[tuple[int, Any]]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in skip:
            continue
        if type(item) is dict:
            for key, child in item.items():
                if (id(item), key) in skip_keys:
                    continue
                if key not in FORMAT_KEYS:
                    old_collect(key, texts, links)
                if type(child) is str:
                    old_collect(child, texts, links)
                elif type(child) in (dict, list):
                    stack.append(child)
        elif type(item) is list:
            for index, child in enumerate(item):
                if skip_keys and (id(item), index) in skip_keys:
                    continue
                if type(child) is str:
                    old_collect(child, texts, links)
                elif type(child) in (dict, list):
                    stack.append(child)
        elif type(item) is str:
            old_collect(item, texts, links)


def old_screen_results(views: Sequence[ResultView], rules: Any) -> dict[int, Removal]:
    """screening.screen_results before the rewrite, over views whose strings and links are walked here."""
    walked = []
    for view in views:
        texts: list[str] = []
        links: list[str] = []
        for node in view.nodes:
            old_collect(node, texts, links)
        walked.append((texts if view.nodes else view.texts(), links))
    removals: dict[int, Removal] = {}
    distinct = list(dict.fromkeys(text for texts, _ in walked for text in texts))
    memo: dict[str, Verdict] = dict(zip(distinct, rules.check_many(distinct), strict=True))
    for view, (texts, links) in zip(views, walked, strict=True):
        verdict = ALLOW
        for text in texts:
            found = memo[text]
            if found is not ALLOW and found.rank > verdict.rank:
                verdict = found
                if found.action == "block":
                    break
        if verdict.action != "allow":
            removals[view.index] = Removal(verdict, view.url)
            continue
        listed = None
        for url in (view.url, view.image_url, *view.extra_urls, *links):
            if url:
                found = rules.check_url(url)
                if found.action != "allow":
                    listed = Removal(found, url)
                    break
        if listed is not None:
            removals[view.index] = listed
    return removals


# --- generated values -----------------------------------------------------------------------------------
# Listed strings of every action (block, warn, strip), in markup, as URLs inside text and as bare hosts,
# beside benign text with markup, dots, slashes and format keys. The last of the first line matches one
# rule as it is and another without its markup (same action: the first reading's verdict is reported).
LISTED = ["zqxblocked", "zqxwarn", "zqxspam", "a <em>zqx</em>blocked page", "<b>zqxwarn</b>", "<i>zqxspam</i> x",
          "<i>zqx</i>blocked forbidden phrase alpha", "forbidden phrase alpha",
          "https://blocked.example.invalid/p", "see bad.example.invalid/x.", "www.blocked.example.invalid",
          "blocked.example.invalid", "//bad.example.invalid/t.png", "zqxwarn at https://bad.example.invalid/"]
TEXT = st.one_of(st.text(alphabet="abc <>/.:w", max_size=14), st.sampled_from(LISTED),
                 st.sampled_from(["title", "url", "hits", "<em>ok</em>", "a.b", "ok.example.org/x", ""]))
KEY = st.one_of(TEXT, st.sampled_from(sorted(FORMAT_KEYS)[:12]))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), TEXT)
VALUE = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                     | st.dictionaries(KEY, inner, max_size=4), max_leaves=16)


def walked(fn: Any, value: Any) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    links: list[str] = []
    fn(value, texts, links)
    return texts, links


@settings(max_examples=300, deadline=None)
@given(value=VALUE)
def test_collect_reads_what_the_old_walk_read(value: Any) -> None:
    assert walked(collect, value) == walked(old_collect, value)
    # The raw strings are the old walk's strings before their stripped copies, in the same order.
    raw: list[str] = []
    raw_strings(value, raw)
    expanded = [t for text in raw for t in ([text, strip_tags(text)] if "<" in text and strip_tags(text) != text
                                            else [text])]
    assert expanded == walked(old_collect, value)[0]


@settings(max_examples=200, deadline=None)
@given(value=VALUE.filter(lambda v: isinstance(v, dict | list)), data=st.data())
def test_collect_except_reads_what_the_old_walk_read(value: Any, data: st.DataObject) -> None:
    containers = []
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) in (dict, list):
            containers.append(item)
            stack.extend(item.values() if type(item) is dict else item)
    skipped = data.draw(st.lists(st.sampled_from(containers), max_size=2), label="skip")
    skip = {id(c) for c in skipped if c is not value}
    keys: set[tuple[int, Any]] = set()
    for owner in data.draw(st.lists(st.sampled_from(containers), max_size=2), label="skip keys"):
        if owner:
            key = data.draw(st.sampled_from(list(owner) if type(owner) is dict else list(range(len(owner)))))
            keys.add((id(owner), key))
    mine: tuple[list[str], list[str]] = ([], [])
    theirs: tuple[list[str], list[str]] = ([], [])
    collect_except(value, *mine, skip, keys)
    old_collect_except(value, *theirs, skip, keys)
    assert mine == theirs


def outcome(removals: dict[int, Removal]) -> dict[int, tuple[Verdict, str | None, str | None]]:
    return {i: (r.verdict, r.url, r.image_hash) for i, r in removals.items()}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=st.sampled_from(sorted(ADAPTERS)),
       listed=st.lists(st.sampled_from(LISTED), max_size=4))
def test_screen_results_removes_what_the_old_loop_removed(data: st.DataObject, shape: str, listed: list[str]) -> None:
    count = data.draw(st.integers(1, 6), label="results")
    items = [result(data, k, shape) for k in range(count)]
    for text in listed:  # several listed strings, of several actions, maybe in one result, maybe shared
        plant(data, items[data.draw(st.integers(0, count - 1), label="target")], text)
    if shape == "searxng":  # the mapped link field, listed or not, and odd values in mapped fields
        for item in items:
            item["url"] = data.draw(st.sampled_from(["https://ok.example.org/", *LISTED[8:], 7, ["x", "y"]]))
    doc = orjson.loads(orjson.dumps(page(shape, items)))
    views = get_adapter(ADAPTERS[shape]).results(doc)
    # Views made by hand have no nodes: only their mapped fields are read (no stripping, no URL parts).
    views += [ResultView(len(views) + i, title=data.draw(st.sampled_from(LISTED + ["benign"])), snippet="s",
                         url=data.draw(st.sampled_from([None, "https://ok.example.org/", LISTED[8]])))
              for i in range(data.draw(st.integers(0, 2), label="hand-made"))]
    assert outcome(screen_results(views, rules())) == outcome(old_screen_results(views, rules()))


def old_searxng_remove(adapter: Any, doc: Any, indices: set[int]) -> Any:
    """SearxngAdapter.remove_results before its results-only shortcut."""
    drop: dict[int, tuple[list[Any], set[int]]] = {}
    for n, (items, i, _) in enumerate(adapter._entries(doc)):
        if n in indices:
            drop.setdefault(id(items), (items, set()))[1].add(i)
    results = doc["results"]
    for items, positions in drop.values():
        items[:] = [x for i, x in enumerate(items) if i not in positions]
        if items is results:
            count = doc.get("number_of_results")
            if isinstance(count, int | float) and not isinstance(count, bool):
                doc["number_of_results"] = type(count)(max(0, count - len(positions)))
    return doc


@settings(max_examples=150, deadline=None)
@given(results=st.integers(0, 5), answers=st.integers(0, 2), boxes=st.integers(0, 2),
       count=st.one_of(st.integers(0, 9), st.floats(0, 9), st.none(), st.booleans()),
       indices=st.sets(st.integers(-1, 10), max_size=5))
def test_searxng_removal_drops_what_it_dropped_before(results: int, answers: int, boxes: int, count: Any,
                                                     indices: set[int]) -> None:
    adapter = get_adapter("searxng")
    doc = {"query": "q", "number_of_results": count, "results": [{"title": f"r{i}"} for i in range(results)],
           "answers": [f"a{i}" for i in range(answers)], "infoboxes": [{"infobox": f"b{i}"} for i in range(boxes)]}
    expected = old_searxng_remove(adapter, orjson.loads(orjson.dumps(doc)), indices)
    assert adapter.remove_results(orjson.loads(orjson.dumps(doc)), indices) == expected


MAPPED = st.dictionaries(st.sampled_from(["title", "content", "url", "img_src", "author", "a.b", "x"]),
                         st.one_of(VALUE, st.sampled_from([" ", "\t", "same", ["same", " ", {"k": "v"}, ["n"]]])),
                         max_size=6)


@settings(max_examples=200, deadline=None)
@given(source=MAPPED, keys=st.lists(st.sampled_from(["title", "content", "url", "img_src", "author", "x"]),
                                    max_size=4))
def test_plain_paths_of_one_object_read_as_the_general_reader_reads_them(source: dict[str, Any],
                                                                         keys: list[str]) -> None:
    from filter_proxy.adapters.fields import _plain_values, _values, compile_paths

    assert _plain_values(source.get, tuple(keys)) == _values([source], compile_paths(keys))


@settings(max_examples=200, deadline=None)
@given(sent=st.lists(TEXT, min_size=1, max_size=4), data=st.data())
def test_an_echo_skipped_as_sent_is_one_listed_echo_passes(sent: list[str], data: st.DataObject) -> None:
    """pages._echoes_read skips listed_echo only where listed_echo would pass the echo anyway."""
    from filter_proxy.pages import _echoes_read
    from filter_proxy.response_guard import listed_echo, record_request

    adapter = get_adapter("searxng")
    echo = data.draw(st.one_of(st.sampled_from(sent), TEXT), label="echo")
    doc = {"query": echo, "results": []}
    record_request(sent)
    if _echoes_read(doc, adapter, sent):
        assert listed_echo(doc, adapter, rules()) is None


FIELD_MAPS = st.builds(
    lambda title, snippet, url, image, extra, hashed: FieldMapping(
        title=title, snippet=snippet, url=url, image_url=image, extra_text=extra,
        image_hash={"md5": "img_md5"} if hashed else {}),
    *(st.lists(st.sampled_from(["title", "content", "url", "img_src", "author", "x", "a.b", "/x"]),
               max_size=3).map(tuple) for _ in range(5)),
    st.booleans())


@settings(max_examples=300, deadline=None)
@given(source=st.one_of(MAPPED, VALUE), fields=FIELD_MAPS, index=st.integers(0, 9))
def test_build_of_one_source_is_build_view(source: Any, fields: FieldMapping, index: int) -> None:
    """ViewBuilder.build of one source (SearXNG's and the generic adapter's results, read with ``dict.get``
    when the mapping allows) builds the view the general ``build_view`` did."""
    from filter_proxy.adapters.fields import ViewBuilder, build_view, view_builder

    builder = view_builder(fields)
    general = ViewBuilder(fields)
    general.plain = None  # the general reader: path by path, no one-object shortcut
    assert builder.build(index, (source,)) == general.build(index, (source,)) == build_view(index, (source,), fields)


@functools.cache
def uncached_rules() -> Any:
    """The same rules with every cache off: each page read in full (``RuleSet.clean_strings`` is None)."""
    fresh = build_rules(Path(tempfile.mkdtemp(prefix="fp-uncached-")) / "rules")
    fresh.set_cache_size(0)
    assert fresh.clean_strings is None
    return fresh


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=st.sampled_from(sorted(ADAPTERS)))
def test_strings_remembered_clean_give_the_removals_of_a_full_reading(data: st.DataObject, shape: str) -> None:
    """Pages that share strings (the same result on two pages, a listed string planted in a result seen
    clean before, a clean string next to a listed one), read in any order by one rule set that remembers
    clean strings, lose exactly the results a rule set that reads everything each time removes."""
    remembering = build_rules(Path(tempfile.mkdtemp(prefix="fp-remember-")) / "rules")
    pool = [result(data, k, shape) for k in range(data.draw(st.integers(2, 6), label="pool"))]
    for _ in range(data.draw(st.integers(2, 5), label="pages")):
        picked = data.draw(st.lists(st.sampled_from(range(len(pool))), min_size=1, max_size=4), label="picked")
        items = [orjson.loads(orjson.dumps(pool[k])) for k in picked]
        for text in data.draw(st.lists(st.sampled_from(LISTED), max_size=2), label="listed"):
            plant(data, items[data.draw(st.integers(0, len(items) - 1), label="target")], text)
        doc = orjson.loads(orjson.dumps(page(shape, items)))
        views = get_adapter(ADAPTERS[shape]).results(doc)
        assert outcome(screen_results(views, remembering)) == outcome(screen_results(views, uncached_rules()))


def test_a_page_seen_before_reads_no_string_again_and_listed_strings_are_never_remembered() -> None:
    remembering = build_rules(Path(tempfile.mkdtemp(prefix="fp-remember-")) / "rules")
    adapter = get_adapter("searxng")
    clean = {"title": "Garden notes", "content": "see docs.example.org/a for more", "url": "https://ok.example.org/"}
    listed = {"title": "zqxblocked", "content": "fine words", "url": "https://blocked.example.invalid/page"}
    doc = {"results": [clean, listed]}
    assert set(screen_results(adapter.results(doc), remembering)) == {1}
    known = remembering.clean_strings
    assert known is not None
    assert known.unknown(["Garden notes", "see docs.example.org/a for more", "https://ok.example.org/"]) == []
    assert known.unknown(["zqxblocked", "https://blocked.example.invalid/page"]) == [
        "zqxblocked", "https://blocked.example.invalid/page"]
    # Seen clean before, listed now: the listed string is read, whatever was remembered beside it.
    assert set(screen_results(adapter.results({"results": [clean, dict(clean, content="zqxblocked")]}),
                              remembering)) == {1}
