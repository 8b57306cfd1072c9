"""Compiled rule bundles: one versioned, checksummed file that loads without re-parsing anything.

Layout (little-endian)::

    magic        8 bytes   b"FPRULES\\0"
    format       u32       FORMAT_VERSION
    header_len   u32       bytes of the JSON header
    header_sha   32 bytes  sha256 of the header bytes
    header       JSON      rule-set version, stats, payload sha256 and length, section table
    payload      sections, each starting on a 64-byte boundary (numpy arrays inside can be used in place)

Sections: ``policy`` (policy.toml source), ``warnings`` (catalog JSON), one per index group of the
signal registry (``terms``, ``urls``, ``images``: each index's ``to_bytes()``, which carries its rule ids),
``allow`` (JSON list of the allow phrases) and ``rule_files`` (JSON: source file -> entry count, the
rule-id table of the set); the header also holds ``sizes`` (signal -> category -> entries). Format 2
(URL and term matching changed since format 1); a bundle of another format is refused with "recompile it".

The file is read into memory whole (one ``read``) and verified before any section is used: a truncated,
corrupted or foreign-version bundle is refused with a RulesError and nothing of it is loaded. It is not
memory-mapped: a shared mapping of a file that is later truncated or rewritten in place (an operator's
``cp new.bundle rules.bundle``, a config tool) faults with SIGBUS on the next touched page and kills the
server, and even without truncation the verified index would silently change under the server's feet.
``MAP_PRIVATE`` does not help: pages the process has not written still show the file's new contents. The
indexes then view the bytes object (no second copy). Measured at 1M terms (scale benchmark generator):
see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from filter_proxy.errors import RulesError
from filter_proxy.rules.policy import parse_policy
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.rules.sources import Sources, build_indexes, configure_images, read_sources
from filter_proxy.signals import registry
from filter_proxy.signals.urls import UrlEntries
from filter_proxy.warnings import WarningCatalog

MAGIC = b"FPRULES\0"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<8sII32s")
_ALIGN = 64
_OPTIONAL = frozenset({"combos", "weights"})
SECTIONS = ("policy", "warnings", *registry.INDEXES, "allow", "rule_files")


def is_bundle(path: str | Path) -> bool:
    """Whether the file starts with the bundle magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def compile_rules(path: str | Path, out: str | Path, sources: Sources | None = None) -> dict[str, Any]:
    """Validate the rules directory at ``path`` and write its bundle to ``out`` atomically.

    Raises RulesError (with every problem) when the rule set has errors; returns the bundle header.
    ``sources``: the directory already read by ``read_sources`` (a caller that reads it once to report its
    warnings need not read 1M entries twice).
    """
    if sources is None:
        sources = read_sources(Path(path))
    if sources.errors:
        raise RulesError.from_problems(sources.problems)
    assert sources.warnings is not None
    indexes = build_indexes(sources)
    assert sources.policy is not None
    # A list over the false-match bound is refused here already, not first by the server loading it.
    configure_images(indexes["images"], sources.policy, f"{sources.name}/images")  # type: ignore[arg-type]
    rule_files: dict[str, int] = {}
    for entries in sources.entries.values():
        if isinstance(entries, UrlEntries):  # URL lists are held as columns, counted per file
            for file, count in entries.file_counts().items():
                rule_files[file] = rule_files.get(file, 0) + count
            continue
        for entry in entries:
            file = entry.rule_id.rpartition(":")[0]
            rule_files[file] = rule_files.get(file, 0) + 1
    sections = {
        "policy": sources.policy_text.encode("utf-8"),
        "warnings": _json_bytes(sources.warnings.to_json()),
        **{name: bytes(index.to_bytes()) for name, index in indexes.items()},
        "allow": json.dumps(sources.allow, ensure_ascii=False).encode("utf-8"),
        "rule_files": json.dumps(rule_files, ensure_ascii=False).encode("utf-8"),
    }
    meta = {
        "version": sources.digest[:12],
        "digest": sources.digest,
        "source": sources.name,
        "compiled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "stats": sources.stats(),
        "sizes": sources.sizes(),
    }
    header = write_bundle(Path(out), sections, meta)
    return header


def write_bundle(out: Path, sections: dict[str, bytes], meta: dict[str, Any]) -> dict[str, Any]:
    """Lay out and write a bundle (temp file in the same directory, then os.replace)."""
    table: dict[str, list[int]] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in SECTIONS:
        data = sections[name]
        pad = -offset % _ALIGN
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
        table[name] = [offset, len(data)]
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    header = {
        **meta,
        "format": FORMAT_VERSION,
        "payload_length": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "sections": table,
    }
    header_bytes = json.dumps(header, sort_keys=True).encode("utf-8")
    # Pad the header with spaces (valid JSON) so the payload starts aligned too.
    header_bytes += b" " * (-(_PREFIX.size + len(header_bytes)) % _ALIGN)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest())

    out.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600; a bundle is configuration that the server's user must read, so
    # keep the mode of the file being replaced, or give it the usual 0644.
    mode = out.stat().st_mode & 0o777 if out.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(prefix)
            f.write(header_bytes)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return header


def read_bundle(path: str | Path) -> tuple[dict[str, Any], dict[str, memoryview]]:
    """The verified header and section views of a bundle, read into memory (never mapped: see the module
    docstring). RulesError on any defect."""
    where = str(path)

    def refuse(reason: str) -> RulesError:
        return RulesError(where, 0, reason)

    try:
        with open(path, "rb") as f:
            # One read of what the file holds now: a rewrite racing with it fails the checksums below.
            data = f.read()
    except OSError as exc:
        raise refuse(f"cannot read bundle: {exc.strerror or exc}") from exc
    size = len(data)
    if size < _PREFIX.size:
        raise refuse(f"truncated bundle ({size} bytes); recompile it")
    view = memoryview(data)

    magic, version, header_len, header_sha = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        raise refuse("not a filter-proxy rules bundle")
    if version != FORMAT_VERSION:
        raise refuse(
            f"bundle format version {version} is not supported (this filter-proxy reads version "
            f"{FORMAT_VERSION}); recompile it with `filter-proxy rules compile`"
        )
    header_end = _PREFIX.size + header_len
    if header_end > size:
        raise refuse("truncated bundle (header incomplete); recompile it")
    header_bytes = view[_PREFIX.size : header_end]
    if hashlib.sha256(header_bytes).digest() != header_sha:
        raise refuse("corrupted bundle (header checksum mismatch); recompile it")
    try:
        header = json.loads(bytes(header_bytes))
        payload_length = int(header["payload_length"])
        payload_sha = str(header["payload_sha256"])
        # A bundle compiled before an index group existed (combos, weights) lacks its section: it lists
        # no such rules, and load_bundle builds that index empty.
        table = {name: (int(header["sections"][name][0]), int(header["sections"][name][1])) for name in SECTIONS
                 if name in header["sections"] or name not in _OPTIONAL}
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise refuse(f"corrupted bundle (unreadable header: {exc})") from exc
    if size - header_end < payload_length:
        raise refuse(f"truncated bundle ({size - header_end} of {payload_length} payload bytes); recompile it")
    if size - header_end > payload_length:
        raise refuse("corrupted bundle (trailing bytes after the payload); recompile it")
    payload = view[header_end:]
    if hashlib.sha256(payload).hexdigest() != payload_sha:
        raise refuse("corrupted bundle (payload checksum mismatch); recompile it")
    sections: dict[str, memoryview] = {}
    for name, (offset, length) in table.items():
        if offset < 0 or length < 0 or offset + length > payload_length:
            raise refuse(f"corrupted bundle (section {name!r} out of range)")
        sections[name] = payload[offset : offset + length]
    return header, sections


def load_bundle(path: str | Path) -> RuleSet:
    """A RuleSet from a compiled bundle. Every part is decoded before the RuleSet exists, so a bad
    bundle is refused whole."""
    header, sections = read_bundle(path)
    where = str(path)
    try:
        policy, problems = parse_policy(tomllib.loads(str(sections["policy"], "utf-8")), f"{where}#policy")
        if any(p.severity == "error" for p in problems):
            raise RulesError.from_problems(problems)
        warnings = WarningCatalog.from_json(_json_value(sections["warnings"]))
        allow = json.loads(bytes(sections["allow"]))
        indexes = {group: builder.from_bytes(sections[group]) if group in sections else builder.build([])
                   for group, builder in registry.INDEXES.items()}
        ruleset = RuleSet(
            policy=policy,
            warnings=warnings,
            indexes=indexes,
            version=str(header["version"]),
            source=where,
            stats=header.get("stats") or {},
            sizes=header.get("sizes") or {},
            allow=allow,
        )
        ruleset.image_findings = configure_images(ruleset.images, policy, where)
    except RulesError:
        raise
    except Exception as exc:  # a section that passed the checksum but does not decode: written by a bug
        raise RulesError(where, 0, f"bundle section could not be decoded ({type(exc).__name__}: {exc}); recompile it") from exc
    return ruleset


def _json_bytes(value: Any) -> bytes:
    """A catalog's JSON form, whether ``to_json`` returns text, bytes or a plain structure."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _json_value(view: memoryview) -> Any:
    return json.loads(bytes(view))
