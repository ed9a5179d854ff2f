"""The report computed from the test ledger (tests/support/report.py), outage by outage, to the
second: every figure below is worked out by hand from the outages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.config.access import Principal
from monitor.report.build import build, periods, read_ledger
from monitor.report.model import ReportError
from tests.support.report import COVERAGE, NOW, P1, P1_END, P1_START, P2_END, P2_SO_FAR, built, ts
from tests.support.report import figures as row


async def test_figures_to_the_second(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, since=ts(P1_START), until=ts(P2_END))
    keys = [s.key for s in rep.sections]
    assert keys == ["range", "dai-hoi-tinh", "sau-dai-hoi"]
    whole, p1, p2 = rep.sections
    assert p1.end - p1.start == P1 and p2.end - p2.start == P2_SO_FAR
    assert p2.planned_end == ts(P2_END)

    viettel = row(p1, "viettel-uplink")
    assert viettel.outages == 2
    assert viettel.downtime_seconds == 600 + 1800  # the second one only up to the boundary
    assert viettel.longest_seconds == 1800
    assert viettel.mttr_seconds == 1200
    assert viettel.maintenance_seconds == 0
    assert viettel.availability == round((P1 - 2400) / P1 * 100, 3) == 98.870

    vnpt = row(p1, "vnpt-uplink")
    assert vnpt.maintenance_seconds == 7200
    assert vnpt.maintenance_downtime_seconds == 1800 + 1800
    assert vnpt.outages == 1  # the one inside the window does not count
    assert vnpt.downtime_seconds == vnpt.longest_seconds == 1200
    assert vnpt.availability == round((P1 - 7200 - 1200) / (P1 - 7200) * 100, 3) == 99.415

    # The venue switch: an API window that is gone makes its first outage maintenance; its
    # second (05:00-07:00 on the 15th) counts only from 06:00, when netmon watched again.
    switch = row(p1, "venue-switch")
    assert (switch.outages, switch.downtime_seconds, switch.maintenance_seconds) == (1, 3600, 60)
    assert switch.watched_seconds == P1 - 6 * 3600 and switch.unwatched_seconds == 6 * 3600
    assert switch.availability == round((P1 - 6 * 3600 - 60 - 3600) / (P1 - 6 * 3600 - 60) * 100, 3)
    assert switch.coverage == round((P1 - 6 * 3600) / P1 * 100, 3) == 89.831
    assert switch.low_coverage  # under 90 %: marked
    assert rep.unknown_windows == ("api-da-het-han",)
    assert viettel.coverage == 100.0 and not viettel.low_coverage

    old = row(p1, "old-site")  # removed from the settings, still in the report
    assert (old.outages, old.downtime_seconds) == (1, 100)
    assert not next(r for r in p1.rows if r.name == "old-site").in_settings

    # The outage across the boundary: its second part is in the second phase.
    viettel2 = row(p2, "viettel-uplink")
    assert (viettel2.outages, viettel2.downtime_seconds) == (1, 2700)
    site = row(p2, "cong-thong-tin")  # still down: counted up to "now"
    assert (site.outages, site.downtime_seconds) == (1, 12 * 3600)
    assert site.availability == round((P2_SO_FAR - 43200) / P2_SO_FAR * 100, 3)

    # The whole range: each outage once, whole (the boundary one is 75 min here).
    assert row(whole, "viettel-uplink").outages == 2
    assert row(whole, "viettel-uplink").downtime_seconds == 600 + 4500

    # Aggregates add target-time.
    carriers = {name: fig for name, fig, _ in p1.by("carrier")}
    assert set(carriers) == {"viettel", "vnpt"}
    groups = {name: fig for name, fig, _ in p1.by("group")}
    carrier = groups["carrier"]
    assert carrier.period_seconds == 2 * P1
    assert (carrier.downtime_seconds, carrier.outages, carrier.longest_seconds) == (3600, 3, 1800)
    assert carrier.availability == round((2 * P1 - 7200 - 3600) / (2 * P1 - 7200) * 100, 3)
    assert [name for name, _, _ in p1.by("group")] == ["carrier", "venue", "website"]
    assert p1.total.outages == 2 + 1 + 1 + 1
    assert p1.total.unwatched_seconds == 6 * 3600


async def test_time_not_watched_is_neither_up_nor_down(ledger: tuple[Settings, Path]) -> None:
    """No data is not uptime: a target never watched has no availability; an outage open
    while netmon was stopped counts only its watched part; a carrier adds watched time."""
    settings, _ = ledger
    rep = built(settings, coverage={}, phase="dai-hoi-tinh")
    for r in rep.sections[0].rows:
        f = r.figures
        assert (f.watched_seconds, f.availability, f.coverage) == (0, None, 0.0), r.name
        assert f.low_coverage and f.downtime_seconds == 0 and f.outages == 0
    # Watched for only the first hour of the congress: viettel's 10-minute outage falls in it.
    first_hour = {"viettel-uplink": [(ts(P1_START), ts(P1_START) + 3600)]}
    rep = built(settings, coverage=first_hour, phase="dai-hoi-tinh")
    viettel = row(rep.sections[0], "viettel-uplink")
    assert viettel.watched_seconds == 3600 and viettel.unwatched_seconds == P1 - 3600
    assert viettel.outages == 0  # 02:00 is after the hour watched (00:00-01:00 UTC)
    assert viettel.availability == 100.0 and viettel.low_coverage
    first_three = {"viettel-uplink": [(ts(P1_START), ts(P1_START) + 3 * 3600)]}
    rep = built(settings, coverage=first_three, phase="dai-hoi-tinh")
    viettel = row(rep.sections[0], "viettel-uplink")
    assert (viettel.outages, viettel.downtime_seconds) == (1, 600)
    assert viettel.availability == round((3 * 3600 - 600) / (3 * 3600) * 100, 3)


async def test_phase_and_filters(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    assert [s.key for s in rep.sections] == ["dai-hoi-tinh"]
    rep = built(settings, phase="dai-hoi-tinh", carrier="vnpt")
    assert [r.name for r in rep.sections[0].rows] == ["vnpt-uplink"]
    assert rep.filters == {"carrier": "vnpt"}
    rep = built(settings, since=ts("2025-10-14T02:05:00+00:00"), until=ts(P1_END))
    assert row(rep.sections[0], "viettel-uplink").downtime_seconds == 300 + 1800
    viettel = Principal("viettel", "operator", {"carrier": ("viettel",)})
    rep = built(settings, principal=viettel)
    for section in rep.sections:
        assert {r.name for r in section.rows} == {"viettel-uplink"}
        assert [n for n, _, _ in section.by("carrier")] == ["viettel"]
    assert rep.unknown_windows == ()  # not even the name of another target's window
    assert rep.scope == "carrier = viettel" and rep.scope_labels == {"carrier": ("viettel",)}
    assert built(settings).scope is None
    with pytest.raises(ReportError, match="no phase is named"):
        built(settings, phase="khong-co")
    with pytest.raises(ReportError, match="ends before it starts"):
        built(settings, since=ts(P1_END), until=ts(P1_START))


async def test_a_phase_not_started_has_no_rows(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, since=ts(P1_START), until=ts(P2_END), now="2025-10-15T00:00:00+00:00")
    later = rep.sections[2]
    assert later.key == "sau-dai-hoi" and later.rows == () and later.end == later.start


def test_periods(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    now = ts(NOW)
    whole = periods(settings, None, ts(P1_START), ts(P2_END), now)
    assert [(k, a, b) for k, _, a, b in whole] == [
        ("range", ts(P1_START), ts(P2_END)),
        ("dai-hoi-tinh", ts(P1_START), ts(P1_END)),
        ("sau-dai-hoi", ts(P1_END), ts(P2_END)),
    ]
    # Asked for nothing: the current phase; after every phase, the last that ended; before
    # any, or with none, the last 7 days (a day after the last phase shows today's outages).
    assert [k for k, *_ in periods(settings, None, None, None, now)] == ["sau-dai-hoi"]
    after = ts("2026-12-04T00:00:00+00:00")
    assert periods(settings, None, None, None, after) == [
        ("sau-dai-hoi", "Sau Đại hội", ts(P1_END), ts(P2_END))
    ]
    before = ts("2025-01-01T00:00:00+00:00")
    assert periods(settings, None, None, None, before) == [
        ("range", "", before - 7 * 86400, before)
    ]
    # A range that cuts the phases: each section is the phase's part of it.
    cut = periods(settings, None, ts("2025-10-16T00:00:00+00:00"), None, now)
    assert cut[0][2:] == (ts("2025-10-16T00:00:00+00:00"), now)
    assert cut[1][2:] == (ts("2025-10-16T00:00:00+00:00"), ts(P1_END))
    with pytest.raises(ReportError, match="does not overlap"):
        periods(settings, "dai-hoi-tinh", ts(P2_END), None, now)
    with pytest.raises(ReportError, match="give the start"):
        periods(settings, None, None, ts(P2_END), now)
    with pytest.raises(ReportError, match="between 1970 and 3000"):
        periods(settings, None, -1.0, ts(P2_END), now)


async def test_read_ledger(ledger: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, _ = ledger
    path = Path(settings.server.state_dir) / "alerts.sqlite"
    outages, windows, watched = read_ledger(path, ts(P1_START), ts(P1_END))
    assert sorted({o.target for o in outages}) == [
        "old-site",
        "venue-switch",
        "viettel-uplink",
        "vnpt-uplink",
    ]
    assert windows == []  # the settings' window is not the API's
    assert watched == {name: list(spans) for name, spans in COVERAGE.items()}
    with pytest.raises(ReportError, match="no outage ledger"):
        read_ledger(tmp_path / "nowhere.sqlite", 0.0, 1.0)


def test_a_carriers_availability_counts_its_circuits(tmp_path: Path) -> None:
    """The Viettel uplink of the venue's router is a row of its own under carrier Viettel,
    titled, watched when its router is: 30 minutes down in a 10-hour day while the router
    answers puts Viettel at 95 %, where the router alone said 100 %."""
    from monitor.config import load_settings
    from tests.support.report import outage

    path = tmp_path / "s.toml"
    path.write_text(
        f"""
[server]
state_dir = "{tmp_path}/state"

[[targets]]
name = "venue-edge-router"
kind = "snmp"
host = "127.0.3.5"
group = "carrier"
[targets.snmp]
community = "netmon-lab"
[[targets.snmp.circuits]]
name = "viettel-uplink"
ifName = "ge-0/0/0"
carrier = "viettel"
title = "Uplink Viettel - kênh truyền hội trường"
""",
        encoding="utf-8",
    )
    settings = load_settings(path)
    day = (ts("2025-10-14T00:00:00+00:00"), ts("2025-10-14T10:00:00+00:00"))
    down = outage("venue-edge-router/viettel-uplink", "2025-10-14T02:00:00+00:00", None)
    down = dataclasses.replace(
        down, end=ts("2025-10-14T02:30:00+00:00"), labels={"carrier": "viettel"}
    )
    rep = build(
        settings,
        [down],
        [],
        coverage={"venue-edge-router": [day]},
        since=day[0],
        until=day[1],
        now=day[1],
    )
    whole = rep.sections[0]
    rows = {r.name: r for r in whole.rows}
    circuit = rows["venue-edge-router/viettel-uplink"]
    assert circuit.kind == "circuit" and circuit.carrier == "viettel"
    assert circuit.figures.watched_seconds == 36000  # watched as its router is
    assert circuit.figures.availability == 95.0
    assert rows["venue-edge-router"].figures.availability == 100.0
    assert {n: f.availability for n, f, _ in whole.by("carrier")} == {"viettel": 95.0}
    assert rep.names.target("venue-edge-router/viettel-uplink", "vi") == (
        "Uplink Viettel - kênh truyền hội trường"
    )
