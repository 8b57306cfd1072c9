"""``url_nested.carried`` through ``UrlIndex.match``: a listed address carried in a redirector's path (base64 in
either alphabet, hexadecimal, percent-encoded, a host without a scheme) or behind decoy values is matched;
random ids, tokens, hashes, slugs and file names in the path of an unlisted URL match nothing. Written from
the class descriptions (base64 / hex / path host / decoys), independently of tests/support/url_spellings.py.
Placeholder hosts under example.invalid only."""

from __future__ import annotations

import base64
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.signals.url_nested import MAX_CARRIED, carried
from filter_proxy.signals.urls import UrlEntry, UrlIndex

LISTED = ["zqxhost.example.invalid", "https://pfx.example.invalid/album/*", "https://pg.example.invalid/a/b.html"]
INDEX = UrlIndex.build([UrlEntry(e, "zqx", f"rules/urls/zqx.txt:{n}") for n, e in enumerate(LISTED, 1)])
# (a URL the entries cover, an unlisted one next to it)
PAIRS = st.sampled_from([
    ("https://zqxhost.example.invalid/", "https://zqxhostx.example.invalid/"),
    ("http://cdn.zqxhost.example.invalid/x/y", "http://cdn.zqxhost.example.invalid.other.invalid/x/y"),
    ("https://pfx.example.invalid/album/7", "https://pfx.example.invalid/albums/7"),
    ("https://pg.example.invalid/a/b.html", "https://pg.example.invalid/a/c.html"),
])
SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=10)
WRAPPER = st.builds("https://{}.example.invalid/{}".format, st.sampled_from(["go", "r", "l", "out"]),
                    st.lists(SEGMENT, max_size=3).map(lambda s: "".join(p + "/" for p in s)))
AFTER = st.sampled_from(["", "/", "?x=1", "#f", "/end", "?a=1&b=2"])


def _strip_scheme(url: str, how: str) -> str:
    bare = url.split("://", 1)[1]
    return {"full": url, "relative": "//" + bare, "bare": bare}[how]


@st.composite
def encoded(draw: st.DrawFn, url: str) -> str:
    """``url`` (maybe without its scheme) in base64 or hexadecimal, as a redirector's path segment takes it."""
    text = _strip_scheme(url, draw(st.sampled_from(["full", "relative", "bare"]))).encode()
    how = draw(st.sampled_from(["urlsafe", "standard", "hex", "HEX"]))
    if how.lower() == "hex":
        value = text.hex()
        return value.upper() if how == "HEX" else value
    value = (base64.urlsafe_b64encode(text) if how == "urlsafe" else base64.b64encode(text)).decode()
    if draw(st.booleans()):
        value = value.rstrip("=")
    return quote(value, safe="" if draw(st.booleans()) else "/")  # "/" kept or as %2F, "=" as %3D or kept


@settings(max_examples=300, deadline=None)
@given(st.data(), PAIRS, WRAPPER, AFTER)
def test_an_encoded_address_in_a_path_segment_is_read(data: st.DataObject, pair: tuple[str, str], wrapper: str,
                                                      after: str) -> None:
    listed, unlisted = pair
    assert INDEX.match(wrapper + data.draw(encoded(listed), label="listed") + after)
    assert not INDEX.match(wrapper + data.draw(encoded(unlisted), label="unlisted") + after)


@settings(max_examples=300, deadline=None)
@given(st.data(), PAIRS, WRAPPER, st.sampled_from(["", "/", "?x=1", "#f"]))
def test_a_host_in_a_path_segment_is_read(data: st.DataObject, pair: tuple[str, str], wrapper: str,
                                          after: str) -> None:
    listed, unlisted = pair
    how = data.draw(st.sampled_from(["bare", "bare", "relative", "full", "once", "twice", "thrice", "user"]))

    def spelled(url: str) -> str:
        bare = url.split("://", 1)[1].rstrip("/")
        if how in ("once", "twice", "thrice"):
            for _ in range(["once", "twice", "thrice"].index(how) + 1):
                bare = quote(bare, safe="")
            return bare
        return {"bare": bare, "relative": "/" + bare, "full": url, "user": "me@" + bare}[how]

    assert INDEX.match(wrapper + spelled(listed) + after)
    assert not INDEX.match(wrapper + spelled(unlisted) + after)


# What result URLs' paths hold: random ids and tokens (base64 of random bytes), hashes, slugs, file names,
# version numbers, dates, other hosts.
NOISE = st.one_of(
    st.binary(min_size=6, max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.binary(min_size=6, max_size=40).map(lambda b: base64.b64encode(b).decode()),
    st.binary(min_size=9, max_size=32).map(bytes.hex),
    st.lists(SEGMENT, min_size=2, max_size=8).map("-".join),
    st.builds("{}.{}".format, SEGMENT, st.sampled_from(["html", "pdf", "php", "tar.gz", "json", "invalid"])),
    st.builds("v{}.{}.{}".format, *[st.integers(0, 99)] * 3),
    st.builds("{}.example.invalid".format, SEGMENT),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(NOISE, min_size=1, max_size=5), st.sampled_from(["", "?id=1", "?t=", "#top"]),
       st.lists(NOISE, max_size=1))
def test_ids_tokens_hashes_and_file_names_in_a_path_match_nothing(segments: list[str], query: str,
                                                                  value: list[str]) -> None:
    url = "https://shop.example.invalid/" + "/".join(quote(s, safe="/+=") for s in segments) + query
    if value and query.endswith("="):
        url += quote(value[0], safe="")
    assert not INDEX.match(url), url


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3 * MAX_CARRIED // 2), st.sampled_from(["query", "path"]), st.data())
def test_a_redirect_behind_any_number_of_decoys_is_read(count: int, where: str, data: st.DataObject) -> None:
    decoys = [f"d{k}.example.invalid" for k in range(count)]
    at = data.draw(st.integers(0, count), label="at")
    for target, found in (("zqxhost.example.invalid", True), ("zqxhostx.example.invalid", False)):
        if where == "query":
            values = [f"v{k}={d}" for k, d in enumerate(decoys)]
            values.insert(at, "to=" + target)
            url = "https://r.example.invalid/out?" + "&".join(values)
        else:
            url = "https://r.example.invalid/go/" + "/".join(decoys[:at] + [target] + decoys[at:])
        assert bool(INDEX.match(url)) is found, (count, where, at, target)


def test_what_follows_a_path_host_is_cut_on_a_segment_boundary() -> None:
    # A long path after a listed prefix's host is read up to a "/": never a shorter, listed, segment.
    long_tail = "/album" + "x" * 400
    assert not INDEX.match("https://r.example.invalid/go/pfx.example.invalid" + long_tail)
    assert INDEX.match("https://r.example.invalid/go/pfx.example.invalid/album/" + "y" * 400)
    inner, hosts = carried("https://r.example.invalid/go/pfx.example.invalid" + long_tail)
    assert hosts == ["http://pfx.example.invalid/"] and inner == []
