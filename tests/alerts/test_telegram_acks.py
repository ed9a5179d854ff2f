"""The Telegram acknowledgement button: firing messages carry it; presses read back through
getUpdates reach the engine's ``ack`` only from the on-call chat (and its allowed users), are
answered in the receiver's language, and the button is taken off. Against a local stand-in of
the Bot API (the real one is out of reach here), which refuses what Telegram refuses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from alerts.model import AlertSnapshot, Notification
from alerts.notify.base import NotifyContext
from alerts.notify.telegram import TelegramNotifier
from alerts.notify.telegram_acks import TelegramAcks
from alerts.settings import TelegramReceiver
from monitor.core.waiting import wait_for
from tests.support.alerts import running, write_settings
from tests.support.common import free_port

TOKEN = "123:test-token"
CHAT = "-1001000000007"


class BotApi:
    """sendMessage, getUpdates (long polling on a queue), answerCallbackQuery,
    editMessageReplyMarkup; ``fail`` answers 500 to everything."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self.offsets: list[int] = []
        self.updates: list[dict[str, Any]] = []
        self.fail = False
        self._new = asyncio.Event()

    def press(self, data: Any, *, chat: str = CHAT, user: int = 42, uid: int = 0) -> None:
        update_id = len(self.updates) + 1
        press = {
            "id": f"cq{update_id}",
            "from": {"id": user, "username": "ky_su_truc", "first_name": "Ngọc"},
            "message": {"message_id": 900 + update_id, "chat": {"id": int(chat)}},
            "data": data,
        }
        self.updates.append({"update_id": uid or update_id, "callback_query": press})
        self._new.set()

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        if self.fail:
            return web.json_response({"ok": False, "error_code": 500}, status=500)
        body = json.loads(await request.read())
        method = request.match_info["method"]
        if method == "sendMessage":
            self.sent.append(body)
            return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})
        if method == "getUpdates":
            self.offsets.append(body["offset"])
            ready = [u for u in self.updates if u["update_id"] >= body["offset"]]
            if not ready:
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), min(body["timeout"], 0.5))
                ready = [u for u in self.updates if u["update_id"] >= body["offset"]]
            return web.json_response({"ok": True, "result": ready})
        if method == "answerCallbackQuery":
            if len(body.get("text", "")) > 200:  # Telegram's limit
                return web.json_response({"ok": False, "error_code": 400}, status=400)
            self.answers.append(body)
            return web.json_response({"ok": True, "result": True})
        if method == "editMessageReplyMarkup":
            self.edits.append(body)
            return web.json_response({"ok": True, "result": True})
        return web.json_response({"ok": False, "error_code": 404}, status=404)


@pytest.fixture
async def bot() -> AsyncIterator[tuple[BotApi, str]]:
    api = BotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield api, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def receiver(base: str, **more: Any) -> TelegramReceiver:
    return TelegramReceiver.model_validate(
        {
            "type": "telegram",
            "bot_token": TOKEN,
            "chat_id": CHAT,
            "base_url": base,
            "acknowledge": True,
        }
        | more
    )


def firing(key: str = "0123456789abcdef") -> Notification:
    alert = AlertSnapshot(
        key=key,
        rule="TargetDown",
        target="venue-viettel-uplink",
        status="firing",
        labels={
            "alertname": "TargetDown",
            "severity": "critical",
            "target": "venue-viettel-uplink",
        },
        annotations={"summary_vi": "venue-viettel-uplink mất kết nối"},
        starts_at=1796346000.0,
        ends_at=None,
        value=0.0,
    )
    return Notification(id="n1", receiver="truc", kind="firing", alert=alert, created=0.0)


async def test_a_firing_message_carries_the_button(bot: tuple[BotApi, str]) -> None:
    api, base = bot
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="")
    try:
        await TelegramNotifier("truc", receiver(base), ctx).send([firing()])
        await TelegramNotifier("plain", receiver(base, acknowledge=False), ctx).send([firing()])
    finally:
        await ctx.aclose()
    with_button, without = api.sent
    (row,) = with_button["reply_markup"]["inline_keyboard"]
    assert row == [{"text": "✋ Đã nhận, đang xử lý", "callback_data": "ack:0123456789abcdef"}]
    assert len(row[0]["callback_data"].encode()) <= 64  # Telegram's limit for callback_data
    assert "reply_markup" not in without


async def test_presses_reach_the_engine_only_from_the_chat_and_its_users(
    bot: tuple[BotApi, str],
) -> None:
    api, base = bot
    acked: list[tuple[str, str]] = []

    async def acknowledge(key: str, who: str) -> str | None:
        acked.append((key, who))
        return None if key == "0123456789abcdef" else "ended"

    async with aiohttp.ClientSession() as session:
        acks = TelegramAcks(
            "truc", receiver(base, ack_users=[42]), lambda: session, acknowledge, "vi"
        )
        acks.start()
        try:
            api.press("ack:0123456789abcdef")
            await wait_for("the first press answered", lambda: len(api.answers) == 1, 10)
            api.press("ack:0123456789abcdef", chat="-1009999")  # another chat
            api.press("ack:0123456789abcdef", user=7)  # not an allowed user
            api.press("ack:fedcba9876543210")  # an alert that has ended
            api.press({"not": "a string"})  # garbage: not ours, nothing answered
            api.press("something-else")  # another bot's button
            await wait_for("four answers", lambda: len(api.answers) == 4, 10)
            await asyncio.sleep(0.3)
        finally:
            await acks.aclose()
    assert acked == [
        ("0123456789abcdef", "telegram:ky_su_truc (42)"),
        ("fedcba9876543210", "telegram:ky_su_truc (42)"),
    ]
    assert [a["text"] for a in api.answers] == [
        "Đã ghi nhận: bạn đang xử lý cảnh báo này.",
        "Nút này không thuộc nhóm trực của netmon.",
        "Bạn không có quyền xác nhận cảnh báo này.",
        "Cảnh báo này đã kết thúc hoặc chưa phát: không cần xác nhận.",
    ]
    # The button comes off the message it served, and only that one.
    assert api.edits == [
        {"chat_id": CHAT, "message_id": 901, "reply_markup": {"inline_keyboard": []}}
    ]
    assert (acks.presses, acks.acknowledged) == (4, 1)
    # Each update is read once: the offset moved past every one.
    assert max(api.offsets) == len(api.updates) + 1


async def test_a_bot_api_that_fails_is_polled_again_later(
    bot: tuple[BotApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    api, base = bot
    api.fail = True
    acked: list[str] = []

    async def acknowledge(key: str, who: str) -> str | None:
        acked.append(key)
        return None

    async with aiohttp.ClientSession() as session:
        acks = TelegramAcks("truc", receiver(base), lambda: session, acknowledge, "en")
        acks.start()
        try:
            await asyncio.sleep(0.3)
            api.fail = False
            api.press("ack:0123456789abcdef")
            await wait_for("the press once the API is back", lambda: acked, 10)
        finally:
            await acks.aclose()
    assert acked == ["0123456789abcdef"]
    assert "getUpdates failed" in caplog.text and TOKEN not in caplog.text


async def test_a_press_acknowledges_the_alert_in_a_running_netmon(
    bot: tuple[BotApi, str], tmp_path: Path
) -> None:
    """netmon in this process, a target that fails, a Telegram receiver with the button: the
    page carries it, a press from the chat acknowledges the alert in the engine (who, when),
    the press is answered, and a second press says the alert is already handled or ended."""
    api, base = bot
    refused = free_port()  # nothing listens: the TCP target fails at once
    alerts = {
        "receivers": {
            "truc": {
                "type": "telegram",
                "bot_token": TOKEN,
                "chat_id": CHAT,
                "base_url": base,
                "acknowledge": True,
            }
        },
        "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["truc"]}],
        "rules": [{"name": "TargetDown", "failures": 1, "severity": "critical"}],
    }
    target = {
        "name": "cong-thong-tin",
        "kind": "tcp",
        "host": "127.0.0.1",
        "tcp": {"port": refused},
    }
    path = write_settings(tmp_path / "s.toml", [target], alerts)
    async with running(path) as service:
        await wait_for(
            "the page with its button", lambda: any("reply_markup" in m for m in api.sent), 15
        )
        page = next(m for m in api.sent if "reply_markup" in m)
        data = page["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        api.press(data)

        def acked() -> dict[str, Any] | None:
            alert = next(
                (a for a in service.alerts.alerts_json() if a["rule"] == "TargetDown"), None
            )
            return alert["ack"] if alert else None

        ack = await wait_for("the acknowledgement in the engine", acked, 10)
        await wait_for("the press answered", lambda: api.answers, 10)
    assert ack["by"] == "telegram:ky_su_truc (42)"
    assert api.answers[0]["text"] == "Đã ghi nhận: bạn đang xử lý cảnh báo này."
    assert data.startswith("ack:") and len(data) == 4 + 16  # the alert's key
