"""The scheduler's spread, drift, overrun, bounds, timeout and phase behaviour.

Spread, drift, overrun and phase changes run on a fake clock (advanced by the test), with
small probe functions registered in place of the real registry: what is under test is the
scheduling, not the probes.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.config import Settings, Target
from monitor.runtime.scheduler import Scheduler, next_slot, spread_offset
from monitor.runtime.store import Store
from probes.base import ProbeResult
from probes.context import Probe, ProbeContext
from tests.support.clock import FakeClock

WALL0 = datetime(2025, 10, 14, 0, 0, tzinfo=UTC).timestamp()


def make_settings(targets: list[dict[str, Any]], **top: Any) -> Settings:
    return Settings.model_validate({"targets": targets, **top})


def icmp(name: str, host: str = "127.0.2.1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "icmp", "host": host, **extra}


class Recorder:
    """A probe that records when it started (fake clock) and can take time or block."""

    def __init__(self, clock: FakeClock, takes: float = 0.0) -> None:
        self.clock = clock
        self.takes = takes
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.release = asyncio.Event()
        self.block = False

    async def __call__(self, target: Target, ctx: ProbeContext) -> ProbeResult:
        self.starts[target.name].append(self.clock.monotonic())
        if self.block:
            await self.release.wait()
        if self.takes:
            await self.clock.sleep(self.takes)
        return ProbeResult(True, None, "ok", ())


@pytest.fixture
async def running() -> AsyncIterator[Callable[..., Scheduler]]:
    tasks: list[asyncio.Task[None]] = []

    def start(
        settings: Settings, probe: Probe, clock: Any, store: Store | None = None
    ) -> Scheduler:
        scheduler = Scheduler(
            settings,
            store if store is not None else Store(),
            ProbeContext(),
            probes={"icmp": probe},
            clock=clock,
        )
        tasks.append(asyncio.create_task(scheduler.run()))
        return scheduler

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_spread_is_stable_and_even() -> None:
    names = [f"target-{i}" for i in range(2000)]
    offsets = [spread_offset(n, 30.0) for n in names]
    assert offsets == [spread_offset(n, 30.0) for n in names]  # stable across calls
    assert all(0 <= o < 30 for o in offsets)
    buckets = Counter(int(o // 3) for o in offsets)  # 10 buckets of 3 s: 200 expected each
    assert len(buckets) == 10 and min(buckets.values()) > 140 and max(buckets.values()) < 260


def test_next_slot_is_on_the_grid() -> None:
    assert next_slot(0.0, 2.5, 10.0) == 2.5
    assert next_slot(2.5, 2.5, 10.0) == 2.5
    assert next_slot(2.6, 2.5, 10.0) == 12.5
    assert next_slot(1000.0, 7.0, 10.0) == 1007.0


async def test_no_drift_with_slow_probes(running: Callable[..., Scheduler]) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock, takes=0.37)  # each run takes a good part of the interval
    running(make_settings([icmp("a", interval="1s", timeout="1s")]), probe, clock)
    await clock.advance(30.5, step=0.01)
    starts = probe.starts["a"]
    assert len(starts) >= 29
    offset = spread_offset("a", 1.0)
    for k, started in enumerate(starts):
        slot = starts[0] + k * 1.0
        # Every run starts on its own grid slot (within one clock step), never later and later.
        assert abs(started - slot) < 0.02, (k, started, slot)
    assert abs((starts[0] - offset) - round(starts[0] - offset)) < 0.02


async def test_overrunning_probe_is_skipped_and_counted(
    running: Callable[..., Scheduler],
) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock, takes=2.5)  # 2.5 intervals long
    scheduler = running(make_settings([icmp("slow", interval="1s", timeout="1s")]), probe, clock)
    await clock.advance(12.2, step=0.01)
    starts = probe.starts["slow"]
    # Never two runs at once: each start is at least 2.5 s after the previous.
    assert all(b - a >= 2.5 - 1e-6 for a, b in itertools.pairwise(starts))
    assert len(starts) in (4, 5)
    assert scheduler.stats.skipped["icmp"] >= 2 * (len(starts) - 1)
    assert scheduler.stats.runs["icmp"] == len(starts)


async def test_phase_shortens_interval_without_restart(
    running: Callable[..., Scheduler],
) -> None:
    clock = FakeClock(WALL0)
    phases = [
        {
            "name": "dai-hoi-tinh",
            "start": datetime.fromtimestamp(WALL0 + 20, UTC),
            "end": datetime.fromtimestamp(WALL0 + 40, UTC),
            "interval": "1s",
            "groups": ["venue"],
        }
    ]
    settings = make_settings(
        [icmp("venue-switch", group="venue"), icmp("board", group="grassroots")],
        defaults={"interval": "10s"},
        phases=phases,
    )
    probe = Recorder(clock)
    scheduler = running(settings, probe, clock)
    await clock.advance(19.9, step=0.01)
    before = len(probe.starts["venue-switch"])
    assert before == 2 and scheduler.phase is None
    await clock.advance(20.0, step=0.01)  # inside the phase
    assert scheduler.phase is not None and scheduler.phase.name == "dai-hoi-tinh"
    during = len(probe.starts["venue-switch"]) - before
    assert 18 <= during <= 21  # every second, not every ten
    board_during = [t for t in probe.starts["board"] if 20 <= t < 40]
    assert len(board_during) == 2  # the phase shortens only the groups it names
    await clock.advance(30.0, step=0.01)  # after the phase: back to 10 s
    after = [t for t in probe.starts["venue-switch"] if t >= 41]
    assert len(after) in (2, 3)
    assert scheduler.phase is None


async def test_in_flight_bounded_per_kind_and_per_host(
    running: Callable[..., Scheduler],
) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock)
    probe.block = True
    targets = [icmp(f"t{i}", host=f"127.0.2.{i}", interval="1s") for i in range(1, 11)]
    targets += [icmp(f"same{i}", host="127.0.9.1", interval="1s") for i in range(6)]
    settings = make_settings(
        targets, scheduler={"max_in_flight": {"icmp": 7}, "max_in_flight_per_host": 2}
    )
    scheduler = running(settings, probe, clock)
    await clock.advance(1.5, step=0.01)
    assert scheduler.stats.in_flight["icmp"] == 7
    assert sum(1 for name in probe.starts if name.startswith("same")) <= 2
    probe.release.set()
    await clock.advance(3.0, step=0.01)
    assert len(probe.starts) == 16  # everyone ran once the slots freed up
    assert scheduler.stats.in_flight["icmp"] == 0


async def test_timeout_is_enforced_outside_the_probe() -> None:
    async def hangs(target: Target, ctx: ProbeContext) -> ProbeResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    store = Store()
    settings = make_settings([icmp("hang", interval="1s", timeout="200ms")])
    scheduler = Scheduler(settings, store, ProbeContext(), probes={"icmp": hangs})
    task = asyncio.create_task(scheduler.run())
    try:
        for _ in range(40):
            await asyncio.sleep(0.05)
            state = store.get("hang")
            if state is not None and state.latest is not None:
                break
        state = store.get("hang")
        assert state is not None and state.latest is not None
        assert state.latest.result.reason == "timeout"
        assert 0.19 <= state.latest.duration < 0.5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_probe_bug_costs_only_its_target(running: Callable[..., Scheduler]) -> None:
    clock = FakeClock(WALL0)
    good = Recorder(clock)

    async def buggy(target: Target, ctx: ProbeContext) -> ProbeResult:
        if target.name == "bad":
            raise KeyError("oops")
        return await good(target, ctx)

    store = Store()
    running(
        make_settings([icmp("bad", interval="1s"), icmp("good", interval="1s")]),
        buggy,
        clock,
        store,
    )
    await clock.advance(3.2, step=0.01)
    bad, ok = store.get("bad"), store.get("good")
    assert bad is not None and bad.latest is not None and ok is not None
    assert bad.latest.result.reason == "probe_error" and "KeyError" in bad.latest.result.detail
    assert len(good.starts["good"]) >= 3  # one run a second, undisturbed
    assert bad.consecutive >= 3  # and the buggy target keeps its schedule too


async def test_reload_adds_and_removes_targets(running: Callable[..., Scheduler]) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock)
    store = Store()
    scheduler = running(
        make_settings([icmp("a", interval="1s"), icmp("b", interval="1s")]), probe, clock, store
    )
    await clock.advance(2.0, step=0.01)
    assert store.get("b") is not None
    scheduler.update(make_settings([icmp("a", interval="1s"), icmp("c", interval="1s")]))
    assert store.get("b") is None
    runs_b = len(probe.starts["b"])
    await clock.advance(2.0, step=0.01)
    assert len(probe.starts["b"]) == runs_b
    assert len(probe.starts["c"]) >= 1
    assert {s.target.name for s in store} == {"a", "c"}


async def test_lag_is_measured(running: Callable[..., Scheduler]) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock)
    scheduler = running(
        make_settings([icmp(f"t{i}", interval="1s") for i in range(20)]), probe, clock
    )
    await clock.advance(5.0, step=0.01)
    q = scheduler.stats.lag_quantiles(clock.monotonic(), (0.5, 0.99))
    # The fake clock moves in 10 ms steps: no start can be later than one step.
    assert 0 <= q[0.5] <= 0.0101 and q[0.99] <= 0.0101
    assert not math.isnan(q[0.99])


async def test_first_runs_come_early_then_keep_the_grid(
    running: Callable[..., Scheduler],
) -> None:
    clock = FakeClock(WALL0)
    probe = Recorder(clock)
    running(make_settings([icmp(f"t{i}", interval="30s") for i in range(100)]), probe, clock)
    await clock.advance(5.05, step=0.05)
    assert len(probe.starts) == 100  # every target seen within the first-run window
    assert all(len(v) == 1 for v in probe.starts.values())
    await clock.advance(60.0, step=0.05)
    for name, starts in probe.starts.items():
        offset = spread_offset(name, 30.0)
        for started in starts[1:]:  # later runs on the grid: offset + k * 30 s
            assert abs((started - offset) / 30.0 - round((started - offset) / 30.0)) < 0.01
