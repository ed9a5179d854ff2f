"""Two vantage points and an Alertmanager cluster in the namespace lab.

Two ``netmon run`` with different ``server.location`` probe the same targets and send to both
peers of a two-peer Alertmanager cluster (Debian's, ``--cluster.peer`` on loopback ports of
netmon's namespace). One outage is one page; with one netmon and one Alertmanager peer killed
mid-outage (after Alertmanager took the alert, before its group_wait let the page out), the page
still arrives, once.

Debian's Prometheus, in the same namespace, scrapes both netmons with the config and rules
``netmon prometheus config`` generates (1 s scrape and evaluation, ``quorum_for`` 0 so a firing
shows at once). ``TargetDownQuorum`` must fire for the link both vantage points see cut, and
never for ``quorum-view``, which only one of them sees down (the two netmons point that name at
different addresses: one answers, one does not, as a fault on one vantage point's path would
look). When one netmon is killed, its end is noticed twice: Prometheus' ``NetmonScrapeDown``
fires for it, and its Watchdog, no longer re-sent, expires in Alertmanager while the survivor's
stays active. With one vantage point gone the quorum cannot be met: netmon's own alert is what
pages then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from grafana.settings import PrometheusSettings
from monitor.config import Settings, load_settings
from monitor.core.waiting import wait_for
from monitor.drill import nsenter
from monitor.drill.netns import WEB
from monitor.drill.processes import Proc, alertmanager, netmon, netmon_alerts, prometheus
from monitor.drill.settings import GROUP_WAIT, drill_settings
from monitor.drill.sink import Sink
from tests.support.alerts import running, write_settings
from tests.support.netns import lab_for, needs_netns_lab, new_pages

VIETTEL = [("TargetDown", "viettel-uplink"), ("InterfaceDown", "viettel-edge")]
VNPT = [("TargetDown", "vnpt-uplink"), ("InterfaceDown", "vnpt-edge")]
LOCATIONS = (("netmon-a", "so-tttt"), ("netmon-b", "vien-thong"))
# One target name, two views: netmon-a pings a web server that answers, netmon-b an address
# of the same subnet where nothing does.
ONE_SIDED = "quorum-view"
VIEWS = {"netmon-a": WEB["dc-web-1"], "netmon-b": "10.77.5.99"}


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
                    for name, location in LOCATIONS:
                        port = nsenter.free_port(lab.mon)
                        one_sided = {
                            "name": ONE_SIDED,
                            "kind": "icmp",
                            "host": VIEWS[name],
                            "group": "datacentre",
                            "labels": {"carrier": "dc"},
                            "icmp": {"count": 5, "spacing": "20ms"},
                            "timeout": "900ms",
                        }
                        config, listen = drill_settings(
                            lab.workdir / name / "settings.toml",
                            urls,
                            location=location,
                            listen=f"127.0.0.1:{port}",
                            extra_targets=[one_sided],
                        )
                        nodes.append(await stack.enter_async_context(
                            netmon(lab, config, listen, name=name)))  # fmt: skip
                    await asyncio.sleep(5)
                    yield lab, sink, [am1, am2], nodes
        finally:
            await sink.close()


def prometheus_settings(lab: Any, nodes: list[Proc]) -> Settings:
    """netmon-a's settings with a [prometheus] table for both netmons: 1 s scrape and rules,
    the quorum firing at once, a dead netmon noticed after 2 s."""
    base = load_settings(lab.workdir / LOCATIONS[0][0] / "settings.toml")
    prom = PrometheusSettings.model_validate(
        {
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "slow_evaluation_interval": "1s",
            "netmons": [
                {"address": node.base.removeprefix("http://"), "location": location}
                for node, (_, location) in zip(nodes, LOCATIONS, strict=True)
            ],
            "rules": {"quorum_for": "0s", "scrape_down_for": "2s"},
        }
    )
    return base.model_copy(update={"prometheus": prom})


class PromAlerts:
    """Prometheus' alerts, polled; remembers every target TargetDownQuorum ever named."""

    def __init__(self, lab: Any, prom: Proc) -> None:
        self.lab, self.prom = lab, prom
        self.quorum_ever: set[str] = set()

    async def firing(self, alertname: str) -> list[dict[str, str]]:
        data = await nsenter.get_json(self.lab.mon, f"{self.prom.base}/api/v1/alerts")
        alerts = data["data"]["alerts"]
        for a in alerts:
            if a["labels"]["alertname"] == "TargetDownQuorum":
                self.quorum_ever.add(a["labels"].get("target", ""))
        return [
            a["labels"]
            for a in alerts
            if a["labels"]["alertname"] == alertname and a["state"] == "firing"
        ]

    async def quorum_for(self, target: str) -> bool:
        return any(a.get("target") == target for a in await self.firing("TargetDownQuorum"))

    async def success(self, target: str) -> dict[str, float]:
        """probe_success of ``target`` per location, as Prometheus has it now."""
        query = f'probe_success{{job="netmon",target="{target}"}}'
        url = f"{self.prom.base}/api/v1/query?query={query}"
        data = await nsenter.get_json(self.lab.mon, url)
        return {r["metric"]["location"]: float(r["value"][1]) for r in data["data"]["result"]}


async def am_watchdogs(lab: Any, am: Proc) -> set[str]:
    """Locations whose Watchdog is active in Alertmanager (an expired one is not listed)."""
    alerts = await nsenter.get_json(lab.mon, f"{am.base}/api/v2/alerts?active=true")
    return {
        a["labels"].get("location", "")
        for a in alerts
        if a["labels"].get("alertname") == "Watchdog" and a["status"]["state"] == "active"
    }


@needs_netns_lab
@pytest.mark.timeout(240)
async def test_two_vantage_points_one_page_and_survive_losses(tmp_path: Path) -> None:
    async with (
        cluster(tmp_path) as (lab, sink, ams, nodes),
        prometheus(lab, prometheus_settings(lab, nodes)) as prom,
    ):
        alerts = PromAlerts(lab, prom)

        async def one_sided_seen() -> bool:
            return await alerts.success(ONE_SIDED) == {"so-tttt": 1.0, "vien-thong": 0.0}

        # Prometheus has quorum-view down from one location only: no quorum, for 5 s.
        await wait_for("quorum-view down from vien-thong only", one_sided_seen, 30)
        for _ in range(5):
            assert not await alerts.quorum_for(ONE_SIDED)
            await asyncio.sleep(1)
        assert await am_watchdogs(lab, ams[0]) == {"so-tttt", "vien-thong"}

        lab.cut("viettel-uplink")
        await wait_for("the Viettel page", lambda: all(sink.seen(*e) for e in VIETTEL), 60)
        # both vantage points see the link down: the quorum fires in Prometheus
        await wait_for(
            "TargetDownQuorum for viettel-uplink",
            lambda: alerts.quorum_for("viettel-uplink"),
            30,
        )
        await asyncio.sleep(GROUP_WAIT + 4)
        # both netmons saw it, both peers had it: one page (the cluster shares its log)
        assert len(new_pages(sink.pages, {"carrier": "viettel"})) == 1, [
            (p.receiver, p.names()) for p in sink.pages
        ]
        # VNPT is cut. Once Alertmanager holds its alert (group_wait running, nothing paged
        # yet), one netmon and one Alertmanager peer die: the page must still go out, once.
        lab.cut("vnpt-uplink")

        async def vnpt_held_by_alertmanager() -> bool:
            url = f"{ams[0].base}/api/v2/alerts?active=true"
            return any(
                a["labels"].get("alertname") == "TargetDown"
                and a["labels"].get("target") == "vnpt-uplink"
                for a in await nsenter.get_json(lab.mon, url)
            )

        await wait_for("the VNPT alert in Alertmanager", vnpt_held_by_alertmanager, 60)
        assert not sink.seen("TargetDown", "vnpt-uplink")  # the kill comes before the page
        nodes[1].kill9()
        peer = lab.procs.pop("am-2")
        peer.kill()
        await asyncio.to_thread(peer.wait)
        await wait_for("the VNPT page", lambda: all(sink.seen(*e) for e in VNPT), 60)
        await asyncio.sleep(GROUP_WAIT + 4)
        assert len(new_pages(sink.pages, {"carrier": "vnpt"})) == 1
        # no page again for what was paged
        assert len(new_pages(sink.pages, {"carrier": "viettel"})) == 1

        async def scrape_down_noticed() -> bool:
            down = await alerts.firing("NetmonScrapeDown")
            return [a.get("location") for a in down] == ["vien-thong"]

        await wait_for("Prometheus to notice the dead netmon", scrape_down_noticed, 30)

        # The dead netmon's Watchdog is no longer re-sent: it expires (endsAt is four resend
        # intervals ahead) while the survivor's stays.
        async def watchdog_expired() -> bool:
            return await am_watchdogs(lab, ams[0]) == {"so-tttt"}

        await wait_for("the dead netmon's Watchdog to expire", watchdog_expired, 40)

        # One vantage point left: the quorum cannot hold for VNPT any more (netmon-a paged it
        # and keeps it firing).
        async def vnpt_quorum_over() -> bool:
            return not await alerts.quorum_for("vnpt-uplink")

        await wait_for("the VNPT quorum to end with one vantage point", vnpt_quorum_over, 30)
        assert any(
            a["rule"] == "TargetDown" and a["target"] == "vnpt-uplink" and a["state"] == "firing"
            for a in await netmon_alerts(lab, nodes[0])
        )
        assert ONE_SIDED not in alerts.quorum_ever
        assert "viettel-uplink" in alerts.quorum_ever
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
