"""Each kind's options: a strict pydantic model with defaults first and bounds after.

These are the ``icmp = {...}``, ``http = {...}``, ``dns = {...}``, ``tcp = {...}`` and
``snmp = {...}`` tables of a target (a settings contract, see DESIGN.md).
"""

from __future__ import annotations

import base64
import codecs
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Self
from urllib.parse import urlsplit

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
from monitor.core.files import FileRefused, read_regular_file
from monitor.core.settings_model import SETTINGS_CONFIG
from probes.base import KindOptions

IpProtocol = Literal["ip4", "ip6"]


def _regex_setting(pattern: str | None) -> str | None:
    """A regular expression of the tcp and dns options (``_check_regex``, with the SNMP
    options below, says what is wrong with it)."""
    return _check_regex(pattern)


class _Strict(KindOptions):
    model_config = SETTINGS_CONFIG


def _check_ip(address: str | None) -> str | None:
    """An IP address the settings give (``source_ip_address``), in its normal form."""
    if address is None:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise ValueError(f"{address!r} is not an IP address") from None


class IpChoice(BaseModel):
    """Which address family a name resolves to (probes/resolve.py), as blackbox_exporter's
    ``preferred_ip_protocol`` and ``ip_protocol_fallback``. netmon prefers IPv4 (blackbox:
    IPv6): the province's links are IPv4 first. An IP literal is probed as it is."""

    model_config = SETTINGS_CONFIG

    preferred_ip_protocol: IpProtocol = "ip4"
    ip_protocol_fallback: bool = True


# As blackbox_exporter writes them (its tls_config and probe_tls_version_info).
TlsVersion = Literal["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"]


class TlsVersionBounds(BaseModel):
    """blackbox's ``tls_config.min_version`` / ``max_version`` (http, tcp); unset: OpenSSL's
    (TLS 1.2 and up on Debian, whose security level also refuses 1.0 and 1.1)."""

    model_config = SETTINGS_CONFIG

    tls_min_version: TlsVersion | None = None
    tls_max_version: TlsVersion | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        low, high = self.tls_min_version, self.tls_max_version
        if low is not None and high is not None and low > high:  # "TLS 1.x" sorts as numbers
            raise ValueError(f"tls_min_version {low!r} is above tls_max_version {high!r}")
        return self


class _IpChoiceOldKey(IpChoice):
    """IpChoice plus the first key netmon had for the family (icmp, http): ``ip_protocol``
    means preferred_ip_protocol without fallback (a name without an address of that family
    fails), as it always behaved."""

    ip_protocol: IpProtocol | None = None

    @model_validator(mode="after")
    def _one_family_key(self) -> Self:
        if (
            self.ip_protocol is not None
            and "preferred_ip_protocol" in self.model_fields_set
            and self.ip_protocol != self.preferred_ip_protocol
        ):
            raise ValueError(
                "ip_protocol and preferred_ip_protocol disagree: give preferred_ip_protocol only"
            )
        return self

    @functools.cached_property
    def family_choice(self) -> tuple[str, bool]:
        """(preferred protocol, fallback) with the older ``ip_protocol`` key honoured."""
        if self.ip_protocol is not None and "preferred_ip_protocol" not in self.model_fields_set:
            return self.ip_protocol, False
        return self.preferred_ip_protocol, self.ip_protocol_fallback


class IcmpOptions(_Strict, _IpChoiceOldKey):
    count: int = Field(default=5, ge=1, le=100)
    spacing: Duration = Field(default=0.2, ge=0.001, le=10.0)
    # Up to 65,507 bytes: with dont_fragment, a size above a link's MTU finds a black hole.
    payload_size: int = Field(default=56, ge=0, le=65507)
    # Set DF (IPv4) / refuse to fragment (IPv6): an echo larger than the path's MTU fails with
    # "fragmentation needed" instead of being fragmented.
    dont_fragment: bool = False
    ttl: int | None = Field(default=None, ge=1, le=255)
    source_ip_address: str | None = None

    _source = field_validator("source_ip_address")(_check_ip)

    @functools.cached_property
    def socket_choice(self) -> tuple[bool, int | None, str | None] | None:
        """(dont_fragment, ttl, source) when the target needs a socket of its own, else None
        (the family's shared socket); computed once, read on every probe."""
        if not self.dont_fragment and self.ttl is None and self.source_ip_address is None:
            return None
        return self.dont_fragment, self.ttl, self.source_ip_address


class HeaderMatch(BaseModel):
    """One entry of ``http.fail_if_header_matches`` / ``fail_if_header_not_matches``, as
    blackbox_exporter's: a header name (any case), a regular expression searched in each of
    its values, and whether a missing header passes."""

    model_config = SETTINGS_CONFIG

    header: str = Field(min_length=1, max_length=200)
    regexp: str = Field(min_length=1)
    allow_missing: bool = False

    _pattern = field_validator("regexp")(lambda value: _check_regex(value))


JsonValue = str | int | float | bool | None


class JsonCheck(BaseModel):
    """One entry of ``http.body_json``: a value of the JSON body, by path, and what it must be.

    ``path`` is dotted with list indexes: ``status``, ``checks.db.latency_ms``,
    ``items[0].state``; a key with a dot in it is quoted: ``["a.b"].c``. Give one test:
    ``equals`` / ``not_equals`` (any JSON value), ``lt`` / ``le`` / ``gt`` / ``ge`` (numbers),
    ``matches`` (a regex searched in a string), ``exists`` (true or false).
    """

    model_config = SETTINGS_CONFIG

    path: str = Field(min_length=1, max_length=500)
    equals: JsonValue | list[JsonValue] | dict[str, JsonValue] = None
    not_equals: JsonValue | list[JsonValue] | dict[str, JsonValue] = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    matches: str | None = Field(default=None, min_length=1)
    exists: bool | None = None

    _pattern = field_validator("matches")(lambda value: _check_regex(value))

    @field_validator("path")
    @classmethod
    def _path_parses(cls, path: str) -> str:
        json_path(path)  # raises ValueError with the reason
        return path

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        given = [k for k in _JSON_TESTS if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(
                f"body_json check of {self.path!r} needs exactly one of "
                f"{', '.join(_JSON_TESTS)} (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def test(self) -> str:
        return next(k for k in _JSON_TESTS if k in self.model_fields_set)


_JSON_TESTS = ("equals", "not_equals", "lt", "le", "gt", "ge", "matches", "exists")
_PATH_PART = re.compile(r'\.?(?:([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\])')


def json_path(path: str) -> tuple[str | int, ...]:
    """``a.b[0]["c.d"]`` as its steps ("a", "b", 0, "c.d"); ValueError if it does not parse."""
    steps: list[str | int] = []
    at = 0
    while at < len(path):
        found = _PATH_PART.match(path, at)
        if found is None or (at == 0 and path.startswith(".")):
            raise ValueError(f"{path!r} is not a JSON path such as status or items[0].state")
        key, index, quoted = found.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(key if key is not None else re.sub(r"\\(.)", r"\1", quoted))
        at = found.end()
    return tuple(steps)


class BasicAuth(BaseModel):
    """``http.basic_auth = { username = "noc", password_env = "VAR" }`` (or password_file)."""

    model_config = SETTINGS_CONFIG

    username: str = Field(min_length=1, max_length=256)
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: str | None = None

    _password: SecretStr | None = PrivateAttr(default=None)

    _check_env = field_validator("password_env")(secrets.check_env)
    _check_file = field_validator("password_file")(secrets.check_file)

    @field_validator("username")
    @classmethod
    def _no_colon(cls, username: str) -> str:
        if ":" in username:
            raise ValueError("a basic_auth username cannot contain ':'")
        return username

    @model_validator(mode="after")
    def _resolve(self) -> Self:
        self._password = secrets.resolve(self.password, self.password_env, self.password_file)
        return self

    @property
    def password_secret(self) -> str:
        return self._password.get_secret_value() if self._password is not None else ""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An http target's request as its options make it (``HttpOptions.request``)."""

    headers: dict[str, str] | None = field(repr=False)  # Authorization may be in them
    body: bytes | None = field(repr=False)
    server_name: str | None
    keep_text: bool  # the body's text is checked (contains, regexes, JSON)


Compression = Literal["identity", "gzip", "deflate", "br"]
HttpVersion = Literal["HTTP/1.0", "HTTP/1.1"]


class HttpOptions(_Strict, _IpChoiceOldKey, TlsVersionBounds):
    address: ClassVar[str] = "url"

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    # Empty means any 2xx, as blackbox_exporter does.
    expect_status: list[int] = Field(default_factory=list)
    # The final response's HTTP version must be one of these (blackbox: valid_http_versions).
    # netmon's client speaks HTTP/1.x only, so HTTP/2.0 and HTTP/3.0 could never be seen.
    expect_http_versions: list[HttpVersion] = Field(default_factory=list)
    body_contains: list[str] = Field(default_factory=list)
    body_absent: list[str] = Field(default_factory=list)
    # Regular expressions (Python's re, searched) in the decoded body text.
    fail_if_body_matches: list[str] = Field(default_factory=list)
    fail_if_body_not_matches: list[str] = Field(default_factory=list)
    fail_if_header_matches: list[HeaderMatch] = Field(default_factory=list)
    fail_if_header_not_matches: list[HeaderMatch] = Field(default_factory=list)
    body_json: list[JsonCheck] = Field(default_factory=list, max_length=64)
    fail_if_ssl: bool = False
    fail_if_not_ssl: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    # Read at load (a reload reads it again), at most 1 MiB.
    body_file: str | None = None
    # The body is sent this way and decoded with it (blackbox: compression); unset, the body is
    # taken as sent: no Accept-Encoding is asked and nothing is decoded.
    compression: Compression | None = None
    max_redirects: int = Field(default=5, ge=0, le=30)
    tls_verify: bool = True
    # Checked by the probe, not at load: the lab writes its CA after settings are read.
    ca_file: str | None = None
    # A client certificate (PEM) and its key (PEM; in cert_file when not given).
    cert_file: str | None = None
    key_file: str | None = None
    # The name sent in SNI and checked in the certificate; by default the URL's host (or the
    # Host header when one is given).
    server_name: str | None = Field(default=None, min_length=1, max_length=253)
    tls_expiry_warn: Duration = Field(default=21 * 86400.0, ge=0)
    # A body longer than this (after decoding) fails the probe (blackbox: body_size_limit).
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    basic_auth: BasicAuth | None = None
    bearer_token: SecretStr | None = None
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None
    # An http:// proxy (CONNECT for https targets); user:password@ in it authenticates.
    proxy_url: str | None = None

    _bearer: SecretStr | None = PrivateAttr(default=None)
    _body_bytes: bytes | None = PrivateAttr(default=None)
    _request: HttpRequest | None = PrivateAttr(default=None)

    _check_env = field_validator("bearer_token_env")(secrets.check_env)
    _check_file = field_validator("bearer_token_file")(secrets.check_file)
    _regexes = field_validator("fail_if_body_matches", "fail_if_body_not_matches")(
        lambda patterns: [_check_regex(p) for p in patterns]
    )

    @field_validator("expect_status")
    @classmethod
    def _status_range(cls, codes: list[int]) -> list[int]:
        for code in codes:
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100-599)")
        return codes

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"proxy_url must be an http:// URL with a host, not {url!r}")
        return url

    @model_validator(mode="after")
    def _combined(self) -> Self:
        if self.body is not None and self.body_file is not None:
            raise ValueError("give the request body once: body or body_file")
        if self.fail_if_ssl and self.fail_if_not_ssl:
            raise ValueError("fail_if_ssl and fail_if_not_ssl together fail every probe")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        self._bearer = secrets.resolve(
            self.bearer_token, self.bearer_token_env, self.bearer_token_file
        )
        if self._bearer is not None and self.basic_auth is not None:
            raise ValueError("give basic_auth or a bearer token, not both")
        names = {k.lower() for k in self.headers}
        if (self._bearer is not None or self.basic_auth is not None) and "authorization" in names:
            raise ValueError("an Authorization header and basic_auth/bearer_token together")
        if self.compression is not None and "accept-encoding" in names:
            accepted = next(v for k, v in self.headers.items() if k.lower() == "accept-encoding")
            if not _accepts(accepted, self.compression):
                raise ValueError(
                    f"headers Accept-Encoding {accepted!r} does not accept compression "
                    f"{self.compression!r}"
                )
        if self.body_file is not None:
            try:
                self._body_bytes = read_regular_file(self.body_file, 1 << 20)
            except FileRefused as exc:
                raise ValueError(f"body_file: {exc}") from None
        elif self.body is not None:
            self._body_bytes = self.body.encode()
        self._request = self._plan_request()
        return self

    def _plan_request(self) -> HttpRequest:
        """What every probe of this target sends, worked out once at load."""
        headers: dict[str, str] | None = None
        names = {k.lower(): v for k, v in self.headers.items()}
        if self.headers or self.compression is not None or self.basic_auth or self._bearer:
            headers = dict(self.headers)
            if self.compression is not None and "accept-encoding" not in names:
                headers["Accept-Encoding"] = self.compression
            if self._bearer is not None:
                headers["Authorization"] = "Bearer " + self._bearer.get_secret_value()
            elif self.basic_auth is not None:
                pair = f"{self.basic_auth.username}:{self.basic_auth.password_secret}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        # SNI and the name checked: server_name, else a Host header (as blackbox), else the
        # URL's host (None here).
        server_name = self.server_name
        host = names.get("host")
        if server_name is None and host is not None:
            server_name = host if host.endswith("]") else host.rsplit(":", 1)[0]
        keep_text = bool(
            self.body_contains
            or self.body_absent
            or self.fail_if_body_matches
            or self.fail_if_body_not_matches
            or self.body_json
        )
        return HttpRequest(headers, self._body_bytes, server_name, keep_text)

    @property
    def bearer_secret(self) -> SecretStr | None:
        return self._bearer

    @property
    def request_body(self) -> bytes | None:
        """The request body, from ``body`` or ``body_file``."""
        return self._body_bytes

    @property
    def request(self) -> HttpRequest:
        """The request every probe sends (headers with the secrets in them: never shown)."""
        request = self._request
        assert request is not None  # set by the model validator
        return request


def _accepts(accept_encoding: str, coding: str) -> bool:
    """Whether an Accept-Encoding value admits ``coding`` (q > 0), "*" included."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if name.strip().lower() in (coding, "*") and quality > 0:
            return True
    return False


DnsType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA"]


def _check_regexes(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        _regex_setting(pattern)
    return patterns


class DnsRecordChecks(BaseModel):
    """blackbox_exporter's ``validate_answer_rrs`` (and authority, additional): regular
    expressions searched in each record's zone-file text ("name\tttl\tclass\ttype\trdata",
    the text blackbox's regexes are written for)."""

    model_config = SETTINGS_CONFIG

    fail_if_matches_regexp: list[str] = Field(default_factory=list, max_length=32)
    fail_if_all_match_regexp: list[str] = Field(default_factory=list, max_length=32)
    fail_if_not_matches_regexp: list[str] = Field(default_factory=list, max_length=32)
    fail_if_none_matches_regexp: list[str] = Field(default_factory=list, max_length=32)

    _regexes = field_validator(
        "fail_if_matches_regexp",
        "fail_if_all_match_regexp",
        "fail_if_not_matches_regexp",
        "fail_if_none_matches_regexp",
    )(_check_regexes)

    @property
    def empty(self) -> bool:
        return not (
            self.fail_if_matches_regexp
            or self.fail_if_all_match_regexp
            or self.fail_if_not_matches_regexp
            or self.fail_if_none_matches_regexp
        )


class DnsOptions(_Strict, IpChoice):
    query: str = Field(min_length=1, max_length=253)
    type: DnsType = "A"
    # CH: the CHAOS class (version.bind, hostname.bind, id.server TXT queries).
    query_class: Literal["IN", "CH"] = "IN"
    validate_answer_rrs: DnsRecordChecks = Field(default_factory=DnsRecordChecks)
    validate_authority_rrs: DnsRecordChecks = Field(default_factory=DnsRecordChecks)
    validate_additional_rrs: DnsRecordChecks = Field(default_factory=DnsRecordChecks)
    # With type SOA: the zone's other servers; each is asked the same question and its serial
    # compared with the target's (probe_dns_serial_difference{server}).
    secondaries: list[str] = Field(default_factory=list, max_length=16)
    source_ip_address: str | None = None

    _source = field_validator("source_ip_address")(_check_ip)
    # Expected answers as their text form ("198.51.100.80", "mail.example. ", ...): the answer
    # set must equal this set. Empty: any answer with the expected rcode succeeds.
    expect: list[str] = Field(default_factory=list)
    expect_rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"
    port: int = Field(default=53, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    recursion_desired: bool = True

    @field_validator("secondaries")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not host or len(host) > 253 or any(c.isspace() for c in host):
                raise ValueError(f"{host!r} is not a host name or an IP address")
        return hosts

    @model_validator(mode="after")
    def _secondaries_need_soa(self) -> DnsOptions:
        if self.secondaries and self.type != "SOA":
            raise ValueError(f"secondaries compare SOA serials: type must be SOA, not {self.type}")
        return self


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class TcpStep(BaseModel):
    """One step of ``tcp.query_response``, as blackbox_exporter's: read lines until one
    matches ``expect`` (a regular expression), then send ``send`` (``${1}``, ``${name}``: the
    match's groups), then with ``starttls`` shake hands over TLS on the same connection.
    ``labels`` (name → template with the same groups) become ``probe_expect_info``."""

    model_config = SETTINGS_CONFIG

    expect: str | None = Field(default=None, min_length=1)
    # netmon's: a line matching this while waiting for ``expect`` fails the step at once
    # (a mail server's error reply), instead of waiting for the timeout.
    fail_if_matches: str | None = Field(default=None, min_length=1)
    # The next bytes the server sends, exactly (after expect's line when both are given).
    expect_bytes: str | None = Field(default=None, min_length=1, max_length=4096)
    send: str | None = None
    starttls: bool = False
    labels: dict[str, str] = Field(default_factory=dict, max_length=16)

    _regex = field_validator("expect", "fail_if_matches")(_regex_setting)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        return labels

    @model_validator(mode="after")
    def _does_something(self) -> TcpStep:
        if (
            self.expect is None
            and self.expect_bytes is None
            and self.send is None
            and not self.starttls
        ):
            raise ValueError("a step needs expect, expect_bytes, send or starttls")
        if (self.labels or self.fail_if_matches) and self.expect is None:
            raise ValueError("labels and fail_if_matches go with expect: give expect")
        return self


class TcpOptions(_Strict, IpChoice, TlsVersionBounds):
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    server_name: str | None = None
    # The first line the server sends must contain this (e.g. "220" for SMTP).
    expect_banner: str | None = None
    # blackbox's query_response: a dialogue of expect/send/starttls steps.
    query_response: list[TcpStep] = Field(default_factory=list, max_length=64)
    # A ready dialogue upgrading to TLS (SMTP on 25/587, IMAP on 143, POP3 on 110).
    starttls: Literal["smtp", "imap", "pop3"] | None = None
    source_ip_address: str | None = None

    _source = field_validator("source_ip_address")(_check_ip)

    @model_validator(mode="after")
    def _one_dialogue(self) -> TcpOptions:
        if self.starttls is not None and self.query_response:
            raise ValueError("give starttls or query_response, not both")
        upgrades = sum(step.starttls for step in self.query_response) + (self.starttls is not None)
        if upgrades and self.tls:
            raise ValueError("starttls upgrades a plain connection: tls must be false")
        if upgrades > 1:
            raise ValueError("query_response upgrades to TLS more than once")
        if (self.query_response or self.starttls) and self.expect_banner is not None:
            raise ValueError("expect_banner and a dialogue both read the greeting: give one")
        return self

    @property
    def steps(self) -> tuple[TcpStep, ...]:
        if self.starttls is not None:
            return STARTTLS_DIALOGUES[self.starttls]
        return tuple(self.query_response)


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
    # The codec tried after UTF-8 for labels (ifAlias, ifDescr, sysName, string OIDs): "gbk"
    # for Huawei and H3C descriptions typed in Chinese. Undecodable runs become one U+FFFD.
    label_encoding: str | None = None
    # Let the target's timeout exceed its interval (a 1,300-port chassis polled every 10 s):
    # a poll still running at its next slot makes the scheduler skip that slot, as always.
    timeout_over_interval: bool = False
    # About how many interfaces the agent has: only for `netmon check-config`'s estimate of
    # whether a walk fits in the timeout.
    expected_interfaces: int | None = Field(default=None, ge=1, le=1_000_000)
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

    @field_validator("label_encoding")
    @classmethod
    def _known_codec(cls, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            info = codecs.lookup(name)
        except LookupError:
            raise ValueError(
                f'{name!r} is not a text encoding Python knows (label_encoding; e.g. "gbk", '
                '"gb18030", "big5", "shift_jis", "cp1258")'
            ) from None
        try:
            "".encode(info.name)
        except (LookupError, TypeError):
            raise ValueError(f"{name!r} is not a text encoding (label_encoding)") from None
        return info.name

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


# What a user part may not hold unescaped here (netmon does not %-escape: a number or a name).
_SIP_UNSAFE = re.compile(r"[\s<>\"@;:,?\\]")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def _sip_user(value: str | None) -> str | None:
    if value is not None and _SIP_UNSAFE.search(value):
        raise ValueError(f"{value!r} has characters a SIP URI's user part cannot carry here")
    return value


def _sip_domain(value: str | None) -> str | None:
    if value is None or _HOSTNAME.match(value):
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a host name nor an IP address") from None
    return value


class SipRegister(BaseModel):
    """``sip.register = {...}``: an extension that must be able to register (RFC 3261 §10).

    The probe registers it (answering a 401/407 digest challenge, RFC 2617 / RFC 8760: MD5,
    SHA-256, SHA-512-256) and at once removes the binding again with ``Expires: 0``, so that
    no registration of netmon's is kept (nor steals the extension's calls for long: at most
    ``expires`` seconds if the removal is lost).
    """

    model_config = SETTINGS_CONFIG

    user: str = Field(min_length=1, max_length=128)  # the AOR's user part: "101"
    # The digest username, when it is not ``user`` (some PBXs use an auth id).
    auth_user: str | None = Field(default=None, min_length=1, max_length=128)
    # The AOR's host (and the REGISTER's Request-URI): by default the target's host.
    domain: str | None = Field(default=None, min_length=1, max_length=253)
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: str | None = None
    expires: int = Field(default=60, ge=1, le=3600)

    _password: SecretStr | None = PrivateAttr(default=None)

    _check_env = field_validator("password_env")(secrets.check_env)
    _check_file = field_validator("password_file")(secrets.check_file)

    _check_user = field_validator("user", "auth_user")(_sip_user)
    _check_domain = field_validator("domain")(_sip_domain)

    @model_validator(mode="after")
    def _resolve_password(self) -> SipRegister:
        self._password = secrets.resolve(self.password, self.password_env, self.password_file)
        if self._password is None:
            raise ValueError("register needs a password (password, password_env or password_file)")
        return self

    @property
    def password_secret(self) -> SecretStr:
        assert self._password is not None  # the validator refuses a register without one
        return self._password


class SipOptions(_Strict):
    """``sip = {...}``: a SIP OPTIONS ping (RFC 3261 §11), optionally a REGISTER (probes/sip.py)."""

    transport: Literal["udp", "tcp", "tls"] = "udp"
    # By default 5060 (udp, tcp) or 5061 (tls).
    port: int | None = Field(default=None, ge=1, le=65535)
    # Final responses that count as up; 200 by default. A PBX that challenges OPTIONS (401,
    # 407) or refuses them (403, 405) still shows it is alive: list those codes to accept them.
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    # The Request-URI's user part (a hotline number, or none: the server itself).
    user: str | None = Field(default=None, min_length=1, max_length=128)
    # The Request-URI's and To's host, when the server wants its domain, not its address.
    domain: str | None = Field(default=None, min_length=1, max_length=253)
    tls_verify: bool = True
    ca_file: str | None = None
    server_name: str | None = None
    # The key is ``register`` (an attribute of every pydantic model's metaclass: hence the alias).
    registration: SipRegister | None = Field(default=None, alias="register")

    @field_validator("expect_status")
    @classmethod
    def _final_codes(cls, codes: list[int]) -> list[int]:
        for code in codes:
            if not 200 <= code <= 699:
                raise ValueError(f"{code} is not a final SIP response code (200-699)")
        return codes

    _check_user = field_validator("user")(_sip_user)
    _check_domain = field_validator("domain")(_sip_domain)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 5061 if self.transport == "tls" else 5060


class StreamOptions(_Strict):
    """``stream = {...}``: a live HLS stream or an Icecast/Shoutcast/HTTP audio stream (see
    probes/stream.py). Bitrates are bits per second."""

    address: ClassVar[str] = "url"

    # "auto": HLS when the answer is a playlist (#EXTM3U), audio otherwise.
    protocol: Literal["auto", "hls", "audio"] = "auto"
    # HLS master playlists: "highest" or "lowest" BANDWIDTH, a resolution ("1280x720" or
    # "720p"), else a text found in the variant's NAME attribute or URI.
    variant: str = Field(default="highest", min_length=1, max_length=200)
    min_bitrate: int = Field(default=0, ge=0, le=10**10)
    max_bitrate: int | None = Field(default=None, ge=1, le=10**10)
    # Audio: how long to read the stream (at most the probe's timeout, less a margin).
    listen: Duration = Field(default=3.0, ge=0.5, le=60.0)
    max_playlist_bytes: int = Field(default=256 << 10, ge=1024, le=4 << 20)
    # A bigger segment (or more audio than this in `listen`) is a `bitrate` failure: the
    # download stops there. Nothing of it is kept in memory.
    max_segment_bytes: int = Field(default=64 << 20, ge=64 << 10, le=1 << 30)
    headers: dict[str, str] = Field(default_factory=dict)
    tls_verify: bool = True
    ca_file: str | None = None

    @field_validator("variant")
    @classmethod
    def _variant(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("variant is blank: give highest, lowest, 1280x720, 720p or a name")
        return value.strip()

    @model_validator(mode="after")
    def _bitrate_range(self) -> StreamOptions:
        if self.max_bitrate is not None and self.max_bitrate < self.min_bitrate:
            raise ValueError(
                f"max_bitrate {self.max_bitrate} is below min_bitrate {self.min_bitrate}"
            )
        return self


class HopName(BaseModel):
    """``[[targets.path.hops]]``: a router's display name in path-change messages."""

    model_config = SETTINGS_CONFIG

    address: str
    name: str = Field(min_length=1, max_length=200)

    _address = field_validator("address")(_check_ip)


class PathOptions(_Strict, IpChoice):
    """``path = {...}``: a traceroute (probes/path.py). ICMP echoes with every TTL from 1 to
    ``max_hops``, ``count`` per hop, sent in parallel; the path is learnt, or compared with
    ``expected_path`` (one address per hop, "*" for a hop that may not answer)."""

    # icmp: echoes (traceroute -I, mtr); udp: datagrams to ports from 33434 (traceroute's
    # default), no privilege needed.
    protocol: Literal["icmp", "udp"] = "icmp"
    count: int = Field(default=3, ge=1, le=10)
    max_hops: int = Field(default=30, ge=1, le=64)
    # Between the rounds (one echo per TTL each); replies are awaited ``wait`` after the last.
    spacing: Duration = Field(default=0.05, ge=0.001, le=5.0)
    wait: Duration = Field(default=1.0, ge=0.05, le=30.0)
    payload_size: int = Field(default=32, ge=0, le=1472)
    source_ip_address: str | None = None
    expected_path: list[str] | None = Field(default=None, min_length=1, max_length=64)
    # A learnt path seen within this many runs is known: two load-balanced paths that
    # alternate are both known, not a change every run.
    learn_runs: int = Field(default=10, ge=1, le=1000)
    hops: list[HopName] = Field(default_factory=list)

    _source = field_validator("source_ip_address")(_check_ip)

    @field_validator("expected_path")
    @classmethod
    def _expected(cls, path: list[str] | None) -> list[str] | None:
        if path is None:
            return None
        return [hop if hop == "*" else str(_check_ip(hop)) for hop in path]

    @property
    def hop_names(self) -> dict[str, str]:
        return {hop.address: hop.name for hop in self.hops}


# Every kind the settings accept, and its options model. The probe registry (``PROBES`` in
# ``probes/__init__.py``) has the same keys; a test holds them equal.
OPTIONS: dict[str, type[KindOptions]] = {
    "icmp": IcmpOptions,
    "http": HttpOptions,
    "dns": DnsOptions,
    "tcp": TcpOptions,
    "snmp": SnmpOptions,
    "sip": SipOptions,
    "stream": StreamOptions,
    "web": WebOptions,
    "path": PathOptions,
}


# The dialogues ``tcp.starttls = "smtp" | "imap" | "pop3"`` stands for: greeting, the upgrade,
# then one command over TLS to show the server still answers, and a polite goodbye. Here, after
# the SNMP options, because building the steps runs their regex check (``_check_regex``).
STARTTLS_DIALOGUES: dict[str, tuple[TcpStep, ...]] = {
    "smtp": (
        TcpStep(expect=r"^220 ", fail_if_matches=r"^[45]\d\d ", send="EHLO netmon.invalid"),
        TcpStep(expect=r"^250 ", fail_if_matches=r"^[45]\d\d ", send="STARTTLS"),
        TcpStep(expect=r"^220 ", fail_if_matches=r"^[45]\d\d ", starttls=True),
        TcpStep(send="EHLO netmon.invalid"),
        TcpStep(expect=r"^250 ", fail_if_matches=r"^[45]\d\d ", send="QUIT"),
    ),
    "imap": (
        TcpStep(expect=r"^\* OK", fail_if_matches=r"^\* (BYE|NO|BAD)", send="a1 STARTTLS"),
        TcpStep(expect=r"^a1 OK", fail_if_matches=r"^a1 (NO|BAD)", starttls=True),
        TcpStep(send="a2 CAPABILITY"),
        TcpStep(expect=r"^a2 OK", fail_if_matches=r"^a2 (NO|BAD)", send="a3 LOGOUT"),
    ),
    "pop3": (
        TcpStep(expect=r"^\+OK", fail_if_matches=r"^-ERR", send="STLS"),
        TcpStep(expect=r"^\+OK", fail_if_matches=r"^-ERR", starttls=True),
        TcpStep(send="CAPA"),
        TcpStep(expect=r"^\.$", fail_if_matches=r"^-ERR", send="QUIT"),
    ),
}
