"""Reading ``rules/warnings/<lang>.toml``: every problem as ``path:line: reason``.

tomllib gives no line numbers for values, so a problem points at the line of its table header or of the
offending value.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from filter_proxy.errors import Problem
from filter_proxy.warnings.catalog import WarningCatalog
from filter_proxy.warnings.texts import (
    DEFAULT_LANGUAGE,
    HELPLINE_KEYS,
    KIND_KEYS,
    KIND_PATTERN,
    LANG_PATTERN,
    PAGE_DEFAULTS,
    PAGE_TABLE,
    PHONE_PATTERN,
    TOML_LINE,
    Helpline,
    Link,
    WarningText,
    url_problem,
)


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
        if not LANG_PATTERN.match(lang):
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
        found = TOML_LINE.search(str(exc))
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
        if not KIND_PATTERN.match(kind):
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
        if values["phone"] and not PHONE_PATTERN.match(values["phone"]):
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
