"""Finding 9 of issue 13: CSV formula injection in the report.

A carrier label (or a phase, group or target name read back from the ledger) that starts with
a formula sign was written as is, so a spreadsheet opening the report ran it. Text cells that
start with ``= + - @``, a tab or a CR now get a leading single quote (OWASP); the figures netmon
computes stay numbers, negative ones included.
"""

from __future__ import annotations

import csv
import io

import pytest

from monitor.report import render_csv
from monitor.report.model import Figures, Report, Row, Section
from monitor.report.render_csv import to_csv

HYPERLINK = '=HYPERLINK("http://127.0.0.1/phish","Nhà mạng Viettel – xem chi tiết")'


def _report(carrier: str, *, name: str = "viettel-uplink", key: str = "range") -> Report:
    # Downtime beyond the scheduled time: the availability is a negative figure (-100 %).
    figures = Figures(3600.0, 0.0, 7200.0, 0.0, 1, 7200.0, 3600.0)
    row = Row(name, "carrier", "icmp", {"carrier": carrier}, figures, (), (), False)
    section = Section(key, "", 0.0, 3600.0, 3600.0, (row,))
    return Report(0.0, 0.0, 3600.0, "Asia/Ho_Chi_Minh", None, {}, (section,))


def _rows(report: Report) -> list[list[str]]:
    return list(csv.reader(io.StringIO(to_csv(report, "vi").decode("utf-8-sig"))))


def test_vietnamese_hyperlink_label_is_text() -> None:
    rows = _rows(_report(HYPERLINK))
    carrier_col = 6
    carrier_line = next(r for r in rows[1:] if r[3] == "nhà mạng")
    target_line = next(r for r in rows[1:] if r[3] == "đối tượng")
    assert carrier_line[4] == "'" + HYPERLINK  # the carrier's own name column
    assert carrier_line[carrier_col] == "'" + HYPERLINK
    assert target_line[carrier_col] == "'" + HYPERLINK
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows[1:] for cell in r[:7])


@pytest.mark.parametrize(
    "cell", ["=1+1", "+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "-1"]
)
def test_every_formula_start_is_neutralised(cell: str) -> None:
    assert render_csv.text(cell) == "'" + cell
    rows = _rows(_report(cell, key=cell))
    line = next(r for r in rows[1:] if r[3] == "đối tượng")
    assert line[0] == "'" + cell and line[6] == "'" + cell


def test_plain_text_and_figures_unchanged() -> None:
    assert (
        render_csv.text("viettel") == "viettel"
        and render_csv.text("Đắk Lắk") == "Đắk Lắk"
        and render_csv.text("") == ""
    )
    rows = _rows(_report("viettel"))
    head = rows[0]
    line = next(r for r in rows[1:] if r[3] == "đối tượng")
    assert line[6] == "viettel"
    # The report's own negative figure is a number, not text a spreadsheet would show as '-100.
    assert line[head.index("Khả dụng (%)")] == "-100"
    assert line[head.index("Tổng thời gian sự cố (giây)")] == "7200"
