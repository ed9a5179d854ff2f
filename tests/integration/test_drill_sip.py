"""The `sip-trunk-down` drill (issue 16) in the namespace lab: Viettel's SIP trunk (Debian's
kamailio in the Viettel router's namespace) stops; SipTrunkDown pages through a real
Alertmanager within the drills' goal, nothing else pages, and it resolves when the SBC is
back."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.drill.netns import SIP_TRUNK, kamailio_path
from monitor.drill.scenarios import drill
from monitor.drill.settings import TIME_TO_ALERT_GOAL
from tests.support.netns import lab_for, needs_netns_lab


@needs_netns_lab
@pytest.mark.skipif(kamailio_path() is None, reason="needs Debian's kamailio (make debs-test)")
@pytest.mark.timeout(180)
async def test_sip_trunk_down(tmp_path: Path) -> None:
    async with lab_for(tmp_path) as lab, drill(lab, sip=True) as d:
        rec = await d.sip_trunk_down()
    assert not rec.missed(), rec.to_json()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    assert set(alerts) == {("SipTrunkDown", SIP_TRUNK)}, rec.to_json()  # nothing else paged
    page = alerts[("SipTrunkDown", SIP_TRUNK)]
    assert page["time_to_alert"] <= TIME_TO_ALERT_GOAL, rec.to_json()
    assert page["resolved"] is not None, rec.to_json()
    # The router is up, its SBC is not: the kernel answers port unreachable (refused).
    assert rec.notes == [
        f"{SIP_TRUNK}: reason refused",
        f"TargetDown {SIP_TRUNK}: inhibited by SipTrunkDown of {SIP_TRUNK}",
    ], rec.notes
