"""The one clock the scheduler, the alert engine and the dispatcher read: a protocol, so that
tests drive time one step at a time instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock unix seconds (phases, timestamps)."""

    def monotonic(self) -> float:
        """Seconds that never jump (the schedule)."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
