"""The settings models: strict pydantic, unknown keys refused, bounds checked.

Loading (TOML, includes, cross-checks, errors naming their key path) is ``monitor.config.load``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.settings import AlertsSettings
from grafana.settings import GrafanaSettings, PrometheusSettings
from monitor.config.access import AccessSettings
from monitor.config.report import ReportSettings
from monitor.config.traps import TrapSettings
from monitor.core.durations import Duration
from monitor.core.i18n import DisplayNames, LocalName
from monitor.core.settings_model import SettingsModel
from probes.base import KindOptions
from probes.options import (
    OPTIONS,
    DnsOptions,
    HopName,
    HttpOptions,
    IcmpOptions,
    PathOptions,
    SipOptions,
    SnmpOptions,
    StreamOptions,
    TcpOptions,
    WebOptions,
)

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_NAME_RE = re.compile(NAME_PATTERN)


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lowercase letters, digits and '-' "
            "([a-z0-9-], at most 63, not starting or ending with '-')"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]

# A display name: what people read instead of a slug ("Đường truyền Viettel - Hội trường").
# One text for both languages, or a table {vi, en} (either may be left out). No control
# characters: a name reaches e-mail headers and log lines.
_TITLE_MAX = 200
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_title(value: str) -> str:
    if not value.strip():
        raise ValueError("a title may not be empty")
    if len(value) > _TITLE_MAX:
        raise ValueError(f"a title is at most {_TITLE_MAX} characters")
    if _CONTROL.search(value):
        raise ValueError("a title may not hold line breaks or other control characters")
    return value


TitleText = Annotated[str, AfterValidator(_check_title)]


class LocalTitle(SettingsModel):
    """A display name per language: ``{ vi = "Hội trường", en = "Congress hall" }``."""

    vi: TitleText | None = None
    en: TitleText | None = None

    @model_validator(mode="after")
    def _one(self) -> LocalTitle:
        if self.vi is None and self.en is None:
            raise ValueError("give vi, en or both")
        return self


Title = TitleText | LocalTitle


def local_name(title: Title) -> LocalName:
    """A title as i18n's per-language table (the other language stands in for a missing one)."""
    if isinstance(title, str):
        return {"vi": title, "en": title}
    vi = title.vi if title.vi is not None else title.en
    en = title.en if title.en is not None else title.vi
    assert vi is not None and en is not None
    return {"vi": vi, "en": en}


LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels netmon itself puts on series; a target's own labels may not shadow them.
RESERVED_LABELS = frozenset(
    {
        "target",
        "kind",
        "group",
        "reason",
        "phase",
        "stat",
        "direction",
        "location",
        "le",
        "job",
        "instance",
        "severity",
        "alertname",
        "receiver",
        "outcome",
    }
)


_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*")


class ServerSettings(SettingsModel):
    listen: str = "127.0.0.1:9108"
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: the client is the rightmost address not in this list.
    # From anyone else those headers are ignored.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=64)
    # Host names this netmon answers to (421 for any other Host header, against DNS
    # rebinding); IP addresses and "localhost" are always accepted.
    hostnames: list[str] = Field(default_factory=list, max_length=64)
    state_dir: str = "var"
    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] = "vi"
    # This netmon's vantage point when several probe the same targets (shown in /healthz;
    # Prometheus adds it as the `location` label from its scrape config).
    location: Name | None = None
    # The status page as people reach it (behind a proxy: its public address). Messages link
    # to {external_url}/targets/NAME; without it, to http://{listen}/.
    external_url: str | None = None

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(f"{value!r} is not an http:// or https:// URL without a query")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an address or a network") from None
        return values

    @field_validator("hostnames")
    @classmethod
    def _hostnames(cls, values: list[str]) -> list[str]:
        names = [v.lower().rstrip(".") for v in values]
        for name in names:
            if not _HOSTNAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a host name, e.g. netmon.example.vn")
        return names

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    # Slow clients (issue 13): a connection gets header_timeout to send its first request's
    # headers and idle_timeout between requests; web connections are capped in total and per
    # client address so the probes keep file descriptors (None: from the fd limit, see
    # monitor/web/app.py ConnectionLimits).
    header_timeout: Duration = Field(default=10.0, ge=0.1, le=300)
    idle_timeout: Duration = Field(default=60.0, ge=0.1, le=3600)
    max_connections: int | None = Field(default=None, ge=1, le=1_000_000)
    max_connections_per_client: int = Field(default=64, ge=1, le=1_000_000)


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9108"`` or ``"[::1]:9108"`` → (host, port); ValueError otherwise."""
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f'{value!r} is not host:port, e.g. "127.0.0.1:9108"')
    return host, int(port_text)


class DefaultsSettings(SettingsModel):
    interval: Duration = Field(default=30.0, ge=0.1, le=86400)
    timeout: Duration = Field(default=5.0, ge=0.01, le=3600)


class SchedulerSettings(SettingsModel):
    # Probes in flight at once, per kind (default 1000 for a kind not named) and per host.
    max_in_flight: dict[str, int] = Field(default_factory=dict)
    max_in_flight_per_host: int = Field(default=8, ge=1, le=10000)

    @field_validator("max_in_flight")
    @classmethod
    def _kinds(cls, limits: dict[str, int]) -> dict[str, int]:
        for kind, limit in limits.items():
            if kind not in OPTIONS:
                raise ValueError(
                    f"unknown kind {kind!r}; known kinds: {', '.join(sorted(OPTIONS))}"
                )
            if not 1 <= limit <= 100000:
                raise ValueError(f"{kind}: {limit} is not between 1 and 100000")
        return limits

    def limit_for(self, kind: str) -> int:
        return self.max_in_flight.get(kind, 1000)


# Phase times, once in UTC, lie in these years: TOML allows 0001 to 9999 with offsets up to
# ±23:59, and a date at either end overflows when netmon shows it in local time.
PHASE_YEARS = (2000, 2100)


def _within_years(value: datetime) -> datetime:
    first, last = PHASE_YEARS
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = value.year  # only at the very ends of the calendar: out of bounds either way
    if not first <= year <= last:
        raise ValueError(f"{value.isoformat()} is not between the years {first} and {last} (UTC)")
    return value


PhaseTime = Annotated[AwareDatetime, AfterValidator(_within_years)]


class Phase(SettingsModel):
    name: Name
    title: str = ""
    start: PhaseTime
    end: PhaseTime
    interval: Duration | None = Field(default=None, ge=0.1, le=86400)
    # Groups whose probe interval the phase shortens; empty: every target.
    groups: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end


class Target(SettingsModel):
    name: Name
    title: Title | None = None  # the display name; the slug `name` stays the key
    kind: str
    host: str | None = None
    url: str | None = None
    group: Name = "other"
    labels: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    interval: Duration | None = Field(default=None, ge=0.1, le=86400)
    timeout: Duration | None = Field(default=None, ge=0.01, le=3600)
    icmp: IcmpOptions | None = None
    http: HttpOptions | None = None
    dns: DnsOptions | None = None
    tcp: TcpOptions | None = None
    snmp: SnmpOptions | None = None
    sip: SipOptions | None = None
    stream: StreamOptions | None = None
    web: WebOptions | None = None
    path: PathOptions | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in OPTIONS:
            raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(OPTIONS))}")
        return kind

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if not LABEL_NAME.match(key):
                raise ValueError(f"label name {key!r} is not [a-zA-Z_][a-zA-Z0-9_]*")
            if key in RESERVED_LABELS:
                raise ValueError(f"label name {key!r} is reserved by netmon")
        return labels

    @field_validator("host")
    @classmethod
    def _host(cls, host: str | None) -> str | None:
        if host is None:
            return None
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if len(host) > 253 or not re.fullmatch(
            r"(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?",
            host,
        ):
            raise ValueError(f"{host!r} is neither an IP address nor a host name")
        return host

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        written = url
        bare = not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url)
        if bare:  # host[:port][/path] is http://, as blackbox_exporter takes it
            url = "http://" + url
        try:
            parts = urlsplit(url)
            port = parts.port  # raises on a bad port
        except ValueError as exc:
            raise ValueError(f"{written!r} is not a valid URL: {exc}") from None
        # A mistyped scheme ("htps//host", "https:/host") is not a bare host.
        typo = bare and (parts.path.startswith("//") or parts.netloc.endswith(":"))
        if parts.scheme not in ("http", "https") or not parts.hostname or typo:
            raise ValueError(f"{written!r} is not an http:// or https:// URL with a host")
        del port
        return parts.scheme + url[len(parts.scheme) :]  # HTTPS:// as https://

    @model_validator(mode="after")
    def _kind_options(self) -> Target:
        if self.kind not in OPTIONS:
            return self  # already reported on `kind`
        for other in OPTIONS:
            if other != self.kind and getattr(self, other) is not None:
                raise ValueError(f"`{other}` options given, but kind is {self.kind!r}")
        model = OPTIONS[self.kind]
        if model.address == "url":
            if self.url is None:
                raise ValueError(f"kind {self.kind!r} needs `url`")
            if self.host is not None:
                raise ValueError(f"kind {self.kind!r} takes `url`, not `host`")
        else:
            if self.host is None:
                raise ValueError(f"kind {self.kind!r} needs `host`")
            if self.url is not None:
                raise ValueError(f"kind {self.kind!r} takes `host`, not `url`")
        if getattr(self, self.kind) is None:
            # Options with no required field get their defaults; others must be given.
            try:
                object.__setattr__(self, self.kind, model())
            except ValidationError:
                raise ValueError(f"kind {self.kind!r} needs its `{self.kind}` options") from None
        return self

    @property
    def options(self) -> KindOptions:
        opts: KindOptions = getattr(self, self.kind)
        return opts

    @property
    def address(self) -> str:
        """What the probe reaches: the url for http, the host otherwise."""
        return self.url if self.url is not None else (self.host or "")


def shard_of(name: str, count: int) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"netmon-shard").digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → (2, 4); ValueError naming the form otherwise."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"--shard {text!r}: write INDEX/COUNT with 1 <= INDEX <= COUNT, e.g. 2/4")
    return int(index), int(count)


def _check_names(names: dict[str, dict[str, Title]]) -> dict[str, dict[str, Title]]:
    for key in names:
        if not LABEL_NAME.match(key):
            raise ValueError(f"{key!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if key in RESERVED_LABELS and key not in ("group", "kind"):
            raise ValueError(
                f"{key!r}: names are given for group, kind and the targets' own labels "
                "(carrier, site, ...); a target's own name is its `title`"
            )
    return names


class Settings(SettingsModel):
    server: ServerSettings = Field(default_factory=ServerSettings)
    defaults: DefaultsSettings = Field(default_factory=DefaultsSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    phases: list[Phase] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    traps: TrapSettings = Field(default_factory=TrapSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    # Display names of label values: [names.carrier] viettel = "Viettel",
    # [names.site] hoi-truong = "Hội trường 10-3", [names.group] carrier = "Nhà mạng".
    names: Annotated[dict[str, dict[str, Title]], AfterValidator(_check_names)] = Field(
        default_factory=dict
    )
    # Routers' display names for the path probe's messages: [[hops]] address, name
    # ("VNPT BRAS Buôn Ma Thuột"); a target's own path.hops add to them and win.
    hops: list[HopName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hop_names(self) -> Settings:
        if self.hops:
            for target in self.targets:
                if target.path is not None:
                    merged = [*self.hops, *target.path.hops]
                    object.__setattr__(
                        target, "path", target.path.model_copy(update={"hops": merged})
                    )
        return self

    @cached_property
    def display_names(self) -> DisplayNames:
        """Targets' titles and the [names] table, as the pages, messages, report and
        dashboards read them (monitor.core.i18n.DisplayNames)."""
        labels = {
            key: {value: local_name(title) for value, title in values.items()}
            for key, values in self.names.items()
        }
        # The `phase` label's values are the phases' names: their titles say them.
        labels["phase"] = {p.name: local_name(p.title) for p in self.phases if p.title.strip()}
        return DisplayNames(
            targets={t.name: local_name(t.title) for t in self.targets if t.title is not None},
            labels=labels,
        )

    @property
    def status_url(self) -> str:
        """The status page's base URL, ending in "/": ``[server] external_url``, else the
        older ``[alerts] external_url``, else ``http://{listen}/``."""
        url = self.server.external_url or self.alerts.external_url
        if url is None:
            host, port = split_listen(self.server.listen)
            host = f"[{host}]" if ":" in host else host
            url = f"http://{host}:{port}/"
        return url if url.endswith("/") else url + "/"

    def for_shard(self, index: int, count: int) -> Settings:
        """Only the targets of shard ``index`` (1-based) of ``count``, by a stable hash of the
        target name, so every netmon of a sharded set agrees without talking to the others."""
        if count == 1:
            return self
        keep = [t for t in self.targets if shard_of(t.name, count) == index - 1]
        return self.model_copy(update={"targets": keep})

    def current_phase(self, now: datetime) -> Phase | None:
        for phase in self.phases:
            if phase.contains(now):
                return phase
        return None

    def interval_for(self, target: Target, phase: Phase | None) -> float:
        interval = target.interval if target.interval is not None else self.defaults.interval
        applies = phase is not None and (not phase.groups or target.group in phase.groups)
        if applies and phase is not None and phase.interval is not None:
            interval = min(interval, phase.interval)
        return interval

    def timeout_for(self, target: Target, interval: float) -> float:
        timeout = target.timeout if target.timeout is not None else self.defaults.timeout
        if target.snmp is not None and target.snmp.timeout_over_interval:
            return timeout  # a long walk may overrun: the scheduler skips the slots it covers
        return min(timeout, interval)
