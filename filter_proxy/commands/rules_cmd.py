"""`filter-proxy rules check | compile | hash`: the policy team's tools for rule files."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from filter_proxy.commands import add_subcommands
from filter_proxy.commands.layout import layout_problems
from filter_proxy.commands.progress import Steps, steps
from filter_proxy.rules.errors import Problem, RulesError


def register(subparsers: Any) -> None:
    rules = subparsers.add_parser("rules", help="check, compile and hash rule files")
    sub = add_subcommands(rules, "rules_command")

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
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By file, then line (a whole-file problem, line 0, first), each problem once, in a stable order."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.path, p.line))


def _print_problems(problems: list[Problem], out: TextIO) -> None:
    for problem in sort_problems(problems):
        print(problem, file=out)


def per_category(stats: dict[str, Any]) -> str:
    """"zqx-abuse 12 (8 terms, 2 URLs, 2 image hashes), zqx-spam 3 (3 terms)" from Sources.stats()."""
    names = (("terms", "term", None), ("urls", "URL", None), ("images", "image hash", "image hashes"))
    categories = sorted({c for kind, _, _ in names for c in stats.get(kind, {})})
    parts = []
    for category in categories:
        counts = [(stats[kind].get(category, 0), word, plural) for kind, word, plural in names if kind in stats]
        total = sum(n for n, _, _ in counts)
        detail = ", ".join(_plural(n, w, p) for n, w, p in counts if n)
        parts.append(f"{category} {total:,}" + (f" ({detail})" if detail else ""))
    return ", ".join(parts) or "no entries"


def _read(path: str, progress: Steps) -> tuple[Any, list[Problem]]:
    """(Sources or None for a bundle, problems): the folder read once, plus the layout warnings."""
    from filter_proxy.rules.bundle import is_bundle
    from filter_proxy.rules.loader import read_sources

    root = Path(path)
    if root.is_file() and is_bundle(root):
        return None, []
    progress.step(f"reading rule files in {path}")
    sources = read_sources(root)  # RulesError only when the folder is missing
    return sources, [*sources.problems, *layout_problems(root, sources.name)]


def _fixed_mmap_threshold(nbytes: int = 1 << 18) -> None:
    """glibc raises its mmap threshold each time a large block is freed (up to 32 MB); the growing index
    columns of a 1M-term read then live in the heap, whose holes are never returned: measured ~95 MB of
    resident memory at 1M terms. A fixed threshold keeps large blocks mapped, returned when freed
    (``mallopt(M_MMAP_THRESHOLD)``, which also turns the adjustment off). Only in these one-shot
    commands; nothing happens where the C library has no ``mallopt``."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).mallopt(-3, nbytes)  # -3: M_MMAP_THRESHOLD


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Reading 1M entries allocates millions of small objects and no reference cycles; the cyclic
    collector would walk all of them again and again while they are made. Off for the read, then back."""
    _fixed_mmap_threshold()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_command(args: argparse.Namespace) -> int:
    from filter_proxy.rules.loader import build_ruleset, load_rules

    stats: dict[str, Any] = {}
    rates: list[Any] = []  # expected false matches of each image category at its size (matchers/image_fmr.py)
    version = ""
    with steps() as progress, _no_cyclic_gc():
        try:
            sources, problems = _read(args.path, progress)
        except RulesError as exc:
            sources, problems = None, list(exc.problems)
        else:
            if sources is None:  # a compiled bundle: verifying it is loading it
                progress.step(f"verifying the bundle {args.path}")
                try:
                    bundle = load_rules(args.path)
                except RulesError as exc:
                    problems = list(exc.problems)
                else:
                    full = bundle.stats()
                    stats = {**full["by_category"], "allow": full["allow"]}
                    version = bundle.version
                    rates = getattr(bundle, "image_findings", [])
        errors, warnings = _summary(problems)
        if sources is not None:
            stats = sources.stats()
            if not errors:
                # Building the indexes is part of the check: it is exactly what the server will do.
                progress.step("building the indexes")
                try:
                    ruleset = build_ruleset(sources, args.path)
                except RulesError as exc:
                    problems = [*problems, *exc.problems]
                    errors, warnings = _summary(sort_problems(problems))
                else:
                    version = ruleset.version
                    rates = getattr(ruleset, "image_findings", [])
    _print_problems(problems, sys.stdout)
    for finding in rates if not errors else []:
        print(f"{args.path}: images: {finding.describe()}")
    counts = f"; entries per category: {per_category(stats)}" if stats else ""
    if errors:
        print(f"{args.path}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}{counts}; "
              "the rule set is refused")
        return 1
    allow = f"; {_plural(stats.get('allow', 0), 'allow phrase')}" if stats else ""
    where = f"; version {version}" if version else ""
    print(f"{args.path}: OK, {_plural(warnings, 'warning')}{counts}{allow}{where}")
    return 0


def compile_command(args: argparse.Namespace) -> int:
    from filter_proxy.rules.bundle import compile_rules

    if args.sign:  # a missing or wrong key fails before anything is read or written
        from filter_proxy.rules.signing import load_private_key

        try:
            load_private_key(args.sign)
        except RulesError as exc:
            print(f"{exc}; nothing written", file=sys.stderr)
            return 1
    with steps() as progress, _no_cyclic_gc():
        try:
            sources, problems = _read(args.path, progress)
            if sources is None:
                raise RulesError(args.path, 0, "is a compiled bundle already; compile a rules directory")
            if not sources.errors:
                progress.step(f"building the indexes and writing {args.output}")
                header = compile_rules(args.path, args.output, sources=sources)
        except RulesError as exc:
            problems = [*(problems if "problems" in locals() else []), *exc.problems]
    errors, warnings = _summary(sort_problems(problems))
    _print_problems(problems, sys.stderr)
    if errors:
        print(f"{args.path}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; nothing written",
              file=sys.stderr)
        return 1
    size = Path(args.output).stat().st_size
    if args.sign:
        from filter_proxy.rules.signing import sign_bundle

        sig = sign_bundle(args.output, args.sign, header["version"])
        print(f"signed {args.output}: {sig}")
    total = sum(sum(v.values()) for k, v in header["stats"].items() if isinstance(v, dict))
    print(f"wrote {args.output}: version {header['version']}, {_plural(total, 'entry', 'entries')}, {size:,} bytes")
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
