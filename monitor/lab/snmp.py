"""The lab's SNMP agents: routers and switches answering v1, v2c and v3 on loopback.

Pure Python (``probes.snmp.ber`` and ``probes.snmp.usm``), so ``make run`` works on a machine
without Net-SNMP and without root (UDP port 1161). Each agent serves, numerically:

- SNMPv2-MIB system group: sysDescr, sysObjectID, sysUpTime, sysContact, sysName,
  sysLocation, sysServices;
- IF-MIB ifTable and ifXTable with moving counters: each interface carries a load that swings
  around its mean (octets are the integral of that rate, so counters only grow; the 32-bit
  ones wrap as real ones do), a trickle of errors and discards on the uplink;
- BGP4-MIB bgpPeerTable (bgpPeerState, ...) for the carriers' edge routers.

Access: the v1/v2c community ``netmon-lab``; the v3 users of ``SNMP_USERS`` (authPriv). A
wrong community, an unknown user or a wrong key gets what Net-SNMP gives: silence, or the
USM report (unknownUserNames, wrongDigests, ...).

Faults (``netmon lab fail NAME --mode M``):

- ``iface-down``: the uplink goes operationally down (counters stop), its BGP peer drops to
  idle, and the agent sends linkDown and bgpBackwardTransition traps to the trap receiver
  (127.0.0.1:1162 by default, from the agent's own address, so netmon matches it to the
  target); healing sends linkUp and bgpEstablished;
- ``agent-silent``: the agent drops every request;
- ``reboot``: silent for a few seconds, then up again with sysUpTime and counters from zero,
  snmpEngineBoots + 1, and a coldStart trap.

For tests, an agent also takes knobs real agents have: no HC counters (``counter32_only``), a
response size above which it answers tooBig (``max_response_bytes``), an answer delay, and
garbage instead of answers; its interfaces may boot not up (``SnmpInterface.oper_status``: 2,
5 dormant, 6 notPresent, 7 lowerLayerDown, as the never-up ports of real gear), and
``set_oper(index, status, trap=...)`` moves one port (with its linkDown/linkUp trap).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, cast

from monitor.lab.inventory import (
    SNMP_COMMUNITY,
    SNMP_TRAP_ADDRESS,
    SNMP_TRAP_COMMUNITY,
    SNMP_USERS,
    SnmpDevice,
    SnmpInterface,
    check_loopback,
)
from probes.snmp.ber import (
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    GET,
    GETBULK,
    GETNEXT,
    INTEGER,
    IPADDRESS,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    OCTET_STRING,
    OID,
    REPORT,
    RESPONSE,
    SET,
    TIMETICKS,
    TRAP_V2,
    BerError,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    decode_tlv,
    encode_community_message,
    oid_tuple,
)
from probes.snmp.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    USM_STATS,
    UsmUser,
    V3Message,
    decode_v3,
    encode_v3,
    verify,
)

__all__ = ["LabAgent", "SnmpAgents", "lab_users"]

_log = logging.getLogger("netmon.lab")

_SYS: Final = "1.3.6.1.2.1.1."
_IF: Final = "1.3.6.1.2.1.2.2.1."
_IFX: Final = "1.3.6.1.2.1.31.1.1.1."
_BGP: Final = "1.3.6.1.2.1.15."
_SNMP_TRAP_OID: Final = "1.3.6.1.6.3.1.1.4.1.0"
_SYS_UPTIME: Final = _SYS + "3.0"
TRAPS: Final = {
    "coldStart": "1.3.6.1.6.3.1.1.5.1",
    "linkDown": "1.3.6.1.6.3.1.1.5.3",
    "linkUp": "1.3.6.1.6.3.1.1.5.4",
    "bgpEstablished": "1.3.6.1.2.1.15.0.1",
    "bgpBackwardTransition": "1.3.6.1.2.1.15.0.2",
}
_MAX_VARBINDS: Final = 2000  # per GETBULK answer
_TIME_WINDOW: Final = 150
_REBOOT_SECONDS: Final = 3.0
_STATUS_NOT_WRITABLE: Final = 17
_STATUS_NO_SUCH_NAME: Final = 2
_STATUS_TOO_BIG: Final = 1
_STATUS_AUTHORIZATION: Final = 16

Getter = Callable[[], Value]


def lab_users() -> tuple[UsmUser, ...]:
    return tuple(
        UsmUser(name.encode(), auth, auth_key.encode(), priv, priv_key.encode())
        for name, auth, auth_key, priv, priv_key in SNMP_USERS
    )


def _seed(*parts: object) -> float:
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(eq=False, slots=True)
class _Port:
    """One interface's live state: counters integrate its rate while it is up."""

    index: int
    spec: SnmpInterface
    period: float
    phase: float
    oper_up: bool = True
    down_status: int = 2  # ifOperStatus while not up
    octets_in: float = 0.0  # accumulated up to ``since``
    octets_out: float = 0.0
    since: float = 0.0
    last_change: float = 0.0  # monotonic

    def _integral(self, t0: float, t1: float, share: float) -> float:
        """Octets carried from t0 to t1 at rate speed × load × (1 + 0.3 sin(2πt/P + φ))."""
        speed = self.spec.speed_mbps * 1e6 / 8 * self.spec.load * share
        w = 2 * math.pi / self.period
        swing = 0.3 / w * (math.cos(w * t0 + self.phase) - math.cos(w * t1 + self.phase))
        return speed * ((t1 - t0) + swing)

    def octets(self, now: float) -> tuple[int, int]:
        if not self.running:
            return int(self.octets_in), int(self.octets_out)
        return (
            int(self.octets_in + self._integral(self.since, now, 1.0)),
            int(self.octets_out + self._integral(self.since, now, 0.6)),
        )

    @property
    def running(self) -> bool:
        return self.oper_up and self.spec.admin_up and not self.spec.loopback

    def set_up(self, up: bool, now: float) -> None:
        if up == self.oper_up:
            return
        self.octets_in, self.octets_out = self.octets(now)
        self.since = now
        self.oper_up = up
        self.last_change = now


class LabAgent(asyncio.DatagramProtocol):
    """One simulated device on ``device.host:device.port``."""

    def __init__(
        self,
        device: SnmpDevice,
        *,
        community: str = SNMP_COMMUNITY,
        users: Iterable[UsmUser] | None = None,
        trap_address: tuple[str, int] | None = SNMP_TRAP_ADDRESS,
        trap_community: str = SNMP_TRAP_COMMUNITY,
        counter32_only: bool = False,
        max_response_bytes: int | None = None,
        answer_delay: float = 0.0,
        garbage: bool = False,
        reboot_seconds: float = _REBOOT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.community = community.encode()
        self.users = {u.name: u for u in (users if users is not None else lab_users())}
        self.trap_address = trap_address
        self.trap_community = trap_community.encode()
        self.counter32_only = counter32_only
        self.max_response_bytes = max_response_bytes
        self.answer_delay = answer_delay
        self.garbage = garbage
        self.reboot_seconds = reboot_seconds
        self.clock = clock
        self.silent = False
        self.fault: str | None = None
        self.requests = 0
        self.values_answered = 0  # varbinds in successful answers: the agent's work
        self.engine_id = b"\x80\x00\x1f\x88\x04" + f"lab-{device.name}"[:27].encode()
        self.boots = 1
        self._transport: asyncio.DatagramTransport | None = None
        self._reboot: asyncio.Task[None] | None = None
        self._booted = clock()
        self._counter32_offset = 0
        self._ports = [
            _Port(i, spec, 120 + 480 * _seed(device.name, i), 2 * math.pi * _seed(i, device.name))
            for i, spec in enumerate(device.interfaces, start=1)
        ]
        self._peer_state = {peer.address: 6 for peer in device.peers}
        self._established_at = {peer.address: self._booted for peer in device.peers}
        self._reset_counters(self._booted)
        self._keys: list[tuple[int, ...]] = []
        self._entries: list[tuple[str, Getter]] = []
        self._build()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        check_loopback(self.device.host)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.device.host, self.device.port)
        )
        self._transport = transport

    async def close(self) -> None:
        if self._reboot is not None:
            self._reboot.cancel()
            await asyncio.gather(self._reboot, return_exceptions=True)
            self._reboot = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def address(self) -> tuple[str, int]:
        if self._transport is not None:
            sockname = self._transport.get_extra_info("sockname")
            return str(sockname[0]), int(sockname[1])
        return self.device.host, self.device.port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:  # e.g. no trap receiver listening
        _log.debug("lab agent %s: %s", self.device.name, exc)

    # ---------------------------------------------------------------- the MIB

    def _reset_counters(self, now: float) -> None:
        for port in self._ports:
            port.oper_up = port.spec.oper_status == 1
            port.down_status = 2 if port.spec.oper_status == 1 else port.spec.oper_status
            port.octets_in = port.octets_out = 0.0
            port.since = port.last_change = now
        # Counter32 views start at a device-specific offset, so that they wrap within the
        # lab's lifetime on the busy links (as a real router's do after days).
        self._counter32_offset = int(_seed(self.device.name, self.boots) * 2**32)

    def _uptime(self) -> int:
        return int((self.clock() - self._booted) * 100) & 0xFFFFFFFF

    def _build(self) -> None:
        dev = self.device
        entries: dict[str, Getter] = {}

        def const(tag: int, data: int | bytes | str) -> Getter:
            value = Value(tag, data)
            return lambda: value

        entries[_SYS + "1.0"] = const(OCTET_STRING, f"netmon lab: {dev.title}".encode())
        entries[_SYS + "2.0"] = const(OID, "1.3.6.1.4.1.8072.3.2.10")
        entries[_SYS + "3.0"] = lambda: Value(TIMETICKS, self._uptime())
        entries[_SYS + "4.0"] = const(OCTET_STRING, "NOC Sở TT&TT Đắk Lắk".encode())
        entries[_SYS + "5.0"] = const(OCTET_STRING, dev.name.encode())
        entries[_SYS + "6.0"] = const(OCTET_STRING, dev.location.encode())
        entries[_SYS + "7.0"] = const(INTEGER, 6)
        entries["1.3.6.1.2.1.2.1.0"] = const(INTEGER, len(self._ports))
        for port in self._ports:
            self._port_entries(entries, port)
        if dev.peers:
            entries[_BGP + "1.0"] = const(OCTET_STRING, b"\x10")  # bgpVersion: 4
            entries[_BGP + "2.0"] = const(INTEGER, dev.local_as)
            for peer in dev.peers:
                self._peer_entries(entries, peer.address, peer.remote_as)
        ordered = sorted(entries.items(), key=lambda item: oid_tuple(item[0]))
        self._keys = [oid_tuple(oid) for oid, _ in ordered]
        self._entries = ordered

    def _port_entries(self, entries: dict[str, Getter], port: _Port) -> None:
        spec, i = port.spec, port.index
        speed_bps = min(spec.speed_mbps * 1_000_000, 0xFFFFFFFF)
        mac = hashlib.blake2b(f"{self.device.name}/{i}".encode(), digest_size=6).digest()

        def const(tag: int, data: int | bytes | str) -> Getter:
            value = Value(tag, data)
            return lambda: value

        def octets(direction: int, wide: bool) -> Getter:
            def get() -> Value:
                value = port.octets(self.clock())[direction]
                if wide:
                    return Value(COUNTER64, value & 0xFFFFFFFFFFFFFFFF)
                return Value(COUNTER32, (value + self._counter32_offset) & 0xFFFFFFFF)

            return get

        def packets(direction: int, wide: bool) -> Getter:
            def get() -> Value:
                value = port.octets(self.clock())[direction] // 800  # ~800-byte packets
                if wide:
                    return Value(COUNTER64, value & 0xFFFFFFFFFFFFFFFF)
                return Value(COUNTER32, value & 0xFFFFFFFF)

            return get

        def trickle(per_hour: float) -> Getter:
            def get() -> Value:
                hours = (self.clock() - self._booted) / 3600 if port.running else 0.0
                return Value(COUNTER32, int(hours * per_hour) & 0xFFFFFFFF)

            return get

        errors = 12.0 if spec.uplink else 0.0
        entries[f"{_IF}1.{i}"] = const(INTEGER, i)
        entries[f"{_IF}2.{i}"] = const(OCTET_STRING, spec.descr.encode())
        entries[f"{_IF}3.{i}"] = const(INTEGER, 24 if spec.loopback else 6)
        entries[f"{_IF}4.{i}"] = const(INTEGER, 65535 if spec.loopback else 1500)
        entries[f"{_IF}5.{i}"] = const(GAUGE32, speed_bps)
        entries[f"{_IF}6.{i}"] = const(OCTET_STRING, b"" if spec.loopback else mac)
        entries[f"{_IF}7.{i}"] = const(INTEGER, 1 if spec.admin_up else 2)
        entries[f"{_IF}8.{i}"] = lambda: Value(
            INTEGER,
            1 if port.oper_up and spec.admin_up else (port.down_status if spec.admin_up else 2),
        )
        entries[f"{_IF}9.{i}"] = lambda: Value(
            TIMETICKS, max(0, int((port.last_change - self._booted) * 100)) & 0xFFFFFFFF
        )
        entries[f"{_IF}10.{i}"] = octets(0, False)
        entries[f"{_IF}11.{i}"] = packets(0, False)
        entries[f"{_IF}13.{i}"] = trickle(errors / 3)
        entries[f"{_IF}14.{i}"] = trickle(errors)
        entries[f"{_IF}16.{i}"] = octets(1, False)
        entries[f"{_IF}17.{i}"] = packets(1, False)
        entries[f"{_IF}19.{i}"] = trickle(errors / 4)
        entries[f"{_IF}20.{i}"] = trickle(errors / 2)
        entries[f"{_IFX}1.{i}"] = const(OCTET_STRING, spec.name.encode())
        if not self.counter32_only:
            entries[f"{_IFX}6.{i}"] = octets(0, True)
            entries[f"{_IFX}7.{i}"] = packets(0, True)
            entries[f"{_IFX}10.{i}"] = octets(1, True)
            entries[f"{_IFX}11.{i}"] = packets(1, True)
        entries[f"{_IFX}15.{i}"] = const(GAUGE32, spec.speed_mbps)
        entries[f"{_IFX}18.{i}"] = const(OCTET_STRING, spec.alias.encode())

    def _peer_entries(self, entries: dict[str, Getter], address: str, remote_as: int) -> None:
        raw = bytes(int(p) for p in address.split("."))
        peer = f"1.3.6.1.2.1.15.3.1.{{}}.{address}"
        entries[peer.format(1)] = lambda: Value(IPADDRESS, raw)
        entries[peer.format(2)] = lambda: Value(INTEGER, self._peer_state[address])
        entries[peer.format(3)] = lambda: Value(INTEGER, 2)  # adminStatus: start
        entries[peer.format(4)] = lambda: Value(INTEGER, 4)
        entries[peer.format(5)] = lambda: Value(IPADDRESS, bytes((127, 0, 3, 1)))
        entries[peer.format(7)] = lambda: Value(IPADDRESS, raw)
        entries[peer.format(9)] = lambda: Value(INTEGER, remote_as)
        entries[peer.format(16)] = lambda: Value(
            GAUGE32,
            int(self.clock() - self._established_at[address])
            if self._peer_state[address] == 6
            else 0,
        )

    def get(self, oid: str) -> Value:
        index = bisect_right(self._keys, oid_tuple(oid)) - 1
        if index >= 0 and self._entries[index][0] == oid:
            return self._entries[index][1]()
        parent = oid.rsplit(".", 1)[0] + "."  # the object: its instances share it
        for near in (index, index + 1):
            if 0 <= near < len(self._entries) and self._entries[near][0].startswith(parent):
                return Value(NO_SUCH_INSTANCE)
        return Value(NO_SUCH_OBJECT)

    def next(self, oid: str) -> tuple[str, Value]:
        index = bisect_right(self._keys, oid_tuple(oid))
        if index >= len(self._entries):
            return oid, Value(END_OF_MIB_VIEW)
        name, getter = self._entries[index]
        return name, getter()

    # ---------------------------------------------------------------- requests

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        if self.silent:
            return
        self.requests += 1
        if self.garbage:
            self._send(b"\x30\x82\xff\xffnot SNMP at all", addr)
            return
        try:
            answer = self._answer(data)
        except (BerError, ValueError):
            return  # as Net-SNMP: an undecodable request is dropped
        except Exception:  # a lab bug must not take the agent down
            _log.exception("lab agent %s: cannot answer a request", self.device.name)
            return
        if answer is None:
            return
        if self.answer_delay:
            asyncio.get_running_loop().call_later(self.answer_delay, self._send, answer, addr)
        else:
            self._send(answer, addr)

    def _send(self, data: bytes, addr: tuple[str | int, int]) -> None:
        if self._transport is not None and not self.silent:
            self._transport.sendto(data, addr)

    def _answer(self, data: bytes) -> bytes | None:
        _tag, content, _end = decode_tlv(data)
        _vtag, version, _ = decode_tlv(content)
        if version == b"\x03":
            return self._answer_v3(data)
        message = decode_community_message(data)
        if message.community != self.community:
            return None  # a wrong community gets silence, as from real agents
        pdu = self._process(message.pdu, v1=message.version == 0, max_size=65507)
        if pdu is None:
            return None
        return encode_community_message(CommunityMessage(message.version, message.community, pdu))

    def _process(self, pdu: Pdu, *, v1: bool, max_size: int) -> Pdu | None:
        if pdu.tag == GET:
            varbinds = [(oid, self.get(oid)) for oid, _ in pdu.varbinds]
        elif pdu.tag == GETNEXT:
            varbinds = [self._next_v1(oid) if v1 else self.next(oid) for oid, _ in pdu.varbinds]
        elif pdu.tag == GETBULK and not v1:
            varbinds = self._bulk(pdu)
        elif pdu.tag == SET:
            status = _STATUS_NO_SUCH_NAME if v1 else _STATUS_NOT_WRITABLE
            return Pdu(RESPONSE, pdu.request_id, status, 1, pdu.varbinds)
        else:
            return None
        if v1:  # no Counter64 and no exceptions in v1: noSuchName names the first miss
            for i, (_oid, value) in enumerate(varbinds, start=1):
                if value.tag in (NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW, COUNTER64):
                    return Pdu(RESPONSE, pdu.request_id, _STATUS_NO_SUCH_NAME, i, pdu.varbinds)
        answer = Pdu(RESPONSE, pdu.request_id, 0, 0, varbinds)
        limit = min(max_size, self.max_response_bytes or max_size)
        if len(encode_community_message(CommunityMessage(1, self.community, answer))) > limit:
            return Pdu(RESPONSE, pdu.request_id, _STATUS_TOO_BIG, 0, [])
        self.values_answered += len(varbinds)
        return answer

    def _next_v1(self, oid: str) -> tuple[str, Value]:
        while True:  # v1 cannot carry Counter64: skip them, as Net-SNMP does
            oid, value = self.next(oid)
            if value.tag != COUNTER64:
                return oid, value

    def _bulk(self, pdu: Pdu) -> list[tuple[str, Value]]:
        non_repeaters = max(0, pdu.error_status)
        repetitions = max(0, pdu.error_index)
        asked = pdu.varbinds
        out = [self.next(oid) for oid, _ in asked[:non_repeaters]]
        cursors = [oid for oid, _ in asked[non_repeaters:]]
        for _ in range(repetitions):
            if not cursors or len(out) >= _MAX_VARBINDS:
                break
            row = [self.next(oid) for oid in cursors]
            out.extend(row)
            if all(value.tag == END_OF_MIB_VIEW for _, value in row):
                break
            cursors = [oid for oid, _ in row]
        return out[:_MAX_VARBINDS]

    # ---------------------------------------------------------------- v3

    def _engine_time(self) -> int:
        return int(self.clock() - self._booted)

    def _answer_v3(self, data: bytes) -> bytes | None:
        message = decode_v3(data)
        reportable = bool(message.flags & FLAG_REPORTABLE)
        if message.engine_id != self.engine_id:  # discovery, or an engine ID of old
            return self._report(message, "unknownEngineIDs") if reportable else None
        user = self.users.get(message.user)
        if user is None:
            return self._report(message, "unknownUserNames") if reportable else None
        level = message.flags & (FLAG_AUTH | FLAG_PRIV)
        if level & ~user.flags:
            return self._report(message, "unsupportedSecLevels") if reportable else None
        keys = user.keys(self.engine_id)
        if level & FLAG_AUTH:
            if not verify(keys, message):
                return self._report(message, "wrongDigests") if reportable else None
            if (
                message.boots != self.boots
                or abs(message.time - self._engine_time()) > _TIME_WINDOW
            ):
                return self._report(message, "notInTimeWindows", user=user) if reportable else None
        if level & FLAG_PRIV:
            try:
                message.open(keys)
            except BerError:
                return self._report(message, "decryptionErrors") if reportable else None
        if message.pdu is None:
            return None
        if level != user.flags:  # a lower level than the user's: VACM says no
            pdu: Pdu | None = Pdu(
                RESPONSE, message.pdu.request_id, _STATUS_AUTHORIZATION, 0, message.pdu.varbinds
            )
        else:
            pdu = self._process(message.pdu, v1=False, max_size=min(65507, message.max_size))
        if pdu is None:
            return None
        return encode_v3(
            msg_id=message.msg_id,
            flags=level,
            engine_id=self.engine_id,
            boots=self.boots,
            time=self._engine_time(),
            user=message.user,
            pdu=pdu,
            keys=keys,
            context_name=message.context_name,
        )

    def _report(self, message: V3Message, stat: str, *, user: UsmUser | None = None) -> bytes:
        request_id = message.pdu.request_id if message.pdu is not None else 0
        report = Pdu(REPORT, request_id, 0, 0, [(USM_STATS[stat], Value(COUNTER32, 1))])
        flags = FLAG_AUTH if user is not None else 0  # notInTimeWindow comes authenticated
        return encode_v3(
            msg_id=message.msg_id,
            flags=flags,
            engine_id=self.engine_id,
            boots=self.boots,
            time=self._engine_time(),
            user=message.user if user is not None else b"",
            pdu=report,
            keys=user.keys(self.engine_id) if user is not None else None,
        )

    # ---------------------------------------------------------------- traps and faults

    def send_trap(self, name: str, varbinds: Sequence[tuple[str, Value]] = ()) -> None:
        """A v2c trap from the agent's own address to the trap receiver."""
        if self.trap_address is None or self._transport is None:
            return
        all_varbinds = [
            (_SYS_UPTIME, Value(TIMETICKS, self._uptime())),
            (_SNMP_TRAP_OID, Value(OID, TRAPS[name])),
            *varbinds,
        ]
        request_id = int(_seed(self.device.name, time.time()) * 0x7FFFFFFF)
        message = CommunityMessage(
            1, self.trap_community, Pdu(TRAP_V2, request_id, 0, 0, all_varbinds)
        )
        self._transport.sendto(encode_community_message(message), self.trap_address)

    def _uplinks(self) -> list[_Port]:
        return [p for p in self._ports if p.spec.uplink] or self._ports[:1]

    def _link(self, up: bool) -> None:
        now = self.clock()
        for port in self._uplinks():
            port.set_up(up, now)
            i = port.index
            self.send_trap(
                "linkUp" if up else "linkDown",
                [
                    (f"{_IF}1.{i}", Value(INTEGER, i)),
                    (f"{_IF}7.{i}", Value(INTEGER, 1 if port.spec.admin_up else 2)),
                    (f"{_IF}8.{i}", Value(INTEGER, 1 if up else 2)),
                ],
            )
        for peer in self.device.peers:
            self._peer_state[peer.address] = 6 if up else 1
            if up:
                self._established_at[peer.address] = now
            raw = bytes(int(p) for p in peer.address.split("."))
            self.send_trap(
                "bgpEstablished" if up else "bgpBackwardTransition",
                [
                    (f"{_BGP}3.1.7.{peer.address}", Value(IPADDRESS, raw)),
                    (f"{_BGP}3.1.14.{peer.address}", Value(OCTET_STRING, b"\x00\x00")),
                    (f"{_BGP}3.1.2.{peer.address}", Value(INTEGER, 6 if up else 1)),
                ],
            )

    async def set_fault(self, mode: str | None) -> None:
        if self.fault == mode:
            return
        previous, self.fault = self.fault, mode
        if previous == "iface-down":
            self._link(True)
        elif previous == "agent-silent":
            self.silent = False
        elif previous == "reboot" and self._reboot is not None and not self._reboot.done():
            self._reboot.cancel()
            await asyncio.gather(self._reboot, return_exceptions=True)
            self._come_back()
        if mode == "iface-down":
            self._link(False)
        elif mode == "agent-silent":
            self.silent = True
        elif mode == "reboot":
            self.silent = True
            self._reboot = asyncio.create_task(self._rebooting())

    async def _rebooting(self) -> None:
        await asyncio.sleep(self.reboot_seconds)
        self._come_back()

    def _come_back(self) -> None:
        now = self.clock()
        self._booted = now
        self.boots += 1
        self._reset_counters(now)
        for peer in self.device.peers:
            self._peer_state[peer.address] = 6
            self._established_at[peer.address] = now
        self.silent = False
        self.send_trap("coldStart")

    def counters(self) -> dict[int, tuple[int, int]]:
        """Each interface's octets now (for tests)."""
        now = self.clock()
        return {port.index: port.octets(now) for port in self._ports}

    def set_octets(self, index: int, octets_in: int, octets_out: int) -> None:
        """Move an interface's counters (tests: a Counter32 about to wrap)."""
        port = self._ports[index - 1]
        now = self.clock()
        port.octets_in, port.octets_out, port.since = float(octets_in), float(octets_out), now
        self._counter32_offset = 0

    def set_oper(self, index: int, status: int, *, trap: bool = False) -> None:
        """Set one interface's ifOperStatus (tests: a port going down, or into a not-up
        state); with ``trap``, send linkDown or linkUp as a real agent would."""
        port = self._ports[index - 1]
        port.set_up(status == 1, self.clock())
        if status != 1:
            port.down_status = status
        if trap:
            self.send_trap(
                "linkUp" if status == 1 else "linkDown",
                [
                    (f"{_IF}1.{index}", Value(INTEGER, index)),
                    (f"{_IF}7.{index}", Value(INTEGER, 1 if port.spec.admin_up else 2)),
                    (f"{_IF}8.{index}", Value(INTEGER, status)),
                ],
            )

    def reboot_now(self) -> None:
        """Restart at once, without the silent spell (tests)."""
        self._come_back()


class SnmpAgents:
    """Every lab device's agent: started and closed together, faults by device name."""

    def __init__(
        self,
        devices: Iterable[SnmpDevice],
        *,
        trap_address: tuple[str, int] | None = SNMP_TRAP_ADDRESS,
        reboot_seconds: float = _REBOOT_SECONDS,
    ) -> None:
        self.agents = {
            d.name: LabAgent(d, trap_address=trap_address, reboot_seconds=reboot_seconds)
            for d in devices
        }

    async def start(self) -> None:
        try:
            for agent in self.agents.values():
                await agent.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for agent in self.agents.values():
            await agent.close()

    async def set_fault(self, name: str, mode: str | None) -> None:
        await self.agents[name].set_fault(mode)
