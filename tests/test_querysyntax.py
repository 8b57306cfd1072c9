"""Issue 10.6: query screening reads every string the backend reads, after undoing its query syntax."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.querysyntax import QueryPrefix, expand_macros, plain, query_variants, unescape
from filter_proxy.screening import check_query
from tests.test_middleware import build_rules

TERM = "zqxblocked"
PHRASE = ["forbidden", "phrase", "alpha"]
BENIGN_WORDS = st.sampled_from(["garden", "tools", "rake", "seeds", "spade", "lawn", "hedge", "water"])
FIELDS = st.text(alphabet="abcdefghijklmnop_", min_size=1, max_size=8).filter(lambda f: f[0] != "_")
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def rules() -> Any:
    return build_rules(Path(tempfile.mkdtemp(prefix="fp-query-")) / "rules")


def verdict(adapter: str, params: list[tuple[str, str]], body: bytes = b"", ctype: str = "") -> str:
    return check_query(get_adapter(adapter).query_texts(params, body, ctype), rules()).action


@st.composite
def escaped(draw: st.DrawFn, text: str) -> str:
    """``text`` with a backslash before some of its characters."""
    return "".join(("\\" + c) if draw(st.booleans()) else c for c in text)


@st.composite
def disguised_term(draw: st.DrawFn) -> str:
    """The listed term in Lucene syntax as a backend reads it back to the same term (or a wildcard that
    keeps at least five of its letters)."""
    form = draw(st.sampled_from(["escape", "trailing", "question", "inner star", "plain"]))
    if form == "escape":
        text = draw(escaped(TERM))
    elif form == "trailing":
        text = TERM[: draw(st.integers(5, len(TERM) - 1))] + "*"
    elif form == "question":
        positions = draw(st.sets(st.integers(0, len(TERM) - 1), min_size=1, max_size=2))
        text = "".join("?" if i in positions else c for i, c in enumerate(TERM))
    elif form == "inner star":
        cut = draw(st.integers(1, len(TERM) - 1))
        text = TERM[:cut] + "*" + TERM[cut:]
    else:
        text = TERM
    if draw(st.booleans()):
        text += draw(st.sampled_from(["^3", "~2", "~", "^0.5"]))
    if draw(st.booleans()):
        text = draw(FIELDS) + ":" + text
    if draw(st.booleans()):
        text = draw(st.sampled_from(["{!lucene df=title}", "{!edismax qf=title}", "+", "(", "-(", "NOT "])) + text
    words = draw(st.lists(BENIGN_WORDS, max_size=2))
    return " ".join([*words, text])


@SETTINGS
@given(text=st.text(alphabet="abc xyz:*?{}", max_size=20), data=st.data())
def test_unescape_undoes_any_escaping(text: str, data: st.DataObject) -> None:
    assert unescape(data.draw(escaped(text))) == text


@SETTINGS
@given(query=disguised_term(), adapter=st.sampled_from(["elasticsearch", "solr", "searxng", "generic"]))
def test_lucene_syntax_cannot_hide_a_listed_term(query: str, adapter: str) -> None:
    assert verdict(adapter, [("q", query)]) == "block"


@SETTINGS
@given(data=st.data())
def test_phrase_split_by_syntax_is_still_the_phrase(data: st.DataObject) -> None:
    parts = []
    for word in PHRASE:
        if data.draw(st.booleans()):
            word = data.draw(FIELDS) + ":" + word
        if data.draw(st.booleans()):
            word += data.draw(st.sampled_from(["^2", "~1"]))
        parts.append(word)
    glue = data.draw(st.sampled_from([" ", " AND ", " && ", " +"]))
    assert verdict("solr", [("q", glue.join(parts))]) == "block"


@SETTINGS
@given(words=st.lists(BENIGN_WORDS, min_size=1, max_size=4), data=st.data())
def test_benign_queries_with_syntax_pass(words: list[str], data: st.DataObject) -> None:
    decorated = [data.draw(st.sampled_from(["{}", "{}*", "title:{}", "{}~2", "{}^3", "\\{}", "{}?"])).format(w)
                 for w in words]
    assert verdict("elasticsearch", [("q", " AND ".join(decorated))]) == "allow"


@SETTINGS
@given(cut=st.integers(1, 4))
def test_a_wildcard_keeping_fewer_than_five_letters_is_not_the_term(cut: int) -> None:
    assert verdict("elasticsearch", [("q", TERM[:cut] + "*")]) == "allow"


@SETTINGS
@given(cut=st.integers(1, len(TERM) - 1), via=st.sampled_from(["macro", "default", "nested", "reference"]),
       name=st.text(alphabet="mnopqrs", min_size=1, max_size=5))
def test_solr_macros_and_references_are_dereferenced(cut: int, via: str, name: str) -> None:
    head, tail = TERM[:cut], TERM[cut:]
    if via == "macro":
        params = [("q", head + "${" + name + "}"), (name, tail)]
    elif via == "default":
        params = [("q", head + "${" + name + ":" + tail + "}")]
    elif via == "nested":
        params = [("q", "${" + name + "}"), (name, head + "${" + name + "x}"), (name + "x", tail)]
    else:
        params = [("q", "{!lucene v=$" + name + "}"), (name, head + "\\" + tail)]
    assert verdict("solr", params) == "block"


def test_macro_expansion_is_bounded() -> None:
    loops = expand_macros("${a}", {"a": ["${a}x"]})
    assert loops[0] == "${a}" and len(loops) < 50
    assert expand_macros("no macro", {}) == ["no macro"]
    assert "t:zqxblocked" in expand_macros("t:$p", {"p": ["zqxblocked"]})


@SETTINGS
@given(path=st.lists(st.sampled_from(["query", "bool", "must", "match", "analyzer", "script", "params",
                                      "highlight", "highlight_query", "rescore", "_source", "sort"]),
                     min_size=1, max_size=5),
       in_list=st.booleans(), as_key=st.booleans())
def test_every_body_string_is_read(path: list[str], in_list: bool, as_key: bool) -> None:
    value: Any = {TERM: 1} if as_key else TERM
    for key in reversed(path):
        value = {key: [value] if in_list else value}
    body = json.dumps(value).encode()
    assert verdict("elasticsearch", [], body, "application/json") == "block"
    assert verdict("meilisearch", [], body, "application/json") == "block"


@SETTINGS
@given(param=st.sampled_from(["json", "json.query", "source", "params", "x"]), name_or_value=st.booleans())
def test_every_parameter_and_json_parameter_is_read(param: str, name_or_value: bool) -> None:
    doc = json.dumps({"query": {"lucene": {"query": "title:" + TERM}}})
    params = [(TERM, "1")] if name_or_value else [(param, doc)]
    assert verdict("solr", params) == "block"


def test_ndjson_bodies_are_read_line_by_line() -> None:
    body = b'{"index": "books"}\n{"query": {"match": {"title": "garden"}}}\n{}\n{"query": {"match": {"t": "zqx\\\\blocked"}}}\n'
    assert verdict("elasticsearch", [], body, "application/x-ndjson") == "block"
    assert verdict("elasticsearch", [], body.replace(b"zqx", b"abc"), "application/x-ndjson") == "allow"


def test_variants_and_prefixes() -> None:
    assert plain(r"title:zqx\blocked^3 AND {!lucene df=x}rake~2") == "zqxblocked rake"
    variants = query_variants("garden zqxblo*")
    assert QueryPrefix("garden zqxblo") in variants
    assert any(type(v) is QueryPrefix for v in variants)
    assert verdict("elasticsearch", [("q", "garden zqxblo*")]) == "block"
    assert verdict("elasticsearch", [("q", "url:https://blocked.example.invalid/x")]) == "block"


@SETTINGS
@given(first=st.booleans(), depth=st.integers(0, 3))
def test_duplicate_keys_in_a_request_body_are_all_read(first: bool, depth: int) -> None:
    listed, benign = b'{"match": {"t": "zqxblocked"}}', b'{"match_all": {}}'
    pair = (listed, benign) if first else (benign, listed)
    inner = b'{"query": ' + pair[0] + b', "query": ' + pair[1] + b"}"
    for _ in range(depth):
        inner = b'{"bool": {"must": [' + inner + b"]}}"
    assert verdict("elasticsearch", [], inner, "application/json") == "block"
    assert verdict("typesense", [], inner, "application/json") == "block"


@SETTINGS
@given(cut=st.integers(1, len(TERM) - 1), triple=st.booleans(), name=st.text(alphabet="mnprstuvw", min_size=1, max_size=6))
def test_search_template_placeholders_are_filled_in(cut: int, triple: bool, name: str) -> None:
    holder = ("{{{%s}}}" if triple else "{{%s}}") % name
    source = json.dumps({"query": {"match": {"title": TERM[:cut] + holder}}})
    body = json.dumps({"source": source, "params": {name: TERM[cut:]}}).encode()
    assert verdict("elasticsearch", [], body, "application/json") == "block"
    benign = json.dumps({"source": source, "params": {name: "garden"}}).encode()
    assert verdict("elasticsearch", [], benign, "application/json") == "allow"


@SETTINGS
@given(data=st.data(), field=st.one_of(st.just(""), FIELDS.map(lambda f: f + ":")))
def test_simple_regular_expressions_are_read_as_wildcards(data: st.DataObject, field: str) -> None:
    positions = data.draw(st.sets(st.integers(0, len(TERM) - 1), min_size=1, max_size=2))
    dot = data.draw(st.sampled_from([".", "[a-z]", "[^0-9]"]))
    body = "".join(dot if i in positions else c for i, c in enumerate(TERM))
    form = data.draw(st.sampled_from(["dots", "prefix", "alternation", "count"]))
    if form == "prefix":
        body = TERM[: data.draw(st.integers(5, len(TERM) - 1))] + ".*"
    elif form == "alternation":
        cut = data.draw(st.integers(1, len(TERM) - 1))
        body = "(" + "|".join(data.draw(st.permutations([TERM[:cut], "abc"]))) + ")" + TERM[cut:]
    elif form == "count":
        cut = data.draw(st.integers(0, len(TERM) - 1))
        body = TERM[:cut + 1] + "{1}" + TERM[cut + 1:]
    assert verdict("elasticsearch", [("q", f"{field}/{body}/")]) == "block"


def _raw(value: Any, data: st.DataObject) -> str:
    """JSON text of ``value`` in which some objects repeat a key with another value first."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if data.draw(st.booleans(), label="duplicate"):
                parts.append(f"{json.dumps(key)}: {json.dumps(data.draw(st.sampled_from(['zqxdup', 'other'])))}")
            parts.append(f"{json.dumps(key)}: {_raw(item, data)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_raw(v, data) for v in value) + "]"
    return json.dumps(value)


@SETTINGS
@given(value=st.recursive(st.text(alphabet="abc", max_size=4),
                          lambda inner: st.dictionaries(st.text(alphabet="ab", min_size=1, max_size=2), inner, max_size=3)
                          | st.lists(inner, max_size=3), max_leaves=10),
       data=st.data())
def test_every_member_of_a_duplicated_key_is_read(value: Any, data: st.DataObject) -> None:
    from filter_proxy.adapters.request import loads_every_key
    from filter_proxy.adapters.walk import strings as walk_strings

    raw = _raw(value, data)
    texts = set(walk_strings(loads_every_key(raw.encode()))[0])
    assert ("zqxdup" in texts) == ("zqxdup" in raw)
    assert set(walk_strings(value)[0]) - {""} <= texts | {""}
