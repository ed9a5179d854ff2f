"""Escalation survives kill -9 (issue 12, point 8): `netmon run` pages the NOC, is killed
with SIGKILL before the step to the head of the NOC is due, stays down past it, and climbs
on after the restart: the head is paged once, from the escalation clock in SQLite
(``alerts.fired_at`` and the notification log); the NOC is not paged again; an alert
acknowledged before the kill does not climb.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from monitor.core.waiting import wait_for
from monitor.drill.processes import netmon_run
from tests.support.alerts import sink_server, targets_server, webhook_alerts, write_settings
from tests.support.common import free_port

STEP = 8.0  # seconds after the first page the head of the NOC hears of it


async def test_escalation_climbs_on_after_kill9_and_not_when_acknowledged(
    tmp_path: Path,
) -> None:
    async with (
        targets_server() as web,
        sink_server() as noc,
        sink_server() as head,
        aiohttp.ClientSession() as http,
    ):
        alerts = webhook_alerts(("noc", noc.url), ("head", head.url))
        alerts["routes"] = [
            {
                "match": {"severity": ["critical", "warning"]},
                "receivers": ["noc"],
                "escalate": [{"after": f"{STEP:g}s", "receivers": ["head"]}],
            }
        ]
        alerts["rules"] = [
            {"name": "TargetDown", "failures": 1, "recoveries": 2},
            {"name": "HttpStatusError", "enabled": False},
        ]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        config = write_settings(
            tmp_path / "settings.toml",
            [web.target("cong-thong-tin"), web.target("bao-dak-lak")],
            alerts,
            listen=f"127.0.0.1:{port}",
        )

        async def alerts_now() -> dict[str, dict[str, Any]]:
            async with http.get(f"{base}/api/v1/alerts") as resp:
                return {a["target"]: a for a in (await resp.json())["alerts"] if a["target"]}

        web.modes["cong-thong-tin"] = web.modes["bao-dak-lak"] = "fail"
        async with netmon_run(config, within=60, grace=None) as node:
            await wait_for("both pages", lambda: len(noc.kinds()) == 2)
            paged_at = time.monotonic()
            key = (await alerts_now())["bao-dak-lak"]["key"]
            async with http.post(
                f"{base}/api/v1/alerts/{key}/ack", json={"note": "đang xử lý"}
            ) as resp:
                assert resp.status == 200, await resp.text()
            node.proc.send_signal(signal.SIGKILL)
            assert await node.proc.wait() == -signal.SIGKILL
        assert time.monotonic() - paged_at < STEP, "killed too late to test the restart"
        assert head.requests == []
        await asyncio.sleep(max(0.0, paged_at + STEP + 0.5 - time.monotonic()))

        async with netmon_run(config, within=60, grace=None) as node:
            await wait_for("the head paged", lambda: head.kinds() == ["firing"], within=20)
            assert head.alerts()[0]["labels"]["target"] == "cong-thong-tin"
            await asyncio.sleep(2.0)
            assert head.kinds() == ["firing"]  # once, and not the acknowledged alert
            assert noc.kinds() == ["firing", "firing"]  # no page again to the NOC
            state = await alerts_now()
            assert state["bao-dak-lak"]["ack"]["note"] == "đang xử lý"
            assert state["cong-thong-tin"]["notified"] == ["head", "noc"]
            # Resolved: the end goes to both who were paged.
            web.modes["cong-thong-tin"] = "ok"
            await wait_for("the ends", lambda: head.kinds() == ["firing", "resolved"], within=20)
            node.proc.send_signal(signal.SIGINT)
            assert await node.proc.wait() == 0
