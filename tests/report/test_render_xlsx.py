"""The report as a workbook, read back with openpyxl: one sheet per level, Vietnamese heads,
numbers as numbers (percentages as fractions, durations as Excel days), local times."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitor.config import Settings
from monitor.report.render_xlsx import to_xlsx
from tests.support.report import P1, built


def sheet_rows(data: bytes, name: str) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(data))
    return [tuple(r) for r in book[name].iter_rows(values_only=True)]


async def test_the_workbook_reads_back_as_numbers(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    data = to_xlsx(built(settings, phase="dai-hoi-tinh"), "vi")
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "Tổng hợp",
        "Theo nhà mạng",
        "Theo nhóm",
        "Theo đối tượng",
        "Các lần sự cố",
        "Lịch bảo trì",
    ]
    targets = sheet_rows(data, "Theo đối tượng")
    head = targets[0]
    assert head[:3] == ("Giai đoạn", "Từ (Asia/Ho_Chi_Minh)", "Đến (Asia/Ho_Chi_Minh)")
    by_name = {r[head.index("Tên")]: r for r in targets[1:]}
    viettel = by_name["viettel-uplink"]
    assert viettel[0] == "Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk lần thứ XVIII (dai-hoi-tinh)"
    assert viettel[1] == datetime(2025, 10, 14, 7, 0)  # local time, as the NOC reads it
    assert viettel[head.index("Khả dụng")] == pytest.approx(0.98870)
    assert viettel[head.index("Số lần sự cố")] == 2
    assert viettel[head.index("Tổng thời gian sự cố")] == timedelta(minutes=40)  # a duration
    switch = by_name["venue-switch"]
    assert switch[head.index("Nhóm")] == "Hội trường"
    assert switch[head.index("Thời gian không giám sát")] == timedelta(hours=6)
    assert switch[head.index("Độ phủ giám sát")] == pytest.approx((P1 - 6 * 3600) / P1, abs=1e-5)
    assert by_name["old-site"][head.index("Trong cấu hình")] == "đã bỏ"
    # Formats that make them read as a NOC expects: a percent, a duration, a local time.
    ws = book["Theo đối tượng"]
    row = next(r for r in ws.iter_rows(min_row=2) if r[head.index("Tên")].value == "viettel-uplink")
    assert row[head.index("Khả dụng")].number_format == "0.000%"
    assert row[head.index("Tổng thời gian sự cố")].number_format == "[h]:mm:ss"
    assert row[1].number_format == "dd/mm/yyyy hh:mm:ss"
    assert row[head.index("Khả dụng")].font.color.rgb.endswith("AA0000")  # under 99 %: red
    # The totals, the carriers and the outages with their causes in words.
    summary = sheet_rows(data, "Tổng hợp")
    assert summary[1][summary[0].index("Số đối tượng")] == 5
    carriers = {r[3]: r for r in sheet_rows(data, "Theo nhà mạng")[1:]}
    assert set(carriers) == {"viettel", "vnpt"}
    outages = sheet_rows(data, "Các lần sự cố")
    assert len(outages) == 1 + 7
    assert {r[outages[0].index("Nguyên nhân")] for r in outages[1:]} == {
        "không phản hồi (quá thời gian chờ)"
    }


async def test_english_heads_and_formula_text_stays_text(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    data = to_xlsx(built(settings, phase="dai-hoi-tinh"), "en")
    assert load_workbook(io.BytesIO(data)).sheetnames[0] == "Summary"
    head = sheet_rows(data, "By target")[0]
    assert "Availability" in head and "Coverage" in head
    # A carrier label that looks like a formula is written as text with a leading quote.
    rep = built(settings, phase="dai-hoi-tinh")
    section = rep.sections[0]
    evil = '=HYPERLINK("http://127.0.0.1/x","bấm")'
    rows = tuple(dataclasses.replace(r, name=evil) for r in section.rows)
    forged = dataclasses.replace(rep, sections=(dataclasses.replace(section, rows=rows),))
    book = load_workbook(io.BytesIO(to_xlsx(forged, "en")))
    names = {c.value for c in book["By target"]["D"][1:]}
    assert names == {"'" + evil}
    assert all(c.data_type == "s" for c in book["By target"]["D"][1:])
