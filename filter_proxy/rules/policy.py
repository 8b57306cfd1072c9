"""policy.toml: categories, actions, warning kinds, image thresholds and failure policies."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from filter_proxy.errors import Problem
from filter_proxy.images_policy import ON_UNVERIFIED, ImagePolicy
from filter_proxy.rules.parse import locate_toml
from filter_proxy.signals import registry
from filter_proxy.signals.hashspec import DEFAULT_THRESHOLDS, HASH_HEX_LENGTH, PERCEPTUAL_ALGORITHMS
from filter_proxy.verdict import ACTIONS

# Re-exported: callers of the policy (hashes command, tests, benchmarks) find the image facts here too.
__all__ = ["CategoryPolicy", "ImagePolicy", "Policy", "parse_policy", "ON_UNVERIFIED", "IMAGE_ALGORITHMS",
           "PERCEPTUAL_ALGORITHMS", "DEFAULT_THRESHOLDS", "HASH_HEX_LENGTH"]

IMAGE_ALGORITHMS = tuple(registry.image_signals())


@dataclass(frozen=True, slots=True)
class CategoryPolicy:
    name: str
    action: str = "block"  # "block" | "warn" | "strip"
    warning: str | None = None  # warning kind shown for this category; None for "strip"
    report: bool = False  # send matched content to the report sink
    # Per-category override of the perceptual thresholds (algorithm -> max Hamming distance).
    thresholds: dict[str, int] = field(default_factory=dict)
    # A rule file of this category may list nothing (otherwise an empty file is refused as truncated).
    allow_empty: bool = False
    # Weighted phrases (``weight=+N phrase``): a text whose summed weight reaches this gets the action.
    score_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    categories: dict[str, CategoryPolicy]
    images: ImagePolicy = field(default_factory=ImagePolicy)
    default_locale: str = "en"

    def category(self, name: str) -> CategoryPolicy:
        return self.categories[name]

    def score_limits(self) -> dict[str, int]:
        """category -> score_limit, for the categories that set one (weighted phrases)."""
        return {name: cat.score_limit for name, cat in self.categories.items() if cat.score_limit is not None}

    def threshold(self, category: str, algorithm: str) -> int:
        cat = self.categories.get(category)
        if cat and algorithm in cat.thresholds:
            return cat.thresholds[algorithm]
        return self.images.thresholds.get(algorithm, DEFAULT_THRESHOLDS.get(algorithm, 0))


def parse_policy(
    data: dict[str, Any], path: str, warning_kinds: set[str] | None = None, text: str | None = None
) -> tuple[Policy, list[Problem]]:
    """Validate a parsed policy.toml. tomllib gives no line numbers for values, so when the source ``text``
    is given each problem is located at its table or key line (best effort, else line 0); the reason
    always names the TOML key so a policy team can find it."""
    problems: list[Problem] = []

    def err(reason: str, table: str | None = None, key: str | None = None) -> None:
        line = locate_toml(text, table, key) if text is not None and table is not None else 0
        problems.append(Problem(path, line, reason))

    known_top = {"categories", "images", "locales"}
    for key in data:
        if key not in known_top:
            err(f"unknown section [{key}] (expected one of {', '.join(sorted(known_top))})", key)

    categories: dict[str, CategoryPolicy] = {}
    for name, raw in (data.get("categories") or {}).items():
        if not isinstance(raw, dict):
            err(f"[categories.{name}] must be a table", f"categories.{name}")
            continue
        for key in raw:
            if key not in {"action", "warning", "report", "thresholds", "allow_empty", "score_limit"}:
                err(f"[categories.{name}]: unknown key {key!r}", f"categories.{name}", key)
        action = raw.get("action", "block")
        bad_action = action not in ACTIONS or action == "allow"
        if bad_action:
            err(f"[categories.{name}]: unknown action {action!r} (expected block, warn or strip)", f"categories.{name}", "action")
            # Still declared (as block; the set is refused anyway): one typo is one error, not one more
            # "not declared" per file of the category.
            action = "block"
        warning = raw.get("warning")
        if warning is not None and not isinstance(warning, str):
            err(f"[categories.{name}]: warning must be a string", f"categories.{name}", "warning")
            warning = None
        if action in ("block", "warn") and warning is None and not bad_action:
            err(f"[categories.{name}]: action {action!r} needs a warning kind (e.g. warning = \"deterrence\")", f"categories.{name}")
        if warning is not None and warning_kinds is not None and warning not in warning_kinds:
            known = ", ".join(sorted(warning_kinds)) or "none: rules/warnings/ is missing or defines no kinds"
            err(f"[categories.{name}]: unknown warning kind {warning!r} (known: {known})", f"categories.{name}", "warning")
        report = raw.get("report", False)
        if not isinstance(report, bool):
            err(f"[categories.{name}]: report must be true or false", f"categories.{name}", "report")
            report = False
        allow_empty = raw.get("allow_empty", False)
        if not isinstance(allow_empty, bool):
            err(f"[categories.{name}]: allow_empty must be true or false", f"categories.{name}", "allow_empty")
            allow_empty = False
        thresholds = _thresholds(raw.get("thresholds", {}), f"categories.{name}.thresholds", err)
        score_limit = raw.get("score_limit")
        if score_limit is not None and (isinstance(score_limit, bool) or not isinstance(score_limit, int)
                                        or score_limit < 1):
            err(f"[categories.{name}]: score_limit must be a whole number >= 1", f"categories.{name}", "score_limit")
            score_limit = None
        categories[name] = CategoryPolicy(name, action, warning, report, thresholds, allow_empty, score_limit)

    images = ImagePolicy()
    raw_images = data.get("images") or {}
    if isinstance(raw_images, dict):
        kwargs: dict[str, Any] = {}
        fields = ImagePolicy.__dataclass_fields__
        for key, value in raw_images.items():
            if key == "thresholds":
                kwargs["thresholds"] = {**DEFAULT_THRESHOLDS, **_thresholds(value, "images.thresholds", err)}
            elif key == "on_unverified":
                if value not in ON_UNVERIFIED:
                    err(f"[images]: on_unverified {value!r} is not one of {', '.join(ON_UNVERIFIED)}", "images", key)
                else:
                    kwargs[key] = value
            elif key == "algorithms":
                bad = [a for a in value if a not in IMAGE_ALGORITHMS] if isinstance(value, list) else [value]
                if bad:
                    err(f"[images]: unknown algorithm(s) {bad} (known: {', '.join(IMAGE_ALGORITHMS)})", "images", key)
                else:
                    kwargs[key] = tuple(value)
            elif key == "allow_networks":
                nets = []
                for cidr in value if isinstance(value, list) else [value]:
                    try:
                        nets.append(str(ipaddress.ip_network(cidr, strict=False)))
                    except ValueError:
                        err(f"[images]: allow_networks entry {cidr!r} is not a network (e.g. 10.0.0.0/8)", "images", key)
                kwargs[key] = tuple(nets)
            elif key in fields:
                default = getattr(images, key)
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    err(f"[images]: {key} must be a positive number", "images", key)
                else:
                    kwargs[key] = type(default)(value)
            else:
                err(f"[images]: unknown key {key!r}", "images", key)
        images = ImagePolicy(**kwargs)
    else:
        err("[images] must be a table", "images")

    locales = data.get("locales") or {}
    default_locale = locales.get("default", "en") if isinstance(locales, dict) else "en"
    return Policy(categories, images, default_locale), problems


def _thresholds(raw: Any, table: str, err: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    where = f"[{table}]"
    if not isinstance(raw, dict):
        err(f"{where} must be a table", table.rpartition(".")[0], "thresholds")
        return out
    for algo, value in raw.items():
        if algo not in DEFAULT_THRESHOLDS:
            err(f"{where}: {algo!r} is not a perceptual algorithm (phash, dhash, pdq)", table, algo)
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            err(f"{where}: {algo} threshold must be a whole number >= 0", table, algo)
        else:
            out[algo] = value
    return out
