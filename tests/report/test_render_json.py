"""The report as JSON: UTC times, seconds to the millisecond, one entry per outage part."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.config import Settings
from monitor.report.model import Figures
from monitor.report.render_json import figures_json, to_json
from tests.support.report import built


async def test_json(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    doc = to_json(built(settings, phase="dai-hoi-tinh"))
    json.dumps(doc, allow_nan=False)
    assert doc["generated"] == "2025-10-19T12:00:00Z" and doc["timezone"] == "Asia/Ho_Chi_Minh"
    assert doc["unknown_maintenance_windows"] == ["api-da-het-han"]
    section = doc["sections"][0]
    assert section["start"] == "2025-10-14T00:00:00Z" and section["phase"] == "dai-hoi-tinh"
    assert [c["name"] for c in section["carriers"]] == ["viettel", "vnpt"]
    assert section["total"]["targets"] == 5
    target = next(t for t in section["targets"] if t["name"] == "viettel-uplink")
    assert target["availability_percent"] == 98.87 and target["mttr_seconds"] == 1200
    assert [o["downtime_seconds"] for o in target["outage_list"]] == [600, 1800]
    vnpt = next(t for t in section["targets"] if t["name"] == "vnpt-uplink")
    assert [o["maintenance_seconds"] for o in vnpt["outage_list"]] == [1800, 1800]


def test_figures_round_to_the_millisecond() -> None:
    doc = figures_json(Figures(10.00049, 0.0, 1.23456, 0.0, 0, 1.23456, 10.00049))
    assert doc["downtime_seconds"] == 1.235 and doc["period_seconds"] == 10.0
    assert doc["mttr_seconds"] is None and doc["availability_percent"] == 87.655
