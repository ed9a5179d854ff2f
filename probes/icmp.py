"""icmp probe: echo requests through one shared ICMP socket per address family.

Every icmp probe of the process goes through one socket per family (``ctx.shared("icmp4")``,
``"icmp6"``); replies are matched to echoes by (address, identifier, sequence). Per-host
sockets do not scale: each reply is copied to, and wakes, every raw socket (icmplib's RTT on
loopback rose past 100 ms at 1,000 in flight).

How the socket is set up, and why:

- A raw socket when the process may (root or CAP_NET_RAW), else an unprivileged ping socket
  (SOCK_DGRAM, allowed by net.ipv4.ping_group_range; the kernel then picks the identifier,
  fills the checksum and delivers only our replies). Neither: every probe fails with
  "icmp_not_permitted" and says how to fix it; nothing is raised.
- A 4 MiB receive buffer, and on raw sockets an ICMP type filter in the kernel. A raw socket
  queues a copy of every ICMP packet the host receives, on loopback our own requests too; the
  kernel default buffer (~208 KiB) holds about 256 loopback packets and overflows silently
  (only the "drops" column of /proc/net/raw tells). gufo-ping keeps that default buffer, so
  replies that arrive while its loop is busy are dropped and read as loss: the likely cause of
  its 1.2 % at 500 in flight (bench/bench_icmp.py reproduces the overflow). Without root the
  buffer is capped by net.core.rmem_max (often 208 KiB too): raise it for large inventories.
- RTT = kernel receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) minus time.time_ns() taken
  right before sendto, so a busy event loop delays our reading of a reply but not its RTT.

Timing: ``count`` echoes ``spacing`` apart, then replies are awaited at most
``max(1 s, 3 × spacing)`` after the last send (shortened to end within 90 % of the target's own
timeout when it sets one); the probe returns as soon as every echo is answered. The defaults
(5 echoes, 200 ms, timeout 5 s) take at most 0.8 s + 1 s. The scheduler's timeout cancels the
task from outside; cancellation propagates and the echoes in flight are forgotten.

Probe rounds (issue 17): the probe sends its first echo at once, then hands its run to the
shared socket, which keeps the later echoes and the reply deadline of every run in 2 ms slots
(``SLOT``): one timer per slot sends all the echoes due in it, as fping sends a round, instead
of a sleep (a future, a timer and a task wake-up) per echo per target. An echo goes out at the
end of the slot that holds its due time (``start + i × spacing``), never before it, so the
interval holds; spacings under ``EXACT_BELOW`` get a timer per echo, which a slot would bunch.
The probe awaits one future, set by the reply that completes the run or by its deadline. Each
echo's send time is still taken right before its own sendto.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import itertools
import math
import os
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import Closer, ProbeContext
from probes.options import IcmpOptions
from probes.resolve import ResolveError, literal, resolve

__all__ = ["FAMILIES", "IcmpSocket", "jitter", "probe", "wait_after_last"]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.ICMP

# Linux constants the socket module does not export.
SO_RCVBUFFORCE: Final = 33
SO_TIMESTAMPNS: Final = 35  # also the SCM_TIMESTAMPNS control message type
IP_RECVERR: Final = 11
IPV6_RECVERR: Final = 25
IP_MTU_DISCOVER: Final = 10
IP_PMTUDISC_DO: Final = 2  # set DF, never fragment locally
IPV6_MTU_DISCOVER: Final = 23
IPV6_PMTUDISC_DO: Final = 2
IPV6_DONTFRAG: Final = 62
SO_EE_ORIGIN_LOCAL: Final = 1
SOL_RAW: Final = 255
ICMP_FILTER: Final = 1
ICMP6_FILTER: Final = 1

RCVBUF: Final = 4 << 20
# Replies read per wake-up. The fd is level-triggered, so anything left is read on the next
# turn of the loop; the bound only keeps a flood of foreign ICMP from starving other tasks.
DRAIN_MAX: Final = 4096
# Enough for the headers we parse: IPv4 header, ICMP error header, inner IP header, echo header.
RECV_BYTES: Final = 192

_TIMESPEC = struct.Struct("@ll")
_ECHO = struct.Struct("!BBHHH")
_ID_SEQ = struct.Struct("!HH")
# struct sock_extended_err: errno, origin, type, code, pad, info (the MTU for "too big")
_EXT_ERR = struct.Struct("=IBBBBI")
_SEND_RETRY: Final = (0.001, 0.004, 0.016)  # back-off when the send buffer is full
# Probe rounds: echoes due within the same SLOT go out together, from one timer.
SLOT: Final = 0.002
# Spacings this short get a timer per echo: a slot would bunch their echoes.
EXACT_BELOW: Final = 5 * SLOT
# What an ICMP error about an earlier echo sets as a ping socket's pending error.
_PENDING_ERRNOS: Final = frozenset(
    (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED, errno.EPROTO, errno.EACCES)
)

NOT_PERMITTED: Final = (
    "this process may not open ICMP sockets: run netmon as root, or grant it CAP_NET_RAW "
    f"(setcap cap_net_raw+ep {os.path.realpath(sys.executable)}), or allow unprivileged ping "
    'sockets with sysctl -w net.ipv4.ping_group_range="0 2147483647"'
)


@dataclass(frozen=True, slots=True)
class _Family:
    af: int
    proto: int
    key: str  # ProbeContext resource name
    version: int
    request: int
    reply: int
    unreachable: int
    exceeded: int
    too_big: int  # ICMPv6 "packet too big"; IPv4 says it as unreachable code 4 (-1: none)
    errlevel: int
    recverr: int


# fmt: off
V4 = _Family(af=socket.AF_INET, proto=socket.IPPROTO_ICMP, key="icmp4", version=4,
             request=8, reply=0, unreachable=3, exceeded=11, too_big=-1,
             errlevel=socket.IPPROTO_IP, recverr=IP_RECVERR)
V6 = _Family(af=socket.AF_INET6, proto=socket.IPPROTO_ICMPV6, key="icmp6", version=6,
             request=128, reply=129, unreachable=1, exceeded=3, too_big=2,
             errlevel=socket.IPPROTO_IPV6, recverr=IPV6_RECVERR)
# fmt: on


def _too_big(fam: _Family, kind: int, code: int) -> bool:
    return kind == fam.too_big or (fam is V4 and kind == 3 and code == 4)


@dataclass(frozen=True, slots=True)
class _SocketOptions:
    """What sets a socket apart from the family's shared one: the targets that ask for DF, a
    TTL or a source address share a socket per combination; the rest share the plain one."""

    dont_fragment: bool = False
    ttl: int | None = None
    source: str | None = None

    def key(self, fam: _Family) -> str:
        if self == _PLAIN:
            return fam.key
        return f"{fam.key}/df={int(self.dont_fragment)}/ttl={self.ttl}/src={self.source}"


_PLAIN: Final = _SocketOptions()

_ERRORS: Final = {  # (type, code) → words, per IP version
    4: {(3, 0): "network unreachable", (3, 1): "host unreachable",
        (3, 2): "protocol unreachable", (3, 3): "port unreachable",
        (3, 9): "network prohibited", (3, 10): "host prohibited",
        (3, 4): "fragmentation needed", (3, 13): "administratively prohibited",
        (11, 0): "TTL exceeded in transit"},
    6: {(1, 0): "no route to destination", (1, 1): "administratively prohibited",
        (1, 3): "address unreachable", (1, 4): "port unreachable", (1, 6): "reject route",
        (2, 0): "packet too big", (3, 0): "hop limit exceeded in transit"},
}  # fmt: skip


def _describe(fam: _Family, kind: int, code: int) -> str:
    return _ERRORS[fam.version].get((kind, code), f"ICMP type {kind} code {code}")


@dataclass(frozen=True, slots=True)
class _Unavailable:
    """Why this family's socket could not be opened; cached like a socket."""

    reason: str
    detail: str


@dataclass(eq=False, slots=True)
class _Run:
    """One probe's echoes: what was sent, what came back, and what it does next."""

    addr: str
    done: asyncio.Future[None]
    rtts: list[int | None]  # ns, in sending order
    payload_size: int = 0  # the rounds' fields; the path probe sends through _send instead
    spacing: float = 0.0
    wait: float = 0.0  # after the last send
    start: float = 0.0  # loop time of the first send: later echoes are due start + i × spacing
    next: int = 0  # the echo to send next; == count: all sent, the slot due is the deadline
    retry: int = 0  # sends of the current echo refused for a full buffer
    seqs: list[int] = field(default_factory=list)
    sent: int = 0
    waiting: int = 0
    all_sent: bool = False
    errors: list[str] = field(default_factory=list)
    too_big: bool = False  # an echo was refused for its size: DF met a smaller MTU
    # index → (the ICMP error's sender, type, code, RTT ns); kept only for the path probe
    responders: dict[int, tuple[str, int, int, int]] | None = None

    def settle(
        self, index: int, rtt: int | None, error: str | None = None, too_big: bool = False
    ) -> None:
        self.rtts[index] = rtt
        if error is not None:
            self.errors.append(error)
            self.too_big = self.too_big or too_big
        self.waiting -= 1
        self.check()

    def check(self) -> None:
        if self.all_sent and self.waiting <= 0 and not self.done.done():
            self.done.set_result(None)


_TTL_CMSG: Final = {
    4: (socket.IPPROTO_IP, socket.IP_TTL),
    6: (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT),
}


def _offender(fam: _Family, cdata: bytes) -> str:
    """The address of the router that sent an ICMP error (SO_EE_OFFENDER: the sockaddr after
    struct sock_extended_err), as a ping socket's error queue gives it."""
    at = 16  # sizeof(struct sock_extended_err): _EXT_ERR and ee_data
    if fam is V4 and len(cdata) >= at + 8:
        return socket.inet_ntop(socket.AF_INET, cdata[at + 4 : at + 8])
    if fam is V6 and len(cdata) >= at + 24:
        return socket.inet_ntop(socket.AF_INET6, cdata[at + 8 : at + 24])
    return "?"


def _receive_time(ancillary: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return int(sec) * 1_000_000_000 + int(nsec)
    return time.time_ns()


class IcmpSocket:
    """One ICMP socket shared by every probe of a family: send, demultiplex, close."""

    def __init__(
        self, sock: socket.socket, fam: _Family, raw: bool, options: _SocketOptions = _PLAIN
    ) -> None:
        self.sock, self.fam, self.raw = sock, fam, raw
        # Raw sockets see every process's replies: ours carry this identifier. A ping socket's
        # identifier is its port, set and filtered by the kernel.
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.pending: dict[tuple[str, int], tuple[_Run, int, int]] = {}  # → run, index, sent ns
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._payloads: dict[int, tuple[bytes, int]] = {}
        # Probe rounds: the echoes (and reply deadlines) of every run due in the same SLOT
        # share one timer, as fping sends a round in one go; key: the slot's end, in SLOTs.
        self._slots: dict[int, list[_Run]] = {}
        self._anc_size = socket.CMSG_SPACE(_TIMESPEC.size)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:  # not root: capped by net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if raw:
            self._filter_types()
        else:  # ICMP errors about our echoes reach a ping socket only through its error queue
            sock.setsockopt(fam.errlevel, fam.recverr, 1)
        if options != _PLAIN:
            self._apply(options)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def _apply(self, options: _SocketOptions) -> None:
        """DF, TTL and source address, for the sockets of the targets that set them."""
        sock, v4 = self.sock, self.fam is V4
        if options.dont_fragment:
            if v4:
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_DONTFRAG, 1)
        if options.ttl is not None:
            if v4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, options.ttl)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, options.ttl)
        if options.source is not None:
            sock.bind((options.source, 0))

    def _filter_types(self) -> None:
        # Let through only replies and errors: not our own requests (seen on loopback), nor
        # anything else the host receives.
        wanted = [self.fam.reply, self.fam.unreachable, self.fam.exceeded]
        if self.fam.too_big >= 0:
            wanted.append(self.fam.too_big)
        if self.fam is V4:
            mask = 0xFFFFFFFF & ~sum(1 << t for t in wanted)
            self.sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", mask))
        else:  # struct icmp6_filter: 256 bits, a set bit blocks the type
            words = [0xFFFFFFFF] * 8
            for t in wanted:
                words[t >> 5] &= ~(1 << (t & 31))
            self.sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))

    def _payload(self, size: int) -> tuple[bytes, int]:
        """The payload of ``size`` bytes and its ones'-complement sum, computed once."""
        cached = self._payloads.get(size)
        if cached is None:
            data = bytes(i & 0xFF for i in range(size))
            padded = data + b"\0" * (size & 1)
            cached = data, sum(struct.unpack(f"!{len(padded) // 2}H", padded))
            self._payloads[size] = cached
        return cached

    def _next_seq(self, addr: str) -> int:
        # Unique among the echoes in flight to this address; 16 bits, so skip the ones in use.
        for _ in range(0x10000):
            self._seq = (self._seq + 1) & 0xFFFF
            if (addr, self._seq) not in self.pending:
                return self._seq
        raise RuntimeError(f"65,536 echoes already in flight to {addr}")

    def send(self, run: _Run, index: int, payload_size: int, ttl: int | None = None) -> None:
        """Send echo ``index`` of ``run`` (with its own ``ttl``: the path probe's, through the
        shared socket); OSError from sendto propagates."""
        seq = self._next_seq(run.addr)
        payload, total = self._payload(payload_size)
        checksum = 0  # ICMPv6 and ping sockets: the kernel fills it in
        if self.raw and self.fam is V4:
            total += (self.fam.request << 8) + self.ident + seq
            total = (total & 0xFFFF) + (total >> 16)
            checksum = ~(total + (total >> 16)) & 0xFFFF
        packet = _ECHO.pack(self.fam.request, 0, checksum, self.ident, seq) + payload
        sent_ns = time.time_ns()  # per echo, right before its own send
        if ttl is None:
            self.sock.sendto(packet, (run.addr, 0))
        else:  # IP_TTL / IPV6_HOPLIMIT as ancillary data: this packet only
            level, kind = _TTL_CMSG[self.fam.version]
            self.sock.sendmsg([packet], [(level, kind, struct.pack("@i", ttl))], 0, (run.addr, 0))
        # Registered after sendto: a reply is only read from the event loop, later.
        self.pending[(run.addr, seq)] = (run, index, sent_ns)
        run.seqs.append(seq)
        run.sent += 1
        run.waiting += 1

    def start(self, run: _Run) -> None:
        """Send ``run``'s first echo now; the rest, and its deadline, go in the rounds."""
        run.start = self._loop.time()
        self._step(run)

    def _step(self, run: _Run) -> None:
        """Send ``run``'s next echo, then queue what comes after it."""
        index = run.next
        error: OSError | None = None
        try:
            self.send(run, index, run.payload_size)
        except OSError as exc:
            error = exc
        if error is not None and not self.raw and error.errno in _PENDING_ERRNOS:
            # A ping socket reports an ICMP error about an earlier echo (sk_err) on its next
            # send, once: this echo was not sent; sending it again tells whether it is its own.
            try:
                self.send(run, index, run.payload_size)
                error = None
            except OSError as again:
                error = again
        if error is not None:
            full = isinstance(error, BlockingIOError) or error.errno == errno.ENOBUFS
            if full and run.retry < len(_SEND_RETRY):
                self._queue(run, self._loop.time() + _SEND_RETRY[run.retry], exact=True)
                run.retry += 1
                return
            # Unreachable route, local firewall, a buffer full for too long ...
            run.errors.append(f"sending failed: {error.strerror or error}")
            # DF and an echo larger than the route's known MTU: refused at once
            run.too_big = run.too_big or error.errno == errno.EMSGSIZE
        run.retry = 0
        run.next = index = index + 1
        if index < len(run.rtts):
            # Spaced from the first send, so loop latency does not accumulate.
            self._queue(run, run.start + index * run.spacing, exact=run.spacing < EXACT_BELOW)
            return
        run.all_sent = True
        if run.waiting <= 0:
            run.done.set_result(None)
        else:
            self._queue(run, self._loop.time() + run.wait, exact=False)

    def _queue(self, run: _Run, when: float, exact: bool) -> None:
        """Do ``run``'s next step at ``when``, or at the end of the slot that holds it."""
        if exact:  # spacing too short for the slots to keep it, or a send retry
            self._loop.call_at(when, self._due, run)
            return
        key = math.ceil(when / SLOT)  # never early: the interval between echoes holds
        bucket = self._slots.get(key)
        if bucket is None:
            self._slots[key] = [run]
            self._loop.call_at(key * SLOT, self._round, key)
        else:
            bucket.append(run)

    def _due(self, run: _Run) -> None:
        if run.done.done():  # answered in full, cancelled or closed
            return
        if run.all_sent:  # the deadline: the echoes still unanswered are lost
            run.done.set_result(None)
        else:
            self._step(run)

    def _round(self, key: int) -> None:
        due = self._due
        for run in self._slots.pop(key, ()):
            due(run)

    def forget(self, run: _Run) -> None:
        for seq in run.seqs:
            entry = self.pending.get((run.addr, seq))
            if entry is not None and entry[0] is run:
                del self.pending[(run.addr, seq)]

    def _on_readable(self) -> None:
        recvmsg, anc_size, pending = self.sock.recvmsg, self._anc_size, self.pending
        v4_raw, reply = self.raw and self.fam is V4, self.fam.reply
        ident = self.ident if self.raw else -1  # a ping socket's replies are all ours
        for _ in range(DRAIN_MAX):
            try:
                data, ancillary, _flags, source = recvmsg(RECV_BYTES, anc_size)
            except BlockingIOError:
                break
            except OSError:  # a ping socket reports a queued ICMP error once this way
                continue
            # IPv4 raw sockets deliver the IP header; IPv6 and ping sockets do not.
            start = (data[0] & 0x0F) * 4 if v4_raw and data else 0
            if len(data) >= start + 8 and data[start] == reply:
                # The common case, a reply: one dict lookup finds its run and send time.
                their_ident, seq = _ID_SEQ.unpack_from(data, start + 4)
                if ident >= 0 and their_ident != ident:
                    continue  # another process's echo
                entry = pending.pop((source[0], seq), None)
                if entry is not None:
                    run, index, sent_ns = entry
                    run.settle(index, max(_receive_time(ancillary) - sent_ns, 0))
                continue
            self._on_packet(data, str(source[0]), _receive_time(ancillary))
        if not self.raw:
            self._drain_errors()

    def _on_packet(self, data: bytes, source: str, received_ns: int) -> None:
        fam = self.fam
        # IPv4 raw sockets deliver the IP header; IPv6 and ping sockets do not.
        start = (data[0] & 0x0F) * 4 if self.raw and fam is V4 and data else 0
        if len(data) < start + 8:
            return
        kind = data[start]
        if kind == fam.reply:
            ident, seq = _ID_SEQ.unpack_from(data, start + 4)
            if self.raw and ident != self.ident:
                return  # another process's echo
            entry = self.pending.pop((source, seq), None)
            if entry is not None:
                run, index, sent_ns = entry
                run.settle(index, max(received_ns - sent_ns, 0))
        elif kind in (fam.unreachable, fam.exceeded, fam.too_big):
            # The error quotes the packet it is about: IP header, then our echo header.
            inner = start + 8
            if fam is V4:
                if len(data) < inner + 20:
                    return
                dest = socket.inet_ntop(socket.AF_INET, data[inner + 16 : inner + 20])
                echo = inner + (data[inner] & 0x0F) * 4
            else:
                dest = socket.inet_ntop(socket.AF_INET6, data[inner + 24 : inner + 40])
                echo = inner + 40
            if len(data) < echo + 8 or data[echo] != fam.request:
                return
            ident, seq = _ID_SEQ.unpack_from(data, echo + 4)
            entry = self.pending.pop((dest, seq), None) if ident == self.ident else None
            if entry is not None:
                code = data[start + 1]
                if entry[0].responders is not None:
                    rtt = max(received_ns - entry[2], 0)
                    entry[0].responders[entry[1]] = (source, kind, code, rtt)
                error = f"{_describe(fam, kind, code)} from {source}"
                too_big = _too_big(fam, kind, code)
                if too_big:  # the MTU the sender may use: bytes 6-7 (IPv4), 4-7 (IPv6)
                    mtu = int.from_bytes(
                        data[start + 6 : start + 8] if fam is V4 else data[start + 4 : start + 8],
                        "big",
                    )
                    error += f" (next-hop MTU {mtu})" if mtu else ""
                entry[0].settle(entry[1], None, error, too_big)
        # Anything else (type 8: our own requests on loopback, if unfiltered) is not ours.

    def _drain_errors(self) -> None:
        for _ in range(DRAIN_MAX):
            try:
                data, ancillary, _flags, dest = self.sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
            except OSError:  # BlockingIOError: the queue is empty
                break
            # The data is our echo as sent (identifier rewritten by the kernel).
            if len(data) < 8 or data[0] != self.fam.request:
                continue
            entry = self.pending.pop((str(dest[0]), _ID_SEQ.unpack_from(data, 4)[1]), None)
            if entry is None:
                continue
            error, too_big = "ICMP error", False
            for level, kind, cdata in ancillary:
                if level == self.fam.errlevel and kind == self.fam.recverr and len(cdata) >= 12:
                    err, origin, icmp_type, code, _pad, info = _EXT_ERR.unpack_from(cdata)
                    if origin in (2, 3) and entry[0].responders is not None:
                        entry[0].responders[entry[1]] = (
                            _offender(self.fam, cdata),
                            icmp_type,
                            code,
                            max(_receive_time(ancillary) - entry[2], 0),
                        )
                    if origin in (2, 3):  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6
                        error = _describe(self.fam, icmp_type, code)
                        too_big = _too_big(self.fam, icmp_type, code)
                    else:
                        error = os.strerror(err)
                        too_big = origin == SO_EE_ORIGIN_LOCAL and err == errno.EMSGSIZE
                    if too_big and info:
                        error += f" (MTU {info})"
            entry[0].settle(entry[1], None, error, too_big)

    async def aclose(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.pending.clear()


async def _nothing_to_close() -> None:
    return None


async def _open(
    fam: _Family, options: _SocketOptions = _PLAIN
) -> tuple[IcmpSocket | _Unavailable, Closer]:
    errors: list[OSError] = []
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            sock = socket.socket(
                fam.af, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, fam.proto
            )
        except OSError as exc:  # EPERM: no CAP_NET_RAW; EACCES: not in ping_group_range
            errors.append(exc)
            continue
        try:
            icmp = IcmpSocket(sock, fam, raw=kind == socket.SOCK_RAW, options=options)
        except OSError as exc:  # e.g. a source address this host does not have
            sock.close()
            why = exc.strerror or str(exc)
            detail = f"cannot set up an ICMPv{fam.version} socket ({options}): {why}"
            return _Unavailable("unreachable", detail), _nothing_to_close
        except BaseException:
            sock.close()
            raise
        return icmp, icmp.aclose
    if any(isinstance(exc, PermissionError) for exc in errors):
        return _Unavailable("icmp_not_permitted", NOT_PERMITTED), _nothing_to_close
    # e.g. a kernel without IPv6
    detail = f"cannot open an ICMPv{fam.version} socket: {errors[0].strerror}"
    return _Unavailable("unreachable", detail), _nothing_to_close


@functools.lru_cache(maxsize=16384)
def _literal(host: str) -> tuple[_Family, str, tuple[Sample, ...]] | None:
    """An IP literal's family, its address as recvmsg will spell it and its address samples;
    None for a name."""
    try:
        info = socket.getaddrinfo(host, None, 0, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    fam = V6 if info[0][0] == socket.AF_INET6 else V4
    return fam, str(info[0][4][0]), _address_samples(str(info[0][4][0]))


@functools.lru_cache(maxsize=16384)
def _address_samples(address: str) -> tuple[Sample, ...]:

    found = literal(address.split("%", 1)[0])
    return found.samples if found is not None else ()


async def _resolve(
    ctx: ProbeContext, host: str, opts: IcmpOptions
) -> tuple[_Family, str, tuple[Sample, ...]] | ProbeResult:
    """A name's address (``probes/resolve.py``), as ``_literal`` gives a literal's."""
    preferred, fallback = opts.family_choice
    try:
        resolved = await resolve(ctx, host, preferred, fallback)
    except ResolveError as exc:
        return failure("dns", str(exc))
    known = _literal(resolved.address)
    if known is None:  # an address the resolver gave in a form getaddrinfo refuses
        return failure("dns", f"{host} resolved to {resolved.address!r}, not an IP address")
    return known


def wait_after_last(opts: IcmpOptions, timeout: float | None) -> float:
    """How long to await replies after the last echo is sent."""
    wait = max(1.0, 3 * opts.spacing)
    if timeout is not None:
        # End inside the target's own timeout, so the loss figure is returned, not cancelled.
        wait = min(wait, max(0.05, 0.9 * timeout - (opts.count - 1) * opts.spacing))
    return wait


def jitter(rtts: Sequence[float]) -> float:
    """Mean absolute difference of consecutive RTTs (sending order); 0 with fewer than 2."""
    if len(rtts) < 2:
        return 0.0
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


class _Sender(Protocol):
    """What ``_send`` needs: an ``IcmpSocket``, or the path probe's UDP tracer."""

    raw: bool

    def send(self, run: _Run, index: int, payload_size: int, ttl: int | None = None) -> None: ...


async def _send(
    icmp: _Sender, run: _Run, index: int, payload_size: int, ttl: int | None = None
) -> None:
    stale = not icmp.raw
    for delay in (*_SEND_RETRY, None):
        try:
            icmp.send(run, index, payload_size, ttl)
            return
        except OSError as exc:
            if stale and exc.errno in _PENDING_ERRNOS:
                # A ping socket reports an ICMP error about an earlier echo (sk_err, set
                # with the error queue's entry) on its next send, once: this echo was not
                # sent, and sending it again tells whether the error is its own.
                stale = False
                try:
                    icmp.send(run, index, payload_size, ttl)
                    return
                except OSError as again:
                    exc = again
            full = isinstance(exc, BlockingIOError) or exc.errno == errno.ENOBUFS
            if not full or delay is None:  # unreachable route, local firewall, ...
                run.errors.append(f"sending failed: {exc.strerror or exc}")
                # DF and an echo larger than the route's known MTU: refused at once
                run.too_big = run.too_big or exc.errno == errno.EMSGSIZE
                return
        await asyncio.sleep(delay)


def _settle_all(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, IcmpOptions)
    host = target.host or ""
    # An IP literal (most targets) needs no coroutine to resolve: the cache answers.
    resolved = _literal(host) or await _resolve(ctx, host, opts)
    if isinstance(resolved, ProbeResult):
        return resolved
    fam, addr, address_samples = resolved
    choice = opts.socket_choice
    if choice is not None:
        options = _SocketOptions(*choice)
        if options.source is not None and (":" in options.source) != (fam is V6):
            return failure(
                "unreachable",
                f"source_ip_address {options.source} is not an IPv{fam.version} address "
                f"as {addr} is",
                address_samples,
            )
        key = options.key(fam)
    else:  # the plain shared socket: the common case costs no more than before
        options, key = _PLAIN, fam.key
    icmp: IcmpSocket | _Unavailable | None = ctx.existing(key)
    if icmp is None:
        icmp = await ctx.shared(key, lambda: _open(fam, options))
    if isinstance(icmp, _Unavailable):
        return failure(icmp.reason, icmp.detail, address_samples)

    wait = wait_after_last(opts, target.timeout)
    run = _Run(
        addr,
        asyncio.get_running_loop().create_future(),
        [None] * opts.count,
        opts.payload_size,
        opts.spacing,
        wait,
    )
    try:
        icmp.start(run)
        await run.done  # one future per probe: the rounds send the echoes, replies settle them
    finally:
        if not run.done.done():
            run.done.cancel()  # its queued steps are skipped
        if run.waiting:  # echoes unanswered: their entries are still pending
            icmp.forget(run)
    return _result(run, opts, wait, host, addr, address_samples)


def _result(
    run: _Run,
    opts: IcmpOptions,
    wait: float,
    host: str,
    addr: str,
    address_samples: tuple[Sample, ...],
) -> ProbeResult:
    count = opts.count
    rtts = [rtt / 1e9 for rtt in run.rtts if rtt is not None]
    loss = 1.0 - len(rtts) / count
    samples = [
        Sample("probe_icmp_packets_sent", float(run.sent)),
        Sample("probe_icmp_packets_received", float(len(rtts))),
        Sample("probe_icmp_packet_loss_ratio", loss),
    ]
    if rtts:
        avg, jit = sum(rtts) / len(rtts), jitter(rtts)
        samples += [
            Sample("probe_icmp_rtt_seconds", min(rtts), (("stat", "min"),)),
            Sample("probe_icmp_rtt_seconds", avg, (("stat", "avg"),)),
            Sample("probe_icmp_rtt_seconds", max(rtts), (("stat", "max"),)),
            Sample("probe_icmp_jitter_seconds", jit),
        ]
        samples += address_samples
        detail = (
            f"{len(rtts)}/{count} echoes answered, {loss:.0%} loss, "
            f"avg {avg * 1e3:.2f} ms, jitter {jit * 1e3:.2f} ms"
        )
        return ProbeResult(True, None, detail, tuple(samples))
    samples += address_samples
    name = host if host == addr else f"{host} ({addr})"
    if run.too_big:
        header = 28 if ":" not in name else 48  # IP + ICMP headers
        detail = (
            f"{name}: {run.errors[0]}: an echo of {opts.payload_size + header} bytes with "
            f"dont_fragment does not fit the path's MTU (0 of {count} echoes answered)"
        )
        return failure("fragmentation_needed", detail, tuple(samples))
    if run.errors:
        detail = f"{name} is unreachable: {run.errors[0]} (0 of {count} echoes answered)"
        return failure("unreachable", detail, tuple(samples))
    detail = f"0 of {count} echoes answered by {name} within {wait:g} s of the last one"
    return failure("timeout", detail, tuple(samples))
