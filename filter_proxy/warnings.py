"""Deterrence and support warnings: texts per kind and language, as a JSON ``safety`` object or an HTML page.

Texts live in ``rules/warnings/<lang>.toml`` (the format is documented at the top of ``en.toml``). The
language comes from the file name. Every problem is reported as ``path:line: reason``; tomllib gives no
line numbers for values, so a problem points at the line of its table header or of the offending value.
Nothing here ever sees the user's query or the matching rule id.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from filter_proxy.errors import Problem
from filter_proxy.verdict import Verdict

DEFAULT_LANGUAGE = "en"
PAGE_TABLE = "page"  # reserved table: page chrome (headings, labels, text direction)
PAGE_DEFAULTS = {
    "dir": "ltr",
    "help_heading": "Confidential help",
    "links_heading": "Report and find out more",
    "phone_label": "Phone",
    "hours_label": "Hours",
    "region_label": "Where",
    "website_label": "Website",
}
KIND_KEYS = {"title", "body", "links", "helplines"}
HELPLINE_KEYS = ("name", "phone", "url", "hours", "region")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{1,30}$")
_LINE = re.compile(r"at line (\d+)")
_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Helpline:
    name: str
    phone: str | None = None
    url: str | None = None
    hours: str | None = None
    region: str | None = None

    @property
    def tel(self) -> str | None:
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone) if self.phone else None


@dataclass(frozen=True, slots=True)
class WarningText:
    title: str
    paragraphs: tuple[str, ...]
    links: tuple[Link, ...] = ()
    helplines: tuple[Helpline, ...] = ()

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


# Shown when a verdict names no kind the catalog knows: neutral, never a wrong kind of warning.
NEUTRAL = WarningText("No results", ("There are no results for this search.",))


def url_problem(url: Any) -> str | None:
    """Why a link is not acceptable, or None. Links must be https, tel: or mailto:."""
    if not isinstance(url, str) or not url.strip():
        return "url must be a non-empty string"
    if url.startswith("https://"):
        host = url[8:].split("/", 1)[0].split("?", 1)[0]
        return None if host and " " not in url else f"{url!r} is not a valid https URL"
    if url.startswith("tel:"):
        return None if _PHONE.match(url[4:]) else f"{url!r} is not a valid tel: link"
    if url.startswith("mailto:"):
        return None if re.match(r"^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$", url) else f"{url!r} is not a valid mailto: link"
    return f"link {url!r} must start with https://, tel: or mailto:"


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
        self._html_cache: dict[tuple[str | None, str], str] = {}

    # --- language negotiation ----------------------------------------------------------------------
    def choose_language(self, accept_language: str | None) -> str:
        """The best language for an ``Accept-Language`` header: highest q first, exact tag then its base
        language (fr-CA -> fr), else the default language."""
        cached = self._lang_cache.get(accept_language)
        if cached is not None:
            return cached
        chosen = self._negotiate(accept_language or "")
        if len(self._lang_cache) >= _CACHE_LIMIT:  # headers are client input: keep the cache bounded
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

    def safety_object(self, verdict: Verdict, lang: str) -> dict[str, Any]:
        """``{"action", "category", "warning": {...}}`` for a JSON response. Never the rule id or query."""
        text, used = self.text(verdict.warning, lang)
        return {
            "action": verdict.action,
            "category": verdict.category,
            "warning": {
                "kind": verdict.warning,
                "lang": used,
                "title": text.title,
                "body": text.body,
                "links": [{"label": link.label, "url": link.url} for link in text.links],
                "helplines": [{k: v for k, v in asdict(h).items() if v is not None} for h in text.helplines],
            },
        }

    def render_html(self, verdict: Verdict, lang: str) -> str:
        """A self-contained, accessible warning page (no scripts, no external assets). Cached per
        (kind, language): the page depends on nothing else, in particular not on the query."""
        key = (verdict.warning, lang)
        page = self._html_cache.get(key)
        if page is None:
            text, used = self.text(verdict.warning, lang)
            chrome = {**PAGE_DEFAULTS, **self.pages.get(used, {})}
            page = _template().render(lang=used, text=text, page=chrome)
            if len(self._html_cache) >= _CACHE_LIMIT:
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
            loader=FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV.get_template("warning.html")


# --- loading ---------------------------------------------------------------------------------------------
def load_warnings(directory: Path | str, default_language: str = DEFAULT_LANGUAGE) -> tuple[WarningCatalog, list[Problem]]:
    """Read every ``<lang>.toml`` in ``directory``. Returns the catalog of what is valid and every problem.
    A missing directory is an empty catalog (a rule set whose categories only strip needs no warnings)."""
    directory = Path(directory)
    problems: list[Problem] = []
    texts: dict[str, dict[str, WarningText]] = {}
    pages: dict[str, dict[str, str]] = {}
    headers: dict[str, dict[str, tuple[str, int]]] = {}  # lang -> kind -> (path, line of its header)
    if not directory.is_dir():
        return WarningCatalog({}, {}, default_language), problems
    for path in sorted(directory.glob("*.toml")):
        lang = path.stem.lower()
        if not _LANG.match(lang):
            problems.append(Problem(str(path), 0, "file name must be a language code such as en.toml or pt-br.toml"))
            continue
        kinds, page, where = read_language(path, problems)
        texts[lang], pages[lang], headers[lang] = kinds, page, where
    default_path = str(directory / f"{default_language}.toml")
    if texts and default_language not in texts:
        problems.append(Problem(default_path, 0, f"missing: the default language ({default_language}) needs its own file"))
    base = set(texts.get(default_language, {}))
    for lang, where in headers.items():
        if lang == default_language or default_language not in texts:
            continue
        for kind, (path, line) in where.items():
            if kind not in base:
                problems.append(Problem(path, line, f"warning kind {kind!r} has no text in the default language ({default_language}.toml)"))
        for kind in sorted(base - set(where)):
            problems.append(Problem(str(directory / f"{lang}.toml"), 0,
                                    f"warning kind {kind!r} is not translated; {default_language} is shown", "warning"))
    return WarningCatalog(texts, pages, default_language), problems


def read_language(path: Path, problems: list[Problem]) -> tuple[dict[str, WarningText], dict[str, str], dict[str, tuple[str, int]]]:
    """One language file: its kinds, its page chrome and where each kind's table starts."""
    where_path = str(path)
    try:
        source = path.read_text(encoding="utf-8")
        data = tomllib.loads(source)
    except UnicodeDecodeError:
        problems.append(Problem(where_path, 0, "not UTF-8 text"))
        return {}, {}, {}
    except tomllib.TOMLDecodeError as exc:
        found = _LINE.search(str(exc))
        problems.append(Problem(where_path, int(found.group(1)) if found else 0, f"TOML syntax: {exc}"))
        return {}, {}, {}
    lines = source.splitlines()

    def err(line: int, reason: str, severity: str = "error") -> None:
        problems.append(Problem(where_path, line, reason, severity))

    kinds: dict[str, WarningText] = {}
    page: dict[str, str] = {}
    where: dict[str, tuple[str, int]] = {}
    for kind, raw in data.items():
        start = _header_line(lines, kind)
        if kind == PAGE_TABLE:
            page = _read_page(raw, start, err)
            continue
        where[kind] = (where_path, start)
        if not _KIND.match(kind):
            err(start, f"warning kind {kind!r}: use lower-case letters, digits, '-' or '_'")
            continue
        if not isinstance(raw, dict):
            err(start, f"{kind!r} must be a table ([{kind}]) with title, body, links and helplines")
            continue
        text = _read_kind(kind, raw, lines, start, err)
        if text is not None:
            kinds[kind] = text
    return kinds, page, where


def _read_kind(kind: str, raw: dict[str, Any], lines: list[str], start: int, err: Any) -> WarningText | None:
    for key in raw:
        if key not in KIND_KEYS:
            err(_find(lines, key, start), f"[{kind}]: unknown key {key!r} (expected {', '.join(sorted(KIND_KEYS))})", "warning")
    ok = True
    title, body = raw.get("title"), raw.get("body")
    if not isinstance(title, str) or not title.strip():
        err(start, f"[{kind}]: missing title (a non-empty string)")
        ok = False
    paragraphs = tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()) if isinstance(body, str) else ()
    if not paragraphs:
        err(start, f"[{kind}]: missing body (plain-text paragraphs separated by blank lines)")
        ok = False
    links: list[Link] = []
    for item in _tables(raw.get("links", []), f"[{kind}] links", start, err):
        label, url = item.get("label"), item.get("url")
        line = _find(lines, url if isinstance(url, str) else "links", start)
        problem = url_problem(url)
        if not isinstance(label, str) or not label.strip():
            err(line, f"[{kind}] links: every link needs a label")
            ok = False
        elif problem:
            err(line, f"[{kind}] links: {problem}")
            ok = False
        else:
            links.append(Link(label.strip(), url))
    helplines: list[Helpline] = []
    for item in _tables(raw.get("helplines", []), f"[{kind}] helplines", start, err):
        name = item.get("name")
        line = _find(lines, name if isinstance(name, str) else "helplines", start)
        values = {k: item.get(k) for k in HELPLINE_KEYS}
        bad = [k for k, v in values.items() if v is not None and not (isinstance(v, str) and v.strip())]
        if not isinstance(name, str) or not name.strip() or bad:
            err(line, f"[{kind}] helplines: name is required and {', '.join(bad) or 'every field'} must be text")
            ok = False
            continue
        if values["phone"] and not _PHONE.match(values["phone"]):
            err(_find(lines, values["phone"], start), f"[{kind}] helplines: phone {values['phone']!r} is not a phone number")
            ok = False
            continue
        if values["url"] and (problem := url_problem(values["url"])):
            err(_find(lines, values["url"], start), f"[{kind}] helplines: {problem}")
            ok = False
            continue
        helplines.append(Helpline(**{k: v.strip() if isinstance(v, str) else None for k, v in values.items()}))
    return WarningText(title.strip(), paragraphs, tuple(links), tuple(helplines)) if ok and isinstance(title, str) else None


def _read_page(raw: Any, start: int, err: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        err(start, f"[{PAGE_TABLE}] must be a table")
        return {}
    page: dict[str, str] = {}
    for key, value in raw.items():
        if key not in PAGE_DEFAULTS:
            err(start, f"[{PAGE_TABLE}]: unknown key {key!r} (expected {', '.join(PAGE_DEFAULTS)})", "warning")
        elif not isinstance(value, str) or not value.strip():
            err(start, f"[{PAGE_TABLE}]: {key} must be a non-empty string")
        elif key == "dir" and value not in ("ltr", "rtl"):
            err(start, f"[{PAGE_TABLE}]: dir must be \"ltr\" or \"rtl\"")
        else:
            page[key] = value
    return page


def _tables(value: Any, where: str, line: int, err: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        err(line, f"{where} must be an array of tables ([[kind.{where.split()[-1]}]])")
        return []
    return value


def _header_line(lines: list[str], kind: str) -> int:
    """The first line that opens ``kind``'s table ([kind], [[kind.links]], kind = {...})."""
    pattern = re.compile(rf"^\s*(\[\[?\s*{re.escape(kind)}\s*[\].]|{re.escape(kind)}\s*=)")
    for n, line in enumerate(lines, 1):
        if pattern.match(line):
            return n
    return 0


def _find(lines: list[str], needle: str, start: int) -> int:
    """The first line at or after ``start`` that contains ``needle``; ``start`` when none does."""
    for n in range(max(start, 1), len(lines) + 1):
        if needle in lines[n - 1]:
            return n
    return start
