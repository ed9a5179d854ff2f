"""TLS helpers shared by the probes that speak TLS (http, tcp)."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from typing import Any

from cryptography import x509

_EXPIRY_CACHE: dict[bytes, float] = {}
_CHAIN_CACHE: dict[tuple[bytes, ...], ChainFacts] = {}
_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_CACHE_MAX = 1024
_DER = 2  # _ssl.ENCODING_DER, for Certificate.public_bytes

# blackbox_exporter's labels for probe_tls_version_info (Go's names), by OpenSSL's.
_VERSION_LABELS = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}

# Settings' "TLS 1.x" (blackbox's tls_config.min_version / max_version) to OpenSSL's bounds.
_VERSIONS = {
    "TLS 1.0": ssl.TLSVersion.TLSv1,
    "TLS 1.1": ssl.TLSVersion.TLSv1_1,
    "TLS 1.2": ssl.TLSVersion.TLSv1_2,
    "TLS 1.3": ssl.TLSVersion.TLSv1_3,
}

# Go's tls.CipherSuiteName (blackbox's probe_tls_cipher_info{cipher}) by IANA code, for the
# suites Go knows; any other is "0x%04X" there too. OpenSSL names them otherwise
# ("ECDHE-RSA-AES128-GCM-SHA256"), so the code is looked up from its name.
_IANA_CIPHERS = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
}


@functools.cache
def _cipher_codes() -> dict[str, int]:
    """OpenSSL cipher name → IANA code, for every cipher this OpenSSL knows."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:@SECLEVEL=0")
    return {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}


@functools.lru_cache(maxsize=256)
def _cipher_label(openssl_name: str) -> str:
    code = _cipher_codes().get(openssl_name)
    if code is None:
        return openssl_name  # not in this OpenSSL's list: its own name is all there is
    return _IANA_CIPHERS.get(code, f"0x{code:04X}")


def cipher_label(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The negotiated cipher suite as blackbox_exporter labels it (Go's IANA name,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"); None before a handshake."""
    cipher = ssl_object.cipher()
    return _cipher_label(cipher[0]) if cipher else None


def leaf_expiry(der: bytes) -> float | None:
    """notAfter of a DER certificate, unix seconds; None if it does not parse.

    Cached: the same certificate comes back on every probe of a site.
    """
    cached = _EXPIRY_CACHE.get(der)
    if cached is not None:
        return cached
    try:
        expiry = x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    except ValueError:
        return None
    if len(_EXPIRY_CACHE) >= _CACHE_MAX:
        _EXPIRY_CACHE.clear()
    _EXPIRY_CACHE[der] = expiry
    return expiry


def version_label(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The negotiated TLS version as blackbox_exporter labels it ("TLS 1.2"); None if unknown."""
    version = ssl_object.version()
    if version is None:
        return None
    return _VERSION_LABELS.get(version, "unknown")


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What a handshake's certificates say, for blackbox_exporter's ``probe_ssl_*`` figures.

    ``earliest_expiry``: the earliest notAfter over the verified chain (leaf, intermediates
    and the trust anchor), or over the chain the server presented when nothing was verified;
    ``chain_expiry``: the same over the verified chain only (None when not verified), as
    ``probe_ssl_last_chain_expiry_timestamp_seconds``; ``info``: the leaf's labels of
    ``probe_ssl_last_chain_info``.
    """

    earliest_expiry: float | None
    chain_expiry: float | None
    info: tuple[tuple[str, str], ...]


def _chain_ders(ssl_object: Any, verified: bool) -> list[bytes]:
    """DER of each certificate of the verified (or presented) chain, leaf first.

    Python 3.13 has ``SSLObject.get_verified_chain()``; 3.10 to 3.12 have the same method on
    the private ``_sslobj`` (the _ssl module's object), which is what 3.13's wraps.
    """
    name = "get_verified_chain" if verified else "get_unverified_chain"
    method = getattr(ssl_object, name, None) or getattr(
        getattr(ssl_object, "_sslobj", None), name, None
    )
    if method is None:
        return []
    try:
        chain = method() or []
    except (ssl.SSLError, ValueError):
        return []
    return [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in chain]


def _leaf_info(der: bytes) -> tuple[tuple[str, str], ...]:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    serial = format(cert.serial_number, "x")
    if len(serial) % 2:  # whole bytes, as blackbox prints them
        serial = "0" + serial
    return (
        ("fingerprint_sha256", hashlib.sha256(der).hexdigest()),
        ("subject", cert.subject.rfc4514_string()),
        ("issuer", cert.issuer.rfc4514_string()),
        ("subjectalternative", ",".join(names)),
        ("serialnumber", serial),
    )


def chain_facts(ssl_object: Any) -> ChainFacts | None:
    """The certificate figures of a finished handshake; None if the peer sent no certificate.

    Cached by the chain the server presented plus the verified chain's certificates: the same
    chain comes back on every probe of a site, and parsing it costs more than the probe.
    """
    presented = _chain_ders(ssl_object, verified=False)
    if not presented:
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        presented = [der]
    # Unverified (CERT_NONE), OpenSSL still builds a chain of what it was given: not verified.
    context = getattr(ssl_object, "context", None)
    checked = context is not None and context.verify_mode != ssl.CERT_NONE
    verified = _chain_ders(ssl_object, verified=True) if checked else []
    key = (*presented, b"", *verified)
    facts = _CHAIN_CACHE.get(key)
    if facts is not None:
        return facts
    over = verified or presented
    expiries = [e for e in map(leaf_expiry, over) if e is not None]
    chain = [e for e in map(leaf_expiry, verified) if e is not None]
    try:
        info = _leaf_info(presented[0])
    except ValueError:
        info = ()
    facts = ChainFacts(
        earliest_expiry=min(expiries) if expiries else None,
        chain_expiry=min(chain) if chain else None,
        info=info,
    )
    if len(_CHAIN_CACHE) >= _CACHE_MAX:
        _CHAIN_CACHE.clear()
    _CHAIN_CACHE[key] = facts
    return facts


def client_context(
    verify: bool,
    ca_file: str | None,
    cert_file: str | None = None,
    key_file: str | None = None,
    min_version: str | None = None,
    max_version: str | None = None,
) -> ssl.SSLContext:
    """One client SSLContext per (verify, ca_file, client certificate, the files' mtimes,
    the TLS version bounds: "TLS 1.0" to "TLS 1.3", None for OpenSSL's own).

    Building a context loads the trust store (milliseconds): never per probe. A changed CA
    or certificate file gets a new context. Raises OSError or ssl.SSLError if a file cannot
    be loaded.
    """
    key: tuple[Any, ...] = (verify, ca_file, _mtime(ca_file), cert_file, _mtime(cert_file))
    if key_file is not None:
        key += (key_file, _mtime(key_file))
    if min_version is not None or max_version is not None:
        key += (min_version, max_version)
    context = _CONTEXTS.get(key)
    if context is None:
        if verify:
            context = ssl.create_default_context(cafile=ca_file)
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if cert_file is not None:
            context.load_cert_chain(cert_file, key_file)
        if min_version is not None:
            context.minimum_version = _VERSIONS[min_version]
        if max_version is not None:
            context.maximum_version = _VERSIONS[max_version]
        _CONTEXTS[key] = context
    return context


def _mtime(path: str | None) -> int:
    return os.stat(path).st_mtime_ns if path else 0


@functools.lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
