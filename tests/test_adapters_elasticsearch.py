"""Elasticsearch / OpenSearch adapter against documented `_search` response shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, FieldMapping, get_adapter

FIX = Path(__file__).parent / "fixtures" / "backends" / "elasticsearch"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


@pytest.fixture
def es():
    return get_adapter("elasticsearch")


def test_results_read_source_highlight_and_inner_hits(es) -> None:
    views = es.results(load("search.json"))
    assert [v.index for v in views] == [0, 1, 2]
    assert views[0].title == "Garden tools for beginners"
    assert views[0].snippet == "A short guide to rakes and spades."
    assert views[0].url == "https://shop.example.invalid/garden"
    assert views[0].image_url == "https://img.example.invalid/garden.jpg"
    # highlight fragments are screened, without their markup
    assert "mentions zqxblocked once" in views[1].texts()
    # a multi-valued title: the first is the title, the rest is still screened
    assert views[2].title == "Birdwatching" and "Birds of the coast" in views[2].extra_text
    assert views[2].url == "https://birds.example.invalid/coast"
    # inner hits are part of the result
    assert "nested comment with zqxnested" in views[2].texts()
    assert "https://img.example.invalid/c.png" in views[2].urls()


def test_field_mapping_dotted_paths_and_hashes() -> None:
    fields = FieldMapping(title=("title",), snippet=("meta.summary",), image_hash={"phash": "phash"})
    views = get_adapter("elasticsearch", fields).results(load("search.json"))
    assert views[1].snippet == "forbidden phrase alpha"
    assert views[0].image_hashes == {"phash": "d1c4e0b0f0e0c080"}


def test_remove_adjusts_object_total(es) -> None:
    doc = load("search.json")
    out = es.remove_results(doc, {1})
    assert [h["_id"] for h in out["hits"]["hits"]] == ["1", "3"]
    assert out["hits"]["total"] == {"value": 41, "relation": "eq"}
    assert "zqxblocked" not in json.dumps(out)


def test_remove_all_adjusts_number_total_and_max_score(es) -> None:
    doc = load("search_total_int.json")
    out = es.remove_results(doc, {0, 1, 7})
    assert out["hits"]["hits"] == [] and out["hits"]["total"] == 0
    assert out["hits"]["max_score"] is None


def test_fields_only_hit_and_hide_image(es) -> None:
    doc = load("search_total_int.json")
    views = es.results(doc)
    assert views[1].title == "Fields only" and views[1].image_url == "https://img.example.invalid/b.jpg"
    es.hide_image(doc, 1)
    assert "thumbnail" not in doc["hits"]["hits"][1]["fields"]
    assert es.results(doc)[1].image_url is None


def test_hide_image_removes_every_image_field_and_keeps_result(es) -> None:
    doc = load("search.json")
    es.hide_image(doc, 0)
    es.hide_image(doc, 2)
    es.hide_image(doc, 99)  # out of range: nothing happens
    src0 = doc["hits"]["hits"][0]["_source"]
    assert "thumbnail" not in src0 and src0["title"] == "Garden tools for beginners"
    assert "image" not in doc["hits"]["hits"][2]["_source"]
    inner = doc["hits"]["hits"][2]["inner_hits"]["comments"]["hits"]["hits"][0]["_source"]
    assert "thumbnail" not in inner
    assert all(v.image_url is None for v in es.results(doc))


def test_empty_shape(es) -> None:
    empty = es.empty([("q", "zqxblocked")])
    assert empty["hits"] == {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}
    assert empty["timed_out"] is False and es.results(empty) == []
    assert "zqxblocked" not in json.dumps(empty)


def test_suggestions_and_removal(es) -> None:
    doc = load("suggest.json")
    assert es.suggestions(doc) == ["garden", "zqxblocked", "garden tools", "garden hose", "forbidden phrase alpha"]
    es.remove_suggestions(doc, {1, 4})
    assert es.suggestions(doc) == ["garden", "garden tools", "garden hose"]
    assert "zqxblocked" not in json.dumps(doc["suggest"]) and "forbidden" not in json.dumps(doc)
    assert es.suggestions(load("search.json")) == []


def test_query_texts_walk_nested_dsl(es) -> None:
    body = (FIX / "request_bool.json").read_bytes()
    texts = es.query_texts([("q", "title:uri")], body, "application/json")
    expected = ["title:uri", "first text", "second text", "third text", "fourth text", "fifth AND text", "sixth text",
                "seventh", "eighth", "ninth", "tenth", "eleventh*", "twelfth text", "thirteenth", "fourteenth"]
    assert set(expected) <= set(texts)
    # Deliberate change (issue 10.6): option values and field names are screened too (deny by default),
    # and query syntax is undone beside the text as written.
    for option in ("and", "AUTO", "best_fields", "title^2", "body", "desc", "<em>", "multiply", "comments", "title"):
        assert option in texts
    assert "fifth text" in texts and "eleventh" in texts


def test_query_texts_source_param_and_bad_bodies(es) -> None:
    src = json.dumps({"query": {"match": {"title": {"query": "via source"}}}})
    assert "via source" in es.query_texts([("source", src), ("source_content_type", "application/json")], b"", "")
    assert es.query_texts([], b'{"query":{"match_all":{}}}', "") == ["match_all"]  # format keys are skipped
    with pytest.raises(AdapterError):
        es.query_texts([], b"query: {match: {title: zqxblocked}}", "application/yaml")
    with pytest.raises(AdapterError):
        es.query_texts([], b"q=zqxblocked", "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"hits": []},
        {"hits": {"hits": {"0": {}}}},
        {"hits": {"hits": ["not an object"]}},
        {"hits": {"hits": [{"_source": "text"}]}},
    ],
)
def test_malformed_results_raise(es, doc: Any) -> None:
    with pytest.raises(AdapterError):
        es.results(doc)


@pytest.mark.parametrize("doc", [{"took": 1}, {}, {"aggregations": {"g": {"buckets": []}}}])
def test_an_answer_without_hits_has_no_results(es, doc: Any) -> None:
    """``filter_path`` can leave out ``hits``: such an answer has no results (deliberate change: it was
    refused); every string of it is still read by the last walk (tests/test_attack_response_shapes.py)."""
    assert es.results(doc) == []


@pytest.mark.parametrize(
    "doc",
    [{"hits": {"hits": []}, "suggest": []}, {"hits": {"hits": []}, "suggest": {"s": [{"options": {}}]}},
     {"hits": {"hits": []}, "suggest": {"s": [{"options": [{"score": 1}]}]}}],
)
def test_malformed_suggest_raises(es, doc: Any) -> None:
    with pytest.raises(AdapterError):
        es.suggestions(doc)


def test_opensearch_alias_and_routes() -> None:
    os_ = get_adapter("opensearch")
    assert os_.is_search_path("/books/_search") and os_.is_search_path("/_search")
    assert os_.is_search_path("/books,films/_search/") and not os_.is_search_path("/books/_doc/1")
    assert get_adapter("elasticsearch", query_param="text").query_texts([("text", "x"), ("q", "y")], b"", "") == [
        "text", "x", "q", "y"]  # every parameter is read, whatever query_param says
