"""The signal registry and the signal-type contract: parse a line, build, match, to_bytes/from_bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.signals import registry
from filter_proxy.signals.base import Entry, SignalError
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_ALGORITHMS
from filter_proxy.signals.images import ImageHashSignal, ImageSignals

# One valid line, one content that matches it and one that does not, per signal.
CASES = {
    "terms": ("forbidden phrase alpha", "a forbidden phrase alpha here", "a permitted phrase here"),
    "urls": ("blocked.example.invalid", "https://a.blocked.example.invalid/x", "https://fine.example.invalid/"),
    "phash": ("0123456789abcdef", ("0123456789abcdee",), ("fedcba9876543210",)),
    "dhash": ("0123456789abcdef", ("0123456789abcdef",), ("f0f0f0f0f0f0f0f0",)),
    "pdq": ("0f" * 32, ("0f" * 31 + "0e",), ("f0" * 32,)),
    "md5": ("a" * 32, ("a" * 32,), ("b" * 32,)),
    "sha1": ("a" * 40, ("A" * 40,), ("b" * 40,)),
    "sha256": ("a" * 64, ("a" * 64,), ("b" * 64,)),
}


def test_the_registry_holds_every_signal_type_once() -> None:
    assert registry.names() == ("terms", "all", "weighted", "urls", "phash", "dhash", "pdq", "md5", "sha1", "sha256")
    assert set(registry.image_signals()) == set(HASH_HEX_LENGTH)
    assert {cls.source for cls in registry.SIGNALS.values()} == set(registry.SOURCES)
    for name, cls in registry.SIGNALS.items():
        assert cls.name == name and registry.get(name) is cls
    assert registry.get("sha512") is None


def test_image_signals_own_their_constants() -> None:
    for name, cls in registry.image_signals().items():
        assert issubclass(cls, ImageHashSignal)
        assert cls.hex_length == HASH_HEX_LENGTH[name] and cls.bits == 4 * cls.hex_length
        assert cls.exact == (name in EXACT_ALGORITHMS) and cls.exact != (name in PERCEPTUAL_ALGORITHMS)
        assert (cls.default_threshold > 0) == (not cls.exact)


@pytest.mark.parametrize("name", list(CASES))
def test_each_signal_parses_builds_matches_and_round_trips(name: str) -> None:
    cls = registry.SIGNALS[name]
    line, hit, miss = CASES[name]
    value, key = cls.parse_line(line)
    assert cls.parse_line(line)[1] == key  # the duplicate key is stable
    index = cls.build([Entry(value, "zqx-abuse", "rules/x:3", name)])
    loaded = cls.from_bytes(memoryview(index.to_bytes()))
    assert len(index) == len(loaded) == 1

    def match(idx: object, content: object) -> list[str]:
        if isinstance(cls, type) and issubclass(cls, ImageHashSignal):
            return [m.rule_id for m in idx.match(content, lambda category: cls.default_threshold)]  # type: ignore[attr-defined]
        return [m.rule_id for m in idx.match(content)]  # type: ignore[attr-defined]

    for idx in (index, loaded):
        assert match(idx, hit) == ["rules/x:3"]
        assert match(idx, miss) == []


@pytest.mark.parametrize(("name", "line", "needle"), [
    ("terms", "!!! ???", "empty after normalisation"),
    ("terms", "~zq", "substring entry"),
    ("urls", "localhost", "not a domain"),
    ("urls", "https://example.invalid/a*/b", "only allowed at the end"),
    ("phash", "12345", "16 hex digits"),
    ("md5", "zz" + "0" * 30, "not hexadecimal"),
    ("pdq", "0" * 63, "64 hex digits"),
])
def test_a_bad_line_raises_signal_error_with_a_reason(name: str, line: str, needle: str) -> None:
    with pytest.raises(SignalError, match=needle):
        registry.SIGNALS[name].parse_line(line)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(PERCEPTUAL_ALGORITHMS)), st.data())
def test_perceptual_distance_is_the_hamming_distance(name: str, data: st.DataObject) -> None:
    cls = registry.image_signals()[name]
    a = data.draw(st.integers(0, 2**cls.bits - 1))
    flips = data.draw(st.sets(st.integers(0, cls.bits - 1), max_size=12))
    b = a
    for bit in flips:
        b ^= 1 << bit
    width = cls.hex_length
    assert cls.distance(f"{a:0{width}x}", f"{b:0{width}x}") == len(flips)


def test_image_signals_answer_with_the_closest_match_per_category() -> None:
    signals = ImageSignals.build([
        Entry("0123456789abcdef", "near", "p:1", "phash"), Entry("0123456789abcdee", "far", "p:2", "phash"),
        Entry("a" * 32, "near", "m:1", "md5"),
    ])
    assert signals.algorithms == {"phash", "md5"} and len(signals) == 3
    loaded = ImageSignals.from_bytes(signals.to_bytes())
    for index in (signals, loaded):
        found = index.matches({"phash": ["0123456789abcdef"], "md5": "a" * 32, "sha1": "b" * 40}, lambda c, a: 10)
        # Exact digests win a tie at distance 0; each category once, closest first.
        assert [(m.category, m.algorithm, m.distance) for m in found] == [("near", "md5", 0), ("far", "phash", 1)]


def test_every_signal_belongs_to_an_index_group() -> None:
    assert set(registry.INDEXES) == {"terms", "combos", "weights", "urls", "images"}
    assert registry.members("images") == tuple(HASH_HEX_LENGTH)
    assert registry.members("terms") == ("terms",) and registry.members("urls") == ("urls",)
