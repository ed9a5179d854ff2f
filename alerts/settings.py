"""Alert settings: ``[alerts]`` with rules, receivers, routes, maintenance windows and knobs.

The keys are a contract (DESIGN.md, "Alerts")::

    [[alerts.rules]]            name, match, expr, unless, failures | for, recoveries, severity,
                                summary {vi, en}, description {vi, en}, runbook_url,
                                phases {<phase>: {severity, failures | for, receivers}},
                                receivers, traps {fire, resolve}, enabled
    [alerts.receivers.NAME]     type = alertmanager | webhook | email | telegram | log, and its keys
    [[alerts.routes]]           match, receivers, group_by, group_wait
    [[alerts.routes.escalate]]  after, receivers, phases
    [[alerts.inhibit]]          source_match, target_match, equal
    [[alerts.maintenance]]      name, match, start, end, comment
    [alerts.flapping]           window, high, low, recovery_margin, settle
    [alerts.delivery]           max_age, backoff_initial, backoff_max

A rule named like a shipped one (``alerts/rules_default.py``) overrides only the keys it gives;
``enabled = false`` switches it off. Pydantic checks each key; ``alerts.rules.check_rules``
(run by the settings loader) checks what needs the whole settings (phase and receiver names,
template fields, conditions), every issue naming its key path (``alerts.rules[2].expr: ...``).
Secrets (``password``, ``bot_token``, ``secret``: inline, ``*_env`` or ``*_file``) never appear
in errors, logs or API answers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    PrivateAttr,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from alerts.model import MaintenanceWindow, Matcher
from monitor.core import secrets
from monitor.core.durations import Duration
from monitor.core.settings_model import SettingsModel

__all__ = [
    "AlertmanagerReceiver",
    "AlertsSettings",
    "DeliverySettings",
    "EmailReceiver",
    "EscalationStep",
    "FlappingSettings",
    "InhibitSettings",
    "LocalText",
    "LogReceiver",
    "MaintenanceWindow",
    "PhaseOverride",
    "ReceiverSettings",
    "RouteSettings",
    "RuleSettings",
    "TelegramReceiver",
    "TrapSettings",
    "WebhookReceiver",
]

Severity = Literal["critical", "warning", "info", "none"]
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info", "none")
_RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_RECEIVER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")


def _check_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("is not an http:// or https:// URL")
    return url


HttpUrl = Annotated[str, AfterValidator(_check_url)]


class LocalText(SettingsModel):
    """A text in Vietnamese and English; either may be left out (the other stands in)."""

    vi: str | None = None
    en: str | None = None

    @model_validator(mode="after")
    def _one(self) -> LocalText:
        if self.vi is None and self.en is None:
            raise ValueError("give vi, en or both")
        return self

    def get(self, language: str) -> str:
        first, second = (self.en, self.vi) if language == "en" else (self.vi, self.en)
        return first if first is not None else (second or "")


class PhaseOverride(SettingsModel):
    severity: Severity | None = None
    failures: int | None = Field(default=None, ge=1, le=10000)
    for_: Duration | None = Field(default=None, alias="for", ge=0, le=30 * 86400)
    receivers: list[str] | None = None

    @model_validator(mode="after")
    def _failures_or_for(self) -> PhaseOverride:
        if self.failures is not None and self.for_ is not None:
            raise ValueError("give failures or for, not both")
        return self


class TrapSettings(SettingsModel):
    """Target events (SNMP traps) that act on the rule at once, without waiting for a poll."""

    fire: list[str] = Field(default_factory=list)
    resolve: list[str] = Field(default_factory=list)


class RuleSettings(SettingsModel):
    name: str
    enabled: bool = True
    match: Matcher | None = None
    expr: str | None = None
    unless: str | None = None
    failures: int | None = Field(default=None, ge=1, le=10000)
    for_: Duration | None = Field(default=None, alias="for", ge=0, le=30 * 86400)
    recoveries: int | None = Field(default=None, ge=1, le=10000)
    severity: Severity | None = None
    summary: LocalText | None = None
    description: LocalText | None = None
    runbook_url: HttpUrl | None = None
    phases: dict[str, PhaseOverride] | None = None
    receivers: list[str] | None = None
    traps: TrapSettings | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _RULE_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a rule name: a letter, then letters, digits or _ (TargetDown)"
            )
        return name

    @model_validator(mode="after")
    def _failures_or_for(self) -> RuleSettings:
        if self.failures is not None and self.for_ is not None:
            raise ValueError("give failures or for, not both")
        return self

    def given(self) -> dict[str, Any]:
        """The keys this table sets (by field name), for overriding a shipped rule."""
        return {k: getattr(self, k) for k in self.model_fields_set}


# ------------------------------------------------------------------ receivers


class _Receiver(SettingsModel):
    # How long a firing alert waits before it is paged again while it still fires.
    repeat_interval: Duration = Field(default=4 * 3600.0, ge=60, le=30 * 86400)
    timeout: Duration = Field(default=10.0, ge=0.1, le=300)


class AlertmanagerReceiver(_Receiver):
    type: Literal["alertmanager"]
    urls: list[HttpUrl] = Field(min_length=1)
    # Firing alerts are re-sent this often, with endsAt 4 intervals ahead, as Prometheus does.
    resend_interval: Duration = Field(default=60.0, ge=1, le=3600)


class WebhookReceiver(_Receiver):
    type: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    signature_header: str = "X-Netmon-Signature"

    _secret: SecretStr | None = PrivateAttr(default=None)
    _check_env = field_validator("secret_env")(secrets.check_env)
    _check_file = field_validator("secret_file")(secrets.check_file)

    @model_validator(mode="after")
    def _resolve(self) -> WebhookReceiver:
        self._secret = secrets.resolve(self.secret, self.secret_env, self.secret_file)
        return self

    @property
    def hmac_secret(self) -> SecretStr | None:
        return self._secret


class EmailReceiver(_Receiver):
    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    tls_verify: bool = True
    ca_file: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: str | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    _password: SecretStr | None = PrivateAttr(default=None)
    _check_env = field_validator("password_env")(secrets.check_env)
    _check_file = field_validator("password_file", "ca_file")(secrets.check_file)

    @field_validator("to")
    @classmethod
    def _addresses(cls, to: list[str]) -> list[str]:
        for address in to:
            if not re.match(r"^[^@\s]+@[^@\s]+$", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return to

    @model_validator(mode="after")
    def _resolve(self) -> EmailReceiver:
        self._password = secrets.resolve(self.password, self.password_env, self.password_file)
        if self.tls and self.starttls:
            raise ValueError("tls (implicit, port 465) and starttls exclude each other")
        if self._password is not None and self.user is None:
            raise ValueError("a password needs `user`")
        return self

    @property
    def password_secret(self) -> SecretStr | None:
        return self._password


class TelegramReceiver(_Receiver):
    type: Literal["telegram"]
    bot_token: SecretStr | None = None
    bot_token_env: str | None = None
    bot_token_file: str | None = None
    chat_id: str | int  # a number, or "@channelname"
    base_url: HttpUrl = "https://api.telegram.org"

    _token: SecretStr | None = PrivateAttr(default=None)
    _check_env = field_validator("bot_token_env")(secrets.check_env)
    _check_file = field_validator("bot_token_file")(secrets.check_file)

    @model_validator(mode="after")
    def _resolve(self) -> TelegramReceiver:
        self._token = secrets.resolve(self.bot_token, self.bot_token_env, self.bot_token_file)
        if self._token is None:
            raise ValueError("needs a bot token (bot_token, bot_token_env or bot_token_file)")
        return self

    @property
    def token(self) -> SecretStr:
        assert self._token is not None
        return self._token


class LogReceiver(_Receiver):
    type: Literal["log"]
    level: Literal["info", "warning", "error"] = "warning"


_RECEIVER_TYPES = ("alertmanager", "webhook", "email", "telegram", "log")


def _receiver_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # The tag carries "[": the settings' key-path printer leaves such location parts out, so
    # errors read alerts.receivers.noc.urls, not alerts.receivers.noc.alertmanager.urls.
    return f"{kind}[type]" if kind in _RECEIVER_TYPES else None


ReceiverSettings = Annotated[
    Annotated[AlertmanagerReceiver, Tag("alertmanager[type]")]
    | Annotated[WebhookReceiver, Tag("webhook[type]")]
    | Annotated[EmailReceiver, Tag("email[type]")]
    | Annotated[TelegramReceiver, Tag("telegram[type]")]
    | Annotated[LogReceiver, Tag("log[type]")],
    Discriminator(
        _receiver_tag,
        custom_error_type="receiver_unknown",
        custom_error_message="`type` must be one of: " + ", ".join(_RECEIVER_TYPES),
    ),
]


class EscalationStep(SettingsModel):
    """``[[alerts.routes.escalate]]``: an alert of the route still firing, unacknowledged,
    ``after`` its first page also goes to ``receivers``; with ``phases``, only while one of
    them is current (a shorter step for the congress beside a longer one for every day)."""

    after: Duration = Field(ge=0, le=30 * 86400)
    receivers: list[str] = Field(min_length=1)
    phases: list[str] | None = None


class RouteSettings(SettingsModel):
    match: Matcher = Field(default_factory=dict)  # over the alert's labels; empty: every alert
    receivers: list[str] = Field(min_length=1)
    # Direct receivers (not Alertmanager, which groups itself): alerts with the same values of
    # `group_by` that start within `group_wait` of the first go out as one message.
    group_by: list[str] = Field(default_factory=lambda: ["target"])
    group_wait: Duration = Field(default=0.0, ge=0, le=3600)
    escalate: list[EscalationStep] = Field(default_factory=list)


class InhibitSettings(SettingsModel):
    """``[[alerts.inhibit]]``, Alertmanager's inhibit rule: a pending or firing alert matching
    ``source_match`` mutes the alerts matching ``target_match`` that have the same values of
    the ``equal`` labels (an alert never mutes itself)."""

    source_match: Matcher
    target_match: Matcher
    equal: list[str] = Field(default_factory=lambda: ["target"])

    @model_validator(mode="after")
    def _not_everything(self) -> InhibitSettings:
        if not self.source_match or not self.target_match:
            raise ValueError("source_match and target_match need at least one label each")
        return self


class FlappingSettings(SettingsModel):
    # As Icinga: the share of state changes among the last `window` results.
    window: int = Field(default=20, ge=4, le=200)
    high: float = Field(default=0.30, gt=0, le=1)
    low: float = Field(default=0.25, gt=0, le=1)
    # Hysteresis: a firing alert on a threshold (>, >=, <, <=) recovers only when its value is
    # this share of the threshold past it (loss > 0.2 recovers at <= 0.18; with 5 echoes a
    # probe's loss is a multiple of 0.2, so only a probe without loss counts as good) ...
    recovery_margin: float = Field(default=0.1, ge=0, le=1)
    # ... and has stayed so this long: random loss about the threshold keeps one alert firing
    # (shown as flapping) instead of paging again and again; its end comes this much later.
    settle: Duration = Field(default=120.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _order(self) -> FlappingSettings:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class DeliverySettings(SettingsModel):
    max_age: Duration = Field(default=24 * 3600.0, ge=10, le=30 * 86400)
    backoff_initial: Duration = Field(default=1.0, ge=0.01, le=3600)
    backoff_max: Duration = Field(default=300.0, ge=0.1, le=86400)


class AlertsSettings(SettingsModel):
    shipped_rules: bool = True
    rules: list[RuleSettings] = Field(default_factory=list)
    receivers: dict[str, ReceiverSettings] = Field(default_factory=dict)
    routes: list[RouteSettings] = Field(default_factory=list)
    inhibit: list[InhibitSettings] = Field(default_factory=list)
    shipped_inhibit: bool = True  # the shipped inhibit rules (alerts/rules_default.py)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    flapping: FlappingSettings = Field(default_factory=FlappingSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    # The status page as the on-call engineer reaches it: alerts link to it (generatorURL).
    external_url: HttpUrl | None = None

    @field_validator("receivers")
    @classmethod
    def _receiver_names(cls, receivers: dict[str, Any]) -> dict[str, Any]:
        for name in receivers:
            if not _RECEIVER_NAME.match(name):
                raise ValueError(f"receiver name {name!r} is not [a-z0-9_-]")
        return receivers
