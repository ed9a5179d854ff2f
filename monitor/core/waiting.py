"""``wait_for``: poll a condition until it holds, or fail naming what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["wait_for"]


async def wait_for(
    what: str, check: Callable[[], Any], within: float = 30.0, every: float = 0.1
) -> Any:
    """Call ``check`` (sync or async) every ``every`` s until it returns something true, and
    return that; raise TimeoutError naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(every)
