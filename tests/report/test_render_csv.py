"""The report as CSV: UTF-8 with a BOM, a head in Vietnamese or English, plain numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from monitor.config import Settings
from monitor.report.render_csv import number, to_csv
from tests.support.report import built


async def test_csv(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    data = to_csv(rep, "vi")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Giai đoạn", "Từ (giờ địa phương)", "Đến (giờ địa phương)"]
    assert "Khả dụng (%)" in rows[0]
    assert [r[3] for r in rows[1:4]] == ["tổng", "nhà mạng", "nhà mạng"]
    by_name = {r[4]: r for r in rows[1:] if r[3] == "đối tượng"}
    col = rows[0].index("Khả dụng (%)")
    assert by_name["viettel-uplink"][col] == "98.87"
    assert by_name["vnpt-uplink"][rows[0].index("Thời gian bảo trì (giây)")] == "7200"
    assert by_name["viettel-uplink"][:3] == [
        "dai-hoi-tinh",
        "2025-10-14T07:00:00+07:00",  # local time, with its offset
        "2025-10-16T18:00:00+07:00",
    ]
    english = list(csv.reader(io.StringIO(to_csv(rep, "en").decode("utf-8-sig"))))
    assert english[0][8] == "availability_percent"
    levels = {"total", "carrier", "group", "target", "outage", "maintenance"}
    assert {r[3] for r in english[1:]} == levels
    assert len(english) == len(rows) and all(len(r) == 24 for r in english + rows)
    cover = rows[0].index("Độ phủ giám sát (%)")
    assert by_name["venue-switch"][cover] == "89.831"  # 6 h of 59 not watched
    assert by_name["venue-switch"][rows[0].index("Thời gian không giám sát (giây)")] == "21600"


def test_numbers_drop_trailing_zeros() -> None:
    assert [number(98.87), number(7200.0), number(100.0), number(1.25), number(0.0)] == [
        "98.87",
        "7200",
        "100",
        "1.25",
        "0",
    ]
    assert number(None) == ""
