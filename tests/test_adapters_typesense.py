"""Typesense adapter: search hits with highlights, grouped hits, multi_search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, get_adapter

FIX = Path(__file__).parent / "fixtures" / "backends" / "typesense"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


@pytest.fixture
def ts():
    return get_adapter("typesense")


def test_results_and_highlights(ts) -> None:
    views = ts.results(load("search.json"))
    assert views[0].title == "Garden tools" and views[0].image_url == "https://img.example.invalid/g.jpg"
    assert "hidden field says zqxblocked" in views[1].texts()
    assert "body_hidden" in views[1].texts()  # deny by default: field names are screened too
    assert views[2].title == "Coast birds" and views[2].url == "https://blocked.example.invalid/birds"


def test_remove_adjusts_found_not_out_of(ts) -> None:
    doc = ts.remove_results(load("search.json"), {1, 2})
    assert [h["document"]["id"] for h in doc["hits"]] == ["1"]
    assert doc["found"] == 1 and doc["out_of"] == 250


def test_grouped_hits(ts) -> None:
    doc = load("grouped.json")
    assert [v.title for v in ts.results(doc)] == ["Garden tools", "zqxblocked shed", "forbidden phrase alpha"]
    ts.hide_image(doc, 0)
    assert "thumbnail" not in doc["grouped_hits"][0]["hits"][0]["document"]
    ts.remove_results(doc, {1, 2})
    assert len(doc["grouped_hits"]) == 1 and doc["grouped_hits"][0]["found"] == 1
    assert doc["found"] == 1 and doc["found_docs"] == 1


def test_multi_search_and_query(ts) -> None:
    doc = {"results": [load("search.json"), {"found": 1, "hits": [{"document": {"title": "b"}}]}]}
    assert len(ts.results(doc)) == 4
    ts.remove_results(doc, {3})
    assert doc["results"][1]["hits"] == [] and doc["results"][1]["found"] == 0
    body = json.dumps({"searches": [{"collection": "a", "q": "one"}, {"collection": "b", "q": "two"}]}).encode()
    assert {"one", "two", "query_by", "title"} <= set(ts.query_texts([("query_by", "title")], body, "application/json"))
    # (q also read as a prefix, QueryPrefix: Typesense searches its last word as one unless prefix=false)
    assert ts.query_texts([("q", "garden"), ("query_by", "title")], b"", "") == ["q", "garden", "query_by", "title",
                                                                                 "garden"]
    assert ts.query_texts([("q", "garden"), ("prefix", "false")], b"", "") == ["q", "garden", "prefix", "false"]


def test_empty(ts) -> None:
    empty = ts.empty([("q", "zqxblocked")])
    assert empty["hits"] == [] and empty["found"] == 0 and ts.results(empty) == []
    assert "zqxblocked" not in json.dumps(empty)
    assert ts.is_search_path("/collections/books/documents/search")


@pytest.mark.parametrize(
    "doc", ["x", {"hits": {}}, {"hits": [{"document": "text"}]}, {"grouped_hits": {}},
            {"grouped_hits": [{"hits": "x"}]}]
)
def test_malformed_raise(ts, doc: Any) -> None:
    with pytest.raises(AdapterError):
        ts.results(doc)


def test_a_page_without_hits_or_documents_is_read() -> None:
    """``per_page=0`` answers have no ``hits``; a hit can come without ``document`` (deliberate change:
    both were refused). The page has no results, the hit is screened whole as its nodes."""
    from filter_proxy.adapters import get_adapter

    ts = get_adapter("typesense")
    assert ts.results({"found": 0, "facet_counts": []}) == []
    views = ts.results({"hits": [{"title": "no document"}]})
    assert len(views) == 1 and views[0].nodes == ({"title": "no document"},)
