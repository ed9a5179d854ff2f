"""An SNMP device's page (issue 14): its ports and circuits, their states in words, since when,
utilisation and errors, and its BGP sessions; built from the store, shown on /targets/NAME."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from monitor.config import Settings, Target
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from monitor.web.device import device
from probes.base import ProbeResult, Sample

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = 1796346000.0  # 2026-12-04 01:00 UTC, 08:00 in Ha Noi

ROUTER: dict[str, Any] = {
    "name": "viettel-edge-router",
    "title": "Router biên Viettel",
    "kind": "snmp",
    "host": "127.0.3.2",
    "group": "carrier",
    "labels": {"carrier": "viettel"},
    "snmp": {
        "community": "netmon-lab",
        "circuits": [
            {
                "name": "viettel-uplink",
                "ifName": "ge-0/0/0",
                "carrier": "viettel",
                "title": "Uplink Viettel - kênh truyền hội trường",
            }
        ],
    },
}


def port(index: int, name: str, oper: int, admin: int = 1, circuit: str = "") -> list[Sample]:
    labels = (("ifIndex", str(index)), ("ifName", name), ("ifDescr", name), ("ifAlias", ""))
    labels += (("circuit", circuit),)
    return [
        Sample("ifOperStatus", float(oper), labels),
        Sample("ifAdminStatus", float(admin), labels),
        Sample("ifInErrors", 7.0 if index == 1 else 0.0, labels),
        Sample("ifOutErrors", 0.0, labels),
        Sample("probe_snmp_if_utilization_ratio", 0.25, (*labels, ("direction", "in"))),
        Sample("probe_snmp_if_utilization_ratio", 0.5, (*labels, ("direction", "out"))),
    ]


def result(uplink: int, bgp: int) -> ProbeResult:
    samples = [
        *port(1, "ge-0/0/0", uplink, circuit="viettel-uplink"),
        *port(2, "ge-0/0/1", 6),  # notPresent, admin up: shown, never paged
        *port(3, "ge-0/0/2", 1),
        *port(4, "ge-0/0/3", 2, admin=2),  # shut by an operator
        Sample("bgpPeerState", float(bgp), (("peer", "127.0.3.1"),)),
    ]
    return ProbeResult(True, None, "polled", tuple(samples))


def history() -> list[Observation]:
    # Up and established for three polls, then the uplink down and BGP idle from 08:03.
    return [
        Observation(result(1, 6), T0, 0.1),
        Observation(result(1, 6), T0 + 60, 0.1),
        Observation(result(1, 6), T0 + 120, 0.1),
        Observation(result(2, 1), T0 + 180, 0.1),
        Observation(result(2, 1), T0 + 240, 0.1),
    ]


def test_ports_circuits_first_in_words_with_since_and_bgp() -> None:
    target = Target.model_validate(ROUTER)
    view = device(target, history(), "vi", HCM)
    assert view is not None
    uplink, absent, up, shut = view.ports
    assert (uplink.name, uplink.circuit) == ("ge-0/0/0", "Uplink Viettel - kênh truyền hội trường")
    assert (uplink.state, uplink.bad, uplink.since) == (
        "Ngừng hoạt động",
        True,
        "04/12/2026 08:03:00",
    )
    assert (uplink.util_in, uplink.util_out, uplink.errors) == ("25.0 %", "50.0 %", "7 / 0")
    assert (absent.state, absent.bad) == ("Không có mô-đun (notPresent)", True)
    assert absent.since.startswith("≤ ")  # in that state as far back as the history goes
    assert (shut.state, shut.bad) == ("Tắt bởi quản trị", False)
    assert up.state == "Hoạt động" and view.folded == 2  # up and shut ports: folded
    (peer,) = view.bgp
    assert (peer.peer, peer.state, peer.bad, peer.since) == (
        "127.0.3.1",
        "Idle",
        True,
        "04/12/2026 08:03:00",
    )
    english = device(target, history(), "en", HCM)
    assert english is not None and english.ports[0].state == "Down"
    assert (
        device(Target.model_validate({**ROUTER, "kind": "icmp", "snmp": None}), [], "vi", HCM)
        is None
    )


async def test_the_target_page_shows_the_device(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "server": {"state_dir": str(tmp_path / "var")},
            "access": {"anonymous": "auto"},
            "traps": {"enabled": False},
            "targets": [ROUTER],
        }
    )
    service = Service(settings)
    await service.start()
    now = time.time()
    for k, obs in enumerate(history()):
        service.store.record(
            "viettel-edge-router", Observation(obs.result, now - 300 + 60 * k, 0.1)
        )
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            page = await (await client.get("/targets/viettel-edge-router?lang=vi")).text()
    finally:
        await service.aclose()
    assert "Cổng và kênh truyền" in page and "Phiên BGP" in page
    assert "Uplink Viettel - kênh truyền hội trường" in page
    assert "Ngừng hoạt động" in page and "Không có mô-đun (notPresent)" in page
    assert "Các cổng khác đang hoạt động (2)" in page
    assert '<tr class="bad"><td><code>127.0.3.1</code></td><td>Idle</td>' in page


async def test_a_refused_reload_shows_as_a_banner_to_the_noc_only(tmp_path: Path) -> None:
    """Issue 14: a reload refused leaves netmon on its old settings; the NOC sees it on every
    page (with the first errors), an operator does not."""
    from tests.support.web import NOC, TOKENS, VIETTEL, web_settings

    service = Service(web_settings(tmp_path, tokens=TOKENS))
    await service.start()
    service.last_reload_ok = False
    service.last_reload_errors = ["targets[3].http.expect_status[0]: not a valid integer"]
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:

            async def page(token: str, path: str = "/") -> str:
                resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                assert resp.status == 200
                return await resp.text()

            noc, operator = await page(NOC), await page(VIETTEL)
            noc_target = await page(NOC, "/targets/vt")
            service.last_reload_ok = True
            fixed = await page(NOC)
    finally:
        await service.aclose()
    banner = "Cấu hình mới bị từ chối: netmon vẫn chạy theo cấu hình cũ."
    assert banner in noc and "targets[3].http.expect_status[0]" in noc
    assert banner in noc_target
    assert banner not in operator and "expect_status" not in operator
    assert banner not in fixed
