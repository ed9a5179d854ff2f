"""The pages drill's parts (``netmon drill pages`` itself runs minutes: bench/results/): its
settings are the shipped ones made fast and sent to its receivers, which count what they get
and tell a text in two languages from one in one."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from monitor.config import load_settings
from monitor.drill.pages import CHAT, TOKEN, Message, Receivers, drill_settings
from tests.support.common import REPO


def test_the_drill_settings_are_the_shipped_ones_fast_and_counted(tmp_path: Path) -> None:
    config = drill_settings(REPO / "settings.toml", tmp_path, 19108, 19109)
    settings = load_settings(config)
    shipped = load_settings(REPO / "settings.toml")
    assert [t.name for t in settings.targets] == [t.name for t in shipped.targets]
    assert {t.interval for t in settings.targets} == {2.0}
    assert set(settings.alerts.receivers) == {"drill-webhook", "drill-telegram", "drill-escalation"}
    assert settings.server.listen == "127.0.0.1:19108"
    (route,) = settings.alerts.routes
    assert route.receivers == ["drill-webhook", "drill-telegram"]
    assert [(s.after, s.receivers) for s in route.escalate] == [(20.0, ["drill-escalation"])]


async def test_the_receivers_record_every_message() -> None:
    receivers = Receivers()
    await receivers.start()
    base = f"http://127.0.0.1:{receivers.port}"
    try:
        async with aiohttp.ClientSession() as http:
            hook = {
                "status": "firing",
                "alerts": [
                    {"status": "firing", "labels": {"alertname": "TargetDown", "target": "x"}}
                ],
            }
            async with http.post(f"{base}/hook", json=hook) as resp:
                assert resp.status == 200
            text = {"chat_id": CHAT, "text": "x mất kết nối"}
            async with http.post(f"{base}/bot{TOKEN}/sendMessage", json=text) as resp:
                assert (await resp.json())["ok"] is True
            async with http.post(f"{base}/botwrong/sendMessage", json=text) as resp:
                assert resp.status == 401
    finally:
        await receivers.close()
    webhook, telegram = receivers.messages
    assert webhook.alerts == [("TargetDown", "x", "firing")] and webhook.status == "firing"
    assert telegram.text == "x mất kết nối"


def test_a_text_in_two_languages_is_told_from_one_in_one() -> None:
    def message(text: str) -> Message:
        return Message(0.0, "telegram", "", [], text)

    assert message("[CẢNH BÁO] x mất kết nối\n— English —\n[FIRING] x is down").mixed
    assert message("0 of 5 echoes answered by 127.0.2.2; mức: warning").mixed
    assert not message("Nghiêm trọng: Đường truyền Viettel mất kết nối từ 08:00").mixed
    assert not message("Critical: Viettel link is down since 08:00").mixed
