"""SNMPv3 USM (probes.snmp.usm): key localization against RFC 3414's vectors and pysnmp, HMAC
authentication and DES/AES privacy round trips, each checked to fail when a byte or a key is
wrong, and secrets kept out of every repr."""

from __future__ import annotations

import hashlib
import random

import pytest
from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.entity import config  # type: ignore[import-untyped]  # loads pysnmp's USM in order
from pysnmp.proto.secmod.eso.priv import aes192, aes256  # type: ignore[import-untyped]
from pysnmp.proto.secmod.rfc3414 import localkey  # type: ignore[import-untyped]
from pysnmp.proto.secmod.rfc3414.priv import des  # type: ignore[import-untyped]
from pysnmp.proto.secmod.rfc3826.priv import aes  # type: ignore[import-untyped]

from probes.snmp.ber import (
    GET,
    OCTET_STRING,
    RESPONSE,
    SEQUENCE,
    BerError,
    Pdu,
    Value,
    encode_pdu,
    encode_tlv,
)
from probes.snmp.session import Credentials
from probes.snmp.usm import (
    AUTH_PROTOCOLS,
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    PRIV_PROTOCOLS,
    UsmUser,
    decode_v3,
    encode_v3,
    localize,
    password_to_key,
    verify,
)

ENGINE = bytes.fromhex("80001f8804") + b"netmon"
# msgAuthenticationParameters' length: HMAC-96 (RFC 3414), then RFC 7860's truncations.
MAC_LENGTHS = {"MD5": 12, "SHA": 12, "SHA-224": 16, "SHA-256": 24, "SHA-384": 32, "SHA-512": 48}
PDU = Pdu(RESPONSE, 4242, 0, 0, [("1.3.6.1.2.1.1.5.0", Value(0x04, "Cổng Huế".encode()))])


def message(user: UsmUser, flags: int, *, salt: int = 7) -> bytes:
    return encode_v3(
        msg_id=99,
        flags=flags,
        engine_id=ENGINE,
        boots=3,
        time=12345,
        user=user.name,
        pdu=PDU,
        keys=user.keys(ENGINE),
        salt=salt,
    )


# --------------------------------------------------------------------------- keys


def test_rfc3414_a3_key_localization_vectors() -> None:
    """RFC 3414 A.3.1 (MD5) and A.3.2 (SHA): password "maplesyrup", engine ID 00…02."""
    engine = bytes.fromhex("000000000000000000000002")
    md5 = password_to_key("md5", b"maplesyrup")
    assert md5.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localize("md5", md5, engine).hex() == "526f5eed9fcce26f8964c2930787d82b"
    sha = password_to_key("sha1", b"maplesyrup")
    assert sha.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert localize("sha1", sha, engine).hex() == "6695febc9288e36282235fc7151f128497b38f3f"
    user = UsmUser(b"u", "SHA", b"maplesyrup", "DES", b"maplesyrup")
    keys = user.keys(engine)
    assert keys.auth_key.hex() == "6695febc9288e36282235fc7151f128497b38f3f"
    assert keys.priv_key.hex() == "6695febc9288e36282235fc7151f1284"  # DES: the first 16 bytes


@pytest.mark.parametrize("protocol", sorted(AUTH_PROTOCOLS))
def test_every_auth_key_is_localized_as_pysnmp_does(protocol: str) -> None:
    hash_name = AUTH_PROTOCOLS[protocol][0]
    hash_function = getattr(hashlib, hash_name)
    password = b"netmon-auth-1"
    master = localkey.hash_passphrase(password, hash_function)
    assert password_to_key(hash_name, password) == bytes(master)
    expected = localkey.localize_key(master, univ.OctetString(ENGINE), hash_function)
    assert UsmUser(b"u", protocol, password).keys(ENGINE).auth_key == bytes(expected)


def test_aes_192_and_256_key_extensions_match_pysnmp() -> None:
    """Blumenthal (Net-SNMP's AES-192/256) and Reeder (Cisco's, "-C") extend the key apart."""
    master = localkey.hash_passphrase(b"netmon-priv-1", hashlib.sha1)
    pairs = (
        ("AES-192", aes192.AesBlumenthal192()),
        ("AES-192-C", aes192.Aes192()),
        ("AES-256", aes256.AesBlumenthal256()),
        ("AES-256-C", aes256.Aes256()),
    )
    seen = set()
    for ours, theirs in pairs:
        user = UsmUser(b"u", "SHA", b"netmon-auth-1", ours, b"netmon-priv-1")
        expected = theirs.localize_key(config.USM_AUTH_HMAC96_SHA, master, univ.OctetString(ENGINE))
        key = user.keys(ENGINE).priv_key
        assert key == bytes(expected), ours
        assert len(key) == PRIV_PROTOCOLS[ours][0]
        seen.add(key)
    assert len(seen) == 4


def test_user_rejects_what_rfc_3414_forbids() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        UsmUser(b"u", "SHA", b"short")
    with pytest.raises(ValueError, match="privacy needs authentication"):
        UsmUser(b"u", None, None, "AES", b"netmon-priv-1")
    with pytest.raises(ValueError, match="unknown auth protocol"):
        UsmUser(b"u", "SHA-1024", b"netmon-auth-1")


def test_secrets_never_in_reprs() -> None:
    user = UsmUser(b"noc", "SHA", b"auth-secret-1", "AES", b"priv-secret-1")
    creds = Credentials("3", user=user)
    text = repr(user) + repr(creds) + repr(user.keys(b"\x80\x00\x00\x00\x01"))
    text += repr(Credentials("2c", community=b"community-secret"))
    assert "secret" not in text


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("protocol", sorted(MAC_LENGTHS))
def test_authentication_round_trip_and_any_changed_byte_fails(protocol: str) -> None:
    user = UsmUser(b"noc", protocol, b"netmon-auth-1")
    data = message(user, FLAG_AUTH | FLAG_REPORTABLE)
    decoded = decode_v3(data)
    keys = user.keys(ENGINE)
    assert len(decoded.auth_params) == MAC_LENGTHS[protocol]
    assert verify(keys, decoded)
    assert decoded.pdu == PDU and decoded.engine_id == ENGINE and decoded.time == 12345
    rng = random.Random(protocol)
    for position in rng.sample(range(len(data)), 20):
        changed = bytearray(data)
        changed[position] ^= 0x01
        try:
            tampered = decode_v3(bytes(changed))
        except BerError:
            continue  # no longer a message at all
        assert not verify(keys, tampered), position
    other = UsmUser(b"noc", protocol, b"netmon-auth-2").keys(ENGINE)
    assert not verify(other, decoded)
    assert not verify(user.keys(ENGINE + b"x"), decoded)  # keys of another engine


def test_an_unauthenticated_message_never_verifies() -> None:
    user = UsmUser(b"noc", "SHA", b"netmon-auth-1")
    plain = encode_v3(msg_id=1, flags=0, engine_id=ENGINE, boots=0, time=0, user=b"noc", pdu=PDU)
    assert not verify(user.keys(ENGINE), decode_v3(plain))


# --------------------------------------------------------------------------- privacy


@pytest.mark.parametrize("protocol", sorted(PRIV_PROTOCOLS))
def test_privacy_round_trip_and_a_wrong_priv_key_fails(protocol: str) -> None:
    user = UsmUser(b"noc", "SHA-256", b"netmon-auth-1", protocol, b"netmon-priv-1")
    data = message(user, FLAG_AUTH | FLAG_PRIV)
    assert b"Hu\xe1\xba\xbf" not in data  # the value is not in clear
    decoded = decode_v3(data)
    assert decoded.pdu is None and decoded.encrypted is not None
    assert verify(user.keys(ENGINE), decoded)
    decoded.open(user.keys(ENGINE))
    assert decoded.pdu == PDU and decoded.context_engine_id == ENGINE
    wrong = UsmUser(b"noc", "SHA-256", b"netmon-auth-1", protocol, b"netmon-priv-2")
    with pytest.raises(BerError):
        decode_v3(data).open(wrong.keys(ENGINE))


def test_des_and_aes_ciphertexts_decrypt_with_pysnmp() -> None:
    """RFC 3414 §8 (DES-CBC, IV = pre-IV XOR salt) and RFC 3826 (AES-CFB, IV = boots, time,
    salt): pysnmp's own code reads what we encrypt."""
    for protocol, theirs in (("DES", des.Des()), ("AES", aes.Aes())):
        user = UsmUser(b"noc", "SHA", b"netmon-auth-1", protocol, b"netmon-priv-1")
        decoded = decode_v3(message(user, FLAG_AUTH | FLAG_PRIV, salt=0x0102030405060708))
        assert decoded.encrypted is not None
        plain = theirs.decrypt_data(
            univ.OctetString(user.keys(ENGINE).priv_key),
            (decoded.boots, decoded.time, univ.OctetString(decoded.priv_params)),
            univ.OctetString(decoded.encrypted),
        )
        scoped = encode_tlv(
            SEQUENCE,
            encode_tlv(OCTET_STRING, ENGINE) + encode_tlv(OCTET_STRING, b"") + encode_pdu(PDU),
        )
        padding = b"\0" * (-len(scoped) % 8) if protocol == "DES" else b""
        assert bytes(plain) == scoped + padding, protocol


def test_discovery_is_in_clear_and_authentication_needs_keys() -> None:
    """Discovery: an empty engine ID, no user, no auth; decodes in clear."""
    probe = encode_v3(
        msg_id=5, flags=FLAG_REPORTABLE, engine_id=b"", boots=0, time=0, user=b"",
        pdu=Pdu(GET, 5, 0, 0, []),
    )  # fmt: skip
    decoded = decode_v3(probe)
    assert decoded.engine_id == b"" and decoded.user == b"" and decoded.pdu == Pdu(GET, 5)
    with pytest.raises(ValueError, match="authentication needs keys"):
        encode_v3(msg_id=5, flags=FLAG_AUTH, engine_id=b"", boots=0, time=0, user=b"", pdu=PDU)
