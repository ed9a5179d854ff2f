"""monitor/heap.py: frozen results are still freed, and collections are counted and timed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from monitor.runtime import heap
from monitor.runtime.store import Observation
from probes.base import ProbeResult, Sample


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def _observation() -> Observation:
    samples = (Sample("probe_icmp_rtt_seconds", 0.001, (("stat", "avg"),)),)
    return Observation(ProbeResult(True, None, "ok", samples), 0.0, 0.01)


def test_a_frozen_result_is_freed_when_the_history_drops_it(unfrozen: None) -> None:
    history = [_observation() for _ in range(1000)]
    heap.freeze_now()
    frozen = gc.get_freeze_count()
    assert frozen >= 2000  # at least the Observation and its ProbeResult, each
    history.clear()  # the ring moved on
    # freed by reference counting, no collection needed: they leave the permanent generation
    assert gc.get_freeze_count() <= frozen - 2000


def test_garbage_cycles_are_collected_before_the_freeze(unfrozen: None) -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    heap.freeze_now()  # collects the young generations first: the cycle must not be frozen
    assert gone() is None


def test_collections_are_counted_and_timed() -> None:
    watch = heap.GcWatch()
    watch.install()
    try:
        garbage = [[] for _ in range(1000)]
        for item in garbage:
            item.append(item)  # cycles: work for the collector
        del garbage
        gc.collect()
    finally:
        watch.uninstall()
    assert watch.collections[2] >= 1
    assert watch.pause_total[2] > 0
    assert watch.longest_recent() > 0
    text = {m.name: m for m in watch.metrics()}
    assert {s.value for s in text["netmon_gc_collections"].samples if s.labels == {
        "generation": "2"}} == {watch.collections[2]}  # fmt: skip
    assert "netmon_gc_frozen_objects" in text


async def test_keep_frozen_freezes_then_unfreezes_when_stopped() -> None:
    keep: list[object] = [object() for _ in range(100)]
    heap.WATCH.frozen = 0
    task = asyncio.create_task(heap.keep_frozen(every=0.05, count_every=1))
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if gc.get_freeze_count() > 0:
                break
        assert gc.get_freeze_count() > 0
        await asyncio.sleep(0.1)
        assert heap.WATCH.frozen > 0  # counted for the gauge
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert gc.get_freeze_count() == 0
    assert keep
