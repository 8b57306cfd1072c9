"""The embedded demo: the backend alone (search, suggestions, thumbnails, determinism), the shipped
example rules agreeing with the demo corpus, and the filtered demo end to end over real HTTP."""

from __future__ import annotations

import dataclasses
import html
import io
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from filter_proxy.cli import main as cli_main
from filter_proxy.demo.app import LOOPBACK_NETWORKS, create_demo_app, demo_image_screener, thumbnail_mode
from filter_proxy.demo.backend import SearchIndex, create_backend, fts_query
from filter_proxy.demo.corpus import LISTED_TERMS, STRIPPED_TERMS, build_corpus
from filter_proxy.demo.images import LISTED_CATEGORY, draw_picture, picture_png, rules_csv, rules_file
from filter_proxy.images_screen import ImageScreener
from filter_proxy.rules import RuleSet, load_rules
from tests.support.server import serve

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


# --- the shipped example rules agree with the demo --------------------------------------------------------
RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES_DIR)


def test_every_planted_placeholder_is_listed(rules: RuleSet) -> None:
    for term in LISTED_TERMS:
        assert rules.check_text(term).action == "block", term
    for term in STRIPPED_TERMS:
        assert rules.check_text(term).action == "strip", term
    for doc in build_corpus():
        if doc.planted == "url":
            assert rules.check_url(doc.url).matched, doc.url
        else:
            assert not rules.check_url(doc.url).matched, doc.url
        if doc.planted not in ("term", "spam"):
            assert not rules.check_texts([doc.title, doc.body]).matched, doc.title


def test_image_rules_file_is_up_to_date(rules: RuleSet) -> None:
    # Regenerate with `python -m filter_proxy.demo.images --write-rules rules/` when the pictures change.
    # sha256 lines depend on Pillow's PNG encoder (zlib version), which may differ between machines; the
    # perceptual lines depend only on the pictures, so those must agree exactly.
    def perceptual(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith(("sha256,", "md5,", "sha1,"))]

    assert perceptual(rules_file(RULES_DIR).read_text(encoding="utf-8")) == perceptual(rules_csv())
    assert rules.policy.category(LISTED_CATEGORY).action == "block"


def test_listed_pictures_match_and_ordinary_ones_do_not(rules: RuleSet) -> None:
    for doc in build_corpus():
        verdict = rules.check_image(picture_png(doc.picture))
        if doc.planted == "image":  # drawn as listed, or edited (resized and brightened): near match
            assert verdict.matched and verdict.category == LISTED_CATEGORY, doc.picture
        else:
            assert not verdict.matched, doc.picture


# --- the filtered demo, end to end over real HTTP -----------------------------------------------------
@pytest.fixture(scope="module")
def demo_url(rules: RuleSet) -> Iterator[str]:
    assert thumbnail_mode() == "fetch"  # the image screener is installed: thumbnails are fetched and hashed
    # As the demo's own screener (loopback allowed), with a generous page budget: the test machine may be
    # busy, and an unverified thumbnail is hidden rather than matched, which would make the tests flaky.
    policy = dataclasses.replace(rules.policy.images, allow_networks=LOOPBACK_NETWORKS, page_budget=60.0,
                                 fetch_timeout=60.0)
    app = create_demo_app(rules, thumbnails="fetch", image_screener=ImageScreener(policy))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def precomputed_url(rules: RuleSet) -> Iterator[str]:
    with serve(create_demo_app(rules, thumbnails="precomputed")) as url:
        yield url


@pytest.fixture
async def demo(demo_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=demo_url, headers={"accept": "application/json"}) as client:
        yield client


def _without_terms(text: str) -> str:
    for term in LISTED_TERMS:
        text = text.replace(term, " ")
    return " ".join(text.split())


async def test_ordinary_query_returns_results_without_listed_content(
    demo: httpx.AsyncClient, backend: httpx.AsyncClient, rules: RuleSet
) -> None:
    response = await demo.get("/search", params={"q": "bread recipe", "format": "json"})
    assert response.status_code == 200
    doc = response.json()
    assert doc["results"] and "safety" not in doc
    for result in doc["results"]:
        assert not rules.check_texts([result["title"], result["content"]]).matched
        assert not rules.check_url(result["url"]).matched
    assert not any(rules.check_text(s).matched for s in doc["suggestions"])
    assert "bread zqxblocked" in (await backend.get("/search", params={"q": "bread recipe"})).json()["suggestions"]


@pytest.mark.parametrize("kind", ["term", "spam", "url", "image"])
async def test_planted_results_are_removed_and_the_rest_kept(
    kind: str, demo: httpx.AsyncClient, backend: httpx.AsyncClient
) -> None:
    await _assert_planted_removed(kind, demo, backend)


async def test_listed_thumbnails_are_removed_with_precomputed_hashes(
    precomputed_url: str, backend: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=precomputed_url, headers={"accept": "application/json"}) as demo:
        raw = (await demo.get("/search", params={"q": "bread", "format": "json"})).json()["results"]
        assert raw and all(len(r["thumbnail_phash"]) == 16 for r in raw)  # the backend supplied the hashes
        await _assert_planted_removed("image", demo, backend)


async def _assert_planted_removed(kind: str, demo: httpx.AsyncClient, backend: httpx.AsyncClient) -> None:
    by_url = {d.url: d for d in build_corpus()}
    for planted in [d for d in build_corpus() if d.planted == kind][:3]:
        params = {"q": _without_terms(planted.title), "format": "json"}
        raw = (await backend.get("/search", params=params)).json()["results"]
        assert planted.url in [r["url"] for r in raw]  # the backend alone would show it
        response = await demo.get("/search", params=params)
        filtered = response.json()
        expected = [r["url"] for r in raw if by_url[r["url"]].planted is None]
        assert [r["url"] for r in filtered["results"]] == expected
        # The header counts removed suggestions as well as results.
        assert int(response.headers["x-filter-removed"]) >= len(raw) - len(expected)


@pytest.mark.parametrize("query", ["zqxblocked", "Forbidden Phrase Alpha recipes", "bread z.q.x.b.l.o.c.k.e.d"])
async def test_listed_query_gets_the_warning_and_no_results(query: str, demo: httpx.AsyncClient) -> None:
    response = await demo.get("/search", params={"q": query, "format": "json"})
    assert response.status_code == 200
    assert response.headers["x-filter-action"] == "block"
    doc = response.json()
    assert doc["results"] == [] and doc["number_of_results"] == 0
    assert doc["safety"]["action"] == "block"
    warning = doc["safety"]["warning"]
    assert warning["title"] and warning["body"] and warning["links"]


@pytest.mark.parametrize("prefix", ["bre", "z", "zqx", "forb", "bread z", "apple"])
async def test_autocompleter_never_returns_listed_suggestions(
    prefix: str, demo: httpx.AsyncClient, rules: RuleSet
) -> None:
    response = await demo.get("/autocompleter", params={"q": prefix})
    assert response.status_code == 200
    echoed, suggestions = response.json()
    assert not any(rules.check_text(s).matched for s in suggestions)
    if prefix == "bre":
        assert "bread recipe" in suggestions and echoed == "bre"
    if prefix == "apple":
        assert suggestions


@pytest.mark.parametrize("query", ['"', 'bread" OR title:*', "NEAR((", "^^^", "-", "bread AND (pie"])
async def test_fts_syntax_through_the_filter_does_not_crash(query: str, demo: httpx.AsyncClient) -> None:
    response = await demo.get("/search", params={"q": query, "format": "json"})
    assert response.status_code == 200
    assert isinstance(response.json()["results"], list)


async def test_html_page_shows_filtered_results(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/", params={"q": "apple pie"}, headers={"accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    assert '<label for="q">' in page and 'id="q"' in page
    assert "<img src=" in page and "/thumbs/" in page
    assert "removed from this page by the filter" in page
    assert "apple pie" in page.lower()
    main = page.split("<main>", 1)[1].split("</main>", 1)[0].lower()
    assert not any(term in main for term in LISTED_TERMS)
    assert 'href="/search?q=apple%20pie&amp;format=json"' in page


async def test_html_page_shows_the_warning_for_a_listed_query(
    demo: httpx.AsyncClient, rules: RuleSet
) -> None:
    response = await demo.get("/", params={"q": "zqxblocked"}, headers={"accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    verdict = rules.check_text("zqxblocked")
    warning = rules.warnings.safety_object(verdict, rules.warnings.default_language)["warning"]
    assert 'class="warning"' in page and html.escape(warning["title"]) in page
    assert 'class="results"' not in page
    assert 'value="zqxblocked"' not in page  # the blocked query is not echoed back


async def test_empty_page_renders(demo: httpx.AsyncClient) -> None:
    page = (await demo.get("/", headers={"accept": "text/html"})).text
    assert "<form" in page and 'class="results"' not in page


# --- the command ----------------------------------------------------------------------------------------
def test_demo_command_refuses_a_missing_rules_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--rules", str(tmp_path / "nowhere")]) == 2
    assert "rules not found" in capsys.readouterr().err


def test_demo_command_reports_invalid_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policy.toml").write_text("[categories.x]\naction = 'explode'\n", encoding="utf-8")
    assert cli_main(["demo", "--rules", str(tmp_path)]) == 2
    assert "invalid" in capsys.readouterr().err


async def test_default_demo_app_screens_thumbnails_from_loopback_only(rules: RuleSet) -> None:
    screener = demo_image_screener(rules)
    assert set(LOOPBACK_NETWORKS) <= set(screener.policy.allow_networks)
    assert set(screener.policy.allow_networks) - set(LOOPBACK_NETWORKS) == set(rules.policy.images.allow_networks)
    await screener.aclose()
    app = create_demo_app(RULES_DIR)  # the app `filter-proxy demo` serves, in process this time
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        blocked = (await client.get("/search", params={"q": "zqxblocked", "format": "json"})).json()
        assert blocked["results"] == [] and blocked["safety"]["action"] == "block"
        _, suggestions = (await client.get("/autocompleter", params={"q": "bread"})).json()
        assert "bread recipe" in suggestions and "bread zqxblocked" not in suggestions


def test_demo_command_serves_and_prints_its_address(tmp_path: Path) -> None:
    # `make demo` as a user runs it: the console script in a child process. --port 0: the demo binds a
    # free port itself and prints it (no probe-then-bind race).
    script = Path(sys.executable).with_name("filter-proxy")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "filter_proxy.cli"]
    process = subprocess.Popen([*command, "demo", "--port", "0", "--rules", str(RULES_DIR)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
        assert found and "zqxblocked" in line, line
        port = int(found.group(1))
        for _ in range(200):  # the port is bound when the line is printed; uvicorn starts serving just after
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", params={"q": "zqxblocked"})
                break
            except httpx.ConnectError:
                threading.Event().wait(0.05)
        else:
            pytest.fail(f"demo did not start: {process.stderr.read() if process.poll() is not None else ''}")
        assert response.status_code == 200 and 'class="warning"' in response.text
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the page's language and warning styles ------------------------------------------------------------
@pytest.mark.parametrize("lang", ["fr", "de", "es", "pt", "it", "nl", "pl"])
async def test_html_page_follows_the_language(demo: httpx.AsyncClient, rules: RuleSet, lang: str) -> None:
    from filter_proxy.demo.i18n import LABELS

    r = await demo.get("/", params={"q": "zqxblocked"}, headers={"accept": "text/html", "accept-language": lang})
    page = html.unescape(r.text)
    chrome = rules.warnings.chrome(lang)
    assert f'<html lang="{lang}"' in page and f'lang="{lang}" role="alert"' in page
    assert LABELS[lang]["heading"] in page and chrome["help_heading"] in page and chrome["links_heading"] in page
    assert "Helplines" not in page and ">Search<" not in page  # no English chrome left
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_support_warning_is_calm_and_keeps_results(demo: httpx.AsyncClient) -> None:
    r = await demo.get("/", params={"q": "zqxhelp"}, headers={"accept": "text/html"})
    page = r.text
    assert 'class="warning support"' in page and 'role="alert"' not in page
    assert page.index('id="warning-title"') < page.index("</section>") and 'href="/"' in page
