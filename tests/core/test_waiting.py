from __future__ import annotations

import pytest

from monitor.core.waiting import wait_for


async def test_wait_for_returns_the_first_true_value() -> None:
    calls: list[int] = []

    def check() -> int | None:
        calls.append(1)
        return len(calls) if len(calls) >= 3 else None

    assert await wait_for("three calls", check, within=5, every=0.001) == 3


async def test_wait_for_awaits_an_async_check() -> None:
    async def check() -> str:
        return "ready"

    assert await wait_for("ready", check, within=1) == "ready"


async def test_wait_for_names_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="waiting for the agent"):
        await wait_for("the agent", lambda: False, within=0.05, every=0.01)
