"""Coarse timeouts for the forward hop and the proxy's total deadline, without a timer handle per wait.

A timer handle per wait is dear on uvloop: ``call_later`` + ``cancel`` starts and stops a libuv timer,
3.8-5.7 µs against ~0.3 µs for the two dict operations here (benchmarks/README.md, issue 14 round 3), and
every proxied request had two (the total deadline and the wait for the response head). Here the proxy and
the hop each keep one ``Timeouts`` table for the loop they run in (``Timeouts.of``): ``add`` and ``cancel``
are dict operations, and one timer sweeps the table every ``TICK`` seconds while the table is in use (and
for ``IDLE_TICKS`` sweeps after it emptied, so that one request at a time does not start and stop the timer
each time). A timeout fires up to ``TICK`` late; the timeouts here are seconds long.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

TICK = 0.05  # seconds between sweeps
IDLE_TICKS = 40  # empty sweeps before the timer stops (2 s)

log = logging.getLogger("filter_proxy.forward")


class Timeouts:
    """Callbacks due at a loop time; see the module docstring."""

    __slots__ = ("loop", "_entries", "_next", "_timer", "_idle")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._entries: dict[int, tuple[float, Callable[[], None]]] = {}
        self._next = itertools.count().__next__
        self._timer: asyncio.TimerHandle | None = None
        self._idle = 0

    @staticmethod
    def of(table: Timeouts | None, loop: asyncio.AbstractEventLoop) -> Timeouts:
        """``table`` if it belongs to ``loop``, else a new table for ``loop`` (the owner keeps it)."""
        return table if table is not None and table.loop is loop else Timeouts(loop)

    def add(self, delay: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` once, ``delay`` seconds from now (up to TICK later), unless cancelled first."""
        key = self._next()
        self._entries[key] = (self.loop.time() + delay, callback)
        if self._timer is None:
            self._timer = self.loop.call_later(TICK, self._sweep)
        return key

    def cancel(self, key: int) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self) -> None:
        entries = self._entries
        if entries:
            self._idle = 0
            now = self.loop.time()
            for key in [key for key, (when, _) in entries.items() if when <= now]:
                entry = entries.pop(key, None)
                if entry is None:
                    continue
                try:
                    entry[1]()
                except Exception:  # one broken callback must not stop the others' timeouts
                    log.exception("timeout callback failed")
        else:
            self._idle += 1
            if self._idle > IDLE_TICKS:
                self._timer = None
                return
        self._timer = self.loop.call_later(TICK, self._sweep)

