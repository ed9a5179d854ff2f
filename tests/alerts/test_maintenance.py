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

        assert m.tick(start + 3600) is True  # the API's window ended: forgotten, row deleted
        assert m.active == {"settings-window"} and m.window("api-window") is None
        assert await database.run(db.load_windows, write=False) == []
        assert await m.delete("api-window") is False
    finally:
        await database.close()


def test_a_window_active_at_start_is_known_before_the_first_tick() -> None:
    m = Maintenance(db.AlertDB(None))
    m.load([window("api-window")], T0.timestamp() + 1)
    assert m.active == {"api-window"}
    m.load([window("api-window")], T0.timestamp() + 7200)  # ended while netmon was down
    assert m.windows() == []
