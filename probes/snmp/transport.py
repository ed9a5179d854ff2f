"""The UDP transport of netmon's SNMP client: ONE socket per address family for every request
of the process (made once, by the probe's shared state), whatever the version or agent.

- Request ids: one counter for the process (``next_id``), so ids are unique among the requests
  in flight; the session puts the id in the PDU (v1/v2c) or as msgID (v3).
- Demultiplexing: an answer is matched by (agent address, request id), read from the message
  head without decoding the rest (``peek_id``). A late answer, or one nobody asked for, is
  counted and dropped; an answer that is not SNMP fails the requests in flight to that agent at
  once (``SnmpProtocolError``), as an ICMP port unreachable fails them as ``SnmpRefused``
  (``IP_RECVERR``), rather than letting them wait for their timeout.
- Tries: a request is sent up to ``tries`` times, ``per_try`` seconds apart; the first answer
  wins, a late answer to an earlier try as good as one to the last.
- In-flight bound: at most ``max_in_flight_per_agent`` requests in flight to one agent (8 by
  default); hundreds at once to one agent overflow its (or our) receive buffer into false
  timeouts. The others wait their turn before their first try.

It knows nothing of BER beyond ``peek_id``, nor of credentials: ``probes.snmp.session`` speaks
SNMP over it.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import socket
import struct
from dataclasses import dataclass
from typing import Final

from probes.snmp.ber import INTEGER, SEQUENCE, BerError, decode_int, decode_tlv
from probes.snmp.errors import (
    SnmpError,
    SnmpProtocolError,
    SnmpRefused,
    SnmpTimeout,
    SnmpUnreachable,
)

__all__ = ["Address", "UdpTransport", "peek_id", "where"]

SO_RCVBUFFORCE: Final = 33
IP_RECVERR: Final = 11
IPV6_RECVERR: Final = 25
RCVBUF: Final = 4 << 20
DRAIN_MAX: Final = 1024
_SOCK_EXTENDED_ERR = struct.Struct("=IBBBB")

Address = tuple[str, int]


@dataclass(eq=False, slots=True)
class _Pending:
    future: asyncio.Future[bytes]
    address: Address


def peek_id(data: bytes) -> int:
    """The request id (v1/v2c) or msgID (v3) of a message, without decoding the rest."""
    tag, content, end = decode_tlv(data)
    if tag != SEQUENCE or end != len(data):
        raise BerError("not an SNMP message")
    tag, version, pos = decode_tlv(content)
    if tag != INTEGER:
        raise BerError("no version")
    number = decode_int(version)
    if number == 3:
        tag, global_data, _ = decode_tlv(content, pos)
        tag, msg_id, _ = decode_tlv(global_data)
        if tag != INTEGER:
            raise BerError("no msgID")
        return decode_int(msg_id)
    if number not in (0, 1):
        raise BerError(f"version {number}")
    tag, _community, pos = decode_tlv(content, pos)
    tag, pdu, _ = decode_tlv(content, pos)
    tag, request_id, _ = decode_tlv(pdu)
    if tag != INTEGER:
        raise BerError("no request id")
    return decode_int(request_id)


class UdpTransport:
    """One UDP socket per address family for every SNMP request of the process.

    Answers are matched by (agent address, request id); ids are unique among the requests in
    flight. An answer that does not decode fails the requests in flight to that agent at once
    (a protocol error, not a wait for the timeout); an ICMP port unreachable fails them as
    refused. Requests in flight per agent are bounded: hundreds at once to one agent overflow
    its (or our) receive buffer into false timeouts.
    """

    def __init__(self, *, max_in_flight_per_agent: int = 8) -> None:
        self._sockets: dict[int, socket.socket] = {}
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._by_agent: dict[Address, set[int]] = {}
        self._limits: dict[Address, asyncio.Semaphore] = {}
        self._limit = max_in_flight_per_agent
        self._ids = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self.stats = {"late_or_unknown": 0, "undecodable": 0}
        self.in_flight: dict[Address, int] = {}
        self.peak_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def next_id(self) -> int:
        return next(self._ids) & 0x7FFFFFFF or 1

    def _socket(self, family: int) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is not None:
            return sock
        loop = self._loop = asyncio.get_running_loop()
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:  # not root: capped by net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                sock.bind(("::", 0))
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                sock.bind(("0.0.0.0", 0))
            loop.add_reader(sock.fileno(), self._on_readable, sock)
        except BaseException:
            sock.close()
            raise
        self._sockets[family] = sock
        return sock

    def limit(self, address: Address) -> asyncio.Semaphore:
        sem = self._limits.get(address)
        if sem is None:
            sem = self._limits[address] = asyncio.Semaphore(self._limit)
        return sem

    async def request(
        self, address: Address, request_id: int, payload: bytes, *, per_try: float, tries: int
    ) -> bytes:
        """Send ``payload`` up to ``tries`` times, ``per_try`` seconds apart; the first answer wins
        (a late answer to an earlier try is as good as one to the last)."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        loop = asyncio.get_running_loop()
        key = (address[0], address[1], request_id)
        if key in self._pending:
            raise RuntimeError(f"request id {request_id} already in flight to {address}")
        async with self.limit(address):
            sock = self._socket(family)
            future: asyncio.Future[bytes] = loop.create_future()
            self._pending[key] = _Pending(future, address)
            self._by_agent.setdefault(address, set()).add(request_id)
            count = self.in_flight[address] = self.in_flight.get(address, 0) + 1
            self.peak_in_flight = max(self.peak_in_flight, count)
            try:
                for _ in range(tries):
                    try:
                        sock.sendto(payload, address)
                    except BlockingIOError:
                        pass  # the send buffer is full: counts as a lost try
                    except OSError as exc:
                        raise SnmpUnreachable(
                            f"cannot send to {where(address)}: {exc.strerror or exc}"
                        ) from None
                    try:
                        async with asyncio.timeout(per_try):
                            return await asyncio.shield(future)
                    except TimeoutError:
                        if future.done():  # settled as the timer fired
                            return future.result()
                        continue
                raise SnmpTimeout(
                    f"no answer from {where(address)} to {tries} "
                    f"{'try' if tries == 1 else 'tries'} {per_try:g} s apart",
                    tries=tries,
                    timeout=per_try,
                )
            finally:
                self._forget(key)
                remaining = self.in_flight[address] - 1
                if remaining:
                    self.in_flight[address] = remaining
                else:
                    del self.in_flight[address]

    def _forget(self, key: tuple[str, int, int]) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if not pending.future.done():
            pending.future.cancel()
        ids = self._by_agent.get(pending.address)
        if ids is not None:
            ids.discard(key[2])
            if not ids:
                del self._by_agent[pending.address]

    def _fail_agent(self, address: Address, exc: SnmpError) -> None:
        for request_id in list(self._by_agent.get(address, ())):
            pending = self._pending.get((address[0], address[1], request_id))
            if pending is not None and not pending.future.done():
                pending.future.set_exception(exc)

    def _on_readable(self, sock: socket.socket) -> None:
        for _ in range(DRAIN_MAX):
            try:
                data, source = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:  # an ICMP error queued by IP_RECVERR: read it from the queue
                self._drain_errors(sock)
                continue
            address = (str(source[0]), int(source[1]))
            try:
                request_id = peek_id(data)
            except BerError:
                self.stats["undecodable"] += 1
                if address in self._by_agent:
                    self._fail_agent(
                        address,
                        SnmpProtocolError(
                            f"{where(address)} answered {len(data)} bytes that are not SNMP"
                        ),
                    )
                continue
            pending = self._pending.get((address[0], address[1], request_id))
            if pending is None or pending.future.done():
                self.stats["late_or_unknown"] += 1
                continue
            pending.future.set_result(data)
        self._drain_errors(sock)

    def _drain_errors(self, sock: socket.socket) -> None:
        for _ in range(DRAIN_MAX):
            try:
                _data, ancillary, _flags, dest = sock.recvmsg(0, 512, socket.MSG_ERRQUEUE)
            except OSError:
                return
            error = 0
            for _level, _kind, cdata in ancillary:
                if len(cdata) >= _SOCK_EXTENDED_ERR.size:
                    error = _SOCK_EXTENDED_ERR.unpack_from(cdata)[0]
            address = (str(dest[0]), int(dest[1]))
            if error == errno.ECONNREFUSED:
                self._fail_agent(
                    address,
                    SnmpRefused(
                        f"nothing listens on udp {where(address)} (ICMP port unreachable): "
                        "the agent is not running or listens elsewhere"
                    ),
                )
            elif error:
                self._fail_agent(
                    address, SnmpUnreachable(f"{where(address)}: {os.strerror(error)}")
                )

    async def aclose(self) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        self._by_agent.clear()
        for sock in self._sockets.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()


def where(address: Address) -> str:
    """An agent's address as messages show it: ``192.0.2.1:161``, ``[2001:db8::1]:161``."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
