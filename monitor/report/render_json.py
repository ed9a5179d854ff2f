"""The report as JSON (``netmon report --format json``, ``GET /api/v1/report``): times in UTC
(RFC 3339), seconds to the millisecond, availability in percent to 0.001 %."""

from __future__ import annotations

from typing import Any

from alerts.model import iso
from monitor.report.model import Figures, Report, Section

__all__ = ["figures_json", "to_json"]


def _r(seconds: float) -> float:
    return round(seconds, 3)


def figures_json(f: Figures, goal: float | None = None) -> dict[str, Any]:
    return {
        "availability_percent": f.availability,
        "outages": f.outages,
        "downtime_seconds": _r(f.downtime_seconds),
        "longest_outage_seconds": _r(f.longest_seconds),
        "mttr_seconds": None if f.mttr_seconds is None else _r(f.mttr_seconds),
        "maintenance_seconds": _r(f.maintenance_seconds),
        "maintenance_downtime_seconds": _r(f.maintenance_downtime_seconds),
        "scheduled_seconds": _r(f.scheduled_seconds),
        "period_seconds": _r(f.period_seconds),
        "watched_seconds": _r(f.watched_seconds),
        "unwatched_seconds": _r(f.unwatched_seconds),
        "up_seconds": _r(f.up_seconds),
        "coverage_percent": f.coverage,
        "low_coverage": f.low_coverage,
        "sla_percent": goal,
        "sla_met": f.sla_met(goal),
    }


def _section_json(section: Section, report: Report) -> dict[str, Any]:
    def agg(key: str) -> list[dict[str, Any]]:
        return [
            {"name": name, "targets": len(rows), **figures_json(fig, report.goal(key, name))}
            for name, fig, rows in section.by(key)
        ]

    return {
        "key": section.key,
        "phase": None if section.key == "range" else section.key,
        "title": section.title,
        "start": iso(section.start),
        "end": iso(section.end),
        "planned_end": iso(section.planned_end),
        "total": {
            "targets": len(section.rows),
            **figures_json(section.total, report.goal("total", "")),
        },
        "carriers": agg("carrier"),
        "groups": agg("group"),
        "targets": [
            {
                "name": row.name,
                "group": row.group,
                "kind": row.kind,
                "carrier": row.carrier,
                "labels": dict(row.labels),
                **figures_json(row.figures, report.row_goal(row)),
                "outage_list": [
                    {
                        "start": iso(p.outage.start),
                        "end": iso(p.outage.end),
                        "reason": p.outage.reason,
                        "maintenance": p.outage.maintenance,
                        "downtime_seconds": _r(p.seconds),
                        "maintenance_seconds": _r(p.maintenance_seconds),
                        "ack": p.outage.ack,
                        "id": p.outage.id,
                        "note": p.outage.note,
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
        "maintenance_windows": [
            {
                "name": line.window.name,
                "match": line.window.match,
                "start": iso(line.window.span[0]),
                "end": iso(line.window.span[1]),
                "comment": line.window.comment,
                "author": line.window.author,
                "maintenance_seconds": _r(line.seconds),
            }
            for line in report.windows
        ],
        "sections": [_section_json(s, report) for s in report.sections],
    }
