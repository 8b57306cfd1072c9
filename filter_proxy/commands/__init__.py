"""The `filter-proxy` command groups, one module each, and what they share.

Exit codes, the same for every command: ``EXIT_OK`` (0) success; ``EXIT_PROBLEMS`` (1) the command ran and
found problems; ``EXIT_USAGE`` (2) a usage or set-up error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def needs_subcommand(parser: argparse.ArgumentParser, dest: str) -> None:
    """Make ``parser`` answer a missing subcommand with its own help and the list of choices (exit 2)
    instead of argparse's "the following arguments are required: <dest>"."""

    def missing(_args: argparse.Namespace) -> int:
        choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: choose a command: {', '.join(choices or ())} "
              f"(see `{parser.prog} --help`)", file=sys.stderr)
        return EXIT_USAGE

    parser.set_defaults(func=missing, **{dest: None})


def add_subcommands(parser: argparse.ArgumentParser, dest: str, **kwargs: Any) -> Any:
    """``parser.add_subparsers`` with the friendly missing-subcommand message of ``needs_subcommand``."""
    sub = parser.add_subparsers(dest=dest, metavar="command", **kwargs)
    needs_subcommand(parser, dest)
    return sub
