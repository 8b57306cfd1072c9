"""bucket_of (cached per hour) names the same hour or day as formatting the timestamp itself."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from filter_proxy.report import bucket_of


@given(st.floats(min_value=-2e9, max_value=5e9, allow_nan=False), st.sampled_from(["hour", "day"]))
def test_bucket_is_the_formatted_hour_or_day(ts: float, size: str) -> None:
    moment = datetime.fromtimestamp(ts, UTC)
    if size == "day":
        moment = moment.replace(hour=0)
    assert bucket_of(ts, size) == moment.strftime("%Y-%m-%dT%H:00")


# Timestamps near one another (the counter's window is reused within an hour) and near hour edges.
_EDGE = st.integers(0, 1_000_000).map(lambda h: h * 3600.0)
_NEAR = st.tuples(_EDGE, st.floats(-2e-6, 2e-6, allow_nan=False)).map(lambda p: p[0] + p[1])


@given(st.lists(st.one_of(st.floats(0, 4e9, allow_nan=False), _NEAR), min_size=1, max_size=20),
       st.sampled_from(["hour", "day"]))
def test_the_counters_hour_window_gives_bucket_of_for_every_event(times: list[float], size: str) -> None:
    from filter_proxy.report import ReportCounter

    clock = iter(sorted(times) + times)  # forwards within a window, then jumping around
    counter = ReportCounter(":memory:", size, clock=lambda: next(clock))
    for ts in sorted(times) + times:
        assert counter._bucket_now() == bucket_of(ts, size)
