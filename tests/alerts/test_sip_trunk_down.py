"""The shipped SipTrunkDown rule (issue 16): a carrier's SIP trunk that answers OPTIONS with
503 pages SipTrunkDown (critical) once, TargetDown on the same target is inhibited, and the
page resolves when the trunk answers 200 again. netmon runs in-process on a fake clock,
probing a SIP stand-in on 127.0.8.40."""

from __future__ import annotations

from pathlib import Path

from tests.support.alerts import (
    alert_states,
    running,
    sink_server,
    until,
    webhook_alerts,
    write_settings,
)
from tests.support.clock import FakeClock
from tests.support.sip import port_of_udp, reply, udp_server


async def test_a_failing_trunk_pages_sip_trunk_down(tmp_path: Path) -> None:
    clock = FakeClock()
    up = [False]

    def answer(request: bytes) -> list[bytes]:
        return [reply(request, "200 OK" if up[0] else "503 Service Unavailable")]

    async with udp_server("127.0.8.40", answer) as trunk, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        sip_target = {
            "name": "viettel-sip-trunk",
            "kind": "sip",
            "host": "127.0.8.40",
            "group": "carrier",
            "labels": {"carrier": "viettel"},
            "sip": {"port": port_of_udp(trunk)},
        }
        path = write_settings(tmp_path / "s.toml", [sip_target], alerts)
        async with running(path, clock) as service:
            await until(clock, service, "the page", lambda: noc.kinds() == ["firing"])
            labels = noc.alerts()[0]["labels"]
            assert labels["alertname"] == "SipTrunkDown"
            assert labels["severity"] == "critical" and labels["carrier"] == "viettel"
            states = alert_states(service)
            assert states[("viettel-sip-trunk", "SipTrunkDown")]["state"] == "firing"
            # TargetDown fires too, held by the shipped inhibit rule: one page, not two.
            target_down = states.get(("viettel-sip-trunk", "TargetDown"))
            assert target_down is None or target_down.get("held"), target_down
            annotations = noc.alerts()[0]["annotations"]
            assert annotations["summary"].startswith("Tổng đài / trung kế SIP viettel-sip-trunk")
            assert "HTTP" not in annotations["summary"]
            assert "OPTIONS answered 503 Service Unavailable" in annotations["description"]
            up[0] = True
            await until(clock, service, "the end", lambda: noc.kinds() == ["firing", "resolved"])
    assert all(a["labels"]["alertname"] == "SipTrunkDown" for a in noc.alerts())
    assert len(trunk.received) >= 4  # two failures and two recoveries, at least
