"""Telegram: the bot API's ``sendMessage`` at ``{base_url}/bot<token>/sendMessage``.

The base URL is configurable (a local Bot API server, or the tests' stand-in). The token is
part of the URL, so no error message here ever carries the URL.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from alerts.model import Notification
from alerts.notify.base import NotifyContext, NotifyError, post
from alerts.notify.text import body, subject
from alerts.settings import TelegramReceiver

__all__ = ["TelegramNotifier", "message"]

_ICON = {"firing": "🔴", "resolved": "✅", "flapping": "🟠"}
_LIMIT = 4096  # Telegram's message length limit


def message(notification: Notification, ctx: NotifyContext) -> str:
    head = f"{_ICON[notification.kind]} <b>{html.escape(subject(notification, 'vi'))}</b>"
    rest = body(notification, ctx.zone).split("\n", 2)[-1]  # the subject is the head already
    text = head + "\n" + html.escape(rest)
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"


class TelegramNotifier:
    max_batch = 1
    stateful = False

    def __init__(self, name: str, settings: TelegramReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx

    async def send(self, batch: Sequence[Notification]) -> None:
        token = self.settings.token.get_secret_value()
        url = f"{self.settings.base_url.rstrip('/')}/bot{token}/sendMessage"
        for notification in batch:
            payload = {
                "chat_id": self.settings.chat_id,
                "text": message(notification, self.ctx),
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            }
            try:
                text = await post(
                    self.ctx.session,
                    url,
                    json.dumps(payload, ensure_ascii=False).encode(),
                    what=f"telegram {self.name}",
                    timeout=self.settings.timeout,
                )
            except NotifyError as exc:
                # A 429 says how long to wait in its JSON: {"parameters": {"retry_after": 5}}.
                if exc.retry_after is None:
                    exc.retry_after = _retry_after(exc.body)
                raise
            try:
                answer = json.loads(text)
            except ValueError:
                raise NotifyError(
                    f"telegram {self.name}: answer is not JSON", retryable=True
                ) from None
            if not (isinstance(answer, dict) and answer.get("ok") is True):
                raise NotifyError(f"telegram {self.name}: not ok", retryable=False)

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None


def _retry_after(text: str) -> float | None:
    try:
        answer = json.loads(text)
        value = answer["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None
