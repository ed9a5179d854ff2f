"""A clock that moves only when the test moves it (the ``Clock`` protocol of
``monitor.core.clock``): the scheduler, the alert engine and the dispatcher sleep on it."""

from __future__ import annotations

import asyncio
import time

__all__ = ["FakeClock"]


class FakeClock:
    """Time that moves only when the test moves it. The scheduler, the engine and the
    dispatcher sleep on it; probes and receivers still talk over loopback in real time, and
    ``until`` waits for them before it moves the clock again.

    ``wall``: unix seconds at the start (now, by default)."""

    def __init__(self, wall: float | None = None) -> None:
        self.now = 0.0
        self.wall0 = time.time() if wall is None else wall
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self.wall0 + self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + max(0.0, seconds), fut)
        self._sleepers.append(entry)
        try:
            await fut
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    async def advance(self, seconds: float, step: float | None = None) -> None:
        """Move ``seconds`` on, waking each sleeper at its own deadline, in order; with
        ``step``, in steps of that size (what the scheduler's lag figures are measured in)."""
        end = self.now + seconds
        if step is not None:
            while self.now < end - 1e-9:
                self.now = min(end, self.now + step)
                for deadline, fut in list(self._sleepers):
                    if deadline <= self.now + 1e-9 and not fut.done():
                        fut.set_result(None)
                for _ in range(20):
                    await asyncio.sleep(0)
            return
        for _ in range(10_000):
            due = [d for d, f in self._sleepers if not f.done() and d <= end + 1e-9]
            if not due:
                break
            self.now = max(self.now, min(due))
            for deadline, fut in list(self._sleepers):
                if deadline <= self.now + 1e-9 and not fut.done():
                    fut.set_result(None)
            for _ in range(10):  # let the woken run up to their next await
                await asyncio.sleep(0)
        self.now = max(self.now, end)
