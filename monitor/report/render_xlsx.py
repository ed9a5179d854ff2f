"""The report as an Excel workbook (``--format xlsx``): what a department head's spreadsheet
opens natively, one sheet per level (the totals of each section, carriers, groups, targets,
the outages with the NOC's notes, the maintenance windows with comment and author), Vietnamese
or English headers, numbers as numbers.

Availability and coverage are percentages (the fraction, formatted ``0.000%``); durations are
Excel durations (days, formatted ``[h]:mm:ss``), so they add up in the sheet; times are local
times of the report's zone (Excel has no zones: the zone is named in the header). Text cells
that a spreadsheet would read as a formula get a leading quote, as in the CSV; openpyxl
writes every string as a string, never as a formula, in any case. CPU-bound: the API renders
it in a thread.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from monitor.core.i18n import Lang, group_title, note_words, reason_text, report_xlsx_words
from monitor.report.model import Figures, Piece, Report, Row, Section
from monitor.report.render_csv import text

__all__ = ["XLSX_TYPE", "to_xlsx"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_PERCENT = "0.000%"
_DURATION = "[h]:mm:ss"
_TIME = "dd/mm/yyyy hh:mm:ss"
_HEAD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="E8E8E8")
_LOW = Font(bold=True, color="AA0000")
_LOW_AVAILABILITY = 0.99  # as the HTML report: below this, in red


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 86400.0


def _fraction(percent: float | None) -> float | None:
    return None if percent is None else percent / 100.0


class _Sheet:
    """One sheet: a bold head, then rows; column formats by name."""

    def __init__(self, ws: Worksheet, head: Sequence[str], formats: dict[int, str]) -> None:
        self.ws = ws
        self.formats = formats
        ws.append(list(head))
        for cell in ws[1]:
            cell.font = _HEAD
            cell.fill = _HEAD_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        self.widths = [max(10, min(40, len(h) + 2)) for h in head]

    def add(self, values: Sequence[object], *, low: Iterable[int] = ()) -> None:
        self.ws.append(list(values))
        row = self.ws.max_row
        for col, fmt in self.formats.items():
            self.ws.cell(row=row, column=col + 1).number_format = fmt
        for col in low:
            self.ws.cell(row=row, column=col + 1).font = _LOW
        for i, value in enumerate(values):
            if isinstance(value, str):
                self.widths[i] = max(self.widths[i], min(60, len(value) + 2))

    def finish(self) -> None:
        for i, width in enumerate(self.widths):
            self.ws.column_dimensions[get_column_letter(i + 1)].width = width


def _local(ts: float | None, zone: ZoneInfo) -> datetime | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).replace(tzinfo=None)


def _figure_cells(f: Figures) -> list[object]:
    return [
        _fraction(f.availability),
        f.outages,
        _days(f.downtime_seconds),
        _days(f.longest_seconds),
        _days(f.mttr_seconds),
        _days(f.maintenance_seconds),
        _days(f.watched_seconds),
        _days(f.unwatched_seconds),
        _fraction(f.coverage),
        _days(f.period_seconds),
    ]


def _low_columns(f: Figures, first: int) -> list[int]:
    low = []
    if f.availability is not None and f.availability < _LOW_AVAILABILITY * 100:
        low.append(first)
    if f.low_coverage:
        low.append(first + 8)
    return low


def to_xlsx(report: Report, lang: Lang = "vi") -> bytes:
    w = report_xlsx_words(lang)
    nw = note_words(lang)
    zone = ZoneInfo(report.zone)
    figure_head = [
        w["availability"],
        w["outages"],
        w["downtime"],
        w["longest"],
        w["mttr"],
        w["maintenance"],
        w["watched"],
        w["unwatched"],
        w["coverage"],
        w["period"],
    ]

    def formats(first: int) -> dict[int, str]:
        out = {first + i: _DURATION for i in (2, 3, 4, 5, 6, 7, 9)}
        out[first] = out[first + 8] = _PERCENT
        return out

    book = Workbook()
    summary_ws = book.active
    assert summary_ws is not None
    summary_ws.title = w["sheet_summary"]
    section_head = [w["section"], f"{w['from']} ({report.zone})", f"{w['to']} ({report.zone})"]
    summary = _Sheet(
        summary_ws,
        [*section_head, w["targets_n"], *figure_head],
        {1: _TIME, 2: _TIME} | formats(4),
    )
    sheets = {
        key: _Sheet(book.create_sheet(w[f"sheet_{key}"]), [*section_head, *first, *figure_head], f)
        for key, first, f in (
            ("carriers", [w["carrier"], w["targets_n"]], {1: _TIME, 2: _TIME} | formats(5)),
            ("groups", [w["group"], w["targets_n"]], {1: _TIME, 2: _TIME} | formats(5)),
            (
                "targets",
                [w["name"], w["group"], w["carrier"], w["in_settings"]],
                {1: _TIME, 2: _TIME} | formats(7),
            ),
        )
    }
    outages = _Sheet(
        book.create_sheet(w["sheet_outages"]),
        [
            *section_head,
            w["name"],
            w["start"],
            w["end"],
            w["reason"],
            w["counted"],
            w["m_down"],
            w["maintenance_window"],
            nw["note"],
            nw["note_by"],
        ],
        {1: _TIME, 2: _TIME, 4: _TIME, 5: _TIME, 7: _DURATION, 8: _DURATION},
    )
    windows = _Sheet(
        book.create_sheet(nw["sheet_maintenance"]),
        [
            nw["maintenance_name"],
            f"{w['from']} ({report.zone})",
            f"{w['to']} ({report.zone})",
            nw["maintenance_comment"],
            nw["maintenance_author"],
            nw["maintenance_time"],
        ],
        {1: _TIME, 2: _TIME, 5: _DURATION},
    )
    for line in report.windows:
        window = line.window
        windows.add(
            [
                text(window.name),
                _local(window.span[0], zone),
                _local(window.span[1], zone),
                text(window.comment),
                text(window.author),
                _days(line.seconds),
            ]
        )
    for s in report.sections:
        title = w["range"] if s.key == "range" else f"{s.title or s.key} ({s.key})"
        head: list[object] = [text(title), _local(s.start, zone), _local(s.end, zone)]
        summary.add([*head, len(s.rows), *_figure_cells(s.total)], low=_low_columns(s.total, 4))
        for name, fig, rows in s.by("carrier"):
            sheets["carriers"].add(
                [*head, text(name), len(rows), *_figure_cells(fig)], low=_low_columns(fig, 5)
            )
        for name, fig, rows in s.by("group"):
            sheets["groups"].add(
                [*head, text(group_title(name, lang)), len(rows), *_figure_cells(fig)],
                low=_low_columns(fig, 5),
            )
        for row in s.rows:
            sheets["targets"].add(
                _target_cells(head, row, lang, w), low=_low_columns(row.figures, 7)
            )
        for row, piece in _pieces(s):
            o = piece.outage
            outages.add(
                [
                    *head,
                    text(row.name),
                    _local(o.start, zone),
                    _local(o.end, zone),
                    text(reason_text(o.reason, lang)),
                    _days(piece.seconds),
                    _days(piece.maintenance_seconds),
                    text(o.maintenance or ""),
                    text(str((o.note or {}).get("text", ""))),
                    text(str((o.note or {}).get("by", ""))),
                ]
            )
    for sheet in (summary, *sheets.values(), outages, windows):
        sheet.finish()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _target_cells(head: list[object], row: Row, lang: Lang, w: dict[str, str]) -> list[object]:
    return [
        *head,
        text(row.name),
        text(group_title(row.group, lang)),
        text(row.carrier or ""),
        w["yes"] if row.in_settings else w["no"],
        *_figure_cells(row.figures),
    ]


def _pieces(s: Section) -> list[tuple[Row, Piece]]:
    return sorted(
        ((row, p) for row in s.rows for p in row.pieces), key=lambda rp: rp[1].outage.start
    )
