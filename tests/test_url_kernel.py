"""The compiled URL check (``signals/_url_kernel.pyx``) against the pure-Python definitions it stands in
front of (issue 14, item 2): its XXH64 is the ``xxhash`` package's, ``plain`` is ``canonicalize_url`` on
exactly the URLs of the regex fast path's shape (None on every other, hostile spellings included),
``probe`` gives ``_probe_python``'s keys in its order, and ``UrlIndex.match`` answers the same with and
without the kernel. Placeholder hosts under example.invalid only. Skipped, saying why, where the kernel was
not built (no C compiler)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xxhash import xxh64_intdigest

from filter_proxy.signals import urls
from filter_proxy.signals.url_canon import _PLAIN_URL, _clean_query, canonicalize_url, match_form
from filter_proxy.signals.url_nested import may_carry
from filter_proxy.signals.url_table import ROOT_SEED, SEEDS
from filter_proxy.signals.urls import UrlEntry, UrlIndex, _probe_python
from tests.test_urls_fail_closed import Listed, listed, variant_of

kernel = pytest.importorskip("filter_proxy.signals._url_kernel",
                             reason="the compiled URL kernel was not built (setup.py needs Cython and a C compiler)")

SEED_VALUES = [0, 1, 2**64 - 1, ROOT_SEED, *SEEDS.values()]

# Pieces of URLs, plain and hostile: case, www., IDNA and Unicode hosts, percent-escapes, dot segments,
# empty segments, ports, userinfo, backslashes, numeric IPv4 forms, IPv6, queries with tracking
# parameters, fragments, spaces, tabs and control characters.
SCHEMES = st.sampled_from(["https://", "http://", "HTTPS://", "hTtp://", "http:/", "http:\\\\", "https:", "//", "",
                           "ftp://", "ws://", "mailto:", " https://", "http://\t", "httpx://"])
HOSTS = st.one_of(
    st.text(alphabet=st.sampled_from("abz09-.W_"), min_size=1, max_size=14).map(lambda h: h + ".invalid"),
    st.sampled_from(["www.example.invalid", "WWW.example.invalid", "www.www.example.invalid", "www.invalid",
                     "example.invalid.", "a..b.invalid", ".a.invalid", "xn--bcher-kva.example.invalid",
                     "bücher.example.invalid", "b%C3%BCcher.example.invalid", "ex%61mple.invalid", "127.0.0.1",
                     "0x7f.1", "3232235777", "0300.0250.1.1", "a.1b", "a.b1", "[::1]", "[::ffff:10.0.0.1]",
                     "user@example.invalid", "u:p@example.invalid", "example.invalid:443", "example.invalid:80",
                     "example.invalid:8080", "example.invalid:", "EXAMPLE.invalid", "exa mple.invalid",
                     "example\uff0einvalid", "-a.invalid", "a-.invalid", "a.invalid-"]))
PATHS = st.lists(st.sampled_from(["/", "a", "Z", "0", ".", "..", "_", "~", "-", "%7e", "%2F", ";", "é", "\\", "//",
                                  "page.html", ".hidden", "x y", ":", "@", "\x00", "\t"]), max_size=10).map("".join)
QUERIES = st.one_of(st.just(""), st.lists(st.sampled_from(
    ["?", "&", "=", "utm_source=x", "UTM_Medium=y", "Id=1", "b=2", "a=1", "gclid=z", "fbclid", "pk_x=1", "%41",
     "r=/x", "q=a+b", "#", "#frag", "é", "~", "."]), max_size=8).map("".join))
LABEL = st.text(alphabet=st.sampled_from("abz09-"), min_size=1, max_size=6)
SEGMENT = st.text(alphabet=st.sampled_from("aZ09._~-"), min_size=1, max_size=6)
# The plain shape (most result URLs), each part now and then one hostile step off it.
PLAIN = st.builds(
    "{}{}{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "https://", "http:/", "Https://"]),
    st.sampled_from(["", "", "www.", "www.www.", "WWW."]),
    st.lists(LABEL, min_size=1, max_size=4).map(".".join),
    st.sampled_from([".invalid", ".invalid", ".example.invalid", ".1invalid", ".invalid.", "", ".in_valid", ":8080",
                     ".INVALID", "@a.invalid"]),
    st.lists(st.one_of(SEGMENT, SEGMENT, st.sampled_from(["", ".", "..", "%41", "é", "a;b"])),
             max_size=4).map(lambda segs: "".join("/" + seg for seg in segs)),
    st.sampled_from(["", "", "/", "?", "?a=1", "?utm_source=x&id=2", "?b=2&a=1&UTM_x=3", "?&&x", "?x=1#f",
                     "/?gclid=1", "?a=%41", "?r=/x", "#f", "//"]),
)
# The kernel's wider shape, and one step off it: any case, ports, trailing dots, fragments, empty and dot
# segments, the path and query characters the general path keeps (and some it encodes).
WIDE = st.builds(
    "{}{}{}{}{}{}{}{}".format,
    st.sampled_from(["https://", "HTTP://", "hTtPs://", "https://", "HTTP://", "http:///", "https:/"]),
    st.sampled_from(["", "www.", "WWW.", "Www.", "www.www.", "wWw."]),
    st.lists(st.text(alphabet=st.sampled_from("aZ09-_"), min_size=1, max_size=5), min_size=1, max_size=3).map(".".join),
    st.sampled_from(["", ".invalid", ".INVALID", ".invalid.", ".Invalid", ".invalid", ".invalid..", ".0x1", ".1",
                     "..invalid", ".in@valid"]),
    st.sampled_from(["", "", "", ":80", ":443", ":8080", ":0", ":00443", ":65535", ":65536", ":", ":123456", ":8a",
                     "@x"]),
    st.lists(st.one_of(SEGMENT, SEGMENT, SEGMENT, st.sampled_from(
        ["", "..", ".", ".a", "...", "!$&'()*+,;=:@", "%41", "%2e", "\\", " ", "^", "~_-", "{", "|"])), max_size=6).map(lambda parts: "".join("/" + p for p in parts)),
    st.sampled_from(["", "?", "?a=1&B=2&utm_source=x", "?Utm_Term=1&x", "?q=a+b,c;d:e@f!g$h'(i)*", "?r=/x?y",
                     "?a=%41", "?a=b c", "?&", "?fbclid=1&gclid=2", "?a=[1]", "?pk_x=1&mtm_y"]),
    st.sampled_from(["", "#", "#frag", "#a b\t%zz", "#?x=1/y"]),
)
URLS = st.one_of(st.builds("{}{}{}{}".format, SCHEMES, HOSTS, PATHS, QUERIES), PLAIN)


def _plain_shape(url: str) -> bool:
    """Whether ``canonicalize_url`` takes its regex fast path for ``url`` (the kernel's domain)."""
    found = _PLAIN_URL.fullmatch(url)
    return found is not None and not found[1][found[1].rfind(".") + 1].isdigit()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from(SEED_VALUES))
def test_xxh64_is_the_xxhash_package(data: bytes, seed: int) -> None:
    assert kernel.xxh64(data, seed) == xxh64_intdigest(data, seed)


@settings(max_examples=2500, deadline=None)
@given(st.one_of(URLS, PLAIN, PLAIN, WIDE))
def test_plain_is_the_canonicaliser_or_none(url: str) -> None:
    got = kernel.plain(url, _clean_query)
    expected = canonicalize_url(url)
    assert got is None or got == expected
    if _plain_shape(url):  # at least the regex fast path's URLs are read here
        assert got is not None
    full = b"\xff" * 8
    # The keys are those of the match form (url_canon.match_form: path case, ;params, encoded slashes).
    keys = None if got is None else _probe_python(match_form(got), full, 63, True, True)
    assert kernel.plain_probe(url, _clean_query, full, 63, True, True, match_form) == keys


@settings(max_examples=300, deadline=None)
@given(st.data(), listed)
def test_plain_on_variants_of_listed_urls(data: st.DataObject, item: Listed) -> None:
    url = data.draw(variant_of(item))
    got = kernel.plain(url, _clean_query)
    assert got is None or got == canonicalize_url(url)


def test_plain_refuses_what_is_not_a_str() -> None:
    assert kernel.plain(b"https://example.invalid/a", _clean_query) is None
    assert kernel.plain(None, _clean_query) is None


CANONICALS = st.one_of(
    URLS.map(canonicalize_url).filter(lambda c: c is not None),
    st.text(alphabet=st.sampled_from("ab.:/?=&[]x1"), max_size=30),  # odd shapes: no "://", ports, IPv6
)


@settings(max_examples=800, deadline=None)
@given(CANONICALS, st.integers(3, 9), st.booleans(), st.booleans(), st.data())
def test_probe_gives_the_python_keys(canonical: str, log_bits: int, has_prefix: bool, has_domain: bool,
                                     data: st.DataObject) -> None:
    nbits = 1 << log_bits
    # A full bitmap lets every key through (the whole key list compared); a random one tests the gate.
    bits = data.draw(st.one_of(st.just(b"\xff" * (nbits // 8)), st.binary(min_size=nbits // 8, max_size=nbits // 8)))
    expected = _probe_python(canonical, bits, nbits - 1, has_prefix, has_domain)
    got = kernel.probe(canonical, bits, nbits - 1, has_prefix, has_domain)
    assert got == (expected if canonical.isascii() else None)


ENTRIES = [
    UrlEntry("https://blocked.example.invalid/gallery/item?id=7", "zqx", "rules/urls/zqx.txt:1"),
    UrlEntry("https://blocked.example.invalid/album/*", "zqx", "rules/urls/zqx.txt:2"),
    UrlEntry("zqxmedia.example.invalid", "zqx", "rules/urls/zqx.txt:3"),
    UrlEntry("https://forbidden.example.invalid/*", "zqx", "rules/urls/zqx.txt:4"),
    UrlEntry("https://forbidden.example.invalid/page.html", "zqx", "rules/urls/zqx.txt:5"),
    UrlEntry("bücher.example.invalid", "zqx", "rules/urls/zqx.txt:6"),
    UrlEntry("http://127.0.0.1/a", "zqx", "rules/urls/zqx.txt:7"),
]


@pytest.fixture(scope="module")
def index() -> UrlIndex:
    return UrlIndex.build(ENTRIES)


def _without_kernel(index: UrlIndex, url: str) -> list[urls.UrlMatch]:
    saved, urls._kernel = urls._kernel, None
    try:
        return index.match(url)
    finally:
        urls._kernel = saved


LISTED_PIECES = st.builds("{}{}{}{}".format, SCHEMES, st.sampled_from(
    ["blocked.example.invalid", "www.blocked.example.invalid", "x.zqxmedia.example.invalid", "zqxmedia.example.invalid",
     "forbidden.example.invalid", "FORBIDDEN.example.invalid", "bücher.example.invalid", "a.xn--bcher-kva.example.invalid",
     "127.1", "0x7f000001", "forbidden.example.invalid:443", "u@zqxmedia.example.invalid"]),
    st.sampled_from(["", "/", "/gallery/item", "/album", "/album/x/y", "/page.html", "/a", "/album-other", "\\album"]),
    QUERIES)


@settings(max_examples=600, deadline=None)
@given(st.one_of(URLS, LISTED_PIECES))
def test_match_is_the_same_with_and_without_the_kernel(index: UrlIndex, url: str) -> None:
    assert urls._kernel is not None
    assert index.match(url) == _without_kernel(index, url)


@settings(max_examples=300, deadline=None)
@given(st.data(), listed)
def test_listed_variants_match_the_same_with_and_without_the_kernel(data: st.DataObject, item: Listed) -> None:
    index = UrlIndex.build([UrlEntry(item.entry(False), "zqx", "rules/urls/zqx.txt:1")])
    url = data.draw(variant_of(item))
    found = index.match(url)
    assert found == _without_kernel(index, url)
    assert found  # deny by default: every browser spelling of the listed URL is caught


# What follows a host, for the nested-URL pre-test: runs of base64, hexadecimal and slug characters next
# to each of its openers ("= / ? #"), dots, colons, escapes, backslashes, non-ASCII; runs of 11, 12 and 13
# characters either side of its length test.
TAIL_PIECES = st.sampled_from(["/", "?", "#", "=", "&", ".", ":", "%", "\\", "//", "é", "-", "_", "+", "a", "Z", "9",
                               "aHR0cHM6Ly9i", "aHR0cHM6Ly9", "aHR0cHM6Ly9iY", "68747470733a", "my-long-slug",
                               "a" * 11, "b" * 12, "/+/+/+/+/+/+", "utm_source"])
CARRY_URLS = st.one_of(
    URLS, LISTED_PIECES,
    st.builds("{}{}{}".format, st.sampled_from(["https://", "http://", "//", "", "https:/", "x://"]),
              st.sampled_from(["r.example.invalid", "a", "", "r.example.invalid:8080", "u@r.example.invalid"]),
              st.lists(TAIL_PIECES, max_size=12).map("".join)),
)


@settings(max_examples=3000, deadline=None)
@given(CARRY_URLS)
def test_may_carry_is_the_python_definition(url: str) -> None:
    assert kernel.may_carry(url, may_carry) == may_carry(url)


def test_may_carry_hands_what_is_not_an_ascii_str_to_the_definition() -> None:
    seen: list[object] = []
    assert kernel.may_carry("https://bücher.example.invalid/x", lambda u: seen.append(u) or True) is True
    assert kernel.may_carry(b"https://a.example.invalid/", lambda u: seen.append(u) or False) is False
    assert seen == ["https://bücher.example.invalid/x", b"https://a.example.invalid/"]
