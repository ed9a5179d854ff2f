"""A webhook receiving Alertmanager's webhook JSON (version 4), one message per notification:
one alert, or the alerts a route grouped (``group_wait``), the first one first.

Optional HMAC-SHA256 of the body in ``signature_header`` (``sha256=<hex>``, as GitHub signs),
keyed by the receiver's secret. Annotations ``title``, ``summary``, ``description`` and
``evidence`` are in the receiver's ``language``; labels stay slugs.
``X-Netmon-Notification-Id`` is the outbox id: a message re-sent after a crash carries the same
id, so the receiver can drop the copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from alerts.model import Notification, iso
from alerts.notify.base import NotifyContext, post
from alerts.notify.text import lang_of
from alerts.settings import WebhookReceiver
from monitor.core.i18n import NO_NAMES, DisplayNames, Lang

__all__ = ["WebhookNotifier", "local_annotations", "sign", "webhook_payload"]

_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager sends as endsAt of a firing alert


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def local_annotations(
    annotations: dict[str, str], lang: Lang, target: str | None, names: DisplayNames
) -> dict[str, str]:
    """The alert's annotations with ``title``, ``summary``, ``description`` and ``evidence``
    in the receiver's language, as Prometheus gives them; ``summary_vi``, ``summary_en``, ...
    stay beside them. Labels are never touched: they stay slugs."""
    out = dict(annotations)
    for key in ("summary", "description", "evidence"):
        text = annotations.get(f"{key}_{lang}")
        if text:
            out[key] = text
    if target:
        out["title"] = names.target(target, lang)
    return out


def webhook_payload(
    notification: Notification,
    receiver: str,
    external_url: str,
    lang: Lang = "vi",
    names: DisplayNames = NO_NAMES,
) -> dict[str, Any]:
    alert = notification.alert
    status = "resolved" if notification.kind == "resolved" else "firing"
    annotations = local_annotations(alert.annotations, lang, alert.target, names)
    if notification.kind == "flapping":
        annotations["flapping"] = "true"
    group = {"alertname": alert.rule}
    every = notification.alerts
    common = {k: v for k, v in alert.labels.items() if all(a.labels.get(k) == v for a in every)}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.rule}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [
            {
                "status": status,
                "labels": one.labels,
                "annotations": annotations if one is alert else dict(one.annotations),
                "startsAt": iso(one.starts_at),
                "endsAt": iso(one.ends_at) if status == "resolved" else _ZERO_TIME,
                "generatorURL": one.generator_url,
                "fingerprint": one.key,
            }
            for one in every
        ],
        "netmon": {"notification_id": notification.id, "kind": notification.kind},
    }


class WebhookNotifier:
    max_batch = 1
    stateful = False

    def __init__(self, name: str, settings: WebhookReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx

    async def send(self, batch: Sequence[Notification]) -> None:
        for notification in batch:
            payload = webhook_payload(
                notification,
                self.name,
                self.ctx.external_url,
                lang_of(self.settings.language, self.ctx.language),
                self.ctx.names,
            )
            body = json.dumps(payload, ensure_ascii=False).encode()
            headers = {"X-Netmon-Notification-Id": notification.id}
            secret = self.settings.hmac_secret
            if secret is not None:
                headers[self.settings.signature_header] = sign(
                    secret.get_secret_value().encode(), body
                )
            await post(
                self.ctx.session,
                self.settings.url,
                body,
                what=f"webhook {self.name}",
                timeout=self.settings.timeout,
                headers=headers,
            )

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None
