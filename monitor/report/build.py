"""The availability report: per carrier, per group and per target, for each phase of the plan.

Computed exactly from the outage ledger (alerts/db.py, table ``outages``), never from samples:

- the **period** of a section is a phase ``[start, end)`` or the range asked for, cut at "now"
  while it lasts;
- **maintenance** of a target is the union of the maintenance windows whose match selects its
  labels (``target``, ``group``, ``kind`` and its own), from the settings and from the API; an
  outage the ledger marks as begun in a window that is no longer known (an API window, gone
  once it ended) counts as maintenance for its own length. Maintenance time is taken out of
  the period and shown apart;
- **downtime** is the union of the target's outages (an open one lasts until the period's
  end) inside the period, less maintenance. An outage that crosses a phase boundary counts in
  each phase with its own part;
- **availability** = (period - maintenance - downtime) / (period - maintenance), to 0.001 %;
  **outages** counts those with downtime left in the period; **longest** is the longest such
  part; **MTTR** (mean time to recover) = downtime / outages;
- a carrier (label ``carrier``), a group and the total add their targets' seconds up
  (target-time), so a carrier with two links down half the time each is 50 % available.

Times in JSON and CSV are UTC; the HTML report shows the settings' time zone. The HTML file is
self-contained (inline CSS, one server-side SVG chart per carrier, no script), printable on A4;
the CSV is UTF-8 with a BOM so that a spreadsheet opens it with its diacritics.

``netmon report --phase NAME | --from T --to T [--format html|csv|json]`` reads the ledger of
``[server] state_dir`` read-only (netmon may be running); ``GET /api/v1/report`` is the same,
scoped to the caller.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import math
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from alerts import db
from alerts.model import Outage, iso
from monitor.config import Settings, SettingsError, load_settings
from monitor.config.access import ANONYMOUS_ADMIN, Principal
from monitor.core.i18n import Lang, duration_text, group_key, group_title, language, local_time
from monitor.core.labels import matches

__all__ = [
    "CARRIER_LABEL",
    "Figures",
    "Report",
    "ReportError",
    "Row",
    "Section",
    "Window",
    "build",
    "engine_windows",
    "main",
    "periods",
    "render",
    "settings_windows",
    "to_csv",
    "to_html",
    "to_json",
]

CARRIER_LABEL = "carrier"
Format = Literal["json", "csv", "html"]
FORMATS: tuple[Format, ...] = ("json", "csv", "html")
Span = tuple[float, float]
_LAST = 32503680000.0  # 3000-01-01T00:00:00Z


class ReportError(ValueError):
    """A report that cannot be made as asked (unknown phase, empty range, no ledger)."""


# --------------------------------------------------------------------------- intervals


def union(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start)]


def subtract(spans: Iterable[Span], minus: Sequence[Span]) -> list[Span]:
    """``spans`` less the (merged, sorted) ``minus``."""
    out: list[Span] = []
    for a, b in spans:
        pieces = [(a, b)]
        for c, d in minus:
            nxt: list[Span] = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if c > x:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out.extend(pieces)
    return out


def measure(spans: Iterable[Span]) -> float:
    return sum(b - a for a, b in union(spans))


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Window:
    """A maintenance window: from the settings, or the API's (while the engine keeps it)."""

    name: str
    match: Mapping[str, Sequence[str]]
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Figures:
    period_seconds: float
    maintenance_seconds: float
    downtime_seconds: float
    maintenance_downtime_seconds: float  # outage time left out because it was in maintenance
    outages: int
    longest_seconds: float

    @property
    def scheduled_seconds(self) -> float:
        return self.period_seconds - self.maintenance_seconds

    @property
    def availability(self) -> float | None:
        """Percent, to 0.001 %; None when the whole period was maintenance."""
        scheduled = self.scheduled_seconds
        if scheduled <= 0:
            return None
        return round((scheduled - self.downtime_seconds) / scheduled * 100.0, 3)

    @property
    def mttr_seconds(self) -> float | None:
        return self.downtime_seconds / self.outages if self.outages else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.period_seconds + other.period_seconds,
            self.maintenance_seconds + other.maintenance_seconds,
            self.downtime_seconds + other.downtime_seconds,
            self.maintenance_downtime_seconds + other.maintenance_downtime_seconds,
            self.outages + other.outages,
            max(self.longest_seconds, other.longest_seconds),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "availability_percent": self.availability,
            "outages": self.outages,
            "downtime_seconds": _r(self.downtime_seconds),
            "longest_outage_seconds": _r(self.longest_seconds),
            "mttr_seconds": None if self.mttr_seconds is None else _r(self.mttr_seconds),
            "maintenance_seconds": _r(self.maintenance_seconds),
            "maintenance_downtime_seconds": _r(self.maintenance_downtime_seconds),
            "scheduled_seconds": _r(self.scheduled_seconds),
            "period_seconds": _r(self.period_seconds),
        }


ZERO = Figures(0.0, 0.0, 0.0, 0.0, 0, 0.0)


def _r(seconds: float) -> float:
    return round(seconds, 3)


@dataclass(frozen=True, slots=True)
class Piece:
    """One outage as a section counts it: its downtime parts inside the period."""

    outage: Outage
    downtime: tuple[Span, ...]  # inside the period, outside maintenance
    maintenance: tuple[Span, ...]  # inside the period, inside maintenance

    @property
    def seconds(self) -> float:
        return sum(b - a for a, b in self.downtime)


@dataclass(frozen=True, slots=True)
class Row:
    """A target in a section."""

    name: str
    group: str
    kind: str
    labels: Mapping[str, str]
    figures: Figures
    pieces: tuple[Piece, ...]
    maintenance: tuple[Span, ...]
    in_settings: bool

    @property
    def carrier(self) -> str | None:
        return self.labels.get(CARRIER_LABEL)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # "range" or a phase name
    title: str
    start: float
    end: float  # cut at "now" while the period lasts
    planned_end: float
    rows: tuple[Row, ...]

    def by(self, key: str) -> list[tuple[str, Figures, list[Row]]]:
        """Aggregates by ``carrier`` or ``group``: (name, figures, rows), in display order."""
        groups: dict[str, list[Row]] = {}
        for row in self.rows:
            name = row.carrier if key == "carrier" else row.group
            if name is not None:
                groups.setdefault(name, []).append(row)
        order = sorted(groups, key=group_key) if key == "group" else sorted(groups)
        return [(n, _sum(r.figures for r in groups[n]), groups[n]) for n in order]

    @property
    def total(self) -> Figures:
        return _sum(r.figures for r in self.rows)


def _sum(figures: Iterable[Figures]) -> Figures:
    total = ZERO
    for f in figures:
        total = total + f
    return total


@dataclass(frozen=True, slots=True)
class Report:
    generated: float
    start: float
    end: float
    zone: str
    scope: str | None  # the operator's scope as text, None for noc/admin
    filters: Mapping[str, str]
    sections: tuple[Section, ...]
    unknown_windows: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- computing


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    group: str
    kind: str
    labels: Mapping[str, str]
    in_settings: bool

    @property
    def match_labels(self) -> dict[str, str]:
        return {**self.labels, "target": self.name, "group": self.group, "kind": self.kind}


def _matches(window: Window, labels: dict[str, str]) -> bool:
    return matches({k: list(v) for k, v in window.match.items()}, labels)


def _target_figures(
    target: _Target,
    outages: Sequence[Outage],
    windows: Sequence[Window],
    known: set[str],
    start: float,
    end: float,
    now: float,
) -> Row:
    labels = target.match_labels
    maint = union(
        [(w.start, w.end) for w in windows if _matches(w, labels)]
        + [
            (o.start, o.end if o.end is not None else now)
            for o in outages
            if o.maintenance is not None and o.maintenance not in known
        ]
    )
    maint_in = clip(maint, start, end)
    pieces: list[Piece] = []
    for outage in outages:
        stop = outage.end if outage.end is not None else now
        inside = clip([(outage.start, stop)], start, end)
        if not inside:
            continue
        down = subtract(inside, maint_in)
        muted = clip(maint_in, inside[0][0], inside[0][1])
        pieces.append(Piece(outage, tuple(down), tuple(muted)))
    down_all = union(s for p in pieces for s in p.downtime)
    muted_all = union(s for p in pieces for s in p.maintenance)
    counted = [p for p in pieces if p.seconds > 0]
    figures = Figures(
        period_seconds=end - start,
        maintenance_seconds=measure(maint_in),
        downtime_seconds=measure(down_all),
        maintenance_downtime_seconds=measure(muted_all),
        outages=len(counted),
        longest_seconds=max((p.seconds for p in counted), default=0.0),
    )
    return Row(
        name=target.name,
        group=target.group,
        kind=target.kind,
        labels=dict(target.labels),
        figures=figures,
        pieces=tuple(pieces),
        maintenance=tuple(maint_in),
        in_settings=target.in_settings,
    )


def periods(
    settings: Settings, phase: str | None, since: float | None, until: float | None, now: float
) -> list[tuple[str, str, float, float]]:
    """(key, title, start, planned end) of each section."""
    phases = sorted(settings.phases, key=lambda p: p.start)
    if phase is not None:
        found = next((p for p in phases if p.name == phase), None)
        if found is None:
            names = ", ".join(p.name for p in phases) or "none"
            raise ReportError(f"no phase is named {phase!r} (phases: {names})")
        start = max(found.start.timestamp(), since if since is not None else -math.inf)
        end = min(found.end.timestamp(), until if until is not None else math.inf)
        if end <= start:
            raise ReportError(f"the range asked for does not overlap phase {phase!r}")
        return [(found.name, found.title, start, end)]
    if since is None and until is None:
        if not phases:
            raise ReportError("no phases in the settings: give --from and --to")
        since, until = phases[0].start.timestamp(), phases[-1].end.timestamp()
    if since is None:
        raise ReportError("give the start of the range (from)")
    if until is None:
        until = now
    if until <= since:
        raise ReportError("the range ends before it starts")
    if since < 0 or until > _LAST:
        raise ReportError("the range must lie between 1970 and 3000")
    out = [("range", "", since, until)]
    for p in phases:
        a, b = max(p.start.timestamp(), since), min(p.end.timestamp(), until)
        if b > a:
            out.append((p.name, p.title, a, b))
    return out


def build(
    settings: Settings,
    outages: Sequence[Outage],
    windows: Sequence[Window],
    *,
    principal: Principal = ANONYMOUS_ADMIN,
    phase: str | None = None,
    since: float | None = None,
    until: float | None = None,
    target: str | None = None,
    group: str | None = None,
    carrier: str | None = None,
    now: float | None = None,
) -> Report:
    """The report over ``outages`` (those of the ledger overlapping the periods, any order)
    and ``windows`` (every maintenance window known), scoped to ``principal``."""
    now = time.time() if now is None else now
    spans = periods(settings, phase, since, until, now)
    known_targets: dict[str, _Target] = {
        t.name: _Target(t.name, t.group, t.kind, dict(t.labels), True) for t in settings.targets
    }
    for o in outages:  # a target since removed from the settings still counts
        known_targets.setdefault(o.target, _Target(o.target, o.group, "", dict(o.labels), False))
    chosen = [
        t
        for t in known_targets.values()
        if principal.sees_labels(t.match_labels)
        and (target is None or t.name == target)
        and (group is None or t.group == group)
        and (carrier is None or t.labels.get(CARRIER_LABEL) == carrier)
    ]
    chosen.sort(key=lambda t: (group_key(t.group), t.labels.get(CARRIER_LABEL, ""), t.name))
    by_target: dict[str, list[Outage]] = {}
    for o in sorted(outages, key=lambda o: o.start):
        by_target.setdefault(o.target, []).append(o)
    known_windows = {w.name for w in windows}
    sections = []
    for key, title, start, planned in spans:
        end = min(planned, now)
        if end <= start:
            sections.append(Section(key, title, start, start, planned, ()))
            continue
        rows = tuple(
            _target_figures(t, by_target.get(t.name, []), windows, known_windows, start, end, now)
            for t in chosen
        )
        sections.append(Section(key, title, start, end, planned, rows))
    unknown = sorted(
        {
            o.maintenance
            for t in chosen
            for o in by_target.get(t.name, [])
            if o.maintenance is not None and o.maintenance not in known_windows
        }
    )
    scope = None
    if principal.role == "operator":
        scope = ", ".join(f"{k} = {' | '.join(v)}" for k, v in sorted(principal.scope.items()))
    filters = {
        k: v
        for k, v in (("target", target), ("group", group), ("carrier", carrier))
        if v is not None
    }
    return Report(
        generated=now,
        start=min(s.start for s in sections),
        end=max(s.planned_end for s in sections),
        zone=settings.server.timezone,
        scope=scope,
        filters=filters,
        sections=tuple(sections),
        unknown_windows=tuple(unknown),
    )


def settings_windows(settings: Settings) -> list[Window]:
    return [
        Window(w.name, w.match, w.start.timestamp(), w.end.timestamp())
        for w in settings.alerts.maintenance
    ]


def engine_windows(listed: Iterable[Mapping[str, Any]]) -> list[Window]:
    """Windows from ``AlertEngine.maintenance()`` (settings and API, times as RFC 3339)."""

    def ts(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    return [Window(str(w["name"]), w["match"], ts(w["start"]), ts(w["end"])) for w in listed]


# --------------------------------------------------------------------------- JSON


def _section_json(section: Section) -> dict[str, Any]:
    def agg(key: str) -> list[dict[str, Any]]:
        return [
            {"name": name, "targets": len(rows), **fig.to_json()}
            for name, fig, rows in section.by(key)
        ]

    return {
        "key": section.key,
        "phase": None if section.key == "range" else section.key,
        "title": section.title,
        "start": iso(section.start),
        "end": iso(section.end),
        "planned_end": iso(section.planned_end),
        "total": {"targets": len(section.rows), **section.total.to_json()},
        "carriers": agg("carrier"),
        "groups": agg("group"),
        "targets": [
            {
                "name": row.name,
                "group": row.group,
                "kind": row.kind,
                "carrier": row.carrier,
                "labels": dict(row.labels),
                **row.figures.to_json(),
                "outage_list": [
                    {
                        "start": iso(p.outage.start),
                        "end": iso(p.outage.end),
                        "reason": p.outage.reason,
                        "maintenance": p.outage.maintenance,
                        "downtime_seconds": _r(p.seconds),
                        "maintenance_seconds": _r(sum(b - a for a, b in p.maintenance)),
                    }
                    for p in row.pieces
                ],
            }
            for row in section.rows
        ],
    }


def to_json(report: Report) -> dict[str, Any]:
    return {
        "generated": iso(report.generated),
        "start": iso(report.start),
        "end": iso(report.end),
        "timezone": report.zone,
        "scope": report.scope,
        "filters": dict(report.filters),
        "unknown_maintenance_windows": list(report.unknown_windows),
        "sections": [_section_json(s) for s in report.sections],
    }


# --------------------------------------------------------------------------- CSV

_CSV_HEAD: dict[Lang, list[str]] = {
    "vi": [
        "Giai đoạn",
        "Từ (UTC)",
        "Đến (UTC)",
        "Cấp",
        "Tên",
        "Nhóm",
        "Nhà mạng",
        "Số đối tượng",
        "Khả dụng (%)",
        "Số lần mất kết nối",
        "Tổng thời gian mất kết nối (giây)",
        "Lần mất lâu nhất (giây)",
        "Thời gian khắc phục trung bình (giây)",
        "Thời gian bảo trì (giây)",
        "Thời gian mất kết nối trong bảo trì (giây)",
        "Thời gian tính khả dụng (giây)",
        "Độ dài kỳ (giây)",
    ],
    "en": [
        "phase",
        "from_utc",
        "to_utc",
        "level",
        "name",
        "group",
        "carrier",
        "targets",
        "availability_percent",
        "outages",
        "downtime_seconds",
        "longest_outage_seconds",
        "mttr_seconds",
        "maintenance_seconds",
        "maintenance_downtime_seconds",
        "scheduled_seconds",
        "period_seconds",
    ],
}
_LEVELS: dict[Lang, dict[str, str]] = {
    "vi": {"total": "tổng", "carrier": "nhà mạng", "group": "nhóm", "target": "đối tượng"},
    "en": {"total": "total", "carrier": "carrier", "group": "group", "target": "target"},
}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def to_csv(report: Report, lang: Lang = "vi") -> bytes:
    """UTF-8 with a BOM, one line per section and level; seconds and percent as numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_HEAD[lang])
    levels = _LEVELS[lang]
    for s in report.sections:
        head = [s.key if s.key != "range" else "", iso(s.start) or "", iso(s.end) or ""]
        lines: list[tuple[str, str, str, str, int, Figures]] = [
            ("total", "", "", "", len(s.rows), s.total)
        ]
        lines += [("carrier", n, "", n, len(rows), f) for n, f, rows in s.by("carrier")]
        lines += [("group", n, n, "", len(rows), f) for n, f, rows in s.by("group")]
        lines += [("target", r.name, r.group, r.carrier or "", 1, r.figures) for r in s.rows]
        for level, name, grp, carrier, n, f in lines:
            writer.writerow(
                [
                    *head,
                    levels[level],
                    name,
                    grp,
                    carrier,
                    n,
                    _num(f.availability),
                    f.outages,
                    _num(f.downtime_seconds),
                    _num(f.longest_seconds),
                    _num(f.mttr_seconds),
                    _num(f.maintenance_seconds),
                    _num(f.maintenance_downtime_seconds),
                    _num(f.scheduled_seconds),
                    _num(f.period_seconds),
                ]
            )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- HTML

_H: dict[Lang, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo khả dụng hệ thống mạng và đường truyền",
        "range": "Toàn kỳ báo cáo",
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "scope": "Phạm vi",
        "filters": "Lọc",
        "ongoing": "đang diễn ra, tính đến",
        "not_started": "Giai đoạn chưa bắt đầu.",
        "carriers": "Theo nhà mạng",
        "groups": "Theo nhóm",
        "targets": "Theo đối tượng",
        "outage_list": "Danh sách các lần mất kết nối",
        "name": "Tên",
        "group": "Nhóm",
        "carrier": "Nhà mạng",
        "n": "Số đối tượng",
        "availability": "Khả dụng",
        "outages": "Số lần mất",
        "downtime": "Tổng thời gian mất",
        "longest": "Lần lâu nhất",
        "mttr": "Khắc phục trung bình",
        "maintenance": "Bảo trì (loại trừ)",
        "m_down": "Mất trong bảo trì",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "reason": "Nguyên nhân",
        "counted": "Tính vào kỳ",
        "total": "Tổng cộng",
        "none": "Không có lần mất kết nối nào trong kỳ.",
        "chart": "Biểu đồ",
        "legend_down": "mất kết nối",
        "legend_maint": "bảo trì",
        "method": (
            "Số liệu được tính chính xác từ sổ ghi sự cố (ledger) của netmon: mỗi lần mất kết "
            "nối từ lần đo lỗi đầu tiên đến lần đo đạt đầu tiên. Khả dụng = (thời gian kỳ − "
            "bảo trì − mất kết nối) / (thời gian kỳ − bảo trì). Thời gian bảo trì được loại "
            "trừ và ghi riêng. Một lần mất kết nối kéo dài qua hai giai đoạn được tính vào mỗi "
            "giai đoạn phần nằm trong giai đoạn đó. Số liệu theo nhà mạng và theo nhóm cộng "
            "thời gian của các đối tượng. Giờ hiển thị theo múi giờ"
        ),
        "unknown_windows": (
            "Cửa sổ bảo trì không còn lưu thời gian, tính bằng chính thời gian mất kết nối"
        ),
        "removed": "đã bỏ khỏi cấu hình",
    },
    "en": {
        "title": "Network and link availability report",
        "range": "Whole reporting period",
        "period": "Period",
        "generated": "Generated",
        "scope": "Scope",
        "filters": "Filters",
        "ongoing": "in progress, up to",
        "not_started": "This phase has not started.",
        "carriers": "By carrier",
        "groups": "By group",
        "targets": "By target",
        "outage_list": "Outages",
        "name": "Name",
        "group": "Group",
        "carrier": "Carrier",
        "n": "Targets",
        "availability": "Availability",
        "outages": "Outages",
        "downtime": "Total downtime",
        "longest": "Longest",
        "mttr": "MTTR",
        "maintenance": "Maintenance (excluded)",
        "m_down": "Down in maintenance",
        "start": "Start",
        "end": "End",
        "reason": "Reason",
        "counted": "Counted",
        "total": "Total",
        "none": "No outage in this period.",
        "chart": "Chart",
        "legend_down": "down",
        "legend_maint": "maintenance",
        "method": (
            "Computed exactly from netmon's outage ledger: each outage runs from the first "
            "failed probe to the first good one. Availability = (period − maintenance − "
            "downtime) / (period − maintenance). Maintenance time is excluded and shown apart. "
            "An outage crossing a phase boundary counts in each phase with its own part. "
            "Carriers and groups add up their targets' time. Times are shown in"
        ),
        "unknown_windows": (
            "Maintenance windows whose times are no longer kept, counted as the outage's length"
        ),
        "removed": "removed from the settings",
    },
}

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 10pt;
  color: #111; margin: 0 auto; max-width: 190mm; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 13pt; margin: 14pt 0 4pt; border-bottom: 1.5pt solid #333;
  break-after: avoid; page-break-after: avoid; }
h3 { font-size: 11pt; margin: 10pt 0 3pt; break-after: avoid; page-break-after: avoid; }
p.meta { margin: 1pt 0; color: #333; }
p.note { font-size: 8.5pt; color: #444; }
table { border-collapse: collapse; width: 100%; margin: 3pt 0 8pt; font-size: 9pt; }
th, td { border: 0.5pt solid #999; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.sum td { font-weight: bold; background: #f4f4f4; }
.low { color: #a00; font-weight: bold; }
figure { margin: 4pt 0 10pt; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 9pt; font-weight: bold; margin-bottom: 2pt; }
svg { width: 100%; height: auto; display: block; }
svg text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10px; fill: #111; }
svg .bg { fill: #dff0d8; }
svg .down { fill: #c62828; }
svg .maint { fill: #9e9e9e; }
svg .axis { stroke: #666; stroke-width: 0.5; }
svg .pct { font-weight: bold; }
section.phase { break-before: page; page-break-before: always; }
section.phase:first-of-type { break-before: auto; page-break-before: auto; }
@media screen { body { padding: 12px; } }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} %"


def _chart(section: Section, carrier: str, rows: Sequence[Row], lang: Lang, zone: ZoneInfo) -> str:
    """A timeline per target of one carrier: red where it was down, grey in maintenance."""
    width, left, right, bar, gap, top = 720.0, 190.0, 70.0, 14.0, 6.0, 16.0
    span = max(section.end - section.start, 1e-9)
    inner = width - left - right
    height = top + len(rows) * (bar + gap) + 18.0

    def x(ts: float) -> float:
        return left + (min(max(ts, section.start), section.end) - section.start) / span * inner

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{_e(carrier)}">'
    ]
    for i, row in enumerate(rows):
        y = top + i * (bar + gap)
        parts.append(f'<text x="0" y="{y + bar - 3:.1f}">{_e(row.name[:30])}</text>')
        parts.append(
            f'<rect class="bg" x="{left:.1f}" y="{y:.1f}" width="{inner:.1f}" height="{bar:.0f}"/>'
        )
        for a, b in row.maintenance:
            parts.append(
                f'<rect class="maint" x="{x(a):.2f}" y="{y:.1f}" '
                f'width="{max(x(b) - x(a), 0.6):.2f}" height="{bar:.0f}"/>'
            )
        for piece in row.pieces:
            for a, b in piece.downtime:
                parts.append(
                    f'<rect class="down" x="{x(a):.2f}" y="{y:.1f}" '
                    f'width="{max(x(b) - x(a), 0.6):.2f}" height="{bar:.0f}"/>'
                )
        parts.append(
            f'<text class="pct" x="{width - right + 4:.1f}" y="{y + bar - 3:.1f}">'
            f"{_e(_pct(row.figures.availability))}</text>"
        )
    base = top + len(rows) * (bar + gap)
    parts.append(
        f'<line class="axis" x1="{left:.1f}" y1="{base:.1f}" x2="{left + inner:.1f}" '
        f'y2="{base:.1f}"/>'
    )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        ts = section.start + frac * span
        parts.append(
            f'<text x="{left + frac * inner:.1f}" y="{base + 12:.1f}" text-anchor="{anchor}">'
            f"{_e(local_time(ts, zone, seconds=False))}</text>"
        )
    parts.append(
        f'<text x="{left:.1f}" y="10"><tspan class="down">■</tspan> '
        f"{_e(_H[lang]['legend_down'])}</text>"
    )
    parts.append(
        f'<text x="{left + 110:.1f}" y="10"><tspan class="maint">■</tspan> '
        f"{_e(_H[lang]['legend_maint'])}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _figure_cells(f: Figures, lang: Lang) -> str:
    low = f.availability is not None and f.availability < 99.0
    cls = ' class="n low"' if low else ' class="n"'
    return (
        f"<td{cls}>{_e(_pct(f.availability))}</td>"
        f'<td class="n">{f.outages}</td>'
        f'<td class="n">{_e(duration_text(f.downtime_seconds, lang))}</td>'
        f'<td class="n">{_e(duration_text(f.longest_seconds, lang))}</td>'
        f'<td class="n">{_e(duration_text(f.mttr_seconds, lang) or "—")}</td>'
        f'<td class="n">{_e(duration_text(f.maintenance_seconds, lang))}</td>'
    )


def _head_cells(h: dict[str, str], first: Sequence[str]) -> str:
    cols = [*first, h["availability"], h["outages"], h["downtime"], h["longest"], h["mttr"]]
    cols.append(h["maintenance"])
    return "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"


def to_html(report: Report, lang: Lang = "vi") -> tuple[str, str]:
    """(the document, the SHA-256 CSP source of its one style block)."""
    h = _H[lang]
    zone = ZoneInfo(report.zone)
    out: list[str] = []
    out.append(f"<h1>{_e(h['title'])}</h1>")
    out.append(
        f'<p class="meta">{_e(h["period"])}: {_e(local_time(report.start, zone))} – '
        f"{_e(local_time(report.end, zone))} ({_e(report.zone)})</p>"
    )
    out.append(
        f'<p class="meta">{_e(h["generated"])}: {_e(local_time(report.generated, zone))}</p>'
    )
    if report.scope:
        out.append(f'<p class="meta">{_e(h["scope"])}: {_e(report.scope)}</p>')
    if report.filters:
        text = ", ".join(f"{k} = {v}" for k, v in report.filters.items())
        out.append(f'<p class="meta">{_e(h["filters"])}: {_e(text)}</p>')
    out.append(f'<p class="note">{_e(h["method"])} {_e(report.zone)}.</p>')
    if report.unknown_windows:
        out.append(
            f'<p class="note">{_e(h["unknown_windows"])}: '
            f"{_e(', '.join(report.unknown_windows))}.</p>"
        )
    for s in report.sections:
        out.append('<section class="phase">')
        title = h["range"] if s.key == "range" else f"{s.title or s.key} ({s.key})"
        out.append(f"<h2>{_e(title)}</h2>")
        period = f"{local_time(s.start, zone)} – {local_time(s.planned_end, zone)}"
        if s.end < s.planned_end and s.end > s.start:
            period += f" ({h['ongoing']} {local_time(s.end, zone)})"
        out.append(f'<p class="meta">{_e(period)}</p>')
        if s.end <= s.start:
            out.append(f"<p>{_e(h['not_started'])}</p></section>")
            continue
        carriers = s.by("carrier")
        if carriers:
            out.append(f"<h3>{_e(h['carriers'])}</h3><table>")
            out.append(_head_cells(h, [h["carrier"], h["n"]]))
            for name, fig, rows in carriers:
                out.append(
                    f'<tr><td>{_e(name)}</td><td class="n">{len(rows)}</td>'
                    f"{_figure_cells(fig, lang)}</tr>"
                )
            out.append("</table>")
            for name, _fig, rows in carriers:
                out.append(
                    f"<figure><figcaption>{_e(h['chart'])}: {_e(name)}</figcaption>"
                    f"{_chart(s, name, rows, lang, zone)}</figure>"
                )
        out.append(f"<h3>{_e(h['groups'])}</h3><table>")
        out.append(_head_cells(h, [h["group"], h["n"]]))
        for name, fig, rows in s.by("group"):
            out.append(
                f"<tr><td>{_e(group_title(name, lang))}</td>"
                f'<td class="n">{len(rows)}</td>{_figure_cells(fig, lang)}</tr>'
            )
        out.append(
            f'<tr class="sum"><td>{_e(h["total"])}</td><td class="n">{len(s.rows)}</td>'
            f"{_figure_cells(s.total, lang)}</tr></table>"
        )
        out.append(f"<h3>{_e(h['targets'])}</h3><table>")
        out.append(_head_cells(h, [h["name"], h["group"], h["carrier"]]))
        for row in s.rows:
            name = row.name if row.in_settings else f"{row.name} ({h['removed']})"
            out.append(
                f"<tr><td>{_e(name)}</td><td>{_e(group_title(row.group, lang))}</td>"
                f"<td>{_e(row.carrier or '')}</td>{_figure_cells(row.figures, lang)}</tr>"
            )
        out.append("</table>")
        out.append(f"<h3>{_e(h['outage_list'])}</h3>")
        pieces = sorted(
            ((row, p) for row in s.rows for p in row.pieces), key=lambda rp: rp[1].outage.start
        )
        if not pieces:
            out.append(f"<p>{_e(h['none'])}</p>")
        else:
            out.append(
                "<table><tr>"
                + "".join(
                    f"<th>{_e(c)}</th>"
                    for c in (
                        h["name"],
                        h["start"],
                        h["end"],
                        h["reason"],
                        h["counted"],
                        h["m_down"],
                    )
                )
                + "</tr>"
            )
            for row, p in pieces:
                o = p.outage
                end = local_time(o.end, zone) if o.end is not None else "…"
                muted = sum(b - a for a, b in p.maintenance)
                out.append(
                    f"<tr><td>{_e(row.name)}</td><td>{_e(local_time(o.start, zone))}</td>"
                    f"<td>{_e(end)}</td><td>{_e(o.reason or '')}</td>"
                    f'<td class="n">{_e(duration_text(p.seconds, lang))}</td>'
                    f'<td class="n">{_e(duration_text(muted, lang) if muted else "")}</td></tr>'
                )
            out.append("</table>")
        out.append("</section>")
    style_hash = "sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    doc = (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(h['title'])}</title><style>{_CSS}</style></head><body>"
        + "\n".join(out)
        + "</body></html>\n"
    )
    return doc, style_hash


def render(report: Report, fmt: Format, lang: Lang) -> tuple[bytes, str]:
    """(body, content type)."""
    if fmt == "csv":
        return to_csv(report, lang), "text/csv; charset=utf-8"
    if fmt == "html":
        return to_html(report, lang)[0].encode(), "text/html; charset=utf-8"
    return (
        json.dumps(to_json(report), ensure_ascii=False, indent=1).encode(),
        "application/json; charset=utf-8",
    )


# --------------------------------------------------------------------------- the command


def read_ledger(path: Path, since: float, until: float) -> tuple[list[Outage], list[Window]]:
    """Outages overlapping [since, until) and the API's maintenance windows, read-only."""
    if not path.exists():
        raise ReportError(f"no outage ledger at {path}: is [server] state_dir right?")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        outages: list[Outage] = db.query_outages(None, None, since, until)(conn)
        rows = db.load_maintenance(conn)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read the outage ledger {path}: {exc}") from None
    finally:
        conn.close()
    return outages, [Window(r.name, r.match, r.start, r.end) for r in rows]


def _time(text: str) -> float:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the offset, e.g. 2025-10-14T07:00:00+07:00"
        )
    return when.timestamp()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netmon report",
        description="Availability per carrier, group and target, for each phase, "
        "computed from the outage ledger.",
    )
    p.add_argument("--config", default="settings.toml", help="settings file (TOML)")
    p.add_argument("--phase", help="one phase of the plan, by name")
    p.add_argument("--from", dest="since", type=_time, help="range start, RFC 3339")
    p.add_argument("--to", dest="until", type=_time, help="range end, RFC 3339")
    p.add_argument("--format", choices=FORMATS, default="html")
    p.add_argument("--lang", choices=("vi", "en"), help="default: [server] language")
    p.add_argument("--target", help="only this target")
    p.add_argument("--group", help="only this group")
    p.add_argument("--carrier", help="only this carrier (label carrier)")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument(
        "--now", type=_time, help=argparse.SUPPRESS
    )  # tests and re-runs: "now" for open outages and a phase in progress
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"{args.config}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    now = args.now if args.now is not None else time.time()
    try:
        spans = periods(settings, args.phase, args.since, args.until, now)
        since = min(p[2] for p in spans)
        until = max(p[3] for p in spans)
        path = Path(settings.server.state_dir) / "alerts.sqlite"
        outages, api_windows = read_ledger(path, since, until)
        report = build(
            settings,
            outages,
            settings_windows(settings) + api_windows,
            phase=args.phase,
            since=args.since,
            until=args.until,
            target=args.target,
            group=args.group,
            carrier=args.carrier,
            now=now,
        )
    except ReportError as exc:
        print(f"netmon report: {exc}", file=sys.stderr)
        return 2
    lang = language(args.lang, settings.server.language)
    body, _ = render(report, args.format, lang)
    if args.output:
        Path(args.output).write_bytes(body)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    return 0
