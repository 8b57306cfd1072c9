"""The admin API's pure parts: reading ``POST /-/reload?force=...`` and the reply that says what every
worker serves afterwards (the endpoints themselves, behind the bearer token, are in ops.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from filter_proxy.coordination import ReloadReport


def parse_force(query: bytes) -> bool | None:
    """``force`` from the query string of POST /-/reload: absent or false -> False, true -> True, else None."""
    values = [v.strip().lower() for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
              if k == "force"]
    if not values:
        return False
    if all(v in ("true", "1", "yes", "") for v in values):
        return True
    if all(v in ("false", "0", "no") for v in values):
        return False
    return None


def reload_reply(report: ReloadReport, version: str | None) -> tuple[int, dict[str, Any]]:
    """The status and body answering POST /-/reload: 200 when every worker applied it, 409 when it was
    refused as a shrink (force=true applies it), 422 when the rules failed to load (the old ones serve),
    504 when some worker did not report within the wait."""
    body: dict[str, Any] = {
        "ok": report.ok,
        "rules_version": version,
        "generation": report.generation,
        "forced": report.forced,
        "versions": report.versions,
        "workers": [w.to_json() for w in report.workers],
    }
    if report.error:
        body["error"] = report.error
    if report.pending:
        body["pending"] = list(report.pending)
        body["error"] = "not every worker reported the reload in time: " + ", ".join(report.pending)
        return 504, body
    if report.ok:
        return 200, body
    if report.refused:
        body["refused"] = sorted({c for w in report.workers for c in w.refused})
        return 409, body
    return 422, body
