"""The report over a hand-built ledger with a coverage gap, a circuit, two BGP peers (one
seen only later), a note and an API maintenance window that has ended: every figure worked
out by hand, to the second, then the same ledger written to SQLite and read back as
``netmon report`` reads it, and the note and the window in JSON, CSV, XLSX and HTML.

The day: 00:00-10:00 UTC (36,000 s). netmon watched the router 00:00-04:00 and 05:00-10:00
(a gap of an hour: 32,400 s watched).

- the Viettel uplink (circuit) down 02:00-02:30: 1,800 s, with a note;
- BGP peer 10.0.0.1 (seen from 00:00) down 03:30-05:30: 3,600 s counted (04:00-05:00 was
  not watched: neither up nor down);
- BGP peer 10.0.0.2 (first seen 06:00) down 07:00-07:20, inside the window "bao-tri-bgp"
  (07:00-08:00, made through the API by noc-ca and ended): 0 s down, 1,200 s down in
  maintenance, 3,600 s of maintenance, watched 06:00-10:00 only (14,400 s: low coverage).

Carrier Viettel = router + circuit + two peers (target-time): watched 3 x 32,400 + 14,400 =
111,600; maintenance 3,600; down 1,800 + 3,600 = 5,400; availability (108,000 - 5,400) /
108,000 = 95 % exactly, where the router alone says 100 %.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook

from alerts import db
from alerts.model import MaintenanceWindow, Outage
from monitor.config import Settings, load_settings
from monitor.report.build import build, read_ledger, read_subjects
from monitor.report.html import to_html
from monitor.report.model import Report
from monitor.report.render_csv import to_csv
from monitor.report.render_json import to_json
from monitor.report.render_xlsx import to_xlsx
from tests.support.report import ts

DAY = (ts("2025-10-14T00:00:00+00:00"), ts("2025-10-14T10:00:00+00:00"))
GAP = (ts("2025-10-14T04:00:00+00:00"), ts("2025-10-14T05:00:00+00:00"))
ROUTER = "viettel-edge-router"
CIRCUIT = f"{ROUTER}/viettel-uplink"
PEER1, PEER2 = f"{ROUTER}/bgp:10.0.0.1", f"{ROUTER}/bgp:10.0.0.2"
NOTE = {"text": "Đứt cáp quang <Km 12> & hàn lại", "by": "noc", "at": "2025-10-14T02:10:00Z"}
COVERAGE = {ROUTER: [(DAY[0], GAP[0]), (GAP[1], DAY[1])]}
SUBJECTS = [
    (PEER1, ROUTER, "bgp", DAY[0]),
    (PEER2, ROUTER, "bgp", ts("2025-10-14T06:00:00+00:00")),
    ("gone-router/bgp:10.9.9.9", "gone-router", "bgp", DAY[0]),  # a device no longer there
]
WINDOW = MaintenanceWindow.at(
    "bao-tri-bgp",
    {"peer": ["10.0.0.2"]},
    ts("2025-10-14T07:00:00+00:00"),
    ts("2025-10-14T08:00:00+00:00"),
    "Nâng cấp phần mềm bộ định tuyến",
    "noc-ca",
)
ELSEWHERE = MaintenanceWindow.at(  # selects none of the report's rows: not listed
    "khac", {"target": ["khac"]}, DAY[0], DAY[1], "", "noc"
)


def settings_of(tmp_path: Path) -> Settings:
    path = tmp_path / "s.toml"
    path.write_text(
        f"""
[server]
state_dir = "{tmp_path}/state"

[[targets]]
name = "{ROUTER}"
kind = "snmp"
host = "127.0.3.9"
group = "carrier"
labels = {{ carrier = "viettel" }}
[targets.snmp]
community = "netmon-lab"
bgp = true
[[targets.snmp.circuits]]
name = "viettel-uplink"
ifName = "ge-0/0/0"
carrier = "viettel"
""",
        encoding="utf-8",
    )
    return load_settings(path)


def down(target: str, start: str, end: str, **more: object) -> Outage:
    labels = {"carrier": "viettel", "device": ROUTER}
    if "/bgp:" in target:
        labels["peer"] = target.rsplit(":", 1)[1]
    return Outage(
        target=target,
        group="carrier",
        labels=labels,
        start=ts(start),
        end=ts(end),
        reason="bgp_down" if "/bgp:" in target else "interface_down",
        detail="",
        phase=None,
        maintenance=None,
        **more,  # type: ignore[arg-type]
    )


LEDGER = [
    down(CIRCUIT, "2025-10-14T02:00:00+00:00", "2025-10-14T02:30:00+00:00", id=1, note=NOTE),
    down(PEER1, "2025-10-14T03:30:00+00:00", "2025-10-14T05:30:00+00:00", id=2),
    down(
        PEER2,
        "2025-10-14T07:00:00+00:00",
        "2025-10-14T07:20:00+00:00",
        id=3,
    ),
]


def report_of(settings: Settings, outages: list[Outage], windows: list[MaintenanceWindow],
              coverage: dict[str, list[tuple[float, float]]],
              subjects: list[tuple[str, str, str, float]]) -> Report:  # fmt: skip
    return build(
        settings,
        outages,
        windows,
        coverage=coverage,
        subjects=subjects,
        since=DAY[0],
        until=DAY[1],
        now=DAY[1] + 3600,
    )


def check_figures(rep: Report) -> None:
    [section] = rep.sections
    rows = {r.name: r for r in section.rows}
    assert set(rows) == {ROUTER, CIRCUIT, PEER1, PEER2}  # the gone device's peer: no row
    router = rows[ROUTER].figures
    assert (router.watched_seconds, router.unwatched_seconds) == (32400, 3600)
    assert router.availability == 100.0 and router.coverage == 90.0

    circuit = rows[CIRCUIT].figures
    assert circuit.downtime_seconds == 1800 and circuit.watched_seconds == 32400
    assert circuit.availability == round(30600 / 32400 * 100, 3) == 94.444

    peer1 = rows[PEER1]
    assert peer1.kind == "bgp" and peer1.carrier == "viettel"
    assert peer1.figures.downtime_seconds == 3600  # 1800 before the gap, 1800 after it
    assert peer1.figures.longest_seconds == 3600
    assert peer1.figures.availability == round(28800 / 32400 * 100, 3) == 88.889

    peer2 = rows[PEER2].figures
    assert peer2.watched_seconds == 14400  # from 06:00, when the ledger first saw it
    assert peer2.maintenance_seconds == 3600
    assert peer2.maintenance_downtime_seconds == 1200
    assert (peer2.downtime_seconds, peer2.outages) == (0, 0)
    assert peer2.availability == 100.0 and peer2.coverage == 40.0 and peer2.low_coverage

    [(name, viettel, members)] = section.by("carrier")
    assert name == "viettel" and len(members) == 4
    assert viettel.watched_seconds == 3 * 32400 + 14400
    assert viettel.maintenance_seconds == 3600 and viettel.downtime_seconds == 5400
    assert viettel.availability == 95.0

    assert [(w.window.name, w.window.author, w.seconds) for w in rep.windows] == [
        ("bao-tri-bgp", "noc-ca", 3600)
    ]
    assert rep.names.target(PEER1, "vi") == f"{ROUTER} · BGP 10.0.0.1"


def test_the_arithmetic_with_a_gap_a_circuit_peers_a_note_and_a_window(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    rep = report_of(settings, LEDGER, [WINDOW, ELSEWHERE], COVERAGE, SUBJECTS)
    check_figures(rep)
    # Without the ledger's subjects (a peer that never went down would have no row), a peer
    # with an outage is still a peer of its device, watched as the device.
    bare = report_of(settings, LEDGER, [WINDOW], COVERAGE, [])
    rows = {r.name: r for r in bare.sections[0].rows}
    assert rows[PEER1].kind == "bgp" and rows[PEER1].figures.availability == 88.889
    assert rows[PEER2].figures.watched_seconds == 32400  # from the device's first span


async def test_the_same_ledger_from_sqlite_and_in_every_format(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    path = tmp_path / "state" / "alerts.sqlite"
    handle = db.AlertDB(path)
    handle.start()
    try:
        for o in LEDGER:
            await handle.run(db.outage_open(dataclasses.replace(o, end=None)))
            await handle.run(db.outage_close(o.target, o.start, o.end or 0.0))
        [first] = await handle.run(db.query_outages(CIRCUIT, None, None, None), write=False)
        assert first.id is not None
        await handle.run(db.outage_note(first.id, NOTE))
        # The API's window, made, then ended: kept for the report.
        await handle.run(db.save_maintenance(WINDOW, WINDOW.span[0] - 600))
        await handle.run(db.save_maintenance(ELSEWHERE, DAY[0] - 600))
        for name, device, kind, seen in SUBJECTS:
            await handle.run(db.save_subject(name, device, kind, seen))
            await handle.run(db.save_subject(name, device, kind, seen + 999))  # kept as first
        rows = [(n, a, b) for n, spans in COVERAGE.items() for a, b in spans]
        await handle.run(lambda c: c.executemany("INSERT INTO coverage VALUES (?,?,?)", rows))
    finally:
        await handle.close()

    outages, windows, watched = read_ledger(path, DAY[0], DAY[1])
    assert [w.name for w in windows] == ["khac", "bao-tri-bgp"]
    rep = report_of(settings, outages, windows, watched, read_subjects(path))
    check_figures(rep)

    data = to_json(rep)
    [section] = data["sections"]
    circuit = next(t for t in section["targets"] if t["name"] == CIRCUIT)
    assert circuit["outage_list"][0]["note"] == NOTE
    assert data["maintenance_windows"] == [
        {
            "name": "bao-tri-bgp",
            "match": {"peer": ["10.0.0.2"]},
            "start": "2025-10-14T07:00:00Z",
            "end": "2025-10-14T08:00:00Z",
            "comment": "Nâng cấp phần mềm bộ định tuyến",
            "author": "noc-ca",
            "maintenance_seconds": 3600.0,
        }
    ]

    table = list(csv.reader(io.StringIO(to_csv(rep, "vi").decode("utf-8-sig"))))
    head = table[0]
    assert head[-4:] == ["Bắt đầu (giờ địa phương)", "Kết thúc (giờ địa phương)", "Ghi chú",
                         "Người ghi"]  # fmt: skip
    outage_rows = [r for r in table[1:] if r[3] == "sự cố"]
    assert [r[4] for r in outage_rows] == [CIRCUIT, PEER1, PEER2]
    assert outage_rows[0][-4:] == [
        "2025-10-14T09:00:00+07:00",
        "2025-10-14T09:30:00+07:00",
        NOTE["text"],
        "noc",
    ]
    assert outage_rows[1][head.index("Tổng thời gian sự cố (giây)")] == "3600"
    [window_row] = [r for r in table[1:] if r[3] == "bảo trì"]
    assert window_row[4] == "bao-tri-bgp"
    assert window_row[head.index("Thời gian bảo trì (giây)")] == "3600"
    assert window_row[-2:] == ["Nâng cấp phần mềm bộ định tuyến", "noc-ca"]

    book = load_workbook(io.BytesIO(to_xlsx(rep, "en")))
    outages_sheet = [tuple(r) for r in book["Outages"].iter_rows(values_only=True)]
    note_col = outages_sheet[0].index("Note")
    assert outages_sheet[1][note_col] == NOTE["text"]
    windows_sheet = [tuple(r) for r in book["Maintenance"].iter_rows(values_only=True)]
    assert windows_sheet[1][0] == "bao-tri-bgp" and windows_sheet[1][4] == "noc-ca"
    assert windows_sheet[1][5] == timedelta(hours=1)  # an Excel duration, read back

    page, _ = to_html(rep, "vi")
    assert "Đứt cáp quang &lt;Km 12&gt; &amp; hàn lại" in page  # escaped, never markup
    assert "<Km 12>" not in page
    assert "Các lịch bảo trì trong kỳ" in page and "noc-ca" in page
    english, _ = to_html(rep, "en")
    assert "Maintenance windows in the period" in english


def test_a_window_on_the_device_covers_its_circuits_and_peers(tmp_path: Path) -> None:
    """``target = viettel-edge-router`` mutes the router's alerts, its circuits' and its
    peers' (the engine matches them with the device's labels): the report counts the same
    window as maintenance for each of their rows. 02:00-02:30 covers the uplink's outage."""
    settings = settings_of(tmp_path)
    window = MaintenanceWindow.at(
        "thay-module",
        {"target": [ROUTER]},
        ts("2025-10-14T02:00:00+00:00"),
        ts("2025-10-14T02:30:00+00:00"),
        "Thay module quang",
        "noc",
    )
    rep = report_of(settings, LEDGER, [window], COVERAGE, SUBJECTS)
    rows = {r.name: r.figures for r in rep.sections[0].rows}
    assert rows[CIRCUIT].downtime_seconds == 0
    assert rows[CIRCUIT].maintenance_downtime_seconds == 1800
    assert {n: f.maintenance_seconds for n, f in rows.items()} == {
        ROUTER: 1800,
        CIRCUIT: 1800,
        PEER1: 1800,
        PEER2: 0,  # not yet seen at 02:00
    }
    assert [(w.window.name, w.seconds) for w in rep.windows] == [("thay-module", 3 * 1800)]
