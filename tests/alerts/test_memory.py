"""The series memory (what prev() reads): written behind, only what changed, pruned hourly,
targets that left the settings dropped; read back at start."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from alerts.memory import SeriesMemory

DAY = 86400.0
Labels = tuple[tuple[str, str], ...]
UP: Labels = (("ifIndex", "1"), ("ifName", "Gi0/0/1"))
DOWN: Labels = (("ifIndex", "2"), ("ifName", "Gi0/0/2"))


class Db:
    """AlertDB's two calls, run at once on one in-memory SQLite connection."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.jobs = 0

    def submit(self, job: Callable[[sqlite3.Connection], Any]) -> None:
        self.jobs += 1
        job(self.conn)

    async def run(self, job: Callable[[sqlite3.Connection], Any]) -> Any:
        return job(self.conn)

    def rows(self) -> list[tuple[str, str, float]]:
        return sorted(
            self.conn.execute("SELECT target, labels, value FROM series_memory").fetchall()
        )


def _memory(db: Db, targets: tuple[str, ...] = ("edge", "core")) -> SeriesMemory:
    memory = SeriesMemory(db)  # type: ignore[arg-type]
    memory.configure(["ifOperStatus"], targets)
    return memory


async def test_written_behind_only_what_changed_and_read_back() -> None:
    db, t0 = Db(), 1_800_000_000.0
    memory = _memory(db)
    memory.flush(t0)  # the hourly prune, nothing else
    index = {"ifOperStatus": [(UP, 1.0), (DOWN, 2.0)], "ifHCInOctets": [(UP, 5.0)]}
    memory.remember("edge", index, t0)
    assert memory.previous("edge", "ifOperStatus", UP) == 1.0
    assert memory.previous("edge", "ifHCInOctets", UP) is None  # no rule reads its prev()
    memory.flush(t0)
    assert len(db.rows()) == 2
    jobs = db.jobs
    memory.remember("edge", index, t0 + 30)  # unchanged: nothing to write
    memory.flush(t0 + 30)
    assert db.jobs == jobs
    memory.remember("edge", {"ifOperStatus": [(UP, 2.0)]}, t0 + 60)  # changed: one row
    memory.flush(t0 + 60)
    assert db.jobs == jobs + 1 and (
        db.conn.execute("SELECT value FROM series_memory WHERE labels LIKE '%\"1\"%'").fetchone()
        == (2.0,)
    )
    # A result without the series keeps its value (the agent did not answer).
    memory.remember("edge", {}, t0 + 90)
    assert memory.previous("edge", "ifOperStatus", DOWN) == 2.0
    # Read back by a new memory (a restart); a target no longer in the settings is dropped.
    again = _memory(db, ("core",))
    await again.load()
    assert again.previous("edge", "ifOperStatus", UP) is None
    again.flush(t0 + 120)
    assert db.rows() == []
    back = _memory(db)
    memory.flush(t0 + 150)
    await back.load()
    assert back.previous("edge", "ifOperStatus", UP) is None  # deleted above


async def test_series_unseen_for_a_week_are_pruned_hourly() -> None:
    db, t0 = Db(), 1_800_000_000.0
    memory = _memory(db)
    memory.remember("edge", {"ifOperStatus": [(UP, 1.0)]}, t0)
    memory.remember("core", {"ifOperStatus": [(UP, 1.0)]}, t0 + 6 * DAY)
    memory.flush(t0 + 7 * DAY - 1800)  # prunes: edge was seen 6 days 23.5 hours ago
    assert len(db.rows()) == 2
    memory.flush(t0 + 7 * DAY + 60)  # a week old, but within the hour since the last prune
    assert memory.previous("edge", "ifOperStatus", UP) == 1.0
    memory.flush(t0 + 7 * DAY + 1800)
    assert memory.previous("edge", "ifOperStatus", UP) is None
    assert memory.previous("core", "ifOperStatus", UP) == 1.0
    assert [r[0] for r in db.rows()] == ["core"]


async def test_a_reload_that_removes_a_target_forgets_it() -> None:
    db, t0 = Db(), 1_800_000_000.0
    memory = _memory(db)
    memory.remember("edge", {"ifOperStatus": [(UP, 1.0)]}, t0)
    memory.remember("core", {"ifOperStatus": [(UP, 1.0)]}, t0)
    memory.flush(t0)
    memory.configure(["ifOperStatus"], ["core"])
    assert memory.previous("edge", "ifOperStatus", UP) is None
    memory.flush(t0 + 1)
    assert [r[0] for r in db.rows()] == ["core"]
