"""URL canonicalisation, entry syntax and the URL index (placeholder domains under example.invalid only)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.signals.urls import UrlEntry, UrlIndex, UrlMatch, canonicalize_url, parse_url_line


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://example.invalid/a", "http://example.invalid/a"),
        ("HTTP://WWW.EXAMPLE.INVALID/A", "http://example.invalid/A"),  # path case is kept
        ("https://example.invalid:443/a/", "http://example.invalid/a"),
        ("http://example.invalid:80/", "http://example.invalid"),
        ("http://example.invalid:8080/a", "http://example.invalid:8080/a"),
        ("http://user:secret@example.invalid/a", "http://example.invalid/a"),
        ("http://example.invalid/a#section", "http://example.invalid/a"),
        ("http://example.invalid/%7euser/%2f%e4", "http://example.invalid/~user/%2F%E4"),
        ("http://example.invalid/ä b", "http://example.invalid/%C3%A4%20b"),
        ("http://example.invalid/a/./b/../c//d", "http://example.invalid/a/c/d"),
        ("http://example.invalid/?b=2&utm_source=x&a=1&gclid=z&fbclid=y&UTM_medium=q", "http://example.invalid?a=1&b=2"),
        ("http://example.invalid/p?utm_campaign=x", "http://example.invalid/p"),
        ("http://bücher.example.invalid/", "http://xn--bcher-kva.example.invalid"),
        ("example.invalid/a", "http://example.invalid/a"),
        ("//example.invalid/a", "http://example.invalid/a"),
        ("http://example.invalid./a", "http://example.invalid/a"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("ftp://example.invalid:21/f", "ftp://example.invalid/f"),
    ],
)
def test_canonicalize(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical
    assert canonicalize_url(canonical) == canonical  # idempotent


@pytest.mark.parametrize("url", ["", "   ", "http://", "http://exa mple.invalid/", "http://example.invalid:99999/",
                                 "http://%zz/", "http://a..b/", "garbage:::"])
def test_canonicalize_garbage_is_none(url: str) -> None:
    assert canonicalize_url(url) is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_canonicalize_never_raises(text: str) -> None:
    result = canonicalize_url(text)
    assert result is None or canonicalize_url(result) == result


PLAIN_ISH = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "HTTPS://"]),
    st.sampled_from(["", "www.", "WWW.", "a.", "xn--bcher-kva."]),
    st.text(alphabet=st.sampled_from("abz09-."), min_size=1, max_size=12).map(lambda h: h + ".invalid"),
    st.lists(st.sampled_from(["/", "a", "Z", "0", ".", "..", "_", "~", "-", "%7e", ";", "é", ":443", "?", "&", "=",
                              "utm_source=x", "Id=1", "b=2", "gclid", "%41"]),
             max_size=12).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(PLAIN_ISH)
def test_plain_url_fast_path_agrees_with_the_full_path(url: str) -> None:
    # A fragment sends the URL down the urlsplit path and is then dropped: both answers must agree.
    assert canonicalize_url(url) == canonicalize_url(url + "#f")


ENTRIES = [
    UrlEntry("https://example.invalid/gallery/item?id=7", "zqx-abuse", "rules/urls/zqx-abuse.txt:1"),
    UrlEntry("https://example.invalid/album/*", "zqx-abuse", "rules/urls/zqx-abuse.txt:2"),
    UrlEntry("zqx.example.invalid", "zqx-abuse", "rules/urls/zqx-abuse.txt:3"),
    UrlEntry("https://root.example.invalid/*", "zqx-other", "rules/urls/zqx-other.txt:1"),
]


@pytest.fixture(scope="module")
def index() -> UrlIndex:
    return UrlIndex.build(ENTRIES)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://www.example.invalid/gallery/item?utm_source=mail&id=7#top", "rules/urls/zqx-abuse.txt:1"),
        ("https://example.invalid/album", "rules/urls/zqx-abuse.txt:2"),
        ("https://example.invalid/album/", "rules/urls/zqx-abuse.txt:2"),
        ("https://example.invalid/album/x/y.jpg?size=2", "rules/urls/zqx-abuse.txt:2"),
        ("https://zqx.example.invalid/", "rules/urls/zqx-abuse.txt:3"),
        ("https://a.b.ZQX.example.invalid:8443/p", "rules/urls/zqx-abuse.txt:3"),
        ("https://root.example.invalid", "rules/urls/zqx-other.txt:1"),
        ("https://root.example.invalid/any/path", "rules/urls/zqx-other.txt:1"),
        # No path, and a "/" in the query: still the listed host (this once escaped the domain check).
        ("https://zqx.example.invalid/?r=/x", "rules/urls/zqx-abuse.txt:3"),
        ("https://a.zqx.example.invalid?r=/", "rules/urls/zqx-abuse.txt:3"),
        ("https://root.example.invalid?next=/a/b", "rules/urls/zqx-other.txt:1"),
    ],
)
def test_matches(index: UrlIndex, url: str, rule: str) -> None:
    assert rule in {m.rule_id for m in index.match(url)}


@pytest.mark.parametrize(
    "url",
    [
        "https://example.invalid/gallery/item?id=8",
        "https://example.invalid/gallery/item",
        "https://example.invalid/albums",  # prefixes stop at segment boundaries
        "https://example.invalid/album-other/x",
        "https://example.invalid/",
        "https://notzqx.example.invalid/",  # a domain entry is not a suffix match on characters
        "https://zqx.example.invalid.evil.invalid/",
        "https://sub.root.example.invalid/a",  # path prefix entries do not include subdomains
        "not a url",
    ],
)
def test_does_not_match(index: UrlIndex, url: str) -> None:
    assert index.match(url) == []


def test_match_reports_category(index: UrlIndex) -> None:
    assert index.match("https://zqx.example.invalid") == [UrlMatch("zqx-abuse", "rules/urls/zqx-abuse.txt:3")]


def test_round_trip_bytes(index: UrlIndex) -> None:
    loaded = UrlIndex.from_bytes(memoryview(index.to_bytes()))
    assert len(loaded) == len(index) == len(ENTRIES)
    for url in ("https://zqx.example.invalid/x", "https://example.invalid/album/1", "https://example.invalid/"):
        assert loaded.match(url) == index.match(url)


def test_from_bytes_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        UrlIndex.from_bytes(b"{}")
    with pytest.raises(ValueError):
        UrlIndex.from_bytes(b"\xff\x00")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("example.invalid", ("domain", "example.invalid", None)),
        ("*.Example.Invalid", ("domain", "example.invalid", None)),
        ("www.example.invalid", ("domain", "example.invalid", None)),
        ("https://example.invalid/a/*", ("prefix", "http://example.invalid/a", None)),
        ("https://example.invalid/a?utm_source=x", ("exact", "http://example.invalid/a", None)),
    ],
)
def test_parse_valid_lines(line: str, expected: tuple[str, str, None]) -> None:
    assert parse_url_line(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty"),
        ("localhost", "not a domain"),
        ("https://example.invalid/a b", "spaces"),
        ("https://example.invalid/a*/b", "only allowed at the end"),
        ("https://example.invalid/a?x=1*", "query"),
        ("http://", "not a valid URL"),
    ],
)
def test_parse_invalid_lines(line: str, reason: str) -> None:
    assert reason in (parse_url_line(line)[2] or "")


def test_build_refuses_invalid_entry() -> None:
    with pytest.raises(ValueError, match="u.txt:4"):
        UrlIndex.build([UrlEntry("https://example.invalid/a*/b", "c", "u.txt:4")])
