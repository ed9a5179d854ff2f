"""The report as one HTML page: self-contained, escaped as the status pages are, in Vietnamese
(or English) throughout, times in the settings' time zone."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Settings
from monitor.config.access import Principal
from monitor.config.report import ReportSettings
from monitor.report.html import chart, percent, to_html
from monitor.report.render_json import to_json
from tests.support.report import NOW, built, ts


async def test_html(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    page, style = to_html(rep, "vi")
    assert "Báo cáo khả dụng" in page and "Theo nhà mạng" in page
    assert page.count("<svg") == 2  # one chart per carrier
    assert "<script" not in page and not re.search(r"\son[a-z]+=", page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@page { size: A4" in page and style.startswith("sha256-")
    assert "14/10/2025 07:00:00" in page  # shown in Asia/Ho_Chi_Minh
    # A number stays with its unit (no-break space): the figures' columns wrap between units.
    assert '<td class="n low">98,870\u00a0%</td>' in page  # the decimal comma in Vietnamese
    assert '<td class="n">99,415\u00a0%</td>' in page
    assert '<td class="n low">98,113\u00a0%*</td>' in page  # the switch: 89.8 % watched
    assert '<td class="n low">89,831\u00a0%</td>' in page
    assert '<td class="n">1\u00a0phút 40\u00a0giây</td>' in page
    assert "old-site (đã bỏ khỏi cấu hình)" in page


async def test_the_style_hash_is_of_the_style_sent(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    page, style = to_html(built(settings), "en")
    found = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert found is not None and page.count("<style") == 1
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    assert style == f"sha256-{digest}"


async def test_vietnamese_page_shows_no_english_word(ledger: tuple[Settings, Path]) -> None:
    """Reasons, filters and the scope in words, not as codes or keys."""
    settings, _ = ledger
    viettel = Principal("viettel", "operator", {"carrier": ("viettel",)})
    rep = built(settings, principal=viettel, group="carrier")
    page, _ = to_html(rep, "vi")
    assert "Phạm vi: Nhà mạng = viettel" in page
    assert "Lọc: Nhóm = Nhà mạng và đường truyền" in page
    assert "<td>không phản hồi (quá thời gian chờ)</td>" in page
    cells = re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", page)
    assert cells and not {"timeout", "status", "carrier", "group"} & set(cells)
    english, _ = to_html(rep, "en")
    assert "<td>no answer (timed out)</td>" in english and "Filters: group = " in english
    site = to_html(built(settings), "vi")[0]
    assert "<td>mã trạng thái HTTP không đúng</td>" in site


async def test_everything_shown_is_escaped(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    evil = '<img src=x onerror="alert(1)">'
    section = rep.sections[0]
    rows = tuple(
        dataclasses.replace(r, name=evil) if r.name == "viettel-uplink" else r for r in section.rows
    )
    section = dataclasses.replace(section, title=evil, rows=rows)
    rep = dataclasses.replace(rep, sections=(section,), filters={"target": evil})
    page, _ = to_html(rep, "vi")
    assert "<img" not in page and "&lt;img src=x onerror=" in page
    assert not re.search(r"\son[a-z]+=", page.replace("onerror=&#34;", ""))


async def test_chart_geometry(ledger: tuple[Settings, Path]) -> None:
    """Red where a target was down, grey in maintenance, over the section's period."""
    settings, _ = ledger
    section = built(settings, phase="dai-hoi-tinh").sections[0]
    rows = [r for r in section.rows if r.carrier == "vnpt"]
    c = chart(section, "vnpt", rows, ZoneInfo("Asia/Ho_Chi_Minh"))
    (bar,) = c.bars
    span = section.end - section.start
    # The window 2025-10-15 01:00-03:00 UTC, and 20 min down after it.
    x0 = c.left + (ts("2025-10-15T01:00:00+00:00") - section.start) / span * c.inner
    ((x, width),) = bar.maintenance
    assert x == pytest.approx(x0) and width == pytest.approx(2 * 3600 / span * c.inner)
    assert len(bar.down) == 1 and bar.down[0][0] > x0 and bar.availability == "99.415\u00a0%"
    assert bar.unwatched == ()  # watched throughout
    assert [t[2] for t in c.ticks] == ["14/10/2025 07:00", "15/10/2025 12:30", "16/10/2025 18:00"]
    assert c.height == 16 + 20 + 18 and c.base == 36
    assert percent(None) == "—"
    assert percent(98.87, "vi") == "98,870\u00a0%" and percent(98.87, "en") == "98.870\u00a0%"


async def test_the_chart_shows_time_not_watched(ledger: tuple[Settings, Path]) -> None:
    """VNPT's link watched only from noon on the 15th: its bar is blank before, so a reader sees
    why its figure speaks for part of the phase."""
    settings, _ = ledger
    noon = ts("2025-10-15T05:00:00+00:00")
    rep = built(settings, phase="dai-hoi-tinh", coverage={"vnpt-uplink": [(noon, ts(NOW))]})
    section = rep.sections[0]
    rows = [r for r in section.rows if r.carrier == "vnpt"]
    c = chart(section, "vnpt", rows, ZoneInfo("Asia/Ho_Chi_Minh"))
    ((x, width),) = c.bars[0].unwatched
    span = section.end - section.start
    assert x == pytest.approx(c.left)
    assert width == pytest.approx((noon - section.start) / span * c.inner)
    page, _ = to_html(rep, "vi")
    assert 'class="unwatched"' in page and "không giám sát" in page
    assert "Độ phủ giám sát dưới 90 %" in page


SIGNED = {
    "agency": "UBND tỉnh Đắk Lắk",
    "department": "Sở Khoa học và Công nghệ",
    "place": "Đắk Lắk",
    "sla": {"default": 99.0, "carrier": {"viettel": 99.9}, "group": {"website": 99.5}},
    "signers": [{"title": "Người lập biểu"}, {"title": "Giám đốc", "name": "Nguyễn Văn A"}],
}


async def test_a_report_to_sign_has_its_header_goals_and_signatures(
    ledger: tuple[Settings, Path],
) -> None:
    """The administrative header (agency, department, the nation's motto, place and date),
    an availability goal per carrier and group with met or not met, and the signature block."""
    settings, _ = ledger
    rep = dataclasses.replace(
        built(settings, phase="dai-hoi-tinh"), settings=ReportSettings.model_validate(SIGNED)
    )
    page, _ = to_html(rep, "vi")
    text = re.sub(r"<[^>]+>", " ", page)
    for words in (
        "UBND TỈNH ĐẮK LẮK",
        "SỞ KHOA HỌC VÀ CÔNG NGHỆ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Đắk Lắk, ngày 19 tháng 10 năm 2025",  # generated "now": 19/10 19:00 in Ha Noi
        "NGƯỜI LẬP BIỂU",
        "GIÁM ĐỐC",
        "(Ký, ghi rõ họ tên)",
        "Nguyễn Văn A",
        "Mục tiêu",
        "Đánh giá",
    ):
        assert words in text, words
    # viettel: 98.870 % against its 99.9 %: not met; vnpt 99.415 % against the default 99 %: met;
    # the venue switch: watched under 90 % of the phase, too little data to tell.
    row = {r.name: r for r in rep.sections[0].rows}
    assert row["viettel-uplink"].figures.sla_met(rep.row_goal(row["viettel-uplink"])) is False
    assert row["vnpt-uplink"].figures.sla_met(rep.row_goal(row["vnpt-uplink"])) is True
    assert row["venue-switch"].figures.sla_met(rep.row_goal(row["venue-switch"])) is None
    assert rep.row_goal(row["cong-thong-tin"]) == 99.5
    assert re.search(r"99,900\u00a0%</td>\s*<td class=\"low\">Không đạt", page)
    assert re.search(r"99,000\u00a0%</td>\s*<td class=\"\">Đạt", page)
    assert "Chưa đủ số liệu" in page
    # Without a [report] table: no header, no goals, no signatures.
    plain, _ = to_html(built(settings, phase="dai-hoi-tinh"), "vi")
    assert "CỘNG HÒA" not in plain and "Mục tiêu" not in plain and "Ký, ghi rõ" not in plain


async def test_the_json_report_says_whether_each_goal_is_met(
    ledger: tuple[Settings, Path],
) -> None:
    settings, _ = ledger
    rep = dataclasses.replace(
        built(settings, phase="dai-hoi-tinh"), settings=ReportSettings.model_validate(SIGNED)
    )
    doc = to_json(rep)
    section = doc["sections"][0]
    carriers = {c["name"]: (c["sla_percent"], c["sla_met"]) for c in section["carriers"]}
    assert carriers == {"viettel": (99.9, False), "vnpt": (99.0, True)}
    assert section["total"]["sla_percent"] == 99.0


async def test_the_page_names_targets_and_carriers_by_their_display_names(
    ledger: tuple[Settings, Path],
) -> None:
    """Issue 12: titles and [names] on the report's page; the JSON and CSV keep slugs."""
    from monitor.core.i18n import DisplayNames
    from monitor.report.render_csv import to_csv

    settings, _ = ledger
    rep = built(settings, phase="dai-hoi-tinh")
    assert rep.names is settings.display_names  # build() hands the settings' names on
    named = dataclasses.replace(
        rep,
        names=DisplayNames(
            targets={"viettel-uplink": {"vi": "Đường truyền Viettel", "en": "Viettel uplink"}},
            labels={"carrier": {"vnpt": {"vi": "Tập đoàn VNPT", "en": "VNPT Group"}}},
        ),
    )
    page, _ = to_html(named, "vi")
    assert "<tr><td>Đường truyền Viettel</td>" in page  # the target's row and its outages
    assert "<tr><td>Tập đoàn VNPT</td>" in page  # the carriers' table
    assert ">Đường truyền Viettel</text>" in page  # the chart's label
    assert "<figcaption>Biểu đồ: Tập đoàn VNPT</figcaption>" in page
    assert "<tr><td>viettel-uplink</td>" not in page
    assert "VNPT Group" in to_html(named, "en")[0]
    csv = to_csv(named, "vi").decode("utf-8-sig")
    assert "viettel-uplink" in csv and "Đường truyền Viettel" not in csv
