"""Meilisearch adapter: search (both paging modes), _formatted copies, multi-search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, get_adapter

FIX = Path(__file__).parent / "fixtures" / "backends" / "meilisearch"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


@pytest.fixture
def meili():
    return get_adapter("meilisearch")


def test_results_read_hit_and_formatted(meili) -> None:
    views = meili.results(load("search.json"))
    assert views[0].title == "Garden Party" and views[0].image_url == "https://img.example.invalid/2770.jpg"
    assert "Garden Party" in views[0].texts()  # the highlighted copy, without markup, is screened too
    assert "…cropped text with zqxblocked…" in views[1].texts()
    assert views[1].url == "https://blocked.example.invalid/118"


def test_remove_estimated_total(meili) -> None:
    doc = meili.remove_results(load("search.json"), {1})
    assert [h["id"] for h in doc["hits"]] == [2770, 5] and doc["estimatedTotalHits"] == 65


def test_remove_total_hits_and_hide_image(meili) -> None:
    doc = load("search_paged.json")
    meili.hide_image(doc, 1)
    assert "poster" not in doc["hits"][1]
    doc = meili.remove_results(doc, {0})
    assert doc["totalHits"] == 7 and [h["id"] for h in doc["hits"]] == [2]


def test_hide_image_in_formatted_copy(meili) -> None:
    doc = load("search.json")
    meili.hide_image(doc, 0)
    assert "poster" not in doc["hits"][0] and "poster" not in doc["hits"][0]["_formatted"]
    assert meili.results(doc)[0].image_url is None


def test_multi_search(meili) -> None:
    doc = load("multi_search.json")
    assert [v.title for v in meili.results(doc)] == ["Garden", "zqxblocked", "forbidden phrase alpha"]
    meili.remove_results(doc, {1, 2})
    assert [h["id"] for h in doc["results"][0]["hits"]] == [1] and doc["results"][0]["estimatedTotalHits"] == 1
    assert doc["results"][1]["hits"] == [] and doc["results"][1]["estimatedTotalHits"] == 0
    body = json.dumps({"queries": [{"indexUid": "movies", "q": "one"}, {"indexUid": "books", "q": "two"}]}).encode()
    assert {"one", "two", "movies"} <= set(meili.query_texts([], body, "application/json"))


def test_query_texts_and_empty(meili) -> None:
    # (each q also read as a prefix, QueryPrefix: Meilisearch searches its last word as one)
    assert meili.query_texts([("q", "get query")], b"", "") == ["q", "get query", "get query"]
    assert meili.query_texts([], b'{"q": "post query", "limit": 5}', "application/json") == ["q", "post query", "post query"]
    assert meili.query_texts([], b'{"q": "x"}', "") == ["q", "x", "x"]
    empty = meili.empty([("q", "zqxblocked")])
    assert empty["hits"] == [] and empty["estimatedTotalHits"] == 0 and "zqxblocked" not in json.dumps(empty)
    assert meili.is_search_path("/indexes/movies/search") and meili.is_search_path("/multi-search")


@pytest.mark.parametrize(
    "doc", [[], {"query": "x"}, {"hits": {}}, {"hits": ["x"]}, {"hits": [{"_formatted": "x"}]}, {"results": [{}]}]
)
def test_malformed_raise(meili, doc: Any) -> None:
    with pytest.raises(AdapterError):
        meili.results(doc)
