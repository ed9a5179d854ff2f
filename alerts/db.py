"""Alert state, the outbox, the notification log and the outage ledger, in SQLite (WAL).

Every SQLite call runs in ONE dedicated thread, never on the event loop. The loop hands jobs
over with ``submit()`` (does not wait) or ``await run()``; the thread drains what is queued
and commits it as one transaction (each job in its own savepoint, so one bad job costs only
itself). ``synchronous=FULL``: a committed notification survives a power cut, and writes are
few (state transitions, notifications), batched, and off the loop.

When the file cannot be written (disk full, read-only, deleted directory) jobs fail, each
failure is counted (``errors_total``), ``ok`` turns false with the reason, and the caller goes
on from memory; the thread reopens the file on the next job, and ``on_recover`` tells the
engine to write its state again once a write succeeds.

Tables::

    alerts(key, rule, target, series, state, value, active_since, fired_at, labels, ...,
           ack)                                            -- ack: who, at, note (JSON)
    outbox(id, receiver, alert_key, kind, payload, created, attempts, status, ...)
    dead_letters(id, receiver, alert_key, kind, payload, created, died, attempts, error)
                                                           -- failed for good; never retried
    notified(receiver, alert_key, kind, page_key, at)      -- the notification log
    outages(id, target, grp, labels, start, end, reason, detail, phase, maintenance, ack,
            note)                                          -- note: text, by, at (JSON)
    coverage(target, start, end)                           -- when netmon watched (coverage.py)
    maintenance_windows(id, name, match, start, end, comment, author, created)
                                                           -- the API's windows, kept after
                                                           -- they end (the report counts them)
    ledger_subjects(name, device, kind, first_seen)        -- BGP peers the ledger has seen

The escalation clock is ``alerts.fired_at`` with the notification log: a step is due
``after`` the first page and done once its receivers are in ``notified``; both survive a
kill -9, so a restarted netmon climbs on where it was. Columns added later (``ack``) are
added to an older file when it is opened for writing; readers check for them. The table
``maintenance`` of older files (one row per name, deleted when the window ended) is copied
into ``maintenance_windows`` and dropped at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alerts.model import MaintenanceWindow, Notification, Outage

__all__ = [
    "AlertDB",
    "AlertRow",
    "NotifiedRow",
]

log = logging.getLogger("netmon.alerts.db")

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    target TEXT,
    series TEXT NOT NULL,
    state TEXT NOT NULL,
    value REAL,
    active_since REAL NOT NULL,
    fired_at REAL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    updated REAL NOT NULL,
    ack TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    finished REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, created);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    died REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notified (
    receiver TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    page_key TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (receiver, alert_key)
);
CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    grp TEXT NOT NULL,
    labels TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL,
    reason TEXT,
    detail TEXT NOT NULL,
    phase TEXT,
    maintenance TEXT,
    ack TEXT,
    note TEXT,
    UNIQUE (target, start)
);
CREATE INDEX IF NOT EXISTS outages_time ON outages (start, end);
CREATE TABLE IF NOT EXISTS coverage (
    target TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    PRIMARY KEY (target, start)
);
CREATE TABLE IF NOT EXISTS maintenance_windows (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    match TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    comment TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    UNIQUE (name, start)
);
CREATE TABLE IF NOT EXISTS ledger_subjects (
    name TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_seen REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AlertRow:
    key: str
    rule: str
    target: str | None
    series: tuple[tuple[str, str], ...]
    state: str
    value: float
    active_since: float
    fired_at: float | None
    labels: dict[str, str]
    annotations: dict[str, str]
    ack: dict[str, Any] | None = None  # Ack.to_json(): by, at, note


@dataclass(frozen=True, slots=True)
class NotifiedRow:
    receiver: str
    alert_key: str
    kind: str  # "firing", "flapping" or "resolved": what this receiver was last sent
    page_key: str  # what a new page compares against (severity, or every label)
    at: float


# ------------------------------------------------------------------ jobs (run in the thread)


def save_alert(row: AlertRow, now: float) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO alerts (key, rule, target, series, state, value, "
            "active_since, fired_at, labels, annotations, updated, ack) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.key,
                row.rule,
                row.target,
                json.dumps(row.series),
                row.state,
                None if row.value != row.value else row.value,
                row.active_since,
                row.fired_at,
                json.dumps(row.labels, ensure_ascii=False),
                json.dumps(row.annotations, ensure_ascii=False),
                now,
                None if row.ack is None else json.dumps(row.ack, ensure_ascii=False),
            ),
        )

    return job


def delete_alert(key: str) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM alerts WHERE key = ?", (key,))

    return job


def load_alerts(conn: sqlite3.Connection) -> list[AlertRow]:
    rows = conn.execute(
        "SELECT key, rule, target, series, state, value, active_since, fired_at, labels, "
        "annotations, ack FROM alerts"
    ).fetchall()
    return [
        AlertRow(
            key=r[0],
            rule=r[1],
            target=r[2],
            series=tuple((str(k), str(v)) for k, v in json.loads(r[3])),
            state=r[4],
            value=float("nan") if r[5] is None else float(r[5]),
            active_since=float(r[6]),
            fired_at=None if r[7] is None else float(r[7]),
            labels=json.loads(r[8]),
            annotations=json.loads(r[9]),
            ack=None if r[10] is None else json.loads(r[10]),
        )
        for r in rows
    ]


def outbox_add(notification: Notification) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO outbox (id, receiver, alert_key, kind, payload, created) "
            "VALUES (?,?,?,?,?,?)",
            (
                notification.id,
                notification.receiver,
                notification.alert.key,
                notification.kind,
                notification.to_json(),
                notification.created,
            ),
        )

    return job


def outbox_finish(ids: list[str], status: str, at: float, error: str | None = None) -> Job:
    """Mark notifications delivered or dropped: they leave the pending set."""

    def job(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "UPDATE outbox SET status = ?, finished = ?, last_error = ? WHERE id = ?",
            [(status, at, error, i) for i in ids],
        )

    return job


def outbox_attempt(ids: list[str], error: str) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            [(error, i) for i in ids],
        )

    return job


def outbox_dead(notifications: list[tuple[Notification, int]], at: float, error: str) -> Job:
    """Move notifications that failed for a reason that will not change out of the outbox:
    a restart must not send (and fail) them again ahead of the others."""

    def job(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO dead_letters VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    n.id,
                    n.receiver,
                    n.alert.key,
                    n.kind,
                    n.to_json(),
                    n.created,
                    at,
                    attempts,
                    error,
                )
                for n, attempts in notifications
            ],
        )
        conn.executemany("DELETE FROM outbox WHERE id = ?", [(n.id,) for n, _ in notifications])

    return job


def dead_letters(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(id, receiver, error) of every dead letter, oldest first."""
    rows = conn.execute("SELECT id, receiver, error FROM dead_letters ORDER BY died, rowid")
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows.fetchall()]


def outbox_pending(conn: sqlite3.Connection) -> list[Notification]:
    rows = conn.execute(
        "SELECT payload, attempts FROM outbox WHERE status = 'pending' ORDER BY created, rowid"
    ).fetchall()
    return [Notification.from_json(r[0], int(r[1])) for r in rows]


def outbox_prune(before: float) -> Job:
    def job(conn: sqlite3.Connection) -> int:
        cur = conn.execute(
            "DELETE FROM outbox WHERE status != 'pending' AND finished < ?", (before,)
        )
        return cur.rowcount

    return job


def set_notified(row: NotifiedRow) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO notified VALUES (?,?,?,?,?)",
            (row.receiver, row.alert_key, row.kind, row.page_key, row.at),
        )

    return job


def forget_notified(receiver: str, alert_key: str) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM notified WHERE receiver = ? AND alert_key = ?", (receiver, alert_key)
        )

    return job


def load_notified(conn: sqlite3.Connection) -> list[NotifiedRow]:
    rows = conn.execute("SELECT receiver, alert_key, kind, page_key, at FROM notified")
    return [NotifiedRow(r[0], r[1], r[2], r[3], float(r[4])) for r in rows.fetchall()]


def outage_open(outage: Outage) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO outages (target, grp, labels, start, end, reason, detail, "
            "phase, maintenance) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                outage.target,
                outage.group,
                json.dumps(outage.labels, ensure_ascii=False),
                outage.start,
                outage.end,
                outage.reason,
                outage.detail,
                outage.phase,
                outage.maintenance,
            ),
        )

    return job


def outage_close(target: str, start: float, end: float) -> Job:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE outages SET end = ? WHERE target = ? AND start = ? AND end IS NULL",
            (end, target, start),
        )

    return job


def outage_ack(target: str, start: float, ack: dict[str, Any]) -> Job:
    """An acknowledgement, kept with the outage it was given in (and into the report)."""

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE outages SET ack = ? WHERE target = ? AND start = ?",
            (json.dumps(ack, ensure_ascii=False), target, start),
        )

    return job


def _outage(r: tuple[Any, ...]) -> Outage:
    return Outage(
        target=r[0],
        group=r[1],
        labels=json.loads(r[2]),
        start=float(r[3]),
        end=None if r[4] is None else float(r[4]),
        reason=r[5],
        detail=r[6],
        phase=r[7],
        maintenance=r[8],
        id=int(r[9]),
        ack=json.loads(r[10]) if r[10] is not None else None,
        note=json.loads(r[11]) if r[11] is not None else None,
    )


_OUTAGE_COLUMNS = "target, grp, labels, start, end, reason, detail, phase, maintenance, id"


def _outage_columns(conn: sqlite3.Connection) -> str:
    """The columns to read: ``ack`` and ``note`` as NULL when the file predates them
    (read-only readers, such as ``netmon report``, do not add them)."""
    names = {r[1] for r in conn.execute("PRAGMA table_info(outages)")}
    return _OUTAGE_COLUMNS + "".join(f", {c}" if c in names else ", NULL" for c in ("ack", "note"))


def open_outages(conn: sqlite3.Connection) -> list[Outage]:
    rows = conn.execute(f"SELECT {_outage_columns(conn)} FROM outages WHERE end IS NULL")
    return [_outage(r) for r in rows.fetchall()]


def query_outages(
    target: str | None,
    group: str | None,
    since: float | None,
    until: float | None,
    *,
    device: str | None = None,
) -> Job:
    """Outages overlapping [since, until), oldest first; None leaves a bound open.
    ``device``: the outages of its circuits and BGP peers (``DEVICE/...``)."""

    def job(conn: sqlite3.Connection) -> list[Outage]:
        where: list[str] = []
        args: list[str | float] = []
        if target is not None:
            where.append("target = ?")
            args.append(target)
        if device is not None:
            where.append("substr(target, 1, ?) = ?")
            args += [len(device) + 1, device + "/"]
        if group is not None:
            where.append("grp = ?")
            args.append(group)
        if since is not None:
            where.append("(end IS NULL OR end > ?)")
            args.append(since)
        if until is not None:
            where.append("start < ?")
            args.append(until)
        sql = f"SELECT {_outage_columns(conn)} FROM outages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = conn.execute(sql + " ORDER BY start, id", args).fetchall()
        return [_outage(r) for r in rows]

    return job


def outage_note(outage_id: int, note: dict[str, Any]) -> Job:
    """The NOC's note on the outage ``outage_id`` (replacing any before it); the outage as
    it reads now, or None when no outage has that id."""

    def job(conn: sqlite3.Connection) -> Outage | None:
        cur = conn.execute(
            "UPDATE outages SET note = ? WHERE id = ?",
            (json.dumps(note, ensure_ascii=False), outage_id),
        )
        if cur.rowcount == 0:
            return None
        row = conn.execute(
            f"SELECT {_outage_columns(conn)} FROM outages WHERE id = ?", (outage_id,)
        ).fetchone()
        return _outage(row)

    return job


def outage_by_id(outage_id: int) -> Job:
    def job(conn: sqlite3.Connection) -> Outage | None:
        row = conn.execute(
            f"SELECT {_outage_columns(conn)} FROM outages WHERE id = ?", (outage_id,)
        ).fetchone()
        return None if row is None else _outage(row)

    return job


def save_maintenance(window: MaintenanceWindow, now: float) -> Job:
    """An API window, new or changed (extended): it replaces the window of that name that
    has not ended; those that ended stay as they were, for the report."""
    start, end = window.span

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM maintenance_windows WHERE name = ? AND end > ?", (window.name, now)
        )
        conn.execute(
            "INSERT OR REPLACE INTO maintenance_windows "
            "(name, match, start, end, comment, author, created) VALUES (?,?,?,?,?,?,?)",
            (
                window.name,
                json.dumps(window.match, ensure_ascii=False),
                start,
                end,
                window.comment,
                window.author,
                now,
            ),
        )

    return job


def end_maintenance(name: str, now: float) -> Job:
    """The window ``name`` ends now: one that began is kept, cut at ``now`` (its time counts
    as maintenance in the report); one that had not begun never was, and goes."""

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE maintenance_windows SET end = ? WHERE name = ? AND start <= ? AND end > ?",
            (now, name, now, now),
        )
        conn.execute("DELETE FROM maintenance_windows WHERE name = ? AND start > ?", (name, now))

    return job


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def load_windows(
    conn: sqlite3.Connection, since: float | None = None, until: float | None = None
) -> list[MaintenanceWindow]:
    """The API's windows, those that ended too (oldest first); with ``since``/``until`` only
    those overlapping ``[since, until)``. A file from before ``maintenance_windows`` (read
    read-only by ``netmon report``) is read from its table ``maintenance``."""
    tables = _tables(conn)
    if "maintenance_windows" in tables:
        sql = "SELECT name, match, start, end, comment, author FROM maintenance_windows"
    elif "maintenance" in tables:
        sql = "SELECT name, match, start, end, comment, '' FROM maintenance"
    else:
        return []
    rows = conn.execute(
        f"SELECT * FROM ({sql}) WHERE end > ? AND start < ? ORDER BY start, name",
        (-1e18 if since is None else since, 1e18 if until is None else until),
    ).fetchall()
    windows = []
    for r in rows:
        try:
            windows.append(
                MaintenanceWindow.at(
                    r[0], json.loads(r[1]), float(r[2]), float(r[3]), r[4], str(r[5] or "")
                )
            )
        except ValueError as exc:  # pydantic's ValidationError too: one bad row costs itself
            log.error("maintenance window %r in the database is unreadable: %s", r[0], exc)
    return windows


def save_subject(name: str, device: str, kind: str, first_seen: float) -> Job:
    """A subject the settings do not name (a BGP peer), the first time the ledger sees it."""

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO ledger_subjects VALUES (?,?,?,?)",
            (name, device, kind, first_seen),
        )

    return job


def load_subjects(conn: sqlite3.Connection) -> list[tuple[str, str, str, float]]:
    """(name, device, kind, first seen) of every subject recorded (none in an older file)."""
    if "ledger_subjects" not in _tables(conn):
        return []
    rows = conn.execute("SELECT name, device, kind, first_seen FROM ledger_subjects ORDER BY name")
    return [(str(a), str(b), str(c), float(d)) for a, b, c, d in rows.fetchall()]


# ------------------------------------------------------------------ the thread

_STOP = object()
_BATCH = 500


def _add_columns(conn: sqlite3.Connection) -> None:
    """Columns added since a file was made (CREATE TABLE IF NOT EXISTS keeps an old table),
    and the old ``maintenance`` table moved into ``maintenance_windows``, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column in (("alerts", "ack"), ("outages", "ack"), ("outages", "note")):
            names = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        if "maintenance" in _tables(conn):
            conn.execute(
                "INSERT OR IGNORE INTO maintenance_windows "
                "(name, match, start, end, comment, author, created) "
                "SELECT name, match, start, end, comment, '', created FROM maintenance"
            )
            conn.execute("DROP TABLE maintenance")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class AlertDB:
    """The one thread that talks to SQLite; ``path`` None keeps everything in memory only."""

    def __init__(
        self,
        path: Path | None,
        *,
        on_recover: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.ok = path is not None
        self.last_error: str | None = None if path is not None else "no state_dir"
        self.errors_total = 0
        self._on_recover = on_recover
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, name="netmon-alerts-db", daemon=True)
        self._thread.start()

    def submit(self, job: Job, *, write: bool = True) -> asyncio.Future[Any]:
        """Queue a job; the future resolves (on the loop) when its transaction committed."""
        assert self._loop is not None, "AlertDB.start() first"
        future: asyncio.Future[Any] = self._loop.create_future()
        # Nobody may await a fire-and-forget write: fetch its exception so asyncio does not
        # log "exception was never retrieved" (failures are counted and reported instead).
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        if self.path is None:
            future.set_exception(RuntimeError("alerts state is kept in memory only"))
            return future
        self._queue.put((job, future, write))
        return future

    async def run(self, job: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        result: T = await self.submit(job, write=write)
        return result

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join, 30)
        self._thread = None

    # -- in the thread

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(SCHEMA)
            _add_columns(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _main(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop = False
            while len(batch) < _BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stop:
                break
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run_batch(self, batch: list[tuple[Job, asyncio.Future[Any], bool]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            for job, future, _ in batch:
                try:
                    conn.execute("SAVEPOINT job")
                    result = job(conn)
                    conn.execute("RELEASE job")
                    outcomes.append((future, result, None))
                except Exception as exc:  # one bad job must not cost the others
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                    outcomes.append((future, None, exc))
            conn.execute("COMMIT")
        except Exception as exc:  # the file itself: unwritable, full, gone
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None  # reopened by the next batch
            outcomes = [(future, None, exc) for _, future, _ in batch]
        failed = [exc for _, _, exc in outcomes if exc is not None]
        wrote = any(write for _, _, write in batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._report, outcomes, failed, wrote)

    # -- back on the loop

    def _report(
        self,
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
        failed: list[BaseException],
        wrote: bool,
    ) -> None:
        if failed:
            self.errors_total += len(failed)
            message = f"{type(failed[0]).__name__}: {failed[0]}"
            if self.ok or message != self.last_error:
                log.error("alert state database %s: %s", self.path, message)
            self.ok = False
            self.last_error = message
        elif wrote and not self.ok:
            log.warning("alert state database %s is writable again", self.path)
            self.ok = True
            self.last_error = None
            if self._on_recover is not None:
                self._on_recover()
        for future, result, exc in outcomes:
            if future.done():
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)
