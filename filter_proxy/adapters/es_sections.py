"""The removable parts of an Elasticsearch / OpenSearch response besides ``hits.hits``.

- Aggregations, at any nesting: every bucket (``buckets`` as a list or, with ``keyed``, an object) is a
  part screened whole except for the parts nested in it (its key of any type, ``key_as_string``,
  ``top_metrics`` values ...; for a keyed bucket also its name), so a bucket whose key is listed goes.
  Every ``top_hits`` document is a part of its own. The rest of an aggregation (``meta``, ``after_key``,
  ...) is read by the final walk.
- Suggesters: every option (term, phrase, completion with its ``_source``) is a part screened whole.
"""

from __future__ import annotations

from typing import Any

from filter_proxy.adapters.base import AdapterError, Section

__all__ = ["aggregation_sections", "suggest_echoes", "suggest_sections"]


def aggregation_sections(doc: dict[str, Any]) -> list[Section]:
    aggs = doc.get("aggregations")
    if aggs is None:
        return []
    if not isinstance(aggs, dict):
        raise AdapterError("'aggregations' is not an object")
    out: list[Section] = []
    stack: list[Any] = [aggs]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        buckets = node.get("buckets")
        if isinstance(buckets, list):
            for i, bucket in enumerate(buckets):
                if isinstance(bucket, dict):
                    out.append(Section(buckets, i))  # whole: its key and any value shown with it
                    stack.append(bucket)
        elif isinstance(buckets, dict):  # "keyed": true: the bucket's name is its key
            for name, bucket in buckets.items():
                if isinstance(bucket, dict):
                    out.append(Section(buckets, name, [name]))
                    out.append(Section(buckets, name))
                    stack.append(bucket)
        hits = node.get("hits")
        if isinstance(hits, dict) and isinstance(hits.get("hits"), list):  # top_hits
            items = hits["hits"]
            total = hits.get("total")  # {"value", "relation"} or a number: one less per hit removed
            counts = ((total, "value"),) if isinstance(total, dict) else ((hits, "total"),)
            out.extend(Section(items, i, counts=counts) for i in range(len(items)))
        for key, value in node.items():
            if key not in ("buckets", "hits") and isinstance(value, dict):
                stack.append(value)
    return out


def _entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    suggest = doc.get("suggest")
    if suggest is None:
        return []
    if not isinstance(suggest, dict):
        raise AdapterError("'suggest' is not an object")
    out = []
    for entries in suggest.values():
        if not isinstance(entries, list):
            raise AdapterError("a 'suggest' section is not a list")
        out.extend(e for e in entries if isinstance(e, dict))
    return out


def suggest_sections(doc: dict[str, Any]) -> list[Section]:
    out: list[Section] = []
    for entry in _entries(doc):
        options = entry.get("options")
        if isinstance(options, list):
            out.extend(Section(options, i) for i in range(len(options)))
    return out


def suggest_echoes(doc: dict[str, Any]) -> list[tuple[Any, Any]]:
    """A suggest entry's ``text`` is the request's own suggest text."""
    return [(entry, "text") for entry in _entries(doc) if "text" in entry]
