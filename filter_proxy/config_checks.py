"""Checking the values of filter-proxy.toml's sections once they are read: one function per section, each
raising ConfigError naming the key (``upstream.url: ...``). ``Config.validate`` (config.py) runs them all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from filter_proxy.config_sections import (
    LOG_LEVELS,
    ConfigError,
    FleetConfig,
    LoggingConfig,
    ReportConfig,
    ResponsesConfig,
    RoutesConfig,
    RulesConfig,
    ServerConfig,
    SinkConfig,
    UpstreamConfig,
)


def positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def check_http_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"must be an http:// or https:// URL, got {url!r}")


def check_server(s: ServerConfig) -> None:
    if not 0 <= s.port <= 65535:
        raise ConfigError("server.port", f"must be between 0 and 65535, got {s.port}")
    positive("server.workers", s.workers)
    if not s.host:
        raise ConfigError("server.host", "must not be empty")


def check_upstream(u: UpstreamConfig, require_upstream: bool) -> None:
    if u.url is not None:
        check_http_url("upstream.url", u.url)
    elif require_upstream:
        raise ConfigError("upstream.url", "is required (give --upstream, [upstream] url or FILTER_PROXY_UPSTREAM_URL)")
    if not u.adapter:
        raise ConfigError("upstream.adapter", "must not be empty")
    positive("upstream.timeout", u.timeout)
    positive("upstream.connect_timeout", u.connect_timeout)
    positive("upstream.deadline", u.deadline)
    positive("upstream.max_response_bytes", u.max_response_bytes)


def check_routes(routes: RoutesConfig) -> None:
    for key in ("search_paths", "suggest_paths"):
        for p in getattr(routes, key):
            if not p.startswith("/"):
                raise ConfigError(f"routes.{key}", f"path {p!r} must start with '/'")
    if routes.query_param == "":
        raise ConfigError("routes.query_param", "must not be empty")
    # Imported here: the route grammar belongs to the adapters, which a bare config load does not need.
    from filter_proxy.adapters.routes import PASS, READ, REFUSE, SCREEN, route

    for key, outcome in (("screen", SCREEN), ("pass_", PASS), ("refuse", REFUSE), ("read", READ)):
        for spec in getattr(routes, key):
            try:
                route(spec, outcome)
            except ValueError as exc:
                raise ConfigError(f"routes.{key.rstrip('_')}", str(exc)) from None


def check_rules(rules: RulesConfig) -> None:
    if not rules.path:
        raise ConfigError("rules.path", "must not be empty")
    positive("rules.debounce_ms", rules.debounce_ms, allow_zero=True)
    positive("rules.reload_wait", rules.reload_wait)


def check_responses(responses: ResponsesConfig) -> None:
    bad = [route for route in responses.removed_header if route not in ("search", "suggest")]
    if bad:
        raise ConfigError("responses.removed_header", f"routes are 'search' and/or 'suggest', not {bad}")
    back = responses.back_url
    if not ((back.startswith("/") and not back.startswith("//")) or back.startswith("https://")) or " " in back:
        raise ConfigError("responses.back_url", f"must be a path on this site (/...) or an https:// URL, not {back!r}")


def check_report(r: ReportConfig) -> None:
    """Also fills in the default database path (the XDG state directory, never the working directory)."""
    positive("report.snapshot_interval", r.snapshot_interval)
    if r.bucket not in ("hour", "day"):
        raise ConfigError("report.bucket", f"must be 'hour' or 'day', got {r.bucket!r}")
    if not r.database:
        from filter_proxy.report import default_database  # the report's own module decides where it lives

        r.database = str(default_database())


def check_sink(k: SinkConfig) -> None:
    if k.kind not in ("none", "jsonl", "webhook"):
        raise ConfigError("sink.kind", f"must be 'none', 'jsonl' or 'webhook', got {k.kind!r}")
    if k.kind == "webhook":
        if not k.url:
            raise ConfigError("sink.url", "is required when sink.kind = 'webhook'")
        check_http_url("sink.url", k.url)
    if k.kind == "jsonl" and not k.path:
        raise ConfigError("sink.path", "is required when sink.kind = 'jsonl'")
    for key in ("max_bytes", "queue_size", "dedupe_size", "timeout"):
        positive(f"sink.{key}", getattr(k, key))
    for key in ("backups", "retries", "backoff"):
        positive(f"sink.{key}", getattr(k, key), allow_zero=True)


def check_fleet(f: FleetConfig) -> None:
    if f.redis_url is not None and urlsplit(f.redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("fleet.redis_url", "must be a redis://, rediss:// or unix:// URL "
                          f"(got scheme {urlsplit(f.redis_url).scheme!r}; the URL may hold a password)")
    for key in ("heartbeat", "status_ttl", "backoff_max", "max_inline_bytes", "hash_cache_ttl"):
        positive(f"fleet.{key}", getattr(f, key))
    if f.status_ttl <= f.heartbeat:
        raise ConfigError("fleet.status_ttl", f"must be longer than fleet.heartbeat ({f.heartbeat} s)")


def check_logging(logging: LoggingConfig) -> None:
    """Also normalises the level to upper case."""
    level = logging.level.upper()
    if level not in LOG_LEVELS:
        raise ConfigError("logging.level", f"must be one of {', '.join(LOG_LEVELS)}, got {logging.level!r}")
    logging.level = level
