"""Hysteresis (issue 12, point 6): a value wavering about a rule's threshold fires once, is
shown as flapping while it wavers, and ends only once it is the recovery margin past the
threshold. Before (``recovery_margin = 0``) the same values fired, resolved and fired again.

The value is the size of a loopback page the test sets (``probe_http_content_length``), so
the test says exactly which side of the threshold each result falls on.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.alerts import (
    FakeClock,
    alert_states,
    running,
    sink_server,
    until,
    webhook_alerts,
    write_settings,
)


@contextlib.asynccontextmanager
async def sized_page() -> AsyncIterator[tuple[list[int], str]]:
    size = [100]

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="x" * size[0])

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield size, f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("margin", [0.25, 0.0])
async def test_a_value_wavering_about_the_threshold_pages_once(
    tmp_path: Path, margin: float
) -> None:
    clock = FakeClock()
    async with sized_page() as (size, url), sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [
            {
                "name": "PageTooBig",
                "match": {"target": ["portal"]},
                "expr": "probe_http_content_length > 1000",
                "failures": 1,
                "recoveries": 1,
                "summary": {"en": "{target} page is {value}"},
            }
        ]
        alerts["flapping"] = {"recovery_margin": margin}
        path = write_settings(
            tmp_path / "s.toml", [{"name": "portal", "kind": "http", "url": url}], alerts
        )
        async with running(path, clock) as service:
            store = service.store

            async def result_with(n: int) -> None:
                size[0] = n
                before = (s := store.get("portal")) and s.latest
                await until(
                    clock,
                    service,
                    f"a result of {n} bytes",
                    lambda: (s := store.get("portal")) and s.latest is not before,
                )

            await result_with(100)
            # 1200 is past 1000; 900 is back under it, but not by 25 % (750).
            for n in (1200, 900, 1200, 900, 1200, 900):
                await result_with(n)
            kinds = noc.kinds("portal")
            if margin == 0.0:
                assert kinds.count("firing") >= 2 and "resolved" in kinds, kinds
                return
            assert kinds == ["firing"]
            api = alert_states(service)[("portal", "PageTooBig")]
            assert api["state"] == "firing" and api["flapping"] is True
            await result_with(700)  # past the margin: the end
            await until(
                clock, service, "the end", lambda: noc.kinds("portal") == ["firing", "resolved"]
            )
