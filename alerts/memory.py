"""What ``prev()`` reads: the last value of each series a rule asks about, kept across restarts.

The engine evaluates a target's rules on each result, then hands the result here: for every
sample name some rule reads through ``prev(name)`` (``ifOperStatus``, ``sysUpTime`` in the
shipped rules), each series' value is remembered with the time it was seen. A result that does
not carry a series (the agent did not answer) leaves its value alone: the previous value of an
interface is the last one polled, however long ago. Results patched by a trap are not
remembered (the engine skips them): ``prev()`` is always a polled value.

The values live in SQLite beside the alerts (``series_memory`` in ``alerts.sqlite``), written
behind: what changed since the last tick is written in one job each second (and at stop), so a
restart of netmon neither forgets which ports were up nor takes every young agent for a
restarted one. Series not seen for a week, and targets no longer in the settings, are dropped.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable

from alerts.db import AlertDB, Job

__all__ = ["SeriesMemory"]

log = logging.getLogger("netmon.alerts")

Labels = tuple[tuple[str, str], ...]
Key = tuple[str, Labels]  # (sample name, series labels)
_KEEP = 7 * 86400.0
_RESEEN = 3600.0  # an unchanged value's time seen is written again at most this often
_PRUNE_EVERY = 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS series_memory (
    target TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (target, name, labels)
)
"""

Row = tuple[str, str, Labels, float, float]  # target, name, labels, value, seen


def _load(conn: sqlite3.Connection) -> list[Row]:
    conn.execute(SCHEMA)
    rows = conn.execute("SELECT target, name, labels, value, seen FROM series_memory").fetchall()
    return [
        (str(t), str(n), tuple((str(k), str(v)) for k, v in json.loads(lab)), float(v), float(s))
        for t, n, lab, v, s in rows
    ]


def _write(upserts: list[Row], dropped: list[str], before: float | None) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(SCHEMA)
        conn.executemany(
            "INSERT OR REPLACE INTO series_memory VALUES (?,?,?,?,?)",
            [(t, n, json.dumps(lab, ensure_ascii=False), v, s) for t, n, lab, v, s in upserts],
        )
        conn.executemany("DELETE FROM series_memory WHERE target = ?", [(t,) for t in dropped])
        if before is not None:
            conn.execute("DELETE FROM series_memory WHERE seen < ?", (before,))

    return job


class SeriesMemory:
    """Per target, (sample name, labels) → (value, seen) for the names rules read with prev()."""

    def __init__(self, db: AlertDB) -> None:
        self._db = db
        self.names: frozenset[str] = frozenset()
        self._targets: frozenset[str] | None = None
        self._values: dict[str, dict[Key, tuple[float, float]]] = {}
        self._dirty: dict[str, set[Key]] = {}
        self._dropped: set[str] = set()
        self._last_prune = 0.0

    def configure(self, names: Iterable[str], targets: Iterable[str]) -> None:
        """The sample names to remember and the targets that exist (a load or a reload)."""
        self.names = frozenset(names)
        self._targets = frozenset(targets)
        for target in [t for t in self._values if t not in self._targets]:
            del self._values[target]
            self._dirty.pop(target, None)
            self._dropped.add(target)

    async def load(self) -> None:
        try:
            rows = await self._db.run(_load)
        except Exception as exc:  # unreadable: prev() starts empty, as on a first start
            log.error("cannot read the series memory (%s); prev() starts empty", exc)
            return
        for target, name, labels, value, seen in rows:
            if self._targets is not None and target not in self._targets:
                self._dropped.add(target)
                continue
            self._values.setdefault(target, {})[(name, labels)] = (value, seen)

    def previous(self, target: str, name: str, labels: Labels) -> float | None:
        known = self._values.get(target, {}).get((name, labels))
        return known[0] if known is not None else None

    def remember(
        self, target: str, index: dict[str, list[tuple[Labels, float]]], seen: float
    ) -> None:
        """The series of one result (by sample name) whose names a rule reads with prev()."""
        if not self.names:
            return
        values = None
        for name in self.names:
            for labels, value in index.get(name, ()):
                if values is None:
                    values = self._values.setdefault(target, {})
                key = (name, labels)
                known = values.get(key)
                values[key] = (value, seen)
                if known is None or known[0] != value or seen - known[1] >= _RESEEN:
                    self._dirty.setdefault(target, set()).add(key)
                else:
                    values[key] = (value, known[1])  # the time written stays the one on disk

    def flush(self, now: float) -> None:
        """Write what changed since the last flush (one job); nothing when nothing did. Once
        an hour, drop what was not seen for a week."""
        prune = now - self._last_prune >= _PRUNE_EVERY
        if not self._dirty and not self._dropped and not prune:
            return
        upserts: list[Row] = []
        for target, keys in self._dirty.items():
            values = self._values.get(target, {})
            for name, labels in keys:
                known = values.get((name, labels))
                if known is not None:
                    upserts.append((target, name, labels, known[0], known[1]))
        dropped = sorted(self._dropped)
        self._dirty.clear()
        self._dropped.clear()
        if prune:
            self._last_prune = now
            for values in self._values.values():
                for key in [k for k, (_, seen) in values.items() if seen < now - _KEEP]:
                    del values[key]
        self._db.submit(_write(upserts, dropped, now - _KEEP if prune else None))

    def resync(self) -> None:
        """The database failed and is back: write every value again at the next flush."""
        for target, values in self._values.items():
            self._dirty.setdefault(target, set()).update(values)
