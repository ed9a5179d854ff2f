"""The BER codec (probes.snmp.ber): encodings checked byte for byte against X.690 examples, a
known SNMP message and pyasn1's encoder; every malformed input raises BerError and nothing else.
"""

from __future__ import annotations

import contextlib
import random

import pytest
from pyasn1.codec.ber import encoder  # type: ignore[import-untyped]
from pyasn1.type import univ  # type: ignore[import-untyped]

from probes.snmp.ber import (
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    GET,
    GETBULK,
    INTEGER,
    NO_SUCH_OBJECT,
    NULL,
    OCTET_STRING,
    OID,
    RESPONSE,
    TIMETICKS,
    BerError,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    decode_int,
    decode_oid,
    decode_tlv,
    decode_varbinds,
    encode_community_message,
    encode_int,
    encode_oid,
    encode_tlv,
    encode_value,
    oid_tuple,
)
from probes.snmp.transport import peek_id
from probes.snmp.usm import decode_v3

# GetRequest, v2c, community "public", request-id 1, sysDescr.0: as every SNMP primer shows it.
GET_SYSDESCR = bytes.fromhex(
    "302602010104067075626c6963a019020101020100020100300e300c06082b060102010101000500"
)


@pytest.mark.parametrize(
    ("value", "tag", "encoded"),
    [
        (0, INTEGER, "020100"),
        (127, INTEGER, "02017f"),
        (128, INTEGER, "02020080"),
        (256, INTEGER, "02020100"),
        (-1, INTEGER, "0201ff"),
        (-128, INTEGER, "020180"),
        (-129, INTEGER, "0202ff7f"),
        (2**31 - 1, INTEGER, "02047fffffff"),
        (-(2**31), INTEGER, "020480000000"),
        (0, GAUGE32, "420100"),
        (128, TIMETICKS, "43020080"),
        (2**32 - 1, COUNTER32, "410500ffffffff"),
        (2**64 - 1, COUNTER64, "460900ffffffffffffffff"),
    ],
)
def test_integers_encode_as_x690_says_and_decode_back(value: int, tag: int, encoded: str) -> None:
    assert encode_int(value, tag).hex() == encoded
    decoded_tag, content, end = decode_tlv(bytes.fromhex(encoded))
    assert decoded_tag == tag and end == len(encoded) // 2
    assert decode_int(content, tag) == value


def test_integers_match_pyasn1_and_unsigned_ones_refuse_negatives() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        value = rng.randrange(-(2**63), 2**63)
        assert encode_int(value) == encoder.encode(univ.Integer(value)), value
    with pytest.raises(BerError, match="negative"):
        encode_int(-1, COUNTER32)
    with pytest.raises(BerError, match="integer length"):
        decode_int(b"\x01" * 10)


@pytest.mark.parametrize(
    ("oid", "encoded"),
    [
        ("1.3.6.1.2.1.1.5.0", "06082b06010201010500"),
        ("1.3.6.1.4.1.311", "06072b0601040182" + "37"),  # 311 = 2 × 128 + 55
        ("2.999.3", "0603883703"),  # X.690 §8.19.5's example: 2 × 40 + 999 = 1079
        ("1.3.6.1.4.1.99999.4294967295", "060d2b06010401868d1f8fffffff7f"),
    ],
)
def test_oids_encode_as_x690_says_and_decode_back(oid: str, encoded: str) -> None:
    assert encode_oid(oid).hex() == encoded
    assert encode_oid(oid) == encoder.encode(univ.ObjectIdentifier(oid))
    _tag, content, _end = decode_tlv(bytes.fromhex(encoded))
    assert decode_oid(content) == oid


def test_bad_oids_are_ber_errors() -> None:
    for oid in ("1", "3.1", "1.40", "1.3.x", "1.3.-6"):
        with pytest.raises(BerError):
            encode_oid(oid)
    with pytest.raises(BerError, match="truncated OID"):
        decode_oid(b"\x2b\x86")
    assert oid_tuple(".1.3.6") == (1, 3, 6)


def test_lengths_short_and_long_form() -> None:
    assert encode_tlv(OCTET_STRING, b"x" * 127)[:2].hex() == "047f"
    assert encode_tlv(OCTET_STRING, b"x" * 200)[:3].hex() == "0481c8"
    assert encode_tlv(OCTET_STRING, b"x" * 300)[:4].hex() == "0482012c"
    for size in (0, 127, 128, 255, 256, 70000):
        data = encode_tlv(OCTET_STRING, b"y" * size)
        assert data == encoder.encode(univ.OctetString(b"y" * size))
        assert decode_tlv(data) == (OCTET_STRING, b"y" * size, len(data))


def test_malformed_tlvs_are_ber_errors() -> None:
    for data, why in (
        (b"\x04", "truncated"),
        (b"\x04\x05abc", "truncated"),
        (b"\x04\x80abc", "indefinite"),  # indefinite length: not in SNMP
        (b"\x04\x85\x00\x00\x00\x00\x01a", "indefinite"),  # a 5-byte length
        (b"\x1f\x01\x00", "multi-byte tags"),
    ):
        with pytest.raises(BerError, match=why):
            decode_tlv(data)


def test_a_known_get_request_encodes_byte_for_byte() -> None:
    message = CommunityMessage(
        1, b"public", Pdu(GET, 1, 0, 0, [("1.3.6.1.2.1.1.1.0", Value(NULL))])
    )
    assert encode_community_message(message) == GET_SYSDESCR
    assert decode_community_message(GET_SYSDESCR) == message
    assert peek_id(GET_SYSDESCR) == 1


def test_every_value_type_round_trips() -> None:
    varbinds = [
        ("1.3.6.1.2.1.1.3.0", Value(TIMETICKS, 4294967295)),
        ("1.3.6.1.2.1.31.1.1.1.6.1", Value(COUNTER64, 2**64 - 1)),
        ("1.3.6.1.2.1.2.2.1.10.1", Value(COUNTER32, 0)),
        ("1.3.6.1.2.1.2.2.1.5.1", Value(GAUGE32, 10**9)),
        ("1.3.6.1.2.1.2.2.1.2.1", Value(OCTET_STRING, "Cổng 1".encode())),
        ("1.3.6.1.2.1.2.2.1.8.1", Value(INTEGER, -1)),
        ("1.3.6.1.2.1.1.2.0", Value(OID, "1.3.6.1.4.1.8072.3.2.10")),
        ("1.3.6.1.2.1.4.20.1.1.127.0.0.1", Value(0x40, bytes((127, 0, 0, 1)))),
        ("1.3.6.1.2.1.1.99.0", Value(NO_SUCH_OBJECT)),
        ("1.3.6.1.4.1.99999.4294967295", Value(END_OF_MIB_VIEW)),
    ]
    message = CommunityMessage(1, b"c", Pdu(RESPONSE, 2**31 - 1, 0, 0, varbinds))
    data = encode_community_message(message)
    assert decode_community_message(data) == message
    assert peek_id(data) == 2**31 - 1
    body = b"".join(
        encode_tlv(0x30, encode_oid(oid) + encode_value(value)) for oid, value in varbinds
    )
    assert decode_varbinds(body) == varbinds
    with pytest.raises(BerError, match="needs an int"):
        encode_value(Value(COUNTER32, b"1"))


def test_getbulk_fields_are_non_repeaters_and_max_repetitions() -> None:
    pdu = Pdu(GETBULK, 7, 0, 25, [("1.3.6.1.2.1.2.2.1.2", Value(NULL))])
    data = encode_community_message(CommunityMessage(1, b"c", pdu))
    assert data.endswith(bytes.fromhex("020107020100020119300f300d06092b060102010202010205" + "00"))
    assert decode_community_message(data).pdu == pdu


def test_not_a_v1_or_v2c_message_is_a_ber_error() -> None:
    with pytest.raises(BerError, match="version field 3"):
        decode_community_message(GET_SYSDESCR.replace(b"\x02\x01\x01\x04", b"\x02\x01\x03\x04", 1))
    with pytest.raises(BerError, match="not an SNMP message"):
        decode_community_message(GET_SYSDESCR + b"\x00")  # trailing bytes


def test_garbage_raises_only_ber_errors() -> None:
    """Every decoder that reads bytes from the network, fed noise and damaged messages."""
    rng = random.Random(3)
    for _ in range(3000):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        if rng.random() < 0.5:  # a valid head with a damaged body: the harder case
            cut = rng.randrange(1, len(GET_SYSDESCR))
            noise = GET_SYSDESCR[:cut] + noise
        for decode in (decode_community_message, decode_v3, peek_id, decode_varbinds):
            with contextlib.suppress(BerError):
                decode(noise)
