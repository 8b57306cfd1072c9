"""A listed internationalised host name written in its own script in prose, without a scheme ("mirror at
bücher.example.invalid today", "см. пример.испытание/путь"), is a URL part of the text (``walk.url_parts``)
and matches its entry, as it does written in ASCII; the same name one letter longer matches nothing, and
prose in any script that names no host finds no listed one. Generated names in Latin, Greek and Cyrillic
letters under example.invalid (or an all-Unicode placeholder TLD), never real addresses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from filter_proxy.adapters.walk import url_parts
from filter_proxy.rules import load_rules
from filter_proxy.signals.urls import UrlEntry, UrlIndex

SCRIPTS = ["abcdefghijklmnopqrstuvwxyzäöüßéèçñåø", "αβγδεζηθικλμνξοπρστυφχψω", "абвгдежзийклмнопрстуфхцчшщыэюя"]


@st.composite
def idn_host(draw: st.DrawFn) -> str:
    letters = draw(st.sampled_from(SCRIPTS))
    label = draw(st.text(alphabet=letters, min_size=3, max_size=10))
    if letters[0] == "a" and label.isascii():  # at least one letter outside ASCII
        label += draw(st.sampled_from("äöüéñ"))
    tld = draw(st.sampled_from(["example.invalid", "испытание", "δοκιμή"]))
    return f"{label}.{tld}"


WORDS = st.lists(st.text(alphabet=st.sampled_from(SCRIPTS + [" ,;"]).flatmap(
    lambda a: st.sampled_from(a)), min_size=1, max_size=8), max_size=4).map(" ".join)
BEFORE = st.sampled_from(["", " ", "(", "«", "→", "at ", "см. ", ": "])
AFTER = st.sampled_from(["", " ", ")", "»", ".", ",", "!", "/", "/путь", "/seite?x=1", " today"])


def _matches(index: UrlIndex, text: str) -> bool:
    return any(index.match(part) for part in url_parts(text))


@given(idn_host(), WORDS, BEFORE, AFTER, WORDS, st.booleans())
def test_a_listed_idn_host_in_prose_is_read(host: str, words: str, before: str, after: str, more: str,
                                            upper: bool) -> None:
    index = UrlIndex.build([UrlEntry(host, "zqx", "rules/urls/zqx.txt:1")])
    # upper case where it is the same name again (not "ß" -> "SS", another name under IDNA 2008)
    written = host.upper() if upper and host.upper().lower() == host else host
    assert _matches(index, f"{words} {before}{written}{after} {more}")
    longer = host.replace(".", "x.", 1)  # the neighbour one letter longer: another host
    assert not _matches(index, f"{words} {before}{longer}{after} {more}")


@given(idn_host(), WORDS)
def test_prose_without_the_host_matches_nothing(host: str, words: str) -> None:
    index = UrlIndex.build([UrlEntry(host, "zqx", "rules/urls/zqx.txt:1")])
    label = host.split(".", 1)[0]
    assert not _matches(index, f"{words} {label}. {words}")  # the name, then a sentence break: no host


def test_rule_set_reads_an_idn_host_in_a_result_string(tmp_path: Path) -> None:
    from benchmarks.subjects import write_rules_dir
    from filter_proxy.adapters.base import ResultView
    from filter_proxy.page_results import screen_results

    rules = load_rules(write_rules_dir(tmp_path / "rules", urls=["bücher.example.invalid"]))
    views = [ResultView(0, nodes=({"title": "a mirror", "content": "now at BÜCHER.example.invalid, daily"},)),
             ResultView(1, nodes=({"title": "a mirror", "content": "now at büchers.example.invalid, daily"},))]
    assert set(screen_results(views, rules)) == {0}
