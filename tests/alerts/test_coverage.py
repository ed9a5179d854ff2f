"""The coverage ledger: when netmon watched each target, spans of results written to SQLite,
gaps where no result came (netmon stopped, a starved scheduler), nothing invented on a crash."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alerts import db
from alerts.coverage import FLUSH, Coverage, read_coverage
from monitor.config import Settings, Target
from monitor.runtime.service import Service
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult
from tests.support.clock import FakeClock

T0 = datetime(2026, 12, 4, 1, tzinfo=UTC).timestamp()
INTERVAL = 10.0


TARGETS = [
    Target.model_validate({"name": n, "kind": "icmp", "host": "127.0.2.1"})
    for n in ("viettel-uplink", "vnpt-uplink")
]


def make_store() -> Store:
    store = Store()
    store.set_targets(TARGETS)
    return store


def feed(store: Store, name: str, at: float, success: bool = True) -> None:
    result = ProbeResult(success, None if success else "timeout", "")
    store.record(name, Observation(result, at, 0.01))


async def spans_in(database: db.AlertDB, since: float = 0.0, until: float = 1e10) -> object:
    return await database.run(lambda c: read_coverage(c, since, until), write=False)


async def test_results_make_spans_and_a_silence_makes_a_gap(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    clock = FakeClock(wall=T0)
    store = make_store()
    recorder = Coverage(database, store, lambda _: INTERVAL, clock=clock)
    recorder.start()
    try:
        for k in range(6):  # 0 .. 50 s, one failed (still watched): one span
            feed(store, "viettel-uplink", T0 + k * INTERVAL, success=k != 3)
        feed(store, "viettel-uplink", T0 + 70)  # the run at 60 s skipped: still one span
        feed(store, "viettel-uplink", T0 + 200)  # 125 s of silence: a new span
        feed(store, "vnpt-uplink", T0 + 5)
        clock.now = 300.0  # T0 + 300
        await recorder.aclose()
        assert await spans_in(database) == {
            "viettel-uplink": [(T0, T0 + 80), (T0 + 200, T0 + 210)],
            "vnpt-uplink": [(T0 + 5, T0 + 15)],
        }
        # Asked for a window, only the spans that overlap it.
        assert await spans_in(database, T0 + 100, T0 + 150) == {}
        assert await spans_in(database, T0 + 205, T0 + 206) == {
            "viettel-uplink": [(T0 + 200, T0 + 210)]
        }
    finally:
        await database.close()


async def test_an_open_span_is_written_only_as_far_as_its_last_result_vouches(
    tmp_path: Path,
) -> None:
    """A crash between two flushes loses the unwritten tail; it never reports time as watched
    that no result covered: a span is written up to min(last result + interval, now)."""
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    clock = FakeClock(wall=T0)
    store = make_store()
    recorder = Coverage(database, store, lambda _: INTERVAL, clock=clock)
    recorder.start()
    try:
        feed(store, "viettel-uplink", T0)
        feed(store, "viettel-uplink", T0 + 10)
        clock.now = 13.0
        flushed = recorder.flush()
        assert flushed is not None
        await flushed
        assert await spans_in(database) == {"viettel-uplink": [(T0, T0 + 13)]}
        # The periodic flush extends the same row.
        feed(store, "viettel-uplink", T0 + 20)
        await clock.advance(FLUSH)
        await asyncio.sleep(0.05)
        await database.run(lambda c: None)  # after the flush's write
        assert await spans_in(database) == {"viettel-uplink": [(T0, T0 + 30)]}
        # A target removed by a reload: its span ends with what its last result vouched for.
        store.set_targets([t for t in TARGETS if t.name != "viettel-uplink"])
        await recorder.aclose()
        assert await spans_in(database) == {"viettel-uplink": [(T0, T0 + 30)]}
    finally:
        await database.close()


async def test_a_restart_keeps_the_old_spans_and_opens_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    for start in (T0, T0 + 600):  # netmon stopped for ~9.5 minutes between the two runs
        database = db.AlertDB(path)
        database.start()
        clock = FakeClock(wall=start)
        store = make_store()
        recorder = Coverage(database, store, lambda _: INTERVAL, clock=clock)
        recorder.start()
        for k in range(3):
            feed(store, "viettel-uplink", start + k * INTERVAL)
        clock.now = 30.0
        await recorder.aclose()
        await database.close()
    conn = sqlite3.connect(path)
    try:
        assert read_coverage(conn, 0, 1e10) == {
            "viettel-uplink": [(T0, T0 + 30), (T0 + 600, T0 + 630)]
        }
    finally:
        conn.close()


def test_a_ledger_from_before_coverage_reads_as_nothing_watched(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    try:
        conn.execute("CREATE TABLE outages (target TEXT)")
        assert read_coverage(conn, 0, 1e10) == {}
    finally:
        conn.close()


async def test_the_service_records_coverage_of_a_real_probe_run(tmp_path: Path) -> None:
    """``netmon run``'s service, probing the loopback for real: the span covers the run."""
    settings = Settings.model_validate(
        {
            "server": {"state_dir": str(tmp_path / "var")},
            "targets": [
                {
                    "name": "loopback",
                    "kind": "tcp",
                    "host": "127.0.0.1",
                    "interval": "200ms",
                    "tcp": {"port": 9},  # refused: a failure is watched time too
                }
            ],
        }
    )
    service = Service(settings)
    await service.start()
    scheduler = asyncio.create_task(service.scheduler.run())
    began = service.started
    try:
        await asyncio.sleep(1.5)
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
        await service.aclose()
    assert service.alerts.db.path is not None
    conn = sqlite3.connect(service.alerts.db.path)
    try:
        spans = read_coverage(conn, 0, 1e10)
    finally:
        conn.close()
    [(start, end)] = spans["loopback"]
    assert began <= start < began + 1.0
    assert end - start > 1.0
