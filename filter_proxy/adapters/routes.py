"""Route patterns and route tables: what the filter does with each request path (deny by default).

A pattern is a path whose segments are literal, ``*`` (exactly one non-empty segment), ``{index}`` (one
segment that does not start with ``_``: an Elasticsearch index name, never an ``_endpoint``), ``{id}`` (one
segment, the only kind that may hold an encoded slash ``%2F``: a document id on a backend that routes on
the raw path, ``routing``) or ``**`` (any number of segments, including none). No other pattern matches
a segment holding ``%2F``. Paths are compared after collapsing repeated slashes and dropping a trailing
slash; the filter passes the canonical path (``filter_proxy.routing``).

A route table maps (method, path) to one of four outcomes: ``screen`` (the query is screened and the
response is screened as its ``kind`` says), ``read`` (the request is forwarded as sent; the answer is read
whole, every string and key of JSON, the whole of a text answer, and a listed string the client did not send
on this request withholds it: index information, mappings, settings, aliases, ``_cat`` tables, schema and
config reads, task lists, collection management, and writes whose answers carry documents; ``read.py``),
``pass`` (static files, health checks: forwarded and streamed back unread) or ``refuse`` (403). A request no
route matches is refused. When several routes match, the most specific pattern wins (a literal segment beats
``*``, ``*`` beats ``**``); on a tie an operator's route beats an adapter default, and the safer outcome wins
(refuse, then screen, then read, then pass). Literal segments match
case-insensitively, so ``/_SEARCH`` is screened as ``/_search``; a case variant of a *pass* route is
refused unless the backend reads paths case-insensitively (it might be another route there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

SCREEN, READ, PASS, REFUSE = "screen", "read", "pass", "refuse"
OUTCOMES = (SCREEN, READ, PASS, REFUSE)
# Response kinds of screened routes (how the response is screened; see middleware and filter_proxy/kinds.py).
SEARCH = "search"  # a search page: results and suggestions
SUGGEST = "suggest"  # suggestions only
DOCUMENT = "document"  # one stored document (ES _doc/_source, Solr /get, Meili and Typesense by id)
DOCUMENTS = "documents"  # a list of stored documents (ES _mget, Meili documents, Typesense export)
MULTI = "multi"  # a multi-search: each sub-query screened, each sub-response a search page
ASYNC = "async"  # a search page wrapped in a status object (ES _async_search)
TERMS = "terms"  # a list of index terms (ES _terms_enum, Solr /terms)
ROWS = "rows"  # tabular results (ES _sql / ES|QL, OpenSearch SQL/PPL): each row is a result
OPAQUE = "opaque"  # any other JSON: every string is checked and a match withholds the whole response
COUNT = "count"  # a count (ES _count): screened as opaque; a blocked query is answered {"count": 0}
# A write that runs or stores a query (ES delete/update by query, alias filters, index settings with
# synonyms; Meilisearch delete by filter and settings; Typesense update/delete by filter_by): the request is
# screened like a search's, the answer read as opaque; a blocked one is refused (403), never sent.
CHANGE = "change"
KINDS = (SEARCH, SUGGEST, DOCUMENT, DOCUMENTS, MULTI, ASYNC, TERMS, ROWS, OPAQUE, COUNT, CHANGE)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SAFETY = {REFUSE: 3, SCREEN: 2, READ: 1, PASS: 0}
INDEX = "{index}"
ID = "{id}"  # one segment; the only one that may hold an encoded slash (a document id)
_WILD = ("*", INDEX, ID)


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> tuple[str, ...]:
    return _segments(pattern)


def match_path(pattern: str, path: str) -> bool:
    """True when ``path`` matches ``pattern`` ("*" = one segment, "**" = any number of segments)."""
    return _match(_pattern(pattern), _segments(path))


def match_any(patterns: Iterable[str], path: str) -> bool:
    segments = _segments(path)
    return any(_match(_pattern(p), segments) for p in patterns)


def _match(pat: tuple[str, ...], seg: tuple[str, ...]) -> bool:
    if "**" not in pat:  # the common case: one comparison per segment
        return len(pat) == len(seg) and all(_one(p, s) for p, s in zip(pat, seg, strict=True))
    if not pat:
        return not seg
    head, rest = pat[0], pat[1:]
    if head == "**":
        return any(_match(rest, seg[i:]) for i in range(len(seg) + 1)
                   if not any("%2f" in t.lower() for t in seg[:i]))
    return bool(seg) and _one(head, seg[0]) and _match(rest, seg[1:])


def _one(p: str, s: str) -> bool:
    if "%2" in s and ("%2F" in s or "%2f" in s):  # an encoded slash: only an id, never another route
        return p in (ID, s)
    return p in (s, "*", ID) or (p == INDEX and not s.startswith("_"))


# --- route tables ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a route table. ``methods`` empty means every method. ``origin`` says where it came
    from: ``"adapter"`` or the config key (``routes.pass``, ...)."""

    methods: frozenset[str]
    pattern: str
    outcome: str
    kind: str = ""
    origin: str = "adapter"

    @property
    def segments(self) -> tuple[str, ...]:
        return _pattern(self.pattern)

    def specificity(self) -> tuple[int, ...]:
        # Per segment: literal 2, "*" 1, "**" 0; then exact length; compared lexicographically.
        ranks = tuple(0 if s == "**" else 1 if s in _WILD else 2 for s in self.segments)
        return (*ranks, 3 if "**" not in self.segments else 0)

    def captured(self, segments: tuple[str, ...]) -> tuple[str, ...]:
        """The segments of ``segments`` (a path this route matched) that are not a literal of its pattern:
        index names, document ids, collection names (``**`` takes every segment). A screened request's
        path is read as query text through these (``GET /b/_doc/<id>`` asks for ``<id>``)."""
        pattern = self.segments
        if "**" in pattern or len(pattern) != len(segments):
            return segments
        return tuple(s for p, s in zip(pattern, segments, strict=True) if p in _WILD or p.lower() != s.lower())

    def describe(self) -> str:
        methods = ",".join(sorted(self.methods)) if self.methods else "*"
        return f"{methods} {self.pattern}"


def route(spec: str, outcome: str, kind: str = "", origin: str = "adapter") -> Route:
    """A Route from ``"GET,POST /*/_search"`` (methods optional: ``"/x"`` is every method)."""
    text = spec.strip()
    methods: frozenset[str] = frozenset()
    if not text.startswith("/"):
        head, _, text = text.partition(" ")
        names = frozenset(m.strip().upper() for m in head.split(",") if m.strip())
        unknown = names - METHODS
        if unknown or not names:
            raise ValueError(f"unknown method {', '.join(sorted(unknown)) or head!r} in route {spec!r}")
        methods = names
        text = text.strip()
    pattern, _, rest = text.partition(" ")
    rest = rest.strip()
    if not pattern.startswith("/"):
        raise ValueError(f"route {spec!r}: the path pattern must start with '/'")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown route outcome {outcome!r}")
    if rest:  # an explicit response kind: "POST /x/find documents"
        if outcome != SCREEN:
            raise ValueError(f"route {spec!r}: only screened routes take a response kind")
        kind = rest
    if outcome == SCREEN:
        kind = kind or SEARCH
        if kind not in KINDS:
            raise ValueError(f"route {spec!r}: unknown response kind {kind!r} (known: {', '.join(KINDS)})")
    else:
        kind = ""
    return Route(methods, "/" + "/".join(_segments(pattern)), outcome, kind, origin)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request. ``route`` is None when nothing matched (refused by default)."""

    outcome: str
    kind: str = ""
    route: Route | None = None
    reason: str = ""


_UNLISTED = Decision(REFUSE, reason="unlisted")
_SLASHED = Decision(REFUSE, reason="encoded-slash")
_Entry = tuple[Route, tuple[str, ...], tuple[tuple[int, ...], int, int]]
_KNOWN = 4096


class RouteTable:
    """Routes of one adapter plus the operator's additions; ``decide(method, segments)``."""

    def __init__(self, routes: Sequence[Route], *, case_insensitive: bool = False) -> None:
        self.routes = tuple(routes)
        self.case_insensitive = case_insensitive
        # Candidates by path length, indexed by the first literal segment of each pattern (position, text):
        # a path only meets the routes whose first literal it has, so a lookup reads a handful, not all.
        self._literal: dict[int, dict[tuple[int, str], list[_Entry]]] = {}
        self._wild: dict[int, list[_Entry]] = {}
        self._deep: list[_Entry] = []
        for r in self.routes:
            lowered = tuple(s.lower() for s in r.segments)
            rank = (r.specificity(), 0 if r.origin == "adapter" else 1, _SAFETY[r.outcome])
            entry = (r, lowered, rank)
            if "**" in r.segments:
                self._deep.append(entry)
                continue
            first = next(((i, s) for i, s in enumerate(lowered) if s not in _WILD), None)
            if first is None:
                self._wild.setdefault(len(lowered), []).append(entry)
            else:
                self._literal.setdefault(len(lowered), {}).setdefault(first, []).append(entry)
        self._cache: dict[tuple[str, tuple[str, ...]], Decision] = {}

    def decide(self, method: str, segments: tuple[str, ...]) -> Decision:
        key = (method, segments)
        found = self._cache.get(key)
        if found is None:
            found = self._decide(method, segments)
            if len(self._cache) < _KNOWN:
                self._cache[key] = found
        return found

    def _decide(self, method: str, segments: tuple[str, ...]) -> Decision:
        found = self._match(method, segments)
        if method != "OPTIONS" or found.route is not None:
            return found
        # OPTIONS (a CORS preflight) names no route of its own: it is screened where any method is
        # screened, passed where the path only passes, refused elsewhere.
        others = [self._match(m, segments) for m in sorted(METHODS - {"OPTIONS", "HEAD"})]
        for outcome in (SCREEN, READ, PASS):
            for decision in others:
                if decision.outcome == outcome:
                    return decision
        return _UNLISTED

    def _match(self, method: str, segments: tuple[str, ...]) -> Decision:
        lowered = tuple(s.lower() for s in segments)
        best: tuple[tuple[int, ...], int, int] | None = None
        chosen: Route | None = None
        candidates: list[_Entry] = [*self._wild.get(len(lowered), ()), *self._deep]
        by_literal = self._literal.get(len(lowered))
        if by_literal:
            for position, segment in enumerate(lowered):
                candidates.extend(by_literal.get((position, segment), ()))
        for r, pat, rank in candidates:
            if r.methods and method not in r.methods and not (method == "HEAD" and "GET" in r.methods):
                continue
            if (best is None or rank > best) and _match(pat, lowered):
                best, chosen = rank, r
        if chosen is None:
            # An encoded "/" that no {id} segment took: as ambiguous as before ids could hold one (400).
            return _SLASHED if any("%2f" in s for s in lowered) else _UNLISTED
        if chosen.outcome in (PASS, READ) and not self.case_insensitive and not _match(chosen.segments, segments):
            # The case differs from the listed spelling: on a case-sensitive backend that may be another
            # route entirely, so it is not passed on unread.
            return Decision(REFUSE, route=chosen, reason="case")
        return Decision(chosen.outcome, chosen.kind, chosen)

    def methods_for(self, segments: tuple[str, ...]) -> list[str]:
        """Methods the table does not refuse on this path (for an ``Allow`` header)."""
        out = [m for m in sorted(METHODS - {"OPTIONS"}) if self.decide(m, segments).outcome != REFUSE]
        return [*out, "OPTIONS"]

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(methods, pattern, outcome, kind, origin) per route, for ``serve --print-routes``."""
        ordered = sorted(self.routes, key=lambda r: (r.pattern, r.describe()))
        return [(r.describe().split(" ", 1)[0], r.pattern, r.outcome, r.kind or "-", r.origin) for r in ordered]


def build_table(
    defaults: Sequence[Route],
    *,
    search_paths: Sequence[str] = (),
    suggest_paths: Sequence[str] = (),
    screen: Sequence[str] = (),
    pass_: Sequence[str] = (),
    refuse: Sequence[str] = (),
    read: Sequence[str] = (),
    case_insensitive: bool = False,
) -> RouteTable:
    """An adapter's default routes plus the operator's (``search_paths`` / ``suggest_paths`` are screened
    on every method as search pages / suggestions). Raises ValueError naming the bad entry."""
    extra: list[Route] = []
    extra += [route(p, SCREEN, SEARCH, "routes.search_paths") for p in search_paths]
    extra += [route(p, SCREEN, SUGGEST, "routes.suggest_paths") for p in suggest_paths]
    extra += [route(p, SCREEN, SEARCH, "routes.screen") for p in screen]
    extra += [route(p, PASS, "", "routes.pass") for p in pass_]
    extra += [route(p, READ, "", "routes.read") for p in read]
    extra += [route(p, REFUSE, "", "routes.refuse") for p in refuse]
    return RouteTable([*defaults, *extra], case_insensitive=case_insensitive)
