"""The availability report's test ledger: two phases (the provincial congress, then the days
after it), four targets, one target since removed from the settings, a maintenance window from
the settings and one the engine no longer knows. The figures the report tests assert are worked
out by hand from these outages (tests/report/)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts import db
from alerts.model import Outage
from monitor.config import Settings, load_settings
from monitor.report.build import build, settings_windows
from monitor.report.model import Figures, Report, Section

__all__ = [
    "COVERAGE",
    "LEDGER",
    "NOW",
    "P1",
    "P1_END",
    "P1_START",
    "P2_END",
    "P2_SO_FAR",
    "SETTINGS",
    "SWITCH_GAP",
    "built",
    "figures",
    "outage",
    "ts",
    "write_ledger",
]


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
    # the venue switch down 05:00-07:00 on the 15th, while netmon was stopped until 06:00 (below)
    outage("venue-switch", "2025-10-15T05:00:00+00:00", "2025-10-15T07:00:00+00:00", group="venue"),
]

# When netmon watched (alerts/coverage.py): every target from well before the first phase to
# "now", but the venue switch not from 00:00 to 06:00 on the 15th (its netmon was stopped).
WATCHED_FROM = "2025-09-01T00:00:00+00:00"
SWITCH_GAP = ("2025-10-15T00:00:00+00:00", "2025-10-15T06:00:00+00:00")
COVERAGE: dict[str, list[tuple[float, float]]] = {
    **{
        name: [(ts(WATCHED_FROM), ts(NOW))]
        for name in ("viettel-uplink", "vnpt-uplink", "cong-thong-tin", "old-site")
    },
    "venue-switch": [(ts(WATCHED_FROM), ts(SWITCH_GAP[0])), (ts(SWITCH_GAP[1]), ts(NOW))],
}


async def write_ledger(directory: Path) -> tuple[Settings, Path]:
    """The settings (their path under ``directory``) and a real ledger holding LEDGER."""
    state = directory / "state"
    path = directory / "settings.toml"
    path.write_text(SETTINGS.replace("{state}", str(state)), encoding="utf-8")
    settings = load_settings(path)
    handle = db.AlertDB(state / "alerts.sqlite")
    handle.start()
    for o in LEDGER:
        await handle.run(db.outage_open(dataclasses.replace(o, end=None)))
        if o.end is not None:
            await handle.run(db.outage_close(o.target, o.start, o.end))
    rows = [(name, a, b) for name, spans in COVERAGE.items() for a, b in spans]
    await handle.run(lambda conn: conn.executemany("INSERT INTO coverage VALUES (?, ?, ?)", rows))
    await handle.close()
    return settings, path


def built(settings: Settings, *, now: str = NOW, **kw: Any) -> Report:
    """The report over LEDGER and the settings' windows, "now" in the second phase."""
    kw.setdefault("coverage", COVERAGE)
    return build(settings, LEDGER, settings_windows(settings), now=ts(now), **kw)


def figures(section: Section, name: str) -> Figures:
    return next(r.figures for r in section.rows if r.name == name)
