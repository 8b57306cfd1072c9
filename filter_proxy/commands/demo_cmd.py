"""`filter-proxy demo`: serve the embedded demo search engine behind the filter on loopback."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from filter_proxy.rules.errors import RulesError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="serve a small synthetic search engine behind the filter",
        description="Serve the embedded demo: a SQLite FTS5 search backend over a synthetic corpus, wrapped in "
        "FilterMiddleware, with an HTML search page at / and the filtered JSON API at /search.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to listen on (default: 8080; 0 picks a free one; `make demo PORT=8081`)")
    parser.add_argument("--rules", type=Path, default=Path("rules"), help="rules directory or compiled bundle")
    parser.add_argument("--thumbnails", choices=("auto", "fetch", "precomputed"), default="auto",
                        help="screen thumbnails by fetching them (loopback allowed for the demo only) or by "
                        "hashes the backend precomputes; auto: fetch when the image screener is installed")
    parser.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    rules_path: Path = args.rules
    if not rules_path.exists():
        print(f"filter-proxy demo: rules not found at {rules_path} "
              "(pass --rules DIR, e.g. the rules/ directory of the source tree)", file=sys.stderr)
        return 2
    # Imported here so that `filter-proxy --help` stays fast and works without the demo's dependencies.
    from filter_proxy.demo.app import create_demo_app, thumbnail_mode

    thumbnails = args.thumbnails
    if thumbnails == "auto" and not _is_loopback(args.host):
        # Browsers would reach the thumbnails on a non-loopback address, which the fetcher rightly refuses.
        thumbnails = "precomputed"
    try:
        app = create_demo_app(rules_path, thumbnails=thumbnails)
    except RulesError as exc:
        print(f"filter-proxy demo: the rules at {rules_path} are invalid:", file=sys.stderr)
        for problem in exc.problems or [exc]:
            print(f"  {problem}", file=sys.stderr)
        return 2
    from filter_proxy.commands.listen import PortInUse, bind, run_on, url

    try:
        sock = bind(args.host, args.port)
    except PortInUse as exc:
        print(f"filter-proxy demo: {exc.strerror} (with make: make demo PORT={args.port + 1})", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"filter-proxy demo: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    # Printed once the port is ours, so the address is true (with --port 0, the port the system chose).
    print(f'filter-proxy demo: serving on {url(sock)} — try "bread recipe" or "zqxblocked" '
          f"(thumbnails: {thumbnail_mode(thumbnails)}; Ctrl+C to stop)", flush=True)
    # No access log: request lines carry the raw query, which is never logged.
    run_on(app, sock, access_log=False, log_level="warning")
    return 0
