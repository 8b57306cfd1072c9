"""`filter-proxy` command line: a thin dispatcher; each command group lives in filter_proxy/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command modules each expose `register(subparsers)`; the parser they add sets `func(args) -> int`.
COMMAND_MODULES = ("rules_cmd", "serve_cmd", "demo_cmd", "hashes_cmd", "report_cmd", "fleet_cmd", "scan_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="filter-proxy",
        description="Keep child sexual abuse material out of search results and suggestions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
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
