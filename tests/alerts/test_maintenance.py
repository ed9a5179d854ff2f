"""Maintenance windows: the one model (settings, API, SQLite, answers) and the registry of the
settings' and the API's windows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts import db
from alerts.maintenance import Maintenance, MaintenanceError
from alerts.model import MaintenanceWindow

T0 = datetime(2025, 10, 14, 7, 0, tzinfo=timezone(timedelta(hours=7)))


def window(name: str, hours: float = 2.0, **match: list[str]) -> MaintenanceWindow:
    return MaintenanceWindow(
        name=name,
        match=match or {"target": ["venue-switch"]},
        start=T0,
        end=T0 + timedelta(hours=hours),
        comment="Nâng cấp firmware",
    )


def test_the_model_checks_and_speaks_unix_seconds_and_rfc3339() -> None:
    w = window("nang-cap")
    start = T0.timestamp()
    assert w.span == (start, start + 7200)
    assert w.active(start) and not w.active(start + 7200) and not w.active(start - 1)
    assert w.selects({"target": "venue-switch", "group": "venue"})
    assert not w.selects({"target": "so-khcn"})
    assert w.to_json("api", start) == {
        "name": "nang-cap",
        "match": {"target": ["venue-switch"]},
        "start": "2025-10-14T00:00:00Z",
        "end": "2025-10-14T02:00:00Z",
        "comment": "Nâng cấp firmware",
        "author": "",
        "source": "api",
        "active": True,
    }
    assert MaintenanceWindow.at(w.name, w.match, *w.span, w.comment) == w
    with pytest.raises(ValidationError, match="end is not after start"):
        MaintenanceWindow(name="x", match={"a": ["b"]}, start=T0, end=T0)
    with pytest.raises(ValidationError, match="give at least one label"):
        MaintenanceWindow(name="x", match={}, start=T0, end=T0 + timedelta(hours=1))
    with pytest.raises(ValidationError, match="not a label name"):
        MaintenanceWindow(name="x", match={"a-b": ["c"]}, start=T0, end=T0 + timedelta(hours=1))
    with pytest.raises(ValidationError):
        MaintenanceWindow(name="x", match={"a": ["b"]}, start=T0.replace(tzinfo=None), end=T0)


async def test_the_apis_windows_outlive_a_restart_and_end_on_time(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    start = T0.timestamp()
    try:
        m = Maintenance(database)
        m.apply([window("settings-window", carrier=["viettel"])])
        await m.add(window("api-window", hours=1), start)
        with pytest.raises(MaintenanceError):
            await m.add(window("settings-window"), start)
        with pytest.raises(MaintenanceError):
            await m.delete("settings-window")
        assert [w.name for w in m.windows()] == ["settings-window", "api-window"]
        assert m.tick(start + 10) is True and m.active == {"settings-window", "api-window"}
        assert m.matching({"target": "venue-switch", "carrier": "viettel"}) == "api-window"
        assert m.matching({"carrier": "viettel"}) == "settings-window"
        assert [(w["name"], w["source"]) for w in m.listed(start)] == [
            ("settings-window", "settings"),
            ("api-window", "api"),
        ]

        again = Maintenance(database)  # a restart: the API's window comes back from SQLite
        again.load(await database.run(db.load_windows, write=False), start + 10)
        assert [w.name for w in again.windows()] == ["api-window"]
        assert again.window("api-window") == window("api-window", hours=1)
        # What the report reads: the same windows, as unix-second spans.
        windows = await database.run(db.load_windows, write=False)
        assert [(w.name, *w.span) for w in windows] == [("api-window", start, start + 3600)]

        assert m.tick(start + 3600) is True  # the API's window ended: forgotten in memory ...
        assert m.active == {"settings-window"} and m.window("api-window") is None
        # ... its row kept for the report, and not loaded again by a restart
        kept = await database.run(db.load_windows, write=False)
        assert [(w.name, *w.span) for w in kept] == [("api-window", start, start + 3600)]
        again = Maintenance(database)
        again.load(kept, start + 3600)
        assert again.windows() == []
        assert await m.delete("api-window") is False
    finally:
        await database.close()


def test_a_window_active_at_start_is_known_before_the_first_tick() -> None:
    m = Maintenance(db.AlertDB(None))
    m.load([window("api-window")], T0.timestamp() + 1)
    assert m.active == {"api-window"}
    m.load([window("api-window")], T0.timestamp() + 7200)  # ended while netmon was down
    assert m.windows() == []


async def test_ended_extended_and_reused_windows_stay_for_the_report(tmp_path: Path) -> None:
    """Ending a window cuts it at now and keeps it; extending replaces the open one; a name
    used again after its window ended makes a second row; one ended before it began goes."""
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    start = T0.timestamp()
    try:
        m = Maintenance(database)
        await m.add(window("nang-cap", hours=1).model_copy(update={"author": "noc-ca"}), start)
        longer = window("nang-cap", hours=3).model_copy(update={"author": "noc-ca"})
        await m.add(longer, start + 600)  # extended to three hours
        ended = await m.end("nang-cap", start + 1800)  # ended after half an hour
        assert ended is not None and ended.span == (start, start + 1800)
        assert m.window("nang-cap") is None
        again = window("nang-cap", hours=1).model_copy(
            update={"start": T0 + timedelta(hours=5), "end": T0 + timedelta(hours=6)}
        )
        await m.add(again, start + 3600)  # the name again, later the same day
        future = window("mai", hours=1).model_copy(
            update={"start": T0 + timedelta(days=1), "end": T0 + timedelta(days=1, hours=1)}
        )
        await m.add(future, start + 3600)
        assert await m.end("mai", start + 3700) == future  # had not begun: it never was
        rows = await database.run(db.load_windows, write=False)
        assert [(w.name, w.span[0] - start, w.span[1] - start, w.author) for w in rows] == [
            ("nang-cap", 0, 1800, "noc-ca"),
            ("nang-cap", 5 * 3600, 6 * 3600, ""),
        ]
        assert rows[0].comment == "Nâng cấp firmware"
        # The report asks for a range: only what overlaps it.
        inside = await database.run(lambda c: db.load_windows(c, start + 2000, start + 4 * 3600))
        assert inside == []
    finally:
        await database.close()


def test_a_window_in_the_past_or_too_long_is_refused_with_the_reason() -> None:
    m = Maintenance(db.AlertDB(None))
    now = T0.timestamp()
    with pytest.raises(MaintenanceError, match="ends in the past") as past:
        m.check(window("x", hours=1), now + 7200, 7 * 86400)
    assert past.value.status == 400
    with pytest.raises(MaintenanceError, match=r"lasts 8d, longer than \[alerts\] max_main"):
        m.check(window("x", hours=8 * 24), now, 7 * 86400)
    m.check(window("x", hours=7 * 24), now, 7 * 86400)  # exactly the longest: taken
    m.check(window("x", hours=1), now + 1800, 7 * 86400)  # begun, not ended: taken


def test_an_old_file_moves_its_windows_into_the_kept_table(tmp_path: Path) -> None:
    """A state file from before (table ``maintenance``, one row per name) is migrated when
    opened for writing: its windows are there, the old table gone; a read-only reader of an
    unmigrated file still finds them."""
    import json
    import sqlite3

    path = tmp_path / "alerts.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE maintenance (name TEXT PRIMARY KEY, match TEXT NOT NULL,
        start REAL NOT NULL, end REAL NOT NULL, comment TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE outages (id INTEGER PRIMARY KEY, target TEXT NOT NULL, grp TEXT NOT NULL,
        labels TEXT NOT NULL, start REAL NOT NULL, end REAL, reason TEXT, detail TEXT NOT NULL,
        phase TEXT, maintenance TEXT, UNIQUE (target, start));"""
    )
    start = T0.timestamp()
    match = json.dumps({"target": ["venue-switch"]})
    conn.execute(
        "INSERT INTO maintenance VALUES (?,?,?,?,?,?)", ("cu", match, start, start + 60, "cũ", 0)
    )
    conn.execute(
        "INSERT INTO outages (target, grp, labels, start, end, reason, detail) "
        "VALUES ('a', 'venue', '{}', ?, NULL, 'timeout', 'x')",
        (start,),
    )
    conn.commit()
    assert [w.name for w in db.load_windows(conn)] == ["cu"]  # read as it is
    outages = db.query_outages(None, None, None, None)(conn)
    assert outages[0].note is None and outages[0].ack is None and outages[0].id == 1
    conn.close()

    opened = db.AlertDB(path)._open()  # what the database thread does first
    try:
        tables = {r[0] for r in opened.execute("SELECT name FROM sqlite_master")}
        assert "maintenance" not in tables and "maintenance_windows" in tables
        assert [(w.name, w.comment) for w in db.load_windows(opened)] == [("cu", "cũ")]
        columns = {r[1] for r in opened.execute("PRAGMA table_info(outages)")}
        assert {"ack", "note"} <= columns
    finally:
        opened.close()
