"""Alert settings: ``[alerts]`` with rules, receivers, routes, maintenance windows and knobs.

The keys are a contract (DESIGN.md, "Alerts")::

    [[alerts.rules]]            name, match, expr, unless, recover, failures | for, recoveries,
                                severity,
                                summary {vi, en}, description {vi, en}, runbook_url,
                                phases {<phase>: {severity, failures | for, receivers}},
                                receivers, traps {fire, resolve}, enabled
    [alerts.receivers.NAME]     type = alertmanager | webhook | email | telegram | log | zalo |
                                http, and its keys
    [[alerts.routes]]           match, receivers, group_by, group_wait
    [[alerts.routes.escalate]]  after, receivers, phases
    [[alerts.inhibit]]          source_match, target_match, equal
    [[alerts.maintenance]]      name, match, start, end, comment, author
    max_maintenance             the longest window the API and the pages accept ("7d")
    [alerts.flapping]           window, high, low, recovery_margin, settle
    [alerts.delivery]           max_age, backoff_initial, backoff_max

A rule named like a shipped one (``alerts/rules_default.py``) overrides only the keys it gives;
``enabled = false`` switches it off. Pydantic checks each key; ``alerts.rules.check_rules``
(run by the settings loader) checks what needs the whole settings (phase and receiver names,
template fields, conditions), every issue naming its key path (``alerts.rules[2].expr: ...``).
Secrets (``password``, ``bot_token``, ``secret``, Zalo's tokens and app secret, an ``http``
receiver's ``secrets``: inline, ``*_env`` or ``*_file``) never appear in errors, logs or API
answers.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    PrivateAttr,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.model import MaintenanceWindow, Matcher
from monitor.core import secrets
from monitor.core.durations import Duration
from monitor.core.settings_model import SettingsModel

__all__ = [
    "HTTP_FIELDS",
    "AlertmanagerReceiver",
    "AlertsSettings",
    "DeliverySettings",
    "EmailReceiver",
    "EscalationStep",
    "FlappingSettings",
    "HttpReceiver",
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
    "ZaloReceiver",
    "http_sample",
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
    # Zabbix's recovery expression: once active, the alert lasts until this holds (recoveries
    # times in a row), whether or not ``expr`` still does.
    recover: str | None = None
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
    # The one language of this receiver's messages; unset: [server] language ("vi"). The
    # Alertmanager receiver carries both (summary_vi, summary_en, ...) whatever this says.
    language: Literal["vi", "en"] | None = None


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
    # A button on firing messages that acknowledges the alert, its presses read with
    # getUpdates (alerts/notify/telegram_acks.py); ack_users: the Telegram user ids allowed
    # (empty: anyone in the chat).
    acknowledge: bool = False
    ack_users: list[int] = Field(default_factory=list, max_length=1000)

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


class ZaloReceiver(_Receiver):
    """A Zalo Official Account sending a text (``v3.0/oa/message/cs``) to each follower in
    ``user_ids``. The access token expires (about 25 h); with ``refresh_token``, ``app_id`` and
    ``app_secret`` netmon refreshes it (``oauth.zaloapp.com/v4/oa/access_token``) and keeps the
    rotated pair under ``state_dir`` (alerts/notify/zalo.py)."""

    type: Literal["zalo"]
    user_ids: list[str] = Field(min_length=1, max_length=100)
    access_token: SecretStr | None = None
    access_token_env: str | None = None
    access_token_file: str | None = None
    refresh_token: SecretStr | None = None
    refresh_token_env: str | None = None
    refresh_token_file: str | None = None
    app_id: str | None = None
    app_secret: SecretStr | None = None
    app_secret_env: str | None = None
    app_secret_file: str | None = None
    api_url: HttpUrl = "https://openapi.zalo.me"
    oauth_url: HttpUrl = "https://oauth.zaloapp.com"

    _access: SecretStr | None = PrivateAttr(default=None)
    _refresh: SecretStr | None = PrivateAttr(default=None)
    _app_secret: SecretStr | None = PrivateAttr(default=None)
    _check_env = field_validator("access_token_env", "refresh_token_env", "app_secret_env")(
        secrets.check_env
    )
    _check_file = field_validator("access_token_file", "refresh_token_file", "app_secret_file")(
        secrets.check_file
    )

    @field_validator("user_ids")
    @classmethod
    def _user_ids(cls, user_ids: list[str]) -> list[str]:
        for user_id in user_ids:
            if not re.fullmatch(r"[0-9]{1,32}", user_id):
                raise ValueError(f"{user_id!r} is not a Zalo user id (digits, as a string)")
        return user_ids

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, app_id: str | None) -> str | None:
        if app_id is not None and not re.fullmatch(r"[0-9]{1,32}", app_id):
            raise ValueError("is not a Zalo app id (digits, as a string)")
        return app_id

    @model_validator(mode="after")
    def _resolve(self) -> ZaloReceiver:
        self._access = secrets.resolve(
            self.access_token, self.access_token_env, self.access_token_file
        )
        self._refresh = secrets.resolve(
            self.refresh_token, self.refresh_token_env, self.refresh_token_file
        )
        self._app_secret = secrets.resolve(
            self.app_secret, self.app_secret_env, self.app_secret_file
        )
        if self._access is None and self._refresh is None:
            raise ValueError(
                "needs an access token (access_token, _env or _file), a refresh token, or both"
            )
        if self._refresh is not None and (self.app_id is None or self._app_secret is None):
            raise ValueError("a refresh token needs `app_id` and the app secret (app_secret_env)")
        return self

    @property
    def access(self) -> SecretStr | None:
        return self._access

    @property
    def refresh(self) -> SecretStr | None:
        return self._refresh

    @property
    def secret_key(self) -> SecretStr | None:
        return self._app_secret


# The fields an http receiver's templates may use (alerts/notify/http_request.py fills them;
# a test holds the two lists equal). ``http_sample`` fills them with values that break careless
# templates (quotes, backslashes, line breaks, markup) to check the templates at load.
HTTP_FIELDS = (
    "id",  # the notification's id: the same on a re-send, for de-duplication
    "kind",  # firing | resolved | flapping
    "status",  # firing | resolved
    "rule",
    "target",  # "" for an alert of no target (the Watchdog)
    "severity",
    "value",
    "labels",
    "annotations",
    "summary",  # in the receiver's language
    "description",
    "subject",  # one line: [CẢNH BÁO][warning] TargetDown: ...
    "line",  # the subject with control characters made spaces: for an SMS
    "text",  # the whole message, several lines
    "starts_at",  # RFC 3339 UTC
    "ends_at",  # RFC 3339 UTC, "" while firing
    "url",  # the alert on the status page
    "receiver",
    "language",
    "params",  # the receiver's own `params` table
    "secrets",  # the receiver's secrets, by name
)
_NASTY = 'Trạm "Buôn Ma Thuột" \\ 1\n2\r</b> & \u2028{{ x }}\t'
_TARGET = "venue-viettel-uplink"
_NASTY_LINE = 'Trạm "Buôn Ma Thuột" \\ </b> & {{ x }}'  # no control character
_SECRET_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
_TEMPLATE_URL = re.compile(r"^https?://[^/\s{}%?#]+(?:[/?#]|$)")


class _AnyKey(dict[str, Any]):
    """Labels of the sample alert: every name answers, as some alert's labels will."""

    def __missing__(self, key: str) -> str:
        return _NASTY_LINE


def http_sample(
    kind: str, secret_names: list[str] | None, params: dict[str, Any]
) -> dict[str, Any]:
    """Values for every field of ``HTTP_FIELDS``; ``secret_names`` None: any name answers."""
    # A target's name is a slug (settings); every other value may hold anything.
    labels = _AnyKey(alertname="TargetDown", target=_TARGET, severity="warning", group=_NASTY)
    names = secret_names or []
    secret_values: dict[str, str] = (
        _AnyKey() if secret_names is None else {n: _NASTY_LINE for n in names}
    )
    return {
        "id": "0123456789abcdef0123456789abcdef",
        "kind": kind,
        "status": "resolved" if kind == "resolved" else "firing",
        "rule": "TargetDown",
        "target": _TARGET,
        "severity": "warning",
        "value": 0.0,
        "labels": labels,
        "annotations": _AnyKey(summary=_NASTY),
        "summary": _NASTY,
        "description": _NASTY,
        "subject": _NASTY,
        "line": _NASTY_LINE,
        "text": "\n".join([_NASTY] * 4),
        "starts_at": "2025-10-14T01:03:12Z",
        "ends_at": "2025-10-14T02:03:12Z" if kind == "resolved" else "",
        "url": 'http://127.0.0.1:9108/targets/x?a=1&b="2"',
        "receiver": "sample",
        "language": "vi",
        "params": params,
        "secrets": secret_values,
    }


def _sandbox() -> ModuleType:
    # jinja2 is imported only when an http receiver is configured: every other settings load
    # goes without it (the config-light contract of .importlinter, tests/test_layers.py), yet a
    # template that cannot work is a settings error naming its key, not a dead letter later.
    return importlib.import_module("monitor.core.sandbox")


ParamValue = str | int | float | bool | list[str] | list[int]


class HttpReceiver(_Receiver):
    """A templated HTTP request per notification (an SMS gateway's API, a ticket system).

    ``url``, the ``headers``' values and ``body`` are jinja2 templates over ``HTTP_FIELDS``
    (monitor/core/sandbox.py: sandboxed, each expression escaped for where it lands).
    ``secrets`` / ``secrets_env`` / ``secrets_file`` name the secrets the templates use as
    ``{{ secrets.NAME }}``. ``expect_status`` lists the answers that mean delivered (any 2xx
    when not given); a refusal (4xx) is a dead letter with the answer's text, 5xx, 408, 429 and
    timeouts are retried."""

    type: Literal["http"]
    method: Literal["POST", "PUT", "GET"] = "POST"
    content_type: str = "application/json"
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    secrets_env: dict[str, str] = Field(default_factory=dict)
    secrets_file: dict[str, str] = Field(default_factory=dict)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, min_length=1
    )

    _secrets: dict[str, SecretStr] = PrivateAttr(default_factory=dict)

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        if not re.fullmatch(r"[\w.+-]+/[\w.+-]+(?:\s*;[ -~]*)?", value):
            raise ValueError("is not a media type (application/json)")
        return value

    @field_validator("secrets", "secrets_env", "secrets_file")
    @classmethod
    def _secret_names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        for name, item in value.items():
            if not _SECRET_NAME.match(name):
                raise ValueError(f"secret name {name!r} is not [a-z_][a-z0-9_]*")
            if info.field_name == "secrets_env":
                secrets.check_env(item)
            elif info.field_name == "secrets_file":
                secrets.check_file(item)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, url: str, info: ValidationInfo) -> str:
        if not _TEMPLATE_URL.match(url):
            raise ValueError(
                "is not an http:// or https:// URL with its host written out "
                "(templates may fill its path and query)"
            )
        _check_template(url, "url", info)
        return url

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            try:
                _check_template(value, "header", info)
            except ValueError as exc:
                raise ValueError(f"header {name!r}: {exc}") from None
        return headers

    @field_validator("body")
    @classmethod
    def _body(cls, body: str | None, info: ValidationInfo) -> str | None:
        if body is not None:
            if info.data.get("method") == "GET":
                raise ValueError("a GET request has no body: put the values in the url")
            _check_template(body, "body", info)
        return body

    @model_validator(mode="after")
    def _resolve(self) -> HttpReceiver:
        given = [*self.secrets, *self.secrets_env, *self.secrets_file]
        twice = sorted({n for n in given if given.count(n) > 1})
        if twice:
            raise ValueError(f"secret {twice[0]!r} is given twice: once in secrets, _env or _file")
        resolved: dict[str, SecretStr] = dict(self.secrets)
        for name, var in self.secrets_env.items():
            found = secrets.resolve(None, var, None)
            assert found is not None
            resolved[name] = found
        for name, path in self.secrets_file.items():
            found = secrets.resolve(None, None, path)
            assert found is not None
            resolved[name] = found
        self._secrets = resolved
        return self

    @property
    def secret_values(self) -> dict[str, SecretStr]:
        return self._secrets


def _check_template(source: str, part: str, info: ValidationInfo) -> None:
    """Compile ``source`` and render it with the sample alert of every kind."""
    sandbox = _sandbox()
    content_type = info.data.get("content_type", "application/json")
    template = sandbox.compile_template(source, part, content_type)
    groups = ("secrets", "secrets_env", "secrets_file")
    names: list[str] | None = None
    if all(g in info.data for g in groups):  # else one failed: its own error says why
        names = [n for g in groups for n in info.data[g]]
    for kind in ("firing", "resolved", "flapping"):
        sample = http_sample(kind, names, info.data.get("params", {}))
        sandbox.render(template, part, content_type, sample)


class LogReceiver(_Receiver):
    type: Literal["log"]
    level: Literal["info", "warning", "error"] = "warning"


_RECEIVER_TYPES = ("alertmanager", "webhook", "email", "telegram", "log", "zalo", "http")


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
    | Annotated[LogReceiver, Tag("log[type]")]
    | Annotated[ZaloReceiver, Tag("zalo[type]")]
    | Annotated[HttpReceiver, Tag("http[type]")],
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
    # The longest window the API and the pages accept: a slip of the year must not mute a
    # carrier for months (the settings' own windows are not bound by it).
    max_maintenance: Duration = Field(default=7 * 86400.0, ge=60, le=366 * 86400)
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
