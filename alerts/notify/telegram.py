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
from alerts.notify.telegram_acks import button
from alerts.notify.text import build, lang_of
from alerts.settings import TelegramReceiver
from monitor.core.i18n import Lang

__all__ = ["TelegramNotifier", "message"]

_ICON = {"firing": "🔴", "resolved": "✅", "flapping": "🟡"}
_SEVERITY_ICON = {"warning": "🟠", "info": "🔵", "none": "⚪"}
_LIMIT = 4096  # Telegram's message length limit
_HEAD_MAX = 512  # the subject's share when the text is too long (escaped, in UTF-16 units)
_LINKS_MAX = 1024  # the links' share
_MORE = "…"


def _units(text: str) -> int:
    # Telegram counts UTF-16 code units: an emoji is two. Never fewer than len(text).
    return len(text.encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return html.escape(text, quote=False)  # only <, > and & must be entities


def _shorten(text: str, budget: int) -> str:
    """The start of ``text`` whose escaped form, with "…", fits ``budget``: ended at a line
    or word end when one is in its second half. Cut before escaping, so never inside an
    entity or a tag."""
    if _units(_escape(text)) <= budget:
        return text
    room = budget - _units(_MORE)
    used = end = 0
    for i, char in enumerate(text):
        used += _units(_escape(char))
        if used > room:
            break
        end = i + 1
    cut = text[:end]
    for boundary in ("\n", " "):
        at = cut.rfind(boundary)
        if at >= end // 2:
            cut = cut[:at]
            break
    return cut.rstrip() + _MORE


def _render(icon: str, head: str, rest: str, links: str) -> str:
    text = f"{icon} <b>{_escape(head)}</b>\n{_escape(rest)}"
    return text + "\n" + _escape(links) if links else text


def message(notification: Notification, ctx: NotifyContext, lang: Lang = "vi") -> str:
    """The Bot API's HTML: the first line in bold, the facts, the description, the codes,
    then the links (the runbook, the target's page) as plain URLs, which Telegram links."""
    built = build(notification, lang, ctx.zone, ctx.names)
    icon = _ICON[notification.kind]
    if notification.kind == "firing":
        icon = _SEVERITY_ICON.get(built.severity, icon)
    head = built.head
    rest_lines = [f"{label}: {value}" for label, value in built.facts]
    if built.note:
        rest_lines += ["", built.note]
    rest_lines += ["", built.codes]
    rest = "\n".join(rest_lines)
    links = "\n".join(f"{label}: {url}" for label, url in built.links)
    text = _render(icon, head, rest, links)
    if _units(text) <= _LIMIT:
        return text
    # Too long: the head and the body are shortened, the links are kept whole at the end.
    tail = _shorten(links, _LINKS_MAX)
    head = _shorten(head, _HEAD_MAX)
    budget = _LIMIT - _units(_render(icon, head, "", tail))
    return _render(icon, head, _shorten(rest, budget), tail)


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
            lang = lang_of(self.settings.language, self.ctx.language)
            payload: dict[str, Any] = {
                "chat_id": self.settings.chat_id,
                "text": message(notification, self.ctx, lang),
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            }
            if self.settings.acknowledge and notification.kind == "firing":
                payload["reply_markup"] = button(notification.alert.key, lang)
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
