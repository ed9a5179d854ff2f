"""Each target's last 24 hours, downsampled: what a target's page draws (issue 14, the wall).

The store keeps only the last results (``Store.history_size``); this keeps one bucket per
``BUCKET`` seconds per target for ``KEEP`` seconds: how many results, how many succeeded, the
min / sum / max of the figure the page plots (ICMP: the average round trip; the others: the
response time) over the successful results that had one, and the sum of the ICMP loss ratios.
A bucket with no result is simply absent: the page draws it as a gap ("no data"), never as up.

Fed by a store listener (``on_record``: a dict lookup and a few additions per result, measured
in tests/runtime/test_history.py), into flat arrays: 28 bytes a bucket, 8 kB a target's day.
Buckets are written to SQLite (``history.sqlite`` under
``[server] state_dir``) every ``FLUSH`` seconds by a thread, never on the loop, and read back
at start: a restart keeps the day's history, and the time netmon was stopped stays a gap.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.core.tasks import stop_task
from monitor.runtime.store import Observation, Store, TargetState

__all__ = ["BUCKET", "FLUSH", "KEEP", "Bucket", "History"]

log = logging.getLogger("netmon.history")

BUCKET = 300  # seconds: 288 buckets a day, about 3 px each on the page's 960 px drawing
KEEP = 24 * 3600
FLUSH = 60.0
_SLOTS = KEEP // BUCKET
_RTT = "probe_icmp_rtt_seconds"
_LOSS = "probe_icmp_packet_loss_ratio"
_DNS = "probe_dns_lookup_time_seconds"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    target TEXT NOT NULL, slot INTEGER NOT NULL, kind TEXT NOT NULL,
    count INTEGER NOT NULL, up INTEGER NOT NULL,
    n INTEGER NOT NULL, vmin REAL NOT NULL, vsum REAL NOT NULL, vmax REAL NOT NULL,
    loss_n INTEGER NOT NULL, loss_sum REAL NOT NULL,
    PRIMARY KEY (target, slot)
) WITHOUT ROWID
"""


@dataclass(slots=True)
class Bucket:
    """One BUCKET of one target's results. ``slot`` is the unix time // BUCKET."""

    slot: int
    count: int = 0
    up: int = 0
    n: int = 0  # successful results with a value
    vmin: float = 0.0
    vsum: float = 0.0
    vmax: float = 0.0
    loss_n: int = 0
    loss_sum: float = 0.0

    @property
    def start(self) -> float:
        return float(self.slot * BUCKET)

    @property
    def mean(self) -> float | None:
        return self.vsum / self.n if self.n else None

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.loss_n if self.loss_n else None

    def row(self, target: str, kind: str) -> tuple[Any, ...]:
        return (target, self.slot, kind, self.count, self.up, self.n, self.vmin, self.vsum,
                self.vmax, self.loss_n, self.loss_sum)  # fmt: skip


def _value(kind: str, obs: Observation) -> tuple[float | None, float | None]:
    """The figure plotted and the ICMP loss of one result (the loss of a failed one too)."""
    if kind == "icmp":
        rtt = loss = None
        for sample in obs.result.samples:
            name = sample.name
            if name == _RTT:
                if ("stat", "avg") in sample.labels:
                    rtt = sample.value
            elif name == _LOSS:
                loss = sample.value
        return rtt, loss
    if kind == "dns":
        for sample in obs.result.samples:
            if sample.name == _DNS:
                return sample.value, None
    return obs.duration, None


def _add(bucket: Bucket, kind: str, obs: Observation) -> None:
    if bucket.count >= _MANY:
        return
    bucket.count += 1
    value, loss = _value(kind, obs)
    if obs.result.success:
        bucket.up += 1
        if value is not None:
            if bucket.n == 0 or value < bucket.vmin:
                bucket.vmin = value
            if value > bucket.vmax:
                bucket.vmax = value
            bucket.vsum += value
            bucket.n += 1
    if loss is not None:
        bucket.loss_n += 1
        bucket.loss_sum += loss


_NO_SLOT = -1
_MANY = 65535  # results a bucket counts at most (uint16): a result a second is 300


class _Day:
    """One target's day: the bucket being filled as an object (what each result touches),
    and the sealed ones in a ring of ``_SLOTS`` entries in flat arrays (28 bytes a bucket: a
    day is 8 kB, 10,000 targets 81 MB), indexed by slot % _SLOTS. An entry whose ``slots``
    value is not the slot asked for is empty, so rolling over costs nothing."""

    __slots__ = ("count", "current", "flushed", "kind", "loss_n", "loss_sum", "low", "n",
                 "slots", "up", "vmax", "vmin", "vsum")  # fmt: skip

    def __init__(self, kind: str) -> None:
        self.kind = kind  # what the figures were measured as
        self.slots = array("i", [_NO_SLOT]) * _SLOTS
        self.count = array("H", [0]) * _SLOTS
        self.up = array("H", [0]) * _SLOTS
        self.n = array("H", [0]) * _SLOTS
        self.loss_n = array("H", [0]) * _SLOTS
        self.vmin = array("f", [0.0]) * _SLOTS
        self.vsum = array("f", [0.0]) * _SLOTS
        self.vmax = array("f", [0.0]) * _SLOTS
        self.loss_sum = array("f", [0.0]) * _SLOTS
        self.low = _UNCHANGED  # the oldest sealed slot changed since the last flush
        self.current: Bucket | None = None
        self.flushed = (0, 0)  # the current bucket's slot and count when last written

    def seal(self) -> None:
        """The current bucket into the ring (a new slot began)."""
        if self.current is not None:
            self.put(self.current)
            self.low = min(self.low, self.current.slot)
            self.current = None

    def sealed(self, slot: int) -> Bucket | None:
        i = slot % _SLOTS
        return self.bucket(i) if self.slots[i] == slot else None

    def all(self) -> list[Bucket]:
        """Every bucket held (the ring's, then the current), unordered, maybe older than a
        day."""
        found = [self.bucket(i) for i, slot in enumerate(self.slots) if slot != _NO_SLOT]
        if self.current is not None:
            found = [b for b in found if b.slot != self.current.slot] + [self.current]
        return found

    def reset(self, i: int, slot: int) -> None:
        self.slots[i] = slot
        self.count[i] = self.up[i] = self.n[i] = self.loss_n[i] = 0
        self.vmin[i] = self.vsum[i] = self.vmax[i] = self.loss_sum[i] = 0.0

    def bucket(self, i: int) -> Bucket:
        return Bucket(self.slots[i], self.count[i], self.up[i], self.n[i], self.vmin[i],
                      self.vsum[i], self.vmax[i], self.loss_n[i], self.loss_sum[i])  # fmt: skip

    def merge(self, older: _Day) -> None:
        """Take the entries of a day read back from disk that this one has nothing newer
        for (results recorded since the start win)."""
        limit = self.current.slot if self.current is not None else 2**31
        for i, slot in enumerate(older.slots):
            if self.slots[i] < slot < limit:
                self.slots[i] = slot
                self.count[i], self.up[i], self.n[i] = older.count[i], older.up[i], older.n[i]
                self.loss_n[i], self.loss_sum[i] = older.loss_n[i], older.loss_sum[i]
                self.vmin[i], self.vsum[i], self.vmax[i] = (
                    older.vmin[i],
                    older.vsum[i],
                    older.vmax[i],
                )

    def put(self, b: Bucket) -> None:
        i = b.slot % _SLOTS
        self.slots[i] = b.slot
        self.count[i], self.up[i], self.n[i] = (min(v, _MANY) for v in (b.count, b.up, b.n))
        self.loss_n[i] = min(b.loss_n, _MANY)
        self.vmin[i], self.vsum[i], self.vmax[i] = b.vmin, b.vsum, b.vmax
        self.loss_sum[i] = b.loss_sum


_UNCHANGED = 2**31 - 1


class History:
    """Per target, a day of buckets (``_Day``), fed by the store."""

    def __init__(
        self, store: Store, path: Path | None, *, now: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._path = path
        self._now = now
        self._days: dict[str, _Day] = {}
        self._gone: set[str] = set()  # targets whose rows the next flush deletes
        self._task: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        self.write_errors = 0
        self._pruned = 0  # the slot before which rows were last deleted
        self.ready = asyncio.Event()  # set once the file is read back (or found unreadable)

    # ------------------------------------------------------------------ the per-result hook

    def on_record(self, state: TargetState, obs: Observation) -> None:
        target = state.target
        day = self._days.get(target.name)
        if day is None:
            day = self._days[target.name] = _Day(target.kind)
        slot = int(obs.started) // BUCKET
        bucket = day.current
        if bucket is None or bucket.slot != slot:
            if bucket is not None and slot < bucket.slot:  # a late result: rare, slower
                self._late(day, slot, target.kind, obs)
                return
            day.seal()
            bucket = day.current = day.sealed(slot) or Bucket(slot)
        _add(bucket, target.kind, obs)

    def _late(self, day: _Day, slot: int, kind: str, obs: Observation) -> None:
        bucket = day.sealed(slot)
        if bucket is None:
            i = slot % _SLOTS
            if day.slots[i] > slot:  # older than the day kept: nowhere to go
                return
            bucket = Bucket(slot)
        _add(bucket, kind, obs)
        day.put(bucket)
        day.low = min(day.low, slot)

    def on_remove(self, name: str) -> None:
        """A reload dropped or changed the target: a new kind plots another figure, so its
        day starts again (as the store's own history does); a relabelled one keeps it."""
        state = self._store.get(name)
        day = self._days.get(name)
        if day is not None and (state is None or state.target.kind != day.kind):
            del self._days[name]
            self._gone.add(name)

    # ------------------------------------------------------------------ reading

    def buckets(self, name: str, until: float | None = None) -> list[Bucket]:
        """The target's buckets of the day before ``until`` (now), oldest first; a slot no
        result reached is not there."""
        day = self._days.get(name)
        if day is None:
            return []
        end = int(self._now() if until is None else until) // BUCKET
        start = end - _SLOTS
        return sorted((b for b in day.all() if start < b.slot <= end), key=lambda b: b.slot)

    # ------------------------------------------------------------------ keeping it

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        return conn

    def _read(self, since_slot: int, kinds: dict[str, str]) -> dict[str, _Day]:
        """The days written, of the targets ``kinds`` names as measured so (in a thread:
        10,000 targets' days are 2.9 million rows)."""
        conn = self._connect()
        days: dict[str, _Day] = {}
        try:
            conn.execute("DELETE FROM history WHERE slot < ?", (since_slot,))
            conn.commit()
            rows = conn.execute(
                "SELECT target, slot, kind, count, up, n, vmin, vsum, vmax, loss_n, loss_sum "
                "FROM history WHERE slot >= ? ORDER BY target, slot",
                (since_slot,),
            )
            for target, slot, kind, count, up, n, vmin, vsum, vmax, loss_n, loss_sum in rows:
                if kinds.get(target) != kind:  # dropped, or measured otherwise
                    continue
                day = days.get(target)
                if day is None:
                    day = days[target] = _Day(kind)
                i = slot % _SLOTS
                day.slots[i], day.count[i], day.up[i], day.n[i] = slot, count, up, n
                day.vmin[i], day.vsum[i], day.vmax[i] = vmin, vsum, vmax
                day.loss_n[i], day.loss_sum[i] = loss_n, loss_sum
        finally:
            conn.close()
        return days

    def _write(
        self, rows: Iterable[tuple[Any, ...]], before_slot: int | None, gone: Iterable[str] = ()
    ) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.executemany("DELETE FROM history WHERE target = ?", [(g,) for g in gone])
                conn.executemany(
                    "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                if before_slot is not None:  # a scan of the table: once an hour
                    conn.execute("DELETE FROM history WHERE slot < ?", (before_slot,))
        finally:
            conn.close()

    async def load(self) -> None:
        """Take back the day written before a restart. A thread reads it (10,000 targets'
        days are 2.9 million rows, seconds of work); probing goes on meanwhile, and what it
        records wins over the file."""
        try:
            if self._path is None:
                return
            since = int(self._now()) // BUCKET - _SLOTS
            kinds = {state.target.name: state.target.kind for state in self._store}
            try:
                async with self._writing:
                    days = await asyncio.to_thread(self._read, since, kinds)
            except (sqlite3.Error, OSError) as exc:
                log.warning("history not read from %s: %s", self._path, exc)
                return
            for n, (name, day) in enumerate(days.items()):
                if n % 500 == 499:
                    await asyncio.sleep(0)
                state = self._store.get(name)
                if state is None or state.target.kind != day.kind:  # a reload meanwhile
                    continue
                mine = self._days.get(name)
                if mine is None:
                    self._days[name] = day
                else:
                    mine.merge(day)
        finally:
            self.ready.set()

    def start(self) -> None:
        """Listen to the store at once; read the file back and write it in the background."""
        self._store.subscribe(self.on_record, self.on_remove)
        self._task = asyncio.create_task(self._run(), name="history")

    async def flush(self) -> None:
        """Write the buckets changed since the last flush, in a thread; forget the targets
        the settings dropped."""
        if self._path is None:
            return
        for name in [n for n in self._days if self._store.get(n) is None]:
            self.on_remove(name)
        rows: list[tuple[Any, ...]] = []
        lows: dict[str, int] = {}
        currents: dict[str, tuple[int, int]] = {}
        for n, (name, day) in enumerate(list(self._days.items())):
            if n % 500 == 499:  # 10,000 targets: the loop breathes between slices
                await asyncio.sleep(0)
            current = day.current
            if current is not None and (current.slot, current.count) != day.flushed:
                currents[name], day.flushed = day.flushed, (current.slot, current.count)
                rows.append(current.row(name, day.kind))
            if day.low == _UNCHANGED:
                continue
            low, day.low = day.low, _UNCHANGED
            lows[name] = low
            top = current.slot if current is not None else low + _SLOTS
            for slot in range(max(low, top - _SLOTS), top):  # usually one: the last sealed
                sealed = day.sealed(slot)
                if sealed is not None:
                    rows.append(sealed.row(name, day.kind))
        oldest = int(self._now()) // BUCKET - _SLOTS
        before: int | None = None
        if oldest - self._pruned >= 3600 // BUCKET:  # rows a day old go once an hour
            before = self._pruned = oldest
        # A target whose day started again (dropped, or another kind): its rows go first.
        gone, self._gone = sorted(self._gone), set()
        async with self._writing:
            try:
                await asyncio.to_thread(self._write, rows, before, gone)
            except (sqlite3.Error, OSError) as exc:
                self.write_errors += 1
                log.warning("history not written to %s: %s", self._path, exc)
                for name, low in lows.items():  # again at the next flush
                    if (again := self._days.get(name)) is not None:
                        again.low = min(again.low, low)
                for name, flushed in currents.items():
                    if (again := self._days.get(name)) is not None:
                        again.flushed = flushed
                self._gone.update(gone)

    async def _run(self) -> None:
        await self.load()
        if self._path is None:
            return
        while True:
            await asyncio.sleep(FLUSH)
            await self.flush()

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self.flush()
