"""`filter-proxy fleet status` and `filter-proxy rules publish`: a fleet of instances through Redis."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def _redis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis", metavar="URL", help="redis://[:password@]host:port/db (default: [fleet] "
                   "redis_url of --config)")
    p.add_argument("--config", metavar="FILE", help="filter-proxy.toml to take [fleet] redis_url and prefix from")
    p.add_argument("--prefix", help="key and channel prefix (default: [fleet] prefix, 'filter-proxy')")


def _fleet_settings(args: argparse.Namespace) -> tuple[str, str, int]:
    """(redis URL, prefix, max inline bytes) from the flags, else the config file. ValueError if no URL."""
    from filter_proxy.config import load_config

    fleet = load_config(args.config).fleet
    url = args.redis or fleet.redis_url
    if not url:
        raise ValueError("no Redis URL: give --redis URL or set [fleet] redis_url in --config")
    return url, args.prefix or fleet.prefix, fleet.max_inline_bytes


def register(subparsers: Any) -> None:
    fleet = subparsers.add_parser("fleet", help="inspect a fleet of instances that follow rules through Redis")
    sub = fleet.add_subparsers(dest="fleet_command", required=True)
    status = sub.add_parser("status", help="list instances, workers, rules versions and heartbeat ages")
    _redis_options(status)
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.add_argument("--check", action="store_true", help="exit 1 unless every worker serves the published "
                        "version")
    status.set_defaults(func=status_command)


def register_publish(rules_subparsers: Any) -> None:
    """Adds `rules publish` to the `rules` command group (rules_cmd.py)."""
    p = rules_subparsers.add_parser("publish", help="store a compiled bundle in Redis and announce it to the fleet")
    p.add_argument("bundle", help="compiled bundle (its BUNDLE.sig is published with it when present)")
    _redis_options(p)
    p.add_argument("--url", help="publish only this URL (http, https or file) and the checksum, for bundles "
                   "too big to keep in Redis")
    p.add_argument("--max-inline", type=int, metavar="BYTES", help="largest bundle kept in Redis itself "
                   "(default: [fleet] max_inline_bytes, 64 MiB)")
    p.add_argument("--force", action="store_true", help="apply it even where it empties a category or shrinks "
                   "it by more than half (instances refuse that otherwise)")
    p.set_defaults(func=publish_command)


def _fail(command: str, message: str) -> int:
    print(f"filter-proxy {command}: {message}", file=sys.stderr)
    return 2


def status_command(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from filter_proxy.config import ConfigError
    from filter_proxy.fleet.status import fetch_status, format_status

    try:
        url, prefix, _ = _fleet_settings(args)
        status = asyncio.run(fetch_status(url, prefix))
    except (ValueError, ConfigError) as exc:
        return _fail("fleet status", str(exc))
    except (RedisError, OSError) as exc:
        return _fail("fleet status", f"Redis unreachable: {type(exc).__name__}")
    sys.stdout.write(format_status(status, args.format))
    return 1 if args.check and not status.converged else 0


def publish_command(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from filter_proxy.config import ConfigError
    from filter_proxy.fleet.publisher import PublishError, publish_bundle

    try:
        url, prefix, max_inline = _fleet_settings(args)
        pointer, reached = asyncio.run(publish_bundle(url, args.bundle, prefix=prefix, url=args.url or "",
                                                      max_inline=args.max_inline or max_inline,
                                                      force=args.force))
    except (ValueError, ConfigError, PublishError) as exc:
        return _fail("rules publish", str(exc))
    except (RedisError, OSError) as exc:
        return _fail("rules publish", f"not published: {type(exc).__name__}: {exc}")
    signed = "signed" if pointer.signature else "unsigned"
    print(f"published version {pointer.version} ({pointer.size} bytes, {signed}, {pointer.location}); "
          f"announced to {reached} subscribed worker(s)")
    return 0
