"""The supervisor of `serve --workers N`: uvicorn's own multiprocess supervisor (it spawns the workers on
one shared socket, pings them and replaces dead ones), except for the rules:

- SIGHUP reloads the rules in every worker instead of restarting the workers (uvicorn's default would
  drop the connections in flight). It bumps the reload generation in the state directory, which every
  worker follows (coordination.DirectoryCoordinator).
- One file watcher for the host, here, bumping the generation too, instead of one per worker (N watchers
  would make every worker reload N times per change).
- With fleet.publish_on_reload both hand the request to one worker instead, which loads and publishes it
  (coordination.announce_reload).

The state directory is created here and named to the workers in FILTER_PROXY_STATE_DIR; it is removed on
exit.

Connections are spread over the workers by the kernel (SO_REUSEPORT, where the platform has it): every
worker listens on a socket of its own, bound to the same address, and the kernel hands each new connection
to one of them by a hash of its addresses. uvicorn's default, one listening socket shared by all workers,
lets whichever worker wakes first accept: with epoll that is mostly the same worker, so under a burst of
connections one worker took them all (measured: 16 of 16 wrk connections on one worker in 2 of 6 runs, 12-13
of 16 in 2 more) while the other idled. The supervisor keeps a socket bound (never listening, so it gets no
connections) to hold the address; what it hands each worker is a ``ReusePortSocket``, which a spawned worker
receives as a fresh socket of its own on that address (``__reduce__``), so uvicorn's own worker management
(start, health checks, replacement of a dead worker) is unchanged. The cost: connections still waiting in a
worker's accept queue when that worker dies are reset, where a shared queue would have kept them, and while
no worker is up at all, connections are refused instead of queued. Only processes of the same user can join
the port's SO_REUSEPORT group (the kernel checks), so no other user can take a share of the connections.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from uvicorn.config import Config as UvicornConfig
from uvicorn.supervisors.multiprocess import Multiprocess

from filter_proxy.coordination import STATE_ENV, announce_reload
from filter_proxy.reload import watch_target

log = logging.getLogger("filter_proxy.supervisor")


def _reuse_port_socket(family: int, address: tuple[object, ...], cls: type[socket.socket] = socket.socket) -> socket.socket:
    sock = cls(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class ReusePortSocket(socket.socket):
    """The supervisor's socket (bound with SO_REUSEPORT, never listening); pickled into a spawned worker it
    becomes that worker's own SO_REUSEPORT socket on the same address (module docstring)."""

    def __reduce__(self) -> tuple[object, ...]:
        return _reuse_port_socket, (self.family, self.getsockname())


def bind_workers_socket(config: UvicornConfig) -> socket.socket:
    """What the workers listen on: a ``ReusePortSocket`` where the platform has SO_REUSEPORT, else uvicorn's
    one shared socket."""
    if not hasattr(socket, "SO_REUSEPORT") or config.uds or config.fd is not None:
        return config.bind_socket()
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    sock = _reuse_port_socket(family, (config.host, config.port), ReusePortSocket)
    log.info("workers listen on %s:%d, each on a socket of its own (SO_REUSEPORT)", config.host,
             sock.getsockname()[1])
    return sock


class ReloadingSupervisor(Multiprocess):
    """``Multiprocess`` with SIGHUP fanned out as a rules reload (see the module docstring)."""

    def __init__(self, config: UvicornConfig, sockets: list[socket.socket], *, state_dir: Path,
                 watch: Path | None = None, debounce_ms: int = 500, force: bool = False) -> None:
        super().__init__(config, sockets)
        self.state_dir = state_dir
        self.watch = watch
        self.debounce_ms = debounce_ms
        self.force = force  # config rules.force_reload: automatic reloads may shrink a category
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def request_reload(self, why: str) -> str:
        # announce_reload: a bare generation bump, or (fleet.publish_on_reload) the request handed to a worker
        # that loads and publishes, as POST /-/reload does.
        outcome = announce_reload(self.state_dir, self.force)
        log.info("%s: %s", why, outcome)
        return outcome

    def handle_hup(self) -> None:  # replaces uvicorn's "restart every worker"
        self.request_reload("SIGHUP")

    def _watch(self) -> None:
        assert self.watch is not None
        watch_rules(self.watch, self.state_dir, self._watch_stop, debounce_ms=self.debounce_ms, force=self.force)

    def run(self) -> None:
        if self.watch is not None:
            self._watcher = threading.Thread(target=self._watch, name="rules-watch", daemon=True)
            self._watcher.start()
        try:
            super().run()
        finally:
            self._watch_stop.set()
            if self._watcher is not None:
                self._watcher.join(timeout=5)


def watch_rules(path: Path, state_dir: Path, stop: threading.Event, *, debounce_ms: int = 500,
                force: bool = False) -> None:
    """Bump the reload generation in ``state_dir`` whenever the rules at ``path`` change, until ``stop``."""
    from watchfiles import DefaultFilter, watch

    target, flt = watch_target(path)
    log.info("watching %s for rule changes", target)
    try:
        for _changes in watch(target, watch_filter=flt if flt is not None else DefaultFilter(), stop_event=stop,
                              debounce=max(debounce_ms, 1), step=50, rust_timeout=500, recursive=True):
            log.info("rule files changed: %s", announce_reload(state_dir, force))
    except Exception:  # a dead watcher must not stop the server; SIGHUP and /-/reload still work
        log.exception("rule file watcher stopped")


def run_workers(config: UvicornConfig, *, rules_path: str, watch: bool, debounce_ms: int, force: bool) -> None:
    """Bind the socket, create the state directory, and supervise ``config.workers`` workers until a
    SIGINT/SIGTERM."""
    state_dir = Path(tempfile.mkdtemp(prefix="filter-proxy-state-"))
    os.environ[STATE_ENV] = str(state_dir)  # the spawned workers inherit it
    try:
        sock = bind_workers_socket(config)
        supervisor = ReloadingSupervisor(config, [sock], state_dir=state_dir,
                                         watch=Path(rules_path) if watch else None,
                                         debounce_ms=debounce_ms, force=force)
        try:
            supervisor.run()
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
    finally:
        os.environ.pop(STATE_ENV, None)
        shutil.rmtree(state_dir, ignore_errors=True)
