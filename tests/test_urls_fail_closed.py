"""URLs fail closed: every spelling a browser would open of a listed URL is matched, an unparsable URL is
matched on its text, and benign URLs are not. Placeholder hosts under example.invalid only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from filter_proxy.signals.url_canon import canonical_host, canonicalize_url, fallback_text, host_spans
from filter_proxy.signals.urls import UrlEntry, UrlIndex

LISTED_LABELS = ["blocked", "zqxmedia", "forbidden", "zqxgallery", "blöcked", "zqxé", "forbídden", "ñzqx"]
BENIGN_LABELS = ["news", "weather", "docs", "maps", "recipes", "garden", "müsli", "café"]
SUB_LABELS = ["img", "cdn", "m", "a1"]
SEGMENTS = ["page.html", "gallery", "item", "a", "b2", "x-y", "img_1", "Photo.JPG"]


@dataclass(frozen=True)
class Listed:
    kind: str  # "exact" | "prefix" | "domain"
    host: str  # Unicode or ASCII, as the entry is written
    path: tuple[str, ...]

    def entry(self, punycode: bool) -> str:
        host = _to_ascii(self.host) if punycode else self.host
        if self.kind == "domain":
            return host
        path = "/" + "/".join(self.path)
        return f"https://{host}{path}" + ("/*" if self.kind == "prefix" else "")


def _to_ascii(host: str) -> str:
    ascii_host = canonical_host(host)
    assert ascii_host is not None
    return ascii_host


listed_hosts = st.builds(lambda label, n: f"{label}{n}.example.invalid", st.sampled_from(LISTED_LABELS),
                         st.integers(0, 99))
listed = st.builds(Listed, st.sampled_from(["exact", "prefix", "domain"]), listed_hosts,
                   st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map(tuple))


@st.composite
def variant_of(draw: st.DrawFn, item: Listed) -> str:
    """A URL a browser opens as the listed one (or a page under a listed prefix or domain), spelled with a
    random mix of the variant classes."""
    host = item.host
    path = list(item.path)
    if item.kind == "prefix":
        path += draw(st.lists(st.sampled_from(SEGMENTS), max_size=2))
    elif item.kind == "domain":
        host = ".".join([*draw(st.lists(st.sampled_from(SUB_LABELS), max_size=2)), host])
        path = draw(st.lists(st.sampled_from(SEGMENTS), max_size=3))
    if draw(st.booleans()):  # IDNA: the other form of a Unicode host
        host = _to_ascii(host)
    if draw(st.booleans()):  # mixed case
        host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    if draw(st.booleans()):  # trailing dot
        host += "."
    if draw(st.booleans()):  # percent-encoded host characters
        host = "".join("".join(f"%{b:02x}" if draw(st.booleans()) else f"%{b:02X}" for b in c.encode())
                       if c != "." and draw(st.booleans()) else c for c in host)
    userinfo = draw(st.sampled_from(["", "user@", "user:secret@", "a%40b:p@"]))
    scheme = draw(st.sampled_from(["https://", "http://", "HTTPS://", "hTTp://", "//", ""]))
    url = scheme + userinfo + host + draw(st.sampled_from(["", ":443", ":80"] if scheme[:1] in "hH" else [""]))
    url += "/" + "/".join(path)
    if draw(st.booleans()):  # backslashes, as browsers read them in http(s) URLs
        head, sep, rest = url.partition("://")
        rest = "".join("\\" if c == "/" and draw(st.booleans()) else c for c in rest)
        url = head + sep + rest if sep else url
    url += draw(st.sampled_from(["", "?x=1", "?utm_source=mail", "#top", "?a=b&c=d#frag", "?"]))
    return url


@settings(max_examples=400, deadline=None)
@given(st.data(), listed, st.booleans())
def test_every_variant_of_a_listed_url_is_matched(data: st.DataObject, item: Listed, punycode: bool) -> None:
    index = UrlIndex.build([UrlEntry(item.entry(punycode), "zqx-abuse", "rules/urls/zqx-abuse.txt:1")])
    url = data.draw(variant_of(item))
    assert [m.rule_id for m in index.match(url)] == ["rules/urls/zqx-abuse.txt:1"], (item, url,
                                                                                     canonicalize_url(url))


benign_hosts = st.builds(lambda sub, label, n: f"{sub}{label}{n}.example.invalid", st.sampled_from(["", "www.", "m."]),
                         st.sampled_from(BENIGN_LABELS), st.integers(0, 99))


@settings(max_examples=300, deadline=None)
@given(st.data(), st.lists(listed, min_size=1, max_size=8), benign_hosts)
def test_benign_urls_are_not_matched(data: st.DataObject, items: list[Listed], host: str) -> None:
    index = UrlIndex.build([UrlEntry(item.entry(False), "zqx-abuse", f"r.txt:{i}") for i, item in enumerate(items)])
    benign = Listed("domain", host, ())
    url = data.draw(variant_of(benign))
    assert index.match(url) == [], url


@settings(max_examples=200, deadline=None)
@given(st.data(), listed.filter(lambda item: item.kind == "exact"),
       st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3))
def test_other_pages_of_a_listed_page_host_are_not_matched(data: st.DataObject, item: Listed,
                                                           other: list[str]) -> None:
    if tuple(other) == item.path:
        other = [*other, "more"]
    index = UrlIndex.build([UrlEntry(item.entry(False), "zqx-abuse", "r.txt:1")])
    url = data.draw(variant_of(Listed("exact", item.host, tuple(other))))
    assert index.match(url) == [], url


def test_an_entry_with_a_query_keeps_its_exact_meaning() -> None:
    index = UrlIndex.build([UrlEntry("https://shop.example.invalid/item?id=7", "c", "r:1")])
    assert index.match("https://shop.example.invalid/item?id=7&utm_source=x#f")
    assert index.match("https://shop.example.invalid/item?id=8") == []
    assert index.match("https://shop.example.invalid/item") == []


ADDRESSES = st.integers(0x01000000, 0xDFFFFFFF).map(ipaddress.IPv4Address)


@st.composite
def ipv4_form(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """One of the numeric host forms browsers accept for ``address``."""
    value = int(address)
    octets = list(address.packed)
    shape = draw(st.sampled_from(["dotted", "decimal", "hex", "octal", "mixed", "short2", "short3"]))
    if shape == "decimal":
        return str(value)
    if shape == "hex":
        return draw(st.sampled_from(["0x", "0X"])) + format(value, draw(st.sampled_from(["x", "X", "08x"])))
    if shape == "octal":
        return "0" + format(value, "o")
    if shape == "mixed":
        return ".".join(draw(st.sampled_from([str(o), f"0x{o:x}", f"0{o:o}"])) for o in octets)
    if shape == "short2":  # a.b where b holds the last three octets
        return f"{octets[0]}.{value & 0xFFFFFF}"
    if shape == "short3":  # a.b.c where c holds the last two octets
        return f"{octets[0]}.{octets[1]}.{value & 0xFFFF}"
    return str(address)


@settings(max_examples=300, deadline=None)
@given(st.data(), ADDRESSES, st.sampled_from(["exact", "prefix"]))
def test_numeric_ipv4_forms_of_a_listed_address_are_matched(data: st.DataObject, address: ipaddress.IPv4Address,
                                                            kind: str) -> None:
    entry = f"http://{address}/zqx/page" + ("/*" if kind == "prefix" else "")
    index = UrlIndex.build([UrlEntry(entry, "c", "r:1")])
    host = data.draw(ipv4_form(address))
    trailing = data.draw(st.sampled_from(["", "."]))
    if data.draw(st.booleans()):  # or as the IPv6 address that reaches it (IPv4-mapped, NAT64)
        host, trailing = data.draw(st.sampled_from([f"[::ffff:{address}]", f"[64:ff9b::{address}]",
                                                    f"[::ffff:{int(address) >> 16:x}:{int(address) & 0xFFFF:x}]"])), ""
    url = f"http://{host}{trailing}/zqx/page" + ("/deeper" if kind == "prefix" else "") + "?q=1"
    assert index.match(url), (entry, url, canonicalize_url(url))


@pytest.mark.parametrize("url", [
    "https://%62locked.example.invalid/",
    "blocked%2Eexample.invalid",
    "https:\\\\blocked.example.invalid\\x",
    "http:blocked.example.invalid/x",
    "http://%zz.blocked.example.invalid/",  # undecodable escape: fallback
    "http://blocked.example.invalid:99999/",  # bad port: fallback
    "http://[blocked.example.invalid]/",
    "javascript:location='//blocked.example.invalid/'",
    "https://blocked%252Eexample.invalid/",  # double-encoded: the fallback decodes again
    "https://xn--zqx-\u00e9.blocked.example.invalid/",
])
def test_unparsable_or_odd_urls_are_never_allowed_for_it(url: str) -> None:
    index = UrlIndex.build([UrlEntry("blocked.example.invalid", "c", "r:1")])
    assert index.match(url), url


@settings(max_examples=300, deadline=None)
@given(listed, st.sampled_from(["%zz", ":99999", "[", "\x00x"]))
def test_a_listed_url_made_unparsable_is_matched_on_its_text(item: Listed, breakage: str) -> None:
    index = UrlIndex.build([UrlEntry(item.entry(False), "c", "r:1")])
    host = item.host if item.kind != "domain" else "sub." + item.host
    path = "/" + "/".join(item.path)
    url = f"https://{host}{breakage}{path}" if breakage.startswith(":") else f"https://{breakage}.{host}{path}"
    assert canonicalize_url(url) is None
    assert index.match(url), url


@settings(max_examples=200, deadline=None)
@given(st.lists(listed, min_size=1, max_size=8), benign_hosts, st.sampled_from(["%zz", ":99999", "[", "\x00x"]),
       st.lists(st.sampled_from(SEGMENTS), max_size=3))
def test_a_benign_unparsable_url_is_not_matched(items: list[Listed], host: str, breakage: str,
                                                path: list[str]) -> None:
    index = UrlIndex.build([UrlEntry(item.entry(False), "c", f"r:{i}") for i, item in enumerate(items)])
    tail = "/" + "/".join(path)
    url = f"https://{host}{breakage}{tail}" if breakage.startswith(":") else f"https://{breakage}.{host}{tail}"
    assert canonicalize_url(url) is None
    assert index.match(url) == [], url


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 6), st.sampled_from(["a", "zq", "ö"]))
def test_fallback_work_is_linear_in_the_text(labels: int, max_labels: int, label: str) -> None:
    # A long hostile string: the spans tried grow with its length, never with its square.
    text = ".".join([label] * labels) + "%zz"
    spans = host_spans(fallback_text(text), max_labels)
    assert len(spans) <= 2 * max_labels + 2
    many = ".".join(f"{label}{i}" for i in range(labels))
    assert len(host_spans(many, max_labels)) <= 2 * labels * max_labels + 2


URLISH = st.lists(st.one_of(
    st.sampled_from(["http://", "https:\\\\", "//", "%", "%2e", "%zz", "%ff", "@", ":", ":99999", "[", "]", "/", "\\",
                     "?", "#", ".", "blocked.example.invalid", "xn--", "0x", "127.1", " ", "\t", "\ud800", "\udcff"]),
    st.text(st.characters(blacklist_categories=()), max_size=4),  # surrogates and controls included
), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(URLISH)
@example("http://\ud800.blocked.example.invalid/%41")  # a lone surrogate (valid in JSON) in an unparsable URL
def test_matching_any_string_never_raises(text: str) -> None:
    index = UrlIndex.build([UrlEntry("blocked.example.invalid", "c", "r:1"),
                            UrlEntry("https://shop.example.invalid/page.html", "c", "r:2")])
    index.match(text)
    canonical = canonicalize_url(text)
    assert canonical is None or canonicalize_url(canonical) == canonical
