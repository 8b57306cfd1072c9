"""WarningCatalog: language negotiation, the JSON ``safety`` object and the HTML page (Jinja2)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from filter_proxy.verdict import Verdict
from filter_proxy.warnings.texts import (
    CACHE_LIMIT,
    DEFAULT_LANGUAGE,
    NEUTRAL,
    PAGE_DEFAULTS,
    Helpline,
    Link,
    ResultLink,
    WarningText,
    url_problem,
)


class WarningCatalog:
    """Warning texts by language and kind. Built by ``load_warnings`` or ``from_json``; immutable."""

    def __init__(self, texts: dict[str, dict[str, WarningText]], pages: dict[str, dict[str, str]],
                 default_language: str = DEFAULT_LANGUAGE) -> None:
        self.texts = texts
        self.pages = pages
        self.default_language = default_language
        self.languages: list[str] = sorted(texts, key=lambda lang: (lang != default_language, lang))
        self.kinds: set[str] = set(texts.get(default_language, {}))
        self._lang_cache: dict[str | None, str] = {}
        self._html_cache: dict[tuple[str | None, str, str], str] = {}

    # --- language negotiation ----------------------------------------------------------------------
    def choose_language(self, accept_language: str | None) -> str:
        """The best language for an ``Accept-Language`` header: highest q first, exact tag then its base
        language (fr-CA -> fr), else the default language."""
        cached = self._lang_cache.get(accept_language)
        if cached is not None:
            return cached
        chosen = self._negotiate(accept_language or "")
        if len(self._lang_cache) >= CACHE_LIMIT:  # headers are client input: keep the cache bounded
            self._lang_cache.clear()
        self._lang_cache[accept_language] = chosen
        return chosen

    def _negotiate(self, header: str) -> str:
        ranges: list[tuple[float, int, str]] = []
        for n, part in enumerate(header.split(",")[:32]):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            if tag and q > 0:
                ranges.append((-q, n, tag.strip().lower()))
        for _, _, tag in sorted(ranges):
            if tag == "*":
                return self.default_language
            while tag:
                if tag in self.texts:
                    return tag
                tag = tag.rpartition("-")[0]
        return self.default_language

    # --- output ------------------------------------------------------------------------------------
    def text(self, kind: str | None, lang: str) -> tuple[WarningText, str]:
        """The text of ``kind`` in ``lang``, falling back to the default language; and the language used."""
        for candidate in (lang, self.default_language):
            found = self.texts.get(candidate, {}).get(kind or "")
            if found is not None:
                return found, candidate
        return NEUTRAL, "en"

    def chrome(self, lang: str) -> dict[str, str]:
        """The page labels (headings, "Back to search", text direction) of ``lang``, English where missing."""
        return {**PAGE_DEFAULTS, **self.pages.get(self.default_language, {}), **self.pages.get(lang, {})}

    def safety_object(self, verdict: Verdict, lang: str) -> dict[str, Any]:
        """``{"action", "warning": {...}}`` for a JSON response. Never the rule id, the query, or the
        internal category name (a rule-set detail that would tell a prober which list matched)."""
        text, used = self.text(verdict.warning, lang)
        return {
            "action": verdict.action,
            "warning": {
                "kind": verdict.warning,
                "lang": used,
                "title": text.title,
                "body": text.body,
                "links": [{"label": link.label, "url": link.url} for link in text.links],
                "helplines": [{k: v for k, v in asdict(h).items() if v is not None} for h in text.helplines],
            },
        }

    def render_html(self, verdict: Verdict, lang: str, *, back_url: str = "/",
                    results: list[ResultLink] | None = None) -> str:
        """A self-contained, accessible warning page (no scripts, no external assets). With ``results``
        (a `warn` verdict: the screened results of the search), the notice is shown above them. Pages
        without results are cached per (kind, language, back link): they depend on nothing else, in
        particular not on the query."""
        key = (verdict.warning, lang, back_url)
        page = self._html_cache.get(key) if results is None else None
        if page is None:
            text, used = self.text(verdict.warning, lang)
            page = _template().render(lang=used, text=text, page=self.chrome(used), kind=verdict.warning or "",
                                      back_url=back_url if _safe_back(back_url) else "/", results=results)
            if results is None:
                if len(self._html_cache) >= CACHE_LIMIT:
                    self._html_cache.clear()
                self._html_cache[key] = page
        return page

    # --- compiled bundle ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "default_language": self.default_language,
            "languages": {
                lang: {"page": self.pages.get(lang, {}), "kinds": {k: _text_json(t) for k, t in kinds.items()}}
                for lang, kinds in self.texts.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WarningCatalog:
        try:
            if data.get("version") != 1:
                raise ValueError(f"unknown warnings format version {data.get('version')!r}")
            texts: dict[str, dict[str, WarningText]] = {}
            pages: dict[str, dict[str, str]] = {}
            for lang, entry in data["languages"].items():
                pages[lang] = {str(k): str(v) for k, v in entry.get("page", {}).items()}
                texts[lang] = {
                    kind: WarningText(
                        t["title"],
                        tuple(t["paragraphs"]),
                        tuple(Link(**link) for link in t["links"]),
                        tuple(Helpline(**h) for h in t["helplines"]),
                    )
                    for kind, t in entry["kinds"].items()
                }
            return cls(texts, pages, data["default_language"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed warnings section: {exc}") from exc


def warn_page(catalog: WarningCatalog, verdict: Verdict, lang: str, adapter: Any, doc: Any,
              back_url: str = "/") -> str:
    """The HTML page of a `warn` search for a browser: the notice above the page's results. ``doc`` has
    been screened already; the adapter's result views give each result's title, link and snippet."""
    try:
        views = adapter.results(doc)
    except Exception:  # the page was screened through the same call; be safe anyway: no results shown
        views = []
    results = [ResultLink.make(v.title, v.url, v.snippet) for v in views]
    return catalog.render_html(verdict, lang, back_url=back_url, results=results)


def _safe_back(url: str) -> bool:
    """A "back to search" link must stay on this site (a path) or be an https URL the operator set."""
    return (url.startswith("/") and not url.startswith("//")) or url_problem(url) is None and url.startswith("https://")


def _text_json(text: WarningText) -> dict[str, Any]:
    return {
        "title": text.title,
        "paragraphs": list(text.paragraphs),
        "links": [asdict(link) for link in text.links],
        "helplines": [asdict(h) for h in text.helplines],
    }


_ENV: Environment | None = None


def _template() -> Any:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV.get_template("warning.html")
