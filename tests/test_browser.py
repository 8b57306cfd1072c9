"""A real browser (headless Chromium) on the demo page and on the reverse proxy's warning pages, in every
shipped language: the accessibility basics a person relies on, checked on what the browser computed.

Driven through WebDriver with ``selenium`` and Debian's ``chromium`` + ``chromium-driver`` (installed by
.ci/run when missing). WebDriver rather than raw DevTools: it is the W3C standard, selenium is its reference
client, and it gives keyboard input, computed styles and screenshots without a protocol client of our own;
the two DevTools commands used (Accept-Language per page, scripts off) go through selenium too. Both
binaries are named explicitly, so selenium never downloads a driver. Screenshots are written to
``tmp/browser/`` (ignored by git; ``FILTER_PROXY_ARTIFACTS`` overrides) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.demo.app import create_demo_app
from filter_proxy.demo.backend import create_backend
from filter_proxy.demo.i18n import LABELS
from filter_proxy.proxy import create_proxy_app
from filter_proxy.rules import RuleSet, load_rules
from tests.support.server import serve

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the [dev] extra")

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
LANGUAGES = ["en", "fr", "de", "es", "pt", "it", "nl", "pl"]
BLOCKED, SUPPORT = "zqxblocked", "zqxhelp+bread"  # the support search also finds ordinary results

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no headless browser: install Debian's chromium and chromium-driver (.ci/run does) to run these",
)


def artifacts() -> Path:
    path = Path(os.environ.get("FILTER_PROXY_ARTIFACTS") or ROOT / "tmp" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES_DIR)


@pytest.fixture(scope="module")
def sites(rules: RuleSet) -> Iterator[dict[str, str]]:
    """The demo (mounted middleware) and the reverse proxy in front of the unfiltered demo backend."""
    with serve(create_demo_app(rules, thumbnails="precomputed")) as demo, \
            serve(create_backend()) as backend, \
            serve(create_proxy_app(backend, rules, "searxng", search_paths=["/search"],
                                   suggest_paths=["/autocompleter"])) as proxy:
        yield {"demo": demo, "proxy": proxy}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1200", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--metrics-recording-only", "--no-default-browser-check",
                "--dns-prefetch-disable",
                # Every host name resolves to nothing: the pages are on 127.0.0.1 (an IP literal, not
                # resolved), and no link, prefetch or browser service can reach any other address.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=DRIVER or ""), options=options)
    except Exception as exc:  # a browser that cannot start here is an environment problem, said clearly
        pytest.skip(f"headless chromium did not start: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Network.enable", {})
    try:
        yield driver
    finally:
        driver.quit()


def visit(driver: Any, url: str, lang: str) -> None:
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": lang}})
    driver.get(url)


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def parse_colour(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return (numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) > 3 else 1.0)


def contrast(foreground: str, background: str) -> float:
    fg, bg = parse_colour(foreground), parse_colour(background)
    assert bg[3] == 1.0, f"the alert's background must be opaque to judge contrast, got {background}"
    lighter, darker = sorted((luminance(fg[:3]), luminance(bg[:3])), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def check_page(driver: Any, lang: str, notice: str, help_heading: str) -> None:
    """lang, headings, a landmark, the alert's contrast, a visible focus ring."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert driver.execute_script("return document.documentElement.lang") == lang
    assert driver.find_elements(By.TAG_NAME, "h1"), "no h1"
    headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h2, h3")]
    assert help_heading in headings, (help_heading, headings)
    assert driver.find_elements(By.CSS_SELECTOR, "main, [role=main]"), "no main landmark"
    box = driver.find_element(By.CSS_SELECTOR, notice)
    style = driver.execute_script(
        "const s = getComputedStyle(arguments[0]); const h = getComputedStyle(arguments[0].querySelector('h1, h2'));"
        "return [s.color, s.backgroundColor, h.color];", box)
    assert contrast(style[0], style[1]) >= 7.0, style  # body text: WCAG AAA
    assert contrast(style[2], style[1]) >= 4.5, style  # heading: large text, AA at least
    # Keyboard: Tab onto the first link; the focus ring must be visible (outline, not "none"). Nothing is
    # clicked: a result link leads off loopback.
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    for _ in range(12):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        tag = driver.execute_script("return document.activeElement.tagName")
        if tag == "A":
            break
    assert tag == "A", "Tab never reached a link"
    ring = driver.execute_script(
        "const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth];")
    assert ring[0] not in ("none", "") and float(ring[1].rstrip("px")) >= 2, ring


def without_javascript(driver: Any, url: str, lang: str, must_show: list[str]) -> str:
    """The page loaded with scripts off: the warning is there all the same (server-rendered)."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        visit(driver, url, lang)
        source = driver.page_source
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    for text in must_show:
        assert text in source.replace("&#39;", "'").replace("&amp;", "&"), text
    return source


@pytest.mark.parametrize("lang", LANGUAGES)
def test_warning_pages_in_a_real_browser(browser: Any, sites: dict[str, str], rules: RuleSet, lang: str) -> None:
    catalog = rules.warnings
    chrome = catalog.chrome(lang)
    deterrence, _ = catalog.text("deterrence", lang)
    support, _ = catalog.text("support", lang)
    pages = [
        ("demo-block", f"{sites['demo']}/?q={BLOCKED}", ".warning", deterrence.title),
        ("demo-support", f"{sites['demo']}/?q={SUPPORT}", ".warning.support", support.title),
        ("proxy-block", f"{sites['proxy']}/search?q={BLOCKED}&format=json", ".notice", deterrence.title),
        ("proxy-support", f"{sites['proxy']}/search?q={SUPPORT}&format=json", ".notice.support", support.title),
    ]
    for name, url, notice, title in pages:
        visit(browser, url, lang)
        assert browser.title == title, (name, browser.title)
        check_page(browser, lang, notice, chrome["help_heading"])
        if name.startswith("demo"):
            assert LABELS[lang]["heading"] in browser.page_source
        if name.endswith("support"):  # the search still ran: results under the calm notice
            assert "role=\"alert\"" not in browser.page_source
            assert browser.find_elements("css selector", "ol.results li, ul.results li"), name
        browser.save_screenshot(str(artifacts() / f"{name}-{lang}.png"))
        source = without_javascript(browser, url, lang, [title, chrome["help_heading"]])
        if name.endswith("block"):  # the blocked search is never echoed, not even in the search box
            # (the demo's header links the placeholder as an example to try: look past it)
            echoed = source.split("<main", 1)[1] if name.startswith("demo") else source
            assert BLOCKED not in echoed, name
