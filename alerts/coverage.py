"""When netmon watched each target: the coverage ledger (issue 14: no data is not uptime).

A result started at ``t`` vouches for its target until its next run is due, ``t + interval``.
A target's results make spans: a result that starts within two intervals of the one before
(one run skipped or late is still watching) extends the open span, a later one starts a new
span. Time outside every span (netmon stopped, the target not yet in the settings, the
scheduler starved) is *not watched*: the report shows it as such and never counts it as up.

Open spans are kept in memory and written to SQLite (table ``coverage``) every ``FLUSH``
seconds and when netmon stops, so a crash costs at most ``FLUSH`` seconds of coverage, never
an invented one: a span is written only as far as its last result vouches for. A span that a
restart interrupts stays as written; the first result after the restart opens a new one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alerts import db
from monitor.config import Target
from monitor.core.clock import Clock, SystemClock
from monitor.core.tasks import stop_task
from monitor.runtime.store import Observation, Store, TargetState

__all__ = ["FLUSH", "Coverage", "Span", "read_coverage"]

log = logging.getLogger("netmon.alerts.coverage")

FLUSH = 60.0  # seconds between writes of the open spans
_CONTINUES = 2.0  # a result within this many intervals of the last one continues its span

Span = tuple[float, float]


@dataclass(slots=True)
class _Open:
    start: float  # unix seconds of the span's first result
    last: float  # unix seconds of its latest result
    interval: float  # seconds the latest result vouches for


def _write(spans: list[tuple[str, float, float]]) -> db.Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO coverage (target, start, end) VALUES (?, ?, ?) "
            "ON CONFLICT (target, start) DO UPDATE SET end = max(end, excluded.end)",
            spans,
        )

    return job


def read_coverage(
    conn: sqlite3.Connection, since: float, until: float, targets: Iterable[str] | None = None
) -> dict[str, list[Span]]:
    """Every span overlapping ``[since, until)``, per target, oldest first (a database from
    before coverage was recorded has none: all its time reads as not watched)."""
    wanted = None if targets is None else set(targets)
    try:
        rows = conn.execute(
            "SELECT target, start, end FROM coverage WHERE start < ? AND end > ? "
            "ORDER BY target, start",
            (until, since),
        ).fetchall()
    except sqlite3.OperationalError:  # no such table: a ledger older than coverage
        return {}
    spans: dict[str, list[Span]] = {}
    for target, start, end in rows:
        if wanted is None or target in wanted:
            spans.setdefault(str(target), []).append((float(start), float(end)))
    return spans


class Coverage:
    """Listens to the store; ``interval_of`` gives a target's interval now (the phase's)."""

    def __init__(
        self,
        database: db.AlertDB,
        store: Store,
        interval_of: Callable[[Target], float],
        *,
        clock: Clock | None = None,
    ) -> None:
        self._db = database
        self._store = store
        self._interval_of = interval_of
        self._clock: Clock = clock or SystemClock()
        self._open: dict[str, _Open] = {}
        self._closed: list[tuple[str, float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._store.subscribe(self._on_record, self._on_remove)
        self._task = asyncio.create_task(self._run(), name="coverage")

    def _on_record(self, state: TargetState, obs: Observation) -> None:
        name = state.target.name
        interval = self._interval_of(state.target)
        span = self._open.get(name)
        if span is not None and obs.started <= span.last + _CONTINUES * span.interval:
            if obs.started >= span.last:
                span.last = obs.started
                span.interval = interval
            return
        if span is not None:
            self._closed.append((name, span.start, span.last + span.interval))
        self._open[name] = _Open(obs.started, obs.started, interval)

    def _on_remove(self, name: str) -> None:
        span = self._open.pop(name, None)
        if span is not None:
            end = min(span.last + span.interval, self._clock.time())
            self._closed.append((name, span.start, end))

    def spans(self, now: float | None = None) -> dict[str, list[Span]]:
        """What is open now, as far as each last result vouches (not beyond ``now``)."""
        at = self._clock.time() if now is None else now
        return {
            name: [(s.start, max(s.start, min(s.last + s.interval, at)))]
            for name, s in self._open.items()
        }

    async def query(self, since: float, until: float) -> dict[str, list[Span]]:
        """The written spans overlapping ``[since, until)`` and the open ones, per target."""
        written: dict[str, list[Span]] = await self._db.run(
            lambda conn: read_coverage(conn, since, until), write=False
        )
        for name, spans in self.spans().items():
            written.setdefault(name, []).extend(s for s in spans if s[0] < until and s[1] > since)
        return written

    def flush(self) -> asyncio.Future[None] | None:
        now = self._clock.time()
        rows = self._closed + [(name, s[0][0], s[0][1]) for name, s in self.spans(now).items()]
        self._closed = []
        if not rows:
            return None
        future: asyncio.Future[None] = self._db.submit(_write(rows))
        return future

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(FLUSH)
            self.flush()

    async def aclose(self) -> None:
        """Write what is open, as far as now, before the database closes."""
        await stop_task(self._task)
        self._task = None
        future = self.flush()
        if future is not None:
            try:
                await future
            except Exception as exc:  # counted by the database; the span is lost, not invented
                log.warning("coverage not written on the way out: %s", exc)
