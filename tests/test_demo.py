"""The embedded demo: the backend alone (search, suggestions, thumbnails, determinism), the shipped
example rules agreeing with the demo corpus, and the filtered demo end to end over real HTTP."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from filter_proxy.demo.backend import SearchIndex, create_backend, fts_query
from filter_proxy.demo.corpus import LISTED_TERMS, build_corpus
from filter_proxy.demo.images import draw_picture, picture_png

pytestmark = pytest.mark.anyio


@pytest.fixture
async def backend() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_backend())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        yield client


# --- the corpus ----------------------------------------------------------------------------------------
def test_corpus_is_deterministic_and_plants_every_kind() -> None:
    docs = build_corpus()
    again = build_corpus.__wrapped__()  # bypass the cache: build it a second time from the seed
    assert docs == again
    assert 200 <= len(docs) <= 500
    assert len({d.id for d in docs}) == len(docs)
    planted = {kind: [d for d in docs if d.planted == kind] for kind in ("term", "url", "image")}
    assert all(planted.values())
    assert all(".example.invalid/" in d.url for d in docs)
    for doc in planted["term"]:
        assert any(term in f"{doc.title} {doc.body}" for term in LISTED_TERMS)
    # Ordinary documents carry no placeholder.
    for doc in docs:
        if doc.planted != "term":
            assert not any(term in f"{doc.title} {doc.body}".lower() for term in LISTED_TERMS)


def test_pictures_are_deterministic_pngs() -> None:
    doc = build_corpus()[0]
    data = picture_png(doc.picture)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(data)).size == (128, 96)
    assert draw_picture(doc.picture).tobytes() == draw_picture(doc.picture).tobytes()
    assert draw_picture("gen:1").tobytes() != draw_picture("gen:2").tobytes()


# --- the backend alone (unfiltered) -------------------------------------------------------------------
def test_fts_query_quotes_every_word() -> None:
    assert fts_query('bread "recipe') == '"bread" "recipe"'
    assert fts_query("a OR b", any_word=True) == '"a" OR "OR" OR "b"'
    assert fts_query("  ** () ^ ") is None


@pytest.mark.parametrize("text", ['"', 'bread" OR', "title:bread", "NEAR(a b)", "*", "bread AND NOT -x", "(("])
def test_fts_syntax_in_the_query_never_raises(text: str) -> None:
    total, hits = SearchIndex(build_corpus()).search(text)
    assert total >= len(hits)


async def test_search_returns_searxng_shape(backend: httpx.AsyncClient) -> None:
    response = await backend.get("/search", params={"q": "bread recipe", "format": "json"})
    assert response.status_code == 200
    doc = response.json()
    assert {"query", "number_of_results", "results", "suggestions", "answers", "corrections", "infoboxes",
            "unresponsive_engines"} <= set(doc)
    assert doc["query"] == "bread recipe"
    assert doc["results"]
    for result in doc["results"]:
        assert "bread" in (result["title"] + result["content"]).lower()
        assert result["thumbnail"].startswith("http://127.0.0.1:8080/thumbs/")
    assert doc["number_of_results"] >= len(doc["results"])


async def test_search_pages_through_all_matches(backend: httpx.AsyncClient) -> None:
    first = (await backend.get("/search", params={"q": "apple pie", "pageno": "1"})).json()
    second = (await backend.get("/search", params={"q": "apple pie", "pageno": "2"})).json()
    titles = [r["url"] for r in first["results"] + second["results"]]
    assert len(titles) == len(set(titles)) == min(first["number_of_results"], 20)


async def test_unfiltered_backend_does_surface_planted_content(backend: httpx.AsyncClient) -> None:
    # Proves the filtered tests below are meaningful: without the middleware, placeholders come through.
    doc = (await backend.get("/search", params={"q": LISTED_TERMS[0]})).json()
    assert doc["results"]
    assert LISTED_TERMS[0] in str(doc["results"]).lower()
    suggestions = (await backend.get("/autocompleter", params={"q": "bre"})).json()
    assert suggestions[0] == "bre"
    assert any(LISTED_TERMS[0] in s for s in suggestions[1])


async def test_autocompleter_completes_by_prefix(backend: httpx.AsyncClient) -> None:
    query, suggestions = (await backend.get("/autocompleter", params={"q": "Apple P"})).json()
    assert query == "Apple P"
    assert suggestions and all(s.startswith("apple p") for s in suggestions)
    assert (await backend.get("/autocompleter", params={"q": ""})).json() == ["", []]


async def test_thumbnails_are_served(backend: httpx.AsyncClient) -> None:
    doc = build_corpus()[3]
    response = await backend.get(f"/thumbs/{doc.id}.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == picture_png(doc.picture)
    assert (await backend.get("/thumbs/99999.png")).status_code == 404
