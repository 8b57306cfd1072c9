"""OpenSearch suggestions (the browser search-bar format): ``["prefix", [completions], [descriptions], [urls]]``.

The descriptions and URLs arrays, when present, run parallel to the completions and are kept in step when
suggestions are removed. A suggestion's text for screening is its completion, plus its description and
URL when there are (joined by newlines).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, ResultView
from filter_proxy.adapters.querysyntax import screened_texts
from filter_proxy.adapters.request import param_values, request_strings


def _check(doc: Any) -> list[Any]:
    if not (isinstance(doc, list) and len(doc) >= 2 and isinstance(doc[1], list)):
        raise AdapterError("not an OpenSearch suggestions array ([prefix, [completions], ...])")
    if not all(isinstance(s, str) for s in doc[1]):
        raise AdapterError("an OpenSearch completion is not a string")
    return doc


def remove_parallel(doc: list[Any], indices: set[int]) -> list[Any]:
    """Drop positions ``indices`` from the completions and from every parallel array after them."""
    for k in range(1, len(doc)):
        if isinstance(doc[k], list):
            doc[k] = [x for i, x in enumerate(doc[k]) if i not in indices]
    return doc


class OpenSearchSuggestionsAdapter(Adapter):
    name = "opensearch-suggestions"
    default_search_paths = ()
    default_suggest_paths = ("/suggest", "/autocomplete", "/complete/search")

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value), form field, and key and string of a JSON body, each also
        without query syntax."""
        return screened_texts(request_strings(params, body, content_type))

    def results(self, doc: Any) -> list[ResultView]:
        _check(doc)
        return []

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        return None

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        return [(doc, 0)] if isinstance(doc, list) and doc and isinstance(doc[0], str) else []  # the prefix asked for

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        # The format requires the prefix as the first element.
        prefix = next(iter(param_values(params, [self.query_param])), "")
        return [prefix, []]

    def suggestions(self, doc: Any) -> list[str]:
        doc = _check(doc)
        parallel = [doc[k] for k in (2, 3) if len(doc) > k and isinstance(doc[k], list)]
        out = []
        for i, completion in enumerate(doc[1]):
            # The completion with its description and URL, one per line (each read, URLs as URLs too).
            extra = [p[i] for p in parallel if i < len(p) and isinstance(p[i], str) and p[i].strip()]
            out.append("\n".join([completion, *extra]) if extra else completion)
        return out

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        return remove_parallel(_check(doc), indices)
