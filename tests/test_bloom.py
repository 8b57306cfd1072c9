"""Bloom: members always found, FPR near the configured rate, bytes round trip in pybloom-live's format."""

from __future__ import annotations

import io

import pytest
from pybloom_live import BloomFilter

from filter_proxy.bloom import Bloom

ITEMS = [f"zqxitem{i}" for i in range(5000)]


@pytest.fixture(scope="module")
def bloom() -> Bloom:
    return Bloom.build(ITEMS, capacity=5000, error_rate=0.01)


def test_members_are_always_found(bloom: Bloom) -> None:
    assert all(item in bloom for item in ITEMS)
    assert len(bloom) == len(ITEMS)
    assert bloom.capacity == 5000 and bloom.error_rate == 0.01


def test_measured_fpr_is_near_configured(bloom: Bloom) -> None:
    fpr = bloom.measured_fpr(4000)
    assert 0.0 <= fpr < 0.03  # configured 1 %; generous bound against sampling noise


def test_round_trip_bytes(bloom: Bloom) -> None:
    data = bloom.to_bytes()
    loaded = Bloom.from_bytes(memoryview(data))
    assert all(item in loaded for item in ITEMS)
    assert len(loaded) == len(bloom)
    assert loaded.to_bytes() == data
    assert loaded.nbytes == bloom.nbytes > 0


def test_bytes_are_pybloom_live_format(bloom: Bloom) -> None:
    native = BloomFilter.fromfile(io.BytesIO(bloom.to_bytes()))
    assert "zqxitem42" in native


def test_capacity_defaults_to_item_count() -> None:
    small = Bloom.build(["zqxa", "zqxb"])
    assert small.capacity == 2 and "zqxa" in small


def test_from_bytes_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        Bloom.from_bytes(b"\x01\x02")
