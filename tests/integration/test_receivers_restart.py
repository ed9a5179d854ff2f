"""Nothing lost for the zalo and http receivers: `netmon run` killed with SIGKILL while both are
down, started again once they are up, delivers what was queued; killed again after a Zalo token
refresh, it goes on with the rotated refresh token from its state file.

Zalo's real API is out of reach from these machines: tests/support/zalo.py is a local stand-in
of its documented endpoints; tests/support/sms.py plays an SMS gateway's JSON API.
"""

from __future__ import annotations

import json
import signal
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.waiting import wait_for
from monitor.drill.processes import NetmonProcess, netmon_run
from tests.support.alerts import targets_server, write_settings
from tests.support.common import REPO, free_port
from tests.support.sms import sms_gateway
from tests.support.zalo import zalo_server

SMS_TOKEN = "sms-token-bi-mat-0123"
APP_ID = "4291763606161179100"
SECRET_KEY = "khoa-bi-mat-ung-dung"
FIRST_REFRESH = "refresh-0-bi-mat"
USERS = ["5830000000000000001", "5830000000000000002"]


async def kill9(node: NetmonProcess) -> None:
    node.proc.send_signal(signal.SIGKILL)
    assert await node.proc.wait() == -signal.SIGKILL


async def retries(http: aiohttp.ClientSession, base: str, receiver: str) -> float:
    async with http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    lines = "".join(line + "\n" for line in text.splitlines() if "notifications_total" in line)
    for family in text_string_to_metric_families(lines):
        for sample in family.samples:
            if sample.labels == {"receiver": receiver, "outcome": "retry"}:
                return float(sample.value)
    return 0.0


async def test_queued_while_down_delivered_after_kill9_and_the_rotated_token_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETMON_SMS_TOKEN", SMS_TOKEN)
    monkeypatch.setenv("NETMON_TEST_ZALO_SECRET", SECRET_KEY)
    (tmp_path / "refresh-token").write_text(FIRST_REFRESH + "\n")
    sms_port, zalo_port, port = free_port(), free_port(), free_port()
    example = (REPO / "examples" / "sms-gateway.toml").read_text(encoding="utf-8")
    sms: dict[str, Any] = tomllib.loads(example)["alerts"]["receivers"]["sms-truc-ca"]
    sms["url"] = f"http://127.0.0.1:{sms_port}/api/v1/messages"
    zalo_settings = {
        "type": "zalo",
        "user_ids": USERS,
        "access_token": "access-cu-da-het-han",
        "refresh_token_file": str(tmp_path / "refresh-token"),
        "app_id": APP_ID,
        "app_secret_env": "NETMON_TEST_ZALO_SECRET",
        "api_url": f"http://127.0.0.1:{zalo_port}",
        "oauth_url": f"http://127.0.0.1:{zalo_port}",
        "timeout": "1s",
    }
    alerts = {
        "receivers": {"sms": {**sms, "timeout": "1s"}, "zalo": zalo_settings},
        "routes": [{"match": {"severity": ["warning", "critical"]}, "receivers": ["sms", "zalo"]}],
        "rules": [{"name": "TargetDown", "failures": 1, "recoveries": 1}],
        "delivery": {"backoff_initial": "100ms", "backoff_max": "500ms"},
    }
    base = f"http://127.0.0.1:{port}"
    outputs: list[str] = []
    async with targets_server() as web, aiohttp.ClientSession() as http:
        config = write_settings(
            tmp_path / "settings.toml",
            [web.target("cong-thong-tin")],
            alerts,
            listen=f"127.0.0.1:{port}",
        )

        # 1. Both receivers down (nothing listens): the page is queued, tried, retried.
        async with netmon_run(config, within=60, grace=None) as node:
            web.modes["cong-thong-tin"] = "fail"

            async def both_retried() -> bool:
                return (await retries(http, base, "sms")) >= 2 and (
                    await retries(http, base, "zalo")
                ) >= 2

            await wait_for("both receivers retried", both_retried, 30)
            await kill9(node)
        outputs += node.output

        async with (
            sms_gateway(SMS_TOKEN, sms_port) as gateway,
            zalo_server(
                app_id=APP_ID, secret_key=SECRET_KEY, refresh_token=FIRST_REFRESH, port=zalo_port
            ) as zalo,
        ):
            # 2. Up again, netmon restarted: the queued page reaches both, the same one.
            async with netmon_run(config, within=60, grace=None) as node:
                await wait_for(
                    "the page after the restart",
                    lambda: len(gateway.accepted) >= 1 and len(zalo.sent) >= 2,
                    30,
                )
                assert len({a["ref"] for a in gateway.accepted}) == 1  # once, or the same again
                assert sorted({s.user_id for s in zalo.sent}) == USERS
                assert zalo.refreshes == 1  # the settings' access token was stale
                state = tmp_path / "state" / "zalo-zalo.json"
                assert json.loads(state.read_text())["refresh_token"] == zalo.refresh_token
                # 3. Killed after the refresh: the settings' refresh token is spent now.
                await kill9(node)
            outputs += node.output
            zalo.expire()
            web.modes["cong-thong-tin"] = "ok"
            async with netmon_run(config, within=60, grace=None) as node:
                await wait_for(
                    "the end to both followers",
                    lambda: all(
                        any(t.startswith("Đã khôi phục") for t in zalo.texts(u)) for u in USERS
                    ),
                    30,
                )
                await wait_for(
                    "the end by SMS",
                    lambda: any(a["text"].startswith("[Đã khôi phục]") for a in gateway.accepted),
                    30,
                )
                node.proc.send_signal(signal.SIGINT)
                assert await node.proc.wait() == 0
            outputs += node.output
    assert zalo.refreshes == 2 and zalo.refused_refreshes == 0
    logged = "\n".join(outputs)
    for secret in (SMS_TOKEN, SECRET_KEY, FIRST_REFRESH, zalo.refresh_token, *zalo.valid):
        assert secret not in logged
