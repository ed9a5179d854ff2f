"""Nothing lost: `netmon run` killed with SIGKILL and started again on the same state_dir, and
the alert database on a disk that fills up under a running netmon.

After kill -9: a notification whose delivery was cut is delivered after the restart (once,
with the same id); a firing alert stays firing without a new page; a target that recovered
while netmon was down is resolved after its first good probes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.core.waiting import wait_for
from monitor.drill.processes import NetmonProcess, netmon_run
from monitor.web.app import make_app
from tests.support.alerts import (
    metric,
    running,
    sink_server,
    targets_server,
    webhook_alerts,
    write_settings,
)
from tests.support.common import free_port, root_only


def netmon(config: Path) -> contextlib.AbstractAsyncContextManager[NetmonProcess]:
    """``netmon run`` on ``config``; SIGKILLed at the end if it is still running."""
    return netmon_run(config, within=60, grace=None)


async def kill9(node: NetmonProcess) -> None:
    node.proc.send_signal(signal.SIGKILL)
    assert await node.proc.wait() == -signal.SIGKILL


async def api_alerts(http: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with http.get(f"{base}/api/v1/alerts") as resp:
        data: dict[str, Any] = await resp.json()
        return list(data["alerts"])


async def probes_run(http: aiohttp.ClientSession, base: str) -> float:
    async with http.get(f"{base}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith('netmon_probes_total{kind="http"}'):
                return float(line.split()[-1])
    return 0.0


async def test_kill9_during_delivery_then_restart(tmp_path: Path) -> None:
    async with targets_server() as web, sink_server() as sink, aiohttp.ClientSession() as http:
        alerts = webhook_alerts(("noc", sink.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 2}]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        config = write_settings(
            tmp_path / "settings.toml",
            [web.target("cong-thong-tin"), web.target("bao-dak-lak")],
            alerts,
            listen=f"127.0.0.1:{port}",
        )

        # 1. The page is on the wire when netmon is killed: the receiver never answered.
        sink.stall = True
        async with netmon(config) as node:
            web.modes["cong-thong-tin"] = "fail"
            await wait_for("a delivery in flight", lambda: sink.in_flight == 1)
            await kill9(node)
        stalled = sink.stalled_ids[0]
        sink.release()
        assert sink.requests == []

        # 2. Restarted: the page is delivered once, with the id it had; no second page.
        sink.stall = False
        async with netmon(config) as node:
            await wait_for("the page after the restart", lambda: sink.kinds() == ["firing"])
            assert sink.requests[0]["netmon"]["notification_id"] == stalled
            runs = await probes_run(http, base)

            async def more() -> bool:
                return await probes_run(http, base) > runs + 10

            await wait_for("more probes", more)
            assert sink.kinds() == ["firing"]
            firing = [a for a in await api_alerts(http, base) if a["target"] == "cong-thong-tin"]
            assert firing[0]["state"] == "firing" and firing[0]["notified"] == ["noc"]
            await kill9(node)

        # 3. Killed again while firing (delivered): restarted, it fires on without a new page.
        async with netmon(config) as node:
            runs = await probes_run(http, base)
            await wait_for("more probes", more)
            alerts_now = await api_alerts(http, base)
            mine = {a["rule"]: a for a in alerts_now if a["target"] == "cong-thong-tin"}
            # A 503: HttpStatusError is the page; TargetDown fires on, inhibited by it.
            assert {r: a["state"] for r, a in mine.items()} == {
                "HttpStatusError": "firing",
                "TargetDown": "firing",
            }
            assert mine["TargetDown"]["hold"]["kind"] == "inhibited"
            assert mine["TargetDown"]["hold"]["by"] == "HttpStatusError"
            assert sink.kinds() == ["firing"]
            await kill9(node)

        # 4. The site recovers while netmon is down: resolved after its first good probes.
        web.modes["cong-thong-tin"] = "ok"
        async with netmon(config) as node:
            await wait_for("the end", lambda: sink.kinds() == ["firing", "resolved"])
            runs = await probes_run(http, base)
            await wait_for("more probes", more)
            assert sink.kinds() == ["firing", "resolved"]
            ids = [r["netmon"]["notification_id"] for r in sink.requests]
            assert len(set(ids)) == 2
            async with http.get(f"{base}/api/v1/outages?target=cong-thong-tin") as resp:
                outages = (await resp.json())["outages"]
            assert len(outages) == 1 and outages[0]["end"] is not None
            node.proc.send_signal(signal.SIGINT)
            assert await node.proc.wait() == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A 1 MiB tmpfs for state_dir, so the test can fill it (root: mount)."""
    where = tmp_path / "state"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "netmon-test", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@root_only
async def test_disk_full_under_the_alert_database(tmp_path: Path, tiny_disk: Path) -> None:
    async with targets_server() as web, sink_server() as sink:
        alerts = webhook_alerts(("noc", sink.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}]
        path = write_settings(
            tmp_path / "s.toml",
            [web.target("site-a"), web.target("site-b")],
            alerts,
            state_dir=tiny_disk,
        )
        async with running(path) as service:
            client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
            await client.start_server()
            try:
                web.modes["site-a"] = "fail"
                await wait_for("site-a's page", lambda: sink.kinds("site-a") == ["firing"])
                assert service.alerts.db.ok
                filler = fill(tiny_disk)
                # The disk is full: site-b still pages (from memory), probing goes on.
                web.modes["site-b"] = "fail"
                await wait_for("site-b's page", lambda: sink.kinds("site-b") == ["firing"])
                await wait_for(
                    "the failure counted",
                    lambda: (metric(service, "netmon_alerts_db_errors_total") or 0) > 0,
                )
                assert metric(service, "netmon_alerts_db_ok") == 0
                health = await (await client.get("/healthz")).json()
                assert health["status"] == "degraded"
                assert health["alerts"]["db_ok"] is False
                assert "full" in health["alerts"]["db_error"]
                runs = metric(service, "netmon_probes_total", kind="http") or 0
                await wait_for(
                    "probes to go on",
                    lambda: (metric(service, "netmon_probes_total", kind="http") or 0) > runs + 6,
                )
                resp = await client.get("/metrics")
                assert resp.status == 200 and "probe_success" in await resp.text()
                # Space again: the next write succeeds and the state is written again.
                filler.unlink()
                web.modes["site-a"] = "ok"
                await wait_for(
                    "site-a's end", lambda: sink.kinds("site-a") == ["firing", "resolved"]
                )
                await wait_for("the database back", lambda: service.alerts.db.ok)
                health = await (await client.get("/healthz")).json()
                assert health["status"] == "ok"
                from alerts import db

                rows = await service.alerts.db.run(db.load_alerts, write=False)
                assert {r.target for r in rows} == {None, "site-b"}  # written again on recovery
            finally:
                await client.close()


async def test_state_dir_that_cannot_be_created(tmp_path: Path) -> None:
    """A state_dir under a file: alerting runs from memory and says so."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    async with targets_server() as web, sink_server() as sink:
        alerts = webhook_alerts(("noc", sink.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}]
        path = write_settings(
            tmp_path / "s.toml", [web.target("site-a")], alerts, state_dir=blocker / "state"
        )
        async with running(path) as service:
            web.modes["site-a"] = "fail"
            await wait_for("the page from memory", lambda: sink.kinds("site-a") == ["firing"])
            assert service.alerts.db.ok is False
            assert (metric(service, "netmon_alerts_db_errors_total") or 0) > 0
