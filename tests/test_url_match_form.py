"""``url_canon.match_form`` and ``url_nested``: the forms pages and prefixes are matched in, and the URLs a
redirect wrapper carries. ``canonicalize_url`` itself keeps the path as browsers send it (the image hash
cache keys on it: two pictures whose paths differ in case must not share a cached hash)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.signals.url_canon import canonicalize_url, match_form
from filter_proxy.signals.url_nested import MAX_NESTED, nested_urls
from filter_proxy.signals.urls import UrlEntry, UrlIndex

SEGMENT = st.text(alphabet="abcdefghijKLMNOP0123456789-_", min_size=1, max_size=8)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(PATHS, st.data())
def test_a_listed_page_matches_in_every_server_spelling_of_its_path(segments: list[str], data: st.DataObject) -> None:
    entry = "https://pages.example.invalid/" + "/".join(segments)
    index = UrlIndex.build([UrlEntry(entry, "zqx-abuse", "rules/urls/zqx-abuse.txt:1")])
    spelled = [s.swapcase() if data.draw(st.booleans()) else s for s in segments]
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(spelled) - 1))
        spelled[at] += ";jsessionid=" + data.draw(SEGMENT)
    joiner = data.draw(st.sampled_from(["/", "%2F", "%2f", "//", "/./"]))
    url = "https://pages.example.invalid/" + joiner.join(spelled)
    assert index.match(url), url
    assert canonicalize_url(url) is not None and match_form(canonicalize_url(url) or "") == match_form(
        canonicalize_url(entry) or "")


@settings(max_examples=200, deadline=None)
@given(PATHS)
def test_the_canonical_form_keeps_the_path_case(segments: list[str]) -> None:
    url = "https://img.example.invalid/" + "/".join(segments)
    canonical = canonicalize_url(url)
    assert canonical == "http://img.example.invalid/" + "/".join(segments)
    assert match_form(canonical) == canonical.lower()


@settings(max_examples=100, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=400), st.integers(1, 3))
def test_nested_urls_are_bounded_and_found_in_any_encoding(names: list[str], times: int) -> None:
    inner = "https://blocked.example.invalid/x"
    for _ in range(times - 1):
        inner = quote(inner, safe="")
    url = "https://r.example.invalid/out?" + "&".join(f"{n}=v{n}.example.invalid" for n in names)
    assert len(nested_urls(url)) <= MAX_NESTED
    wrapped = f"https://r.example.invalid/out?a=1&url={quote(inner, safe='')}"
    assert "https://blocked.example.invalid/x" in nested_urls(wrapped)
