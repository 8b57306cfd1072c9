"""Hot reload of the rule set in one process, without dropping a request.

The new RuleSet is built in a worker thread beside the old one (the event loop keeps serving), then
swapped in with one reference store (RuleHolder.swap). A rule set is refused, and the old one keeps
serving, when it fails to load (the error ``path:line: reason``, rule text only, is logged and counted)
or, unless forced, when it would empty a category that had entries or shrink it by more than half (a
truncated or half-synced rule file must not silently stop screening; see ``shrink_problems``).

Triggers: changes under the rules directory or to the bundle file (watchfiles, debounced), SIGHUP, and
``POST /-/reload`` (see ops.py). With several workers the triggers go through a ReloadCoordinator
(coordination.py) so that every worker reloads, not only the one that was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filter_proxy.rules.holder import RuleHolder

log = logging.getLogger("filter_proxy.reload")

KINDS = ("terms", "urls", "images")


def _default_loader(path: str) -> Any:
    from filter_proxy.rules import load_rules  # imported late so ops can be tested alone

    return load_rules(path)


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload did in this process. ``refused`` lists the categories a refused shrink would have
    emptied or halved (``error`` then says so); ``version`` is the version serving afterwards."""

    ok: bool
    error: str | None = None
    version: str | None = None
    previous: str | None = None
    refused: tuple[str, ...] = ()
    forced: bool = False


def category_counts(rules: Any) -> dict[str, int] | None:
    """``{"terms/zqx-abuse": 40, ...}`` from ``rules.stats()["by_category"]``; None when unknown."""
    stats = rules.stats() if callable(getattr(rules, "stats", None)) else None
    by_category = stats.get("by_category") if isinstance(stats, Mapping) else None
    if not isinstance(by_category, Mapping):
        return None
    return {f"{kind}/{category}": int(count) for kind in KINDS
            for category, count in dict(by_category.get(kind) or {}).items()}


def shrink_problems(old: Mapping[str, int] | None, new: Mapping[str, int] | None) -> list[str]:
    """Each kind/category that had entries and would have none, or fewer than half as many.

    Per kind and category, not per category: a category whose term file was emptied still has its URLs,
    but has silently stopped screening text. Exactly half is allowed (a list pruned in two)."""
    if old is None or new is None:
        return []
    problems = []
    for key, before in sorted(old.items()):
        after = new.get(key, 0)
        if before > 0 and (after == 0 or after * 2 < before):
            problems.append(f"{key} {before} -> {after}")
    return problems


def watch_target(path: Path) -> tuple[Path, Callable[[Any, str], bool] | None]:
    """What to watch for ``path``: a directory recursively with watchfiles' default filter (skips editor
    swap files and VCS dirs); a bundle via its parent directory, so an atomic replace (rename onto the
    path) is seen too."""
    if path.is_dir():
        return path, None
    name = path.name

    def only_bundle(_change: Any, changed: str) -> bool:
        return Path(changed).name == name

    return path.parent, only_bundle


class Reloader:
    """Reloads ``path`` into ``holder``. ``metrics`` (optional) receives ``rules_loaded(rules, seconds)`` and
    ``reload(ok)``; ``loader`` defaults to filter_proxy.rules.load_rules. ``auto_force`` applies automatic
    reloads (file watch, SIGHUP) even when they would empty or halve a category."""

    def __init__(self, holder: RuleHolder, path: str | Path, *, metrics: Any = None,
                 loader: Callable[[str], Any] | None = None, debounce_ms: int = 500,
                 auto_force: bool = False) -> None:
        self.holder = holder
        self.path = Path(path)
        self.metrics = metrics
        self.loader = loader or _default_loader
        self.debounce_ms = debounce_ms
        self.auto_force = auto_force
        self.last_error: str | None = None
        self.successes = 0
        self.failures = 0
        self._lock = asyncio.Lock()  # one reload at a time; concurrent triggers queue behind it
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sighup = False
        self._trigger: Callable[[bool], Awaitable[Any]] = self.reload

    def _refuse(self, error: str, previous: str | None, refused: tuple[str, ...] = ()) -> ReloadOutcome:
        self.failures += 1
        self.last_error = error
        if self.metrics is not None:
            self.metrics.reload(False)
        log.error("rule reload refused, keeping version %s: %s", previous, error)
        return ReloadOutcome(False, error, previous, previous, refused)

    async def reload(self, force: bool = False) -> ReloadOutcome:
        """Load and swap, unless the load fails or (without ``force``) a category would be emptied or
        halved: then the old rules keep serving and the outcome says why."""
        async with self._lock:
            started = time.perf_counter()
            previous = getattr(self.holder.current, "version", None)
            try:
                new = await asyncio.to_thread(self.loader, str(self.path))
            except Exception as exc:  # RulesError carries path:line: reason; anything else is a bug report
                error = str(exc) if type(exc).__name__ == "RulesError" else f"{self.path}: {type(exc).__name__}: {exc}"
                return self._refuse(error, previous)
            problems = shrink_problems(category_counts(self.holder.current), category_counts(new))
            if problems and not force:
                error = (f"version {getattr(new, 'version', '?')} would empty or more than halve "
                         f"{', '.join(problems)}; reload with force=true to apply it anyway")
                return self._refuse(error, previous, tuple(p.split(" ", 1)[0] for p in problems))
            seconds = time.perf_counter() - started
            self.holder.swap(new)
            self.successes += 1
            self.last_error = None
            if self.metrics is not None:
                self.metrics.rules_loaded(new, seconds)
                self.metrics.reload(True)
            version = getattr(new, "version", None)
            if problems:
                log.warning("forced rule reload shrinks %s", ", ".join(problems))
            log.info("rules reloaded: version %s -> %s from %s in %.3f s", previous, version, self.path, seconds)
            return ReloadOutcome(True, None, version, previous, forced=force and bool(problems))

    # --- triggers ------------------------------------------------------------------------------------
    async def _watch(self) -> None:
        from watchfiles import DefaultFilter, awatch

        target, flt = watch_target(self.path)
        watch_filter = flt if flt is not None else DefaultFilter()
        log.info("watching %s for rule changes", target)
        try:
            async for _changes in awatch(target, watch_filter=watch_filter, stop_event=self._stop,
                                         debounce=max(self.debounce_ms, 1), step=50, recursive=True):
                await self._trigger(self.auto_force)
        except Exception:  # a dead watcher must not kill the server; SIGHUP and /-/reload still work
            log.exception("rule file watcher stopped")

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading rules")
        asyncio.get_running_loop().create_task(self._trigger(self.auto_force))

    async def start(self, *, watch: bool = True, sighup: bool = True,
                    trigger: Callable[[bool], Awaitable[Any]] | None = None) -> None:
        """Start the file watcher and the SIGHUP handler. ``trigger(force)`` is what they call (default:
        this process's ``reload``; a coordinator's ``request_reload`` reaches every worker instead)."""
        self._trigger = trigger or self.reload
        self._stop.clear()
        if watch:
            self._task = asyncio.create_task(self._watch())
        # Signal handlers can only be installed from the main thread (tests run servers in others).
        if sighup and hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
                self._sighup = True

    async def stop(self) -> None:
        self._stop.set()
        if self._sighup:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
