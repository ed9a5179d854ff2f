"""A small BER codec for SNMP messages (no MIBs, numeric OIDs only): what netmon polls with and
what its agents answer with, nothing more.

netmon speaks SNMP itself: every poll is encoded and decoded here, v1/v2c messages by
``encode_community_message``/``decode_community_message`` in ``probes.snmp.session`` and the
scoped PDUs of v3 by ``probes.snmp.usm``; the lab's pure-Python agents (``monitor.lab.snmp``)
and the tests' hostile agents answer with it too. gufo-snmp is only measured beside it, by the
benchmark (bench/snmp_gufo.py); the trap receiver decodes with pysnmp.

Values are ``Value(tag, data)``: ``data`` is an ``int`` for INTEGER, Counter32, Gauge32,
TimeTicks and Counter64, ``bytes`` for OCTET STRING, IpAddress and Opaque, a dotted ``str`` for
OBJECT IDENTIFIER, ``None`` for NULL and the three exceptions (noSuchObject, noSuchInstance,
endOfMibView).

Errors: every malformed input raises ``BerError`` (a ``ValueError``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = [
    "COUNTER32",
    "COUNTER64",
    "END_OF_MIB_VIEW",
    "GAUGE32",
    "GET",
    "GETBULK",
    "GETNEXT",
    "INFORM",
    "INTEGER",
    "IPADDRESS",
    "MAX_OID_BYTES",
    "MAX_OID_CHARS",
    "MAX_OID_SUBIDS",
    "NO_SUCH_INSTANCE",
    "NO_SUCH_OBJECT",
    "NULL",
    "OCTET_STRING",
    "OID",
    "REPORT",
    "RESPONSE",
    "SEQUENCE",
    "TIMETICKS",
    "TRAP_V1",
    "TRAP_V2",
    "BerError",
    "CommunityMessage",
    "Pdu",
    "Value",
    "decode_community_message",
    "decode_int",
    "decode_oid",
    "decode_pdu",
    "decode_tlv",
    "decode_value",
    "decode_varbinds",
    "encode_community_message",
    "encode_int",
    "encode_oid",
    "encode_pdu",
    "encode_tlv",
    "encode_value",
    "oid_tuple",
    "sequence_items",
]

INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OID: Final = 0x06
SEQUENCE: Final = 0x30
IPADDRESS: Final = 0x40
COUNTER32: Final = 0x41
GAUGE32: Final = 0x42
TIMETICKS: Final = 0x43
OPAQUE: Final = 0x44
COUNTER64: Final = 0x46
NO_SUCH_OBJECT: Final = 0x80
NO_SUCH_INSTANCE: Final = 0x81
END_OF_MIB_VIEW: Final = 0x82

GET: Final = 0xA0
GETNEXT: Final = 0xA1
RESPONSE: Final = 0xA2
SET: Final = 0xA3
TRAP_V1: Final = 0xA4
GETBULK: Final = 0xA5
INFORM: Final = 0xA6
TRAP_V2: Final = 0xA7
REPORT: Final = 0xA8

_UNSIGNED: Final = frozenset({COUNTER32, GAUGE32, TIMETICKS, COUNTER64})
_INTS: Final = _UNSIGNED | {INTEGER}
_BYTES: Final = frozenset({OCTET_STRING, IPADDRESS, OPAQUE})
_EMPTY: Final = frozenset({NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW})

# RFC 2578 §3.5: at most 128 sub-identifiers of 32 bits (five base-128 bytes each).
MAX_OID_SUBIDS: Final = 128
MAX_OID_BYTES: Final = 5 * MAX_OID_SUBIDS
MAX_OID_CHARS: Final = 11 * MAX_OID_SUBIDS
_MAX_SUBID: Final = 2**32 - 1
_MAX_FIRST_SUBID: Final = _MAX_SUBID + 80  # the first holds two: 2.(2**32-1) at most
_CACHED_OID_BYTES: Final = 48  # an ifTable or BGP OID is 10 to 20
_CACHED_OID_CHARS: Final = 96


class BerError(ValueError):
    """The bytes are not the BER this codec expects."""


class Value(NamedTuple):  # a tuple: a poll makes thousands of them
    tag: int
    data: int | bytes | str | None = None


@dataclass(slots=True)
class Pdu:
    """A PDU. For GETBULK, ``error_status`` is non-repeaters and ``error_index``
    max-repetitions, as on the wire. A v1 trap is not a ``Pdu`` (see the receiver)."""

    tag: int
    request_id: int
    error_status: int = 0
    error_index: int = 0
    varbinds: list[tuple[str, Value]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommunityMessage:
    version: int  # 0: v1, 1: v2c
    community: bytes
    pdu: Pdu


# --------------------------------------------------------------------------- encoding


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def encode_tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def encode_int(value: int, tag: int = INTEGER) -> bytes:
    if tag in _UNSIGNED:
        if value < 0:
            raise BerError(f"{value} is negative: not a valid unsigned SNMP value")
        raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 when bit 7 set
        if len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
            raw = raw[1:]
    else:
        raw = value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)
    return encode_tlv(tag, raw)


def oid_tuple(oid: str) -> tuple[int, ...]:
    # Only short OIDs are cached: an agent's distinct long OIDs must not fill the cache.
    if len(oid) > _CACHED_OID_CHARS:
        return _oid_tuple(oid)
    return _oid_tuple_cached(oid)


def _oid_tuple(oid: str) -> tuple[int, ...]:
    if len(oid) > MAX_OID_CHARS:  # int() of thousands of digits is slow and may raise
        raise BerError(f"an OID of {len(oid)} characters is longer than SNMP allows")
    try:
        return tuple(int(p) for p in oid.strip(".").split("."))
    except ValueError:
        raise BerError(f"{oid!r} is not a numeric OID") from None


_oid_tuple_cached = functools.lru_cache(maxsize=65536)(_oid_tuple)


def encode_oid(oid: str | tuple[int, ...]) -> bytes:
    parts = oid_tuple(oid) if isinstance(oid, str) else oid
    if len(parts) < 2 or parts[0] > 2 or (parts[0] < 2 and parts[1] >= 40):
        raise BerError(f"{oid!r} is not a valid OID")
    out = bytearray()
    for n in (parts[0] * 40 + parts[1], *parts[2:]):
        if n < 0:
            raise BerError(f"{oid!r} is not a valid OID")
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out.extend(reversed(chunk))
    return encode_tlv(OID, bytes(out))


def encode_value(value: Value) -> bytes:
    data = value.data
    if value.tag in _INTS:
        if not isinstance(data, int):
            raise BerError(f"tag {value.tag:#x} needs an int")
        return encode_int(data, value.tag)
    if value.tag in _BYTES:
        if not isinstance(data, bytes):
            raise BerError(f"tag {value.tag:#x} needs bytes")
        return encode_tlv(value.tag, data)
    if value.tag == OID:
        if not isinstance(data, str):
            raise BerError("an OID value needs a dotted str")
        return encode_oid(data)
    if value.tag in _EMPTY:
        return encode_tlv(value.tag, b"")
    raise BerError(f"cannot encode tag {value.tag:#x}")


def encode_pdu(pdu: Pdu) -> bytes:
    varbinds = b"".join(
        encode_tlv(SEQUENCE, encode_oid(oid) + encode_value(value)) for oid, value in pdu.varbinds
    )
    return encode_tlv(
        pdu.tag,
        encode_int(pdu.request_id)
        + encode_int(pdu.error_status)
        + encode_int(pdu.error_index)
        + encode_tlv(SEQUENCE, varbinds),
    )


def encode_community_message(message: CommunityMessage) -> bytes:
    return encode_tlv(
        SEQUENCE,
        encode_int(message.version)
        + encode_tlv(OCTET_STRING, message.community)
        + encode_pdu(message.pdu),
    )


# --------------------------------------------------------------------------- decoding


def decode_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, offset after it) of the TLV at ``offset``."""
    if offset + 2 > len(data):
        raise BerError("truncated: no room for a tag and a length")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by SNMP")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise BerError("bad or indefinite length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise BerError(f"truncated: {length} bytes announced, {len(data) - pos} present")
    return tag, data[pos:end], end


def sequence_items(content: bytes) -> list[tuple[int, bytes]]:
    items = []
    pos = 0
    while pos < len(content):
        tag, inner, pos = decode_tlv(content, pos)
        items.append((tag, inner))
    return items


def decode_int(content: bytes, tag: int = INTEGER) -> int:
    if not content or len(content) > 9:
        raise BerError("bad integer length")
    return int.from_bytes(content, "big", signed=tag not in _UNSIGNED)


def decode_oid(content: bytes) -> str:
    # A poll sees the same OIDs as the last one: cached, but only short ones, so that an
    # agent's distinct long OIDs cannot fill the cache with kilobytes apiece.
    if len(content) > _CACHED_OID_BYTES:
        return _decode_oid(content)
    return _decode_oid_cached(content)


def _decode_oid(content: bytes) -> str:
    if not content:
        raise BerError("empty OID")
    # The bounds of RFC 2578 §3.5 (32-bit sub-identifiers, at most 128 of them) keep the work
    # linear in the bytes: an unbounded sub-identifier costs quadratic time and a str() that
    # raises ValueError past 4,300 digits.
    if len(content) > MAX_OID_BYTES:
        raise BerError(f"an OID of {len(content)} bytes is longer than SNMP allows")
    parts: list[int] = []
    n = 0
    for i, byte in enumerate(content):
        n = (n << 7) | (byte & 0x7F)
        if n > (_MAX_SUBID if parts else _MAX_FIRST_SUBID):
            raise BerError("an OID sub-identifier does not fit in 32 bits")
        if not byte & 0x80:
            parts.append(n)
            n = 0
        elif i == len(content) - 1:
            raise BerError("truncated OID")
    if len(parts) > MAX_OID_SUBIDS - 1:  # the first encodes two
        raise BerError(f"an OID of more than {MAX_OID_SUBIDS} sub-identifiers")
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(p) for p in (*head, *parts[1:]))


_decode_oid_cached = functools.lru_cache(maxsize=65536)(_decode_oid)


def decode_value(tag: int, content: bytes) -> Value:
    if tag in _INTS:
        return Value(tag, decode_int(content, tag))
    if tag in _BYTES:
        return Value(tag, content)
    if tag == OID:
        return Value(tag, decode_oid(content))
    if tag in _EMPTY:
        return Value(tag, None)
    raise BerError(f"unknown value tag {tag:#x}")


def _expect(items: list[tuple[int, bytes]], tags: tuple[int, ...], what: str) -> None:
    if len(items) != len(tags) or any(t != want for (t, _), want in zip(items, tags, strict=True)):
        raise BerError(f"{what} does not have the expected fields")


def decode_pdu(tag: int, content: bytes) -> Pdu:
    items = sequence_items(content)
    _expect(items, (INTEGER, INTEGER, INTEGER, SEQUENCE), "the PDU")
    return Pdu(
        tag,
        decode_int(items[0][1]),
        decode_int(items[1][1]),
        decode_int(items[2][1]),
        decode_varbinds(items[3][1]),
    )


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``, within ``end``."""
    if pos + 2 > end:
        raise BerError("truncated varbind")
    first = data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + 2 + count > end:
            raise BerError("bad or indefinite length")
        start = pos + 2 + count
        length = int.from_bytes(data[pos + 2 : start], "big")
    stop = start + length
    if stop > end:
        raise BerError("truncated varbind")
    return data[pos], start, stop


def decode_varbinds(data: bytes) -> list[tuple[str, Value]]:
    """The varbind list's content: the hot loop of a poll, so it walks the bytes in place."""
    out: list[tuple[str, Value]] = []
    append = out.append
    pos, end = 0, len(data)
    while pos < end:
        tag, start, stop = _header(data, pos, end)
        if tag != SEQUENCE:
            raise BerError("a varbind is not a SEQUENCE")
        otag, ostart, ostop = _header(data, start, stop)
        if otag != OID:
            raise BerError("a varbind does not start with an OID")
        vtag, vstart, vstop = _header(data, ostop, stop)
        if vstop != stop:
            raise BerError("a varbind is not (OID, value)")
        content = data[vstart:vstop]
        if vtag in _INTS:
            if not content or len(content) > 9:
                raise BerError("bad integer length")
            value = Value(vtag, int.from_bytes(content, "big", signed=vtag == INTEGER))
        else:
            value = decode_value(vtag, content)
        append((decode_oid(data[ostart:ostop]), value))
        pos = stop
    return out


def decode_community_message(data: bytes) -> CommunityMessage:
    """A v1 or v2c message (not a v1 trap PDU); BerError for anything else."""
    tag, content, end = decode_tlv(data)
    if tag != SEQUENCE or end != len(data):
        raise BerError("not an SNMP message")
    items = sequence_items(content)
    if len(items) != 3 or items[0][0] != INTEGER or items[1][0] != OCTET_STRING:
        raise BerError("not a v1/v2c message")
    version = decode_int(items[0][1])
    if version not in (0, 1):
        raise BerError(f"version field {version} is not v1 (0) or v2c (1)")
    pdu_tag, pdu_content = items[2]
    if pdu_tag == TRAP_V1:
        raise BerError("a v1 trap PDU")
    return CommunityMessage(version, items[1][1], decode_pdu(pdu_tag, pdu_content))
