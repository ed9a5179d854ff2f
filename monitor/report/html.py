"""The report as one HTML page for print and for the department: templates/report.html.

The page is self-contained: inline CSS, one server-side SVG timeline per carrier (red where a
target was down, grey in maintenance), no script, printable on A4. Times are shown in the
settings' time zone, words in Vietnamese or English (monitor/core/i18n.py). Rendered by jinja2
with the same escaping as the status pages (monitor/web/pages.py): every text is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from monitor.core.i18n import (
    Lang,
    duration_text,
    group_title,
    local_time,
    note_words,
    reason_text,
    report_key,
    report_words,
)
from monitor.report.intervals import subtract
from monitor.report.model import Figures, Piece, Report, Row, Section

__all__ = ["Chart", "ChartBar", "chart", "percent", "to_html"]

HERE = Path(__file__).resolve().parent
# As monitor/web/pages.py sets up its own: autoescape on, an unknown name is an error.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)

# The chart's geometry, in SVG user units: a name column, the timeline, the percent.
_WIDTH, _LEFT, _RIGHT, _BAR, _GAP, _TOP = 720.0, 190.0, 70.0, 14.0, 6.0, 16.0
_MIN_WIDTH = 0.6  # so that an outage of a few seconds in a long phase still shows
_LOW = 99.0  # availability below this is shown in red
# A number keeps its unit on its line ("13 giờ 46 phút" wraps between units, never as
# "13 / giờ"), so the figures' columns may wrap and the name columns keep their room.
_NUMBER_SPACE = re.compile(r"(?<=\d) (?=\S)")


def _unbroken(text: str) -> str:
    return _NUMBER_SPACE.sub("\u00a0", text)


def percent(value: float | None, lang: Lang = "en") -> str:
    """``98.870 %``; in Vietnamese the decimal comma, ``98,870 %``."""
    if value is None:
        return "—"
    text = f"{value:.3f} %"
    return _unbroken(text.replace(".", ",") if lang == "vi" else text)


@dataclass(frozen=True, slots=True)
class ChartBar:
    name: str
    y: float
    text_y: float
    unwatched: tuple[tuple[float, float], ...]  # (x, width)
    maintenance: tuple[tuple[float, float], ...]
    down: tuple[tuple[float, float], ...]
    availability: str


@dataclass(frozen=True, slots=True)
class Chart:
    carrier: str
    bars: tuple[ChartBar, ...]
    ticks: tuple[tuple[float, str, str], ...]  # (x, text-anchor, time)
    width: float = _WIDTH
    left: float = _LEFT
    inner: float = _WIDTH - _LEFT - _RIGHT
    bar: float = _BAR

    @property
    def height(self) -> float:
        return _TOP + len(self.bars) * (_BAR + _GAP) + 18.0

    @property
    def base(self) -> float:
        return _TOP + len(self.bars) * (_BAR + _GAP)

    @property
    def pct_x(self) -> float:
        return self.width - _RIGHT + 4


def chart(
    section: Section,
    carrier: str,
    rows: Sequence[Row],
    zone: ZoneInfo,
    title: Callable[[str], str] = str,
    lang: Lang = "en",
) -> Chart:
    """A timeline per target of one carrier over the section's period."""
    span = max(section.end - section.start, 1e-9)
    inner = _WIDTH - _LEFT - _RIGHT

    def x(ts: float) -> float:
        return _LEFT + (min(max(ts, section.start), section.end) - section.start) / span * inner

    def boxes(spans: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
        return tuple((x(a), max(x(b) - x(a), _MIN_WIDTH)) for a, b in spans)

    bars = []
    for i, row in enumerate(rows):
        y = _TOP + i * (_BAR + _GAP)
        bars.append(
            ChartBar(
                name=title(row.name)[:30],
                y=y,
                text_y=y + _BAR - 3,
                unwatched=boxes(subtract([(section.start, section.end)], row.watched)),
                maintenance=boxes(row.maintenance),
                down=boxes([s for piece in row.pieces for s in piece.downtime]),
                availability=percent(row.figures.availability, lang),
            )
        )
    ticks = tuple(
        (_LEFT + frac * inner, anchor, local_time(section.start + frac * span, zone, seconds=False))
        for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end"))
    )
    return Chart(carrier, tuple(bars), ticks)


@dataclass(frozen=True, slots=True)
class _SectionView:
    section: Section
    title: str
    period: str
    started: bool
    carriers: list[tuple[str, Figures, list[Row]]]
    charts: list[Chart]
    groups: list[tuple[str, Figures, list[Row]]]
    pieces: list[tuple[Row, Piece]]


def _section(
    s: Section,
    words: dict[str, str],
    zone: ZoneInfo,
    lang: Lang,
    target_title: Callable[[str], str] = str,
    carrier_title: Callable[[str], str] = str,
) -> _SectionView:
    title = words["range"] if s.key == "range" else f"{s.title or s.key} ({s.key})"
    period = f"{local_time(s.start, zone)} – {local_time(s.planned_end, zone)}"
    if s.start < s.end < s.planned_end:
        period += f" ({words['ongoing']} {local_time(s.end, zone)})"
    started = s.end > s.start
    carriers = s.by("carrier") if started else []
    return _SectionView(
        section=s,
        title=title,
        period=period,
        started=started,
        carriers=list(carriers),
        charts=[
            chart(s, carrier_title(name), rows, zone, target_title, lang)
            for name, _, rows in carriers
        ],
        groups=list(s.by("group")) if started else [],
        pieces=sorted(
            ((row, p) for row in s.rows for p in row.pieces), key=lambda rp: rp[1].outage.start
        ),
    )


def _scope(report: Report, lang: Lang) -> str:
    if not report.scope_labels:
        return report.scope or ""
    return ", ".join(
        f"{report_key(k, lang)} = {' | '.join(v)}" for k, v in report.scope_labels.items()
    )


def _filters(report: Report, lang: Lang) -> str:
    return ", ".join(
        f"{report_key(k, lang)} = {report.names.label(k, v, lang) if k != 'target' else v}"
        for k, v in report.filters.items()
    )


def _dateline(report: Report, lang: Lang) -> str:
    """ "Đắk Lắk, ngày 08 tháng 12 năm 2026", as an administrative document dates itself."""
    place = report.settings.place
    if not place:
        return ""
    day = datetime.fromtimestamp(report.generated, UTC).astimezone(ZoneInfo(report.zone))
    if lang == "vi":
        return f"{place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"
    return f"{place}, {day.day} {day.strftime('%B')} {day.year}"


def _iso_ts(text: object) -> float | None:
    """Unix seconds of an RFC 3339 text (a note's ``at``), None when it is not one."""
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def to_html(report: Report, lang: Lang = "vi") -> tuple[str, str]:
    """(the document, the SHA-256 CSP source of its one style block)."""
    words = {**report_words(lang), **note_words(lang)}
    zone = ZoneInfo(report.zone)
    names = report.names

    def title(name: str) -> str:
        return names.target(name, lang)

    def carrier_title(value: str) -> str:
        return names.label("carrier", value, lang)

    page = _TEMPLATES.get_template("report.html").render(
        lang=lang,
        w=words,
        report=report,
        scope=_scope(report, lang),
        filters=_filters(report, lang),
        sections=[_section(s, words, zone, lang, title, carrier_title) for s in report.sections],
        pct=lambda value: percent(value, lang),
        low=_LOW,
        head=report.settings,
        dateline=_dateline(report, lang),
        sla=report.settings.sla.default is not None
        or bool(report.settings.sla.carrier or report.settings.sla.group),
        low_coverage=any(
            f.low_coverage for s in report.sections for f in [s.total, *(r.figures for r in s.rows)]
        ),
        duration=lambda seconds: _unbroken(duration_text(seconds, lang)),
        local=lambda ts: local_time(ts, zone),
        local_iso=lambda text: local_time(_iso_ts(text), zone),
        group_title=lambda group: group_title(group, lang, names),
        title=title,
        carrier_title=carrier_title,
        reason=lambda code: reason_text(code, lang),
    )
    # The hash of the style block as rendered, so the CSP allows exactly what is sent.
    style = _STYLE.search(page)
    css = style.group(1) if style else ""
    return page, "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
