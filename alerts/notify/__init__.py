"""Receivers: one module per type, one ``Notifier`` protocol, one registry.

``NOTIFIERS`` maps a receiver ``type`` from settings to the class that delivers to it; the
dispatcher (alerts/dispatch.py) knows nothing else about receivers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notifier, NotifyContext, NotifyError
from alerts.notify.email import EmailNotifier
from alerts.notify.http_request import HttpNotifier
from alerts.notify.log import LogNotifier
from alerts.notify.telegram import TelegramNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.notify.zalo import ZaloNotifier

__all__ = ["NOTIFIERS", "Notifier", "NotifyContext", "NotifyError", "make_notifier"]

NOTIFIERS: dict[str, Callable[[str, Any, NotifyContext], Notifier]] = {
    "alertmanager": AlertmanagerNotifier,
    "webhook": WebhookNotifier,
    "email": EmailNotifier,
    "telegram": TelegramNotifier,
    "log": LogNotifier,
    "zalo": ZaloNotifier,
    "http": HttpNotifier,
}


def make_notifier(name: str, settings: Any, ctx: NotifyContext) -> Notifier:
    return NOTIFIERS[settings.type](name, settings, ctx)
