"""Hot reload of the rule set without dropping a request.

The new RuleSet is built in a worker thread beside the old one (the event loop keeps serving), then
swapped in with one reference store (RuleHolder.swap). A rule set that fails to load is refused: the old
one keeps serving, and the error (``path:line: reason``, rule text only) is logged and counted.

Triggers: changes under the rules directory or to the bundle file (watchfiles, debounced), SIGHUP, and
``POST /-/reload`` (see ops.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filter_proxy.rules.holder import RuleHolder

log = logging.getLogger("filter_proxy.reload")


def _default_loader(path: str) -> Any:
    from filter_proxy.rules import load_rules  # engineer B's loader; imported late so ops can be tested alone

    return load_rules(path)


class Reloader:
    """Reloads ``path`` into ``holder``. ``metrics`` (optional) receives ``rules_loaded(rules, seconds)`` and
    ``reload(ok)``; ``loader`` defaults to filter_proxy.rules.load_rules."""

    def __init__(self, holder: RuleHolder, path: str | Path, *, metrics: Any = None,
                 loader: Callable[[str], Any] | None = None, debounce_ms: int = 500) -> None:
        self.holder = holder
        self.path = Path(path)
        self.metrics = metrics
        self.loader = loader or _default_loader
        self.debounce_ms = debounce_ms
        self.last_error: str | None = None
        self.successes = 0
        self.failures = 0
        self._lock = asyncio.Lock()  # one reload at a time; concurrent triggers queue behind it
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sighup = False

    async def reload(self) -> tuple[bool, str | None]:
        """Load and swap. Returns (True, None), or (False, "path:line: reason") with the old rules kept."""
        async with self._lock:
            started = time.perf_counter()
            try:
                new = await asyncio.to_thread(self.loader, str(self.path))
            except Exception as exc:  # RulesError carries path:line: reason; anything else is a bug report
                error = str(exc) if type(exc).__name__ == "RulesError" else f"{self.path}: {type(exc).__name__}: {exc}"
                self.failures += 1
                self.last_error = error
                if self.metrics is not None:
                    self.metrics.reload(False)
                log.error("rule reload refused, keeping version %s: %s",
                          getattr(self.holder.current, "version", "?"), error)
                return False, error
            seconds = time.perf_counter() - started
            old = self.holder.swap(new)
            self.successes += 1
            self.last_error = None
            if self.metrics is not None:
                self.metrics.rules_loaded(new, seconds)
                self.metrics.reload(True)
            log.info("rules reloaded: version %s -> %s from %s in %.3f s", getattr(old, "version", "?"),
                     getattr(new, "version", "?"), self.path, seconds)
            return True, None

    # --- triggers ------------------------------------------------------------------------------------
    def _watch_target(self) -> tuple[Path, Callable[[Any, str], bool] | None]:
        """A directory is watched recursively with watchfiles' default filter (skips editor swap files
        and VCS dirs); a bundle is watched via its parent directory, so an atomic replace (rename onto
        the path) is seen too."""
        if self.path.is_dir():
            return self.path, None
        name = self.path.name

        def only_bundle(_change: Any, changed: str) -> bool:
            return Path(changed).name == name

        return self.path.parent, only_bundle

    async def _watch(self) -> None:
        from watchfiles import DefaultFilter, awatch

        target, flt = self._watch_target()
        watch_filter = flt if flt is not None else DefaultFilter()
        log.info("watching %s for rule changes", target)
        try:
            async for _changes in awatch(target, watch_filter=watch_filter, stop_event=self._stop,
                                         debounce=max(self.debounce_ms, 1), step=50, recursive=True):
                await self.reload()
        except Exception:  # a dead watcher must not kill the server; SIGHUP and /-/reload still work
            log.exception("rule file watcher stopped")

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading rules")
        asyncio.get_running_loop().create_task(self.reload())

    async def start(self, *, watch: bool = True, sighup: bool = True) -> None:
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
