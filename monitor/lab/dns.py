"""A small authoritative DNS responder on loopback, for the lab and the tests.

It answers over UDP and TCP (2-byte length prefix) on the same host:port, from an in-memory
zone: ``{(name, rdtype): [rdata text, ...]}``, names lower case with a trailing dot, e.g.
``{("daklak.lab.", "A"): ["127.0.1.1"], ("vn.lab.", "TXT"): ['"Đại hội"']}``.

- Answers carry the AA flag. A name with no records (and no records below it) is NXDOMAIN;
  a name that exists without the asked type is NODATA (NOERROR, empty answer). CNAMEs in the
  zone are followed. When the zone has SOA records, their owners are the zone apexes: names
  outside every apex are REFUSED, and negative answers carry the apex SOA.
- A UDP answer larger than the client can take (512 bytes, or its EDNS payload size) is sent
  empty with the TC flag, so that clients retry over TCP.
- Faults for the lab and the tests: ``set(name, rdtype, values)`` changes an answer live;
  ``set_mode("servfail" | "silent" | "garbage" | "normal")`` makes every answer SERVFAIL, drops
  every query, or replies bytes that are not a DNS message.

Usage::

    server = await start_dns_server("127.0.0.53", 0, {("daklak.lab.", "A"): ["127.0.1.1"]})
    ...  # query server.host:server.port
    await server.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import struct
from types import TracebackType
from typing import Literal, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer", "DnsZone", "Mode", "start_dns_server"]

_log = logging.getLogger(__name__)

Mode = Literal["normal", "servfail", "silent", "garbage"]
_MODES: tuple[str, ...] = ("normal", "servfail", "silent", "garbage")
_MAX_CNAME_CHAIN = 8
# Claims one question and one answer, then a label length no name may have: a FORMERR to parse.
_GARBAGE_BODY = b"\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00\xffnot a dns message\xff"


def _key(name: str, rdtype: str) -> tuple[str, str]:
    text = dns.name.from_text(name).to_text().lower()
    kind = dns.rdatatype.to_text(dns.rdatatype.from_text(rdtype.upper()))
    return text, kind


class DnsZone:
    """The records the server answers from.

    ``records`` maps (name with trailing dot, lower case; rdtype text) to rdata texts. Change it
    through :meth:`set` (or :meth:`DnsServer.set`), which checks the texts and keeps the parsed
    form in step.
    """

    def __init__(self, records: dict[tuple[str, str], list[str]], ttl: int = 60) -> None:
        self.ttl = ttl
        self.records: dict[tuple[str, str], list[str]] = {}
        self._rrsets: dict[tuple[str, str], dns.rrset.RRset] = {}
        for (name, rdtype), values in records.items():
            self.set(name, rdtype, values)

    def set(self, name: str, rdtype: str, values: list[str]) -> None:
        """Replace the answer for (name, rdtype); an empty list removes it.

        Raises ``dns.exception.SyntaxError`` (a ``DNSException``) for rdata that does not parse,
        before anything changes.
        """
        key = _key(name, rdtype)
        if not values:
            self.records.pop(key, None)
            self._rrsets.pop(key, None)
            return
        rrset = dns.rrset.from_text_list(
            key[0],
            self.ttl,
            dns.rdataclass.IN,
            key[1],
            list(values),
            origin=dns.name.root,
            relativize=False,
        )
        self.records[key] = list(values)
        self._rrsets[key] = rrset

    def _exists(self, name: str) -> bool:
        """True when the name owns records or is an empty non-terminal above some."""
        suffix = "." + name if name != "." else "."
        return any(owner == name or owner.endswith(suffix) for owner, _ in self._rrsets)

    def _apex(self, name: str) -> tuple[bool, dns.rrset.RRset | None]:
        """(is the name ours, the SOA of its zone if the zone has one)."""
        apexes = [(owner, rrset) for (owner, kind), rrset in self._rrsets.items() if kind == "SOA"]
        if not apexes:
            return True, None
        best: tuple[str, dns.rrset.RRset] | None = None
        for owner, rrset in apexes:
            inside = owner == "." or name == owner or name.endswith("." + owner)
            if inside and (best is None or len(owner) > len(best[0])):
                best = (owner, rrset)
        return (True, best[1]) if best is not None else (False, None)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """The authoritative response to one query."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        name = question.name.to_text().lower()
        ours, soa = self._apex(name)
        if not ours:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        qtype = dns.rdatatype.to_text(question.rdtype)
        for _ in range(_MAX_CNAME_CHAIN):
            if qtype == "ANY":
                found = [rrset for (owner, _k), rrset in self._rrsets.items() if owner == name]
                response.answer.extend(found)
                if found:
                    return response
            else:
                rrset = self._rrsets.get((name, qtype))
                if rrset is not None:
                    response.answer.append(rrset)
                    return response
                cname = self._rrsets.get((name, "CNAME"))
                if cname is not None:
                    response.answer.append(cname)
                    name = cname[0].to_text().lower()
                    if not self._apex(name)[0]:
                        return response  # the chain leaves our zones: the client follows it
                    continue
            if not self._exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            if soa is not None:
                response.authority.append(soa)
            return response
        response.set_rcode(dns.rcode.SERVFAIL)  # a CNAME loop
        return response


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        reply = self._server._reply(data, udp=True)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error about a client that went away: nothing to do

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._server._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            (size,) = struct.unpack("!H", self._buffer[:2])
            if len(self._buffer) < 2 + size:
                return
            wire = bytes(self._buffer[2 : 2 + size])
            del self._buffer[: 2 + size]
            reply = self._server._reply(wire, udp=False)
            if reply is not None and self.transport is not None:
                self.transport.write(struct.pack("!H", len(reply)) + reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)


class DnsServer:
    """A running responder; made by :func:`start_dns_server`."""

    def __init__(self, host: str, zone: DnsZone) -> None:
        self.host = host
        self.port = 0
        self.zone = zone
        self.mode: Mode = "normal"
        self._udp: _Udp | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[_Tcp] = set()
        self._closed = False

    def set(self, name: str, rdtype: str, values: list[str]) -> None:
        """Change the answer for (name, rdtype) live; an empty list removes it."""
        self.zone.set(name, rdtype, values)

    def set_mode(self, mode: Mode) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(_MODES)}")
        self.mode = mode

    def _reply(self, wire: bytes, *, udp: bool) -> bytes | None:
        """The bytes to send back for one query, or None to stay silent."""
        if self.mode == "silent":
            return None
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not a query we can answer: drop it, as servers do
        if query.flags & dns.flags.QR:
            return None  # a response, not a query
        if self.mode == "garbage":
            return struct.pack("!H", query.id) + _GARBAGE_BODY
        limit = 65535
        if udp:
            limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            if self.mode == "servfail":
                response = dns.message.make_response(query)
                response.set_rcode(dns.rcode.SERVFAIL)
            else:
                response = self.zone.answer(query)
            try:
                return response.to_wire(max_size=limit)
            except dns.exception.TooBig:
                truncated = dns.message.make_response(query)
                truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
                truncated.set_rcode(response.rcode())
                return truncated.to_wire()
        except Exception:  # a bug here must not kill the protocol callback
            _log.exception("DNS lab server failed to answer %s", query.question)
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire()

    async def close(self) -> None:
        """Stop answering and close every socket, including open TCP connections."""
        if self._closed:
            return
        self._closed = True
        waits: list[asyncio.Future[None]] = []
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
            waits.append(self._udp.lost)
        if self._tcp is not None:
            self._tcp.close()
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.close()
            waits.append(conn.lost)
        if self._tcp is not None:
            await self._tcp.wait_closed()
        if waits:
            await asyncio.wait(waits, timeout=5)

    async def __aenter__(self) -> DnsServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def start_dns_server(
    host: str, port: int, records: dict[tuple[str, str], list[str]]
) -> DnsServer:
    """Serve ``records`` on host:port over UDP and TCP; port 0 picks one free for both."""
    server = DnsServer(host, DnsZone(records))
    loop = asyncio.get_running_loop()
    attempts = 1 if port else 50
    for attempt in range(attempts):
        transport, udp = await loop.create_datagram_endpoint(
            lambda: _Udp(server), local_addr=(host, port)
        )
        del transport  # kept by the protocol
        actual = int(udp.transport.get_extra_info("sockname")[1]) if udp.transport else port
        try:
            tcp = await loop.create_server(lambda: _Tcp(server), host, actual)
        except OSError as exc:
            if udp.transport is not None:
                udp.transport.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(udp.lost), 1)
            if port or exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            continue
        server._udp, server._tcp, server.port = udp, tcp, actual
        return server
    raise AssertionError("unreachable")  # pragma: no cover
