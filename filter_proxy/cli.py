"""`filter-proxy` command line: a thin dispatcher; each command group lives in filter_proxy/commands/.

Exit codes, the same for every command: 0 success; 1 the command ran and found problems (rule errors, bad
lines, images that could not be hashed); 2 usage or set-up errors (unknown option, missing file or folder,
invalid configuration, port in use).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from filter_proxy.commands import add_subcommands

# Command modules each expose `register(subparsers)`; the parser they add sets `func(args) -> int`.
COMMAND_MODULES = ("rules_cmd", "serve_cmd", "demo_cmd", "hashes_cmd", "report_cmd", "fleet_cmd", "scan_cmd")

EPILOG = ("exit status: 0 success; 1 problems found (rule errors, bad lines, unreadable images); "
          "2 usage or set-up error (bad option, missing file, invalid configuration, port in use)")


def version() -> str:
    """The installed distribution's version (the package's metadata, so it can never disagree with pip)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("filter-proxy")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="filter-proxy",
        description="Keep child sexual abuse material out of search results and suggestions.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = add_subcommands(parser, "command")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"filter_proxy.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"filter_proxy.commands.{name}":
                raise
            continue  # a command group not built yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
