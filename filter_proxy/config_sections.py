"""The sections of filter-proxy.toml as dataclasses (one per ``[section]``), with their defaults, and
ConfigError. Pure data: reading values lives in config_values.py, checking them in config_checks.py and
loading (defaults < TOML < environment < flags) in config.py, which re-exports all of this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "FILTER_PROXY_"
MIN_TOKEN_LENGTH = 16
CONFIG_ENV = "FILTER_PROXY_CONFIG"  # path of the TOML file, read by worker processes (ops.app_from_env)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    # forwarded as sent, the whole answer read, a listed string withholds it (read_answers.py)
    read: list[str] = field(default_factory=list)


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
class FunnelConfig:
    """The deterrence funnel (issue 15; what is stored: rules/README.md, "The deterrence funnel")."""

    help_links: bool = True  # warning links go through /-/help/<signed token> and are counted
    repeat_cookie: bool = False  # opt-in: the follow-up cookie that counts repeat blocked searches
    cookie_max_age: int = 1800  # seconds (30 minutes)
    cookie_secure: bool = True  # the cookie's Secure flag: set it false only behind plain-http test setups


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
    # Every reload trigger here (POST /-/reload, SIGHUP, the file watcher) loads rules.path, then publishes it.
    publish_on_reload: bool = False
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

