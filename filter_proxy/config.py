"""filter-proxy.toml: one configuration for `serve` and `report`.

Load order (later wins): built-in defaults < TOML file < environment variables
``FILTER_PROXY_<SECTION>_<KEY>`` (e.g. ``FILTER_PROXY_UPSTREAM_URL``) < command-line flags.
Every value is validated at start; a bad one raises ConfigError naming its key (``upstream.url: ...``).

This module is the entry point (``from filter_proxy.config import ...``): the sections themselves live in
config_sections.py, the reading of one value in config_values.py and the checks in config_checks.py.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from filter_proxy.config_checks import (
    check_fleet,
    check_logging,
    check_report,
    check_responses,
    check_routes,
    check_rules,
    check_server,
    check_sink,
    check_upstream,
)
from filter_proxy.config_sections import (
    CONFIG_ENV,
    ENV_PREFIX,
    LOG_LEVELS,
    MIN_TOKEN_LENGTH,
    AdminConfig,
    ConfigError,
    FieldsConfig,
    FleetConfig,
    FunnelConfig,
    ImagesConfig,
    LoggingConfig,
    MetricsConfig,
    ReportConfig,
    ResponsesConfig,
    RoutesConfig,
    RulesConfig,
    ServerConfig,
    SinkConfig,
    UpstreamConfig,
)
from filter_proxy.config_values import KEY_ALIASES, coerce, to_env

__all__ = [
    "CONFIG_ENV", "ENV_PREFIX", "LOG_LEVELS", "MIN_TOKEN_LENGTH", "SECTIONS", "AdminConfig", "Config",
    "ConfigError", "FieldsConfig", "FleetConfig", "FunnelConfig", "ImagesConfig", "LoggingConfig",
    "MetricsConfig", "ReportConfig", "ResponsesConfig", "RoutesConfig", "RulesConfig", "ServerConfig",
    "SinkConfig", "UpstreamConfig", "load_config", "to_env",
]


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
    funnel: FunnelConfig = field(default_factory=FunnelConfig)
    sink: SinkConfig = field(default_factory=SinkConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    responses: ResponsesConfig = field(default_factory=ResponsesConfig)
    source: str | None = None  # the TOML file it came from, if any

    def validate(self, *, require_upstream: bool = False) -> Config:
        check_server(self.server)
        check_upstream(self.upstream, require_upstream)
        check_routes(self.routes)
        check_rules(self.rules)
        check_responses(self.responses)
        check_report(self.report)
        check_sink(self.sink)
        check_fleet(self.fleet)
        check_logging(self.logging)
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


def _set(config: Config, dotted: str, value: Any, origin: str, from_text: bool = False) -> Config:
    dotted = KEY_ALIASES.get(dotted, dotted)
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ConfigError(dotted, f"unknown section (expected one of {', '.join(SECTIONS)})", origin)
    sub = getattr(config, section)
    hints = typing.get_type_hints(type(sub))
    if key not in hints:
        known = ", ".join(f.name for f in fields(sub))
        raise ConfigError(dotted, f"unknown key (known in [{section}]: {known})", origin)
    coerced = coerce(dotted, hints[key], value, origin, from_text)
    return replace(config, **{section: replace(sub, **{key: coerced})})

