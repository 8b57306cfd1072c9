"""The warning texts as data: kinds, links, helplines and page labels per language (no I/O, no HTML)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
    "back_label": "Back to search",
    "results_heading": "Results",
}
# Every key a language's [page] table may set; a language file should set them all (a test checks the
# shipped ones), else the English default shows through.
PAGE_KEYS = tuple(PAGE_DEFAULTS)
KIND_KEYS = {"title", "body", "links", "helplines"}
HELPLINE_KEYS = ("name", "phone", "url", "hours", "region")
LANG_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ().-]{1,30}$")
TOML_LINE = re.compile(r"at line (\d+)")
CACHE_LIMIT = 1024


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


@dataclass(frozen=True, slots=True)
class ResultLink:
    """One (already screened) result shown under a `warn` notice on the HTML page. ``url`` is None unless
    it is an http(s) URL, so a result can never become a javascript: or data: link."""

    title: str
    url: str | None = None
    snippet: str = ""

    @classmethod
    def make(cls, title: str, url: str | None, snippet: str = "") -> ResultLink:
        safe = url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None
        return cls(title or safe or "", safe, snippet)


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
        return None if PHONE_PATTERN.match(url[4:]) else f"{url!r} is not a valid tel: link"
    if url.startswith("mailto:"):
        return None if re.match(r"^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$", url) else f"{url!r} is not a valid mailto: link"
    return f"link {url!r} must start with https://, tel: or mailto:"
