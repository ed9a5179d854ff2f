"""Who may see what: bearer tokens (stored as SHA-256), roles and operator scopes.

Roles (a contract, DESIGN.md): ``admin`` (everything), ``noc`` (read all, set maintenance),
``operator`` (read-only, and only the targets its ``scope`` matches). An operator never sees
another operator's targets in any answer; a target outside its scope is "not found".

Tokens are compared in constant time (the SHA-256 of the presented token against every stored
digest, all of them, every time). Repeated failures from one address are slowed down.

``/metrics`` has its own policy (``metrics``): open to loopback (a token otherwise), open, or a
token always; the token is the scrape token (``metrics_token_sha256``, what Prometheus sends)
or one of role noc or admin. An operator's token never reads /metrics: every carrier is there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator, model_validator

from monitor.core.labels import Labelled
from monitor.core.settings_model import SettingsModel

Role = Literal["admin", "noc", "operator"]
_RANK = {"operator": 0, "noc": 1, "admin": 2}
# Scope keys besides label names.
_TARGET_FIELDS = ("target", "group", "kind")


def _check_hex(value: str) -> str:
    value = value.lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("must be the 64 hex digits of the token's SHA-256")
    return value


class TokenSettings(SettingsModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    # Label matchers: a target is in scope when, for every key, its label (or its target name,
    # group or kind) is one of the values. Required for operators.
    scope: dict[str, str | list[str]] = Field(default_factory=dict)
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        return _check_hex(value)

    @model_validator(mode="after")
    def _operator_scope(self) -> TokenSettings:
        if self.role == "operator" and not self.scope:
            raise ValueError('an operator token needs a scope, e.g. { carrier = "viettel" }')
        return self


class AccessSettings(SettingsModel):
    tokens: list[TokenSettings] = Field(default_factory=list)
    # Role of a request without a token: "admin" from loopback when no token is configured
    # (the lab, a laptop), nobody otherwise.
    anonymous: Literal["auto", "none", "noc", "admin"] = "auto"
    # /metrics: "loopback" (open to 127.0.0.0/8 and ::1, a token otherwise), "open", "token".
    metrics: Literal["loopback", "open", "token"] = "loopback"
    # The SHA-256 of the token Prometheus sends to /metrics (its credentials_file holds the
    # token itself). Tokens of role noc and admin are taken too; an operator's never.
    metrics_token_sha256: str | None = None

    @field_validator("metrics_token_sha256")
    @classmethod
    def _metrics_hex(cls, value: str | None) -> str | None:
        return None if value is None else _check_hex(value)

    @field_validator("tokens")
    @classmethod
    def _unique(cls, tokens: list[TokenSettings]) -> list[TokenSettings]:
        names = [t.name for t in tokens]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"duplicate token name {name!r}")
        digests = [t.sha256 for t in tokens]
        if len(set(digests)) != len(digests):
            raise ValueError("two tokens have the same sha256")
        return tokens


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def at_least(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def sees_labels(self, labels: Mapping[str, str]) -> bool:
        """Whether a series or target with these labels is in scope (always, above operator)."""
        if self.role != "operator":
            return True
        return all(labels.get(key) in values for key, values in self.scope.items())

    def sees(self, target: Labelled) -> bool:
        if self.role != "operator":
            return True
        fields = {"target": target.name, "group": target.group, "kind": target.kind}
        return self.sees_labels({**target.labels, **fields})


ANONYMOUS_ADMIN = Principal("anonymous", "admin")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


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
        without failures), so guessing is slow while the right token is never delayed.
        """
        if not authorization:
            return self.anonymous(remote)
        scheme, _, token = authorization.partition(" ")
        principal = self.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if principal is not None:
            return principal
        key = remote or "?"
        now = time.monotonic()
        count, last = self._failures.get(key, (0, now))
        count = 1 if now - last > 60 else count + 1
        self._failures[key] = (count, now)
        if len(self._failures) > 10000:  # bounded memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] <= 60}
        if count > 3:
            await asyncio.sleep(min(self._max_delay, 0.1 * 2 ** (count - 4)))
        return None

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
