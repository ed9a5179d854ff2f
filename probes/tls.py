"""TLS helpers shared by the probes that speak TLS (http, tcp)."""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl

from cryptography import x509

_EXPIRY_CACHE: dict[bytes, float] = {}
_CONTEXTS: dict[tuple[bool, str | None, int], ssl.SSLContext] = {}


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
    if len(_EXPIRY_CACHE) >= 1024:
        _EXPIRY_CACHE.clear()
    _EXPIRY_CACHE[der] = expiry
    return expiry


def client_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """One client SSLContext per (verify, ca_file, the file's mtime).

    Building a context loads the trust store (milliseconds): never per probe. A changed CA
    file gets a new context. Raises OSError or ssl.SSLError if ca_file cannot be loaded.
    """
    mtime = os.stat(ca_file).st_mtime_ns if ca_file else 0
    key = (verify, ca_file, mtime)
    context = _CONTEXTS.get(key)
    if context is None:
        if verify:
            context = ssl.create_default_context(cafile=ca_file)
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _CONTEXTS[key] = context
    return context


@functools.lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
