"""The compiled first walk of a page (``adapters/_walk_kernel.pyx``) against its definition,
``walk.raw_strings_py``: the same strings, in the same order, for any JSON document and for the documents an
app builds in process (tuples, keys that are not strings, subclasses of str, dict and list, which the walk
does not treat as their base types). ``walk.raw_strings`` is the kernel when it is built. Skipped, saying
why, where the kernel was not built (no C compiler)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from filter_proxy.adapters import walk

kernel = pytest.importorskip("filter_proxy.adapters._walk_kernel",
                             reason="the compiled walk kernel was not built (setup.py needs Cython and a C compiler)")


class Text(str):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


# Strings: empty, white space, the format keys the walk never reads as text, markup, URLs, any Unicode.
STRINGS = st.one_of(st.text(max_size=12), st.sampled_from(sorted(walk.FORMAT_KEYS)), st.sampled_from(
    ["", " ", "<b>x</b>", "https://a.example.invalid/p?q=1", "zqxblocked"]))
KEYS = st.one_of(STRINGS, st.integers(-2, 2), st.sampled_from([None, True, False, 0.0, (), ("k",)]),
                 STRINGS.map(Text))
LEAVES = st.one_of(STRINGS, STRINGS.map(Text), st.integers(), st.floats(allow_nan=False), st.booleans(),
                   st.none())


def _documents(leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=4).map(tuple),
        st.lists(inner, max_size=3).map(Items),
        st.dictionaries(keys, inner, max_size=5),
        st.dictionaries(keys, inner, max_size=3).map(Mapping),
        st.dictionaries(keys, inner, max_size=3).map(OrderedDict),
    ), max_leaves=40)


JSON = st.recursive(st.one_of(STRINGS, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=5),
                                            st.dictionaries(st.text(max_size=8), inner, max_size=5)),
                    max_leaves=60)


def _both(value: Any) -> tuple[list[Any], list[Any]]:
    expected: list[Any] = []
    walk.raw_strings_py(value, expected)
    got: list[Any] = []
    kernel.raw_strings(value, got)
    return expected, got


@given(JSON)
def test_json_documents_read_the_same(doc: Any) -> None:
    expected, got = _both(doc)
    assert got == expected
    assert [type(s) for s in got] == [type(s) for s in expected]


@given(_documents(LEAVES, KEYS))
def test_documents_built_in_process_read_the_same(doc: Any) -> None:
    expected, got = _both(doc)
    assert got == expected
    assert [type(s) for s in got] == [type(s) for s in expected]


def test_the_module_binds_the_kernel_and_appends() -> None:
    assert walk.raw_strings is kernel.raw_strings
    out = ["before"]
    walk.raw_strings({"title": "zqxblocked", "score": 1.0, "_format": "x", "nested": [("a", ""), {"b": None}]},
                     out)
    assert out[0] == "before"
    assert "zqxblocked" in out and "title" in out and "nested" in out
    assert "" not in out


# A result object: a few field names, each holding a string (maybe only white space, maybe a subclass), a
# number, null, an object or a (nested) list of any of these.
FIELD_NAMES = st.sampled_from(["title", "content", "url", "img_src", "thumbnail", "author", "x"])
FIELD_VALUES = st.recursive(
    st.one_of(STRINGS, STRINGS.map(Text), st.sampled_from(["\u00a0", "\t \n", "\u2003x"]), st.integers(),
              st.none(), st.booleans(), st.dictionaries(st.text(max_size=3), STRINGS, max_size=2)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(Items)), max_leaves=12)
GROUPS = st.lists(st.lists(FIELD_NAMES, max_size=3).map(tuple), min_size=5, max_size=5).map(tuple)


@given(st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=6), GROUPS)
@example({"title": " ", "url": "\u2003", "x": ["a", " ", "a"]}, (("title",), ("url",), ("x",), ("title", "x"), ()))
@example({"title": Text("t"), "url": ["u", {"k": "v"}, ["u", "w"]]}, (("title",), ("url",), ("url", "title"), (), ()))
def test_plain_fields_read_the_same(result: dict[str, Any], groups: tuple[tuple[str, ...], ...]) -> None:
    from filter_proxy.adapters import fields

    expected = fields._plain_fields_py(result, groups)
    got = kernel.plain_fields(result, groups)
    assert got == expected
    assert [[type(s) for s in found] for found in got] == [[type(s) for s in found] for found in expected]
    assert fields._plain_fields is kernel.plain_fields


@given(st.integers(0, 50), st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=6), GROUPS)
@example(3, {"title": ["a", "b"], "content": ["c", "d"], "author": "e", "url": ["u", "v"], "img_src": ["i", "j"]},
         (("title",), ("content",), ("author",), ("url",), ("img_src",)))
def test_plain_views_are_the_same(index: int, result: dict[str, Any], groups: tuple[tuple[str, ...], ...]) -> None:
    from filter_proxy.adapters import fields
    from filter_proxy.adapters.base import FieldMapping, ResultView

    expected = fields._plain_view_py(index, result, groups, ResultView)
    assert kernel.plain_view(index, result, groups, ResultView) == expected
    assert fields._plain_view is kernel.plain_view
    # and the builder answers the same through the general reading of the same mapping
    mapping = FieldMapping(title=["title"], snippet=["content"], extra_text=["author"], url=["url"],
                           image_url=["img_src"])
    plain = (("title",), ("content",), ("author",), ("url",), ("img_src",))
    assert fields.view_builder(mapping).build(index, (result,)) == fields._plain_view_py(index, result, plain,
                                                                                           ResultView)
    assert fields.build_view(index, [dict(result)], mapping) == fields._plain_view_py(index, result, plain,
                                                                                        ResultView)
    # the general reading (``_values``: a source that is not exactly a dict) gives the same view
    assert fields.view_builder(mapping).build(index, (Mapping(result),)) == expected_for(index, result, plain)


def expected_for(index: int, result: dict[str, Any], plain: tuple[tuple[str, ...], ...]) -> Any:
    from filter_proxy.adapters import fields
    from filter_proxy.adapters.base import ResultView

    return fields._plain_view_py(index, result, plain, ResultView)
