"""Any JSON search API, described by JSON pointers (RFC 6901).

Options (also accepted by ``get_adapter("generic", ...)`` and the config file):
  results          pointer to the result list (required), e.g. "/data/items"; "" when the body is the list
  total            pointer to a total count to adjust (optional), e.g. "/data/total"
  suggestions      pointer to a suggestion list (optional); items are strings or objects
  suggestion_text  path of the text inside a suggestion object (default "text")
  query_param      the query parameter / form field (default "q")
  query_pointer    accepted for old configs; every string of the request is screened now
  title, snippet, url, image_url, extra_text   paths inside one result (pointer "/a/b" or dotted "a.b");
                   a string or a list, used when no FieldMapping is given
  image_hash       {algorithm: path} of precomputed hashes inside one result
  echo             pointer(s) to members of the response that only repeat the request (e.g. "/query"):
                   not read as content (the request was screened), so a warn query still gets its page
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView
from filter_proxy.adapters.counts import lowered
from filter_proxy.adapters.fields import MISSING, get_field, hide_images, view_builder
from filter_proxy.adapters.pointer import parse_pointer, pointer_get, pointer_set
from filter_proxy.adapters.querysyntax import screened_texts
from filter_proxy.adapters.request import request_strings


def _paths(value: str | Sequence[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return (value,) if isinstance(value, str) else tuple(value)


class GenericAdapter(Adapter):
    name = "generic"

    def __init__(
        self,
        fields: FieldMapping | None = None,
        *,
        results: str = "/results",
        total: str | None = None,
        suggestions: str | None = None,
        suggestion_text: str = "text",
        query_param: str | None = None,
        query_pointer: str | None = None,
        title: str | Sequence[str] | None = None,
        snippet: str | Sequence[str] | None = None,
        url: str | Sequence[str] | None = None,
        image_url: str | Sequence[str] | None = None,
        extra_text: str | Sequence[str] | None = None,
        image_hash: Mapping[str, str] | None = None,
        echo: str | Sequence[str] | None = None,
    ) -> None:
        if fields is None:
            base = FieldMapping()
            fields = FieldMapping(
                title=_paths(title, base.title),
                snippet=_paths(snippet, base.snippet),
                url=_paths(url, base.url),
                image_url=_paths(image_url, base.image_url),
                image_hash=dict(image_hash or {}),
                extra_text=_paths(extra_text, ()),
            )
        super().__init__(fields, query_param=query_param)
        self.echo_pointers = _paths(echo, ())
        for pointer in (results, total, suggestions, query_pointer, *self.echo_pointers):
            if pointer is not None:
                parse_pointer(pointer)  # a bad pointer is a configuration error, raised now
        if any(not p for p in self.echo_pointers):
            raise ValueError("an echo pointer cannot be the whole document")
        self.results_pointer = results
        self.total_pointer = total
        self.suggestions_pointer = suggestions
        self.suggestion_text = suggestion_text
        self.query_pointer = query_pointer or "/" + self.query_param.replace("~", "~0").replace("/", "~1")

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value), form field, and key and string of a JSON body, each also
        without query syntax."""
        return screened_texts(request_strings(params, body, content_type))

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        out: list[tuple[Any, Any]] = []
        for pointer in self.echo_pointers:
            tokens = parse_pointer(pointer)
            parent = pointer_get(doc, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1]))
            last = tokens[-1]
            if isinstance(parent, dict) and last in parent:
                out.append((parent, last))
            elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                out.append((parent, int(last)))
        return out

    def _items(self, doc: Any) -> list[Any]:
        items = pointer_get(doc, self.results_pointer, MISSING)
        if not isinstance(items, list):
            raise AdapterError(f"no result list at {self.results_pointer!r}")
        if not all(isinstance(item, dict) for item in items):
            raise AdapterError(f"an entry of {self.results_pointer!r} is not an object")
        return items

    def results(self, doc: Any) -> list[ResultView]:
        build = view_builder(self.fields).build  # build_view(i, [item], fields, (), (item,))
        return [build(i, (item,)) for i, item in enumerate(self._items(doc))]

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        items = self._items(doc)
        kept = [item for i, item in enumerate(items) if i not in indices]
        removed = len(items) - len(kept)
        items[:] = kept
        if removed and self.total_pointer is not None:
            total = pointer_get(doc, self.total_pointer)
            if lowered(total, removed) is not total:  # counts.py: a count in its own type
                pointer_set(doc, self.total_pointer, lowered(total, removed))
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        items = self._items(doc)
        if 0 <= index < len(items):
            hide_images([items[index]], self.fields)

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        doc: Any = pointer_set({}, self.results_pointer, [])
        if isinstance(doc, dict):
            if self.total_pointer is not None:
                pointer_set(doc, self.total_pointer, 0)
            if self.suggestions_pointer:
                pointer_set(doc, self.suggestions_pointer, [])
        return doc

    def _suggestion_items(self, doc: Any) -> list[Any]:
        if self.suggestions_pointer is None:
            return []
        items = pointer_get(doc, self.suggestions_pointer, MISSING)
        if items is MISSING or items is None:
            return []
        if not isinstance(items, list):
            raise AdapterError(f"no suggestion list at {self.suggestions_pointer!r}")
        return items

    def suggestions(self, doc: Any) -> list[str]:
        out = []
        for item in self._suggestion_items(doc):
            text = item if isinstance(item, str) else get_field(item, self.suggestion_text)
            if not isinstance(text, str):
                raise AdapterError(f"a suggestion has no text at {self.suggestion_text!r}")
            out.append(text)
        return out

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        items = self._suggestion_items(doc)
        items[:] = [x for i, x in enumerate(items) if i not in indices]
        return doc

    def empty_suggestions(self, params: Sequence[tuple[str, str]]) -> Any:
        if self.suggestions_pointer is None:
            return self.empty(params)
        return pointer_set({}, self.suggestions_pointer, [])
