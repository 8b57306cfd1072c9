"""A listed term asked for through the backend's query *objects* and parsers rather than written out:
Elasticsearch / OpenSearch query DSL (prefix, match_phrase_prefix, match_bool_prefix, intervals and
span_multi prefixes, regexp, fuzzy and fuzziness, ranges between neighbours), Solr typed local params
(``{!prefix}``, ``{!regexp}``, ``{!terms separator=...}``, ``{!xmlparser}`` with character references,
comments or CDATA inside the term), Lucene ranges (``{a TO b}``) and percent escapes encoded twice.
Generated: the term cut, one letter replaced by a regex class or changed, the bounds around it, the
encoding of each character; nested at random depth; in the body, in ``source=``, in ``fq`` or behind ``v=$p``.

Before: every one of these reached the app (each shape's string alone is not the listed term).
Now they are blocked or, for a terms lookup (words read from a stored document), refused with 400; the
same shapes with ordinary words are forwarded.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import asgi_scope, call_asgi
from tests.test_attack_request import Recorder
from tests.test_middleware import build_rules

TERM = "zqxblocked"
BENIGN = st.text(alphabet="abcdefghijklmnoprstuvwy", min_size=6, max_size=12)
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


def _run(rules: Any, adapter: str, method: str, path: str, query: bytes = b"", body: bytes = b"") -> tuple[int, int]:
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    headers = [(b"content-type", b"application/json")] if body else []
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope(method, path.encode(), query, headers, body), body)
    return status, len(app.calls)


# --- shapes of a term ------------------------------------------------------------------------------------


@st.composite
def prefix_of(draw: st.DrawFn, word: str) -> str:
    return word[: draw(st.integers(min(6, len(word)), len(word)))]


@st.composite
def regex_of(draw: st.DrawFn, word: str) -> str:
    """``word`` with one or two letters as ``.``, a class holding it, or an alternation."""
    chars = list(word)
    for i in draw(st.sets(st.integers(1, len(word) - 1), min_size=1, max_size=2)):
        chars[i] = draw(st.sampled_from([".", f"[{chars[i]}]", f"[{chars[i]}x]", f"({chars[i]}|y)"]))
    return "".join(chars)


@st.composite
def one_edit(draw: st.DrawFn, word: str) -> str:
    i = draw(st.integers(1, len(word) - 1))
    return word[:i] + draw(st.sampled_from([c for c in LETTERS if c != word[i]])) + word[i + 1 :]


def _neighbours(word: str) -> tuple[str, str]:
    """Bounds around ``word`` that exclude it: the range between them holds only words starting like it."""
    return word[:-1] + chr(ord(word[-1]) - 1), word[:-1] + chr(ord(word[-1]) + 1)


@st.composite
def es_object(draw: st.DrawFn, word: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["prefix", "prefix_value", "mpp", "mbp", "intervals", "span", "regexp",
                                 "regexp_value", "fuzzy", "fuzzy_value", "fuzziness", "range", "range_eq"]))
    field = draw(st.sampled_from(["title", "body.text", "t"]))
    if kind == "prefix":
        return {"prefix": {field: draw(prefix_of(word))}}
    if kind == "prefix_value":
        return {"prefix": {field: {"value": draw(prefix_of(word)), "case_insensitive": True}}}
    if kind == "mpp":
        return {"match_phrase_prefix": {field: draw(prefix_of(word))}}
    if kind == "mbp":
        return {"match_bool_prefix": {field: {"query": draw(prefix_of(word))}}}
    if kind == "intervals":
        return {"intervals": {field: {"prefix": {"prefix": draw(prefix_of(word))}}}}
    if kind == "span":
        return {"span_multi": {"match": {"prefix": {field: {"value": draw(prefix_of(word))}}}}}
    if kind == "regexp":
        return {"regexp": {field: draw(regex_of(word))}}
    if kind == "regexp_value":
        return {"regexp": {field: {"value": draw(regex_of(word)), "flags": "ALL"}}}
    if kind == "fuzzy":
        return {"fuzzy": {field: draw(one_edit(word))}}
    if kind == "fuzzy_value":
        return {"fuzzy": {field: {"value": draw(one_edit(word)), "fuzziness": draw(st.sampled_from([1, 2, "AUTO"]))}}}
    if kind == "fuzziness":
        return {"match": {field: {"query": draw(one_edit(word)), "fuzziness": "AUTO"}}}
    if kind == "range":
        low, high = _neighbours(word)
        return {"range": {field: {draw(st.sampled_from(["gt", "gte"])): low, draw(st.sampled_from(["lt", "lte"])): high}}}
    return {"range": {field: {"gte": word, "lte": word}}}


@st.composite
def nested(draw: st.DrawFn, inner: dict[str, Any]) -> dict[str, Any]:
    for _ in range(draw(st.integers(0, 3))):
        clause = draw(st.sampled_from(["must", "should", "filter"]))
        inner = {"bool": {clause: [inner]}} if draw(st.booleans()) else {"constant_score": {"filter": inner}}
    return inner


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch"]), data=st.data(),
       where=st.sampled_from(["body", "count", "source"]))
def test_es_query_objects_asking_for_a_listed_term_are_blocked(rules: Any, adapter: str, data: st.DataObject,
                                                               where: str) -> None:
    query = data.draw(nested(data.draw(es_object(TERM))))
    document = json.dumps({"query": query}).encode()
    if where == "source":
        params = b"source=" + quote(document).encode() + b"&source_content_type=application%2Fjson"
        status, calls = _run(rules, adapter, "GET", "/b/_search", params)
    else:
        status, calls = _run(rules, adapter, "POST", "/b/_count" if where == "count" else "/b/_search", b"", document)
    assert calls == 0, query
    assert status == 200


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch"]), data=st.data(), word=BENIGN)
def test_es_query_objects_with_ordinary_words_are_forwarded(rules: Any, adapter: str, data: st.DataObject,
                                                            word: str) -> None:
    query = data.draw(nested(data.draw(es_object(word))))
    status, calls = _run(rules, adapter, "POST", "/b/_search", b"", json.dumps({"query": query}).encode())
    assert calls == 1, query


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch"]), word=BENIGN)
def test_a_terms_lookup_is_refused(rules: Any, adapter: str, word: str) -> None:
    query = {"terms": {"title": {"index": word, "id": "1", "path": "words"}}}
    status, calls = _run(rules, adapter, "POST", "/b/_search", b"", json.dumps({"query": query}).encode())
    assert (status, calls) == (400, 0)


# --- Solr ------------------------------------------------------------------------------------------------


@st.composite
def xml_spelt(draw: st.DrawFn, word: str) -> str:
    """``word`` inside an xmlparser query with a character as a reference, or split by a comment or a
    CDATA section."""
    i = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["dec", "hex", "comment", "cdata"]))
    if how == "dec":
        spelt = word[:i] + f"&#{ord(word[i])};" + word[i + 1 :]
    elif how == "hex":
        spelt = word[:i] + f"&#x{ord(word[i]):x};" + word[i + 1 :]
    elif how == "comment":
        spelt = word[: i + 1] + "<!-- x -->" + word[i + 1 :]
    else:
        spelt = word[: i + 1] + f"<![CDATA[{word[i + 1 :]}]]>"
    return f"<TermQuery fieldName='title'>{spelt}</TermQuery>"


@st.composite
def solr_query(draw: st.DrawFn, word: str) -> str:
    kind = draw(st.sampled_from(["prefix", "regexp", "terms", "xml", "range", "range_eq"]))
    if kind == "prefix":
        return "{!prefix f=title}" + draw(prefix_of(word))
    if kind == "regexp":
        return "{!regexp f=title}" + draw(regex_of(word))
    if kind == "terms":
        separator = draw(st.sampled_from(["|", ";", "9", " ", "::"]))
        other = draw(BENIGN)
        return "{!terms f=title separator=" + separator + "}" + separator.join(draw(st.permutations([other, word])))
    if kind == "xml":
        return "{!xmlparser}" + draw(xml_spelt(word))
    if kind == "range":
        low, high = _neighbours(word)
        return "title:" + draw(st.sampled_from(["{", "["])) + f"{low} TO {high}" + draw(st.sampled_from(["}", "]"]))
    return f"title:[{word} TO {word}]"


@SETTINGS
@given(data=st.data(), where=st.sampled_from(["q", "fq", "deref"]))
def test_solr_parsers_asking_for_a_listed_term_are_blocked(rules: Any, data: st.DataObject, where: str) -> None:
    text = data.draw(solr_query(TERM))
    if where == "q":
        query = "q=" + quote(text)
    elif where == "fq":
        query = "q=*:*&fq=" + quote(text)
    else:  # dereferenced: the parser reads the value of another parameter
        query = "q=" + quote("{!lucene v=$p}") + "&p=" + quote(text)
    status, calls = _run(rules, "solr", "GET", "/solr/c/select", query.encode())
    assert calls == 0, text


@SETTINGS
@given(data=st.data(), word=BENIGN)
def test_solr_parsers_with_ordinary_words_are_forwarded(rules: Any, data: st.DataObject, word: str) -> None:
    text = data.draw(solr_query(word))
    status, calls = _run(rules, "solr", "GET", "/solr/c/select", ("q=" + quote(text)).encode())
    assert calls == 1, text


# --- percent escapes encoded twice --------------------------------------------------------------------------


@st.composite
def twice_encoded(draw: st.DrawFn, word: str) -> str:
    """``word`` with at least one character percent-encoded twice (``%2562`` is ``%62`` is ``b``)."""
    out = []
    forced = draw(st.integers(0, len(word) - 1))
    for i, char in enumerate(word):
        if char == " ":
            out.append("%2520")
        elif i == forced or draw(st.booleans()):
            out.append("%25" + format(ord(char), "02X"))
        else:
            out.append(char)
    return "".join(out)


ROUTES = [("elasticsearch", "/b/_search", "q"), ("solr", "/solr/c/select", "q"), ("meilisearch", "/indexes/b/search", "q"),
          ("typesense", "/collections/b/documents/search", "q"), ("searxng", "/search", "q")]


@SETTINGS
@given(route=st.sampled_from(ROUTES), term=st.sampled_from([TERM, "forbidden phrase alpha"]), data=st.data())
def test_twice_encoded_query_parameters_are_read_decoded(rules: Any, route: tuple[str, str, str], term: str,
                                                         data: st.DataObject) -> None:
    adapter, path, name = route
    query = f"{name}={data.draw(twice_encoded(term))}".encode()
    status, calls = _run(rules, adapter, "GET", path, query)
    assert calls == 0, query


# --- scripts ---------------------------------------------------------------------------------------------

FIELD = st.text(alphabet="abcdefghijklmnop_", min_size=1, max_size=8)


@st.composite
def text_building_script(draw: st.DrawFn, word: str) -> tuple[str, dict[str, Any]]:
    """A Painless source (and params) that computes ``word`` without writing it: joined parameters, a
    reversed or split literal, characters from numbers, a regular expression, a radix conversion."""
    field = draw(FIELD)
    cut = draw(st.integers(1, len(word) - 1))
    how = draw(st.sampled_from(["params", "reverse", "chars", "regex", "radix", "literal_split", "escape"]))
    access = draw(st.sampled_from([f"doc['{field}'].value", f"doc[\"{field}\"].value", f"field('{field}').get('')"]))
    if how == "params":
        return f"{access} == params.a + params.b", {"a": word[:cut], "b": word[cut:]}
    if how == "reverse":
        return f"{access} == new StringBuilder('{word[::-1]}').reverse().toString()", {}
    if how == "chars":
        codes = " + ".join(f"(char){ord(c)}" for c in word[:cut])
        return f"{access} == '' + {codes} + params.rest", {"rest": word[cut:]}
    if how == "regex":
        return f"{access} ==~ /{word[:cut]}.{word[cut + 1:]}/", {}
    if how == "radix":
        return f"{access} == Long.toString({int(word, 36)}L, 36)", {}
    if how == "escape":
        return f"{access} == '\\u{ord(word[0]):04x}{word[1:]}'", {}
    return f"{access} == '{word[:cut]}' + '{word[cut:]}'", {}


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch"]), data=st.data(),
       where=st.sampled_from(["query", "script_fields", "runtime", "sort"]))
def test_scripts_that_build_a_listed_term_never_reach_the_backend(rules: Any, adapter: str, data: st.DataObject,
                                                                  where: str) -> None:
    source, params = data.draw(text_building_script(TERM))
    script = {"source": source, "params": params, "lang": "painless"}
    if where == "query":
        body = {"query": data.draw(nested({"script": {"script": script}}))}
    elif where == "script_fields":
        body = {"script_fields": {"f": {"script": script}}}
    elif where == "runtime":
        body = {"runtime_mappings": {"f": {"type": "keyword", "script": script}}, "query": {"term": {"f": "x"}}}
    else:
        body = {"sort": {"_script": {"type": "string", "script": script}}}
    status, calls = _run(rules, adapter, "POST", "/b/_search", b"", json.dumps(body).encode())
    assert calls == 0, source
    assert status in (200, 400)


@st.composite
def scoring_script(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An ordinary scoring or sorting script: numbers, fields read by name, numeric parameters."""
    fields = draw(st.lists(FIELD, min_size=1, max_size=3))
    terms = [draw(st.sampled_from([f"doc['{f}'].value", f"doc[\"{f}\"].size()", f"params['{f}']",
                                   f"(doc.containsKey('{f}') ? doc['{f}'].value : 0)", f"field('{f}').get(0)"]))
             for f in fields]
    source = draw(st.sampled_from(["Math.log(2 + {x})", "_score * {x}", "{x} / 2", "{x}"])).format(x=" + ".join(terms))
    return source, {f: draw(st.integers(0, 9)) for f in fields}


@SETTINGS
@given(adapter=st.sampled_from(["elasticsearch", "opensearch"]), data=st.data())
def test_ordinary_scoring_scripts_are_forwarded(rules: Any, adapter: str, data: st.DataObject) -> None:
    source, params = data.draw(scoring_script())
    body = {"query": {"function_score": {"query": {"match": {"title": "bread"}},
                                         "script_score": {"script": {"source": source, "params": params}}}}}
    status, calls = _run(rules, adapter, "POST", "/b/_search", b"", json.dumps(body).encode())
    assert calls == 1, source


# --- search-as-you-type backends ------------------------------------------------------------------------


@st.composite
def typed_search(draw: st.DrawFn, word: str, listed: bool) -> tuple[str, str, bytes, bytes]:
    """A Meilisearch or Typesense search whose last word is a prefix of ``word`` (both read the last word
    as a prefix), or, with Typesense's infix search on, a piece from inside it."""
    backend = draw(st.sampled_from(["meilisearch", "typesense"]))
    lead = draw(st.sampled_from(["", "bread ", "garden tools "]))
    infix = backend == "typesense" and draw(st.booleans())
    if infix and listed:
        start = draw(st.integers(1, 3))
        text = lead + word[start: start + draw(st.integers(5, len(word) - start))]
    else:
        text = lead + draw(prefix_of(word))
    options: dict[str, Any] = {"infix": draw(st.sampled_from(["always", "fallback"]))} if infix else {}
    if backend == "meilisearch":
        where = draw(st.sampled_from(["get", "post", "facet", "multi"]))
        if where == "get":
            return backend, "GET", ("q=" + quote(text)).encode(), b""
        if where == "facet":
            return "meilisearch", "POST /indexes/b/facet-search", b"", json.dumps({"facetName": "t", "facetQuery": text}).encode()
        if where == "multi":
            return "meilisearch", "POST /multi-search", b"", json.dumps({"queries": [{"indexUid": "b", "q": text}]}).encode()
        return backend, "POST", b"", json.dumps({"q": text}).encode()
    if draw(st.booleans()):
        query = "&".join(f"{k}={quote(v)}" for k, v in {"q": text, "query_by": "title", **options}.items())
        return backend, "GET", query.encode(), b""
    return "typesense", "POST /multi_search", b"", json.dumps({"searches": [{"collection": "b", "q": text, **options}]}).encode()


def _typed_run(rules: Any, search: tuple[str, str, bytes, bytes]) -> tuple[int, int]:
    backend, how, query, body = search
    method, _, path = how.partition(" ")
    if not path:
        path = "/indexes/b/search" if backend == "meilisearch" else "/collections/b/documents/search"
    return _run(rules, backend, method, path, query, body)


@SETTINGS
@given(data=st.data())
def test_a_typed_prefix_or_infix_of_a_listed_term_never_reaches_the_backend(rules: Any, data: st.DataObject) -> None:
    search = data.draw(typed_search(TERM, True))
    status, calls = _typed_run(rules, search)
    assert calls == 0, search


@SETTINGS
@given(data=st.data(), word=BENIGN)
def test_typed_searches_of_ordinary_words_are_forwarded(rules: Any, data: st.DataObject, word: str) -> None:
    search = data.draw(typed_search(word, False))
    status, calls = _typed_run(rules, search)
    assert calls == 1, search
