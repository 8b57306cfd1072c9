"""uvicorn's httptools protocol with each response's head and first body bytes in one socket write.

uvicorn writes the status line and headers as soon as the app sends ``http.response.start``, and the body
with the next message: two ``send`` syscalls per response, and on loopback two wake-ups of the client.
A buffered answer (every screened page) sends both messages in one step, so here the head is held until
the first body message and written with it. When no body message follows within the same event-loop
iteration (a streamed pass-through route waiting on its upstream), the head goes out alone at the next
iteration, so a client never waits for headers longer than before.

Only the hand-over to the ASGI task is overridden (``_start_asgi_task``, where uvicorn passes the request's
cycle): if a future uvicorn no longer calls it, responses are simply written as uvicorn writes them.
``filter-proxy serve`` passes ``HttpToolsProtocol`` as uvicorn's ``http`` setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http import httptools_impl


class _HeadHolder:
    """Stands in for the transport while uvicorn writes a response head: keeps the bytes."""

    __slots__ = ("transport", "head")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.head = b""

    def write(self, data: bytes) -> None:
        self.head += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Prepend:
    """Stands in for the transport while uvicorn writes the first body bytes: the head goes first."""

    __slots__ = ("transport", "head")

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self.head = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, b""
        self.transport.write(head + data if head else data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _CoalescingCycle(httptools_impl.RequestResponseCycle):
    _held: bytes | None = None

    def _flush_held(self) -> None:
        head, self._held = self._held, None
        if head and not self.transport.is_closing():
            self.transport.write(head)

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started:
            real = self.transport
            holder = _HeadHolder(real)
            self.transport = holder
            try:
                await super().send(message)
            finally:
                self.transport = real
            if holder.head:
                self._held = holder.head
                asyncio.get_running_loop().call_soon(self._flush_held)
            return
        head = self._held
        if head is not None and kind == "http.response.body":
            self._held = None
            real = self.transport
            prepend = _Prepend(real, head)
            self.transport = prepend
            try:
                await super().send(message)
            finally:
                self.transport = real
                if prepend.head and not real.is_closing():  # nothing was written (HEAD): the head alone
                    real.write(prepend.head)
            return
        await super().send(message)


class HttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if type(cycle) is httptools_impl.RequestResponseCycle:
            cycle.__class__ = _CoalescingCycle  # same instance layout; only send() differs
        super()._start_asgi_task(cycle, app)
