"""Resolving a request to a ``Principal``: bearer tokens compared in constant time (the
SHA-256 of the presented token against every stored digest, all of them, every time), the
anonymous policy, and repeated failures from one address slowed down. The settings and the
``Principal`` are ``monitor.config.access``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from typing import Literal

from monitor.config.access import ANONYMOUS_ADMIN, AccessSettings, Principal

__all__ = ["Access", "forwarded_client", "is_loopback"]

# A failure count past this changes nothing (2**60 seconds is already past any max_delay),
# and keeps the arithmetic far from float overflow.
_COUNT_CAP = 64
# Failures a minute from all addresses together before each costs the full delay.
_GLOBAL_FREE = 300


def is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_client(
    peer: str | None,
    forwarded_for: list[str],
    forwarded_proto: list[str],
    trusted: list[Network],
) -> tuple[str | None, str | None]:
    """The client's address and scheme (None: the connection's own) for a request.

    X-Forwarded-For and -Proto count only when the peer is a trusted proxy; the client is then
    the rightmost hop that is not one (hops left of it are whatever the client wrote). A hop
    that is not an address ends the walk: it names nobody, so it is nobody trusted either.
    """
    address = _address(peer or "")
    if address is None or not any(address in net for net in trusted):
        return peer, None
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        client = hop
        hop_address = _address(hop)
        if hop_address is None or not any(hop_address in net for net in trusted):
            break
        client = str(hop_address)
    protos = [p.strip().lower() for value in forwarded_proto for p in value.split(",")]
    scheme = protos[-1] if protos and protos[-1] in ("http", "https") else None
    return client, scheme


class Access:
    """Resolves a request's bearer token to a Principal and slows down guessing."""

    def __init__(self, settings: AccessSettings, *, max_delay: float = 5.0) -> None:
        self.settings = settings
        self._principals = [
            (
                bytes.fromhex(t.sha256),
                Principal(
                    t.name,
                    t.role,
                    {k: (v,) if isinstance(v, str) else tuple(v) for k, v in t.scope.items()},
                ),
            )
            for t in settings.tokens
        ]
        self._metrics_digest = (
            bytes.fromhex(settings.metrics_token_sha256)
            if settings.metrics_token_sha256 is not None
            else None
        )
        self._failures: dict[str, tuple[int, float]] = {}
        self._global_start = time.monotonic()
        self._global_count = 0
        self._max_delay = max_delay

    def anonymous(self, remote: str | None) -> Principal | None:
        mode = self.settings.anonymous
        if mode == "auto":
            return ANONYMOUS_ADMIN if not self._principals and is_loopback(remote) else None
        if mode in ("noc", "admin"):
            return Principal("anonymous", mode)
        return None

    def lookup(self, token: str) -> Principal | None:
        return self._by_digest(hashlib.sha256(token.encode()).digest())

    def lookup_digest(self, digest: str) -> Principal | None:
        """The principal whose token has this SHA-256 (hex): a browser session's."""
        try:
            return self._by_digest(bytes.fromhex(digest))
        except ValueError:
            return None

    def _by_digest(self, presented: bytes) -> Principal | None:
        found: Principal | None = None
        for digest, principal in self._principals:  # no early exit: constant time
            if hmac.compare_digest(presented, digest):
                found = principal
        return found

    async def authenticate(self, authorization: str | None, remote: str | None) -> Principal | None:
        """The principal for an Authorization header; None for a missing or wrong token.

        A wrong token costs its sender a growing delay (per address, forgotten after a minute
        without failures), so guessing is slow while the right token is never delayed. The
        delay is bounded (``max_delay``) and so is every figure behind it: the count per
        address stops growing at ``_COUNT_CAP`` (no float overflow however long the guessing
        goes on), and failures from all addresses together, when more than ``_GLOBAL_FREE`` a
        minute (a spray from many addresses), cost each one ``max_delay``.
        """
        if not authorization:
            return self.anonymous(remote)
        scheme, _, token = authorization.partition(" ")
        principal = self.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if principal is not None:
            return principal
        await asyncio.sleep(self._failure_delay(remote or "?", time.monotonic()))
        return None

    def _failure_delay(self, key: str, now: float) -> float:
        """Record one failure from ``key``; the delay it costs, in [0, max_delay]."""
        count, last = self._failures.get(key, (0, now))
        count = 1 if now - last > 60 else min(count + 1, _COUNT_CAP)
        self._failures[key] = (count, now)
        if len(self._failures) > 10000:  # bounded memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] <= 60}
            while len(self._failures) > 9000:  # all recent: the oldest go, with room to spare
                del self._failures[next(iter(self._failures))]
        if now - self._global_start > 60:
            self._global_start, self._global_count = now, 0
        self._global_count = min(self._global_count + 1, _COUNT_CAP * 1000)
        delay = 0.1 * 2.0 ** (count - 4) if count > 3 else 0.0
        if self._global_count > _GLOBAL_FREE:
            delay = self._max_delay
        return min(self._max_delay, delay)

    async def metrics_allowed(
        self, authorization: str | None, remote: str | None
    ) -> Literal["ok", "unauthorized", "forbidden"]:
        """Whether a request may read /metrics under the ``metrics`` policy."""
        mode = self.settings.metrics
        if mode == "open" or (mode == "loopback" and is_loopback(remote)):
            return "ok"
        if not authorization:
            return "unauthorized"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and self._metrics_digest is not None:
            presented = hashlib.sha256(token.strip().encode()).digest()
            if hmac.compare_digest(presented, self._metrics_digest):
                return "ok"
        principal = await self.authenticate(authorization, remote)
        if principal is None:
            return "unauthorized"
        return "ok" if principal.at_least("noc") else "forbidden"
