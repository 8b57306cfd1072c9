"""The scan loop: pages from a source, screened as the proxy screens a search response (the adapter's
``results`` views, ``screening.screen_results``, optionally thumbnails through the image screener), the
matching documents written, then the checkpoint. Progress and rate on a TTY (rich)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.base import FieldMapping
from filter_proxy.scan.output import Finding, FindingWriter, write_json_atomic
from filter_proxy.scan.sources import Page, Source
from filter_proxy.screening import screen_results


@dataclass
class ScanSummary:
    scanned: int = 0
    matched: int = 0
    resumed_from: Any = None
    by_category: Counter[str] = field(default_factory=Counter)
    by_signal: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "matched": self.matched, "complete": self.complete,
                "by_category": dict(self.by_category), "by_signal": dict(self.by_signal),
                "seconds": round(self.seconds, 3),
                "docs_per_second": round(self.scanned / self.seconds, 1) if self.seconds else None,
                "resumed": self.resumed_from is not None}


class Checkpoint:
    """``{"source": ..., "cursor": ..., "scanned": n, "complete": bool}``, replaced atomically after every
    page once its findings are on disk."""

    def __init__(self, path: Path | None, identity: str, rules_version: str = "") -> None:
        self.path, self.identity, self.rules_version = path, identity, rules_version

    def load(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        state = json.loads(self.path.read_text("utf-8"))
        if state.get("source") != self.identity:
            raise ValueError(f"{self.path}: checkpoint of another scan ({state.get('source')!r}); "
                             "use another --checkpoint file")
        if state.get("rules", "") != self.rules_version:
            raise ValueError(f"{self.path}: the rules changed since this scan began (version "
                             f"{state.get('rules')!r}, now {self.rules_version!r}); findings would mix two rule "
                             "sets: start a new scan (new --out and --checkpoint)")
        return state

    def save(self, cursor: Any, scanned: int, complete: bool = False) -> None:
        if self.path is not None:
            write_json_atomic(self.path, {"source": self.identity, "rules": self.rules_version, "cursor": cursor,
                                          "scanned": scanned, "complete": complete})


class Scanner:
    def __init__(self, source: Source, rules: Any, writer: FindingWriter, *, checkpoint: Checkpoint,
                 fields: FieldMapping | None = None, rate: float = 0.0, image_screener: Any = None,
                 progress: bool | None = None, stop_after_pages: int | None = None) -> None:
        self.source, self.rules, self.writer, self.checkpoint = source, rules, writer, checkpoint
        self.adapter = get_adapter(source.adapter, fields)
        self.rate = rate  # documents per second at most (0: as fast as the backend answers)
        self.image_screener = image_screener
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.stop_after_pages = stop_after_pages  # tests: interrupt after this many pages

    async def run(self) -> ScanSummary:
        summary = ScanSummary()
        state = self.checkpoint.load()
        if state and state.get("complete"):
            summary.complete, summary.scanned = True, int(state.get("scanned", 0))
            return summary
        cursor = state.get("cursor") if state else None
        summary.resumed_from = cursor
        summary.scanned = int(state.get("scanned", 0)) if state else 0
        started = time.monotonic()
        display = _Progress(self.progress)
        pages = 0
        try:
            async for page in self.source.pages(cursor):
                findings = await self._screen(page)
                summary.scanned += len(page.ids)
                for finding in self.writer.write(findings):
                    summary.matched += 1
                    summary.by_category[finding.category] += 1
                    summary.by_signal[finding.signal] += 1
                self.checkpoint.save(page.cursor, summary.scanned)
                display.update(summary.scanned, summary.matched, time.monotonic() - started)
                pages += 1
                if self.stop_after_pages is not None and pages >= self.stop_after_pages:
                    raise KeyboardInterrupt
                if self.rate > 0:
                    await asyncio.sleep(len(page.ids) / self.rate)
            summary.complete = True
            self.checkpoint.save(None, summary.scanned, complete=True)
        finally:
            display.close()
            summary.seconds = time.monotonic() - started
            await self.source.aclose()
        return summary

    async def _screen(self, page: Page) -> list[Finding]:
        views = self.adapter.results(page.doc)
        removals = screen_results(views, self.rules)
        checks: dict[int, Any] = {}
        if self.image_screener is not None:
            rest = [v for v in views if v.index not in removals and (v.image_url or v.extra_images)]
            if rest:
                checks = await self.image_screener.screen(rest, self.rules)
        out: list[Finding] = []
        for view in views:
            verdict = removals[view.index].verdict if view.index in removals else None
            if verdict is None and view.index in checks and checks[view.index].verdict is not None:
                verdict = checks[view.index].verdict
                if not verdict.matched:
                    verdict = None
            if verdict is None or view.index >= len(page.ids):
                continue
            doc_id, index = page.ids[view.index]
            rule_ids = verdict.rules or (verdict.rule_id or "",)
            out.append(Finding(doc_id, index, verdict.category or "", verdict.signal or "", ";".join(rule_ids),
                               verdict.action))
        return out


class _Progress:
    """Documents scanned, matches and rate on stderr, only on a TTY (rich)."""

    def __init__(self, enabled: bool) -> None:
        self._progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn

            # stderr: stdout carries the JSON summary, which must stay parseable.
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=False,
                                      console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task("scanning")

    def update(self, scanned: int, matched: int, seconds: float) -> None:
        if self._progress is not None:
            rate = scanned / seconds if seconds > 0 else 0.0
            self._progress.update(self._task, description=f"{scanned:,} documents, {matched:,} matching, "
                                  f"{rate:,.0f} docs/s")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
