"""The availability report against a ledger this test writes, outage by outage, to the second.

Two phases (the provincial congress, then the days after it), four targets, one target since
removed from the settings, a maintenance window from the settings and one the engine no
longer knows. Every figure below is worked out by hand from the outages.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerts import db
from alerts.model import Outage
from monitor.config import Settings, load_settings
from monitor.config.access import Principal
from monitor.report import build as report
from monitor.runtime.service import Service
from monitor.web.app import make_app


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


P1_START, P1_END = "2025-10-14T00:00:00+00:00", "2025-10-16T11:00:00+00:00"  # 07:00, 18:00 +07
P2_END = "2025-10-20T00:00:00+00:00"
NOW = "2025-10-19T12:00:00+00:00"  # the second phase is in progress
P1 = ts(P1_END) - ts(P1_START)  # 59 h
P2_SO_FAR = ts(NOW) - ts(P1_END)  # 73 h

SETTINGS = f"""
[server]
state_dir = "{{state}}"

[[phases]]
name = "dai-hoi-tinh"
title = "Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk lần thứ XVIII"
start = {P1_START}
end = {P1_END}

[[phases]]
name = "sau-dai-hoi"
title = "Sau Đại hội"
start = {P1_END}
end = {P2_END}

[[targets]]
name = "viettel-uplink"
kind = "icmp"
host = "127.0.2.2"
group = "carrier"
labels = {{ carrier = "viettel" }}

[[targets]]
name = "vnpt-uplink"
kind = "icmp"
host = "127.0.2.1"
group = "carrier"
labels = {{ carrier = "vnpt" }}

[[targets]]
name = "venue-switch"
kind = "icmp"
host = "127.0.2.21"
group = "venue"

[[targets]]
name = "cong-thong-tin"
kind = "http"
url = "http://127.0.1.1:8080/"
group = "website"

[[alerts.maintenance]]
name = "bao-tri-vnpt"
match = {{ target = ["vnpt-uplink"] }}
start = 2025-10-15T01:00:00+00:00
end = 2025-10-15T03:00:00+00:00
comment = "Nâng cấp thiết bị VNPT"

[[access.tokens]]
name = "viettel"
role = "operator"
scope = {{ carrier = "viettel" }}
sha256 = "{hashlib.sha256(b"viettel-token").hexdigest()}"

[[access.tokens]]
name = "noc"
role = "noc"
sha256 = "{hashlib.sha256(b"noc-token").hexdigest()}"
"""


def outage(
    target: str, start: str, end: str | None, *, group: str = "carrier", **more: Any
) -> Outage:
    labels = {"viettel-uplink": {"carrier": "viettel"}, "vnpt-uplink": {"carrier": "vnpt"}}
    return Outage(
        target=target,
        group=group,
        labels=labels.get(target, {}),
        start=ts(start),
        end=ts(end) if end else None,
        reason=more.get("reason", "timeout"),
        detail="no answer",
        phase=more.get("phase"),
        maintenance=more.get("maintenance"),
    )


LEDGER = [
    # viettel: 10 min in the congress, then one across the phase boundary (30 + 45 min).
    outage("viettel-uplink", "2025-10-14T02:00:00+00:00", "2025-10-14T02:10:00+00:00"),
    outage("viettel-uplink", "2025-10-16T10:30:00+00:00", "2025-10-16T11:45:00+00:00"),
    # vnpt: one inside its maintenance window, one that outlasts it by 20 min.
    outage(
        "vnpt-uplink",
        "2025-10-15T01:30:00+00:00",
        "2025-10-15T02:00:00+00:00",
        maintenance="bao-tri-vnpt",
    ),
    outage(
        "vnpt-uplink",
        "2025-10-15T02:30:00+00:00",
        "2025-10-15T03:20:00+00:00",
        maintenance="bao-tri-vnpt",
    ),
    # the venue switch: in an API window the engine has since forgotten (counts as maintenance)
    outage(
        "venue-switch",
        "2025-10-14T05:00:00+00:00",
        "2025-10-14T05:01:00+00:00",
        group="venue",
        maintenance="api-da-het-han",
    ),
    # a website down since the 19th, still down "now"
    outage("cong-thong-tin", "2025-10-19T00:00:00+00:00", None, group="website", reason="status"),
    # a target removed from the settings since
    outage("old-site", "2025-10-14T03:00:00+00:00", "2025-10-14T03:01:40+00:00", group="website"),
    # before the first phase: in no section
    outage("viettel-uplink", "2025-10-01T00:00:00+00:00", "2025-10-01T01:00:00+00:00"),
]


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[tuple[Settings, Path]]:
    state = tmp_path / "state"
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.replace("{state}", str(state)), encoding="utf-8")
    settings = load_settings(path)
    handle = db.AlertDB(state / "alerts.sqlite")
    handle.start()
    for o in LEDGER:
        await handle.run(db.outage_open(dataclasses.replace(o, end=None)))
        if o.end is not None:
            await handle.run(db.outage_close(o.target, o.start, o.end))
    await handle.close()
    yield settings, path


def built(settings: Settings, **kw: Any) -> report.Report:
    return report.build(
        settings,
        LEDGER,
        report.settings_windows(settings),
        now=ts(NOW),
        **kw,
    )


def row(section: report.Section, name: str) -> report.Figures:
    return next(r.figures for r in section.rows if r.name == name)


async def test_figures_to_the_second(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings)
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

    switch = row(p1, "venue-switch")  # an API window that is gone: the outage is maintenance
    assert (switch.outages, switch.downtime_seconds, switch.maintenance_seconds) == (0, 0, 60)
    assert switch.availability == 100.0
    assert rep.unknown_windows == ("api-da-het-han",)

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
    assert p1.total.outages == 2 + 1 + 1


async def test_phase_and_filters(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    assert [s.key for s in rep.sections] == ["dai-hoi-tinh"]
    rep = built(settings, phase="dai-hoi-tinh", carrier="vnpt")
    assert [r.name for r in rep.sections[0].rows] == ["vnpt-uplink"]
    rep = built(settings, since=ts("2025-10-14T02:05:00+00:00"), until=ts(P1_END))
    assert row(rep.sections[0], "viettel-uplink").downtime_seconds == 300 + 1800
    viettel = Principal("viettel", "operator", {"carrier": ("viettel",)})
    rep = built(settings, principal=viettel)
    for section in rep.sections:
        assert {r.name for r in section.rows} == {"viettel-uplink"}
        assert [n for n, _, _ in section.by("carrier")] == ["viettel"]
    assert rep.unknown_windows == ()  # not even the name of another target's window
    with pytest.raises(report.ReportError, match="no phase is named"):
        built(settings, phase="khong-co")
    with pytest.raises(report.ReportError, match="ends before it starts"):
        built(settings, since=ts(P1_END), until=ts(P1_START))


async def test_csv_json_html(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    data = report.to_csv(rep, "vi")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Giai đoạn", "Từ (UTC)", "Đến (UTC)"]
    assert "Khả dụng (%)" in rows[0]
    by_name = {r[4]: r for r in rows[1:] if r[3] == "đối tượng"}
    col = rows[0].index("Khả dụng (%)")
    assert by_name["viettel-uplink"][col] == "98.87"
    assert by_name["vnpt-uplink"][rows[0].index("Thời gian bảo trì (giây)")] == "7200"
    english = list(csv.reader(io.StringIO(report.to_csv(rep, "en").decode("utf-8-sig"))))
    assert english[0][8] == "availability_percent"

    doc = report.to_json(rep)
    json.dumps(doc, allow_nan=False)
    section = doc["sections"][0]
    assert section["start"] == "2025-10-14T00:00:00Z" and section["phase"] == "dai-hoi-tinh"
    target = next(t for t in section["targets"] if t["name"] == "viettel-uplink")
    assert target["availability_percent"] == 98.87 and target["mttr_seconds"] == 1200
    assert [o["downtime_seconds"] for o in target["outage_list"]] == [600, 1800]

    page, style = report.to_html(rep, "vi")
    assert "Báo cáo khả dụng" in page and "Theo nhà mạng" in page
    assert page.count("<svg") == 2  # one chart per carrier
    assert "<script" not in page and not re.search(r"\son[a-z]+=", page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@page { size: A4" in page and style.startswith("sha256-")
    assert "98.870 %" in page and "14/10/2025 07:00:00" in page  # shown in Asia/Ho_Chi_Minh


async def test_cli(ledger: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, path = ledger
    argv = ["--config", str(path), "--phase", "dai-hoi-tinh", "--format", "json"]
    assert report.main([*argv, "--now", NOW]) == 0
    doc = json.loads(capsys.readouterr().out)
    target = next(t for t in doc["sections"][0]["targets"] if t["name"] == "vnpt-uplink")
    assert target["availability_percent"] == 99.415
    out = path.parent / "r.html"
    args = ["--config", str(path), "--from", P1_START, "--to", NOW, "--format", "html"]
    assert report.main([*args, "-o", str(out), "--now", NOW]) == 0
    assert "Toàn kỳ báo cáo" in out.read_text(encoding="utf-8")
    assert report.main(["--config", str(path), "--phase", "khong-co"]) == 2
    assert "no phase is named" in capsys.readouterr().err


async def test_api_report_scoped(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    service = Service(settings)
    await service.start()
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            noc = {"Authorization": "Bearer noc-token"}
            viettel = {"Authorization": "Bearer viettel-token"}
            resp = await client.get("/api/v1/report?phase=dai-hoi-tinh", headers=noc)
            assert resp.status == 200, await resp.text()
            doc = await resp.json()
            figures = {t["name"]: t for t in doc["sections"][0]["targets"]}
            assert figures["viettel-uplink"]["downtime_seconds"] == 2400
            assert figures["vnpt-uplink"]["maintenance_seconds"] == 7200
            resp = await client.get("/api/v1/report?phase=dai-hoi-tinh", headers=viettel)
            text = await resp.text()
            assert "vnpt" not in text and "venue-switch" not in text and "old-site" not in text
            mine = json.loads(text)["sections"][0]
            assert [c["name"] for c in mine["carriers"]] == ["viettel"]
            resp = await client.get(
                "/api/v1/report?phase=dai-hoi-tinh&format=csv&lang=en", headers=viettel
            )
            body = await resp.read()
            assert resp.headers["Content-Type"].startswith("text/csv")
            assert body.startswith(b"\xef\xbb\xbf") and b"vnpt" not in body
            resp = await client.get("/api/v1/report?format=html", headers=noc)
            assert resp.status == 200
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src" not in csp and "'sha256-" in csp
            assert (await client.get("/api/v1/report?phase=x", headers=noc)).status == 400
            assert (await client.get("/api/v1/report?format=pdf", headers=noc)).status == 400
            assert (await client.get("/api/v1/report")).status == 401
            # The ledger through /api/v1/outages: phase filter, carrier filter, scope.
            resp = await client.get("/api/v1/outages?phase=sau-dai-hoi", headers=noc)
            names = [o["target"] for o in (await resp.json())["outages"]]
            assert names == ["viettel-uplink", "cong-thong-tin"]
            resp = await client.get("/api/v1/outages?carrier=vnpt", headers=noc)
            assert len((await resp.json())["outages"]) == 2
            resp = await client.get("/api/v1/outages?target=vnpt-uplink", headers=viettel)
            assert (await resp.json())["outages"] == []
    finally:
        await service.aclose()
