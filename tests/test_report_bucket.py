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
