"""Who may see what: ``[access]`` (bearer tokens stored as SHA-256, roles, operator scopes)
and the ``Principal`` a request resolves to. The resolving itself (constant-time lookup,
slowed guessing) is ``monitor.web.access``.

Roles (a contract, DESIGN.md): ``admin`` (everything), ``noc`` (read all, set maintenance),
``operator`` (read-only, and only the targets its ``scope`` matches), ``wall`` (the pages of
every target, read-only, for the wall screens: no API). An operator never sees
another operator's targets in any answer; a target outside its scope is "not found".

``/metrics`` has its own policy (``metrics``): a token (the default), open, or open to
loopback (a token otherwise); the token is the scrape token (``metrics_token_sha256``, what
Prometheus sends) or one of role noc or admin. An operator's token never reads /metrics:
every carrier is there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator, model_validator

from monitor.core.labels import Labelled
from monitor.core.settings_model import SettingsModel

Role = Literal["admin", "noc", "operator", "wall"]
# ``wall``: the NOC's wall screens, a long-lived token that reads the pages of every target
# and nothing else (no API, no /metrics, no button): below operator, which reads the API.
_RANK = {"wall": -1, "operator": 0, "noc": 1, "admin": 2}
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
        if self.role == "wall" and self.scope:
            raise ValueError(
                "a wall token shows every target and takes no scope: for one carrier's wall, "
                "use that carrier's operator token"
            )
        return self


class AccessSettings(SettingsModel):
    tokens: list[TokenSettings] = Field(default_factory=list)
    # Role of a request without a token: nobody ("none", the default); "auto": admin from
    # loopback while no token is configured (the lab, a laptop; behind a proxy, loopback is
    # the client's address as [server] trusted_proxies resolve it); "noc" or "admin": anyone.
    anonymous: Literal["auto", "none", "noc", "admin"] = "none"
    # /metrics: "token" (the scrape token, or one of role noc or admin; the default), "open",
    # or "loopback" (open to a client on 127.0.0.0/8 and ::1, a token otherwise).
    metrics: Literal["loopback", "open", "token"] = "token"
    # The SHA-256 of the token Prometheus sends to /metrics (its credentials_file holds the
    # token itself). Tokens of role noc and admin are taken too; an operator's never.
    metrics_token_sha256: str | None = None
    # Whether an operator may acknowledge the alerts of its own scope (its carrier's).
    operators_acknowledge: bool = False

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
