"""One worker's view of the fleet: is Redis reachable, which version is published, what was refused.

Shared by the subscriber (which updates it), the heartbeat (which publishes it) and the ready check
(which reports a degraded but serving instance while Redis is unreachable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FleetState:
    instance: str
    worker: str
    started: float = field(default_factory=time.time)
    unreachable_since: float | None = None  # set on a Redis failure, cleared on the next success
    redis_error: str = ""  # the exception type only: messages can carry host names and passwords
    wanted: str | None = None  # the version published to the fleet
    wanted_sha: str = ""  # the published pointer's identity (sha256, +force)
    refused: dict[str, str] = field(default_factory=dict)  # identity -> why this worker refused that bundle
    applied_at: float | None = None
    published_at: float | None = None

    def reachable(self) -> None:
        self.unreachable_since = None
        self.redis_error = ""

    def unreachable(self, exc: BaseException) -> bool:
        """Record a failure; True when this starts an outage (to log it once, not on every retry)."""
        self.redis_error = type(exc).__name__
        if self.unreachable_since is None:
            self.unreachable_since = time.time()
            return True
        return False

    def degraded(self) -> str | None:
        """Why this worker is degraded (still serving its last good rules), or None."""
        if self.unreachable_since is not None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.unreachable_since))
            return f"fleet: Redis unreachable since {since} ({self.redis_error}); serving the last good rules"
        return None

    def snapshot(self, version: str | None) -> dict[str, Any]:
        """The heartbeat record: names, versions, state; never a query, a URL or an address."""
        refusal = self.refused.get(self.wanted_sha) if self.wanted_sha else None
        if refusal:
            state = "refused"
        elif self.wanted is not None and version != self.wanted:
            state = "updating"
        else:
            state = "ok"
        return {"instance": self.instance, "worker": self.worker, "version": version, "wanted": self.wanted,
                "state": state, "error": refusal or "", "started": self.started, "updated": time.time(),
                "applied_at": self.applied_at, "published_at": self.published_at}
