"""Binding the listening socket before the server starts, so a busy port is a clear one-line error (with
what to do about it) instead of a "serving on" line followed by a uvicorn traceback, and so ``--port 0``
can print the port the system chose."""

from __future__ import annotations

import errno
import socket
from typing import Any


class PortInUse(OSError):
    """The address is taken; the message says which and how to choose another."""


def bind(host: str, port: int, *, hint: str = "--port") -> socket.socket:
    """A bound (not yet listening) TCP socket for ``host:port``, inheritable by uvicorn's workers.
    Raises PortInUse when the port is taken, OSError for any other failure (bad address, no permission)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may reuse a port whose old connections are still in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"port {port} is in use on {host}; try {hint} {port + 1} "
                            "(or stop whatever is listening there)") from None
        raise
    sock.set_inheritable(True)
    return sock


def url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket, with the port the system actually chose."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_on(app: Any, sock: socket.socket, **settings: Any) -> None:
    """Serve ``app`` with uvicorn on an already bound socket (blocks until the server stops)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **settings))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
