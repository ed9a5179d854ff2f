"""Telegram's acknowledgement button (issue 12): a firing message carries an inline button,
and this poller reads its presses from the Bot API's ``getUpdates`` (long polling: no public
address needed, which a NOC behind NAT has not) and hands each to the alert engine's ``ack``.

A press counts only from the receiver's own chat and, when ``ack_users`` is set, from one of
those Telegram user ids; who pressed is recorded as ``telegram:<username or name> (<id>)``.
The engine says whether the alert was still firing; the button's answer says so, in the
receiver's language, and the button is taken off a message once it has served. Nothing here
knows the engine: ``Acknowledge`` is the callable the service passes in.

The token is part of every URL: no log line or error here names a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from alerts.settings import TelegramReceiver
from monitor.core.i18n import Lang, message_words
from monitor.core.tasks import stop_task

__all__ = ["CALLBACK_PREFIX", "Acknowledge", "TelegramAcks", "button"]

log = logging.getLogger("netmon.alerts.notify.telegram")

CALLBACK_PREFIX = "ack:"
_POLL = 25  # seconds a getUpdates waits for a press (Telegram's long polling)
_BACKOFF_MAX = 60.0

# (alert key, who) -> None when acknowledged, else why not: "ended" (resolved, or not firing
# yet) or "unknown" (no such alert).
Acknowledge = Callable[[str, str], Awaitable[str | None]]


def button(alert_key: str, lang: Lang) -> dict[str, Any]:
    """The ``reply_markup`` of a firing message: one button that acknowledges its alert."""
    return {
        "inline_keyboard": [
            [
                {
                    "text": message_words(lang)["ack_button"],
                    "callback_data": CALLBACK_PREFIX + alert_key,
                }
            ]
        ]
    }


def _who(user: dict[str, Any]) -> str:
    name = user.get("username") or " ".join(
        str(p) for p in (user.get("first_name"), user.get("last_name")) if p
    )
    return f"telegram:{name or 'user'} ({user.get('id')})"


class TelegramAcks:
    """One receiver's presses, polled until ``aclose``."""

    def __init__(
        self,
        name: str,
        settings: TelegramReceiver,
        session: Callable[[], aiohttp.ClientSession],
        acknowledge: Acknowledge,
        lang: Lang,
    ) -> None:
        self.name = name
        self.settings = settings
        self._session = session
        self._acknowledge = acknowledge
        self._lang = lang
        self._offset = 0
        self._task: asyncio.Task[None] | None = None
        self.presses = 0  # answered presses, acknowledged or not
        self.acknowledged = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"telegram-acks:{self.name}")

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None

    def _url(self, method: str) -> str:
        token = self.settings.token.get_secret_value()
        return f"{self.settings.base_url.rstrip('/')}/bot{token}/{method}"

    async def _call(self, method: str, payload: dict[str, Any], timeout: float) -> Any:  # noqa: ASYNC109
        async with self._session().post(
            self._url(method),
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            answer = await resp.json(content_type=None)
        if not (isinstance(answer, dict) and answer.get("ok") is True):
            code = answer.get("error_code") if isinstance(answer, dict) else resp.status
            raise RuntimeError(f"{method} answered {code}")
        return answer.get("result")

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                updates = await self._call(
                    "getUpdates",
                    {
                        "offset": self._offset,
                        "timeout": _POLL,
                        "allowed_updates": ["callback_query"],
                    },
                    timeout=_POLL + 10,
                )
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bot API unreachable or refusing: try again later
                log.warning("telegram %s: getUpdates failed (%s)", self.name, _safe(exc))
                await asyncio.sleep(backoff)
                backoff = min(_BACKOFF_MAX, backoff * 2)
                continue
            for update in updates if isinstance(updates, list) else []:
                if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                    self._offset = max(self._offset, update["update_id"] + 1)
                    press = update.get("callback_query")
                    if isinstance(press, dict):
                        await self._press(press)

    async def _press(self, press: dict[str, Any]) -> None:
        words = message_words(self._lang)
        data = press.get("data")
        user: dict[str, Any] = _table(press.get("from"))
        message: dict[str, Any] = _table(press.get("message"))
        chat = _table(message.get("chat")).get("id")
        answer: str
        done = False
        if not isinstance(data, str) or not data.startswith(CALLBACK_PREFIX):
            return  # some other bot's button: not ours to answer
        if str(chat) != str(self.settings.chat_id):
            answer = words["ack_wrong_chat"]
        elif self.settings.ack_users and user.get("id") not in self.settings.ack_users:
            answer = words["ack_not_allowed"]
        else:
            key = data.removeprefix(CALLBACK_PREFIX)
            refused = await self._acknowledge(key, _who(user))
            done = refused is None
            answer = (
                words["ack_done"] if done else words.get(f"ack_{refused}", words["ack_refused"])
            )
        self.presses += 1
        self.acknowledged += done
        with contextlib.suppress(Exception):  # the answer is a courtesy: never fatal
            await self._call(
                "answerCallbackQuery",
                {"callback_query_id": press.get("id"), "text": answer},
                timeout=10,
            )
        if done and message.get("message_id") is not None:
            with contextlib.suppress(Exception):
                await self._call(
                    "editMessageReplyMarkup",
                    {
                        "chat_id": self.settings.chat_id,
                        "message_id": message["message_id"],
                        "reply_markup": {"inline_keyboard": []},
                    },
                    timeout=10,
                )


def _table(value: Any) -> dict[str, Any]:
    """A JSON object of an update, or an empty one: an update is input, not trusted."""
    return value if isinstance(value, dict) else {}


def _safe(exc: BaseException) -> str:
    """An error's words without any URL (the token is in it)."""
    text = str(exc)
    return type(exc).__name__ if "/bot" in text else text or type(exc).__name__
