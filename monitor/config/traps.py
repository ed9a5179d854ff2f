"""``[traps]``: where the SNMP trap receiver listens and whom it believes.

    [traps]
    listen = "127.0.0.1:1162"       # 162 needs root (or CAP_NET_BIND_SERVICE)
    community_env = "NETMON_TRAP_COMMUNITY"  # or community / community_file; no default
    [[traps.users]]
    name = "noc"
    auth_protocol = "SHA"
    auth_key_env = "NETMON_TRAP_AUTH"
    priv_protocol = "AES"
    priv_key_env = "NETMON_TRAP_PRIV"
    engine_ids = ["0x80001f8804..."]

A trap is credited to a target by its datagram's source address only (the target's ``host``, or
one of its ``snmp.trap_sources`` behind NAT), never by an address it claims inside itself. A
v1/v2c trap must carry that target's ``snmp.trap_community``, else this ``community``; with
neither there is no default ("public" was one), and its v1/v2c traps are refused.

v3 *traps* are authenticated with keys localized to the sending agent's engine ID, so each USM
user lists the engine IDs of the agents that send it traps; v3 *informs* use the receiver's
engine ID and need none. The receiver itself is ``monitor.runtime.traps``.
"""

from __future__ import annotations

import ipaddress

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from monitor.core import secrets
from monitor.core.settings_model import SettingsModel
from probes.options import UsmCredentials

__all__ = ["TrapSettings", "TrapUser", "split_address"]


class TrapUser(UsmCredentials):
    """A USM user that may send traps and informs: its protocols and keys (UsmCredentials,
    shared with the snmp probe's options), its name and the engine IDs it sends traps from."""

    name: str = Field(min_length=1, max_length=32)
    # The authoritative engine IDs of the agents that send this user v3 traps (hex, "0x..."
    # optional). Informs need none: they are authenticated with this receiver's engine ID.
    engine_ids: list[str] = Field(default_factory=list)

    @field_validator("engine_ids")
    @classmethod
    def _hex(cls, ids: list[str]) -> list[str]:
        for value in ids:
            try:
                raw = bytes.fromhex(value.removeprefix("0x").removeprefix("0X"))
            except ValueError:
                raise ValueError(f"{value!r} is not an engine ID in hex") from None
            if not 5 <= len(raw) <= 32:
                raise ValueError(f"{value!r}: an engine ID has 5 to 32 bytes")
        return ids

    @model_validator(mode="after")
    def _pair_keys(self) -> TrapUser:  # after UsmCredentials._resolve_keys
        if (self.auth_protocol is None) != (self._auth_key is None):
            raise ValueError("auth_protocol and an auth key go together")
        if (self.priv_protocol is None) != (self._priv_key is None):
            raise ValueError("priv_protocol and a priv key go together")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("privacy needs authentication (auth_protocol and an auth key)")
        self._check_key_lengths()
        return self

    def engine_id_bytes(self) -> list[bytes]:
        return [bytes.fromhex(v.removeprefix("0x").removeprefix("0X")) for v in self.engine_ids]


class TrapSettings(SettingsModel):
    """``[traps]``: where to listen and whom to believe."""

    enabled: bool = True
    listen: str = "127.0.0.1:1162"  # port 0: any free port (tests); ``bound`` tells which
    # The v1/v2c community of targets that set no snmp.trap_community; none by default (their
    # v1/v2c traps are then refused).
    community: SecretStr | None = None
    community_env: str | None = None
    community_file: str | None = None
    users: list[TrapUser] = Field(default_factory=list)

    _community: SecretStr | None = PrivateAttr(default=None)

    _check_env = field_validator("community_env")(secrets.check_env)
    _check_file = field_validator("community_file")(secrets.check_file)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_address(value)
        return value

    @model_validator(mode="after")
    def _resolve(self) -> TrapSettings:
        community = secrets.resolve(self.community, self.community_env, self.community_file)
        self._community = community
        names = [u.name for u in self.users]
        duplicate = {n for n in names if names.count(n) > 1}
        if duplicate:
            raise ValueError(f"user {sorted(duplicate)[0]!r} is listed twice")
        return self

    @property
    def community_secret(self) -> SecretStr | None:
        return self._community

    @property
    def address(self) -> tuple[str, int]:
        return split_address(self.listen)


def split_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'{value!r} is not host:port, e.g. "127.0.0.1:1162"')
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address to listen on") from None
    return host, int(port)
