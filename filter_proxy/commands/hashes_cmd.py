"""`filter-proxy hashes add | import | check`: maintain rules/images/<category>.csv hash lists."""

from __future__ import annotations

import argparse
import csv
import difflib
import hashlib
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from filter_proxy.commands import add_subcommands
from filter_proxy.commands.progress import steps
from filter_proxy.matchers.image_region_match import REGION_KEY
from filter_proxy.matchers.images import (
    CROP_ALGORITHMS,
    EXACT_ALGORITHMS,
    MIN_ENROLL_QUALITY,
    ImageDecodeError,
    compute_enrollment_hashes,
    compute_hashes,
    compute_query_hashes,
    decode_image,
    picture_quality,
    validate_image_hash,
)
from filter_proxy.rules.policy import (
    HASH_HEX_LENGTH,
    PERCEPTUAL_ALGORITHMS,
    Policy,
    parse_policy,
)

CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HEADER = ("# Known image hashes of category {c}: algorithm,hash[,note], one per line (see rules/README.md).\n"
          "# Maintained with `filter-proxy hashes add` and `filter-proxy hashes import`.\n")


def register(subparsers: Any) -> None:
    hashes = subparsers.add_parser("hashes", help="add, import and check known image hashes")
    sub = add_subcommands(hashes, "hashes_command")

    add = sub.add_parser("add", help="hash images and append them to rules/images/<category>.csv")
    add.add_argument("images", nargs="+", type=Path, help="image files")
    add.add_argument("--category", required=True, help="category (file name under rules/images/)")
    add.add_argument("--rules", type=Path, default=Path("rules"), help="rules directory (default: rules)")
    add.add_argument("--note", default="", help="note written in the third column")
    add.add_argument("--no-crops", action="store_true",
                     help="enroll the whole picture only (by default crops and a border-trimmed copy are hashed "
                          "too, so that cropped copies still match)")
    add.set_defaults(func=add_command)

    imp = sub.add_parser("import", help="validate and import a hash list (one hash per line, or CSV)")
    imp.add_argument("file", type=Path, help="hash list: one hash per line, or CSV with the hash in column 1 or 2")
    imp.add_argument("--category", required=True)
    imp.add_argument("--algorithm", required=True, choices=sorted(HASH_HEX_LENGTH))
    imp.add_argument("--rules", type=Path, default=Path("rules"))
    imp.add_argument("--skip-bad", action="store_true", help="import the good lines even when some are bad")
    imp.set_defaults(func=import_command)

    check = sub.add_parser("check", help="print each image's verdict and nearest distance per algorithm")
    check.add_argument("images", nargs="+", type=Path)
    check.add_argument("--rules", type=Path, default=Path("rules"), help="rules directory or bundle")
    check.set_defaults(func=check_command)


def _policy(rules: Path) -> Policy | None:
    """The rules folder's policy, or None after printing why it cannot be used (exit 2 follows).

    A missing folder is refused rather than created: a mistyped --rules (or none, run from the wrong
    folder) would otherwise start a new rule set nobody loads. The policy must be valid, because it is
    what says which categories exist."""
    path = rules / "policy.toml"
    if not rules.is_dir():
        print(f"error: rules folder {rules} not found; pass --rules DIR (the folder holding policy.toml)",
              file=sys.stderr)
        return None
    if not path.is_file():
        print(f"error: {path} not found; a rules folder needs a policy.toml declaring its categories",
              file=sys.stderr)
        return None
    try:
        policy, problems = parse_policy(tomllib.loads(path.read_text(encoding="utf-8-sig")), str(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        print(f"error: {path}: cannot read the policy: {exc}", file=sys.stderr)
        return None
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print(f"error: {path} has errors (see `filter-proxy rules check {rules}`):", file=sys.stderr)
        for problem in errors:
            print(f"  {problem}", file=sys.stderr)
        return None
    return policy


def _target(rules: Path, category: str, policy: Policy) -> Path | None:
    """rules/images/<category>.csv, or None after printing why not. Only a declared category is accepted:
    a file for an undeclared one makes every later reload fail, so later edits would silently never go live."""
    if not CATEGORY.match(category):
        print(f"error: category {category!r} must be letters, digits, '_', '-' or '.'", file=sys.stderr)
        return None
    if category not in policy.categories:
        declared = sorted(policy.categories)
        close = difflib.get_close_matches(category, declared, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        print(f"error: category {category!r} is not declared in {rules / 'policy.toml'}; {hint}"
              f"declared: {', '.join(declared) or 'none'} (to add one, declare [categories.{category}] first)",
              file=sys.stderr)
        return None
    return rules / "images" / f"{category}.csv"


def _existing(path: Path) -> set[tuple[str, str]]:
    """(algorithm, lowercase hex) pairs already in a hash list."""
    if not path.is_file():
        return set()
    found = set()
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            row = next(csv.reader([line], skipinitialspace=True), [])
            if len(row) >= 2:
                found.add((row[0].strip().lower(), row[1].strip().lower()))
    return found


def _append(path: Path, category: str, rows: list[tuple[str, str, str]]) -> None:
    """Write old content + new rows to a temporary file and rename it: never a half-written list."""
    old = path.read_text(encoding="utf-8") if path.is_file() else HEADER.format(c=category)
    if old and not old.endswith("\n"):
        old += "\n"
    new = "".join(f"{a},{h},{n}\n" if n else f"{a},{h}\n" for a, h, n in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(old + new)
    os.replace(tmp, path)


def add_command(args: argparse.Namespace) -> int:
    policy = _policy(args.rules)
    target = _target(args.rules, args.category, policy) if policy is not None else None
    if policy is None or target is None:
        return 2
    images = policy.images
    algorithms = list(dict.fromkeys([*images.algorithms, "sha256"]))
    note = args.note.replace("\n", " ").replace(",", ";")
    rows: list[tuple[str, str, str]] = []
    failed = flat = 0
    for image in args.images:
        try:
            data = image.read_bytes()
            quality = picture_quality(decode_image(data, images.max_pixels))
            if quality < MIN_ENROLL_QUALITY:
                # A flat picture or smooth gradient hashes like every other one: listing it would block
                # unrelated thumbnails. Exact digests alone would be safe, but a half-listed picture misleads.
                print(f"{image}: warning: too flat to identify (detail quality {quality} < {MIN_ENROLL_QUALITY}); "
                      "not enrolled", file=sys.stderr)
                flat += 1
                continue
            if args.no_crops:
                found = [(a, h, "") for a, h in compute_hashes(data, algorithms, images.max_pixels,
                                                                images.min_pdq_quality).items()]
            else:
                crops = PERCEPTUAL_ALGORITHMS if images.require_agreement > 1 else CROP_ALGORITHMS
                found = compute_enrollment_hashes(data, algorithms, images.max_pixels, images.min_pdq_quality, crops)
        except (OSError, ImageDecodeError) as exc:
            print(f"{image}: {exc}", file=sys.stderr)
            failed += 1
            continue
        # pic:<id> ties every row of one picture together (images.require_agreement); the label says which
        # crop a row hashes ("" = the whole picture).
        picture = f"pic:{hashlib.sha256(data).hexdigest()[:16]}"
        rows += [(a, h, "; ".join(p for p in (f"{picture} {label}".strip(), note) if p)) for a, h, label in found]
    if failed:  # all or nothing, like `hashes import`
        print(f"nothing added: {failed} image(s) could not be hashed", file=sys.stderr)
        return 1
    seen = _existing(target)
    fresh = []
    for algo, hex_, n in rows:
        if (algo, hex_) not in seen:
            seen.add((algo, hex_))
            fresh.append((algo, hex_, n))
    if fresh:
        _append(target, args.category, fresh)
    print(f"{target}: added {len(fresh)} hash(es), {len(rows) - len(fresh)} already present"
          + (f"; {flat} picture(s) too flat to identify were not enrolled" if flat else ""))
    return 1 if flat else 0


def _parse_import_line(line: str, algorithm: str) -> tuple[str | None, str]:
    """(hash, "") or (None, reason). The hash is the only column, or CSV column 1 or 2."""
    row = [c.strip() for c in next(csv.reader([line], skipinitialspace=True), [])]
    columns = row[:2] if len(row) > 1 else row
    reasons = []
    for value in columns:
        reason = validate_image_hash(algorithm, value)
        if reason is None:
            return value.lower(), ""
        reasons.append(reason)
    where = "the line" if len(columns) == 1 else "column 1 or 2"
    return None, f"no valid {algorithm} hash in {where} ({reasons[0]})"


def _import_line(raw: str, algorithm: str, first_content: bool) -> tuple[str | None, str, bool, bool]:
    """(hash or None, reason, still before the first content line, skip this line)."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None, "", first_content, True
    hex_, reason = _parse_import_line(line, algorithm)
    # A CSV header such as "md5,name" on the first content line: not a hash, not an error.
    header = first_content and hex_ is None and re.search(r"[g-zG-Z]", line) is not None
    return hex_, reason, False, header


def import_command(args: argparse.Namespace) -> int:
    policy = _policy(args.rules)
    target = _target(args.rules, args.category, policy) if policy is not None else None
    if policy is None or target is None:
        return 2
    try:
        lines = args.file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: cannot read: {exc}", file=sys.stderr)
        return 2
    good: list[tuple[int, str]] = []
    bad = 0
    first_content = True
    with steps() as progress:
        progress.step(f"checking {len(lines):,} lines of {args.file.name}", total=len(lines))
        for number, raw in enumerate(lines, start=1):
            if number % 4096 == 0:
                progress.advance(4096)
            hex_, reason, first_content, skip = _import_line(raw, args.algorithm, first_content)
            if skip:
                continue
            if hex_ is None:
                print(f"{args.file}:{number}: {reason}", file=sys.stderr)
                bad += 1
            else:
                good.append((number, hex_))
    if bad and not args.skip_bad:
        print(f"nothing imported: {bad} bad line(s); fix them or pass --skip-bad", file=sys.stderr)
        return 1
    seen = _existing(target)
    fresh = []
    for _, hex_ in good:
        if (args.algorithm, hex_) not in seen:
            seen.add((args.algorithm, hex_))
            fresh.append((args.algorithm, hex_, f"imported from {args.file.name}"))
    if fresh:
        _append(target, args.category, fresh)
    skipped = f", {bad} bad line(s) skipped (listed above)" if bad else ""
    print(f"{target}: imported {len(fresh)} hash(es), {len(good) - len(fresh)} already present{skipped}")
    # With --skip-bad, skipping was asked for: every good line is in, so the command did what it was told.
    return 0


def check_command(args: argparse.Namespace) -> int:
    from filter_proxy.rules import RulesError, load_rules

    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    index, images = rules.images, rules.policy.images
    algorithms = sorted(index.algorithms | set(EXACT_ALGORITHMS))
    status = 0
    for image in args.images:
        try:
            data = image.read_bytes()
            verdict = rules.check_image(data)
            hashes = compute_query_hashes(data, algorithms, images.max_pixels, images.min_pdq_quality)
        except (OSError, ImageDecodeError) as exc:
            print(f"{image}: {exc}", file=sys.stderr)
            status = 2
            continue
        detail = f" (category {verdict.category}, {verdict.rule_id})" if verdict.matched else ""
        print(f"{image}: {verdict.action}{detail}")
        for algo in algorithms:
            if algo not in hashes:
                continue  # e.g. PDQ skipped for a low-quality image
            # look further than the threshold so a near miss shows how near it was
            limit = 0 if algo in EXACT_ALGORITHMS else 2 * max(
                [rules.policy.threshold(c, algo) for c in rules.policy.categories] or [0])
            found = index.match({algo: hashes[algo]}, lambda c, a, limit=limit: limit) \
                if algo in index.algorithms else None
            if found is None:
                print(f"  {algo:<7} {'no match' if algo in EXACT_ALGORITHMS else f'none within {limit}'}")
            else:
                near = "" if algo in EXACT_ALGORITHMS or algo not in PERCEPTUAL_ALGORITHMS else \
                    f" (threshold {rules.policy.threshold(found.category, algo)})"
                print(f"  {algo:<7} distance {found.distance}{near}  {found.category}  {found.rule_id}")
        regions = hashes.get(REGION_KEY, ())
        if regions:  # content regions (a picture inside a frame): matched under the strict rule only
            inner = index.match({REGION_KEY: regions}, rules.policy.threshold)
            print(f"  region  {len(regions)} found, " + (f"{inner.algorithm} distance {inner.distance} with every "
                  f"enrolled algorithm within its region bound  {inner.category}  {inner.rule_id}" if inner
                  else "none confirmed"))
    return status
