"""The coarse timeout table (filter_proxy/forward_timeouts.py): every callback not cancelled fires exactly
once and never before its time; cancelled ones never fire; a failing callback does not stop the others;
a table belongs to one loop."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.forward_timeouts import TICK, Timeouts


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 0.3), st.booleans(), st.booleans()), min_size=1, max_size=12))
def test_each_timeout_fires_once_not_early_unless_cancelled(entries: list[tuple[float, bool, bool]]) -> None:
    async def run() -> tuple[dict[int, list[float]], dict[int, float], set[int]]:
        loop = asyncio.get_running_loop()
        table = Timeouts(loop)
        fired: dict[int, list[float]] = {}
        due: dict[int, float] = {}
        keys = {}
        for i, (delay, _, fails) in enumerate(entries):
            def callback(i: int = i, fails: bool = fails) -> None:
                fired.setdefault(i, []).append(loop.time())
                if fails:
                    raise RuntimeError("a broken callback")

            due[i] = loop.time() + delay
            keys[i] = table.add(delay, callback)
        cancelled = {i for i, (_, cancel, _) in enumerate(entries) if cancel}
        for i in cancelled:
            table.cancel(keys[i])
        await asyncio.sleep(max(d for d, _, _ in entries) + 4 * TICK)
        for _ in range(400):  # a loaded machine may sweep late; a bound instead of waiting forever
            if not len(table):
                break
            await asyncio.sleep(TICK)
        await asyncio.sleep(2 * TICK)  # a second firing would show up here
        return fired, due, cancelled

    fired, due, cancelled = asyncio.run(run())
    assert set(fired) == set(range(len(entries))) - cancelled
    for i, times in fired.items():
        assert len(times) == 1 and times[0] >= due[i]


def test_a_table_belongs_to_its_loop() -> None:
    async def table_of(previous: Timeouts | None) -> Timeouts:
        table = Timeouts.of(previous, asyncio.get_running_loop())
        assert Timeouts.of(table, asyncio.get_running_loop()) is table
        return table

    first = asyncio.run(table_of(None))
    second = asyncio.run(table_of(first))  # a new loop: a new table
    assert second is not first and second.loop is not first.loop
