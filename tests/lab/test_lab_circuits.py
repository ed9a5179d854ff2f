"""The shipped settings name the lab's carrier circuits (issue 14): each carrier's edge router
has its uplink into the hall as a circuit, with its display name and carrier, so the report
of `make run` has circuit rows and a carrier's availability is its circuits'.

The lab's agents serve the interfaces of monitor/lab/inventory.py; the circuits are held to
those same ifName/ifDescr/ifAlias values here, and the report is built over the shipped
settings with an outage of the Viettel circuit."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.ledger import circuit_subject
from alerts.model import Outage
from monitor.config import Settings, load_settings
from monitor.lab.inventory import SNMP_DEVICES
from monitor.lab.web import load_or_create_ca
from monitor.report.build import build
from monitor.report.html import to_html
from probes.options import SnmpOptions
from tests.support.common import REPO

CARRIER_TITLES = {
    "vnpt": "Kênh truyền VNPT - Hội trường Tỉnh ủy",
    "viettel": "Kênh truyền Viettel - Hội trường Tỉnh ủy",
    "mobifone": "Kênh truyền MobiFone - Hội trường Tỉnh ủy",
    "fpt": "Kênh truyền FPT Telecom - Hội trường Tỉnh ủy",
}
T0 = 1_765_152_000.0  # 2025-12-08 00:00 UTC


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # http.ca_file must exist at load: the lab writes it
    load_or_create_ca(tmp_path / "var" / "lab")
    return load_settings(REPO / "settings.toml")


def test_each_edge_router_names_its_uplink_circuit(settings: Settings) -> None:
    targets = {t.name: t for t in settings.targets}
    edge = [d for d in SNMP_DEVICES if d.group == "carrier"]
    assert {d.labels["carrier"] for d in edge} == set(CARRIER_TITLES)
    for device in edge:
        opts = targets[device.name].options
        assert isinstance(opts, SnmpOptions)
        carrier = device.labels["carrier"]
        (circuit,) = opts.circuits
        assert circuit.carrier == carrier and circuit.title == CARRIER_TITLES[carrier]
        assert circuit.name == f"{carrier}-hoi-truong"
        # Exactly the lab's uplink (what `netmon lab fail X --mode iface-down` takes down).
        chosen = [
            iface
            for index, iface in enumerate(device.interfaces, start=1)
            if opts.circuit_of(str(index), iface.name, iface.descr, iface.alias) is circuit
        ]
        assert [i.name for i in chosen] == [i.name for i in device.interfaces if i.uplink]
        assert "kênh truyền hội trường" in chosen[0].alias


def test_report_has_circuit_rows(settings: Settings) -> None:
    """An hour watched, the Viettel circuit down for 6 minutes of it: the carrier rows count
    it, the circuit rows carry its display name."""
    start, end = T0, T0 + 3600
    coverage = {t.name: [(start, end)] for t in settings.targets}
    subject = circuit_subject("viettel-edge-router", "viettel-hoi-truong")
    outage = Outage(
        target=subject,
        start=start + 600,
        end=start + 960,
        reason="circuit_down",
        detail="ge-0/0/0 oper down",
        group="carrier",
        labels={"carrier": "viettel", "circuit": "viettel-hoi-truong"},
        phase=None,
        maintenance=None,
    )
    report = build(settings, [outage], [], coverage=coverage, since=start, until=end, now=end + 60)
    section = next(s for s in report.sections if s.key == "range")
    circuits = {r.name: r for r in section.rows if r.kind == "circuit"}
    assert set(circuits) == {
        circuit_subject(f"{c}-edge-router", f"{c}-hoi-truong") for c in CARRIER_TITLES
    }
    assert circuits[subject].figures.downtime_seconds == pytest.approx(360)
    viettel = {name: f for name, f, _ in section.by("carrier")}["viettel"]
    assert viettel.downtime_seconds == pytest.approx(360)
    page = "\n".join(to_html(report, "vi"))
    for title in CARRIER_TITLES.values():
        assert title in page
