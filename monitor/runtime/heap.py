"""Garbage collection on netmon's large, long-lived heap, and what it costs.

netmon keeps each target's last results (2,000 targets x 120 results is a few million objects).
CPython 3.11's full collection walks every tracked object: about 0.7 s at that size, every two
minutes or so, with the event loop stopped, so every probe due then starts late (the soak saw
scheduler lag p99 of 685 ms from exactly this). Those results are acyclic and are freed by
reference counting when they leave the history; the collector has nothing to find in them.

So ``netmon run`` freezes the heap every ``every`` seconds: it first collects the young
generations (where cyclic garbage is found, cheaply), then moves what survived out of the
collector's sight (``gc.freeze``). Frozen objects are still freed by reference counting. The
price: a reference cycle that was frozen and is dropped later is never collected. That would show
as ``netmon_gc_frozen_objects`` growing without end after warm-up; the soak checks it stays flat.

Pauses are measured with ``gc.callbacks`` for every collection and exported, so an operator
sees the cost instead of guessing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric

from monitor.runtime import metrics

FREEZE_EVERY = 30.0  # seconds
COUNT_EVERY = 10  # freezes: the frozen objects are counted every 5 minutes
_WINDOW = 60.0  # seconds: the longest pause is reported over the last minute


class GcWatch:
    """Counts collections and their pauses, by generation, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.pause_total = [0.0, 0.0, 0.0]
        self._recent: deque[tuple[float, float]] = deque(maxlen=1024)  # (ended, pause)
        self._began = 0.0
        self._installed = False
        # gc.get_freeze_count() walks the whole permanent generation (~20 ms at 2,000 targets):
        # it is counted now and then by keep_frozen(), never at scrape time.
        self.frozen = 0

    def install(self) -> None:
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._began = now
            return
        generation = int(info.get("generation", 2))
        pause = now - self._began
        self.collections[generation] += 1
        self.pause_total[generation] += pause
        self._recent.append((time.monotonic(), pause))

    def longest_recent(self, now: float | None = None) -> float:
        since = (time.monotonic() if now is None else now) - _WINDOW
        return max((p for at, p in self._recent if at >= since), default=0.0)

    def metrics(self) -> Iterable[Metric]:
        collections = metrics.counter(
            "netmon_gc_collections", "Garbage collections, by generation.", ["generation"]
        )
        pauses = metrics.counter(
            "netmon_gc_pause_seconds",
            "Time the process stood still in garbage collection, by generation.",
            ["generation"],
        )
        for generation in range(3):
            collections.add_metric([str(generation)], self.collections[generation])
            pauses.add_metric([str(generation)], self.pause_total[generation])
        longest = metrics.gauge(
            "netmon_gc_pause_max_seconds", "The longest garbage-collection pause, last minute."
        )
        longest.add_metric([], self.longest_recent())
        frozen = metrics.gauge(
            "netmon_gc_frozen_objects",
            "Objects moved out of the collector's sight (gc.freeze); flat when nothing leaks.",
        )
        frozen.add_metric([], self.frozen)
        yield from (collections, pauses, longest, frozen)


WATCH = GcWatch()


def freeze_now() -> None:
    """Collect the young generations, then take every survivor out of the collector's sight."""
    gc.collect(1)
    gc.freeze()


async def keep_frozen(every: float = FREEZE_EVERY, count_every: int = COUNT_EVERY) -> None:
    """Freeze the heap every ``every`` seconds until cancelled; unfreeze on the way out. Every
    ``count_every``-th time, count what is frozen for netmon_gc_frozen_objects."""
    rounds = 0
    try:
        while True:
            await asyncio.sleep(every)
            freeze_now()
            if rounds % count_every == 0:
                WATCH.frozen = gc.get_freeze_count()
            rounds += 1
    finally:
        with contextlib.suppress(Exception):
            gc.unfreeze()
