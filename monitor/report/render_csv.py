"""The report as CSV: UTF-8 with a BOM, so that a spreadsheet opens it with its diacritics; one
line per section and level (total, carrier, group, target); times in the report's zone with
their offset (``2025-10-14T07:00:00+07:00``: local, and still exact), seconds and percent as
plain numbers; the head in Vietnamese or English (monitor/core/i18n.py). After each section's
targets come its outages (level "outage": the target, the outage's counted downtime and
maintenance time, its start and end, the NOC's note and who wrote it), and after every
section the maintenance windows the report lists (level "maintenance": the window's name, its
maintenance time, start, end, comment and author).

Text cells (section, level, names, group, carrier) that a spreadsheet would read as a formula
are neutralised as OWASP advises, with a leading single quote; the figures netmon computes are
written by ``number()`` and stay numbers, even when negative."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.core.i18n import Lang, note_words, report_csv_head, report_csv_more, report_level
from monitor.report.model import Figures, Report

__all__ = ["number", "text", "to_csv"]

# What makes a spreadsheet evaluate a cell (OWASP "CSV injection"): a formula sign, or a tab or
# carriage return that some importers strip before looking for one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def number(value: float | None) -> str:
    """To the millisecond, without trailing zeros (``98.87``, ``7200``); None is empty."""
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def text(value: str) -> str:
    """A text cell: one that would start a formula gets a leading single quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(report: Report, lang: Lang = "vi") -> bytes:
    zone = ZoneInfo(report.zone)

    def local(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).astimezone(zone).isoformat(timespec="seconds")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head_row = report_csv_head(lang)
    writer.writerow([*head_row, *report_csv_more(lang)])
    nw = note_words(lang)
    blank = [""] * (len(head_row) - 7)
    for s in report.sections:
        head = [text(s.key if s.key != "range" else ""), local(s.start), local(s.end)]
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
                    text(report_level(level, lang)),
                    text(name),
                    text(grp),
                    text(carrier),
                    n,
                    number(f.availability),
                    f.outages,
                    number(f.downtime_seconds),
                    number(f.longest_seconds),
                    number(f.mttr_seconds),
                    number(f.maintenance_seconds),
                    number(f.maintenance_downtime_seconds),
                    number(f.scheduled_seconds),
                    number(f.period_seconds),
                    number(f.watched_seconds),
                    number(f.unwatched_seconds),
                    number(f.coverage),
                    "",
                    "",
                    "",
                    "",
                ]
            )
        pieces = sorted(
            ((r, p) for r in s.rows for p in r.pieces), key=lambda rp: rp[1].outage.start
        )
        for row, piece in pieces:
            o = piece.outage
            note = o.note or {}
            cells: list[str | int] = [
                *head,
                text(nw["level_outage"]),
                text(row.name),
                text(row.group),
                text(row.carrier or ""),
                *blank,
            ]
            cells[7] = cells[9] = 1  # one target, one outage
            cells[10] = number(piece.seconds)  # downtime counted
            cells[14] = number(piece.maintenance_seconds)  # down in maintenance
            cells += [
                local(o.start),
                local(o.end) if o.end is not None else "",
                text(str(note.get("text", ""))),
                text(str(note.get("by", ""))),
            ]
            writer.writerow(cells)
    for line in report.windows:
        w = line.window
        first = report.sections[0]
        wcells: list[str | int] = [
            text(first.key if first.key != "range" else ""),
            local(first.start),
            local(first.end),
            text(nw["level_maintenance"]),
            text(w.name),
            "",
            "",
            *blank,
        ]
        wcells[13] = number(line.seconds)  # maintenance
        wcells += [local(w.span[0]), local(w.span[1]), text(w.comment), text(w.author)]
        writer.writerow(wcells)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
