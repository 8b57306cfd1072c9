"""Backend adapters: one module per search-backend response shape. ``get_adapter(name)`` picks one."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView
from filter_proxy.adapters.routes import match_any, match_path

# name -> "module:Class"; imported on first use so one backend's module never slows another's start.
_ADAPTERS: dict[str, str] = {
    "elasticsearch": "elasticsearch:ElasticsearchAdapter",
    "opensearch": "elasticsearch:ElasticsearchAdapter",
    "solr": "solr:SolrAdapter",
    "meilisearch": "meilisearch:MeilisearchAdapter",
    "typesense": "typesense:TypesenseAdapter",
    "searxng": "searxng:SearxngAdapter",
    "generic": "generic:GenericAdapter",
    "opensearch-suggestions": "opensearch_suggestions:OpenSearchSuggestionsAdapter",
}

__all__ = [
    "Adapter",
    "AdapterError",
    "FieldMapping",
    "ResultView",
    "adapter_names",
    "get_adapter",
    "match_any",
    "match_path",
]


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


def adapter_class(name: str) -> type[Adapter]:
    key = name.strip().lower()
    if key not in _ADAPTERS:
        raise ValueError(f"unknown adapter {name!r} (known: {', '.join(adapter_names())})")
    module, cls = _ADAPTERS[key].split(":")
    found: type[Adapter] = getattr(import_module(f"filter_proxy.adapters.{module}"), cls)
    return found


def get_adapter(name: str, fields: FieldMapping | None = None, **options: Any) -> Adapter:
    """An adapter instance by name. ``options`` are the adapter's keyword options (every adapter takes
    ``query_param``; ``generic`` takes its JSON pointers). Unknown names or options raise ValueError."""
    cls = adapter_class(name)
    try:
        return cls(fields, **options)
    except TypeError as exc:
        raise ValueError(f"adapter {name!r}: {exc}") from exc
