"""``[grafana]`` and ``[prometheus]``: where the dashboards go and how Prometheus sees netmon.

``[grafana]`` is read by ``netmon grafana build|push``; ``[prometheus]`` by
``netmon prometheus config`` (scrape config and rules) and by the label-enforcing query proxy
(``monitor/promproxy.py``), which forwards to ``prometheus.url``.

Secrets (the Grafana token or password, each operator's netmon token) may be given inline, as
``*_env`` or as ``*_file``, and are resolved only when ``netmon grafana push`` needs them, so
that ``netmon run`` on the monitoring host needs none of them. They never appear in output.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from monitor.core.durations import Duration
from monitor.core.settings_model import SettingsModel

__all__ = [
    "GrafanaOperator",
    "GrafanaSettings",
    "NetmonInstance",
    "PrometheusRules",
    "PrometheusSettings",
    "SecretMissing",
    "prom_duration",
]

_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SHARD = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")
_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")


def _uid(value: str) -> str:
    if not _UID.match(value):
        raise ValueError(f"{value!r} is not a Grafana uid: 1 to 40 of [A-Za-z0-9_-]")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: give the base URL, without a query or fragment")
    return value.rstrip("/")


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise ValueError(f"{value!r} is not a valid name ([a-z0-9-], at most 63)")
    return value


def _host_port(value: str) -> str:
    match = _HOSTPORT.match(value)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError(f'{value!r} is not host:port, e.g. "127.0.0.1:9108"')
    return value


Uid = Annotated[str, AfterValidator(_uid)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
HostPort = Annotated[str, AfterValidator(_host_port)]


class SecretMissing(ValueError):
    """A secret that ``netmon grafana push`` needs is not given, or cannot be read."""


def _secret(
    key: str, inline: SecretStr | None, env: str | None, file: str | None
) -> SecretStr | None:
    """The secret given as ``key``, ``key_env`` or ``key_file``; errors name the key only."""
    if env is not None:
        if env not in os.environ:
            raise SecretMissing(f"{key}_env: environment variable {env} is not set")
        return SecretStr(os.environ[env])
    if file is not None:
        try:
            return SecretStr(Path(file).read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise SecretMissing(f"{key}_file: cannot read {file}: {reason}") from None
    return inline


def _once(model: BaseModel, *keys: str) -> None:
    for key in keys:
        given = [k for k in (key, f"{key}_env", f"{key}_file") if getattr(model, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give `{key}` once: inline, as {key}_env, or as {key}_file")


# --------------------------------------------------------------------------- [grafana]


class GrafanaOperator(SettingsModel):
    """One telecom operator: a team, a folder with View only, a datasource on the proxy."""

    # The name of its [[access.tokens]] entry (role operator): the proxy enforces that scope.
    name: LabelValue
    title: str = ""  # shown in Grafana ("Viettel"); the name when empty
    # The operator's netmon bearer token, which its Grafana datasource sends to the proxy.
    token: SecretStr | None = None
    token_env: str | None = None
    token_file: str | None = None
    # A Grafana organisation of its own (see README: in Grafana OSS a Viewer can query every
    # datasource of its organisation). None: the organisation of [grafana] org_id.
    org_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _secrets_once(self) -> GrafanaOperator:
        _once(self, "token")
        return self

    @property
    def display(self) -> str:
        return self.title or self.name

    def token_secret(self, where: str) -> SecretStr:
        secret = _secret(f"{where}.token", self.token, self.token_env, self.token_file)
        if secret is None:
            raise SecretMissing(f"{where}: give the operator's token (token_env or token_file)")
        return secret


class GrafanaSettings(SettingsModel):
    url: HttpUrl = "http://127.0.0.1:3000"
    # A service account token (one organisation) or a user and password (several).
    token: SecretStr | None = None
    token_env: str | None = None
    token_file: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: str | None = None
    org_id: int = Field(default=1, ge=1)
    timeout: Duration = Field(default=10.0, ge=0.1, le=300)
    # The NOC's folder and datasource.
    folder_uid: Uid = "netmon"
    folder: str = Field(default="Giám sát mạng (netmon)", min_length=1)
    # When set, only this team (and admins) sees the NOC folder; Viewers at large do not.
    noc_team: str | None = None
    datasource_uid: Uid = "netmon-prometheus"
    datasource_name: str = Field(default="netmon Prometheus", min_length=1)
    # Prometheus as Grafana's server reaches it; default: [prometheus] url.
    prometheus_url: HttpUrl | None = None
    # netmon's label-enforcing proxy as Grafana's server reaches it; default:
    # http://<server.listen>/prometheus.
    proxy_url: HttpUrl | None = None
    # Per operator: {title} and {name} are replaced.
    operator_folder: str = "Nhà mạng {title}"
    operator_team: str = "netmon {title}"
    operators: list[GrafanaOperator] = Field(default_factory=list)
    # The groups the "Venue network" dashboard shows.
    venue_groups: list[LabelValue] = Field(default_factory=lambda: ["venue"], min_length=1)
    refresh: str = "30s"
    time_from: str = "now-6h"
    # Where the provisioning file tells Grafana's server to read the dashboards' JSON from.
    dashboards_path: str = "/var/lib/grafana/dashboards/netmon"

    @model_validator(mode="after")
    def _check(self) -> GrafanaSettings:
        _once(self, "token", "password")
        has_password = any(
            v is not None for v in (self.password, self.password_env, self.password_file)
        )
        if has_password and self.user is None:
            raise ValueError("a password needs `user`")
        names = [o.name for o in self.operators]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"operators: {name!r} is given twice")
        for template in (self.operator_folder, self.operator_team):
            try:
                template.format(title="t", name="n")
            except (KeyError, IndexError, ValueError):
                raise ValueError(
                    f"{template!r}: only {{title}} and {{name}} may be replaced"
                ) from None
        return self

    def auth(self) -> str | tuple[str, str]:
        """The token, or (user, password), for grafana-client; SecretMissing when neither."""
        token = _secret("grafana.token", self.token, self.token_env, self.token_file)
        if token is not None:
            return token.get_secret_value()
        password = _secret("grafana.password", self.password, self.password_env, self.password_file)
        if self.user is not None and password is not None:
            return (self.user, password.get_secret_value())
        raise SecretMissing(
            "grafana: give a token (token, token_env or token_file) or user and password"
        )


# --------------------------------------------------------------------------- [prometheus]


class NetmonInstance(SettingsModel):
    """One netmon that Prometheus scrapes: its address, its vantage point, its shard."""

    address: HostPort
    location: LabelValue = "local"
    shard: str | None = None  # "2/4": the second of four shards at this location

    @model_validator(mode="after")
    def _shard(self) -> NetmonInstance:
        if self.shard is not None:
            match = _SHARD.match(self.shard)
            if not match or int(match.group(1)) > int(match.group(2)):
                raise ValueError(f'shard {self.shard!r} is not "k/n" with 1 <= k <= n')
        return self


class PrometheusRules(SettingsModel):
    """Thresholds of the generated alerting rules (netmon's own health and the quorum)."""

    scrape_down_for: Duration = Field(default=120.0, ge=0, le=86400)
    scheduler_lag: Duration = Field(default=5.0, gt=0, le=3600)  # p99 of how late probes start
    scheduler_lag_for: Duration = Field(default=300.0, ge=0, le=86400)
    outbox_pending: int = Field(default=100, ge=1)
    outbox_for: Duration = Field(default=900.0, ge=0, le=86400)
    # netmon's own Watchdog rule fires at this severity (alerts' shipped rule set: "none").
    watchdog_severity: Literal["critical", "warning", "info", "none"] = "none"
    watchdog_for: Duration = Field(default=300.0, ge=0, le=86400)
    reload_failed_for: Duration = Field(default=300.0, ge=0, le=86400)
    # A target is down for the NOC when at least `quorum` locations see it down.
    quorum: int = Field(default=2, ge=2, le=100)
    quorum_for: Duration = Field(default=60.0, ge=0, le=86400)


class PrometheusSettings(SettingsModel):
    # Where the query proxy forwards to (and, by default, Grafana's NOC datasource).
    url: HttpUrl = "http://127.0.0.1:9090"
    timeout: Duration = Field(default=30.0, ge=0.1, le=600)  # of one forwarded query
    job: str = Field(default="netmon", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    scrape_interval: Duration = Field(default=15.0, ge=1, le=3600)
    scrape_timeout: Duration | None = Field(default=None, ge=0.1, le=3600)
    evaluation_interval: Duration = Field(default=15.0, ge=1, le=3600)
    # The 1h and 1d availability groups need not run as often as the 5m one.
    slow_evaluation_interval: Duration = Field(default=60.0, ge=1, le=86400)
    # The netmons to scrape; none: the one at [server] listen, location "local".
    netmons: list[NetmonInstance] = Field(default_factory=list)
    # A file holding the bearer token Prometheus sends to /metrics ([access] metrics = "token").
    credentials_file: str | None = None
    alertmanagers: list[HostPort] = Field(default_factory=list)
    rules: PrometheusRules = Field(default_factory=PrometheusRules)

    @model_validator(mode="after")
    def _check(self) -> PrometheusSettings:
        if self.scrape_timeout is not None and self.scrape_timeout > self.scrape_interval:
            raise ValueError("scrape_timeout is longer than scrape_interval")
        seen: set[tuple[str, str, str | None]] = set()
        for n, inst in enumerate(self.netmons):
            key = (inst.address, inst.location, inst.shard)
            if key in seen:
                raise ValueError(f"netmons[{n}]: {inst.address} at {inst.location} is given twice")
            seen.add(key)
        return self


def prom_duration(seconds: float) -> str:
    """A Prometheus duration ("15s", "1m", "1500ms"): integers of one unit only."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
