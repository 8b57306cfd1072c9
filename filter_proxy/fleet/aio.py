"""Bounded clean-up of Redis clients and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("filter_proxy.fleet")

CLOSE_TIMEOUT = 2.0  # a connection to a dead or wedged Redis must never hold up a shutdown


async def close_quietly(thing: Any) -> None:
    """``thing.aclose()``, bounded and without raising: it is only ever cleanup."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(thing.aclose(), CLOSE_TIMEOUT)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it, bounded (its cleanup is bounded too; this is the backstop)."""
    if task is None:
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2 * CLOSE_TIMEOUT + 1)
    if not done:
        log.warning("fleet: background task %s did not stop in time; leaving it", task.get_name())

