"""Each kind's options: a strict pydantic model with defaults first and bounds after.

These are the ``icmp = {...}``, ``http = {...}``, ``dns = {...}``, ``tcp = {...}`` and
``snmp = {...}`` tables of a target (a settings contract, see DESIGN.md).
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from monitor.core import secrets
from monitor.core.durations import Duration
from monitor.core.settings_model import SETTINGS_CONFIG
from probes.base import KindOptions

IpProtocol = Literal["ip4", "ip6"]


class _Strict(KindOptions):
    model_config = SETTINGS_CONFIG


class IcmpOptions(_Strict):
    count: int = Field(default=5, ge=1, le=100)
    spacing: Duration = Field(default=0.2, ge=0.001, le=10.0)
    payload_size: int = Field(default=56, ge=0, le=1400)
    ip_protocol: IpProtocol = "ip4"


class HttpOptions(_Strict):
    address: ClassVar[str] = "url"

    method: Literal["GET", "HEAD", "POST"] = "GET"
    # Empty means any 2xx, as blackbox_exporter does.
    expect_status: list[int] = Field(default_factory=list)
    body_contains: list[str] = Field(default_factory=list)
    body_absent: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    max_redirects: int = Field(default=5, ge=0, le=30)
    tls_verify: bool = True
    # Checked by the probe, not at load: the lab writes its CA after settings are read.
    ca_file: str | None = None
    tls_expiry_warn: Duration = Field(default=21 * 86400.0, ge=0)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    ip_protocol: IpProtocol = "ip4"

    @field_validator("expect_status")
    @classmethod
    def _status_range(cls, codes: list[int]) -> list[int]:
        for code in codes:
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100-599)")
        return codes


DnsType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA"]


class DnsOptions(_Strict):
    query: str = Field(min_length=1, max_length=253)
    type: DnsType = "A"
    # Expected answers as their text form ("198.51.100.80", "mail.example. ", ...): the answer
    # set must equal this set. Empty: any answer with the expected rcode succeeds.
    expect: list[str] = Field(default_factory=list)
    expect_rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"
    port: int = Field(default=53, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    recursion_desired: bool = True


class TcpOptions(_Strict):
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    server_name: str | None = None
    # The first line the server sends must contain this (e.g. "220" for SMTP).
    expect_banner: str | None = None


class UsmCredentials(BaseModel):
    """An SNMPv3 USM user's protocols and keys, each key inline, as ``*_env`` or as ``*_file``.

    The keys of ``snmp = {...}`` (SnmpOptions) and of ``[[traps.users]]`` (monitor/traps.py
    TrapUser), which inherit them. The keys are resolved at load (``auth_key_secret``,
    ``priv_key_secret``); which protocols and keys go together is each subclass's rule, checked
    in its own ``mode="after"`` validator (pydantic runs this one first), which then calls
    ``_check_key_lengths``.
    """

    model_config = SETTINGS_CONFIG

    auth_protocol: Literal["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"] | None = None
    auth_key: SecretStr | None = None
    auth_key_env: str | None = None
    auth_key_file: str | None = None
    # AES-192/256: key extension of the Blumenthal draft (Net-SNMP's default); the "-C" forms:
    # Cisco's (Reeder) extension.
    priv_protocol: (
        Literal["DES", "AES", "AES-128", "AES-192", "AES-256", "AES-192-C", "AES-256-C"] | None
    ) = None
    priv_key: SecretStr | None = None
    priv_key_env: str | None = None
    priv_key_file: str | None = None

    _auth_key: SecretStr | None = PrivateAttr(default=None)
    _priv_key: SecretStr | None = PrivateAttr(default=None)

    _check_key_env = field_validator("auth_key_env", "priv_key_env")(secrets.check_env)
    _check_key_file = field_validator("auth_key_file", "priv_key_file")(secrets.check_file)

    @model_validator(mode="after")
    def _resolve_keys(self) -> Self:
        self._auth_key = secrets.resolve(self.auth_key, self.auth_key_env, self.auth_key_file)
        self._priv_key = secrets.resolve(self.priv_key, self.priv_key_env, self.priv_key_file)
        return self

    def _check_key_lengths(self) -> None:
        for what, key in (("auth", self._auth_key), ("priv", self._priv_key)):
            if key is not None and len(key.get_secret_value()) < 8:
                raise ValueError(f"the {what} key has fewer than 8 characters (RFC 3414)")

    @property
    def auth_key_secret(self) -> SecretStr | None:
        return self._auth_key

    @property
    def priv_key_secret(self) -> SecretStr | None:
        return self._priv_key


_CIRCUIT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _check_regex(pattern: str | None) -> str | None:
    """A regular expression the settings give (``snmp.interfaces``, a circuit's ``match``)."""
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


class SnmpCircuit(BaseModel):
    """One entry of ``snmp.circuits``: an interface the NOC names, paged from the first poll.

    ``circuits = [{ name = "viettel-uplink", ifName = "Gi0/0/1", carrier = "viettel",
    title = "Uplink Viettel - kênh truyền hội trường" }]``. An interface is the circuit when
    every key given agrees: ``ifIndex``, ``ifName``, ``ifDescr``, ``ifAlias`` (exact), ``match``
    (a regex searched in ifName, ifDescr and ifAlias); the first circuit that selects an
    interface names it. Its samples carry ``circuit = name`` (a slug: the label, the key the
    outage ledger and reports will use); ``title`` and ``carrier`` are for people and reports.
    """

    model_config = SETTINGS_CONFIG

    name: str
    title: str | None = Field(default=None, min_length=1, max_length=200)
    carrier: str | None = None
    ifIndex: int | None = Field(default=None, ge=1, le=2**31 - 1)  # IF-MIB's spelling
    ifName: str | None = Field(default=None, min_length=1)
    ifDescr: str | None = Field(default=None, min_length=1)
    ifAlias: str | None = Field(default=None, min_length=1)
    match: str | None = Field(default=None, min_length=1)

    @field_validator("name", "carrier")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not _CIRCUIT_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a name: [a-z0-9-], at most 63, not starting or ending with '-'"
            )
        return value

    _pattern = field_validator("match")(_check_regex)

    @model_validator(mode="after")
    def _selects_something(self) -> SnmpCircuit:
        if all(
            v is None for v in (self.ifIndex, self.ifName, self.ifDescr, self.ifAlias, self.match)
        ):
            raise ValueError(
                f"circuit {self.name!r} names no interface: give ifName, ifIndex, ifDescr, "
                "ifAlias or match"
            )
        return self

    def selects(self, index: str, name: str, descr: str, alias: str) -> bool:
        """Whether the interface with these IF-MIB values is this circuit."""
        if self.ifIndex is not None and index != str(self.ifIndex):
            return False
        for want, have in ((self.ifName, name), (self.ifDescr, descr), (self.ifAlias, alias)):
            if want is not None and want != have:
                return False
        if self.match is not None:
            pattern = re.compile(self.match)  # re caches compiled patterns
            return any(pattern.search(text) for text in (name, descr, alias) if text)
        return True


class SnmpOptions(_Strict, UsmCredentials):
    """``snmp = {...}``: how to reach one agent and what to keep (see probes/snmp.py)."""

    version: Literal["1", "2c", "3"] = "2c"
    port: int = Field(default=161, ge=1, le=65535)
    community: SecretStr | None = None
    community_env: str | None = None
    community_file: str | None = None
    user: str | None = None
    level: Literal["noAuthNoPriv", "authNoPriv", "authPriv"] = "noAuthNoPriv"
    # auth_protocol, auth_key(_env, _file), priv_protocol, priv_key(_env, _file): UsmCredentials
    context: str = ""  # v3 context name
    # Each request's timeout; by default the target's timeout shared among the tries.
    timeout: Duration | None = Field(default=None, ge=0.01, le=60.0)
    retries: int = Field(default=1, ge=0, le=10)
    max_repetitions: int = Field(default=25, ge=1, le=200)
    # Regex searched in ifName, ifDescr and ifAlias: an interface is kept when it matches any
    # of them. None keeps all (a 1,000-port switch would put 10,000+ series on /metrics).
    interfaces: str | None = None
    # The circuits on this device the NOC names (carrier uplinks, venue links): paged from the
    # first poll when down; other interfaces page only when they go from up to down. Always
    # polled, whatever ``interfaces`` keeps.
    circuits: list[SnmpCircuit] = Field(default_factory=list, max_length=256)
    bgp: bool = False
    oids: list[str] = Field(default_factory=list)
    # Traps (monitor.runtime.traps). A trap is credited to this target only when its datagram
    # comes from `host` or from one of `trap_sources` (the agent's address after NAT; IP
    # addresses only): never by an address the trap claims inside itself.
    trap_sources: list[str] = Field(default_factory=list, max_length=32)
    # The community this agent's v1/v2c traps must carry; by default ``[traps] community``.
    # With neither, its v1/v2c traps are refused (v3 traps: the ``[[traps.users]]``).
    trap_community: SecretStr | None = None
    trap_community_env: str | None = None
    trap_community_file: str | None = None

    _community: SecretStr | None = PrivateAttr(default=None)
    _trap_community: SecretStr | None = PrivateAttr(default=None)

    _check_env = field_validator("community_env", "trap_community_env")(secrets.check_env)
    _check_file = field_validator("community_file", "trap_community_file")(secrets.check_file)

    @field_validator("trap_sources")
    @classmethod
    def _ip_addresses(cls, sources: list[str]) -> list[str]:
        normal = []
        for source in sources:
            try:
                normal.append(str(ipaddress.ip_address(source)))
            except ValueError:
                raise ValueError(f"{source!r} is not an IP address (trap_sources)") from None
        return normal

    _regex = field_validator("interfaces")(_check_regex)

    @field_validator("circuits")
    @classmethod
    def _unique_circuits(cls, circuits: list[SnmpCircuit]) -> list[SnmpCircuit]:
        first: dict[str, int] = {}
        for i, circuit in enumerate(circuits):
            if circuit.name in first:
                raise ValueError(
                    f"circuits[{i}]: duplicate circuit name {circuit.name!r} "
                    f"(first at circuits[{first[circuit.name]}])"
                )
            first[circuit.name] = i
        return circuits

    def circuit_of(self, index: str, name: str, descr: str, alias: str) -> SnmpCircuit | None:
        """The first circuit that selects this interface, or None."""
        for circuit in self.circuits:
            if circuit.selects(index, name, descr, alias):
                return circuit
        return None

    @field_validator("oids")
    @classmethod
    def _numeric_oids(cls, oids: list[str]) -> list[str]:
        for oid in oids:
            parts = oid.lstrip(".").split(".")
            if not all(p.isdigit() for p in parts):
                raise ValueError(f"{oid!r} is not a numeric OID such as 1.3.6.1.2.1.1.3.0")
        return oids

    @model_validator(mode="after")
    def _resolve_secrets(self) -> SnmpOptions:  # after UsmCredentials._resolve_keys
        self._community = secrets.resolve(self.community, self.community_env, self.community_file)
        self._trap_community = secrets.resolve(
            self.trap_community, self.trap_community_env, self.trap_community_file
        )
        if self.version == "3":
            if not self.user:
                raise ValueError("version 3 needs `user`")
            if self.level != "noAuthNoPriv" and (self._auth_key is None or not self.auth_protocol):
                raise ValueError(f"level {self.level} needs auth_protocol and an auth key")
            if self.level == "authPriv" and (self._priv_key is None or not self.priv_protocol):
                raise ValueError("level authPriv needs priv_protocol and a priv key")
            self._check_key_lengths()
        elif self._community is None:
            raise ValueError(
                f"version {self.version} needs a community (community, community_env or "
                "community_file)"
            )
        return self

    @property
    def community_secret(self) -> SecretStr | None:
        return self._community

    @property
    def trap_community_secret(self) -> SecretStr | None:
        return self._trap_community


_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")

# Googlebot's own user agent string (Google's crawler documentation): what cloaking keys on.
GOOGLEBOT_USER_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


class WebOptions(_Strict):
    """``web = {...}``: a site's integrity against defacement and injected links
    (probes/integrity/): a baseline learnt from the first good fetches, then each fetch
    compared with it."""

    address: ClassVar[str] = "url"

    # Good fetches the baseline is learnt from (``netmon baseline accept TARGET`` re-learns).
    baseline_fetches: int = Field(default=3, ge=1, le=50)
    # More new outbound link domains than this at once: injected_links.
    max_new_link_domains: int = Field(default=2, ge=0, le=1000)
    # Simhash similarity of the visible text to the baseline's below this: defaced.
    min_similarity: float = Field(default=0.75, ge=0.0, le=1.0)
    # Fetch a second time as a search engine's crawler and compare (cloaking).
    check_cloaking: bool = True
    crawler_user_agent: str = Field(default=GOOGLEBOT_USER_AGENT, min_length=1, max_length=512)
    # The site's other domains (its CDN, its sub-sites): never external.
    own_domains: list[str] = Field(default_factory=list, max_length=256)
    # External domains always accepted (a CMS's CDN that rotates): never "new".
    allowed_domains: list[str] = Field(default_factory=list, max_length=1024)
    # Words added to the shipped gambling/spam list, and shipped words not to flag here.
    spam_words: list[str] = Field(default_factory=list, max_length=1024)
    allow_words: list[str] = Field(default_factory=list, max_length=1024)
    headers: dict[str, str] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=2 << 20, ge=16 << 10, le=16 << 20)
    max_redirects: int = Field(default=5, ge=0, le=30)
    tls_verify: bool = True
    ca_file: str | None = None
    ip_protocol: IpProtocol = "ip4"

    @field_validator("own_domains", "allowed_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        normal = []
        for domain in domains:
            name = domain.strip().lower().rstrip(".")
            name = name[4:] if name.startswith("www.") else name
            if not _DOMAIN.match(name):
                raise ValueError(f"{domain!r} is not a domain name such as cdn.daklak.gov.vn")
            normal.append(name)
        return normal

    @field_validator("spam_words", "allow_words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        for word in words:
            if not word.strip() or len(word) > 100:
                raise ValueError(f"{word!r}: a word or phrase of 1 to 100 characters")
        return [word.strip() for word in words]


# Every kind the settings accept, and its options model. The probe registry (``PROBES`` in
# ``probes/__init__.py``) has the same keys; a test holds them equal.
OPTIONS: dict[str, type[KindOptions]] = {
    "icmp": IcmpOptions,
    "http": HttpOptions,
    "dns": DnsOptions,
    "tcp": TcpOptions,
    "snmp": SnmpOptions,
    "web": WebOptions,
}
