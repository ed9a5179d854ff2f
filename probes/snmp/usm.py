"""SNMPv3 messages with the User-based Security Model (RFC 3414, 3826, 7860): keys, HMAC,
DES and AES privacy, and the message layout. Used by netmon's SNMP client (manager side) and by
the lab's agents (authoritative side).

- Keys: a password becomes a key by hashing 1 MiB of it (cached: it costs milliseconds), then
  is localized to the authoritative engine (``H(Ku || engineID || Ku)``).
- Authentication: HMAC-MD5-96, HMAC-SHA-96, and HMAC-SHA-2 with the truncations of RFC 7860
  (SHA-224: 16 bytes, SHA-256: 24, SHA-384: 32, SHA-512: 48).
- Privacy: DES-CBC (RFC 3414), AES-128-CFB (RFC 3826), AES-192/256-CFB with the key extended
  as in draft-blumenthal-aes-usm-04 (Net-SNMP's "AES-192", "AES-256") or as in the Reeder draft
  (Cisco's; Net-SNMP's "AES-192-C", "AES-256-C").

Errors: malformed messages raise ``probes.snmp.ber.BerError``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 47 keeps the old modes and ciphers SNMP needs here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore[attr-defined,no-redef,unused-ignore]
    from cryptography.hazmat.primitives.ciphers.modes import CFB  # type: ignore[no-redef,unused-ignore]

from probes.snmp.ber import (
    INTEGER,
    OCTET_STRING,
    SEQUENCE,
    BerError,
    Pdu,
    decode_int,
    decode_pdu,
    decode_tlv,
    encode_int,
    encode_pdu,
    encode_tlv,
    sequence_items,
)

__all__ = [
    "AUTH_PROTOCOLS",
    "FLAG_AUTH",
    "FLAG_PRIV",
    "FLAG_REPORTABLE",
    "MAX_ENGINE_ID",
    "MAX_USER_NAME",
    "PRIV_PROTOCOLS",
    "REPORT_NAMES",
    "USM_STATS",
    "AuthProtocol",
    "PrivProtocol",
    "UsmKeys",
    "UsmUser",
    "V3Message",
    "decode_v3",
    "decrypt_scoped",
    "encode_v3",
    "localize",
    "password_to_key",
    "verify",
]

AuthProtocol = Literal["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]
PrivProtocol = Literal["DES", "AES", "AES-128", "AES-192", "AES-256", "AES-192-C", "AES-256-C"]

# name → (hashlib name, HMAC truncation in bytes)
AUTH_PROTOCOLS: Final[dict[str, tuple[str, int]]] = {
    "MD5": ("md5", 12),
    "SHA": ("sha1", 12),
    "SHA-224": ("sha224", 16),
    "SHA-256": ("sha256", 24),
    "SHA-384": ("sha384", 32),
    "SHA-512": ("sha512", 48),
}
# name → (key bytes, key extension: "blumenthal" or "reeder")
PRIV_PROTOCOLS: Final[dict[str, tuple[int, str]]] = {
    "DES": (16, ""),  # 8 bytes of key, 8 of pre-IV
    "AES": (16, ""),
    "AES-128": (16, ""),
    "AES-192": (24, "blumenthal"),
    "AES-256": (32, "blumenthal"),
    "AES-192-C": (24, "reeder"),
    "AES-256-C": (32, "reeder"),
}

MAX_ENGINE_ID: Final = 32  # snmpEngineID, RFC 3411: 5..32 bytes (0 in a discovery request)
MAX_USER_NAME: Final = 32  # SnmpAdminString (SIZE(0..32)), RFC 3414
_MAX_INT32: Final = 2**31 - 1

FLAG_AUTH: Final = 0x01
FLAG_PRIV: Final = 0x02
FLAG_REPORTABLE: Final = 0x04

_USM_STATS_PREFIX = "1.3.6.1.6.3.15.1.1."
USM_STATS: Final = {
    "unsupportedSecLevels": _USM_STATS_PREFIX + "1.0",
    "notInTimeWindows": _USM_STATS_PREFIX + "2.0",
    "unknownUserNames": _USM_STATS_PREFIX + "3.0",
    "unknownEngineIDs": _USM_STATS_PREFIX + "4.0",
    "wrongDigests": _USM_STATS_PREFIX + "5.0",
    "decryptionErrors": _USM_STATS_PREFIX + "6.0",
}
REPORT_NAMES: Final = {
    oid: "usmStats" + name[0].upper() + name[1:] for name, oid in USM_STATS.items()
}


@dataclass(frozen=True, slots=True)
class UsmUser:
    """A user's credentials as configured: passwords, not yet localized."""

    name: bytes
    auth_protocol: str | None = None
    auth_password: bytes | None = None
    priv_protocol: str | None = None
    priv_password: bytes | None = None

    def __post_init__(self) -> None:
        if (self.auth_protocol is None) != (self.auth_password is None):
            raise ValueError("an auth protocol needs an auth password and the other way round")
        if (self.priv_protocol is None) != (self.priv_password is None):
            raise ValueError("a priv protocol needs a priv password and the other way round")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("privacy needs authentication")
        if self.auth_protocol is not None and self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown auth protocol {self.auth_protocol!r}")
        if self.priv_protocol is not None and self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown priv protocol {self.priv_protocol!r}")
        for password in (self.auth_password, self.priv_password):
            if password is not None and len(password) < 8:
                raise ValueError("SNMPv3 passwords have at least 8 characters (RFC 3414)")

    def __repr__(self) -> str:  # never the passwords
        return f"UsmUser({self.name!r}, auth={self.auth_protocol}, priv={self.priv_protocol})"

    @property
    def flags(self) -> int:
        return (FLAG_AUTH if self.auth_protocol else 0) | (FLAG_PRIV if self.priv_protocol else 0)

    def keys(self, engine_id: bytes) -> UsmKeys:
        return _keys(self, engine_id)


@dataclass(frozen=True, slots=True)
class UsmKeys:
    """A user's keys localized to one engine."""

    auth_protocol: str | None
    auth_key: bytes
    priv_protocol: str | None
    priv_key: bytes

    def __repr__(self) -> str:
        return f"UsmKeys(auth={self.auth_protocol}, priv={self.priv_protocol})"

    @property
    def mac_length(self) -> int:
        return AUTH_PROTOCOLS[self.auth_protocol][1] if self.auth_protocol else 0

    def mac(self, message: bytes) -> bytes:
        assert self.auth_protocol is not None
        name, length = AUTH_PROTOCOLS[self.auth_protocol]
        return hmac.new(self.auth_key, message, name).digest()[:length]


@functools.lru_cache(maxsize=1024)
def password_to_key(hash_name: str, password: bytes) -> bytes:
    """RFC 3414 A.2: hash 1,048,576 bytes of the repeated password."""
    if not password:
        raise ValueError("empty SNMPv3 password")
    repeated = password * (1048576 // len(password) + 1)
    return hashlib.new(hash_name, repeated[:1048576]).digest()


def localize(hash_name: str, key: bytes, engine_id: bytes) -> bytes:
    return hashlib.new(hash_name, key + engine_id + key).digest()


@functools.lru_cache(maxsize=4096)
def _keys(user: UsmUser, engine_id: bytes) -> UsmKeys:
    if user.auth_protocol is None or user.auth_password is None:
        return UsmKeys(None, b"", None, b"")
    hash_name = AUTH_PROTOCOLS[user.auth_protocol][0]
    auth_key = localize(hash_name, password_to_key(hash_name, user.auth_password), engine_id)
    priv_key = b""
    if user.priv_protocol is not None and user.priv_password is not None:
        size, extension = PRIV_PROTOCOLS[user.priv_protocol]
        master = password_to_key(hash_name, user.priv_password)
        priv_key = localize(hash_name, master, engine_id)
        while len(priv_key) < size:
            if extension == "reeder":
                priv_key += localize(hash_name, password_to_key(hash_name, priv_key), engine_id)
            else:  # Blumenthal: append H(key so far)
                priv_key += hashlib.new(hash_name, priv_key).digest()
        priv_key = priv_key[:size]
    return UsmKeys(user.auth_protocol, auth_key, user.priv_protocol, priv_key)


# --------------------------------------------------------------------------- privacy


def _des(key: bytes) -> TripleDES:
    return TripleDES(key * 3)  # three equal keys: single DES


def encrypt(keys: UsmKeys, boots: int, time: int, plain: bytes, salt: int) -> tuple[bytes, bytes]:
    """(ciphertext, msgPrivacyParameters) of the scoped PDU ``plain``."""
    if keys.priv_protocol == "DES":
        params = boots.to_bytes(4, "big") + (salt & 0xFFFFFFFF).to_bytes(4, "big")
        iv = bytes(a ^ b for a, b in zip(keys.priv_key[8:16], params, strict=True))
        padded = plain + b"\0" * (-len(plain) % 8)
        enc = Cipher(_des(keys.priv_key[:8]), modes.CBC(iv)).encryptor()
        return enc.update(padded) + enc.finalize(), params
    params = (salt & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + params
    enc = Cipher(algorithms.AES(keys.priv_key), CFB(iv)).encryptor()
    return enc.update(plain) + enc.finalize(), params


def decrypt_scoped(keys: UsmKeys, boots: int, time: int, params: bytes, data: bytes) -> bytes:
    if len(params) != 8:
        raise BerError("msgPrivacyParameters is not 8 bytes")
    if not (0 <= boots <= _MAX_INT32 and 0 <= time <= _MAX_INT32):
        raise BerError("engine boots or time outside 0..2147483647")
    if keys.priv_protocol == "DES":
        if len(data) % 8:
            raise BerError("DES ciphertext is not a multiple of 8 bytes")
        iv = bytes(a ^ b for a, b in zip(keys.priv_key[8:16], params, strict=True))
        dec = Cipher(_des(keys.priv_key[:8]), modes.CBC(iv)).decryptor()
    else:
        iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + params
        dec = Cipher(algorithms.AES(keys.priv_key), CFB(iv)).decryptor()
    return dec.update(data) + dec.finalize()


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class V3Message:
    """A decoded v3 message. ``pdu`` is None while the scoped PDU is still encrypted
    (``encrypted`` holds it) or when it failed to decode."""

    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    priv_params: bytes
    context_engine_id: bytes = b""
    context_name: bytes = b""
    pdu: Pdu | None = None
    encrypted: bytes | None = None
    raw: bytes = b""
    auth_offset: int = -1  # where auth_params sit in ``raw``

    def open(self, keys: UsmKeys) -> None:
        """Decrypt and decode the scoped PDU in place (BerError when that fails)."""
        if self.encrypted is None:
            return
        plain = decrypt_scoped(keys, self.boots, self.time, self.priv_params, self.encrypted)
        tag, content, _end = decode_tlv(plain)  # DES padding may trail
        if tag != SEQUENCE:
            raise BerError("the decrypted scoped PDU is not a SEQUENCE (wrong priv key?)")
        self._scoped(content)
        self.encrypted = None

    def _scoped(self, content: bytes) -> None:
        items = sequence_items(content)
        if len(items) != 3 or items[0][0] != OCTET_STRING or items[1][0] != OCTET_STRING:
            raise BerError("bad scoped PDU")
        self.context_engine_id, self.context_name = items[0][1], items[1][1]
        self.pdu = decode_pdu(*items[2])


def _zeroed(message: V3Message) -> bytes:
    start, end = message.auth_offset, message.auth_offset + len(message.auth_params)
    return message.raw[:start] + b"\0" * (end - start) + message.raw[end:]


def verify(keys: UsmKeys, message: V3Message) -> bool:
    """Whether the message's HMAC is right for ``keys``."""
    if not keys.auth_protocol or len(message.auth_params) != keys.mac_length:
        return False
    return hmac.compare_digest(keys.mac(_zeroed(message)), message.auth_params)


def encode_v3(
    *,
    msg_id: int,
    flags: int,
    engine_id: bytes,
    boots: int,
    time: int,
    user: bytes,
    pdu: Pdu,
    keys: UsmKeys | None = None,
    context_engine_id: bytes | None = None,
    context_name: bytes = b"",
    max_size: int = 65507,
    salt: int | None = None,
) -> bytes:
    """A v3 message; authenticated and encrypted as ``flags`` say (with ``keys``)."""
    auth = bool(flags & FLAG_AUTH)
    priv = bool(flags & FLAG_PRIV)
    if (auth or priv) and (keys is None or not keys.auth_protocol):
        raise ValueError("authentication needs keys")
    if priv and (keys is None or not keys.priv_protocol):
        raise ValueError("privacy needs a priv key")
    scoped = encode_tlv(
        SEQUENCE,
        encode_tlv(OCTET_STRING, engine_id if context_engine_id is None else context_engine_id)
        + encode_tlv(OCTET_STRING, context_name)
        + encode_pdu(pdu),
    )
    priv_params = b""
    if priv:
        assert keys is not None
        if salt is None:
            salt = int.from_bytes(os.urandom(8), "big")
        ciphertext, priv_params = encrypt(keys, boots, time, scoped, salt)
        scoped = encode_tlv(OCTET_STRING, ciphertext)
    mac_length = keys.mac_length if auth and keys is not None else 0
    head = (
        encode_tlv(OCTET_STRING, engine_id)
        + encode_int(boots)
        + encode_int(time)
        + encode_tlv(OCTET_STRING, user)
    )
    auth_tlv = encode_tlv(OCTET_STRING, b"\0" * mac_length)
    inner = head + auth_tlv + encode_tlv(OCTET_STRING, priv_params)
    params = encode_tlv(SEQUENCE, inner)
    params_tlv = encode_tlv(OCTET_STRING, params)
    global_data = encode_tlv(
        SEQUENCE,
        encode_int(msg_id)
        + encode_int(max_size)
        + encode_tlv(OCTET_STRING, bytes((flags,)))
        + encode_int(3),
    )
    version = encode_int(3)
    body = version + global_data + params_tlv + scoped
    message = encode_tlv(SEQUENCE, body)
    if not auth:
        return message
    assert keys is not None
    # Where the auth parameters' content sits: after every header in front of it.
    offset = (
        len(message)
        - len(body)
        + len(version)
        + len(global_data)
        + len(params_tlv)
        - len(inner)
        + len(head)
        + len(auth_tlv)
        - mac_length
    )
    mac = keys.mac(message)
    return message[:offset] + mac + message[offset + mac_length :]


def _bounded(content: bytes, what: str) -> int:
    """An INTEGER (0..2147483647) of the v3 header (RFC 3412, 3414)."""
    value = decode_int(content)
    if not 0 <= value <= _MAX_INT32:
        raise BerError(f"{what} {value} is outside 0..2147483647")
    return value


def decode_v3(data: bytes) -> V3Message:
    """Parse a v3 message; the scoped PDU is decoded when in clear, else kept encrypted."""
    tag, content, end = decode_tlv(data)
    if tag != SEQUENCE or end != len(data):
        raise BerError("not an SNMP message")
    # Offsets into ``data`` are needed for the HMAC, so walk it by position.
    body_start = len(data) - len(content)
    pos = body_start
    t, version, pos = decode_tlv(data, pos)
    if t != INTEGER or decode_int(version) != 3:
        raise BerError("not an SNMPv3 message")
    t, global_data, pos = decode_tlv(data, pos)
    g = sequence_items(global_data) if t == SEQUENCE else []
    if len(g) != 4 or [x[0] for x in g] != [INTEGER, INTEGER, OCTET_STRING, INTEGER]:
        raise BerError("bad msgGlobalData")
    if len(g[2][1]) != 1:
        raise BerError("msgFlags is not one byte")
    if decode_int(g[3][1]) != 3:
        raise BerError("security model is not USM (3)")
    t, params, pos = decode_tlv(data, pos)
    if t != OCTET_STRING:
        raise BerError("msgSecurityParameters is not an OCTET STRING")
    params_start = pos - len(params)
    t, sec, sec_end = decode_tlv(params)
    if sec_end != len(params):  # else the auth parameters' offset below would be wrong
        raise BerError("bytes after the USM security parameters")
    s = sequence_items(sec) if t == SEQUENCE else []
    if len(s) != 6 or [x[0] for x in s] != [OCTET_STRING, INTEGER, INTEGER] + [OCTET_STRING] * 3:
        raise BerError("bad USM security parameters")
    if len(s[0][1]) > MAX_ENGINE_ID or len(s[3][1]) > MAX_USER_NAME:
        raise BerError("an engine ID or user name longer than 32 bytes (RFC 3411, 3414)")
    # Locate the auth parameters' content: the 5th item of the inner SEQUENCE.
    inner = params_start + (len(params) - len(sec))
    cursor = inner
    for _ in range(4):
        cursor = decode_tlv(data, cursor)[2]
    _t, auth_params, after = decode_tlv(data, cursor)
    auth_offset = after - len(auth_params)
    message = V3Message(
        msg_id=_bounded(g[0][1], "msgID"),
        max_size=_bounded(g[1][1], "msgMaxSize"),
        flags=g[2][1][0],
        engine_id=s[0][1],
        # Out of range, they would raise OverflowError where the IV or the next request
        # packs them into 4 bytes.
        boots=_bounded(s[1][1], "msgAuthoritativeEngineBoots"),
        time=_bounded(s[2][1], "msgAuthoritativeEngineTime"),
        user=s[3][1],
        auth_params=auth_params,
        priv_params=s[5][1],
        raw=data,
        auth_offset=auth_offset,
    )
    t, scoped, _end = decode_tlv(data, pos)
    if t == OCTET_STRING:
        message.encrypted = scoped
    elif t == SEQUENCE:
        message._scoped(scoped)
    else:
        raise BerError("bad scoped PDU data")
    return message
