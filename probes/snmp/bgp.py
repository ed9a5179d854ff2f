"""BGP peers from the tables routers really fill (no I/O, no asyncio).

BGP4-MIB's bgpPeerTable (RFC 4273) lists only IPv4 peers, and on Cisco and Huawei only those of
the default VRF: a router whose sessions are in a VRF or over IPv6 shows none there. So one walk
(all columns in the same GETBULK: one round trip where none exists) also reads the vendor
tables, and the first vendor table with rows wins over BGP4-MIB (each lists every peer):

============================  ===================================  ==========================
table                         state column                         index
============================  ===================================  ==========================
CISCO-BGP4-MIB cbgpPeer3Table 1.3.6.1.4.1.9.9.187.1.2.9.1.5        vrfId, type, addr
                              (cbgpPeer3VrfName: .1.4)
CISCO-BGP4-MIB cbgpPeer2Table 1.3.6.1.4.1.9.9.187.1.2.5.1.3        type, addr
BGP4-V2-MIB-JUNIPER           1.3.6.1.4.1.2636.5.1.1.2.1.1.1.2     instance, local type,
jnxBgpM2PeerTable                                                  local addr, type, addr
ARISTA-BGP4V2-MIB             1.3.6.1.4.1.30065.4.1.1.2.1.13       instance, type, addr
aristaBgp4V2PeerTable
HUAWEI-BGP-VPN-MIB            1.3.6.1.4.1.2011.5.25.177.1.1.2.1.5  instance, afi, safi, type,
hwBgpPeerTable                (hwBgpPeerVrfName:                   addr
                              1.3.6.1.4.1.2011.5.25.177.1.1.1.1.6)
BGP4-MIB bgpPeerTable         1.3.6.1.2.1.15.3.1.2                 IpAddress (4 sub-ids)
============================  ===================================  ==========================

"addr" is an InetAddress in an index: its length, then one sub-id per octet (RFC 4001; not
IMPLIED in any of these tables), after an InetAddressType (1 ipv4, 2 ipv6, 3 ipv4z, 4 ipv6z).
Each peer is ``Peer(peer, afi, vrf, state)``: ``afi`` "ipv4" or "ipv6" ("vpls", "l2vpn" for
Huawei's address families), ``vrf`` the VRF's name where the table names it (Cisco's
cbgpPeer3VrfName, Huawei's hwBgpPeerVrfName), Juniper's and Arista's routing-instance index,
"" for BGP4-MIB and cbgpPeer2Table (the default VRF). A peer that a table lists once per
address family (Huawei) is kept once per (peer, afi, vrf).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from probes.snmp.ber import INTEGER, OCTET_STRING, Value

__all__ = ["BGP4_PEER_STATE", "COLUMNS", "TABLES", "Peer", "Table", "peers"]

BGP4_PEER_STATE: Final = "1.3.6.1.2.1.15.3.1.2"
_CISCO3: Final = "1.3.6.1.4.1.9.9.187.1.2.9.1."
_CISCO2_STATE: Final = "1.3.6.1.4.1.9.9.187.1.2.5.1.3"
_JUNIPER_STATE: Final = "1.3.6.1.4.1.2636.5.1.1.2.1.1.1.2"
_ARISTA_STATE: Final = "1.3.6.1.4.1.30065.4.1.1.2.1.13"  # the draft's BGP4-V2, Arista-homed
_HUAWEI_STATE: Final = "1.3.6.1.4.1.2011.5.25.177.1.1.2.1.5"
_HUAWEI_VRF: Final = "1.3.6.1.4.1.2011.5.25.177.1.1.1.1.6"

_INET_TYPES: Final = {1: "ipv4", 2: "ipv6", 3: "ipv4", 4: "ipv6"}
_INET_LENGTHS: Final = {1: 4, 2: 16, 3: 8, 4: 20}  # ipv4z, ipv6z: the address, a 4-octet zone
_HUAWEI_AFI: Final = {1: "ipv4", 2: "ipv6", 25: "vpls", 196: "l2vpn"}


@dataclass(frozen=True, slots=True)
class Peer:
    peer: str
    afi: str
    vrf: str
    state: int


# An index (the sub-ids after the column) -> (peer, afi, vrf), or None when it is not one.
Decode = Callable[[list[int]], tuple[str, str, str] | None]


@dataclass(frozen=True, slots=True)
class Table:
    mib: str  # as the status page and probe_snmp_bgp_peers{mib} name it
    state: str  # the state column's OID
    vrf_name: str | None  # a column of VRF names under the same index, if the table has one
    decode: Decode

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.state,) if self.vrf_name is None else (self.state, self.vrf_name)


def _inet(subids: list[int], at: int) -> tuple[str, str, int] | None:
    """(address, afi, next position) of an InetAddressType + InetAddress at ``at``."""
    if at + 2 > len(subids):
        return None
    kind, length = subids[at], subids[at + 1]
    octets = subids[at + 2 : at + 2 + length]
    if len(octets) != length or any(not 0 <= o <= 255 for o in octets):
        return None
    if _INET_LENGTHS.get(kind) != length:
        return None
    raw = bytes(octets)
    text = str(ipaddress.ip_address(raw[:4] if kind == 3 else raw[:16]))
    if kind in (3, 4):
        text += f"%{int.from_bytes(raw[-4:], 'big')}"
    return text, _INET_TYPES[kind], at + 2 + length


def _bgp4(subids: list[int]) -> tuple[str, str, str] | None:
    if len(subids) != 4 or any(not 0 <= o <= 255 for o in subids):
        return None
    return ".".join(map(str, subids)), "ipv4", ""


def _by_instance(subids: list[int]) -> tuple[str, str, str] | None:
    """An instance (a VRF id), then the peer's InetAddressType and InetAddress."""
    if not subids:
        return None
    remote = _inet(subids, 1)
    if remote is None or remote[2] != len(subids):
        return None
    return remote[0], remote[1], str(subids[0])


def _cisco2(subids: list[int]) -> tuple[str, str, str] | None:
    remote = _inet(subids, 0)
    if remote is None or remote[2] != len(subids):
        return None
    return remote[0], remote[1], ""


def _juniper(subids: list[int]) -> tuple[str, str, str] | None:
    if not subids:
        return None
    local = _inet(subids, 1)
    if local is None:
        return None
    remote = _inet(subids, local[2])
    if remote is None or remote[2] != len(subids):
        return None
    return remote[0], remote[1], str(subids[0])


def _huawei(subids: list[int]) -> tuple[str, str, str] | None:
    if len(subids) < 3:
        return None
    remote = _inet(subids, 3)
    if remote is None or remote[2] != len(subids):
        return None
    afi = _HUAWEI_AFI.get(subids[1], str(subids[1]))
    return remote[0], afi, str(subids[0])


# In order of preference: the first with rows is read.
TABLES: Final = (
    Table("CISCO-BGP4-MIB cbgpPeer3Table", _CISCO3 + "5", _CISCO3 + "4", _by_instance),
    Table("CISCO-BGP4-MIB cbgpPeer2Table", _CISCO2_STATE, None, _cisco2),
    Table("BGP4-V2-MIB-JUNIPER jnxBgpM2PeerTable", _JUNIPER_STATE, None, _juniper),
    Table("ARISTA-BGP4V2-MIB aristaBgp4V2PeerTable", _ARISTA_STATE, None, _by_instance),
    Table("HUAWEI-BGP-VPN-MIB hwBgpPeerTable", _HUAWEI_STATE, _HUAWEI_VRF, _huawei),
    Table("BGP4-MIB bgpPeerTable", BGP4_PEER_STATE, None, _bgp4),
)
# Every column one walk reads, in TABLES' order.
COLUMNS: Final = tuple(
    dict.fromkeys(c for t in TABLES for c in (t.state, t.vrf_name) if c is not None)
)


def _name(value: Value | None, decode_text: Callable[[bytes], str]) -> str | None:
    if value is None or value.tag != OCTET_STRING or not isinstance(value.data, bytes):
        return None
    return decode_text(value.data)


def peers(
    walked: Mapping[str, list[tuple[str, Value]]], decode_text: Callable[[bytes], str]
) -> tuple[Table | None, list[Peer], int]:
    """(the table read, its peers, rows it had that are not a peer: a bad index or state).

    ``walked`` is the walk of ``COLUMNS``; ``decode_text`` turns a VRF name into text as the
    target's labels are. No table with rows: (None, [], 0).
    """
    for table in TABLES:
        rows = walked.get(table.state) or []
        if not rows:
            continue
        names: dict[str, Value] = {}
        if table.vrf_name is not None:
            start = len(table.vrf_name) + 1
            names = {oid[start:]: v for oid, v in walked.get(table.vrf_name) or []}
        found: dict[tuple[str, str, str], Peer] = {}
        bad = 0
        start = len(table.state) + 1
        for oid, value in rows:
            suffix = oid[start:]
            try:
                subids = [int(s) for s in suffix.split(".")]
            except ValueError:
                bad += 1
                continue
            decoded = table.decode(subids)
            if decoded is None or value.tag != INTEGER or not isinstance(value.data, int):
                bad += 1
                continue
            peer, afi, vrf = decoded
            if table.vrf_name is not None:
                name = _name(names.get(suffix), decode_text)
                vrf = name if name is not None else vrf
            key = (peer, afi, vrf)
            if key not in found:
                found[key] = Peer(peer, afi, vrf, value.data)
        return table, list(found.values()), bad
    return None, [], 0
