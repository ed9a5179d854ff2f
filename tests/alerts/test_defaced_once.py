"""One defacement, one page (issue 16): the lab's ``deface`` fault trips both the portal's
http target (PageDefaced: its body_absent words, at the first failure) and its web integrity
target (SiteDefaced: the text unlike its baseline). As the shipped settings.toml has it, the
web target ``depends_on`` the http one: while the page itself fails, the integrity target's
alerts are held (parent_down), so PageDefaced alone pages, and ends when healed. Without the
depends_on, the same fault pages twice: the question is real. Probed for real by an
in-process netmon on the fake clock, every shipped rule and inhibit rule on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.lab.inventory import BANNER, Site
from monitor.lab.server import Lab
from tests.support.alerts import (
    alert_states,
    running,
    sink_server,
    until,
    webhook_alerts,
    write_settings,
)
from tests.support.clock import FakeClock
from tests.support.common import free_port

HOST = "127.0.8.41"


def pages(noc: Any, target: str) -> list[str]:
    return sorted(
        a["labels"]["alertname"]
        for a in noc.alerts("firing")
        if a["labels"].get("target") == target
    )


@pytest.mark.parametrize("depends", [True, False], ids=["depends_on", "no-depends_on"])
async def test_a_defaced_portal_pages_once(tmp_path: Path, depends: bool) -> None:
    site = Site("portal", "Cổng thông tin", HOST, "portal.lab", "UBND", banner=True,
                port=free_port(HOST))  # fmt: skip
    lab = Lab(
        tmp_path / "lab",
        control=None,
        sites=[site],
        icmp_hosts=[],
        dns_address=(HOST, free_port(HOST)),
        smtp_address=(HOST, free_port(HOST)),
        nft_table="netmon_test_deface",
        snmp_devices=[],
        trap_address=None,
        stream_address=None,
        sip_address=None,
    )
    page: dict[str, Any] = {
        "name": "portal", "kind": "http", "url": site.url, "group": "website",
        "http": {"body_contains": [BANNER], "body_absent": ["hacked", "Hacked by"]},
    }  # fmt: skip
    integrity: dict[str, Any] = {
        "name": "portal-integrity", "kind": "web", "url": site.url, "group": "website",
        "web": {"baseline_fetches": 3},
    }  # fmt: skip
    if depends:
        integrity["depends_on"] = ["portal"]
    clock = FakeClock()
    async with lab, sink_server() as noc:
        path = write_settings(
            tmp_path / "s.toml", [page, integrity], webhook_alerts(("noc", noc.url))
        )
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "the baseline learnt",
                lambda: (
                    (s := service.store.get("portal-integrity")) is not None
                    and s.latest is not None
                    and "baseline" in s.latest.result.detail
                    and "learning" not in s.latest.result.detail
                ),
            )
            await lab.fail("portal", "deface")
            expected = {"portal": ["PageDefaced"], "portal-integrity": ["SiteDefaced"]}
            if depends:
                await until(clock, service, "PageDefaced", lambda: pages(noc, "portal"))
                await until(
                    clock,
                    service,
                    "SiteDefaced firing",
                    lambda: (
                        alert_states(service)
                        .get(("portal-integrity", "SiteDefaced"), {})
                        .get("state")
                        == "firing"
                    ),
                )
                await clock.advance(3.0, step=0.3)  # anything more would come now
                await until(clock, service, "quiet", lambda: True)
                held = alert_states(service)[("portal-integrity", "SiteDefaced")]
                assert held["notified"] == [] and held["hold"]["kind"] == "parent_down", held
                assert pages(noc, "portal") == expected["portal"]
                assert pages(noc, "portal-integrity") == []
            else:
                await until(
                    clock,
                    service,
                    "both pages",
                    lambda: pages(noc, "portal") and pages(noc, "portal-integrity"),
                )
                assert pages(noc, "portal") == expected["portal"]
                assert "SiteDefaced" in pages(noc, "portal-integrity")
            await lab.heal("portal")
            await until(
                clock,
                service,
                "every alert ended",
                lambda: not [a for a in service.alerts.alerts_json() if a["target"] is not None],
            )
            await clock.advance(2.0, step=0.3)
            await until(clock, service, "quiet", lambda: True)
    resolved = sorted(a["labels"]["alertname"] for a in noc.alerts("resolved"))
    assert resolved == (
        ["PageDefaced"] if depends else sorted(["PageDefaced", *pages(noc, "portal-integrity")])
    )
