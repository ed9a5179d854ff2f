"""The log receiver: one line per notification in netmon's own log."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from alerts.model import Notification
from alerts.notify.base import NotifyContext
from alerts.notify.text import build, lang_of, one_line, subject
from alerts.settings import LogReceiver

__all__ = ["LogNotifier"]

log = logging.getLogger("netmon.alerts.notify")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LogNotifier:
    max_batch = 100
    stateful = False

    def __init__(self, name: str, settings: LogReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.level = _LEVELS[settings.level]
        self.settings = settings
        self.ctx = ctx

    async def send(self, batch: Sequence[Notification]) -> None:
        for n in batch:
            # One notification, one log line: a label's line break must not forge another.
            labels = one_line(", ".join(f"{k}={v}" for k, v in sorted(n.alert.labels.items())))
            log.log(
                self.level,
                "alert %s: %s {%s} id=%s",
                self.name,
                subject(
                    build(
                        n,
                        lang_of(self.settings.language, self.ctx.language),
                        self.ctx.zone,
                        self.ctx.names,
                    )
                ),
                labels,
                n.id,
            )

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None
