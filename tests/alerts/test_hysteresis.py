"""Hysteresis (issue 12, point 6): a value wavering about a rule's threshold fires once, is
shown as flapping while it wavers, and ends only once it is the recovery margin past the
threshold. Before (``recovery_margin = 0``) the same values fired, resolved and fired again.

The value is the size of a loopback page the test sets (``probe_http_content_length``), so
the test says exactly which side of the threshold each result falls on.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alerts.engine import AlertEngine
from monitor.config import Settings
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample
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
        # settle 2 s here: the test's results are 0.3 s apart (the default is 2 minutes).
        alerts["flapping"] = {"recovery_margin": margin, "settle": "2s" if margin else "0s"}
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
            await result_with(700)  # past the margin: the end, once settled
            await until(clock, service, "settled", lambda: clock.now > 3.0, limit=60)
            await until(
                clock, service, "the end", lambda: noc.kinds("portal") == ["firing", "resolved"]
            )


def lossy_results(seed: int, n: int, chance: float) -> list[float]:
    """Loss ratios of n probes of 5 echoes, each lost with ``chance`` (the issue's "random
    20-30 % loss")."""
    rng = random.Random(seed)
    return [sum(rng.random() < chance for _ in range(5)) / 5 for _ in range(n)]


@pytest.mark.parametrize(
    ("margin", "seed", "chance"), [(None, 12, 0.25), (0.0, 12, 0.25), (None, 8, 0.2)]
)
async def test_random_loss_about_the_threshold_does_not_page_again_and_again(
    tmp_path: Path, margin: float | None, seed: int, chance: float
) -> None:
    """The shipped HighPacketLoss (loss > 0.2, 3 results to fire, 3 to end) on 20 minutes of
    results every 5 s of 20-30 % random loss, fed to the engine through the store. At 20 %
    the flapping detector speaks first: one notice, then the page once it is quiet."""
    settings: dict[str, Any] = {
        "targets": [{"name": "venue-uplink", "kind": "icmp", "host": "127.0.2.1"}],
        "alerts": {"receivers": {"log": {"type": "log"}}, "routes": [{"receivers": ["log"]}]},
    }
    if margin is not None:  # the old behaviour: no margin, no settling
        settings["alerts"]["flapping"] = {"recovery_margin": margin, "settle": "0s"}
    config = Settings.model_validate(settings)
    store = Store()
    store.set_targets(config.targets)
    clock = FakeClock()
    engine = AlertEngine(config, store, clock=clock, state_dir=tmp_path)
    await engine.start()
    try:
        for i, loss in enumerate(lossy_results(seed, 240, chance)):
            samples = (Sample("probe_icmp_packet_loss_ratio", loss),)
            store.record(
                "venue-uplink",
                Observation(ProbeResult(True, None, "", samples), clock.time() + 5 * i, 0.01),
            )
    finally:
        await engine.aclose()
    with sqlite3.connect(tmp_path / "alerts.sqlite") as conn:
        told = [
            json.loads(payload)["kind"]
            for (payload,) in conn.execute("SELECT payload FROM outbox ORDER BY created, rowid")
            if json.loads(payload)["alert"]["rule"] == "HighPacketLoss"
        ]
    if margin == 0.0:
        # Fired, resolved, then flapping notices and ends in turn: the noise.
        assert len(told) >= 4 and told.count("resolved") >= 2, told
    elif chance == 0.2:
        assert told == ["flapping", "firing"], " ".join(told)
    else:
        assert told == ["firing"], " ".join(told)
