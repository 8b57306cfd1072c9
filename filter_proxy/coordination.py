"""Reload coordination: one reload request reaches every worker, and the answer says what each serves.

``ReloadCoordinator`` is the seam. A trigger (``POST /-/reload`` on any worker, SIGHUP, the file watcher)
calls ``request_reload(force=...)``; the coordinator makes every worker run the reload callback registered
with ``on_reload`` and collects one ``WorkerStatus`` per worker. Two implementations here:

- ``LocalCoordinator``: one process (``serve`` with one worker, tests). The request runs the callback.
- ``DirectoryCoordinator``: the workers of one host (``serve --workers N``). The supervisor creates a
  state directory and names it in ``FILTER_PROXY_STATE_DIR``. A request bumps a monotonically increasing
  reload *generation* in ``generation.json`` (under an flock, replaced atomically); every worker polls that
  file's identity (one ``stat`` every ``poll`` seconds), runs the callback once per new generation and
  writes ``workers/<pid>.json`` (generation, version, outcome, heartbeat). The requester waits, bounded,
  until every live worker has reported the new generation.

A fleet coordinator (Redis pub/sub plus per-instance heartbeats) implements the same four methods.

Triggers that start outside a worker (the supervisor's SIGHUP and file watcher) call ``announce_reload``.
When the workers' own requests must go further than this host (``fleet.publish_on_reload``: load here,
then publish to the fleet), a worker marks the state directory (``DirectoryCoordinator.take_triggers``);
the supervisor then hands the request to one worker (``trigger.json``, claimed by exactly one worker with
an exclusive create), which runs it through the same path as ``POST /-/reload``. Without the mark it bumps
the generation itself, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from filter_proxy.reload import ReloadOutcome
from filter_proxy.state_dir import (
    PUBLISHER_MARK,
    alive,
    announce_reload,
    bump_generation,
    claim,
    post_trigger,
    read_generation,
    read_trigger,
    try_lock_runs,
    write_atomic,
)

__all__ = [
    "DEFAULT_WAIT", "PUBLISHER_MARK", "STATE_ENV", "DirectoryCoordinator", "LocalCoordinator", "ReloadCoordinator",
    "ReloadReport", "WorkerStatus", "announce_reload", "bump_generation", "post_trigger", "read_generation",
    "read_trigger",
]

log = logging.getLogger("filter_proxy.coordination")

STATE_ENV = "FILTER_PROXY_STATE_DIR"
DEFAULT_WAIT = 5.0  # seconds a reload request waits for every worker to report

ReloadCallback = Callable[[bool], Awaitable[ReloadOutcome]]


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What one worker serves: the rules ``version`` after its last reload of ``generation``, whether that
    reload was applied (``ok``), why not (``error``, ``refused`` categories), and when it last spoke."""

    worker: str
    pid: int
    generation: int
    version: str | None
    ok: bool = True
    error: str | None = None
    refused: tuple[str, ...] = ()
    updated: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "refused": list(self.refused)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerStatus:
        return cls(str(data["worker"]), int(data["pid"]), int(data["generation"]), data.get("version"),
                   bool(data.get("ok", True)), data.get("error"), tuple(data.get("refused") or ()),
                   float(data.get("updated", 0.0)))


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """The answer to one reload request: each worker's status, and the workers that did not report the
    request's ``generation`` in time (``pending``)."""

    generation: int
    forced: bool
    workers: tuple[WorkerStatus, ...]
    pending: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.pending

    @property
    def ok(self) -> bool:
        return self.complete and bool(self.workers) and all(w.ok for w in self.workers)

    @property
    def refused(self) -> bool:
        return any(w.refused for w in self.workers)

    @property
    def error(self) -> str | None:
        return next((w.error for w in self.workers if w.error), None)

    @property
    def versions(self) -> list[str | None]:
        return sorted({w.version for w in self.workers}, key=str)


class ReloadCoordinator(Protocol):
    """Distributes a reload to every worker (see the module docstring)."""

    def on_reload(self, callback: ReloadCallback) -> None:
        """Register what a worker runs for each reload (``Reloader.reload``)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def request_reload(self, *, force: bool = False, wait: float | None = DEFAULT_WAIT) -> ReloadReport:
        """Ask every worker to reload; wait up to ``wait`` seconds for all to report (None: do not wait)."""
        ...

    def workers(self) -> list[WorkerStatus]:
        """The last status of every live worker."""
        ...


def _status(generation: int, outcome: ReloadOutcome | None, version: str | None) -> WorkerStatus:
    pid = os.getpid()
    if outcome is None:
        return WorkerStatus(f"{os.uname().nodename}:{pid}", pid, generation, version)
    return WorkerStatus(f"{os.uname().nodename}:{pid}", pid, generation, outcome.version, outcome.ok,
                        outcome.error, outcome.refused)


class LocalCoordinator:
    """One process: a request runs the callback directly (serialised by the Reloader's own lock)."""

    def __init__(self, version: Callable[[], str | None], callback: ReloadCallback | None = None) -> None:
        self._version = version
        self._callback = callback
        self._generation = 0
        self._status: WorkerStatus | None = None

    def on_reload(self, callback: ReloadCallback) -> None:
        self._callback = callback

    async def start(self) -> None:
        self._status = _status(self._generation, None, self._version())

    async def stop(self) -> None:
        return None

    async def request_reload(self, *, force: bool = False, wait: float | None = DEFAULT_WAIT) -> ReloadReport:
        if self._callback is None:
            raise RuntimeError("no reload callback registered")
        self._generation += 1
        generation = self._generation
        outcome = await self._callback(force)
        self._status = _status(generation, outcome, self._version())
        return ReloadReport(generation, force, (self._status,))

    def workers(self) -> list[WorkerStatus]:
        return [self._status or _status(self._generation, None, self._version())]


# --- one host: a state directory -------------------------------------------------------------------


class DirectoryCoordinator:
    """The workers of one host, through a shared state directory (see the module docstring).

    Construct it *before* loading the rules: the generation read here is the one those rules answer, so a
    request made while this worker starts is never missed (at worst it reloads once more)."""

    def __init__(self, directory: str | Path, version: Callable[[], str | None], *, poll: float = 0.1,
                 heartbeat: float = 2.0, stale_after: float = 30.0) -> None:
        self.directory = Path(directory)
        (self.directory / "workers").mkdir(parents=True, exist_ok=True)
        self._version = version
        self._poll = poll
        self._heartbeat = heartbeat
        self._stale_after = stale_after  # a status not refreshed for this long is not waited for
        self._callback: ReloadCallback | None = None
        self._trigger_handler: Callable[[bool], Awaitable[Any]] | None = None
        self.seen = read_generation(self.directory)[0]
        self.seen_trigger = read_trigger(self.directory)[0]  # requests older than this worker are not replayed
        self._status = _status(self.seen, None, None)
        self._signature: tuple[int, int, int] | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._path = self.directory / "workers" / f"{os.getpid()}.json"

    def on_reload(self, callback: ReloadCallback) -> None:
        self._callback = callback

    def take_triggers(self, handler: Callable[[bool], Awaitable[Any]]) -> None:
        """Requests the supervisor receives (SIGHUP, file changes) run ``handler(force)`` in one worker
        instead of a bare generation bump: the fleet coordinator's ``request_reload``, so they publish."""
        self._trigger_handler = handler
        try:
            (self.directory / PUBLISHER_MARK).touch()
        except OSError as exc:
            log.error("cannot mark %s for fleet publishing: SIGHUP reloads this host only: %s", self.directory, exc)

    async def start(self) -> None:
        self._status = _status(self.seen, None, self._version())
        self._write_status()
        self._tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self._beat())]
        if self._trigger_handler is not None:
            self._tasks.append(asyncio.create_task(self._take()))
        others = {w.version for w in await asyncio.to_thread(self.workers) if w.pid != os.getpid()}
        if others and others != {self._status.version}:
            # A worker (re)started after a refused reload loads the files as they are now.
            log.warning("this worker serves rules version %s, other workers serve %s: the rule files changed "
                        "since they loaded theirs (a refused reload?); fix the files or force a reload",
                        self._status.version, ", ".join(sorted(map(str, others))))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(OSError):  # gone: the others stop waiting for this worker
            self._path.unlink()

    def _write_status(self) -> None:
        self._status = WorkerStatus(**{**asdict(self._status), "updated": time.time()})
        try:
            write_atomic(self._path, self._status.to_json())
        except OSError as exc:
            log.warning("cannot write the worker status in %s: %s", self.directory, exc)

    def _generation_signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.directory / "generation.json")
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size  # replaced atomically: a new inode per request

    async def _follow(self) -> None:
        """Run the callback once for each newer generation (bursts coalesce into one reload)."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            signature = self._generation_signature()
            if signature is None or signature == self._signature:
                continue
            self._signature = signature
            generation, force = read_generation(self.directory)
            if generation <= self.seen or self._callback is None:
                continue
            try:
                outcome = await self._callback(force)
            except Exception as exc:  # the Reloader reports rule errors itself; this is a bug, keep following
                log.exception("reload of generation %d failed", generation)
                outcome = ReloadOutcome(False, f"{type(exc).__name__}", self._version(), self._version())
            self.seen = generation
            self._status = _status(generation, outcome, self._version())
            self._write_status()

    async def _take(self) -> None:
        """Run the trigger handler for each request handed to a worker that this worker claims first."""
        assert self._trigger_handler is not None
        while True:
            await asyncio.sleep(self._poll)
            number, force = read_trigger(self.directory)
            if number <= self.seen_trigger:
                continue
            self.seen_trigger = number
            if not await asyncio.to_thread(claim, self.directory, number):
                continue  # another worker runs it
            while (held := try_lock_runs(self.directory)) is None:  # another worker runs an earlier one
                await asyncio.sleep(self._poll)
            try:
                log.info("reload request %d (SIGHUP or rule files changed): loading and publishing", number)
                await self._trigger_handler(force)
            except Exception:  # keep taking requests; the old rules keep serving
                log.exception("reload request %d failed", number)
            finally:
                os.close(held)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            # On the event loop, like the write after a reload: a thread could write a stale status over it.
            self._write_status()

    def workers(self) -> list[WorkerStatus]:
        """Every live worker's last status; files of workers that have exited are removed."""
        out = []
        now = time.time()
        for path in sorted((self.directory / "workers").glob("*.json")):
            try:
                status = WorkerStatus.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not alive(status.pid):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            if now - status.updated <= self._stale_after:
                out.append(status)
        return out

    async def request_reload(self, *, force: bool = False, wait: float | None = DEFAULT_WAIT) -> ReloadReport:
        generation = await asyncio.to_thread(bump_generation, self.directory, force)
        self._wake.set()  # this worker need not wait for its next poll
        log.info("reload generation %d requested%s", generation, " (forced)" if force else "")
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            workers = await asyncio.to_thread(self.workers)
            pending = tuple(w.worker for w in workers if w.generation < generation)
            if not pending or time.monotonic() >= deadline:
                return ReloadReport(generation, force, tuple(workers), pending)
            await asyncio.sleep(0.05)
