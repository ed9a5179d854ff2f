"""One loop that runs every target on its own interval.

- Start times are spread by a stable hash of the target name: each target owns a fixed offset
  in its interval, so 10,000 targets at 30 s do not all fire at second 0.
- The next run is planned from the schedule grid (offset + k * interval on the monotonic
  clock), never from when the last run ended, so runs do not drift.
- A run still in flight when its next slot comes is not doubled: the slot is skipped and
  counted.
- The timeout is enforced here, around the probe; probes never see it.
- Probes in flight are bounded per kind and per host (semaphores), so one slow kind or one slow
  host cannot starve the rest.
- The current phase (from wall-clock time) can shorten intervals; it is re-checked at least
  every second, so phase changes take effect without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.config import Phase, Settings, Target
from monitor.core.clock import Clock, SystemClock
from monitor.runtime.store import Observation, Store
from probes import PROBES
from probes.base import ProbeResult, failure
from probes.context import Probe, ProbeContext

log = logging.getLogger(__name__)

# How often the loop wakes at the least, to notice phase changes and reloads.
_TICK = 1.0
# Lag samples kept for the quantiles on /metrics.
_LAG_WINDOW = 60.0
# A new target's first run comes within this window (spread by the same hash), so a fresh
# start shows every target within seconds; later runs keep to the interval's grid.
FIRST_RUN_WINDOW = 5.0


# Offsets are multiples of this (or of interval / 50 when that is smaller): targets due in the
# same slot start in the same turn of the loop, and their timers and sends share its wake-ups.
# Spread to the nanosecond, 2,000 ICMP targets cost a loop iteration per echo each.
SPREAD_SLOT = 0.02


def spread_offset(name: str, interval: float) -> float:
    """A stable offset in [0, interval) for ``name``, the same on every start and host, on
    a grid of ``SPREAD_SLOT``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    slot = min(SPREAD_SLOT, interval / 50)
    return math.floor((int.from_bytes(digest, "big") / 2**64) * interval / slot) * slot


def next_slot(now: float, offset: float, interval: float) -> float:
    """The first slot of the grid ``offset + k * interval`` at or after ``now``."""
    k = math.ceil((now - offset) / interval - 1e-9)
    return offset + k * interval


def host_of(target: Target) -> str:
    if target.url is not None:
        return urlsplit(target.url).hostname or target.url
    return target.host or target.name


@dataclass(slots=True)
class _Entry:
    target: Target
    probe: Probe
    interval: float
    timeout: float
    offset: float
    due: float = 0.0
    # The target as the probe sees it: its effective timeout filled in, so a probe that paces
    # itself (ICMP's wait for late echoes, SNMP's retries) fits inside the real deadline.
    probe_target: Target | None = None
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class SchedulerStats:
    """What the scheduler reports about itself; rendered by monitor.runtime.metrics."""

    in_flight: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    lags: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=65536))
    phase: str | None = None

    def lag_quantiles(self, now: float, quantiles: tuple[float, ...]) -> dict[float, float]:
        recent = sorted(lag for at, lag in self.lags if now - at <= _LAG_WINDOW)
        if not recent:
            return {q: 0.0 for q in quantiles}
        last = len(recent) - 1
        return {q: recent[min(last, round(q * last))] for q in quantiles}


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        ctx: ProbeContext,
        *,
        probes: Mapping[str, Probe] = PROBES,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._probes = probes
        self._clock: Clock = clock or SystemClock()
        self.stats = SchedulerStats()
        self._heap: list[tuple[float, int, _Entry]] = []
        self._entries: dict[str, _Entry] = {}
        self._seq = 0
        self._wake = asyncio.Event()
        self._kind_limits: dict[str, asyncio.Semaphore] = {}
        self._host_limits: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settings = settings
        self._phase: Phase | None = None
        self.update(settings)

    # ------------------------------------------------------------------ configuration

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def phase(self) -> Phase | None:
        return self._phase

    def update(self, settings: Settings) -> None:
        """Adopt new settings (a reload): targets added, removed or changed; limits renewed.

        Probes in flight keep running; a removed target's result is dropped by the store.
        """
        self._settings = settings
        self._store.set_targets(settings.targets)
        self._kind_limits = {
            kind: asyncio.Semaphore(settings.scheduler.limit_for(kind)) for kind in self._probes
        }
        self._host_limits.clear()
        old = self._entries
        self._entries = {}
        fresh: set[str] = set()
        for target in settings.targets:
            probe = self._probes.get(target.kind)
            if probe is None:
                continue  # a kind whose poller is not built yet: validated, not scheduled
            entry = _Entry(target, probe, 0.0, 0.0, 0.0)
            previous = old.get(target.name)
            if previous is not None and previous.task is not None and not previous.task.done():
                entry.task = previous.task  # keep the overrun guard across the reload
            if previous is None:
                fresh.add(target.name)
            self._entries[target.name] = entry
        self._phase = self._current_phase()
        self._replan(fresh)

    def _current_phase(self) -> Phase | None:
        now = datetime.fromtimestamp(self._clock.time(), UTC)
        phase = self._settings.current_phase(now)
        self.stats.phase = phase.name if phase else None
        return phase

    def _replan(self, fresh: set[str] | None = None) -> None:
        """Rebuild the heap from the grid: after a reload or a phase change.

        Targets in ``fresh`` (new ones) first run within FIRST_RUN_WINDOW, then on the grid.
        """
        now = self._clock.monotonic()
        self._heap = []
        for entry in self._entries.values():
            entry.interval = self._settings.interval_for(entry.target, self._phase)
            entry.timeout = self._settings.timeout_for(entry.target, entry.interval)
            entry.probe_target = entry.target.model_copy(update={"timeout": entry.timeout})
            entry.offset = spread_offset(entry.target.name, entry.interval)
            if fresh and entry.target.name in fresh:
                window = min(entry.interval, FIRST_RUN_WINDOW)
                entry.due = now + entry.offset / entry.interval * window
            else:
                entry.due = next_slot(now, entry.offset, entry.interval)
            self._push(entry)
        self._wake.set()

    def probe_target(self, name: str) -> Target | None:
        """The target as its probe receives it now (effective timeout filled in)."""
        entry = self._entries.get(name)
        return entry.probe_target if entry is not None else None

    def _push(self, entry: _Entry) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (entry.due, self._seq, entry))

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        try:
            while True:
                self._tick()
                now = self._clock.monotonic()
                delay = _TICK if not self._heap else min(_TICK, self._heap[0][0] - now)
                if delay > 0:
                    self._wake.clear()
                    sleep = asyncio.ensure_future(self._clock.sleep(delay))
                    wake = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait({sleep, wake}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        sleep.cancel()
                        wake.cancel()
        finally:
            await self.aclose()

    def _tick(self) -> None:
        phase = self._current_phase()
        if (phase.name if phase else None) != (self._phase.name if self._phase else None):
            log.info("phase now %s", phase.name if phase else "none")
            self._phase = phase
            self._replan()
        now = self._clock.monotonic()
        while self._heap and self._heap[0][0] <= now:
            due, _, entry = heapq.heappop(self._heap)
            if self._entries.get(entry.target.name) is not entry or due != entry.due:
                continue  # stale: replanned or removed
            self._start(entry, due, now)
            entry.due = next_slot(
                max(now, due + entry.interval * 0.5), entry.offset, entry.interval
            )
            if entry.due <= due:
                entry.due = due + entry.interval
            self._push(entry)

    def _start(self, entry: _Entry, due: float, now: float) -> None:
        kind = entry.target.kind
        if entry.task is not None and not entry.task.done():
            self.stats.skipped[kind] += 1
            return
        task = asyncio.create_task(self._run_one(entry, due), name=f"probe:{entry.target.name}")
        entry.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, entry: _Entry, due: float) -> None:
        target = entry.target
        kind = target.kind
        host = host_of(target)
        host_limit = self._host_limits.get(host)
        if host_limit is None:
            host_limit = self._host_limits[host] = asyncio.Semaphore(
                self._settings.scheduler.max_in_flight_per_host
            )
        # Host first: a run waiting for its host must not hold one of its kind's slots.
        async with host_limit, self._kind_limits[kind]:
            start_mono = self._clock.monotonic()
            self.stats.lags.append((start_mono, max(0.0, start_mono - due)))
            started = self._clock.time()
            self.stats.in_flight[kind] += 1
            self.stats.runs[kind] += 1
            try:
                result = await self._probe(entry)
            finally:
                self.stats.in_flight[kind] -= 1
            duration = self._clock.monotonic() - start_mono
        self._store.record(target.name, Observation(result, started, duration))

    async def _probe(self, entry: _Entry) -> ProbeResult:
        try:
            async with asyncio.timeout(entry.timeout):
                return await entry.probe(entry.probe_target or entry.target, self._ctx)
        except TimeoutError:
            return failure("timeout", f"no answer within {entry.timeout:g} s")
        except Exception as exc:  # a probe bug must cost only its own target
            log.exception("probe %s (%s) raised", entry.target.name, entry.target.kind)
            return failure(
                "probe_error",
                f"internal error in the {entry.target.kind} probe: {type(exc).__name__}",
            )

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
