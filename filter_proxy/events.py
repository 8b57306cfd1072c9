"""What the filter tells the outside world about its work: counters, the report sink, logs.

The middleware calls one FilterObserver; operations code (metrics, transparency counts, the report sink)
implements it. Nothing passed here carries query text or who asked.
"""

from __future__ import annotations

from typing import Protocol

from filter_proxy.verdict import Verdict


class FilterObserver(Protocol):
    def request(self, route: str, action: str, category: str | None = None) -> None:
        """One screened request. route: "search" | "suggest"; action: the query verdict's action or "allow";
        category: the matched category of a screened query (never the query itself)."""

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        """A result (or suggestion) was removed. url / image_hash describe the removed content, not the user."""

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        """A warning of ``kind`` ("deterrence", "support") was shown in language ``lang``, worded as
        ``variant`` (rules/warnings/<lang>.toml)."""

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        """A help link (index ``link`` of the kind's links and helplines) was followed through /-/help/."""

    def repeat_search(self, kind: str, variant: str) -> None:
        """(Opt-in) a blocked search came back carrying the follow-up cookie of a warning of ``kind``."""

    def upstream(self, seconds: float, outcome: str) -> None:
        """One upstream call: outcome "ok" | "timeout" | "error" | "malformed"."""

    def image_fetch(self, outcome: str) -> None:
        """One thumbnail: "cached" | "precomputed" | "fetched" | "refused" | "timeout" | "too-large" |
        "bad-type" | "undecodable" | "error" | "over-budget"."""

    # Optional (callers go through ``note_withheld``, so an observer written before it still works):
    # def withheld(self, reason: str, verdict: Verdict) -> None:
    #     """A screened answer was refused (502) because something listed remained where nothing could be
    #     removed: reason "header" (a response header), "echo" (the backend's echo of the request held a
    #     listed string the client did not send) or "content" (any other part of the answer). The verdict
    #     names the rule and category; never the text."""


class NullObserver:
    """The default: observes nothing."""

    def request(self, route: str, action: str, category: str | None = None) -> None:
        pass

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        pass

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        pass

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        pass

    def repeat_search(self, kind: str, variant: str) -> None:
        pass

    def upstream(self, seconds: float, outcome: str) -> None:
        pass

    def image_fetch(self, outcome: str) -> None:
        pass

    def withheld(self, reason: str, verdict: Verdict) -> None:
        pass


class MultiObserver:
    """Fans one event out to several observers."""

    def __init__(self, *observers: FilterObserver) -> None:
        self.observers = observers

    def request(self, route: str, action: str, category: str | None = None) -> None:
        for o in self.observers:
            o.request(route, action, category)

    def removed(self, verdict: Verdict, url: str | None, image_hash: str | None) -> None:
        for o in self.observers:
            o.removed(verdict, url, image_hash)

    def warning_shown(self, kind: str, lang: str, variant: str = "default") -> None:
        for o in self.observers:
            o.warning_shown(kind, lang, variant)

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        for o in self.observers:
            o.help_click(kind, lang, variant, link)

    def repeat_search(self, kind: str, variant: str) -> None:
        for o in self.observers:
            o.repeat_search(kind, variant)

    def upstream(self, seconds: float, outcome: str) -> None:
        for o in self.observers:
            o.upstream(seconds, outcome)

    def image_fetch(self, outcome: str) -> None:
        for o in self.observers:
            o.image_fetch(outcome)

    def withheld(self, reason: str, verdict: Verdict) -> None:
        for o in self.observers:
            note_withheld(o, reason, verdict)


WITHHELD_REASONS = ("header", "echo", "content")


def note_withheld(observer: object, reason: str, verdict: Verdict) -> None:
    """Tell ``observer`` that a screened answer was withheld (502) for ``reason`` (``WITHHELD_REASONS``),
    when it counts such events (``withheld`` is optional on a FilterObserver)."""
    count = getattr(observer, "withheld", None)
    if count is not None:
        count(reason, verdict)
