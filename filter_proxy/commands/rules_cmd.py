"""`filter-proxy rules check | compile | hash`: the policy team's tools for rule files."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, TextIO

from filter_proxy.rules.errors import Problem, RulesError


def register(subparsers: Any) -> None:
    rules = subparsers.add_parser("rules", help="check, compile and hash rule files")
    sub = rules.add_subparsers(dest="rules_command", required=True)

    check = sub.add_parser("check", help="print every problem in a rule set as path:line: reason")
    check.add_argument("path", help="rules directory or compiled bundle")
    check.set_defaults(func=check_command)

    compile_ = sub.add_parser("compile", help="write a versioned, checksummed, fast-loading bundle")
    compile_.add_argument("path", help="rules directory")
    compile_.add_argument("-o", "--output", required=True, help="bundle file to write (replaced atomically)")
    compile_.add_argument("--sign", metavar="KEY", help="Ed25519 private key (PEM): also write OUTPUT.sig")
    compile_.set_defaults(func=compile_command)

    hash_ = sub.add_parser("hash", help="print sha256:<hex> entries of normalised phrases for hashed lists")
    hash_.add_argument("phrases", nargs="*", help="phrases to hash; read one per line from stdin when none")
    hash_.set_defaults(func=hash_command)

    # `rules publish` belongs to the fleet commands (fleet_cmd.py)
    from filter_proxy.commands.fleet_cmd import register_publish

    register_publish(sub)


def _summary(problems: list[Problem]) -> tuple[int, int]:
    errors = sum(1 for p in problems if p.severity == "error")
    return errors, len(problems) - errors


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _print_problems(problems: list[Problem], out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)


def check_command(args: argparse.Namespace) -> int:
    from filter_proxy.rules.loader import check_rules, load_rules

    problems = check_rules(args.path)
    errors, warnings = _summary(problems)
    stats: dict[str, Any] | None = None
    rates: list[Any] = []
    version = ""
    if not errors:
        # Building the indexes is part of the check: it is exactly what the server will do.
        try:
            ruleset = load_rules(args.path)
        except RulesError as exc:
            problems = [*problems, *(p for p in exc.problems if p not in problems)]
            errors, warnings = _summary(problems)
        else:
            stats, version = ruleset.stats(), ruleset.version
            rates = getattr(ruleset, "image_findings", [])  # false matches at scale (matchers/image_fmr.py)
    _print_problems(problems, sys.stdout)
    for finding in rates if not errors else []:
        print(f"{args.path}: images: {finding.describe()}")
    if errors:
        print(f"{args.path}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; the rule set is refused")
        return 1
    assert stats is not None
    counts = ", ".join(
        [
            _plural(stats["terms"], "term"),
            _plural(stats["urls"], "URL"),
            _plural(stats["images"], "image hash", "image hashes"),
            _plural(stats["allow"], "allow phrase"),
        ]
    )
    print(f"{args.path}: OK ({counts}; {_plural(warnings, 'warning')}; version {version})")
    return 0


def compile_command(args: argparse.Namespace) -> int:
    from filter_proxy.rules.bundle import compile_rules
    from filter_proxy.rules.loader import check_rules

    if args.sign:  # a missing or wrong key fails before anything is written
        from filter_proxy.rules.signing import load_private_key

        try:
            load_private_key(args.sign)
        except RulesError as exc:
            print(f"{exc}; nothing written", file=sys.stderr)
            return 1
    try:
        header = compile_rules(args.path, args.output)
    except RulesError as exc:
        _print_problems(exc.problems, sys.stderr)
        errors, warnings = _summary(exc.problems)
        print(f"{args.path}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; nothing written", file=sys.stderr)
        return 1
    _print_problems([p for p in check_rules(args.path) if p.severity != "error"], sys.stderr)
    size = Path(args.output).stat().st_size
    if args.sign:
        from filter_proxy.rules.signing import sign_bundle

        sig = sign_bundle(args.output, args.sign, header["version"])
        print(f"signed {args.output}: {sig}")
    total = sum(sum(v.values()) for k, v in header["stats"].items() if isinstance(v, dict))
    print(f"wrote {args.output}: version {header['version']}, {_plural(total, 'entry', 'entries')}, {size} bytes")
    return 0


def hash_phrase(phrase: str) -> str | None:
    """``sha256:<hex>`` of the normalised phrase, the form a hashed term entry takes; None if nothing is left."""
    from filter_proxy.normalize import normalize

    normal = normalize(phrase)
    if not normal:
        return None
    return "sha256:" + hashlib.sha256(normal.encode("utf-8")).hexdigest()


def hash_command(args: argparse.Namespace) -> int:
    phrases = args.phrases or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    status = 0
    for number, phrase in enumerate(phrases, start=1):
        entry = hash_phrase(phrase)
        if entry is None:
            # Never echo the phrase itself: hashed lists exist so the text does not show up anywhere.
            print(f"phrase {number}: no letters or digits left after normalisation; skipped", file=sys.stderr)
            status = 1
            continue
        print(entry)
    return status
