"""Loading a rules directory: every file validated, every problem located as ``path:line``.

``check_rules`` collects all problems at once (for `filter-proxy rules check`); ``load_rules`` refuses a
rule set with any error and returns a RuleSet otherwise. A path that is a compiled bundle (recognised by
its magic bytes) is loaded by ``filter_proxy.rules.bundle`` instead.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filter_proxy.matchers.images import (
    ImageEntry,
    ImageIndex,
    pdq_available,
    picture_id,
    validate_image_hash,
)
from filter_proxy.matchers.terms import TermEntry, TermIndex, validate_term
from filter_proxy.matchers.urls import UrlEntry, UrlIndex, parse_url_line
from filter_proxy.normalize import normalize
from filter_proxy.rules.errors import Problem, RulesError
from filter_proxy.rules.parse import Line, decode_text, read_lines, toml_error_line
from filter_proxy.rules.policy import Policy, parse_policy
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.warnings import WarningCatalog, load_warnings

_LOCATED = re.compile(r"^(.+):(\d+): (.+)$", re.S)
# Sub-directory -> file suffix of the per-category entry files.
KIND_SUFFIX = {"terms": ".txt", "urls": ".txt", "images": ".csv"}


@dataclass
class Sources:
    """Everything read from one rules directory, validated but not yet indexed."""

    name: str  # rule-id prefix: the directory's own name, e.g. "rules"
    policy: Policy | None = None
    policy_text: str = ""
    warnings: WarningCatalog | None = None
    terms: list[TermEntry] = field(default_factory=list)
    urls: list[UrlEntry] = field(default_factory=list)
    images: list[ImageEntry] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    digest: str = ""  # sha256 over every source file's path and bytes
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def stats(self) -> dict[str, Any]:
        return {
            "terms": dict(Counter(e.category for e in self.terms)),
            "urls": dict(Counter(e.category for e in self.urls)),
            "images": dict(Counter(e.category for e in self.images)),
            "allow": len(self.allow),
        }


def check_rules(path: str | Path) -> list[Problem]:
    """Every problem (errors and warnings) in a rules directory or bundle, in file order."""
    from filter_proxy.rules.bundle import is_bundle, load_bundle

    path = Path(path)
    if path.is_file() and is_bundle(path):
        try:
            load_bundle(path)
        except RulesError as exc:
            return list(exc.problems)
        return []
    try:
        return read_sources(path).problems
    except RulesError as exc:
        return list(exc.problems)


def load_rules(path: str | Path) -> RuleSet:
    """A RuleSet from a rules directory or a compiled bundle; RulesError when anything is wrong."""
    from filter_proxy.rules.bundle import is_bundle, load_bundle

    path = Path(path)
    if path.is_file():
        if is_bundle(path):
            return load_bundle(path)
        raise RulesError(str(path), 0, "not a rules directory or a compiled rules bundle")
    sources = read_sources(path)
    if sources.errors:
        raise RulesError.from_problems(sources.problems)
    return build_ruleset(sources, str(path))


def build_indexes(sources: Sources) -> tuple[TermIndex, UrlIndex, ImageIndex]:
    """The three indexes. The matchers re-validate entries and name the rule id of a bad one; after
    read_sources that cannot happen, but if it does it is still reported as ``path:line: reason``."""
    try:
        return (
            TermIndex.build(sources.terms, allow=sources.allow),
            UrlIndex.build(sources.urls),
            ImageIndex.build(sources.images),
        )
    except ValueError as exc:
        found = _LOCATED.match(str(exc))
        if found:
            raise RulesError(found[1], int(found[2]), found[3]) from exc
        raise RulesError(sources.name, 0, f"cannot index the rules: {exc}") from exc


def build_ruleset(sources: Sources, source: str) -> RuleSet:
    assert sources.policy is not None and sources.warnings is not None
    terms, urls, images = build_indexes(sources)
    check_image_index(images, sources.policy, f"{sources.name}/images")
    return RuleSet(
        policy=sources.policy,
        warnings=sources.warnings,
        terms=terms,
        urls=urls,
        images=images,
        version=sources.digest[:12],
        source=source,
        stats=sources.stats(),
        allow=sources.allow,
    )


def check_image_index(images: ImageIndex, policy: Policy, where: str) -> None:
    """Image policy on the built index (issue 11.6f, owned by the image code): require_agreement, and a list
    whose sampled false-match rate per picture exceeds images.max_false_match_rate is refused."""
    from filter_proxy.matchers.image_fmr import configure_index

    _, reasons = configure_index(images, policy)
    if reasons:
        raise RulesError.from_problems([Problem(where, 0, reason) for reason in reasons])


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
                digest.update(rel(path).encode() + b"\0" + path.read_bytes() + b"\0")
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
    declared = set(sources.policy.categories) if sources.policy else set()

    for path in files("terms", ".txt"):
        _read_entries(path, rel(path), declared, problems, sources.terms, _term)
    for path in files("urls", ".txt"):
        _read_entries(path, rel(path), declared, problems, sources.urls, _url)
    for path in files("images", ".csv"):
        _read_entries(path, rel(path), declared, problems, sources.images, _image)
    first_pdq = next((e for e in sources.images if e.algorithm == "pdq"), None)
    if first_pdq is not None and not pdq_available():
        path, _, line = first_pdq.rule_id.rpartition(":")
        problems.append(Problem(path, int(line) if line.isdigit() else 0, "pdq hashes are listed but the optional "
                                "extra [pdq] is not installed: thumbnails are not PDQ-hashed, so these entries "
                                "match only PDQ hashes a backend supplies", "warning"))
    for path in files("allow", ".txt"):
        _read_allow(path, rel(path), problems, sources.allow)

    sources.digest = digest.hexdigest()
    return sources


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


# -- per-kind line parsers: (line text, category, rule id) -> (entry, duplicate key) or a reason -----

EntryResult = tuple[Any, object] | str


def _read_entries(path: Path, rel: str, declared: set[str], problems: list[Problem], out: list[Any], parse: Any) -> None:
    category = path.stem
    known = category in declared
    if not known:
        problems.append(Problem(rel, 0, f"category {category!r} is not declared in policy.toml (add [categories.{category}])"))
    seen: dict[object, int] = {}
    lines = read_lines(path, rel, problems)
    if lines and path.suffix == ".csv" and _is_csv_header(lines[0]):
        lines = lines[1:]
    for line in lines:
        result = parse(line.text, category, f"{rel}:{line.number}")
        if isinstance(result, str):
            problems.append(Problem(rel, line.number, result))
            continue
        entry, key = result
        if key in seen:
            problems.append(Problem(rel, line.number, f"duplicate of line {seen[key]}; ignored", "warning"))
            continue
        seen[key] = line.number
        if known:  # entries of an undeclared category are validated but never loaded
            out.append(entry)


def _term(text: str, category: str, rule_id: str) -> EntryResult:
    fields, reason = validate_term(text)
    if fields is None:
        return reason or "not a valid term"
    entry = TermEntry(fields[0], category, rule_id, fields[1])
    return entry, (entry.substring, _term_digest(entry.text))


def _term_digest(text: str) -> str:
    """The sha256 hex of a term's normalised form, so a plain phrase and its hashed twin count as duplicates."""
    if text.startswith("sha256:"):
        return text[len("sha256:") :].lower()
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def _url(text: str, category: str, rule_id: str) -> EntryResult:
    kind, canonical, reason = parse_url_line(text)
    if reason is not None:
        return reason
    # Two spellings of one URL (case, www., tracking parameters) are the same entry.
    return UrlEntry(text, category, rule_id), (kind, canonical)


def _image(text: str, category: str, rule_id: str) -> EntryResult:
    row = next(csv.reader([text], skipinitialspace=True), [])
    if len(row) < 2:
        return "expected algorithm,hash[,note] (for example: phash,d1c4e0f0b0a09080)"
    algorithm, hex_ = row[0].strip().lower(), row[1].strip().lower()
    reason = validate_image_hash(algorithm, hex_)
    if reason is not None:
        return reason
    return ImageEntry(algorithm, hex_, category, rule_id, picture_id(row[2] if len(row) > 2 else "")), (algorithm, hex_)


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
