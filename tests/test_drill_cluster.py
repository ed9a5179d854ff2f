"""Two vantage points and an Alertmanager cluster in the namespace lab.

Two ``netmon run`` with different ``server.location`` probe the same targets and send to both
peers of a two-peer Alertmanager cluster (Debian's, ``--cluster.peer`` on loopback ports of
netmon's namespace). One outage is one page; with one netmon and one Alertmanager peer killed
mid-outage, the next outage still pages once.

Not here (see the report of issue 7): Prometheus scraping both netmons for the quorum rule.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor.drill import nsenter
from monitor.drill.scenarios import (
    GROUP_WAIT,
    Sink,
    alertmanager,
    drill_settings,
    netmon,
    wait_for,
)

from .lab import lab_for, needs_netns_lab
from .test_alerts_helpers import running, write_settings

VIETTEL = [("TargetDown", "viettel-uplink"), ("InterfaceDown", "viettel-edge")]
VNPT = [("TargetDown", "vnpt-uplink"), ("InterfaceDown", "vnpt-edge")]


def new_pages(sink: Sink, carrier: str) -> int:
    seen: set[tuple[str, str]] = set()
    count = 0
    for p in sink.pages:
        if p.group.get("carrier") != carrier or p.status != "firing":
            continue
        if p.names() - seen:
            count += 1
        seen |= p.names()
    return count


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Any, Sink, list[Any], list[Any]]]:
    async with lab_for(tmp_path) as lab:
        sink = Sink(lab.mon)
        await sink.start()
        try:
            p1, p2 = nsenter.free_port(lab.mon), nsenter.free_port(lab.mon)
            async with (
                alertmanager(lab, sink, "am-1", cluster_port=p1, peers=[p2]) as am1,
                alertmanager(lab, sink, "am-2", cluster_port=p2, peers=[p1]) as am2,
            ):

                async def joined() -> bool:
                    status = await nsenter.get_json(lab.mon, f"{am1.base}/api/v2/status")
                    return len(status["cluster"].get("peers") or []) == 2

                await wait_for("the two peers to join", joined, 30)
                urls = [f"{am1.base}/", f"{am2.base}/"]
                nodes = []
                async with contextlib.AsyncExitStack() as stack:
                    for name, location in (("netmon-a", "so-tttt"), ("netmon-b", "vien-thong")):
                        port = nsenter.free_port(lab.mon)
                        config, listen = drill_settings(
                            lab.workdir / name / "settings.toml",
                            urls,
                            location=location,
                            listen=f"127.0.0.1:{port}",
                        )
                        nodes.append(await stack.enter_async_context(
                            netmon(lab, config, listen, name=name)))  # fmt: skip
                    await asyncio.sleep(5)
                    yield lab, sink, [am1, am2], nodes
        finally:
            await sink.close()


@needs_netns_lab
@pytest.mark.timeout(180)
async def test_two_vantage_points_one_page_and_survive_losses(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (lab, sink, _ams, nodes):
        lab.cut("viettel-uplink")
        await wait_for("the Viettel page", lambda: all(sink.seen(*e) for e in VIETTEL), 60)
        await asyncio.sleep(GROUP_WAIT + 4)
        # both netmons saw it, both peers had it: one page (the cluster shares its log)
        assert new_pages(sink, "viettel") == 1, [(p.receiver, p.names()) for p in sink.pages]
        # one netmon and one Alertmanager peer die mid-outage
        nodes[1].kill9()
        peer = lab.procs.pop("am-2")
        peer.kill()
        await asyncio.to_thread(peer.wait)
        lab.cut("vnpt-uplink")
        await wait_for("the VNPT page", lambda: all(sink.seen(*e) for e in VNPT), 60)
        await asyncio.sleep(GROUP_WAIT + 4)
        assert new_pages(sink, "vnpt") == 1
        assert new_pages(sink, "viettel") == 1  # no page again for what was paged
        lab.heal("viettel-uplink")
        lab.heal("vnpt-uplink")
        await wait_for(
            "both resolved by the survivors",
            lambda: all(sink.seen(*e, status="resolved") for e in VIETTEL + VNPT),
            60,
        )


async def test_watchdog_names_its_vantage_point(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "s.toml", [], {"receivers": {}, "routes": []})
    text = path.read_text(encoding="utf-8").replace(
        "[server]\n", '[server]\nlocation = "so-tttt"\n'
    )
    path.write_text(text, encoding="utf-8")
    async with running(path) as service:
        await asyncio.sleep(0.5)
        watchdog = [a for a in service.alerts.alerts_json() if a["rule"] == "Watchdog"]
        assert watchdog and watchdog[0]["labels"].get("location") == "so-tttt"
