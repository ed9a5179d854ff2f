"""A target's last 24 hours as one server-drawn SVG (no chart library, no script).

Three strips over the same time axis, from ``monitor.runtime.history``'s buckets:

- the plotted figure (ICMP round trip, else response time): a min-max bar per bucket and the
  mean as a line, broken wherever a bucket has no successful result;
- ICMP only: the loss of each bucket as a bar (0-100 %);
- up/down as a band: green all up, red all down, orange some of each, and nothing but the
  hatched background where no result came in (netmon stopped, the target not yet added):
  no data is a gap (grey, "không giám sát" / "not watched", the report's words), never up.

Hour ticks every three hours in the server's zone (Asia/Ho_Chi_Minh). Colours come from
classes (netmon.css), so the CSP forbids no style and both themes apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from monitor.core.i18n import Lang, duration_text
from monitor.runtime.history import BUCKET, KEEP, Bucket

__all__ = ["WIDTH", "history_svg", "tick_hours"]

WIDTH, HEIGHT = 960, 214
_LEFT, _RIGHT = 84, 952
_VALUE_TOP, _VALUE_BOTTOM = 8, 120
_LOSS_TOP, _LOSS_BOTTOM = 128, 150
_BAND_TOP, _BAND_BOTTOM = 160, 178
_TICK_Y = 196
_SLOTS = KEEP // BUCKET
_TEXT = {
    "vi": {
        "rtt": "Độ trễ",
        "response": "Thời gian phản hồi",
        "loss": "Mất gói",
        "band": "Hoạt động",
        "summary": "24 giờ qua: {up} đạt trên {count} kết quả; không giám sát {gap}",
        "none": "Chưa có dữ liệu trong 24 giờ qua",
        "up": "hoạt động",
        "down": "sự cố",
        "partial": "có lúc sự cố",
        "gap": "không giám sát",
    },
    "en": {
        "rtt": "RTT",
        "response": "Response time",
        "loss": "Loss",
        "band": "Up",
        "summary": "Last 24 hours: {up} of {count} results ok; not watched for {gap}",
        "none": "No data in the last 24 hours",
        "up": "up",
        "down": "down",
        "partial": "partly down",
        "gap": "not watched",
    },
}


def _x(slot: int, first: int) -> float:
    return _LEFT + (slot - first) * (_RIGHT - _LEFT) / _SLOTS


def _nice_top(value: float) -> float:
    """A round number at or above ``value`` (seconds) for the top of the scale."""
    if value <= 0:
        return 0.001
    step = 1e-4
    while True:
        for mult in (1, 2, 5):
            if step * mult >= value:
                return step * mult
        step *= 10


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def tick_hours(end: float, zone: ZoneInfo, every: int = 3) -> list[tuple[float, str]]:
    """(unix time, "HH:00") of each local hour divisible by ``every`` in the day before
    ``end``."""
    start = end - KEEP
    local = datetime.fromtimestamp(start, zone).replace(minute=0, second=0, microsecond=0)
    ticks = []
    while local.timestamp() <= end:
        if local.timestamp() > start and local.hour % every == 0:
            ticks.append((local.timestamp(), local.strftime("%H:00")))
        local = (local + timedelta(hours=1, minutes=5)).replace(minute=0)
    return ticks


def _state(b: Bucket) -> str:
    if b.up == b.count:
        return "up"
    return "down" if b.up == 0 else "partial"


def history_svg(buckets: list[Bucket], kind: str, now: float, zone: ZoneInfo, lang: Lang) -> Markup:
    """The day before ``now`` as an SVG element (safe markup for a template)."""
    t = _TEXT[lang]
    last = int(now) // BUCKET
    first = last - _SLOTS + 1
    shown = [b for b in buckets if first <= b.slot <= last]
    slot_w = (_RIGHT - _LEFT) / _SLOTS
    parts: list[str] = [
        f'<rect class="h-bg" x="{_LEFT}" y="{_VALUE_TOP}" width="{_RIGHT - _LEFT}" '
        f'height="{_BAND_BOTTOM - _VALUE_TOP}"/>',
    ]
    # Hour ticks: a faint line across the strips and the local hour under them.
    for at, text in tick_hours((last + 1) * BUCKET, zone):
        x = _LEFT + (at - first * BUCKET) * (_RIGHT - _LEFT) / KEEP
        parts.append(
            f'<line class="h-grid" x1="{x:.1f}" y1="{_VALUE_TOP}" x2="{x:.1f}" '
            f'y2="{_BAND_BOTTOM}"/>'
            f'<text class="h-tick" x="{x:.1f}" y="{_TICK_Y}" text-anchor="middle">{text}</text>'
        )
    # The figure: bars min-max and the mean as a line broken at gaps.
    valued = [b for b in shown if b.n]
    top = _nice_top(max((b.vmax for b in valued), default=0.0))
    height = _VALUE_BOTTOM - _VALUE_TOP

    def y(value: float) -> float:
        return _VALUE_BOTTOM - min(value, top) / top * height

    runs: list[list[str]] = []
    previous: int | None = None
    for b in valued:
        x = _x(b.slot, first) + slot_w / 2
        parts.append(
            f'<line class="h-range" x1="{x:.1f}" y1="{y(b.vmin):.1f}" x2="{x:.1f}" '
            f'y2="{y(b.vmax):.1f}"/>'
        )
        mean = b.mean or 0.0
        if previous is None or b.slot != previous + 1:
            runs.append([])
        runs[-1].append(f"{x:.1f},{y(mean):.1f}")
        previous = b.slot
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            parts.append(f'<circle class="h-dot" cx="{cx}" cy="{cy}" r="1.6"/>')
        else:
            parts.append(f'<polyline class="h-mean" points="{" ".join(run)}"/>')
    label = t["rtt"] if kind == "icmp" else t["response"]
    parts.append(
        f'<text class="h-axis" x="{_LEFT - 4}" y="{_VALUE_TOP + 8}" text-anchor="end">'
        f"{_ms(top)}</text>"
        f'<text class="h-axis" x="{_LEFT - 4}" y="{_VALUE_BOTTOM}" text-anchor="end">0</text>'
        f'<text class="h-label" x="{_LEFT + 4}" y="{_VALUE_TOP + 11}">{escape(label)}</text>'
    )
    # ICMP loss.
    if kind == "icmp":
        loss_h = _LOSS_BOTTOM - _LOSS_TOP
        parts.append(
            f'<line class="h-grid" x1="{_LEFT}" y1="{_LOSS_BOTTOM}" x2="{_RIGHT}" '
            f'y2="{_LOSS_BOTTOM}"/>'
            f'<text class="h-axis" x="{_LEFT - 4}" y="{_LOSS_BOTTOM}" text-anchor="end">'
            f"{escape(t['loss'])}</text>"
        )
        for b in shown:
            loss = b.loss
            if loss:
                h = max(1.0, loss * loss_h)
                parts.append(
                    f'<rect class="h-loss" x="{_x(b.slot, first):.1f}" '
                    f'y="{_LOSS_BOTTOM - h:.1f}" width="{slot_w:.2f}" height="{h:.1f}">'
                    f"<title>{loss * 100:.0f} %</title></rect>"
                )
    # Up/down band: runs of the same state as one rectangle each; gaps stay background.
    parts.append(
        f'<text class="h-axis" x="{_LEFT - 4}" y="{_BAND_BOTTOM - 4}" text-anchor="end">'
        f"{escape(t['band'])}</text>"
    )
    band: list[tuple[int, int, str]] = []  # first slot, last slot, state
    for b in shown:
        state = _state(b)
        if band and band[-1][2] == state and band[-1][1] == b.slot - 1:
            band[-1] = (band[-1][0], b.slot, state)
        else:
            band.append((b.slot, b.slot, state))
    # What no result covers, drawn as such: grey, never green.
    covered = {b.slot for b in shown}
    gap_start: int | None = None
    for slot in range(first, last + 2):
        if slot <= last and slot not in covered:
            gap_start = slot if gap_start is None else gap_start
        elif gap_start is not None:
            x0, x1 = _x(gap_start, first), _x(slot, first)
            span = duration_text(float((slot - gap_start) * BUCKET), lang)
            parts.append(
                f'<rect class="h-gap" x="{x0:.1f}" y="{_BAND_TOP}" width="{x1 - x0:.2f}" '
                f'height="{_BAND_BOTTOM - _BAND_TOP}"><title>{escape(t["gap"])} · '
                f"{escape(span)}</title></rect>"
            )
            gap_start = None
    for start, end, state in band:
        x0, x1 = _x(start, first), _x(end + 1, first)
        span = duration_text(float((end + 1 - start) * BUCKET), lang)
        parts.append(
            f'<rect class="h-{state}" x="{x0:.1f}" y="{_BAND_TOP}" width="{x1 - x0:.2f}" '
            f'height="{_BAND_BOTTOM - _BAND_TOP}" data-state="{state}">'
            f"<title>{escape(t[state])} · {escape(span)}</title></rect>"
        )
    count = sum(b.count for b in shown)
    gap_slots = _SLOTS - len(shown)
    summary = (
        t["summary"].format(
            up=sum(b.up for b in shown),
            count=count,
            gap=duration_text(float(gap_slots * BUCKET), lang) if gap_slots else "0",
        )
        if count
        else t["none"]
    )
    return Markup(
        f'<svg class="history" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(summary)}" data-buckets="{len(shown)}">'
        f"<title>{escape(summary)}</title>{''.join(parts)}</svg>"
    )
