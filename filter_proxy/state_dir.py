"""The files of the reload state directory that `serve --workers N` shares between its supervisor and its
workers (coordination.py explains the protocol): the reload generation, the requests handed to one worker
(fleet publishing), the claims and the lock that serialises them. Every write is atomic (a new file
replaced into place) and every increment happens under an flock, so any process may call these.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

PUBLISHER_MARK = "publish-on-reload"  # in the state directory: reload requests go through a worker


def read_generation(directory: Path) -> tuple[int, bool]:
    """(generation, force) of the last request; (0, False) before the first."""
    try:
        data = json.loads((directory / "generation.json").read_text(encoding="utf-8"))
        return int(data["generation"]), bool(data.get("force", False))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, False


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one


def bump_generation(directory: Path, force: bool = False) -> int:
    """Announce a reload to every worker under ``directory``; returns the new generation. Safe from any
    process (the supervisor on SIGHUP, any worker on POST /-/reload): an flock serialises the increments."""
    directory = Path(directory)
    with open(directory / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            generation = read_generation(directory)[0] + 1
            write_atomic(directory / "generation.json",
                          {"generation": generation, "force": force, "requested": time.time()})
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return generation


def post_trigger(directory: Path, force: bool = False) -> int:
    """Hand a reload request to one worker of ``directory`` (see ``take_triggers``); returns its number."""
    directory = Path(directory)
    with open(directory / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            number = read_trigger(directory)[0] + 1
            write_atomic(directory / "trigger.json", {"trigger": number, "force": force, "requested": time.time()})
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return number


def read_trigger(directory: Path) -> tuple[int, bool]:
    """(number, force) of the last request handed to a worker; (0, False) before the first."""
    try:
        data = json.loads((Path(directory) / "trigger.json").read_text(encoding="utf-8"))
        return int(data["trigger"]), bool(data.get("force", False))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, False


def announce_reload(directory: Path, force: bool = False) -> str:
    """What the supervisor runs on SIGHUP and on rule-file changes; returns a line for its log.

    When the workers publish their reloads to a fleet (a worker marked ``directory``), the request goes to
    one worker, which loads the rules here and publishes them, exactly as for ``POST /-/reload``: bumping
    the generation alone would reload this host and leave the rest of the fleet on the old version."""
    directory = Path(directory)
    if (directory / PUBLISHER_MARK).exists():
        number = post_trigger(directory, force)
        return f"reload request {number} handed to a worker, which loads the rules and publishes them to the fleet"
    return f"rules reload generation {bump_generation(directory, force)} sent to every worker"


def claim(directory: Path, number: int) -> bool:
    """True for exactly one caller per trigger number (an exclusive create; the files go with the
    state directory)."""
    claims = directory / "claims"
    claims.mkdir(exist_ok=True)
    try:
        os.close(os.open(claims / str(number), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def try_lock_runs(directory: Path) -> int | None:
    """The lock that serialises handed-over requests across workers, if free: a descriptor that releases
    it when closed, else None (try again). Each request reads the rule files when it runs, so with runs one
    at a time the last one publishes the files as they are now, never an older state. Never blocks, so a
    worker that is stopping while it waits holds nothing."""
    fd = os.open(directory / "runs.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
