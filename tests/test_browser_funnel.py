"""Issue 15, done-when: in a real browser (headless Chromium, the fixtures of test_browser.py), a person
gets the demo's warning page, follows a help link, and the demo's funnel report (the /-/funnel page and
`filter-proxy report` on the same store) shows that click under the right kind, language and variant.

The help link redirects to a real help site; the browser's host-resolver rules (test_browser.browser)
resolve every name to nothing, so nothing leaves loopback: the click is counted at /-/help/ before that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.cli import main
from filter_proxy.demo.app import create_demo_app
from filter_proxy.rules import RuleSet
from tests.support.server import serve
from tests.test_browser import BLOCKED, CHROMIUM, DRIVER, browser, rules, visit  # noqa: F401  (fixtures reused)

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no headless browser: install Debian's chromium "
                                "and chromium-driver (.ci/run does) to run these")


@pytest.fixture(scope="module")
def demo(rules: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:  # noqa: F811
    database = tmp_path_factory.mktemp("funnel") / "report.sqlite3"
    with serve(create_demo_app(rules, thumbnails="precomputed", report_db=database)) as url:
        yield url, database


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_help_link_click_shows_in_the_funnel_report(browser: Any, demo: tuple[str, Path], lang: str,  # noqa: F811
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from selenium.webdriver.common.by import By

    site, database = demo
    counts_before = {v: _clicks(browser, site, "deterrence", lang, v) for v in ("consequences", "help-first")}
    visit(browser, f"{site}/?q={BLOCKED}", lang)
    section = browser.find_element(By.CSS_SELECTOR, "section.warning")
    kind, variant = section.get_attribute("data-kind"), section.get_attribute("data-variant")
    assert kind == "deterrence" and variant in counts_before
    before = counts_before[variant]
    link = section.find_element(By.CSS_SELECTOR, "ul:last-of-type a")  # "Report and find out more": a web link
    assert "/-/help/" in link.get_attribute("href")
    link.click()
    assert _clicks(browser, site, kind, lang, variant) == before + 1
    other = "help-first" if variant == "consequences" else "consequences"
    assert _clicks(browser, site, kind, lang, other) == counts_before[other]  # not under the other wording
    # The same store read by the CLI report: the click is there under the same kind, language, variant.
    assert main(["report", "--db", str(database), "--since", "2000-01-01", "--format", "json"]) == 0
    funnel = json.loads(capsys.readouterr().out)["funnel"]
    (group,) = [g for g in funnel["groups"] if (g["kind"], g["lang"], g["variant"]) == (kind, lang, variant)]
    assert group["clicks"] == before + 1 and group["shown"] >= 1


def _clicks(driver: Any, site: str, kind: str, lang: str, variant: str) -> int:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/-/funnel")
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr[data-kind="{kind}"][data-lang="{lang}"][data-variant="{variant}"]')
    return int(rows[0].find_element(By.CSS_SELECTOR, "td.clicks").text) if rows else 0
