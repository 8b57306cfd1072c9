"""The bundle container: layout, checksums, and refusal of damaged or foreign files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from filter_proxy.rules.bundle import FORMAT_VERSION, MAGIC, SECTIONS, is_bundle, read_bundle, write_bundle
from filter_proxy.rules.errors import RulesError


def _sections() -> dict[str, bytes]:
    return {name: f"{name} section ".encode() * (i + 1) for i, name in enumerate(SECTIONS)}


def _write(tmp_path: Path) -> Path:
    out = tmp_path / "rules.bundle"
    write_bundle(out, _sections(), {"version": "abc123", "stats": {}})
    return out


def test_sections_round_trip_and_are_aligned(tmp_path: Path) -> None:
    out = _write(tmp_path)
    assert is_bundle(out)
    header, sections = read_bundle(out)
    assert header["version"] == "abc123" and header["format"] == FORMAT_VERSION
    assert {name: bytes(view) for name, view in sections.items()} == _sections()
    assert all(offset % 64 == 0 for offset, _ in header["sections"].values())


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    out = _write(tmp_path)
    write_bundle(out, _sections(), {"version": "def456", "stats": {}})  # replaces in place
    assert read_bundle(out)[0]["version"] == "def456"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.bundle"]
    assert out.stat().st_mode & 0o777 == 0o644  # readable by the server's user, unlike mkstemp's 0600


@pytest.mark.parametrize("keep", [0, 5, 30, 100, -1])
def test_truncated_bundle_is_refused(tmp_path: Path, keep: int) -> None:
    out = _write(tmp_path)
    data = out.read_bytes()
    out.write_bytes(data[:keep] if keep >= 0 else data[:-10])
    with pytest.raises(RulesError) as info:
        read_bundle(out)
    assert "truncated" in info.value.reason or "not a filter-proxy" in info.value.reason or "corrupted" in info.value.reason
    assert info.value.path == str(out)


def test_flipped_payload_byte_fails_the_checksum(tmp_path: Path) -> None:
    out = _write(tmp_path)
    data = bytearray(out.read_bytes())
    data[-3] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(RulesError, match="payload checksum mismatch"):
        read_bundle(out)


def test_flipped_header_byte_fails_the_header_checksum(tmp_path: Path) -> None:
    out = _write(tmp_path)
    data = bytearray(out.read_bytes())
    data[struct.calcsize("<8sII32s") + 2] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(RulesError, match="header checksum mismatch"):
        read_bundle(out)


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    out.write_bytes(out.read_bytes() + b"extra")
    with pytest.raises(RulesError, match="trailing bytes"):
        read_bundle(out)


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    data = bytearray(out.read_bytes())
    struct.pack_into("<I", data, len(MAGIC), FORMAT_VERSION + 1)
    out.write_bytes(bytes(data))
    with pytest.raises(RulesError, match=f"format version {FORMAT_VERSION + 1} is not supported"):
        read_bundle(out)


def test_wrong_magic_is_not_a_bundle(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"zqxblocked\n" * 10)
    assert not is_bundle(other)
    assert not is_bundle(tmp_path / "missing")
    with pytest.raises(RulesError, match="not a filter-proxy rules bundle"):
        read_bundle(other)
