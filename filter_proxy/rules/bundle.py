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

Reading (``bundle_read``): the bundle is copied in chunks into a private file, verified on the way, mapped
read-only and the copy unlinked at once (the operator's file is never mapped: rewritten in place it would
kill the server with SIGBUS); a truncated, corrupted or foreign-version bundle is refused with a RulesError
and nothing of it is loaded. Without a private directory or mmap it is read into memory whole. The indexes
then view those bytes (no second copy). Measured at 1M terms (scale benchmark generator): see
docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from filter_proxy.errors import RulesError
from filter_proxy.rules import bundle_read
from filter_proxy.rules.bundle_read import FORMAT_VERSION, MAGIC, PREFIX, SECTIONS
from filter_proxy.rules.policy import parse_policy
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.rules.sources import Sources, build_indexes, configure_images, file_counts, read_sources
from filter_proxy.signals import registry
from filter_proxy.warnings import WarningCatalog

_PREFIX = PREFIX
_ALIGN = 64


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
    rule_files = file_counts(sources)
    sections = {
        "policy": sources.policy_text.encode("utf-8"),
        "warnings": _json_bytes(sources.warnings.to_json()),
        # An index that offers its buffers (terms: views of its arrays) is written without a copy.
        **{name: index.to_parts() if hasattr(index, "to_parts") else bytes(index.to_bytes())
           for name, index in indexes.items()},
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


def write_bundle(out: Path, sections: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Lay out and write a bundle (temp file in the same directory, then os.replace). A section is bytes or
    a list of buffers written one after another (never joined: a 1M-term index is ~60 MB)."""
    table: dict[str, list[int]] = {}
    chunks: list[bytes | memoryview] = []
    offset = 0
    for name in SECTIONS:
        parts = sections[name] if isinstance(sections[name], list) else [sections[name]]
        pad = -offset % _ALIGN
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
        length = sum(memoryview(part).nbytes for part in parts)
        table[name] = [offset, length]
        chunks.extend(parts)
        offset += length
    payload_sha = hashlib.sha256()
    for chunk in chunks:
        payload_sha.update(chunk)
    header = {
        **meta,
        "format": FORMAT_VERSION,
        "payload_length": offset,
        "payload_sha256": payload_sha.hexdigest(),
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
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return header


def read_bundle(path: str | Path) -> tuple[dict[str, Any], dict[str, memoryview]]:
    """The verified header and section views of a bundle (views of a mapped private copy, or of the file
    read into memory: ``bundle_read``). RulesError on any defect."""
    header, sections, _ = bundle_read.read_bundle(path)
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
