"""Names of this instance and worker, as they appear in `fleet status` and in the fleet's report."""

from __future__ import annotations

import os
import re
import socket

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_.-]+")


def instance_name(configured: str | None, port: int) -> str:
    """The configured name, else ``<host name>-<port>`` (two instances on one host stay apart). Reduced to
    the report's identifier vocabulary ([A-Za-z0-9_.-], at most 64)."""
    name = configured or f"{socket.gethostname()}-{port}"
    return (_NOT_IDENT.sub("-", name).strip("-") or "instance")[:64]


def worker_id() -> str:
    """The worker within an instance: its process id (uvicorn workers are processes)."""
    return str(os.getpid())
