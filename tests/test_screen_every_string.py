"""Issue 10.4/10.9: for any document of each backend's response shape, a listed string placed at any path
inside a result (any depth, any container type, any key name, as a key too) removes that result, and
nothing listed is left in the document that is sent."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.screening import screen_texts, screen_value
from tests.test_middleware import build_rules

# Benign text cannot spell a listed term or a host: no "z", "q", "x", no dot.
BENIGN = st.text(alphabet="abcdefgh ", max_size=12)
KEYS = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False),
                 BENIGN)
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=12)
OBJECT = st.dictionaries(KEYS, JSON, max_size=4)
LISTED = st.sampled_from([
    "zqxblocked", "Forbidden  Phrase ALPHA", "a page about <em>zqx</em>blocked", "ZQXBLOCKED!", "zqx\u200bblocked",
    "https://blocked.example.invalid/page", "//blocked.example.invalid/t.png", "www.blocked.example.invalid",
    "blocked.example.invalid", "see bad.example.invalid/x here",
])
# The shapes a field of an unexpected type takes: {"en": ...}, [{"value": ...}], {"href": ...}, [...].
WRAPS = [lambda s: s, lambda s: {"en": s}, lambda s: [{"value": s}], lambda s: {"href": s}, lambda s: [s]]


@functools.cache
def rules() -> Any:
    return build_rules(Path(tempfile.mkdtemp(prefix="fp-strings-")) / "rules")


def plant(data: st.DataObject, root: Any, listed: str) -> None:
    """Put ``listed`` somewhere inside ``root``: walk down a random path, then add it as a value (maybe
    wrapped), a list item or an object key."""
    node = root
    while True:
        children = [c for c in (node.values() if isinstance(node, dict) else node) if isinstance(c, (dict, list))]
        if not children or data.draw(st.booleans(), label="stop"):
            break
        node = data.draw(st.sampled_from(children), label="descend")
    value = data.draw(st.sampled_from(WRAPS), label="wrap")(listed)
    if isinstance(node, dict):
        if data.draw(st.booleans(), label="as key"):
            node[listed] = data.draw(LEAF, label="key's value")
        else:
            node["k" + data.draw(KEYS, label="key")] = value
    else:
        node.insert(data.draw(st.integers(0, len(node)), label="at"), value)


def result(data: st.DataObject, k: int, shape: str) -> dict[str, Any]:
    body = data.draw(OBJECT, label="fields")
    body["marker"] = f"rmark{k}"
    if shape == "es":
        extra = data.draw(st.dictionaries(st.sampled_from(["fields", "highlight"]), OBJECT, max_size=2))
        if data.draw(st.booleans(), label="inner hits"):
            extra["inner_hits"] = {"part": {"hits": {"total": {"value": 1}, "hits": [{"_source": data.draw(OBJECT)}]}}}
        return {"_index": "books", "_id": str(k), "_score": 1.0, "_source": body, **extra}
    if shape == "typesense":
        return {"document": body, "highlights": data.draw(st.lists(OBJECT, max_size=2)),
                "highlight": data.draw(OBJECT), "text_match": 1}
    if shape == "meili":
        return {**body, "_formatted": data.draw(OBJECT)}
    return body


def page(shape: str, items: list[Any]) -> dict[str, Any]:
    if shape == "es":
        return {"took": 1, "timed_out": False, "hits": {"total": {"value": len(items), "relation": "eq"}, "hits": items}}
    if shape == "solr":
        for i, item in enumerate(items):
            item["id"] = f"d{i}"
        return {"responseHeader": {"status": 0, "params": {"q": "garden"}},
                "response": {"numFound": len(items), "start": 0, "docs": items}}
    if shape == "meili":
        return {"hits": items, "query": "garden", "processingTimeMs": 1, "estimatedTotalHits": len(items)}
    if shape == "typesense":
        return {"found": len(items), "hits": items, "out_of": 9, "page": 1, "request_params": {"q": "garden"}}
    if shape == "searxng":
        return {"query": "garden", "number_of_results": len(items), "results": items, "answers": [],
                "infoboxes": [], "suggestions": [], "corrections": [], "unresponsive_engines": []}
    return {"results": items}


ADAPTERS = {"es": "elasticsearch", "solr": "solr", "meili": "meilisearch", "typesense": "typesense",
            "searxng": "searxng", "generic": "generic"}


def nothing_listed(doc: Any) -> bool:
    return screen_value(doc, rules()) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=st.sampled_from(sorted(ADAPTERS)), listed=LISTED)
def test_listed_string_anywhere_in_a_result_removes_it(data: st.DataObject, shape: str, listed: str) -> None:
    count = data.draw(st.integers(1, 3), label="results")
    items = [result(data, k, shape) for k in range(count)]
    doc = page(shape, items)
    adapter = get_adapter(ADAPTERS[shape])
    clean, outcome = screen_texts(orjson.loads(orjson.dumps(doc)), adapter, rules(), results=True)
    assert not outcome.removed and outcome.withheld is None  # the generator is benign
    target = data.draw(st.integers(0, count - 1), label="target")
    plant(data, items[target], listed)
    screened, outcome = screen_texts(orjson.loads(orjson.dumps(doc)), adapter, rules(), results=True)
    assert outcome.withheld is None
    sent = orjson.dumps(screened).decode()
    assert f"rmark{target}\"" not in sent  # the result that held it is gone
    assert all(f"rmark{k}\"" in sent for k in range(count) if k != target)  # the others stay
    assert len(outcome.removed) == 1
    assert nothing_listed(orjson.loads(sent))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED, where=st.sampled_from(["bucket key", "keyed bucket", "top hit", "option"]))
def test_elasticsearch_aggregations_and_options(data: st.DataObject, listed: str, where: str) -> None:
    hits = [{"_id": str(k), "_source": data.draw(OBJECT)} for k in range(2)]
    buckets = [{"key": f"bkey{k}", "doc_count": 1, "top": {"hits": {"total": {"value": 2}, "hits": hits}}}
               for k in range(2)]
    doc: dict[str, Any] = {
        "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
        "aggregations": {"outer": {"inner": {"buckets": buckets}},
                         "keyed": {"buckets": {"kone": {"doc_count": 1}, "ktwo": {"doc_count": 2}}}},
        "suggest": {"s": [{"text": "gar", "offset": 0, "length": 3,
                           "options": [{"text": "garden", "_source": data.draw(OBJECT)}, {"text": "garlic"}]}]},
    }
    if where == "bucket key":
        buckets[1]["key"] = data.draw(st.sampled_from(WRAPS))(listed) if listed.isalpha() else listed
    elif where == "keyed bucket":
        doc["aggregations"]["keyed"]["buckets"][listed] = {"doc_count": 3}
    elif where == "top hit":
        plant(data, hits[1], listed)
    else:
        plant(data, doc["suggest"]["s"][0]["options"][0], listed)
    screened, outcome = screen_texts(doc, get_adapter("elasticsearch"), rules(), results=True)
    assert outcome.withheld is None and outcome.removed
    assert nothing_listed(screened)
    if where == "bucket key":
        assert [b["key"] for b in screened["aggregations"]["outer"]["inner"]["buckets"]] == ["bkey0"]
    if where == "top hit":
        assert all(len(b["top"]["hits"]["hits"]) == 1 for b in buckets)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED, where=st.sampled_from(["grouped", "expanded", "terms", "spell map", "facet"]))
def test_solr_sections(data: st.DataObject, listed: str, where: str) -> None:
    docs = [{"id": f"g{k}", **data.draw(OBJECT)} for k in range(2)]
    doc: dict[str, Any] = {
        "responseHeader": {"status": 0, "params": {"q": "garden"}},
        "grouped": {"cat": {"matches": 2, "groups": [{"groupValue": "tools", "doclist": {"numFound": 2, "docs": docs}}]}},
        "expanded": {"tools": {"numFound": 1, "docs": [{"id": "e1", "title": "rake"}]}},
        "terms": {"title": ["garden", 3, "rake", 1]},
        "facet_counts": {"facet_fields": {"cat": {"tools": 2, "seeds": 1}}},
        "spellcheck": {"suggestions": {"gardn": {"numFound": 1, "suggestion": ["garden"]}},
                       "collations": {"collation": "garden"}},
    }
    if where == "grouped":
        plant(data, docs[1], listed)
    elif where == "expanded":
        plant(data, doc["expanded"]["tools"]["docs"][0], listed)
    elif where == "terms":
        doc["terms"]["title"][2] = listed
    elif where == "spell map":
        doc["spellcheck"]["suggestions"]["gardn"]["suggestion"].append(listed)
    else:
        doc["facet_counts"]["facet_fields"]["cat"][listed] = 4
    screened, outcome = screen_texts(doc, get_adapter("solr"), rules(), results=True)
    assert outcome.withheld is None and outcome.removed
    assert nothing_listed(screened)
    if where == "terms":
        assert screened["terms"]["title"] == ["garden", 3]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED, shape=st.sampled_from(sorted(ADAPTERS)))
def test_listed_string_outside_any_result_withholds_the_page(data: st.DataObject, listed: str, shape: str) -> None:
    doc = page(shape, [result(data, 0, shape)])
    doc["kextra"] = data.draw(st.sampled_from(WRAPS))(listed)  # a top-level section nothing removes
    screened, outcome = screen_texts(doc, get_adapter(ADAPTERS[shape]), rules(), results=True)
    assert outcome.withheld is not None


def test_echo_of_a_warn_query_does_not_withhold_the_page() -> None:
    # The backend repeats the (screened) query; a warn-category query must still get its page.
    doc = page("meili", [{"marker": "rmark0", "title": "help page"}])
    doc["query"] = "zqxwarn"
    _, outcome = screen_texts(doc, get_adapter("meilisearch"), rules(), results=True)
    assert outcome.withheld is None and not outcome.removed


def test_generic_echo_pointers() -> None:
    doc = {"results": [{"marker": "rmark0", "title": "help page"}], "meta": {"asked": "zqxwarn"}}
    _, outcome = screen_texts(doc, get_adapter("generic"), rules(), results=True)
    assert outcome.withheld is not None  # without the option the echo is content
    _, outcome = screen_texts(doc, get_adapter("generic", echo="/meta/asked"), rules(), results=True)
    assert outcome.withheld is None


def test_a_bucket_goes_for_a_listed_value_beside_its_key_and_a_top_hit_alone() -> None:
    hits = [{"_id": "a", "_source": {"t": "rake"}}, {"_id": "b", "_source": {"t": "zqxblocked"}}]
    doc = {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {"by": {"buckets": [
        {"key": "tools", "doc_count": 2, "top": {"hits": {"hits": hits}}},
        {"key": "seeds", "doc_count": 1, "best": {"top": [{"metrics": {"name": "forbidden phrase alpha"}}]}},
    ]}}}
    screened, outcome = screen_texts(doc, get_adapter("elasticsearch"), rules(), results=True)
    assert outcome.withheld is None and len(outcome.removed) == 2
    buckets = screened["aggregations"]["by"]["buckets"]
    assert [b["key"] for b in buckets] == ["tools"]  # top_metrics value listed: that bucket goes
    assert [h["_id"] for h in buckets[0]["top"]["hits"]["hits"]] == ["a"]  # only the listed top hit goes
