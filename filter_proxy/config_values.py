"""Turning one raw configuration value (from TOML, an environment variable or a flag) into the type its
key declares, and the reverse for worker processes (``to_env``). No knowledge of the sections' meaning.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from filter_proxy.config_sections import ENV_PREFIX, ConfigError

KEY_ALIASES = {"routes.pass": "routes.pass_"}  # keys that are Python keywords
ROUTE_KEYS = frozenset({"routes.screen", "routes.pass_", "routes.refuse", "routes.read"})


def coerce(key: str, hint: Any, value: Any, origin: str, from_text: bool) -> Any:
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
                sep = ";" if key in ROUTE_KEYS else ","
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
            text = (";" if KEY_ALIASES.get(dotted, dotted) in ROUTE_KEYS else ",").join(value)
        elif isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        out[f"{ENV_PREFIX}{section.upper()}_{key.upper()}"] = text
    return out

