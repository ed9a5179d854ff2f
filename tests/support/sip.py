"""A SIP stand-in for the tests (no tests here): a UDP server on loopback that answers each
request with what the test's ``answer`` makes of it, and ``reply``, a well-formed response to
a request (or one to another request, with its Via, Call-ID or CSeq changed)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

__all__ = ["Answer", "UdpServer", "header", "port_of_udp", "reply", "udp_server"]

Answer = Callable[[bytes], list[bytes]]


class UdpServer(asyncio.DatagramProtocol):
    """Answers each datagram with what ``answer`` makes of it (after ``delay``)."""

    def __init__(self, answer: Answer, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr: Any) -> None:
        for chunk in self.answer(data):
            await asyncio.sleep(self.delay)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.sendto(chunk, addr)


@contextlib.asynccontextmanager
async def udp_server(host: str, answer: Answer, delay: float = 0.0) -> AsyncIterator[UdpServer]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        lambda: UdpServer(answer, delay), local_addr=(host, 0)
    )
    try:
        yield server
    finally:
        for task in list(server.tasks):
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        transport.close()


def port_of_udp(server: UdpServer) -> int:
    assert server.transport is not None
    port: int = server.transport.get_extra_info("sockname")[1]
    return port


def header(request: bytes, name: str) -> str:
    match = re.search(rf"\r\n{name}: ([^\r\n]*)", request.decode())
    assert match, request
    return match.group(1)


def reply(request: bytes, status: str = "200 OK", extra: str = "", **change: str) -> bytes:
    """A well-formed response to ``request``; ``change`` replaces its Via, Call-ID or CSeq."""
    via = change.get("via", header(request, "Via"))
    call_id = change.get("call_id", header(request, "Call-ID"))
    cseq = change.get("cseq", header(request, "CSeq"))
    return (
        f"SIP/2.0 {status}\r\nVia: {via}\r\nFrom: {header(request, 'From')}\r\n"
        f"To: {header(request, 'To')};tag=srv\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    ).encode()
