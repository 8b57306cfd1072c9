"""What every backend adapter provides: read a response's results, remove some, build an empty page.

One module per backend response shape; each subclass knows its backend's usual search and suggest routes.
Adapters edit the parsed JSON document in place and return it; they never re-encode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from filter_proxy.adapters.routes import match_any, match_path
from filter_proxy.adapters.walk import collect

__all__ = ["Adapter", "AdapterError", "FieldMapping", "ResultView", "Section", "match_any", "match_path"]


class AdapterError(ValueError):
    """The upstream document does not have the shape this adapter expects (the middleware fails closed: 502)."""


@dataclass(slots=True)
class ResultView:
    """The parts of one search result that are screened. ``index`` is its position in the result list."""

    index: int
    title: str = ""
    snippet: str = ""
    url: str | None = None
    image_url: str | None = None
    image_hashes: dict[str, str] = field(default_factory=dict)  # algorithm -> hex, precomputed by the backend
    extra_text: list[str] = field(default_factory=list)  # further configured text fields
    # Further URLs shown with the result (a second link field, a full-size image beside the thumbnail,
    # an infobox's links): check them with check_url like ``url``.
    extra_urls: list[str] = field(default_factory=list)
    # Further image fields (a full-size image beside the thumbnail): also in ``extra_urls`` for the URL
    # rules, and fetched and hashed like ``image_url`` by the image screener.
    extra_images: list[str] = field(default_factory=list)
    # Deny by default: the result's whole subtree(s) as they sit in the response. Every string in them
    # (keys included) and their URL-shaped parts are screened (``page_results.screen_results``), not only
    # the mapped fields; a view without nodes (made by hand) is screened on its mapped fields.
    nodes: tuple[Any, ...] = ()

    def texts(self) -> list[str]:
        """The texts screened for this result: every string found in its nodes (``walk.collect``: keys,
        markup stripped beside the original), else the mapped fields."""
        if self.nodes:
            return self._walk()[0]
        if self.extra_text:
            return [t for t in (self.title, self.snippet, *self.extra_text) if t]
        if self.title and self.snippet:
            return [self.title, self.snippet]
        return [self.title] if self.title else [self.snippet] if self.snippet else []

    def urls(self) -> list[str]:
        """Every URL of the result to check against the URL rules (link, image, further and URL-shaped)."""
        links = self._walk()[1] if self.nodes else []
        return [u for u in (self.url, self.image_url, *self.extra_urls, *links) if u]

    def _walk(self) -> tuple[list[str], list[str]]:
        texts: list[str] = []
        links: list[str] = []
        for node in self.nodes:
            collect(node, texts, links)
        return texts, links


@dataclass(slots=True)
class Section:
    """A removable part of a response besides the results: an aggregation bucket, a ``top_hits`` or grouped
    document, a completion option, a facet value. It sits at ``owner[key]``; removing it drops ``width``
    list items from ``key`` on (2 for a Solr flat ``[name, value]`` pair), or the key of an object.

    ``texts`` None: every string of ``owner[key]`` is screened (and, kept, it is not walked again).
    ``texts`` given: only those are screened here (a bucket's key); the rest of the part is still read by
    the final walk over the document, so nothing in it goes unscreened.
    """

    owner: Any
    key: int | str
    texts: list[str] | None = None
    width: int = 1
    # Counts of the part's container, each lowered by one when the part goes (``(holder, key)``: a
    # ``top_hits`` total, a Solr group's ``numFound``), in the count's own type (``adapters/counts.py``).
    counts: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Which document fields hold the screened parts. Dotted paths inside one result's source document
    (for the generic adapter: JSON pointers)."""

    title: tuple[str, ...] = ("title",)
    snippet: tuple[str, ...] = ("snippet", "description", "content", "body", "text")
    url: tuple[str, ...] = ("url", "link")
    image_url: tuple[str, ...] = ("thumbnail", "image", "img_src", "thumbnail_src", "image_url")
    image_hash: Mapping[str, str] = field(default_factory=dict)  # algorithm -> field holding its hex
    extra_text: tuple[str, ...] = ()


class Adapter:
    """Base class. Subclasses set ``name`` and the default routes and implement the methods."""

    name: ClassVar[str] = ""
    # Path patterns; "*" matches exactly one path segment ("/*/_search" matches "/books/_search").
    default_search_paths: ClassVar[tuple[str, ...]] = ()
    default_suggest_paths: ClassVar[tuple[str, ...]] = ()
    query_param: str = "q"  # the class default; an instance may be given another
    # The backend's usual document fields; used when no FieldMapping is given.
    default_fields: ClassVar[FieldMapping] = FieldMapping()
    # True only for a backend that reads request paths case-insensitively (none of the built-in ones).
    paths_case_insensitive: ClassVar[bool] = False
    # Headers the backend puts on every answer, added to answers the filter makes itself (a blocked query):
    # the official Elasticsearch client refuses a 2xx answer without X-Elastic-Product.
    local_headers: ClassVar[tuple[tuple[bytes, bytes], ...]] = ()

    def __init__(self, fields: FieldMapping | None = None, *, query_param: str | None = None) -> None:
        self.fields = fields or self.default_fields
        if query_param:
            self.query_param = query_param

    def is_search_path(self, path: str) -> bool:
        return match_any(self.default_search_paths, path)

    def is_suggest_path(self, path: str) -> bool:
        return match_any(self.default_suggest_paths, path)

    # --- routes and response kinds (filter_proxy/adapters/route_tables.py, documents.py) --------------
    def default_routes(self) -> tuple[Any, ...]:
        """This backend's route table (``routes.Route``): screened, passed; anything else is refused."""
        from filter_proxy.adapters.route_tables import TABLES

        return TABLES.get(self.name, ())

    def document_shape(self) -> Any:
        """How this backend's document, terms and rows responses read (``documents.DocumentShape``)."""
        from filter_proxy.adapters.documents import DEFAULT_SHAPE, SHAPES

        return SHAPES.get(self.name, DEFAULT_SHAPE)

    # --- the query -------------------------------------------------------------------------------
    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every text the user asked for in this request (query parameter, form field, JSON body)."""
        raise NotImplementedError

    # --- search responses ------------------------------------------------------------------------
    def results(self, doc: Any) -> list[ResultView]:
        """The screened views of the response's results. Raises AdapterError on a malformed document."""
        raise NotImplementedError

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        """Drop the results at ``indices`` and adjust totals; return the document."""
        raise NotImplementedError

    def hide_image(self, doc: Any, index: int) -> None:
        """Remove the thumbnail of result ``index`` (the result stays)."""
        raise NotImplementedError

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        """The backend's own response shape with no results, for a blocked query (upstream never called)."""
        raise NotImplementedError

    def sections(self, doc: Any) -> list[Section]:
        """Removable parts of a search response other than its results (see ``Section``)."""
        return []

    def opaque_sections(self, doc: Any) -> list[Section]:
        """Removable parts of an answer of an ``opaque`` route (``kinds.py``), each screened whole: a listed
        one is removed, the rest of the answer is read as opaque (Meilisearch facet search: each facet
        hit). Default: none (a listed string anywhere withholds the answer)."""
        return []

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        """``(object, key)`` or ``(array, index)`` members of the response that only echo the request (Solr's ``responseHeader``,
        Meilisearch's ``query``): the request was screened, so they are not read as content. Without this a
        ``warn`` query echoed back would withhold its own page."""
        return []

    # --- suggestions (autocomplete) --------------------------------------------------------------
    def suggestions(self, doc: Any) -> list[str]:
        """Suggestion strings in a response (a suggest route's response, or suggestions embedded in a search
        response). Empty when the shape has none."""
        return []

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        return doc

    def empty_suggestions(self, params: Sequence[tuple[str, str]]) -> Any:
        """A suggest response with no suggestions, for a blocked prefix."""
        return self.empty(params)
