"""Alertmanager, API v2: ``POST /api/v2/alerts`` to every URL of the cluster.

As Prometheus does: a firing alert carries ``endsAt`` four resend intervals ahead and is re-sent
every interval while it fires (``keepalive``), so Alertmanager resolves it by itself if netmon
stops; a resolved alert is sent with its real ``endsAt``. A label change (a phase switch) also
ends the old label set. Delivery counts when at least one member of the cluster accepted it:
they gossip, and the next keepalive reaches the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

from alerts.model import AlertSnapshot, Notification, iso
from alerts.notify.base import NotifyContext, NotifyError, post
from alerts.settings import AlertmanagerReceiver

__all__ = ["AlertmanagerNotifier"]


class AlertmanagerNotifier:
    max_batch = 500
    stateful = True

    def __init__(self, name: str, settings: AlertmanagerReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._urls = [u.rstrip("/") + "/api/v2/alerts" for u in settings.urls]

    def _alert(self, alert: AlertSnapshot, *, firing: bool, flapping: bool) -> dict[str, Any]:
        now = time.time()
        annotations = dict(alert.annotations)
        if flapping:
            annotations["flapping"] = "true"
        ends = now + 4 * self.settings.resend_interval if firing else (alert.ends_at or now)
        return {
            "labels": alert.labels,
            "annotations": annotations,
            "startsAt": iso(alert.starts_at),
            "endsAt": iso(ends),
            "generatorURL": alert.generator_url or self.ctx.external_url,
        }

    def payload(self, batch: Sequence[Notification]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for n in batch:
            if n.previous_labels and n.previous_labels != n.alert.labels:
                old = dataclasses.replace(n.alert, labels=n.previous_labels, ends_at=n.created)
                out.append(self._alert(old, firing=False, flapping=False))
            out.append(
                self._alert(n.alert, firing=n.kind != "resolved", flapping=n.kind == "flapping")
            )
        return out

    async def _post_all(self, alerts: list[dict[str, Any]]) -> None:
        body = json.dumps(alerts, ensure_ascii=False).encode()
        results = await asyncio.gather(
            *(
                post(
                    self.ctx.session,
                    url,
                    body,
                    what=f"alertmanager {self.name} #{i + 1}",
                    timeout=self.settings.timeout,
                )
                for i, url in enumerate(self._urls)
            ),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) < len(results):
            return  # at least one member has it
        for error in errors:
            if not isinstance(error, NotifyError):
                raise error
        retryable = any(isinstance(e, NotifyError) and e.retryable for e in errors)
        raise NotifyError("; ".join(str(e) for e in errors), retryable=retryable)

    async def send(self, batch: Sequence[Notification]) -> None:
        await self._post_all(self.payload(batch))

    async def keepalive(self, alerts: Sequence[AlertSnapshot]) -> None:
        if alerts:
            await self._post_all(
                [
                    self._alert(a, firing=True, flapping=a.annotations.get("flapping") == "true")
                    for a in alerts
                ]
            )
