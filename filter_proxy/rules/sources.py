"""Reading a rules directory: every file validated, every problem located as ``path:line``.

This module only reads files and the policy; what a line means is the signal registry's answer
(``filter_proxy.signals.registry``): ``rules/terms/*.txt`` lines are parsed by the terms signal,
``rules/urls/*.txt`` by the URL signal, and each ``rules/images/*.csv`` row (``algorithm,hash[,note]``) by the
image signal its algorithm names.

A rule file with no entries (0 bytes, or only comments, blank lines or a CSV header) is refused with
``path:1: file is empty``: a truncated file must never silently drop a whole category. A category that is
meant to list nothing in some file says so in policy.toml with ``allow_empty = true``.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filter_proxy.errors import Problem, RulesError
from filter_proxy.matchers.image_fmr import RateFinding, configure_index
from filter_proxy.normalize import normalize
from filter_proxy.rules.parse import (
    BOM,
    Line,
    decode_text,
    iter_lines,
    read_lines,
    stream_lines,
    strip_comment,
    toml_error_line,
)
from filter_proxy.rules.policy import Policy, parse_policy
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.signals import registry
from filter_proxy.signals.base import Entry, SignalError, SignalIndex
from filter_proxy.signals.images import ImageSignals, pdq_available
from filter_proxy.signals.urls import UrlEntries, UrlSignal
from filter_proxy.warnings import WarningCatalog, load_warnings

_LOCATED = re.compile(r"^(.+):(\d+): (.+)$", re.S)


@dataclass
class Sources:
    """Everything read from one rules directory, validated but not yet indexed."""

    name: str  # rule-id prefix: the directory's own name, e.g. "rules"
    policy: Policy | None = None
    policy_text: str = ""
    warnings: WarningCatalog | None = None
    # signal -> its entries: a list of Entry, or what the signal collects them in (terms: TermEntries rows)
    entries: dict[str, Any] = field(default_factory=lambda: {name: cls.new_entries()
                                                             for name, cls in registry.SIGNALS.items()})
    allow: list[str] = field(default_factory=list)
    digest: str = ""  # sha256 over every source file's path and bytes
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def sizes(self) -> dict[str, dict[str, int]]:
        """signal -> category -> number of entries."""
        out: dict[str, dict[str, int]] = {}
        for name, entries in self.entries.items():
            if hasattr(entries, "category_counts"):
                out[name] = entries.category_counts()
                continue
            counts: dict[str, int] = {}
            for entry in entries:
                counts[entry.category] = counts.get(entry.category, 0) + 1
            out[name] = counts
        return out

    def stats(self) -> dict[str, Any]:
        """Counts per rules sub-directory and category (``terms``, ``urls``, ``images``) and the number of
        allow phrases (per signal: ``sizes``)."""
        sizes = self.sizes()
        by_source: dict[str, dict[str, int]] = {source: {} for source in registry.SOURCES}
        for name, counts in sizes.items():
            target = by_source[registry.SIGNALS[name].source]
            for category, count in counts.items():
                target[category] = target.get(category, 0) + count
        return {**by_source, "allow": len(self.allow)}


def build_indexes(sources: Sources) -> dict[str, SignalIndex]:
    """One index per index group of the registry. The signals re-validate entries and name the rule id of a
    bad one; after read_sources that cannot happen, but if it does it is still reported as
    ``path:line: reason``."""
    try:
        return {group: builder.build(_group_entries(sources, group), allow=sources.allow)
                for group, builder in registry.INDEXES.items()}
    except ValueError as exc:
        found = _LOCATED.match(str(exc))
        if found:
            raise RulesError(found[1], int(found[2]), found[3]) from exc
        raise RulesError(sources.name, 0, f"cannot index the rules: {exc}") from exc


def _group_entries(sources: Sources, group: str) -> Any:
    """The entries an index group's builder takes: a group of one signal gets what that signal collected
    (terms: rows hashed while reading), a group of several a list of their ``Entry`` objects."""
    members = registry.members(group)
    if len(members) == 1:
        return sources.entries.get(members[0], [])
    return [e for name in members for e in sources.entries.get(name, ())]


def file_counts(sources: Sources) -> dict[str, int]:
    """Source file -> entries it contributes (the bundle's ``rule_files`` table)."""
    out: dict[str, int] = {}
    for entries in sources.entries.values():
        if hasattr(entries, "file_counts"):
            for file, count in entries.file_counts().items():
                out[file] = out.get(file, 0) + count
            continue
        for entry in entries:
            file = entry.rule_id.rpartition(":")[0]
            out[file] = out.get(file, 0) + 1
    return out


def build_ruleset(sources: Sources, source: str) -> RuleSet:
    assert sources.policy is not None and sources.warnings is not None
    rules = RuleSet(policy=sources.policy, warnings=sources.warnings, indexes=build_indexes(sources),
                    version=sources.digest[:12], source=source, stats=sources.stats(), sizes=sources.sizes(),
                    allow=sources.allow)
    rules.image_findings = configure_images(rules.images, rules.policy, f"{sources.name}/images")
    return rules


def configure_images(images: ImageSignals, policy: Policy, where: str) -> list[RateFinding]:
    """Apply ``images.require_agreement`` and measure each category's expected false-match rate per picture
    at its list size (``matchers.image_fmr``, by sampling random hashes against the index). A category over
    ``images.max_false_match_rate`` refuses the rule set (RulesError at ``where``), naming the thresholds
    that would meet it. Directory loads, bundle loads and ``compile_rules`` all run it; the findings are
    kept on ``RuleSet.image_findings`` for ``rules check``."""
    findings, reasons = configure_index(images.index, policy)
    if reasons:
        raise RulesError.from_problems([Problem(where, 0, reason) for reason in reasons])
    return findings


def rule_prefix(root: Path) -> str:
    """The rule-id prefix: the directory's name as given ("rules/" -> "rules"), resolved for "." or ".."."""
    name = root.name
    if name in ("", ".", ".."):
        name = root.resolve().name
    return name


def read_sources(root: Path) -> Sources:
    """Read and validate a rules directory. RulesError only when the directory itself is missing."""
    if not root.is_dir():
        raise RulesError(str(root), 0, "rules directory not found")
    sources = Sources(rule_prefix(root))
    digest = hashlib.sha256()
    problems = sources.problems

    def rel(path: Path) -> str:
        return f"{sources.name}/{path.relative_to(root).as_posix()}"

    def files(sub: str, suffix: str) -> list[Path]:
        directory = root / sub
        if not directory.is_dir():
            return []
        found = []
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix == suffix:
                found.append(path)
                # Three updates, not one concatenation: the same digest without a copy of a 14 MB list.
                digest.update(rel(path).encode() + b"\0")
                digest.update(path.read_bytes())
                digest.update(b"\0")
            elif not path.name.startswith("."):
                problems.append(Problem(rel(path), 0, f"ignored: only *{suffix} files are read here", "warning"))
        return found

    # The policy's TOML first (it names the default language), then the warnings, then the policy's
    # validation, which checks each category's warning kind against the catalog.
    policy_path = root / "policy.toml"
    raw: dict[str, Any] | None = None
    if policy_path.is_file():
        data = policy_path.read_bytes()
        digest.update(rel(policy_path).encode() + b"\0" + data + b"\0")
        sources.policy_text, raw = _read_toml(data, rel(policy_path), problems)
    else:
        problems.append(Problem(rel(policy_path), 0, "missing: every rule set needs a policy.toml declaring its categories"))

    files("warnings", ".toml")
    locales = (raw or {}).get("locales")
    default_language = locales.get("default") if isinstance(locales, dict) else None
    catalog, warning_problems = load_warnings(root / "warnings", **(
        {"default_language": default_language} if isinstance(default_language, str) else {}
    ))
    sources.warnings = catalog
    problems.extend(_relocate(p, root, sources.name) for p in warning_problems)

    if raw is not None:
        sources.policy, policy_problems = parse_policy(
            raw, rel(policy_path), warning_kinds=set(catalog.kinds), text=sources.policy_text
        )
        problems.extend(policy_problems)
    policy = sources.policy

    for source, suffix in registry.SOURCES.items():
        for path in files(source, suffix):
            _read_entries(path, rel(path), source, policy, problems, sources.entries)
    first_pdq = next(iter(sources.entries.get("pdq", ())), None)
    if first_pdq is not None and not pdq_available():
        path, _, line = first_pdq.rule_id.rpartition(":")
        problems.append(Problem(path, int(line) if line.isdigit() else 0, "pdq hashes are listed but the optional "
                                "extra [pdq] is not installed: thumbnails are not PDQ-hashed, so these entries "
                                "match only PDQ hashes a backend supplies", "warning"))
    if policy is not None:
        _check_score_limits(sources.entries.get("weighted", ()), policy, problems)
    for path in files("allow", ".txt"):
        _read_allow(path, rel(path), problems, sources.allow)

    sources.digest = digest.hexdigest()
    return sources


def _check_score_limits(entries: object, policy: Policy, problems: list[Problem]) -> None:
    """Weighted phrases of a category without ``score_limit`` could never match: refuse the first of each."""
    named: set[str] = set()
    for entry in entries:  # type: ignore[attr-defined]
        if entry.category in named or policy.categories[entry.category].score_limit is not None:
            continue
        named.add(entry.category)
        path, _, line = entry.rule_id.rpartition(":")
        problems.append(Problem(path, int(line) if line.isdigit() else 0,
                                f"weighted phrase in category {entry.category!r}, which has no score_limit: "
                                f"add score_limit = N under [categories.{entry.category}] in policy.toml"))


def _read_toml(data: bytes, rel: str, problems: list[Problem]) -> tuple[str, dict[str, Any] | None]:
    text = decode_text(data, rel, problems)
    if text is None:
        return "", None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(rel, toml_error_line(str(exc)), f"not valid TOML: {exc}"))
        return text, None


def _relocate(problem: Problem, root: Path, name: str) -> Problem:
    """A problem from another module, with its path rewritten relative to the rules directory's parent."""
    path = Path(problem.path)
    for base in (root, root.resolve()):
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        return Problem(f"{name}/{relative.as_posix()}", problem.line, problem.reason, problem.severity)
    return problem


def _read_entries(path: Path, rel: str, source: str, policy: Policy | None, problems: list[Problem],
                  out: dict[str, list[Entry]]) -> None:
    category = path.stem
    declared = policy.categories.get(category) if policy is not None else None
    if declared is None:
        problems.append(Problem(rel, 0, f"category {category!r} is not declared in policy.toml (add [categories.{category}])"))
    before = len(problems)
    if source == "urls":
        count = _read_urls(path, rel, category, declared is not None, problems, out)
        if not count and len(problems) == before and not (declared is not None and declared.allow_empty):
            problems.append(_empty_file(rel, category))
        return
    seen: dict[object, int] = {}
    count = 0
    # Signals that read their lines themselves (terms: TermEntries) get them straight, without an Entry.
    readers = {name: col for name, col in out.items() if hasattr(col, "add_line")
               and registry.SIGNALS[name].source == source}
    claimers = [(name, cls) for name, cls in registry.for_source(source).items() if not cls.catch_all]
    catch_all = next((name for name, cls in registry.for_source(source).items() if cls.catch_all), "")

    def each(number: int, text: str) -> None:
        if source != "images":
            name = next((n for n, cls in claimers if cls.claims(text)), catch_all)
            reader = readers.get(name)
            if reader is not None:
                reason = reader.add_line(text, number)
                if reason is not None:
                    problems.append(Problem(rel, number, reason))
                return
        try:
            if source == "images":
                name, text, note = _image_row(text)
            else:
                note = ""
            value, key = registry.SIGNALS[name].parse_line(text)
        except SignalError as exc:
            problems.append(Problem(rel, number, str(exc)))
            return
        if key in seen:
            problems.append(Problem(rel, number, f"duplicate of line {seen[key]}; ignored", "warning"))
            return
        seen[key] = number
        if declared is not None:  # entries of an undeclared category are validated but never loaded
            out[name].append(Entry(value, category, f"{rel}:{number}", name, note))

    bulk = readers.get(catch_all) if source != "images" else None
    if bulk is not None and hasattr(bulk, "add_chunk"):
        # Term lists are read a ~0.5 MB piece at a time; the reader indexes runs of plain lines in bulk and
        # hands every other line back to ``each`` in line order (terms: TermEntries.add_chunk).
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(rel, 0, f"cannot read file: {exc.strerror or exc}"))
            data = b""
        hashed = re.search(rb"(?i)sha256:", data) is not None
        for reader in readers.values():
            reader.begin_file(category, rel, declared is not None, **({"hashed": hashed} if reader is bulk else {}))
        before_line = 0
        for texts in _entry_chunks(data, rel, problems, _TERM_CHUNK_BYTES):
            count += len(texts) - texts.count("")
            bulk.add_chunk(before_line + 1, texts, each)
            before_line += len(texts)
        del data
    else:
        lines = stream_lines(path, rel, problems)  # one at a time: a 1M-line file is never a list of lines
        first = next(lines, None)
        if first is not None and not (path.suffix == ".csv" and _is_csv_header(first)):
            lines = itertools.chain([first], lines)
        for reader in readers.values():
            reader.begin_file(category, rel, declared is not None)
        for line in lines:
            count += 1
            each(line.number, line.text)
    duplicates = [Problem(rel, number, f"duplicate of line {first}; ignored", "warning")
                  for reader in readers.values() for number, first in reader.end_file()]
    duplicates += [Problem(rel, number, note, "warning")
                   for reader in readers.values() for number, note in reader.take_notes()]
    if duplicates or readers:  # found after the file was read: put them in line order among its other problems
        problems[before:] = sorted([*problems[before:], *duplicates], key=lambda p: p.line)
    if not count and len(problems) == before and not (declared is not None and declared.allow_empty):
        problems.append(_empty_file(rel, category))


def _empty_file(rel: str, category: str) -> Problem:
    return Problem(rel, 1, f"file is empty (no entries): a truncated file would drop category {category!r}; "
                   f"delete the file, or if it is meant to be empty set allow_empty = true under "
                   f"[categories.{category}] in policy.toml")


def _read_urls(path: Path, rel: str, category: str, declared: bool, problems: list[Problem],
               out: dict[str, Any]) -> int:
    """A URL list in one pass (``UrlSignal.parse_lines``: columns, no object per line; 1M lines in ~1 s).
    Returns the last entry line's number (0: the file has no entry lines, valid or not)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(rel, 0, f"cannot read file: {exc.strerror or exc}"))
        return 0
    found: list[Problem] = []
    batch, parsed = UrlSignal.parse_lines(_entry_chunks(data, rel, found), rel, category)
    found += [Problem(rel, line, reason, severity) for line, reason, severity in parsed]
    problems.extend(sorted(found, key=lambda p: p.line))
    if declared:  # entries of an undeclared category are validated but never loaded
        held = out.get("urls")
        if not isinstance(held, UrlEntries):
            held = out["urls"] = UrlEntries()
        held.batches.append(batch)
    return batch.max_line


_CHUNK_BYTES = 1 << 22  # a URL list is decoded and split ~4 MB at a time (a 1M-line file is ~40 MB)


_TERM_CHUNK_BYTES = 1 << 19  # term lists: smaller pieces (each line of a piece is a Python str while read)


def _entry_chunks(data: bytes, rel: str, problems: list[Problem], size: int = 0) -> Iterator[list[str]]:
    """``iter_lines`` as consecutive lists of lines: item i of the whole is line i + 1 without comment and
    edge spaces ("" for none). Each ~4 MB piece (cut after a newline) is decoded and split at once when it
    is valid UTF-8, and comments are found by searching it for "#" (few lines have one), not by testing
    every line; a piece that is not valid UTF-8 goes line by line through ``iter_lines``."""
    start = len(BOM) if data.startswith(BOM) else 0
    before = 0  # lines before this piece
    while start < len(data):
        end = data.find(b"\n", start + (size or _CHUNK_BYTES))
        end = len(data) if end == -1 else end + 1
        piece = data[start:end]
        yield _piece_texts(piece, before, rel, problems)
        before += piece.count(b"\n")
        start = end


def _piece_texts(piece: bytes, before: int, rel: str, problems: list[Problem]) -> list[str]:
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        texts = [""] * piece.count(b"\n")
        if not piece.endswith(b"\n"):
            texts.append("")
        found: list[Problem] = []
        for line in iter_lines(piece, rel, found):
            texts[line.number - 1] = line.text
        problems.extend(Problem(p.path, p.line + before, p.reason, p.severity) for p in found)
        return texts
    raw = text.split("\n")
    if text.endswith("\n"):
        raw.pop()  # the next piece's first line
    texts = list(map(str.strip, raw))
    at, line = text.find("#"), 0
    newline = 0  # start of line ``line`` (0-based) in text
    while at != -1:
        line += text.count("\n", newline, at)
        newline = text.rfind("\n", 0, at) + 1
        texts[line] = strip_comment(raw[line])
        end = text.find("\n", at)
        if end == -1:
            break
        at = text.find("#", end)
    return texts


def _image_row(text: str) -> tuple[str, str, str]:
    """(signal name, hash, note) of an ``algorithm,hash[,note]`` row; SignalError when it is malformed."""
    row = next(csv.reader([text], skipinitialspace=True), [])
    if len(row) < 2:
        raise SignalError("expected algorithm,hash[,note] (for example: phash,d1c4e0f0b0a09080)")
    algorithm = row[0].strip().lower()
    images = registry.for_source("images")
    if algorithm not in images:
        raise SignalError(f"unknown image hash algorithm {algorithm!r} (known: {', '.join(images)})")
    return algorithm, row[1], ",".join(row[2:])


def _is_csv_header(line: Line) -> bool:
    return line.text.replace(" ", "").lower().startswith("algorithm,hash")


def _read_allow(path: Path, rel: str, problems: list[Problem], out: list[str]) -> None:
    seen: dict[str, int] = {}
    for line in read_lines(path, rel, problems):
        key = normalize(line.text)
        if not key:
            problems.append(Problem(rel, line.number, "the phrase has no letters or digits left after normalisation"))
        elif key in seen:
            problems.append(Problem(rel, line.number, f"duplicate of line {seen[key]}; ignored", "warning"))
        else:
            seen[key] = line.number
            out.append(line.text)
