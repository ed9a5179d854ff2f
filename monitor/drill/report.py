"""The drill report: Markdown for people, JSON for the record (bench/results/drill-*.{md,json})."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _t(at: float | None) -> str:
    if at is None:
        return "—"
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3]


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def markdown(records: list[dict[str, Any]]) -> str:
    lines = ["# netmon drill report", ""]
    for rec in records:
        lines += [f"## {rec['scenario']}", ""]
        lines.append(
            f"Time-to-alert goal: {rec['time_to_alert_goal_s']:g} s. "
            f"Ran {_t(rec['started'])} – {_t(rec['finished'])} UTC."
        )
        lines += ["", "| fault | subject | at (UTC) | detail |", "|---|---|---|---|"]
        for f in rec["faults"]:
            lines.append(f"| {f['action']} | {f['subject']} | {_t(f['at'])} | {f['detail']} |")
        lines += [
            "",
            "| alert | target | receiver | fired | resolved | time to alert |",
            "|---|---|---|---|---|---|",
        ]
        for a in rec["alerts"]:
            lines.append(
                f"| {a['alertname']} | {a['target']} | {a['receiver']} | {_t(a['fired'])} "
                f"| {_t(a['resolved'])} | {_s(a['time_to_alert'])} |"
            )
        lines += [
            "",
            "Pages per receiver (a page brings a new alert; updates and resolutions apart):",
            "",
        ]
        for receiver, counts in rec["pages_per_receiver"].items():
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            lines.append(f"- {receiver}: {parts}")
        if rec["held"]:
            lines += ["", "Held (not paged) during the outage:", ""]
            lines += [f"- {t}: {why}" for t, why in sorted(rec["held"].items())]
        lines += ["", "Missed or wrong: " + ("none" if not rec["missed"] else ""), ""]
        lines += [f"- {m}" for m in rec["missed"]]
        if rec.get("notes"):
            lines += ["", *[f"Note: {n}" for n in rec["notes"]]]
        lines.append("")
    return "\n".join(lines)


def write(records: list[dict[str, Any]], stem: Path) -> tuple[Path, Path]:
    """``stem``.md and ``stem``.json; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    md.write_text(markdown(records), encoding="utf-8")
    js.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return md, js
