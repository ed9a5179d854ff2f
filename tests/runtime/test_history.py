"""The downsampled day per target (monitor/runtime/history.py) and its drawing
(monitor/web/chart.py): buckets, gaps, the 24-hour roll-over, a restart, and the SVG."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Target
from monitor.runtime.history import BUCKET, KEEP, History
from monitor.runtime.store import Observation, Store, TargetState
from monitor.web.chart import history_svg, tick_hours
from probes.base import ProbeResult, Sample

ICMP = Target.model_validate({"name": "vt", "kind": "icmp", "host": "127.0.2.2"})
WEB = Target.model_validate({"name": "web", "kind": "http", "url": "http://127.0.0.1:9/"})
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SVG = "{http://www.w3.org/2000/svg}"
# Monday 07/12/2026 00:00 in Hanoi (17:00 UTC the day before), on a bucket boundary.
DAY = 1_796_576_400.0


def echo(ok: bool, rtt: float, loss: float) -> ProbeResult:
    samples = (
        Sample("probe_icmp_rtt_seconds", rtt, (("stat", "avg"),)),
        Sample("probe_icmp_rtt_seconds", rtt * 2, (("stat", "max"),)),
        Sample("probe_icmp_packet_loss_ratio", loss),
    )
    return ProbeResult(ok, None if ok else "timeout", "", samples)


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def make(tmp_path: Path | None, clock: Clock) -> tuple[Store, History]:
    store = Store()
    store.set_targets([ICMP, WEB])
    history = History(store, tmp_path / "history.sqlite" if tmp_path else None, now=clock)
    store.subscribe(history.on_record, history.on_remove)
    return store, history


def test_buckets_count_up_min_mean_max_and_loss() -> None:
    clock = Clock(DAY + 600)
    store, history = make(None, clock)
    store.record("vt", Observation(echo(True, 0.010, 0.0), DAY + 1, 0.02))
    store.record("vt", Observation(echo(True, 0.030, 0.2), DAY + 61, 0.02))
    store.record("vt", Observation(echo(False, 0.0, 1.0), DAY + 121, 0.02))
    store.record("vt", Observation(echo(True, 0.020, 0.0), DAY + BUCKET + 1, 0.02))
    first, second = history.buckets("vt")
    assert (first.slot, first.count, first.up, first.n) == (int(DAY) // BUCKET, 3, 2, 2)
    assert (first.vmin, first.vmax) == pytest.approx((0.010, 0.030))  # kept as float32
    assert first.mean == pytest.approx(0.020)
    assert first.loss == pytest.approx(0.4)  # (0 + 0.2 + 1.0) / 3: a failed echo's loss too
    assert (second.count, second.up) == (1, 1)
    assert second.mean == pytest.approx(0.020)
    store.record("web", Observation(ProbeResult(True, None, ""), DAY + 5, 0.25))
    (web,) = history.buckets("web")
    assert (web.vmin, web.vmax, web.loss) == (0.25, 0.25, None)  # response time, no loss
    # An echo later than a day-old bucket's ring entry cannot go back: nothing older is kept.
    store.record("vt", Observation(echo(True, 0.5, 0.0), DAY + 1 - KEEP, 0.02))
    assert [b.count for b in history.buckets("vt")] == [3, 1]


def test_a_gap_is_no_bucket_and_the_day_rolls_over() -> None:
    clock = Clock(DAY)
    store, history = make(None, clock)
    for hour in (0, 1, 5):  # nothing from 02:00 to 05:00
        store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + hour * 3600, 0.01))
    slots = [b.slot for b in history.buckets("vt", DAY + 6 * 3600)]
    assert slots == [int(DAY + h * 3600) // BUCKET for h in (0, 1, 5)]
    # A day and a bit later, the first buckets are past the window (read) and dropped (kept).
    later = DAY + KEEP + 3600 + 1
    store.record("vt", Observation(echo(True, 0.01, 0.0), later, 0.01))
    clock.at = later
    assert [b.slot for b in history.buckets("vt")] == [
        int(DAY + 5 * 3600) // BUCKET,
        int(later) // BUCKET,
    ]
    # Sealed into the ring (the next bucket began), it takes the place of 01:00's, a day
    # before; 00:00's is still there but out of the day, so never read.
    store.record("vt", Observation(echo(True, 0.01, 0.0), later + BUCKET, 0.01))
    kept = sorted(slot for slot in history._days["vt"].slots if slot != -1)
    assert kept == [int(x) // BUCKET for x in (DAY, DAY + 5 * 3600, later)]


async def test_a_restart_keeps_the_day_and_the_downtime_stays_a_gap(tmp_path: Path) -> None:
    clock = Clock(DAY + 3600)
    store, history = make(tmp_path, clock)
    store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + 10, 0.01))
    store.record("vt", Observation(echo(False, 0.0, 1.0), DAY + 3000, 0.01))
    await history.flush()
    # netmon stops for two hours, then starts again with an empty memory.
    clock.at = DAY + 3 * 3600
    store2, again = make(tmp_path, clock)
    await again.load()
    store2.record("vt", Observation(echo(True, 0.02, 0.0), DAY + 3 * 3600 - 5, 0.01))
    got = [(b.slot - int(DAY) // BUCKET, b.count, b.up) for b in again.buckets("vt")]
    assert got == [(0, 1, 1), (10, 1, 0), (35, 1, 1)]  # nothing in slots 11..34: the gap
    # What a flush wrote a day ago is pruned from the file too.
    await again.flush()
    clock.at = DAY + KEEP + 2 * 3600
    _, third = make(tmp_path, clock)
    await third.load()
    assert [b.slot - int(DAY) // BUCKET for b in third.buckets("vt")] == [35]


async def test_a_late_result_counts_in_its_own_bucket_and_is_written(tmp_path: Path) -> None:
    clock = Clock(DAY + 3 * BUCKET)
    store, history = make(tmp_path, clock)
    store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + 10, 0.01))
    store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + BUCKET + 10, 0.01))
    await history.flush()
    # A probe that started in the first five minutes and reports after the second began.
    store.record("vt", Observation(echo(False, 0.0, 1.0), DAY + BUCKET - 1, 0.01))
    assert [(b.count, b.up) for b in history.buckets("vt")] == [(2, 1), (1, 1)]
    await history.flush()
    _, again = make(tmp_path, clock)
    await again.load()
    assert [(b.count, b.up) for b in again.buckets("vt")] == [(2, 1), (1, 1)]


async def test_a_reload_keeps_a_relabelled_day_and_drops_another_kinds(tmp_path: Path) -> None:
    clock = Clock(DAY + 600)
    store, history = make(tmp_path, clock)
    store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + 1, 0.01))
    store.record("web", Observation(ProbeResult(True, None, ""), DAY + 1, 0.2))
    await history.flush()
    relabelled = ICMP.model_copy(update={"labels": {"carrier": "viettel"}})
    as_tcp = Target.model_validate(
        {"name": "web", "kind": "tcp", "host": "127.0.0.1", "tcp": {"port": 9}}
    )
    store.set_targets([relabelled, as_tcp])
    assert len(history.buckets("vt")) == 1  # the same figure: its day stays
    assert history.buckets("web") == []  # another figure now: its day starts again
    await history.flush()
    # Written so: a restart reads the ICMP day back and nothing of the HTTP one.
    store2 = Store()
    store2.set_targets([relabelled, as_tcp])
    again = History(store2, tmp_path / "history.sqlite", now=clock)
    await again.load()
    assert (len(again.buckets("vt")), again.buckets("web")) == (1, [])
    # Removed from the settings: forgotten, in memory and in the file.
    store.set_targets([as_tcp])
    await history.flush()
    third = History(store2, tmp_path / "history.sqlite", now=clock)
    await third.load()
    assert third.buckets("vt") == []


async def test_a_write_that_fails_is_tried_again(tmp_path: Path) -> None:
    clock = Clock(DAY + 60)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    store, history = make(None, clock)
    history._path = blocked / "history.sqlite"  # its parent is a file: every write fails
    store.record("vt", Observation(echo(True, 0.01, 0.0), DAY + 1, 0.01))
    await history.flush()
    assert history.write_errors == 1
    history._path = tmp_path / "history.sqlite"  # the disk is back: the bucket is written
    await history.flush()
    _, again = make(tmp_path, clock)
    await again.load()
    assert [b.count for b in again.buckets("vt")] == [1]


def test_the_hook_is_cheap() -> None:
    """The cost the hook adds to each recorded result (the number in the CHANGELOG)."""
    store, history = make(None, Clock(DAY))
    state = store.get("vt")
    assert isinstance(state, TargetState)
    obs = [Observation(echo(True, 0.01, 0.0), DAY + i, 0.01) for i in range(20000)]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for o in obs:
            history.on_record(state, o)
        best = min(best, (time.perf_counter() - start) / len(obs))
    print(f"history hook: {best * 1e6:.2f} us per ICMP result")
    assert best < 20e-6


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_svg_is_xml_with_points_where_expected() -> None:
    clock = Clock(DAY + 12 * 3600)
    store, history = make(None, clock)
    for i in range(6 * 12):  # 00:00-06:00 up
        store.record("vt", Observation(echo(True, 0.010, 0.0), DAY + i * BUCKET, 0.01))
    for i in range(6 * 12, 7 * 12):  # 06:00-07:00 down
        store.record("vt", Observation(echo(False, 0.0, 1.0), DAY + i * BUCKET, 0.01))
    # 07:00-10:00 nothing; 10:00-12:00 up with 20 % loss.
    for i in range(10 * 12, 12 * 12):
        store.record("vt", Observation(echo(True, 0.040, 0.2), DAY + i * BUCKET, 0.01))
    svg = str(history_svg(history.buckets("vt"), "icmp", clock.at, HCM, "vi"))
    root = _parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("data-buckets") == str(6 * 12 + 12 + 24)
    band = [(r.get("data-state"), float(r.get("x", 0)), float(r.get("width", 0)))
            for r in root.iter(f"{SVG}rect") if r.get("data-state")]  # fmt: skip
    assert [b[0] for b in band] == ["up", "down", "up"]  # the gap is no rectangle
    # Their widths are 6 h, 1 h and 2 h of the 868 px day; a 3-hour hole between 2 and 3.
    per_hour = (952 - 84) / 24
    assert [round(b[2] / per_hour, 2) for b in band] == [6.0, 1.0, 2.0]
    assert round((band[2][1] - (band[1][1] + band[1][2])) / per_hour, 2) == 3.0
    # Drawn as gaps, grey: the day's window before DAY (12 h less the one bucket of now), the
    # hole, and the bucket of now, which no result has reached yet.
    gaps = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect") if r.get("class") == "h-gap"]
    assert [round(g / per_hour, 2) for g in gaps] == [11.92, 3.0, 0.08]
    # The mean line breaks at the outage and the gap: two polylines, 72 and 24 points.
    lines = [p.get("points", "").split() for p in root.iter(f"{SVG}polyline")]
    assert [len(p) for p in lines] == [72, 24]
    # The scale's top is 50 ms (the round number above 40): 10 ms and 40 ms at their heights.
    assert {float(pt.split(",")[1]) for pt in lines[0]} == {120 - 0.2 * 112}
    assert {float(pt.split(",")[1]) for pt in lines[1]} == {round(120 - 0.8 * 112, 1)}
    assert "50 ms" in "".join(root.itertext())
    losses = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "h-loss"]
    assert len(losses) == 12 + 24  # the outage's hour (100 %) and the lossy two hours
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "h-tick"]
    assert ticks == ["15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"]
    # The 12 hours before DAY and the 3-hour hole are not watched, and say so.
    summary = "24 giờ qua: 96 đạt trên 108 kết quả; không giám sát 15 giờ"
    assert root.get("aria-label") == summary


def test_svg_of_nothing_and_of_an_http_target() -> None:
    empty = _parse(str(history_svg([], "http", DAY, HCM, "en")))
    assert empty.get("aria-label") == "No data in the last 24 hours"  # nothing at all yet
    assert not [r for r in empty.iter(f"{SVG}rect") if r.get("data-state")]
    clock = Clock(DAY + 3600)
    store, history = make(None, clock)
    store.record("web", Observation(ProbeResult(True, None, "fine"), DAY + 10, 0.120))
    root = _parse(str(history_svg(history.buckets("web"), "http", clock.at, HCM, "en")))
    assert "Response time" in "".join(root.itertext())
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "h-loss"]
    assert len(list(root.iter(f"{SVG}circle"))) == 1  # one bucket: a dot, not a line


def test_hour_ticks_are_local() -> None:
    ticks = tick_hours(DAY, HCM)
    assert len(ticks) == 8 and ticks[-1] == (DAY, "00:00")
    assert all(int(at) % 3600 == 0 for at, _ in ticks)


async def test_the_service_keeps_the_day_across_a_restart(tmp_path: Path) -> None:
    """The wiring: the service feeds the history, writes it on stop and reads it at start."""
    from monitor.runtime.service import Service
    from tests.web.walls import wall_settings

    now = time.time()
    service = Service(wall_settings(tmp_path))
    await service.start()
    service.store.record("hoi-truong", Observation(echo(True, 0.004, 0.0), now - 600, 0.01))
    service.store.record("hoi-truong", Observation(echo(False, 0.0, 1.0), now - 30, 0.01))
    await service.aclose()
    assert (tmp_path / "state" / "history.sqlite").exists()
    again = Service(wall_settings(tmp_path))
    await again.start()
    await asyncio.wait_for(again.history.ready.wait(), 10)
    try:
        got = [(b.count, b.up) for b in again.history.buckets("hoi-truong")]
        assert sum(c for c, _ in got) == 2 and sum(u for _, u in got) == 1
    finally:
        await again.aclose()
