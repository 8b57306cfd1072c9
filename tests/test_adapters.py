"""Adapter registry, route patterns, JSON pointers and field paths shared by every adapter."""

from __future__ import annotations

import pytest

from filter_proxy.adapters import (
    Adapter,
    FieldMapping,
    ResultView,
    adapter_names,
    get_adapter,
    match_any,
    match_path,
)
from filter_proxy.adapters.fields import build_view, delete_field, get_field
from filter_proxy.adapters.pointer import pointer_delete, pointer_get, pointer_set


def test_every_documented_name_builds_an_adapter() -> None:
    names = {"elasticsearch", "opensearch", "solr", "meilisearch", "typesense", "searxng",
             "opensearch-suggestions", "generic"}
    assert names <= set(adapter_names())
    for name in names:
        options = {"results": "/items"} if name == "generic" else {}
        adapter = get_adapter(name, **options)
        assert isinstance(adapter, Adapter) and adapter.name in (name, "elasticsearch")


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="known: elasticsearch.*searxng"):
        get_adapter("bingo")
    with pytest.raises(ValueError, match="searxng"):
        get_adapter("searxng", no_such_option=1)


@pytest.mark.parametrize(
    ("pattern", "path", "ok"),
    [
        ("/_search", "/_search", True),
        ("/*/_search", "/books/_search", True),
        ("/*/_search", "/_search", False),
        ("/*/_search", "/a/b/_search", False),
        ("/*/_search", "/books//_search/", True),
        ("/solr/*/select", "/solr/core1/select", True),
        ("/solr/*/select", "/solr/core1/selectx", False),
        ("/**/search", "/search", True),
        ("/**/search", "/a/b/c/search", True),
        ("/api/**", "/api", True),
        ("/api/**", "/other/x", False),
        ("/", "/", True),
        ("/", "/x", False),
    ],
)
def test_match_path(pattern: str, path: str, ok: bool) -> None:
    assert match_path(pattern, path) is ok


def test_match_any() -> None:
    assert match_any(["/x", "/*/_search"], "/i/_search")
    assert not match_any([], "/i/_search")


def test_pointers() -> None:
    doc = {"a/b": {"~k": [10, {"c": "x"}]}, "": 1}
    assert pointer_get(doc, "/a~1b/~0k/1/c") == "x"
    assert pointer_get(doc, "/a~1b/~0k/5", "none") == "none"
    assert pointer_get(doc, "/a~1b/~0k/01", "none") == "none"  # leading zeros are not indices
    assert pointer_get(doc, "") is doc and pointer_get(doc, "/") == 1
    assert pointer_set({}, "/data/total", 3) == {"data": {"total": 3}}
    assert pointer_delete(doc, "/a~1b/~0k/1/c") and doc["a/b"]["~k"][1] == {}
    with pytest.raises(ValueError):
        pointer_get(doc, "no-slash")


def test_dotted_fields_literal_keys_and_arrays() -> None:
    doc = {"meta.title": "literal", "meta": {"title": "nested"}, "imgs": [{"src": "a"}, {"src": "b"}]}
    assert get_field(doc, "meta.title") == "literal"
    assert get_field(doc, "/meta/title") == "nested"
    assert get_field(doc, "imgs.src") == "a"
    assert delete_field(doc, "imgs.src") and doc["imgs"] == [{}, {}]


def test_result_view_urls_and_texts() -> None:
    view = ResultView(0, title="t", snippet="", url="https://a.example.invalid/", extra_text=["x"],
                      extra_urls=["https://b.example.invalid/"])
    assert view.texts() == ["t", "x"]
    assert view.urls() == ["https://a.example.invalid/", "https://b.example.invalid/"]


def test_build_view_reads_plain_dotted_and_pointer_paths_alike() -> None:
    fields = FieldMapping(title=("title", "meta.title"), snippet=("/body/0", "text"), url=("url", "links.href"),
                          image_url=("img",), image_hash={"phash": "h"}, extra_text=("a.b",))
    doc = {"title": "first", "meta": {"title": "second"}, "body": ["<em>zqx</em>blocked", "x"], "text": "  ",
           "url": "https://one.example.invalid/", "links": [{"href": "https://two.example.invalid/"}],
           "img": ["", "https://img.example.invalid/t.png"], "h": " ABCD ", "a.b": ["lit", "lit"]}
    view = build_view(4, [doc], fields)
    got = (view.index, view.title, view.snippet, view.url, view.image_url, view.image_hashes, view.extra_text,
           view.extra_urls)
    assert got == (4, "first", "<em>zqx</em>blocked", "https://one.example.invalid/",
                   "https://img.example.invalid/t.png", {"phash": "abcd"}, ["second", "lit"],
                   ["https://two.example.invalid/"])
    # Screened: every string of the document (keys too), markup stripped beside the original.
    assert {"zqxblocked", "<em>zqx</em>blocked", "a.b", "lit", "  "} <= set(view.texts())


def test_build_view_merges_sources_without_repeats() -> None:
    view = build_view(0, [{"title": "same", "url": "u1"}, {"title": "same", "url": "u2", "snippet": "s"}],
                      FieldMapping())
    assert (view.title, view.snippet, view.url, view.extra_text, view.extra_urls) == ("same", "s", "u1", [], ["u2"])


def test_adapter_fields_replaced_after_init_are_used() -> None:
    adapter = get_adapter("searxng")
    doc = {"results": [{"title": "t", "content": "c", "name": "n"}]}
    assert adapter.results(doc)[0].title == "t"
    adapter.fields = FieldMapping(title=("name",))
    assert adapter.results(doc)[0].title == "n"
