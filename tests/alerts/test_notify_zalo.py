"""The zalo receiver through netmon's real dispatcher and outbox, against a local stand-in.

Zalo's real API (openapi.zalo.me, oauth.zaloapp.com) is out of reach from these machines:
``tests/support/zalo.py`` speaks the documented shape of the two endpoints netmon uses (send a
text to a follower; refresh the access token with a single-use refresh token), with Zalo's
habit of refusing with HTTP 200 and a non-zero ``error``. It is the only stand-in here; the
rest (settings, engine, dispatcher, outbox in SQLite) is netmon's own code.
"""

from __future__ import annotations

import json
import logging
import stat
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.model import AlertSnapshot, Notification
from alerts.notify import NotifyContext
from alerts.notify.zalo import LIMIT, message
from monitor.core.waiting import wait_for
from tests.support.alerts import metric, running, targets_server, write_settings
from tests.support.zalo import ZaloStandIn, zalo_server

APP_ID = "4291763606161179100"
SECRET_KEY = "khoa-bi-mat-ung-dung"
FIRST_REFRESH = "refresh-0-bi-mat"
STALE_ACCESS = "access-cu-da-het-han"
USERS = ["5830000000000000001", "5830000000000000002"]


def zalo_alerts(zalo: ZaloStandIn, tmp_path: Path, **receiver: Any) -> dict[str, Any]:
    (tmp_path / "refresh-token").write_text(FIRST_REFRESH + "\n")
    settings: dict[str, Any] = {
        "type": "zalo",
        "user_ids": USERS,
        "access_token": STALE_ACCESS,
        "refresh_token_file": str(tmp_path / "refresh-token"),
        "app_id": APP_ID,
        "app_secret_env": "NETMON_TEST_ZALO_SECRET",
        "api_url": zalo.url,
        "oauth_url": zalo.url,
        "timeout": "500ms",
        **receiver,
    }
    return {
        "receivers": {"zalo-truc-ca": settings},
        "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["zalo-truc-ca"]}],
        "rules": [{"name": "TargetDown", "failures": 1, "recoveries": 1}],
        "delivery": {"backoff_initial": "100ms", "backoff_max": "500ms"},
    }


def secrets_in(text: str, zalo: ZaloStandIn) -> list[str]:
    known = {SECRET_KEY, FIRST_REFRESH, STALE_ACCESS, zalo.refresh_token, *zalo.valid}
    return [s for s in known if s in text]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_TEST_ZALO_SECRET", SECRET_KEY)


async def test_an_expired_token_is_refreshed_once_and_the_rotated_one_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH) as zalo,
        targets_server() as web_,
    ):
        path = write_settings(
            tmp_path / "s.toml", [web_.target("huyen-ea-sup")], zalo_alerts(zalo, tmp_path)
        )
        async with running(path):
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for("both followers paged", lambda: len(zalo.sent) == 2)
            # The settings' access token was refused (-216): one refresh served both.
            assert zalo.refreshes == 1
            assert [s.user_id for s in zalo.sent] == USERS
            assert {s.token for s in zalo.sent} == {"access-1-bi-mat"}
            state = tmp_path / "state" / "zalo-zalo-truc-ca.json"
            kept = json.loads(state.read_text())
            assert kept["refresh_token"] == "refresh-1-bi-mat" == zalo.refresh_token
            assert stat.S_IMODE(state.stat().st_mode) == 0o600
            web_.modes["huyen-ea-sup"] = "ok"
            await wait_for("the end to both", lambda: len(zalo.sent) == 4)
            assert zalo.refreshes == 1  # the token still works: no refresh
        # Restarted on the same state_dir, the settings' refresh token is spent: the rotated
        # one from the state file is used when Zalo refuses the access token again.
        zalo.expire()
        async with running(path):
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for("paged after the restart", lambda: len(zalo.sent) == 6)
        assert zalo.refreshes == 2 and zalo.refused_refreshes == 0
        assert json.loads(state.read_text())["refresh_token"] == "refresh-2-bi-mat"
    first = zalo.texts(USERS[0])[0]
    assert first.startswith("Cảnh báo · huyen-ea-sup trả lời mã lỗi HTTP")  # not "mất kết nối"
    assert zalo.texts(USERS[0])[1].startswith("Đã khôi phục · huyen-ea-sup")
    assert secrets_in(caplog.text, zalo) == []


async def test_a_refused_refresh_is_a_dead_letter_with_zalos_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token="a-different-one") as zalo,
        targets_server() as web_,
    ):
        alerts = zalo_alerts(zalo, tmp_path)
        path = write_settings(tmp_path / "s.toml", [web_.target("huyen-ea-sup")], alerts)
        async with running(path) as service:
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for(
                "the dead letter",
                lambda: (
                    metric(service, "netmon_notifications_dead_total", receiver="zalo-truc-ca") == 1
                ),
            )
            assert metric(
                service, "netmon_notifications_total", receiver="zalo-truc-ca", outcome="retry"
            ) in (None, 0)
            rows = await service.alerts.db.run(
                lambda c: c.execute("SELECT error FROM dead_letters").fetchall(), write=False
            )
    # Refreshed once (refused), then reported; never sent, never retried.
    assert zalo.refused_refreshes == 1 and zalo.refreshes == 0
    assert zalo.requests == 1 and zalo.sent == []
    (reason,) = [r[0] for r in rows]
    assert "token refresh refused" in reason and "Invalid refresh token" in reason
    assert "Invalid refresh token" in caplog.text
    assert secrets_in(caplog.text + reason, zalo) == []


async def test_5xx_and_timeouts_are_retried_and_a_follower_served_once(tmp_path: Path) -> None:
    async with (
        zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH) as zalo,
        targets_server() as web_,
    ):
        zalo.valid = {STALE_ACCESS}  # still valid here: no refresh in this test
        # Try 1: a 503. Try 2: an answer slower than the receiver's timeout (500 ms).
        # Try 3: the first follower served, a 502 for the second. Try 4: the second alone.
        zalo.answers = [(503, {"error": -1, "message": "Service Unavailable"}), 1.5]
        zalo.answers_for[USERS[1]] = [(502, {"error": -1, "message": "Bad Gateway"})]
        alerts = zalo_alerts(zalo, tmp_path)
        path = write_settings(tmp_path / "s.toml", [web_.target("huyen-ea-sup")], alerts)
        async with running(path) as service:
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for("delivered to both", lambda: len(zalo.sent) == 2, 20)
            retries = metric(
                service, "netmon_notifications_total", receiver="zalo-truc-ca", outcome="retry"
            )
            delivered = metric(
                service, "netmon_notifications_total", receiver="zalo-truc-ca", outcome="delivered"
            )
    assert [s.user_id for s in zalo.sent] == USERS  # each once, though tried four times
    assert zalo.requests == 5
    assert retries == 3 and delivered == 1
    assert zalo.refreshes == 0


async def test_a_follower_who_refuses_does_not_keep_the_others_from_the_page(
    tmp_path: Path,
) -> None:
    async with (
        zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH) as zalo,
        targets_server() as web_,
    ):
        zalo.not_followers = {USERS[0]}
        path = write_settings(
            tmp_path / "s.toml", [web_.target("huyen-ea-sup")], zalo_alerts(zalo, tmp_path)
        )
        async with running(path) as service:
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for(
                "the dead letter",
                lambda: (
                    metric(service, "netmon_notifications_dead_total", receiver="zalo-truc-ca") == 1
                ),
            )
            rows = await service.alerts.db.run(
                lambda c: c.execute("SELECT error FROM dead_letters").fetchall(), write=False
            )
    assert [s.user_id for s in zalo.sent] == [USERS[1]]
    (reason,) = [r[0] for r in rows]
    assert f"user {USERS[0]}: error -213: User has not followed OA" in reason


def _notification(description: str) -> Notification:
    alert = AlertSnapshot(
        key="k",
        rule="TargetDown",
        target="venue-viettel-uplink",
        status="firing",
        labels={"alertname": "TargetDown", "severity": "critical", "target": "x"},
        annotations={"summary_vi": "mất kết nối", "description_vi": description},
        starts_at=1760400000.0,
        ends_at=None,
        value=0.0,
    )
    return Notification(id="n1", receiver="z", kind="firing", alert=alert, created=0.0)


def test_a_long_text_is_cut_on_a_line_to_zalos_limit() -> None:
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="")
    lines = "\n".join(f"dòng {i}: " + "Đắk Lắk 🔴 " * 5 for i in range(200))
    text = message(_notification(lines), ctx)
    assert len(text.encode("utf-16-le")) // 2 <= LIMIT
    assert text.endswith("\n…")
    kept = text.removesuffix("\n…").split("\n")
    assert kept[-1] in lines.split("\n") or kept[-1] == ""  # whole lines only
    assert text.startswith("Nghiêm trọng · ")
    # Many short lines: the cut is as late as the limit allows, never past it.
    text = message(_notification("\n".join(["ô"] * 3000)), ctx)
    assert LIMIT - 3 <= len(text.encode("utf-16-le")) // 2 <= LIMIT
    short = message(_notification("ngắn"), ctx)
    assert "…" not in short and "ngắn" in short


async def test_a_token_near_its_expiry_is_refreshed_before_zalo_refuses_it(tmp_path: Path) -> None:
    async with (
        zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH) as zalo,
        targets_server() as web_,
    ):
        path = write_settings(
            tmp_path / "s.toml", [web_.target("huyen-ea-sup")], zalo_alerts(zalo, tmp_path)
        )
        async with running(path):
            web_.modes["huyen-ea-sup"] = "fail"
            await wait_for("paged", lambda: len(zalo.sent) == 2)
        assert zalo.requests == 3  # one refused (the stale token), then one per follower
        # Restarted with the kept token about to expire: refreshed first, none refused.
        state = tmp_path / "state" / "zalo-zalo-truc-ca.json"
        kept = json.loads(state.read_text())
        state.write_text(json.dumps({**kept, "expires_at": time.time() + 60}))
        web_.modes["huyen-ea-sup"] = "ok"
        async with running(path):
            await wait_for("the end", lambda: len(zalo.sent) == 4)
    assert zalo.refreshes == 2 and zalo.requests == 5
    assert {s.token for s in zalo.sent[2:]} == {"access-2-bi-mat"}


async def test_an_access_token_alone_refused_is_reported_without_a_refresh(
    tmp_path: Path,
) -> None:
    from alerts.notify.base import NotifyError
    from alerts.notify.zalo import ZaloNotifier
    from alerts.settings import ZaloReceiver

    async with zalo_server(app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH) as z:
        settings = ZaloReceiver.model_validate(
            {
                "type": "zalo",
                "user_ids": USERS[:1],
                "access_token": STALE_ACCESS,
                "api_url": z.url,
                "oauth_url": z.url,
            }
        )
        ctx = NotifyContext(
            zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="", state_dir=tmp_path
        )
        notifier = ZaloNotifier("z", settings, ctx)
        try:
            with pytest.raises(NotifyError) as info:
                await notifier.send([_notification("x")])
        finally:
            await ctx.aclose()
    assert not info.value.retryable
    assert "access token refused and no refresh token is given" in str(info.value)
    assert "Access token is invalid" in str(info.value) and STALE_ACCESS not in str(info.value)
    assert z.refreshes == z.refused_refreshes == 0 and z.requests == 1
