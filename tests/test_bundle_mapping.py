"""Bundles are mapped from a private, unlinked copy (issue 14): no copy left behind, no mapping leaked across
reloads, damaged bundles refused exactly as when read into memory, and a fallback when no copy can be made."""

from __future__ import annotations

import asyncio
import gc
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.reload import Reloader
from filter_proxy.rules import compile_rules, load_rules
from filter_proxy.rules.bundle_read import copy_dir, read_bundle
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.holder import RuleHolder
from tests.test_rules_bundle import TEXTS, URLS
from tests.test_rules_loader import REPO_RULES


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mapped") / "rules.bundle"
    compile_rules(REPO_RULES, out)
    return out


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh XDG state directory: the private copies go to its filter-proxy/mapped."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "filter-proxy" / "mapped"


def _mappings(directory: Path) -> list[str]:
    """Lines of /proc/self/maps for files of ``directory`` (one or more per mapped copy)."""
    with open("/proc/self/maps", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if f" {directory}/" in line]


def _copies(directory: Path) -> int:
    """Distinct mapped copies (a mapping can show as several lines when parts of it differ)."""
    return len({line.split()[4] for line in _mappings(directory)})  # the inode


def _verdicts(rules: object) -> list[tuple[object, ...]]:
    rules.set_cache_size(0)  # type: ignore[attr-defined]
    return ([(v.action, v.rule_id) for v in map(rules.check_text, TEXTS)]  # type: ignore[attr-defined]
            + [(v.action, v.rule_id) for v in map(rules.check_url, URLS)])  # type: ignore[attr-defined]


def test_the_copy_is_mapped_then_unlinked_in_a_private_directory(bundle: Path, state: Path) -> None:
    rules = load_rules(bundle)
    assert copy_dir() == state
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert list(state.iterdir()) == []  # no name of the copy is left for anyone to open and rewrite
    lines = _mappings(state)
    assert lines and all(line.endswith("(deleted)") for line in lines)
    assert all(line.split()[1].startswith("r") and "w" not in line.split()[1] for line in lines)
    _, _, mapped = read_bundle(bundle)
    assert mapped
    assert _verdicts(rules) == _verdicts(load_rules(REPO_RULES))


def test_reloads_do_not_leak_mappings(bundle: Path, state: Path) -> None:
    holder = RuleHolder(load_rules(bundle))
    reloader = Reloader(holder, bundle, loader=lambda p: load_rules(p))
    expected = _verdicts(holder.current)

    async def many(reloader: Reloader) -> None:
        for _ in range(25):
            outcome = await reloader.reload()
            assert outcome.ok, outcome.error

    gc.disable()  # freed when the last reference goes, not only when the cycle collector runs
    try:
        asyncio.run(many(reloader))
        assert _copies(state) == 1  # only the rule set in force; every replaced one was unmapped
    finally:
        gc.enable()
    assert _verdicts(holder.current) == expected
    del holder, reloader
    gc.collect()
    assert _copies(state) == 0
    assert list(state.iterdir()) == []


def test_without_a_private_directory_the_bundle_is_read_into_memory(
        bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    assert copy_dir() is None
    _, sections, mapped = read_bundle(bundle)
    assert not mapped and sections
    assert _verdicts(load_rules(bundle)) == _verdicts(load_rules(REPO_RULES))


def _damage(data: bytes, cut: int | None, flip: int | None) -> bytes:
    if flip is not None and data:
        i = flip % len(data)
        data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.none() | st.integers(min_value=0), flip=st.none() | st.integers(min_value=0),
       extra=st.binary(max_size=8))
def test_a_damaged_bundle_is_refused_with_the_same_error_mapped_or_read(
        bundle: Path, state: Path, tmp_path: Path, cut: int | None, flip: int | None, extra: bytes) -> None:
    damaged = _damage(bundle.read_bytes(), cut, flip) + (extra if cut is None and flip is None else b"")
    if damaged == bundle.read_bytes():
        return  # undamaged (nothing cut, flipped or added): loads, as the other tests show
    path = tmp_path / "damaged.bundle"
    path.write_bytes(damaged)
    errors = []
    for mapped in (True, False):
        with pytest.raises(RulesError) as info:
            read_bundle(path, mapped=mapped)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert any(word in errors[0] for word in ("truncated", "corrupted", "not a filter-proxy", "not supported"))
    with pytest.raises(RulesError):
        load_rules(path)
    assert not state.exists() or list(state.iterdir()) == []  # a refused copy is removed too
    assert _copies(state) == 0
    os.unlink(path)
