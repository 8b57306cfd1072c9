"""SearXNG adapter: format=json search pages (results, answers, infoboxes, suggestions) and the autocompleter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.adapters import AdapterError, get_adapter

FIX = Path(__file__).parent / "fixtures" / "backends" / "searxng"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


@pytest.fixture
def sx():
    return get_adapter("searxng")


def test_results_answers_and_infoboxes_are_views(sx) -> None:
    views = sx.results(load("search.json"))
    assert [v.index for v in views] == [0, 1, 2, 3, 4]
    assert views[0].title == "Garden tools for beginners" and views[0].url == "https://shop.example.invalid/garden"
    assert views[0].image_url == "https://img.example.invalid/garden-thumb.jpg"
    assert views[1].snippet == "This snippet mentions zqxblocked." and views[1].image_url is None
    # image result: thumbnail first, the full image is checked as a further URL
    assert views[2].image_url == "https://photos.example.invalid/thumb/9.jpg"
    assert "https://photos.example.invalid/full/9.jpg" in views[2].urls()
    assert views[3].title == "An answer that says forbidden phrase alpha"
    assert views[3].url == "https://answers.example.invalid/1"
    box = views[4]
    assert box.title == "Garden" and box.image_url == "https://img.example.invalid/infobox.jpg"
    assert "https://blocked.example.invalid/x" in box.urls()
    assert "Outdoor space" in box.texts()


def test_remove_results_answers_infoboxes_and_count(sx) -> None:
    doc = sx.remove_results(load("search.json"), {1, 3, 4})
    assert [r["title"] for r in doc["results"]] == ["Garden tools for beginners", "Seaside"]
    assert doc["answers"] == [] and doc["infoboxes"] == []
    assert doc["number_of_results"] == 1229  # only results count
    assert "zqxblocked" not in json.dumps(doc["results"]) and "forbidden" not in json.dumps(doc)


def test_string_answers_from_older_releases(sx) -> None:
    doc = {"results": [], "answers": ["zqxblocked answer"], "number_of_results": 0}
    views = sx.results(doc)
    assert views[0].index == 0 and views[0].title == "zqxblocked answer"
    assert sx.remove_results(doc, {0})["answers"] == [] and doc["number_of_results"] == 0


def test_hide_image_of_result_and_infobox(sx) -> None:
    doc = load("search.json")
    sx.hide_image(doc, 2)
    sx.hide_image(doc, 4)
    image = doc["results"][2]
    assert not {"img_src", "thumbnail_src", "thumbnail"} & image.keys() and image["url"]
    assert "img_src" not in doc["infoboxes"][0]
    views = sx.results(doc)
    assert views[2].image_url is None and views[4].image_url is None


def test_suggestions_and_corrections(sx) -> None:
    doc = load("search.json")
    assert sx.suggestions(doc) == ["garden design", "zqxblocked ideas", "garden hose", "garden tool"]
    sx.remove_suggestions(doc, {1, 3})
    assert doc["suggestions"] == ["garden design", "garden hose"] and doc["corrections"] == []


@pytest.mark.parametrize("name", ["autocomplete_opensearch.json", "autocomplete_plain.json"])
def test_autocompleter_both_shapes(sx, name: str) -> None:
    doc = load(name)
    assert sx.suggestions(doc) == ["garden", "zqxblocked garden", "garlic"]
    out = sx.remove_suggestions(doc, {1})
    assert sx.suggestions(out) == ["garden", "garlic"]
    assert "zqxblocked" not in json.dumps(out)


def test_empty_shapes_do_not_echo(sx) -> None:
    empty = sx.empty([("q", "zqxblocked"), ("format", "json")])
    assert empty["results"] == [] and empty["number_of_results"] == 0 and sx.results(empty) == []
    assert "zqxblocked" not in json.dumps(empty)
    assert sx.empty_suggestions([("q", "zqxblocked")]) == []


def test_query_texts_get_and_post_form(sx) -> None:
    assert sx.query_texts([("q", "garden"), ("format", "json")], b"", "") == ["q", "garden", "format", "json"]
    form = b"q=zqx+blocked&categories=general"
    assert sx.query_texts([], form, "application/x-www-form-urlencoded; charset=utf-8") == [
        "q", "zqx blocked", "categories", "general"]
    with pytest.raises(AdapterError):
        sx.query_texts([], b"--x\r\nq\r\n", "multipart/form-data; boundary=x")


@pytest.mark.parametrize(
    "doc",
    ["<html></html>", {"query": "x"}, {"results": {}}, {"results": ["x"]}, {"results": [], "answers": "x"},
     {"results": [], "infoboxes": [3]}],
)
def test_malformed_raise(sx, doc: Any) -> None:
    with pytest.raises(AdapterError):
        sx.results(doc)


def test_malformed_suggestions_raise(sx) -> None:
    with pytest.raises(AdapterError):
        sx.suggestions({"results": [], "suggestions": [{"x": 1}]})
    with pytest.raises(AdapterError):
        sx.suggestions({"results": [], "corrections": "x"})
