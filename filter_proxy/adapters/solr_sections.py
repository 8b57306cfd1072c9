"""The removable parts of a Solr response besides ``response.docs``.

- Result grouping (``grouped.<field>``): every group is a part (its ``groupValue`` and anything else
  but its documents), and every document of a group's ``doclist`` (or of the ``doclist`` of
  ``group.format=simple``) is a part screened whole. ``grouped.<field>.matches`` / ``ngroups`` are left as they are.
- Collapse and expand (``expanded.<collapse value>``): each entry is screened on its key (a field value),
  each of its documents whole.
- ``moreLikeThis.<id>``: each similar document whole.
- Terms (``terms.<field>``) and ``facet_counts.facet_fields.<field>``: each value, in the ``json.nl=flat``
  shape (``[value, count, ...]``: the pair goes) and in the object shapes (``map``, ``arrmap``, ...).
- ``facet_counts.facet_pivot``: each pivot entry screened on its ``value``.
Whatever else a response holds is read by the final walk (``screening.screen_rest``).
"""

from __future__ import annotations

from typing import Any

from filter_proxy.adapters.base import Section
from filter_proxy.adapters.walk import strings

__all__ = ["grouped_docs", "solr_sections"]


def _docs_of(doclist: Any) -> list[Section]:
    docs = doclist.get("docs") if isinstance(doclist, dict) else None
    counts = ((doclist, "numFound"),)  # one less per document removed (adapters/counts.py)
    return [Section(docs, i, counts=counts) for i in range(len(docs))] if isinstance(docs, list) else []


def grouped_docs(doc: dict[str, Any]) -> list[Section]:
    grouped = doc.get("grouped")
    out: list[Section] = []
    if not isinstance(grouped, dict):
        return out
    for per_field in grouped.values():
        if not isinstance(per_field, dict):
            continue
        out.extend(_docs_of(per_field.get("doclist")))  # group.format=simple
        groups = per_field.get("groups")
        if isinstance(groups, list):
            for g, group in enumerate(groups):
                if isinstance(group, dict):
                    out.append(Section(groups, g))  # whole but for its documents (each a part)
                    out.extend(_docs_of(group.get("doclist")))
    return out


def _values(table: Any) -> list[Section]:
    """Each value of a Solr named list of counts: flat ``[value, count, ...]`` or an object."""
    out: list[Section] = []
    if not isinstance(table, dict):
        return out
    for values in table.values():
        if isinstance(values, list):
            if values and isinstance(values[0], (dict, list)):  # arrmap / arrarr: one part per entry
                out.extend(Section(values, i) for i in range(len(values)))
            else:
                out.extend(Section(values, i, strings(values[i])[0], 2) for i in range(0, len(values), 2))
        elif isinstance(values, dict):
            out.extend(Section(values, key, [key]) for key in values)
    return out


def _pivots(entries: Any, out: list[Section]) -> None:
    stack = [entries]
    while stack:
        items = stack.pop()
        if not isinstance(items, list):
            continue
        for i, entry in enumerate(items):
            if isinstance(entry, dict):
                out.append(Section(items, i, strings(entry.get("value"))[0]))
                stack.append(entry.get("pivot"))


def solr_sections(doc: dict[str, Any]) -> list[Section]:
    out = grouped_docs(doc)
    for key in ("expanded", "moreLikeThis"):
        table = doc.get(key)
        if isinstance(table, dict):
            for name, entry in table.items():
                if key == "expanded":
                    out.append(Section(table, name, [name]))
                out.extend(_docs_of(entry))
        elif isinstance(table, list):  # json.nl=flat: [id, {docs}, ...]
            for i in range(1, len(table), 2):
                out.extend(_docs_of(table[i]))
    out.extend(_values(doc.get("terms")))
    facets = doc.get("facet_counts")
    if isinstance(facets, dict):
        out.extend(_values(facets.get("facet_fields")))
        pivot = facets.get("facet_pivot")
        if isinstance(pivot, dict):
            for entries in pivot.values():
                _pivots(entries, out)
    return out
