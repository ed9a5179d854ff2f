"""Grouping for direct receivers (issue 12, point 1): a router of the lab (its SNMP agent,
polled for real) loses its uplink and, with it, its BGP session. InterfaceDown fires at the
first poll, BgpPeerDown at the second: with the route's ``group_wait`` the webhook gets ONE
message naming both; without it, two pages.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.lab.inventory import SNMP_COMMUNITY, SNMP_DEVICES
from monitor.lab.snmp import LabAgent
from tests.fixtures.snmpd import free_udp_port
from tests.support.alerts import (
    FakeClock,
    running,
    sink_server,
    until,
    webhook_alerts,
    write_settings,
)


@contextlib.asynccontextmanager
async def edge_router() -> AsyncIterator[LabAgent]:
    device = next(d for d in SNMP_DEVICES if d.name == "viettel-edge-router")
    agent = LabAgent(replace(device, port=free_udp_port(device.host)), trap_address=None)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.close()


@pytest.mark.parametrize("group_wait", ["3s", "0s"])
async def test_bgp_and_uplink_down_on_one_router_page_once(tmp_path: Path, group_wait: str) -> None:
    clock = FakeClock()
    async with edge_router() as agent, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["routes"][0]["group_wait"] = group_wait
        host, port = agent.address
        target = {
            "name": "viettel-edge-router",
            "kind": "snmp",
            "host": host,
            "group": "carrier",
            "labels": {"carrier": "viettel"},
            "snmp": {"port": port, "community": SNMP_COMMUNITY, "timeout": "200ms", "bgp": True},
        }
        path = write_settings(tmp_path / "s.toml", [target], alerts)
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "a first good poll",
                lambda: (s := service.store.get("viettel-edge-router")) and s.latest,
            )
            await agent.set_fault("iface-down")
            await until(
                clock,
                service,
                "both alerts paged",
                lambda: len([a for r in noc.requests for a in r["alerts"]]) >= 2,
            )
            await clock.advance(5.0, step=0.3)
            await until(clock, service, "quiet", lambda: True)
    messages = [[a["labels"]["alertname"] for a in r["alerts"]] for r in noc.requests]
    if group_wait == "0s":
        assert sorted(messages) == [["BgpPeerDown"], ["InterfaceDown"]]
        return
    assert messages == [["InterfaceDown", "BgpPeerDown"]]
    payload = noc.requests[0]
    assert payload["commonLabels"]["target"] == "viettel-edge-router"
    assert "alertname" not in payload["commonLabels"]  # not common: both are named
