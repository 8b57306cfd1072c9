"""Progress for long commands (rules check/compile on big lists, hashes import, benchmark runs).

Drawn with ``rich`` on stderr, and only when stderr is a terminal: pipes, CI logs and files get no
control characters and no extra lines. rich rather than tqdm because it draws several labelled steps
(spinner, elapsed time, bar when the total is known) in one transient block, detects terminals itself,
and is a widely used, maintained library; it is one pure-Python dependency.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Steps(Protocol):
    def step(self, description: str, total: int | None = None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class _Silent:
    """What a command gets when nothing is drawn."""

    def step(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


class _Drawn:
    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None

    def step(self, description: str, total: int | None = None) -> None:
        if self.task is not None:  # the previous step is done: show it complete
            done = self.progress.tasks[-1]
            self.progress.update(self.task, total=done.total or 1, completed=done.total or 1)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


def is_terminal(stream: Any = None) -> bool:
    isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def steps(stream: Any = None, *, force: bool | None = None) -> Iterator[Steps]:
    """``with steps() as p: p.step("reading rule files"); ...; p.step("hashing", total=n); p.advance()``.
    Silent unless ``stream`` (default stderr) is a terminal, or ``force`` says otherwise."""
    draw = is_terminal(stream) if force is None else force
    if not draw:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=stream if stream is not None else sys.stderr, force_terminal=draw)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        drawn = _Drawn(progress)
        yield drawn
