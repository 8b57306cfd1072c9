"""Reading a compiled bundle: verified while it is copied into a private file, then memory-mapped.

Why a private copy (issue 14): mapping the operator's file is unsafe, since a bundle rewritten in place
(``cp new.bundle rules.bundle``: truncate + write, same inode) faults with SIGBUS on the next touched page
and kills the server, and even ``MAP_PRIVATE`` shows the file's new bytes on pages the process has not
written. Reading the file whole into anonymous memory (what this replaced) is safe but makes every byte
resident in every worker. So the bundle is streamed in 1 MiB chunks into a ``tempfile`` in a directory
only this user can enter (``copy_dir``), hashed on the way (the checksums are checked on the chunks as
they pass, never through the mapping, so verifying maps nothing into the process), mapped read-only, and
the copy is unlinked at once: no name of it is left that anyone could open and rewrite, the pages are
file-backed (the kernel can drop and re-read them) and only the pages the indexes touch are resident.

The mapping lives as long as something views it: the section memoryviews and the numpy arrays over them
hold the ``mmap`` object, so when a reload replaces the RuleSet and the last view goes, the mapping is
unmapped (tests/test_bundle_mapping.py counts the process's mappings across many reloads).

Fallback: when no private directory can be made or written (read-only home and temp, a full disk) or
``mmap`` fails, the bundle is read into memory whole, as before; both ways verify the same bytes and give
the same errors.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import stat
import struct
import tempfile
from pathlib import Path
from typing import IO, Any

from filter_proxy.errors import RulesError
from filter_proxy.signals import registry

MAGIC = b"FPRULES\0"
FORMAT_VERSION = 2
PREFIX = struct.Struct("<8sII32s")
OPTIONAL = frozenset({"combos", "weights"})
SECTIONS = ("policy", "warnings", *registry.INDEXES, "allow", "rule_files")
_CHUNK = 1 << 20
# The copy is written in pieces of this size: the page cache keeps a file written in 1 MiB writes in 1 MiB
# folios (ext4 on Linux 6.x), and a fault on a mapping of it maps the whole folio: 256 pages resident
# per touched key of a binary search instead of the kernel's 16-page fault-around (measured, issue 14).
_WRITE = 1 << 16
APP_DIR = "filter-proxy"
COPY_SUBDIR = "mapped"


class _NoCopy(Exception):
    """The private copy could not be written or mapped: read the bundle into memory instead."""


def copy_dir(env: dict[str, str] | None = None) -> Path | None:
    """A directory for private bundle copies that only this user can enter (made 0700 when missing), or
    None. Preferred: ``$XDG_STATE_HOME/filter-proxy/mapped`` (by default under ``~/.local/state``, where
    the report database lives too: on disk, so mapped pages can be dropped and re-read; a tmpfs such as
    ``$XDG_RUNTIME_DIR`` would keep the whole copy in RAM), else ``<system temp>/filter-proxy-<uid>/mapped``."""
    values = os.environ if env is None else env
    state = values.get("XDG_STATE_HOME") or ""
    home = values.get("HOME") or ""
    candidates: list[Path] = []
    if state and Path(state).is_absolute():
        candidates.append(Path(state) / APP_DIR / COPY_SUBDIR)
    elif home and Path(home).is_absolute():
        candidates.append(Path(home) / ".local" / "state" / APP_DIR / COPY_SUBDIR)
    candidates.append(Path(tempfile.gettempdir()) / f"filter-proxy-{os.getuid()}" / COPY_SUBDIR)
    for directory in candidates:
        if _private(directory):
            return directory
    return None


def _private(directory: Path) -> bool:
    """Make ``directory`` (0700) if needed; True when it is a real directory of this user that nobody else
    can enter, inside a parent nobody else can write to (or swap it in)."""
    uid = os.getuid()
    try:
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=True)
        st, parent = os.lstat(directory), os.lstat(directory.parent)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not stat.S_IMODE(st.st_mode) & 0o077
            and parent.st_uid in (uid, 0) and not stat.S_IMODE(parent.st_mode) & 0o022
            and os.access(directory, os.W_OK | os.X_OK))


def read_bundle(path: str | Path, mapped: bool = True) -> tuple[dict[str, Any], dict[str, memoryview], bool]:
    """The verified header, the section views, and whether they view a mapped private copy (``mapped``
    False: read into memory). RulesError on any defect, with the same reason either way."""
    where = str(path)
    try:
        src = open(path, "rb", buffering=0)  # noqa: SIM115 -- closed below; readinto needs the raw file
    except OSError as exc:
        raise _refuse(where, f"cannot read bundle: {exc.strerror or exc}") from exc
    with src:
        try:
            directory = copy_dir() if mapped else None
            if directory is not None:
                try:
                    return (*_read_mapped(src, where, directory), True)
                except _NoCopy:
                    src.seek(0)
            return (*_read_in_memory(src, where), False)
        except OSError as exc:
            raise _refuse(where, f"cannot read bundle: {exc.strerror or exc}") from exc


def _refuse(where: str, reason: str) -> RulesError:
    return RulesError(where, 0, reason)


def _head(src: IO[bytes], where: str) -> tuple[bytes, dict[str, Any], dict[str, tuple[int, int]]]:
    """Read and verify the prefix and the JSON header: (their bytes, header, section table)."""
    size = os.fstat(src.fileno()).st_size
    prefix = _read_exactly(src, PREFIX.size)
    if len(prefix) < PREFIX.size:
        raise _refuse(where, f"truncated bundle ({len(prefix)} bytes); recompile it")
    magic, version, header_len, header_sha = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise _refuse(where, "not a filter-proxy rules bundle")
    if version != FORMAT_VERSION:
        raise _refuse(where, f"bundle format version {version} is not supported (this filter-proxy reads version "
                      f"{FORMAT_VERSION}); recompile it with `filter-proxy rules compile`")
    # Checked against the file's size before reading: a damaged length must not make us read gigabytes.
    header_bytes = _read_exactly(src, header_len) if PREFIX.size + header_len <= size else b""
    if len(header_bytes) < header_len:
        raise _refuse(where, "truncated bundle (header incomplete); recompile it")
    if hashlib.sha256(header_bytes).digest() != header_sha:
        raise _refuse(where, "corrupted bundle (header checksum mismatch); recompile it")
    try:
        header = json.loads(header_bytes)
        int(header["payload_length"])
        str(header["payload_sha256"])
        # A bundle compiled before an index group existed (combos, weights) lacks its section: it lists
        # no such rules, and load_bundle builds that index empty.
        table = {name: (int(header["sections"][name][0]), int(header["sections"][name][1])) for name in SECTIONS
                 if name in header["sections"] or name not in OPTIONAL}
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise _refuse(where, f"corrupted bundle (unreadable header: {exc})") from exc
    return prefix + header_bytes, header, table


def _read_exactly(src: IO[bytes], n: int) -> bytes:
    parts, left = [], n
    while left > 0 and (part := src.read(min(left, _CHUNK))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _check_payload(where: str, header: dict[str, Any], got: int, sha: str) -> None:
    payload_length = int(header["payload_length"])
    if got < payload_length:
        raise _refuse(where, f"truncated bundle ({got} of {payload_length} payload bytes); recompile it")
    if got > payload_length:
        raise _refuse(where, "corrupted bundle (trailing bytes after the payload); recompile it")
    if sha != str(header["payload_sha256"]):
        raise _refuse(where, "corrupted bundle (payload checksum mismatch); recompile it")


def _sections(where: str, payload: memoryview, table: dict[str, tuple[int, int]]) -> dict[str, memoryview]:
    sections: dict[str, memoryview] = {}
    for name, (offset, length) in table.items():
        if offset < 0 or length < 0 or offset + length > len(payload):
            raise _refuse(where, f"corrupted bundle (section {name!r} out of range)")
        sections[name] = payload[offset : offset + length]
    return sections


def _read_in_memory(src: IO[bytes], where: str) -> tuple[dict[str, Any], dict[str, memoryview]]:
    head, header, table = _head(src, where)
    payload = memoryview(src.read() or b"")  # one read of the rest: a racing rewrite fails the checksum
    _check_payload(where, header, len(payload), hashlib.sha256(payload).hexdigest())
    return header, _sections(where, payload, table)


def _read_mapped(src: IO[bytes], where: str, directory: Path) -> tuple[dict[str, Any], dict[str, memoryview]]:
    head, header, table = _head(src, where)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".bundle-", suffix=".map", dir=directory)
    except OSError as exc:
        raise _NoCopy from exc
    try:
        _write_all(fd, head)
        digest, got = hashlib.sha256(), 0
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := src.readinto(view):  # type: ignore[attr-defined]
            chunk = view[:n]
            digest.update(chunk)
            _write_all(fd, chunk)
            got += n
        _check_payload(where, header, got, digest.hexdigest())
        try:
            mapping = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        except (OSError, ValueError) as exc:
            raise _NoCopy from exc
    finally:
        os.close(fd)
        # Unlinked before any section is used: nobody can open the copy and rewrite it under the mapping.
        Path(tmp).unlink(missing_ok=True)
    payload = memoryview(mapping)[len(head) :]
    return header, _sections(where, payload, table)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view[:_WRITE]) :]
    except OSError as exc:  # a full or read-only disk: fall back to reading into memory
        raise _NoCopy from exc
