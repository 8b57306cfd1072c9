"""Generic JSON-pointer adapter and the OpenSearch suggestions adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, FieldMapping, get_adapter

BACKENDS = Path(__file__).parent / "fixtures" / "backends"


def load(name: str) -> Any:
    return json.loads((BACKENDS / name).read_text())


OPTIONS: dict[str, Any] = {
    "results": "/data/items",
    "total": "/data/total",
    "suggestions": "/related",
    "suggestion_text": "/label",
    "title": "/headline",
    "snippet": "/teaser/text",
    "url": "/links/self",
    "image_url": "/media/thumb",
    "image_hash": {"phash": "/media/phash"},
}


@pytest.fixture
def generic():
    return get_adapter("generic", **OPTIONS)


def test_results_by_pointers(generic) -> None:
    views = generic.results(load("generic/search.json"))
    assert [v.title for v in views] == ["Garden tools", "zqxblocked headline", "Third"]
    assert views[0].snippet == "Rakes and spades." and views[0].url == "https://shop.example.invalid/g"
    assert views[0].image_url == "https://img.example.invalid/g.jpg"
    assert views[0].image_hashes == {"phash": "d1c4e0b0f0e0c080"}


def test_field_mapping_given_directly() -> None:
    fields = FieldMapping(title=("headline",), snippet=("teaser.text",), url=("links.self",), image_url=())
    views = get_adapter("generic", fields, results="/data/items").results(load("generic/search.json"))
    assert views[2].snippet == "about forbidden phrase alpha" and views[2].image_url is None


def test_remove_hide_and_total(generic) -> None:
    doc = load("generic/search.json")
    generic.hide_image(doc, 0)
    assert doc["data"]["items"][0]["media"] == {}
    generic.remove_results(doc, {1, 2})
    assert [i["headline"] for i in doc["data"]["items"]] == ["Garden tools"] and doc["data"]["total"] == 118


def test_suggestions_by_pointer(generic) -> None:
    doc = load("generic/search.json")
    assert generic.suggestions(doc) == ["garden design", "zqxblocked ideas"]
    generic.remove_suggestions(doc, {1})
    assert doc["related"] == [{"label": "garden design"}]
    assert generic.empty_suggestions([]) == {"related": []}


def test_empty_shape_and_query(generic) -> None:
    assert generic.empty([("q", "zqxblocked")]) == {"data": {"items": [], "total": 0}, "related": []}
    adapter = get_adapter("generic", results="", query_param="term", query_pointer="/search/term")
    assert adapter.empty([]) == [] and adapter.results([{"title": "t"}])[0].title == "t"
    texts = adapter.query_texts([("term", "a"), ("q", "no")], b'{"search": {"term": "b"}}', "application/json")
    assert {"a", "b", "no", "search"} <= set(texts)  # every string of the request is read
    assert adapter.query_texts([], b"term=c", "application/x-www-form-urlencoded") == ["term", "c"]


def test_bad_configuration_and_malformed(generic) -> None:
    with pytest.raises(ValueError):
        get_adapter("generic", results="data/items")  # not a pointer
    for doc in ({"data": {}}, {"data": {"items": {}}}, {"data": {"items": ["x"]}}):
        with pytest.raises(AdapterError):
            generic.results(doc)
    with pytest.raises(AdapterError):
        generic.suggestions({"related": "x"})
    with pytest.raises(AdapterError):
        generic.suggestions({"related": [{"other": 1}]})


# --- OpenSearch suggestions ------------------------------------------------------------------------------
def test_opensearch_suggestions_parallel_arrays() -> None:
    adapter = get_adapter("opensearch-suggestions")
    doc = load("opensearch-suggestions/suggest.json")
    texts = adapter.suggestions(doc)
    assert texts[0] == "garden\nOutdoor space\nhttps://s.example.invalid/garden"
    assert texts[1].startswith("zqxblocked garden")
    # descriptions and URLs are screened with their completion
    assert texts[3].startswith("garage\nforbidden phrase alpha")
    out = adapter.remove_suggestions(doc, {1, 3})
    assert out == ["gar", ["garden", "garlic"], ["Outdoor space", "A plant"],
                   ["https://s.example.invalid/garden", "https://s.example.invalid/garlic"]]
    assert adapter.empty([("q", "gar")]) == ["gar", []] and adapter.results(out) == []
    for bad in ({"x": 1}, ["gar"], ["gar", [1]]):
        with pytest.raises(AdapterError):
            adapter.suggestions(bad)
