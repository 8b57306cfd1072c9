"""filter-proxy.toml: one configuration for `serve` and `report`.

Load order (later wins): built-in defaults < TOML file < environment variables
``FILTER_PROXY_<SECTION>_<KEY>`` (e.g. ``FILTER_PROXY_UPSTREAM_URL``) < command-line flags.
Every value is validated at start; a bad one raises ConfigError naming its key (``upstream.url: ...``).
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "FILTER_PROXY_"
MIN_TOKEN_LENGTH = 16
CONFIG_ENV = "FILTER_PROXY_CONFIG"  # path of the TOML file, read by worker processes (ops.app_from_env)


class ConfigError(ValueError):
    """A configuration value that cannot be used. ``key`` is its dotted name, e.g. ``upstream.url``."""

    def __init__(self, key: str, reason: str, origin: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        super().__init__(f"{key}: {reason}{where}")


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1


@dataclass(slots=True)
class UpstreamConfig:
    url: str | None = None  # required by `serve` (reverse-proxy mode)
    adapter: str = "generic"
    # Adapter options, e.g. the generic adapter's JSON pointers (results, total, suggestions) or Solr's
    # unique_key; see filter_proxy/adapters/.
    options: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0  # seconds for one upstream call
    connect_timeout: float = 3.0
    # Seconds for one whole upstream exchange (send, headers, every body byte): a slow-drip body is cut off.
    deadline: float = 10.0
    max_response_bytes: int = 20_000_000


@dataclass(slots=True)
class FieldsConfig:
    """Overrides of the adapter's FieldMapping; an empty list keeps the adapter's default."""

    title: list[str] = field(default_factory=list)
    snippet: list[str] = field(default_factory=list)
    url: list[str] = field(default_factory=list)
    image_url: list[str] = field(default_factory=list)
    image_hash: dict[str, str] = field(default_factory=dict)  # algorithm -> field holding its hex
    extra_text: list[str] = field(default_factory=list)

    def is_default(self) -> bool:
        return self == FieldsConfig()


@dataclass(slots=True)
class RoutesConfig:
    """Routes added to the adapter's route table (deny by default: what no route lists is refused).
    ``search_paths`` / ``suggest_paths``: patterns screened as search pages / suggestions on every method;
    ``screen`` / ``pass`` / ``refuse``: ``"METHOD[,METHOD] /pattern"`` entries (``screen`` may end with a
    response kind, e.g. ``"GET /x/find documents"``). ``pass`` is a Python keyword, so it is stored as
    ``pass_``; the TOML key and FILTER_PROXY_ROUTES_PASS spell it ``pass``."""

    search_paths: list[str] = field(default_factory=list)
    suggest_paths: list[str] = field(default_factory=list)
    query_param: str | None = None
    screen: list[str] = field(default_factory=list)
    pass_: list[str] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RulesConfig:
    path: str = "rules"  # a rules directory or a compiled bundle
    watch: bool = True  # reload when the files change
    debounce_ms: int = 500
    # Apply automatic reloads (file watch, SIGHUP) even when they empty a category or shrink it by more
    # than half; POST /-/reload takes ?force=true per request instead.
    force_reload: bool = False
    reload_wait: float = 5.0  # seconds POST /-/reload waits for every worker to report (then 504, pending)
    # The policy team's Ed25519 public key(s), PEM: only bundles signed with one of them are loaded
    # (rules/signing.py). None: no signature check.
    public_key: str | None = None


@dataclass(slots=True)
class ImagesConfig:
    enabled: bool = True
    # Serve verified thumbnails from the bytes that were checked, at /-/thumb/<signed token>, and rewrite the
    # page's picture URLs to it (filter_proxy/thumbs.py). Give every worker and instance the same
    # FILTER_PROXY_THUMB_SECRET.
    rewrite_thumbnails: bool = False
    thumb_cache_bytes: int = 32_000_000


@dataclass(slots=True)
class AdminConfig:
    """The bearer token for POST /-/reload. Prefer ``token_env`` or ``token_file``: an inline ``token``
    ends up in backups and process listings. No token at all disables the endpoint."""

    token_env: str = "FILTER_PROXY_ADMIN_TOKEN"
    token_file: str | None = None
    token: str | None = None

    def resolve_token(self) -> str | None:
        """The token from token_file, else the token_env variable, else the inline token; None: disabled."""
        token, key = self._find()
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(key, f"the admin token is too short (use at least {MIN_TOKEN_LENGTH} characters)")
        return token

    def _find(self) -> tuple[str | None, str]:
        if self.token_file:
            try:
                value = Path(self.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError("admin.token_file", f"cannot read {self.token_file}: {exc.strerror}") from exc
            if not value:
                raise ConfigError("admin.token_file", f"{self.token_file} is empty")
            return value, "admin.token_file"
        if self.token_env and os.environ.get(self.token_env, "").strip():
            return os.environ[self.token_env].strip(), "admin.token_env"
        return (self.token or None), "admin.token"


@dataclass(slots=True)
class MetricsConfig:
    enabled: bool = True
    multiprocess_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR; a temporary one is made for workers > 1


@dataclass(slots=True)
class ReportConfig:
    enabled: bool = True
    database: str = ""  # "" = report.default_database(): the XDG state directory, never the working directory
    snapshot_interval: float = 60.0  # seconds between flushes of the in-memory counts
    bucket: str = "hour"  # "hour" or "day"


@dataclass(slots=True)
class SinkConfig:
    kind: str = "none"  # "none" | "jsonl" | "webhook"
    path: str = "filter-proxy-sink.jsonl"
    max_bytes: int = 10_000_000
    backups: int = 5
    url: str | None = None
    queue_size: int = 10_000
    retries: int = 5
    backoff: float = 0.5  # first retry delay in seconds, doubled each time
    timeout: float = 10.0
    dedupe_size: int = 100_000


@dataclass(slots=True)
class FleetConfig:
    """Many instances (filter_proxy/fleet/, docs/DEPLOY.md): Redis announces rule versions and holds the
    shared thumbnail-hash cache. No redis_url: a single box, nothing of this runs."""

    redis_url: str | None = None
    instance: str | None = None  # name in `fleet status` and in the report; default: host name + port
    prefix: str = "filter-proxy"  # of every key and channel, so several fleets can share one Redis
    heartbeat: float = 5.0  # seconds between status writes and catch-up checks of the current version
    status_ttl: float = 30.0  # a worker missing this long drops out of `fleet status`
    backoff_max: float = 10.0  # longest wait between reconnection attempts while Redis is unreachable
    publish_on_reload: bool = False  # POST /-/reload publishes rules.path to the fleet instead of a local load
    max_inline_bytes: int = 64 * 1024 * 1024  # bigger bundles are published as a URL + checksum
    hash_cache: bool = True  # shared thumbnail-hash tier (needs a hash key)
    hash_cache_ttl: float = 86400.0
    hash_key_env: str = "FILTER_PROXY_HASH_KEY"  # the fleet-wide HMAC key for hash-cache keys
    hash_key_file: str | None = None


@dataclass(slots=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = True
    access_log: bool = False  # uvicorn's access log, with query strings and client addresses stripped


@dataclass(slots=True)
class ResponsesConfig:
    # Routes ("search", "suggest") whose responses carry X-Filter-Removed: N. Off for suggest by default:
    # on autocomplete the count tells a prober that a prefix had a listed completion.
    removed_header: list[str] = field(default_factory=lambda: ["search"])
    # "Back to search" on warning pages: a path on this site or an https URL (the search page people use).
    back_url: str = "/"


@dataclass(slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    fields: FieldsConfig = field(default_factory=FieldsConfig)
    routes: RoutesConfig = field(default_factory=RoutesConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    images: ImagesConfig = field(default_factory=ImagesConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    sink: SinkConfig = field(default_factory=SinkConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    responses: ResponsesConfig = field(default_factory=ResponsesConfig)
    source: str | None = None  # the TOML file it came from, if any

    def validate(self, *, require_upstream: bool = False) -> Config:
        _validate(self, require_upstream)
        return self


SECTIONS: tuple[str, ...] = tuple(f.name for f in fields(Config) if f.name != "source")


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_upstream: bool = False,
) -> Config:
    """Defaults < ``path`` (TOML) < ``env`` (default os.environ) < ``overrides`` ({"upstream.url": ...};
    None values are ignored, so argparse defaults of None mean "not given")."""
    config = Config()
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", f"{path}: {exc}") from exc
        config = _apply_toml(config, data, str(path))
        config.source = str(path)
    config = _apply_env(config, os.environ if env is None else env)
    for key, value in (overrides or {}).items():
        if value is not None:
            config = _set(config, key, value, "command line")
    return config.validate(require_upstream=require_upstream)


# --- applying values -----------------------------------------------------------------------------


def _apply_toml(config: Config, data: dict[str, Any], origin: str) -> Config:
    for section, table in data.items():
        if section not in SECTIONS:
            raise ConfigError(section, f"unknown section (expected one of {', '.join(SECTIONS)})", origin)
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table", origin)
        for key, value in table.items():
            config = _set(config, f"{section}.{key}", value, origin)
    return config


def _apply_env(config: Config, env: Mapping[str, str]) -> Config:
    # Section names have no underscore, so the first "_" after the prefix splits section from key.
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in SECTIONS or not key:
            continue  # not ours (other tools may use the prefix too)
        config = _set(config, f"{section}.{key}", raw, f"environment variable {name}", from_text=True)
    return config


_KEY_ALIASES = {"routes.pass": "routes.pass_"}  # keys that are Python keywords
_ROUTE_KEYS = frozenset({"routes.screen", "routes.pass_", "routes.refuse"})


def _set(config: Config, dotted: str, value: Any, origin: str, from_text: bool = False) -> Config:
    dotted = _KEY_ALIASES.get(dotted, dotted)
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ConfigError(dotted, f"unknown section (expected one of {', '.join(SECTIONS)})", origin)
    sub = getattr(config, section)
    hints = typing.get_type_hints(type(sub))
    if key not in hints:
        known = ", ".join(f.name for f in fields(sub))
        raise ConfigError(dotted, f"unknown key (known in [{section}]: {known})", origin)
    coerced = _coerce(dotted, hints[key], value, origin, from_text)
    return replace(config, **{section: replace(sub, **{key: coerced})})


def _coerce(key: str, hint: Any, value: Any, origin: str, from_text: bool) -> Any:
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
        if value is None or (from_text and value == ""):
            return None
    origin_type = typing.get_origin(hint) or hint
    try:
        if origin_type is bool:
            if from_text and isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
            if isinstance(value, bool):
                return value
            raise ValueError("must be true or false")
        if origin_type is int:
            if isinstance(value, bool) or not isinstance(value, int | str) or (isinstance(value, str) and not from_text):
                raise ValueError("must be a whole number")
            return int(value)
        if origin_type is float:
            if isinstance(value, bool) or not isinstance(value, int | float | str) or (
                isinstance(value, str) and not from_text
            ):
                raise ValueError("must be a number")
            return float(value)
        if origin_type is str:
            if not isinstance(value, str):
                raise ValueError("must be a string")
            return value
        if origin_type is list:
            if from_text and isinstance(value, str):
                # Route entries hold commas ("GET,POST /x"): in a variable they are separated by ";".
                sep = ";" if key in _ROUTE_KEYS else ","
                return [part.strip() for part in value.split(sep) if part.strip()]
            if isinstance(value, str):
                return [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("must be a list of strings")
            return list(value)
        if origin_type is dict:
            if from_text and isinstance(value, str):  # "phash=ph,dhash=dh"
                pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError("must be name=value pairs separated by commas")
                return {k.strip(): v.strip() for k, v in pairs}
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ValueError("must be a table of strings")
            return dict(value)
    except ValueError as exc:
        reason = str(exc) if not str(exc).startswith("invalid literal") else "must be a number"
        if "could not convert" in reason:
            reason = "must be a number"
        raise ConfigError(key, f"{reason}, got {value!r}", origin) from None
    raise ConfigError(key, f"unsupported type {hint!r}", origin)  # pragma: no cover - a programming error


# --- validation ----------------------------------------------------------------------------------

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _validate(config: Config, require_upstream: bool) -> None:
    def positive(key: str, value: float, allow_zero: bool = False) -> None:
        if value < 0 or (value == 0 and not allow_zero):
            raise ConfigError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")

    s = config.server
    if not 0 <= s.port <= 65535:
        raise ConfigError("server.port", f"must be between 0 and 65535, got {s.port}")
    positive("server.workers", s.workers)
    if not s.host:
        raise ConfigError("server.host", "must not be empty")

    u = config.upstream
    if u.url is not None:
        _check_http_url("upstream.url", u.url)
    elif require_upstream:
        raise ConfigError("upstream.url", "is required (give --upstream, [upstream] url or FILTER_PROXY_UPSTREAM_URL)")
    if not u.adapter:
        raise ConfigError("upstream.adapter", "must not be empty")
    positive("upstream.timeout", u.timeout)
    positive("upstream.connect_timeout", u.connect_timeout)
    positive("upstream.deadline", u.deadline)
    positive("upstream.max_response_bytes", u.max_response_bytes)

    for key in ("search_paths", "suggest_paths"):
        for p in getattr(config.routes, key):
            if not p.startswith("/"):
                raise ConfigError(f"routes.{key}", f"path {p!r} must start with '/'")
    if config.routes.query_param == "":
        raise ConfigError("routes.query_param", "must not be empty")
    from filter_proxy.adapters.routes import PASS, REFUSE, SCREEN, route

    for key, outcome in (("screen", SCREEN), ("pass_", PASS), ("refuse", REFUSE)):
        for spec in getattr(config.routes, key):
            try:
                route(spec, outcome)
            except ValueError as exc:
                raise ConfigError(f"routes.{key.rstrip('_')}", str(exc)) from None

    if not config.rules.path:
        raise ConfigError("rules.path", "must not be empty")
    positive("rules.debounce_ms", config.rules.debounce_ms, allow_zero=True)
    positive("rules.reload_wait", config.rules.reload_wait)

    bad = [route for route in config.responses.removed_header if route not in ("search", "suggest")]
    if bad:
        raise ConfigError("responses.removed_header", f"routes are 'search' and/or 'suggest', not {bad}")
    back = config.responses.back_url
    if not ((back.startswith("/") and not back.startswith("//")) or back.startswith("https://")) or " " in back:
        raise ConfigError("responses.back_url", f"must be a path on this site (/...) or an https:// URL, not {back!r}")
    r = config.report
    positive("report.snapshot_interval", r.snapshot_interval)
    if r.bucket not in ("hour", "day"):
        raise ConfigError("report.bucket", f"must be 'hour' or 'day', got {r.bucket!r}")
    if not r.database:
        from filter_proxy.report import default_database

        r.database = str(default_database())

    k = config.sink
    if k.kind not in ("none", "jsonl", "webhook"):
        raise ConfigError("sink.kind", f"must be 'none', 'jsonl' or 'webhook', got {k.kind!r}")
    if k.kind == "webhook":
        if not k.url:
            raise ConfigError("sink.url", "is required when sink.kind = 'webhook'")
        _check_http_url("sink.url", k.url)
    if k.kind == "jsonl" and not k.path:
        raise ConfigError("sink.path", "is required when sink.kind = 'jsonl'")
    for key in ("max_bytes", "queue_size", "dedupe_size", "timeout"):
        positive(f"sink.{key}", getattr(k, key))
    for key in ("backups", "retries", "backoff"):
        positive(f"sink.{key}", getattr(k, key), allow_zero=True)

    f = config.fleet
    if f.redis_url is not None and urlsplit(f.redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("fleet.redis_url", "must be a redis://, rediss:// or unix:// URL "
                          f"(got scheme {urlsplit(f.redis_url).scheme!r}; the URL may hold a password)")
    for key in ("heartbeat", "status_ttl", "backoff_max", "max_inline_bytes", "hash_cache_ttl"):
        positive(f"fleet.{key}", getattr(f, key))
    if f.status_ttl <= f.heartbeat:
        raise ConfigError("fleet.status_ttl", f"must be longer than fleet.heartbeat ({f.heartbeat} s)")

    level = config.logging.level.upper()
    if level not in LOG_LEVELS:
        raise ConfigError("logging.level", f"must be one of {', '.join(LOG_LEVELS)}, got {config.logging.level!r}")
    config.logging.level = level


def _check_http_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"must be an http:// or https:// URL, got {url!r}")


def to_env(overrides: Mapping[str, Any]) -> dict[str, str]:
    """Command-line overrides as FILTER_PROXY_* variables, so worker processes started by uvicorn see them."""
    out: dict[str, str] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = (";" if _KEY_ALIASES.get(dotted, dotted) in _ROUTE_KEYS else ",").join(value)
        elif isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        out[f"{ENV_PREFIX}{section.upper()}_{key.upper()}"] = text
    return out

