"""The hashed URL index and its one-pass file reader: the fast line path gives exactly what the full
canonicaliser gives, a file read in one pass holds what the entries read one by one hold, and the index
answers the same after a round trip through bytes. Placeholder hosts under example.invalid only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from filter_proxy.rules import check_rules, load_rules, sources
from filter_proxy.rules.bundle import compile_rules
from filter_proxy.signals.url_canon import canonical_host, canonicalize_url
from filter_proxy.signals.url_lines import parse_url_line, read_url_line
from filter_proxy.signals.url_rows import UrlEntries, read_url_file
from filter_proxy.signals.urls import UrlEntry, UrlIndex, UrlMatch
from tests.test_rules_loader import make_rules

LABELS = ["zqx", "blocked", "a", "b-2", "x_y", "www", "WWW", "Zqx", "0x1f", "127", "1", "bücher", "xn--bcher-kva",
          "ZQX", "-a", "münchen", "é", "%41", "%7a", "é"]
SEGMENTS = ["page.html", "a", "B", "x-y", "_u", "~v", ".", "..", "", ".hidden", "%7e", "%2F", "é", "a b", "a;b",
            "Photo.JPG", "*", "x*"]


@st.composite
def hosts(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=4))
    host = ".".join(labels) + draw(st.sampled_from([".example.invalid", ".invalid", "", ".1", ".0x10"]))
    if draw(st.booleans()):
        host = draw(st.sampled_from(["www.", "WWW.", "*.", ".", "a."])) + host
    if draw(st.booleans()):
        host += draw(st.sampled_from([".", "..", ":8080", ":80", ":443", ":99999"]))
    return host


@st.composite
def lines(draw: st.DrawFn) -> str:
    host = draw(hosts())
    shape = draw(st.sampled_from(["domain", "url", "url", "numeric"]))
    if shape == "numeric":
        host = draw(st.sampled_from(["127.0.0.1", "3232235777", "0xC0A80101", "0300.0250.1.1", "127.1",
                                     "[::ffff:127.0.0.1]", "[::1]"]))
    if shape == "domain":
        return host
    scheme = draw(st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "//", "", "https:\\\\", "http:"]))
    userinfo = draw(st.sampled_from(["", "", "user@", "u:p@"]))
    path = "/".join(draw(st.lists(st.sampled_from(SEGMENTS), max_size=4)))
    tail = draw(st.sampled_from(["", "/", "/*", "*", "?id=7", "?utm_source=x", "#f", "?a=1*", "/?"]))
    return f"{scheme}{userinfo}{host}/{path}{tail}" if path or draw(st.booleans()) else f"{scheme}{userinfo}{host}{tail}"


@settings(max_examples=1500, deadline=None)
@given(lines())
@example("zqx.example.invalid")
@example("https://zqx.example.invalid/a/b/*")
@example("https://www.zqx.example.invalid/a")
@example("zqx.example.1")
@example("a_b.example.invalid")
@example("https://a_b.example.invalid/x")
@example("https://zqx.example.invalid/.hidden/*")
def test_the_fast_line_path_agrees_with_the_full_canonicaliser(line: str) -> None:
    assert read_url_line(line) == parse_url_line(line)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("az09.-_/:*?%@[]Wé \\"), max_size=30))
def test_the_fast_line_path_agrees_on_any_text(line: str) -> None:
    assert read_url_line(line) == parse_url_line(line)


@settings(max_examples=300, deadline=None)
@given(lines())
def test_canonical_urls_are_ascii(line: str) -> None:
    # The index hashes canonical URLs as bytes and slices them by character offsets.
    canonical = canonicalize_url(line)
    assert canonical is None or canonical.isascii()
    host = canonical_host(line)
    assert host is None or host.isascii()


def _one_by_one(texts: list[str], file: str) -> UrlIndex:
    entries, seen = [], set()
    for number, text in enumerate(texts, start=1):
        if not text:
            continue
        kind, canonical, reason = parse_url_line(text)
        if reason is None and (kind, canonical) not in seen:
            seen.add((kind, canonical))
            entries.append(UrlEntry(text, "zqx-abuse", f"{file}:{number}"))
    return UrlIndex.build(entries)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(lines(), st.just("")), min_size=1, max_size=12), st.lists(lines(), max_size=6))
def test_a_file_read_in_one_pass_matches_as_its_entries_do(texts: list[str], probes: list[str]) -> None:
    cut = len(texts) // 2  # two chunks: line numbers run on across them
    batch, problems = read_url_file([texts[:cut], texts[cut:]], "rules/urls/zqx-abuse.txt", "zqx-abuse")
    reference = _one_by_one(texts, "rules/urls/zqx-abuse.txt")
    held = UrlEntries()
    held.batches.append(batch)
    index = UrlIndex.from_bytes(UrlIndex.build(held).to_bytes())
    assert len(index) == len(reference)
    errors = [line for line, _, severity in problems if severity == "error"]
    assert errors == [n for n, t in enumerate(texts, start=1) if t and parse_url_line(t)[2] is not None]
    for url in probes + [t for t in texts if t]:
        assert sorted(index.match(url), key=str) == sorted(reference.match(url), key=str), url


def test_duplicates_in_a_file_are_warned_at_the_later_line() -> None:
    texts = ["zqx.example.invalid", "https://a.example.invalid/p", "", "ZQX.example.invalid",
             "https://A.example.invalid/p#x", "not a url"]
    batch, problems = read_url_file([texts], "f.txt", "c")
    assert problems == [(4, "duplicate of line 1; ignored", "warning"),
                        (5, "duplicate of line 2; ignored", "warning"),
                        (6, "a URL entry cannot contain spaces", "error")]
    assert len(batch) == 2


def test_rule_ids_come_back_from_line_ids() -> None:
    index = UrlIndex.build([UrlEntry("zqx.example.invalid", "cat-a", "rules/urls/cat-a.txt:7"),
                            UrlEntry("zqx.example.invalid", "cat-b", "rules/urls/cat-b.txt:2"),
                            UrlEntry("https://p.example.invalid/x/*", "cat-b", "no-line-id")])
    loaded = UrlIndex.from_bytes(index.to_bytes())
    assert loaded.match("https://a.zqx.example.invalid/") == [UrlMatch("cat-a", "rules/urls/cat-a.txt:7"),
                                                              UrlMatch("cat-b", "rules/urls/cat-b.txt:2")]
    assert loaded.match("https://p.example.invalid/x/y") == [UrlMatch("cat-b", "no-line-id")]
    assert loaded.category_sizes() == {"cat-a": 1, "cat-b": 2}


def test_an_empty_index_round_trips() -> None:
    index = UrlIndex.from_bytes(UrlIndex.build([]).to_bytes())
    assert len(index) == 0
    assert index.match("https://zqx.example.invalid/") == []
    assert index.match("http://%zz.zqx.example.invalid/") == []


def test_a_url_list_with_comments_errors_and_duplicates_loads_as_a_bundle(tmp_path: Path) -> None:
    content = ("# a list\n\ufeffzqx.example.invalid\n  https://p.example.invalid/a/*   # prefix\n"
               "https://q.example.invalid/page.html\r\nzqx.example.invalid\n")
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n", "urls/zqx-abuse.txt": content})
    problems = check_rules(root)
    assert [(p.path, p.line, p.severity) for p in problems] == [("rules/urls/zqx-abuse.txt", 5, "warning")]
    bundle = tmp_path / "rules.bundle"
    compile_rules(root, bundle)
    for rules in (load_rules(root), load_rules(bundle)):
        assert rules.check_url("https://p.example.invalid/a/b").rule_id == "rules/urls/zqx-abuse.txt:3"
        assert rules.check_url("https://q.example.invalid/page.html?x=1").rule_id == "rules/urls/zqx-abuse.txt:4"
        assert rules.check_url("http://%zz.q.example.invalid/page.html").action == "block"
        assert rules.stats()["urls"] == 3


def test_a_bad_url_line_is_reported_at_its_line(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {"urls/zqx-abuse.txt": "zqx.example.invalid\nhttps://a.example.invalid/a*/b\n",
                                 "terms/zqx-abuse.txt": "zqxblocked\n"})
    problems = [p for p in check_rules(root) if p.severity == "error"]
    assert [(p.path, p.line) for p in problems] == [("rules/urls/zqx-abuse.txt", 2)]
    assert "only allowed at the end" in problems[0].reason


def test_a_url_line_that_is_not_utf8_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    content = b"zqx.example.invalid\nbad\xff.example.invalid\r\nhttps://p.example.invalid/a/*\n"
    root = make_rules(tmp_path, {"urls/zqx-abuse.txt": content, "terms/zqx-abuse.txt": "zqxblocked\n"})
    problems = check_rules(root)
    assert [(p.path, p.line) for p in problems] == [("rules/urls/zqx-abuse.txt", 2)]
    assert "UTF-8" in problems[0].reason


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["zqx{}.example.invalid", "https://p{}.example.invalid/a/*", "# note {}",
                                 "https://q.example.invalid/{}.html  # c", "", "bad{} line", "b\xff{}.invalid",
                                 "  z{}.example.invalid\r"]), min_size=1, max_size=30),
       st.integers(1, 64))
def test_url_files_read_in_pieces_keep_their_line_numbers(tmp_path_factory: pytest.TempPathFactory,
                                                          shapes: list[str], chunk: int) -> None:
    # The same file read whole and in pieces of a few bytes (cut after a newline; a piece that is not
    # UTF-8 goes line by line): the same problems at the same lines, the same rule ids.
    content = b"".join(s.format(i).encode("latin-1" if "\xff" in s else "utf-8") + b"\n"
                       for i, s in enumerate(shapes))
    root = make_rules(tmp_path_factory.mktemp("pieces"), {"urls/zqx-abuse.txt": content,
                                                          "terms/zqx-abuse.txt": "zqxblocked\n"})
    whole = check_rules(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "_CHUNK_BYTES", chunk)
        assert [(p.line, p.reason) for p in check_rules(root)] == [(p.line, p.reason) for p in whole]
        if any(p.severity == "error" for p in whole):
            return
        rules = load_rules(root)
    for i, shape in enumerate(shapes):
        if shape.startswith("zqx"):
            assert rules.check_url(f"https://{shape.format(i)}/").rule_id == f"rules/urls/zqx-abuse.txt:{i + 1}"
