"""The ``http`` receiver: one templated request per notification (an SMS gateway's JSON API, a
ticket system, a chat that is not Telegram).

``url``, the headers' values and ``body`` are jinja2 templates over the fields of
``alerts.settings.HTTP_FIELDS``, rendered in the sandbox of monitor/core/sandbox.py (escaping
as the part and the content type need; JSON bodies put values through ``| tojson``). The
settings compiled and tried them on a sample alert at load; a template that still fails on a
real alert (a label that alert lacks) is a dead letter naming the part, never a retry loop.

Answers: ``expect_status`` (any 2xx when not given) is delivered; 5xx, 408, 425, 429 and
timeouts are retried with backoff (``Retry-After`` honoured); anything else is a refusal, a
dead letter with the start of the answer's text. No error names the URL (a key may be in its
query) or a secret's value: every secret is replaced by ``***`` in what is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from alerts.model import Notification, iso
from alerts.notify.base import NotifyContext, NotifyError, request
from alerts.notify.text import build, lang_of, one_line, plain, subject
from alerts.settings import HTTP_FIELDS, HttpReceiver
from monitor.core import sandbox

__all__ = ["HttpNotifier", "fields"]


def fields(
    notification: Notification, receiver: HttpReceiver, name: str, ctx: NotifyContext
) -> dict[str, Any]:
    """The values of ``HTTP_FIELDS`` for one notification."""
    alert = notification.alert
    language = lang_of(receiver.language, ctx.language)
    annotations = alert.annotations
    message = build(notification, language, ctx.zone, ctx.names)
    head = subject(message)
    values: dict[str, Any] = {
        "id": notification.id,
        "kind": notification.kind,
        "status": alert.status,
        "rule": alert.rule,
        "target": alert.target or "",
        "severity": alert.labels.get("severity", ""),
        "value": alert.value if math.isfinite(alert.value) else None,  # NaN is not JSON
        "labels": dict(alert.labels),
        "annotations": dict(annotations),
        "summary": annotations.get(f"summary_{language}") or annotations.get("summary", ""),
        "description": annotations.get(f"description_{language}", ""),
        "subject": head,
        "line": one_line(head),
        "text": plain(message).rstrip("\n"),
        "starts_at": iso(alert.starts_at),
        "ends_at": iso(alert.ends_at) if alert.status == "resolved" else "",
        "url": alert.generator_url,
        "receiver": name,
        "language": language,
        "params": receiver.params,
        "secrets": {k: v.get_secret_value() for k, v in receiver.secret_values.items()},
    }
    assert tuple(values) == HTTP_FIELDS
    return values


class HttpNotifier:
    max_batch = 1
    stateful = False

    def __init__(self, name: str, settings: HttpReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        kind = settings.content_type
        self._url = sandbox.compile_template(settings.url, "url", kind)
        self._headers = {
            k: sandbox.compile_template(v, "header", kind) for k, v in settings.headers.items()
        }
        self._body = (
            sandbox.compile_template(settings.body, "body", kind)
            if settings.body is not None
            else None
        )
        expected = settings.expect_status
        self._expect = (
            (lambda status: status in expected)
            if expected is not None
            else (lambda status: 200 <= status < 300)
        )
        self._secrets = sorted(
            (v.get_secret_value() for v in settings.secret_values.values()), key=len, reverse=True
        )

    def _render(self, template: Any, part: sandbox.Part, values: dict[str, Any], what: str) -> str:
        try:
            return sandbox.render(template, part, self.settings.content_type, values)
        except sandbox.TemplateFailed as exc:
            raise NotifyError(f"http {self.name}: {what}: {exc}", retryable=False) from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    async def send(self, batch: Sequence[Notification]) -> None:
        for notification in batch:
            values = fields(notification, self.settings, self.name, self.ctx)
            url = self._render(self._url, "url", values, "url")
            data = None
            if self._body is not None:
                data = self._render(self._body, "body", values, "body").encode()
            given = {k.lower() for k in self._headers}
            headers = {
                k: v
                for k, v in (
                    ("Content-Type", self.settings.content_type if data is not None else ""),
                    ("X-Netmon-Notification-Id", notification.id),
                )
                if v and k.lower() not in given
            }
            for key, template in self._headers.items():
                headers[key] = self._render(template, "header", values, f"header {key}")
            try:
                await request(
                    self.ctx.session,
                    self.settings.method,
                    url,
                    data,
                    what=f"http {self.name}",
                    timeout=self.settings.timeout,
                    headers=headers,
                    expect=self._expect,
                )
            except NotifyError as exc:
                raise NotifyError(
                    one_line(self._scrub(str(exc))),
                    retryable=exc.retryable,
                    retry_after=exc.retry_after,
                    body=self._scrub(exc.body),
                ) from None

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None
