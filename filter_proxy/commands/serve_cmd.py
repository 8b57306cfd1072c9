"""`filter-proxy serve`: the reverse proxy in front of a search API, under uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from filter_proxy.config import CONFIG_ENV, Config, ConfigError, load_config, to_env

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the filtering reverse proxy in front of a search API",
        description="Run the filtering reverse proxy. Settings: defaults < --config file < FILTER_PROXY_* "
        "environment variables < these flags. See filter-proxy.example.toml.",
    )
    p.add_argument("--config", metavar="FILE", help="filter-proxy.toml")
    p.add_argument("--upstream", metavar="URL", help="the search API, e.g. http://127.0.0.1:9200")
    p.add_argument("--adapter", metavar="NAME", help="backend response shape (elasticsearch, solr, ...)")
    p.add_argument("--rules", metavar="PATH", help="rules directory or compiled bundle")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8080)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")
    p.add_argument("--log-format", choices=("auto", "json", "text"), default="auto",
                   help="log lines as JSON or human-readable text; auto (default): text on a terminal, JSON "
                   "otherwise")
    p.add_argument("--force-reload", action="store_true", default=None,
                   help="apply file-watch and SIGHUP reloads even when they empty a category or shrink it by "
                   "more than half (default: refuse them; POST /-/reload?force=true forces one reload)")
    p.add_argument("--print-routes", action="store_true",
                   help="print the route table (method, pattern, outcome, response kind) and exit")
    p.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    return {
        "upstream.url": args.upstream,
        "upstream.adapter": args.adapter,
        "rules.path": args.rules,
        "server.host": args.host,
        "server.port": args.port,
        "server.workers": args.workers,
        "rules.force_reload": args.force_reload,
    }


def prepare_multiprocess(config: Config) -> str | None:
    """Point prometheus_client at a shared directory (before it is imported) when metrics are enabled
    and there are several workers or a directory is configured. Stale files of a previous run are removed."""
    if not config.metrics.enabled:
        return None
    directory = config.metrics.multiprocess_dir or os.environ.get(MULTIPROC_ENV)
    if not directory and config.server.workers > 1:
        directory = tempfile.mkdtemp(prefix="filter-proxy-metrics-")
    if not directory:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return str(path)


def print_routes(config: Config) -> int:
    """``--print-routes``: the adapter's route table with the configured additions; anything else is refused."""
    from filter_proxy.adapters.routes import build_table
    from filter_proxy.ops import build_adapter

    try:
        adapter = build_adapter(config)
    except ConfigError as exc:
        print(f"filter-proxy serve: configuration error: {exc}", file=sys.stderr)
        return 2
    r = config.routes
    table = build_table(adapter.default_routes(), search_paths=r.search_paths, suggest_paths=r.suggest_paths,
                        screen=r.screen, pass_=r.pass_, refuse=r.refuse, read=r.read,
                        case_insensitive=adapter.paths_case_insensitive)
    rows = table.rows()
    widths = [max(len(row[i]) for row in [("METHODS", "PATTERN", "OUTCOME", "KIND", "FROM"), *rows]) for i in range(5)]
    for row in [("METHODS", "PATTERN", "OUTCOME", "KIND", "FROM"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"# adapter {adapter.name}: every other method and path is refused (403); "
          "move a route with [routes] screen / read / pass / refuse")
    return 0


def rule_lines(path: Path) -> int:
    """How many lines the rule files of a rules directory have (0 for a bundle): said before a load that
    can take seconds, so a person knows the size of what is coming. One byte count per file, no parsing."""
    if not path.is_dir():
        return 0
    total = 0
    for folder in ("terms", "urls", "images", "allow"):
        for file in (path / folder).glob("*.*"):
            try:
                total += file.read_bytes().count(b"\n")
            except OSError:
                continue  # the loader reports it
    return total


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    if getattr(args, "print_routes", False):
        try:
            config = load_config(args.config, overrides=overrides)
        except ConfigError as exc:
            print(f"filter-proxy serve: configuration error: {exc}", file=sys.stderr)
            return 2
        return print_routes(config)
    try:
        config = load_config(args.config, overrides=overrides, require_upstream=True)
        config.admin.resolve_token()  # fail now on an unreadable token file
    except ConfigError as exc:
        print(f"filter-proxy serve: configuration error: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from filter_proxy.commands.listen import PortInUse, bind, run_on, url
    from filter_proxy.logs import configure_logging, resolve_log_format, use_human_format

    log_format = resolve_log_format(args.log_format, config.logging.json)
    handler = configure_logging(config.logging.level, log_format == "json", access_log=config.logging.access_log)
    if log_format == "text":
        use_human_format(handler)
    prepare_multiprocess(config)
    # The port is taken before the rules are loaded (which can take seconds on big lists): a busy port is
    # one clear line, at once, and --port 0 gets a real port to print.
    try:
        sock = bind(config.server.host, config.server.port)
    except PortInUse as exc:
        print(f"filter-proxy serve: {exc.strerror}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"filter-proxy serve: cannot listen on {config.server.host}:{config.server.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    from filter_proxy.server_http import HttpToolsProtocol

    common = {
        # uvicorn's httptools protocol, writing each response's head with its first body bytes (one write)
        "http": HttpToolsProtocol,
        "log_config": None,  # keep our JSON logging and scrubbers
        "access_log": config.logging.access_log,
        "lifespan": "on",
        "proxy_headers": False,
        "server_header": False,
    }
    if config.server.workers > 1:
        # Workers are separate processes: they rebuild the app from the same config file and the flags,
        # passed as FILTER_PROXY_* variables (which rank just below flags, so precedence is unchanged).
        if config.source:
            os.environ[CONFIG_ENV] = str(Path(config.source).resolve())
        os.environ.update(to_env(overrides))
        # Help links (funnel/token.py) made by one worker must be followed on another: one secret for all.
        from filter_proxy.funnel.token import SECRET_ENV as HELP_SECRET_ENV

        if not os.environ.get(HELP_SECRET_ENV, "").strip():
            os.environ[HELP_SECRET_ENV] = os.urandom(32).hex()
        if log_format == "text":
            os.environ["FILTER_PROXY_LOGGING_JSON"] = "false"
        port = sock.getsockname()[1]
        sock.close()  # uvicorn's supervisor binds it again for its workers (SO_REUSEADDR)
        logging.getLogger("filter_proxy.serve").info(
            "starting %d workers on %s:%d; each loads the rules from %s", config.server.workers,
            config.server.host, port, config.rules.path)
        from filter_proxy.supervisor import run_workers

        # Our own supervisor around uvicorn's workers: SIGHUP and the file watcher reload the rules in
        # every worker (through a shared state directory) instead of restarting them.
        run_workers(uvicorn.Config("filter_proxy.ops:app_from_env", factory=True, workers=config.server.workers,
                                   host=config.server.host, port=port, **common),
                    rules_path=config.rules.path, watch=config.rules.watch, debounce_ms=config.rules.debounce_ms,
                    force=config.rules.force_reload)
        return 0

    from filter_proxy.ops import build_app
    from filter_proxy.rules.errors import RulesError

    # Log lines, not prints: under a supervisor the stream stays one JSON object per line.
    log = logging.getLogger("filter_proxy.serve")
    lines = rule_lines(Path(config.rules.path))
    log.info("loading rules from %s%s …", config.rules.path, f" ({lines:,} lines in rule files)" if lines else "")
    started = time.perf_counter()
    try:
        app = build_app(config)
    except RulesError as exc:
        sock.close()
        print(f"filter-proxy serve: rules refused: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        sock.close()
        print(f"filter-proxy serve: configuration error: {exc}", file=sys.stderr)
        return 2
    rules = app.holder.current if app.holder is not None else None
    entries = rules.stats()["total"] if rules is not None else 0
    log.info("ready in %.1f s: %s entries, rules version %s; listening on %s, upstream %s",
             time.perf_counter() - started, f"{entries:,}", getattr(rules, "version", "?"), url(sock),
             config.upstream.url)
    run_on(app, sock, **common)
    return 0
