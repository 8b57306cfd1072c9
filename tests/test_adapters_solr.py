"""Solr adapter: select JSON with highlighting and spellcheck, Suggester responses, request parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, get_adapter

FIX = Path(__file__).parent / "fixtures" / "backends" / "solr"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


@pytest.fixture
def solr():
    return get_adapter("solr")


def test_results_with_highlighting(solr) -> None:
    views = solr.results(load("select.json"))
    assert views[0].title == "Garden tools" and views[0].snippet == "Rakes and spades."
    assert views[0].image_url == "https://img.example.invalid/g.jpg"
    assert "a hidden field mentions zqxblocked" in views[1].texts()
    assert views[2].title == "Coast birds" and views[2].snippet == "gulls terns" or "terns" in " ".join(views[2].texts())
    assert views[2].url == "https://blocked.example.invalid/birds"


def test_remove_drops_doc_highlighting_and_counts(solr) -> None:
    doc = solr.remove_results(load("select.json"), {1, 2})
    assert [d["id"] for d in doc["response"]["docs"]] == ["doc-1"]
    assert doc["response"]["numFound"] == 55
    assert set(doc["highlighting"]) == {"doc-1"}
    assert "zqxblocked" not in json.dumps(doc["highlighting"])


def test_custom_unique_key() -> None:
    doc = {"response": {"numFound": 1, "docs": [{"key": "k1", "title": "t"}]},
           "highlighting": {"k1": {"title": ["zqxblocked"]}}}
    adapter = get_adapter("solr", unique_key="key")
    assert "zqxblocked" in adapter.results(doc)[0].texts()
    assert adapter.remove_results(doc, {0})["highlighting"] == {}


def test_hide_image_and_empty(solr) -> None:
    doc = load("select.json")
    solr.hide_image(doc, 0)
    assert "thumbnail" not in doc["response"]["docs"][0] and solr.results(doc)[0].image_url is None
    empty = solr.empty([("q", "zqxblocked")])
    assert empty["response"]["docs"] == [] and empty["response"]["numFound"] == 0
    assert "zqxblocked" not in json.dumps(empty)


def test_spellcheck_suggestions_and_collations(solr) -> None:
    doc = load("select.json")
    assert solr.suggestions(doc) == ["garden", "zqxblocked", "garden", "forbidden phrase alpha"]
    solr.remove_suggestions(doc, {1, 3})
    spell = doc["spellcheck"]
    assert spell["suggestions"][1]["suggestion"] == ["garden"] and spell["suggestions"][1]["numFound"] == 1
    assert spell["collations"] == ["collation", "garden"]


def test_suggester_and_num_found(solr) -> None:
    doc = load("suggest.json")
    assert solr.suggestions(doc) == ["garden tools", "zqxblocked garden", "garlic", "forbidden phrase alpha"]
    solr.remove_suggestions(doc, {1, 3})
    gar = doc["suggest"]["mySuggester"]["gar"]
    assert [s["term"] for s in gar["suggestions"]] == ["garden tools", "garlic"] and gar["numFound"] == 2
    assert doc["suggest"]["altSuggester"]["gar"] == {"numFound": 0, "suggestions": []}
    assert solr.suggestions(solr.empty_suggestions([("suggest.q", "x")])) == []
    assert solr.is_suggest_path("/solr/core1/suggest") and solr.is_search_path("/solr/core1/query")


def test_query_texts_params_json_and_form(solr) -> None:
    params = [("q", "title:garden"), ("fq", "cat:tools"), ("rows", "10"), ("wt", "json")]
    assert {"title:garden", "garden", "cat:tools", "tools", "rows", "10"} <= set(solr.query_texts(params, b"", ""))
    body = json.dumps({"query": {"edismax": {"query": "dsl text", "qf": "title"}}, "filter": ["inStock:true"],
                       "params": {"fq": ["f1", "f2"]}}).encode()
    texts = solr.query_texts([], body, "application/json")
    assert {"dsl text", "inStock:true", "f1", "f2"} <= set(texts)
    form = b"q=zqx+form&json=%7B%22query%22%3A%22json+in+form%22%7D"
    assert {"zqx form", "json in form"} <= set(solr.query_texts([], form, "application/x-www-form-urlencoded"))
    assert "json param" in solr.query_texts([("json", '{"query": "json param"}')], b"", "")
    # A parameter that is not JSON is read as text (Solr refuses it; nothing in it goes unread).
    assert "{broken" in solr.query_texts([("json", "{broken")], b"", "")


@pytest.mark.parametrize(
    "doc",
    ["x", {"responseHeader": {}}, {"response": {"docs": {}}}, {"response": {"docs": ["x"]}}],
)
def test_malformed_results_raise(solr, doc: Any) -> None:
    with pytest.raises(AdapterError):
        solr.results(doc)


@pytest.mark.parametrize(
    "doc",
    [{"suggest": []}, {"suggest": {"d": {"q": {"numFound": 1}}}}, {"suggest": {"d": {"q": {"suggestions": [3]}}}}],
)
def test_malformed_suggestions_raise(solr, doc: Any) -> None:
    with pytest.raises(AdapterError):
        solr.suggestions(doc)
