"""Each target's last 24 hours, downsampled: what a target's page draws (issue 14, the wall).

The store keeps only the last results (``Store.history_size``); this keeps one bucket per
``BUCKET`` seconds per target for ``KEEP`` seconds: how many results, how many succeeded, the
min / sum / max of the figure the page plots (ICMP: the average round trip; the others: the
response time) over the successful results that had one, and the sum of the ICMP loss ratios.
A bucket with no result is simply absent: the page draws it as a gap ("no data"), never as up.

Fed by a store listener (``on_record``: a dict lookup and a few additions per result, measured
in tests/runtime/test_history.py). Buckets are written to SQLite (``history.sqlite`` under
``[server] state_dir``) every ``FLUSH`` seconds by a thread, never on the loop, and read back
at start: a restart keeps the day's history, and the time netmon was stopped stays a gap.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
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


class History:
    """Per target, an insertion-ordered dict slot → Bucket, at most a day of it."""

    def __init__(
        self, store: Store, path: Path | None, *, now: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._path = path
        self._now = now
        self._targets: dict[str, dict[int, Bucket]] = {}
        self._kinds: dict[str, str] = {}  # the kind each target's buckets were measured as
        self._gone: set[str] = set()  # targets whose rows the next flush deletes
        self._dirty: dict[tuple[str, int], Bucket] = {}
        self._task: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        self.write_errors = 0

    # ------------------------------------------------------------------ the per-result hook

    def on_record(self, state: TargetState, obs: Observation) -> None:
        target = state.target
        name = target.name
        slot = int(obs.started) // BUCKET
        buckets = self._targets.get(name)
        if buckets is None:
            buckets = self._targets[name] = {}
            self._kinds[name] = target.kind
        bucket = buckets.get(slot)
        if bucket is None:
            bucket = buckets[slot] = Bucket(slot)
            oldest = slot - _SLOTS
            for old in [s for s in buckets if s <= oldest]:  # a day past: roll over
                del buckets[old]
        bucket.count += 1
        value, loss = _value(target.kind, obs)
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
        self._dirty[(name, slot)] = bucket

    def on_remove(self, name: str) -> None:
        """A reload dropped or changed the target: a new kind plots another figure, so its
        day starts again (as the store's own history does); a relabelled one keeps it."""
        state = self._store.get(name)
        if state is None or state.target.kind != self._kinds.get(name, state.target.kind):
            self._targets.pop(name, None)
            self._kinds.pop(name, None)
            self._gone.add(name)

    # ------------------------------------------------------------------ reading

    def buckets(self, name: str, until: float | None = None) -> list[Bucket]:
        """The target's buckets of the day before ``until`` (now), oldest first."""
        end = (self._now() if until is None else until) // BUCKET
        start = end - _SLOTS
        return sorted(
            (b for b in self._targets.get(name, {}).values() if start < b.slot <= end),
            key=lambda b: b.slot,
        )

    # ------------------------------------------------------------------ keeping it

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        return conn

    def _read(self, since_slot: int) -> list[Any]:
        conn = self._connect()
        try:
            conn.execute("DELETE FROM history WHERE slot < ?", (since_slot,))
            conn.commit()
            return conn.execute(
                "SELECT target, slot, kind, count, up, n, vmin, vsum, vmax, loss_n, loss_sum "
                "FROM history WHERE slot >= ? ORDER BY target, slot",
                (since_slot,),
            ).fetchall()
        finally:
            conn.close()

    def _write(
        self, rows: Iterable[tuple[Any, ...]], before_slot: int, gone: Iterable[str] = ()
    ) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.executemany("DELETE FROM history WHERE target = ?", [(g,) for g in gone])
                conn.executemany(
                    "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                conn.execute("DELETE FROM history WHERE slot < ?", (before_slot,))
        finally:
            conn.close()

    async def load(self) -> None:
        """Take back the day written before a restart (a thread reads it)."""
        if self._path is None:
            return
        since = int(self._now()) // BUCKET - _SLOTS
        try:
            rows = await asyncio.to_thread(self._read, since)
        except (sqlite3.Error, OSError) as exc:
            log.warning("history not read from %s: %s", self._path, exc)
            return
        for target, slot, kind, count, up, n, vmin, vsum, vmax, loss_n, loss_sum in rows:
            state = self._store.get(str(target))
            if state is None or state.target.kind != kind:  # dropped, or measured otherwise
                continue
            self._kinds[str(target)] = str(kind)
            buckets = self._targets.setdefault(str(target), {})
            if int(slot) not in buckets:  # results recorded since the start win over the file
                buckets[int(slot)] = Bucket(int(slot), int(count), int(up), int(n), float(vmin),
                                            float(vsum), float(vmax), int(loss_n),
                                            float(loss_sum))  # fmt: skip
        for name, buckets in self._targets.items():
            self._targets[name] = dict(sorted(buckets.items()))

    def start(self) -> None:
        self._store.subscribe(self.on_record, self.on_remove)
        if self._path is not None:
            self._task = asyncio.create_task(self._run(), name="history")

    async def flush(self) -> None:
        """Write the buckets changed since the last flush, in a thread; forget the targets
        the settings dropped."""
        if self._path is None:
            return
        for name in [n for n in self._targets if self._store.get(n) is None]:
            self.on_remove(name)
        dirty, self._dirty = self._dirty, {}
        rows = [
            b.row(name, self._kinds[name])
            for (name, slot), b in dirty.items()
            if self._targets.get(name, {}).get(slot) is b
        ]
        before = int(self._now()) // BUCKET - _SLOTS
        # A target whose day started again (dropped, or another kind): its rows go first.
        gone, self._gone = sorted(self._gone), set()
        async with self._writing:
            try:
                await asyncio.to_thread(self._write, rows, before, gone)
            except (sqlite3.Error, OSError) as exc:
                self.write_errors += 1
                for (name, slot), bucket in dirty.items():  # again at the next flush
                    self._dirty.setdefault((name, slot), bucket)
                self._gone.update(gone)
                log.warning("history not written to %s: %s", self._path, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH)
            await self.flush()

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self.flush()
