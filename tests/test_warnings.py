"""Warning catalog: loading with path:line problems, language negotiation, safety object, HTML page, bundle."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filter_proxy.verdict import Verdict
from filter_proxy.warnings import KIND_KEYS, NEUTRAL, PAGE_KEYS, WarningCatalog, load_warnings, url_problem

SHIPPED = Path(__file__).resolve().parent.parent / "rules" / "warnings"
BLOCK = Verdict("block", "zqx-abuse", "rules/terms/zqx-abuse.txt:7", "deterrence", "term")
WARN = Verdict("warn", "zqx-support", "rules/terms/zqx-support.txt:2", "support", "term")

GOOD = '''[deterrence]
title = "Stop"
body = """
First paragraph
over two lines.

Second paragraph.
"""

[[deterrence.links]]
label = "Help site"
url = "https://help.example.invalid/"

[[deterrence.helplines]]
name = "Line"
phone = "+1 (555) 010-0000"
'''


@pytest.fixture(scope="module")
def shipped() -> WarningCatalog:
    catalog, problems = load_warnings(SHIPPED)
    assert [p for p in problems if p.severity == "error"] == []
    return catalog


def write(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_shipped_catalog(shipped: WarningCatalog) -> None:
    assert shipped.languages[0] == "en" and {"fr", "de"} <= set(shipped.languages)
    assert {"deterrence", "support"} <= shipped.kinds
    for lang in shipped.languages:
        for kind in ("deterrence", "support"):
            text, used = shipped.text(kind, lang)
            assert used == lang and text.title and text.paragraphs and (text.links or text.helplines)
            assert all(url_problem(link.url) is None for link in text.links)


def test_paragraphs_are_joined_and_split(tmp_path: Path) -> None:
    catalog, problems = load_warnings(write(tmp_path, en=GOOD))
    assert problems == []
    text, _ = catalog.text("deterrence", "en")
    assert text.paragraphs == ("First paragraph over two lines.", "Second paragraph.")
    assert text.helplines[0].tel == "tel:+15550100000"


def lines_of(problems: list) -> list[tuple[str, int, str]]:
    return [(Path(p.path).name, p.line, p.reason) for p in problems if p.severity == "error"]


def test_missing_title_and_body_point_at_the_table(tmp_path: Path) -> None:
    text = '# comment\n\n[support]\nlinks = []\n'
    _, problems = load_warnings(write(tmp_path, en=text))
    found = lines_of(problems)
    assert ("en.toml", 3, "[support]: missing title (a non-empty string)") in found
    assert any(line == 3 and "missing body" in reason for _, line, reason in found)


@pytest.mark.parametrize(
    "url", ["http://help.example.invalid/", "javascript:alert(1)", "ftp://x.example.invalid/", "https://", "tel:abc"]
)
def test_bad_link_url_reported_on_its_line(tmp_path: Path, url: str) -> None:
    text = GOOD.replace("https://help.example.invalid/", url)
    catalog, problems = load_warnings(write(tmp_path, en=text))
    found = lines_of(problems)
    assert len(found) == 1 and found[0][1] == 12 and "links" in found[0][2]
    assert "deterrence" not in catalog.kinds  # a kind with an error is not served


def test_good_link_schemes() -> None:
    for url in ("https://a.example.invalid/x?y=1", "tel:+44 808 1000 900", "mailto:help@example.invalid"):
        assert url_problem(url) is None


def test_bad_phone_and_helpline_without_name(tmp_path: Path) -> None:
    text = GOOD.replace('"+1 (555) 010-0000"', '"call us"') + '\n[[deterrence.helplines]]\nphone = "123"\n'
    _, problems = load_warnings(write(tmp_path, en=text))
    reasons = [r for _, _, r in lines_of(problems)]
    assert any("phone 'call us'" in r for r in reasons) and any("name is required" in r for r in reasons)
    assert ("en.toml", 16, "[deterrence] helplines: phone 'call us' is not a phone number") in lines_of(problems)


def test_kind_missing_in_default_language(tmp_path: Path) -> None:
    fr = GOOD + '\n\n[extra]\ntitle = "x"\nbody = "y"\n'
    _, problems = load_warnings(write(tmp_path, en=GOOD, fr=fr))
    assert lines_of(problems) == [("fr.toml", 19, "warning kind 'extra' has no text in the default language (en.toml)")]


def test_untranslated_kind_is_a_warning_only(tmp_path: Path) -> None:
    _, problems = load_warnings(write(tmp_path, en=GOOD, de='[page]\nhelp_heading = "Hilfe"\n'))
    assert lines_of(problems) == []
    assert [p.severity for p in problems] == ["warning"] and "not translated" in problems[0].reason


def test_syntax_error_line_bad_name_and_missing_default(tmp_path: Path) -> None:
    write(tmp_path, fr='[deterrence]\ntitle = "x"\nbody = \n', **{"not a lang": GOOD})
    _, problems = load_warnings(tmp_path)
    found = lines_of(problems)
    assert any(name == "fr.toml" and line == 3 and r.startswith("TOML syntax") for name, line, r in found)
    assert any(name == "not a lang.toml" and "language code" in r for name, _, r in found)
    assert any(name == "en.toml" and "default language" in r for name, _, r in found)


def test_missing_directory_is_empty(tmp_path: Path) -> None:
    catalog, problems = load_warnings(tmp_path / "none")
    assert problems == [] and catalog.kinds == set()
    assert catalog.text("deterrence", "en") == (NEUTRAL, "en")


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("fr-CA", "fr"),
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("es-MX, de;q=0.5", "es"),
        ("it, de;q=0.5, fr;q=0.4", "it"),
        ("sv, de;q=0.5, fr;q=0.4", "de"),
        ("pt-BR,pt;q=0.9", "pt"),
        ("nl-BE", "nl"),
        ("pl;q=0.8, en;q=0.5", "pl"),
        ("de;q=0.2, fr;q=0.9", "fr"),
        ("fr;q=0, de;q=0.1", "de"),
        ("ja, *;q=0.1", "en"),
        ("DE-at", "de"),
        ("en-GB,en;q=0.9", "en"),
        ("zz;q=abc, ;;, fr;q=1.0", "fr"),
        ("ja", "en"),
    ],
)
def test_choose_language(shipped: WarningCatalog, header: str | None, lang: str) -> None:
    assert shipped.choose_language(header) == lang
    assert shipped.choose_language(header) == lang  # cached answer is the same


def test_safety_object_never_has_rule_id_or_query(shipped: WarningCatalog) -> None:
    obj = shipped.safety_object(BLOCK, "fr")
    # no internal category name (deliberate change: it used to carry "category")
    assert set(obj) == {"action", "warning"} and obj["action"] == "block" and "zqx-abuse" not in repr(obj)
    warning = obj["warning"]
    assert set(warning) == {"kind", "lang", "variant", "title", "body", "links", "helplines"}  # variant: issue 15
    assert warning["kind"] == "deterrence" and warning["lang"] == "fr"
    assert all(set(link) == {"label", "url"} for link in warning["links"])
    assert all("name" in h and None not in h.values() for h in warning["helplines"])
    flat = repr(obj)
    assert "rules/terms" not in flat and ":7" not in flat and "term'" not in flat
    # a kind missing in the asked language falls back to the default language, and says so
    assert shipped.safety_object(WARN, "ja")["warning"]["lang"] == "en"


def test_html_page_is_self_contained_and_accessible(shipped: WarningCatalog) -> None:
    page = shipped.render_html(BLOCK, "de")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="de" dir="ltr">' in page
    assert 'role="alert"' in page and "<main>" in page and "<h1 " in page and "<h2 " in page
    for external in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "http://"):
        assert external not in page.lower()
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs[0] == "/"  # back to search, on this site
    assert hrefs and all(h.startswith(("https://", "tel:", "mailto:")) for h in hrefs[1:])
    assert 'name="referrer" content="no-referrer"' in page
    assert "zqx-abuse" not in page and "rules/terms" not in page
    assert shipped.safety_object(BLOCK, "de")["warning"]["title"] in page
    # cached per (kind, language, back link)
    assert shipped.render_html(BLOCK, "de") is page
    assert shipped.render_html(WARN, "de") != page


def test_html_escapes_catalog_text(tmp_path: Path) -> None:
    text = GOOD.replace('title = "Stop"', 'title = "<script>alert(1)</script> & more"')
    catalog, _ = load_warnings(write(tmp_path, en=text))
    page = catalog.render_html(BLOCK, "en")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; more" in page


def test_unknown_kind_renders_neutral_page(shipped: WarningCatalog) -> None:
    verdict = Verdict("block", "zqx-other", "rules/terms/o.txt:1", None)
    assert NEUTRAL.title in shipped.render_html(verdict, "fr")
    assert shipped.safety_object(verdict, "fr")["warning"]["title"] == NEUTRAL.title


def test_bundle_round_trip(shipped: WarningCatalog) -> None:
    import orjson

    data = orjson.loads(orjson.dumps(shipped.to_json()))
    again = WarningCatalog.from_json(data)
    assert again.languages == shipped.languages and again.kinds == shipped.kinds
    for lang in shipped.languages:
        assert again.safety_object(BLOCK, lang) == shipped.safety_object(BLOCK, lang)
        assert again.render_html(WARN, lang) == shipped.render_html(WARN, lang)
    with pytest.raises(ValueError):
        WarningCatalog.from_json({"version": 1, "languages": {"en": {}}})
    with pytest.raises(ValueError):
        WarningCatalog.from_json({"version": 9})


SHIPPED_LANGUAGES = {"en", "fr", "de", "es", "pt", "it", "nl", "pl"}


def test_every_shipped_language_has_every_key(shipped: WarningCatalog) -> None:
    import tomllib

    assert set(shipped.languages) >= SHIPPED_LANGUAGES
    _, problems = load_warnings(SHIPPED)
    assert problems == []  # not even a warning: no kind left untranslated
    for lang in shipped.languages:
        raw = tomllib.loads((SHIPPED / f"{lang}.toml").read_text(encoding="utf-8"))
        assert set(raw["page"]) == set(PAGE_KEYS), lang  # every label translated, none unknown
        assert set(raw) - {"page"} == shipped.kinds, lang
        for kind in shipped.kinds:
            # + the optional wording variants of issue 15
            assert {"title", "body", "links", "helplines"} <= set(raw[kind]) <= KIND_KEYS, (lang, kind)
            text, used = shipped.text(kind, lang)
            assert used == lang and text.helplines and text.links, (lang, kind)
        if lang != "en":  # translated, not copied: the labels differ from English
            assert shipped.chrome(lang)["help_heading"] != shipped.chrome("en")["help_heading"], lang


def test_every_shipped_language_has_every_wording_variant() -> None:
    # The same variant names and weights as English (en.toml: "use the same variant names in every
    # language, so the counts line up"), each with its own translated title and body.
    import tomllib

    def variants(lang: str) -> dict[str, dict[str, tuple[str, int]]]:
        raw = tomllib.loads((SHIPPED / f"{lang}.toml").read_text(encoding="utf-8"))
        return {kind: {table.get("variant", "default"): (table["title"], table.get("weight", 1)),
                       **{v["name"]: (v["title"], v.get("weight", 1)) for v in table.get("variants", [])}}
                for kind, table in raw.items() if kind != "page"}

    english = variants("en")
    assert "help-first" in english["deterrence"]
    for lang in sorted(SHIPPED_LANGUAGES - {"en"}):
        found = variants(lang)
        for kind, wordings in english.items():
            assert {n: w for n, (_, w) in found[kind].items()} == {n: w for n, (_, w) in wordings.items()}, (lang, kind)
            for name, (title, _) in wordings.items():
                assert found[kind][name][0] != title, (lang, kind, name)  # translated, not copied


@pytest.mark.parametrize("lang", sorted(SHIPPED_LANGUAGES))
def test_page_follows_the_language(shipped: WarningCatalog, lang: str) -> None:
    for verdict in (BLOCK, WARN):
        page = shipped.render_html(verdict, lang)
        chrome = shipped.chrome(lang)
        assert f'<html lang="{lang}"' in page
        for key in ("help_heading", "links_heading", "back_label"):
            assert chrome[key] in page.replace("&#39;", "'"), (lang, key)
    # the deterrence page is an alert; the support page a calm note with its own style
    assert 'role="alert"' in shipped.render_html(BLOCK, lang)
    assert 'class="notice support"' in shipped.render_html(WARN, lang)
