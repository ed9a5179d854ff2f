"""Faults of netmon itself, in the namespace lab with a real Alertmanager where it matters:
kill -9 during an outage and during delivery, a broken config reload mid-outage, state_dir on a
read-only filesystem, a wall-clock jump, and 5,000 targets of which half time out at once.

The full-disk case is tests/test_alerts_restart.py::test_disk_full_under_the_alert_database.

Clock jump: the machine's clock cannot be changed safely on a shared machine, and a time
namespace (``unshare --time``) only offsets CLOCK_MONOTONIC/BOOTTIME once at its creation, never
CLOCK_REALTIME. So the jump is made twice another way: a real ``netmon run`` under Debian's
libfaketime (LD_PRELOAD; only CLOCK_REALTIME is stepped, from a file, as an NTP step would, the
monotonic clock left alone), and netmon in this process through the scheduler's Clock protocol.
Either way the wall clock jumps an hour forward, then two back: probing must not stall or burst,
and no alert may come of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from monitor.config import load_settings
from monitor.core.waiting import wait_for
from monitor.drill import nsenter
from monitor.drill.processes import netmon, netmon_alerts, netmon_run
from monitor.drill.scenarios import Drill
from monitor.drill.sink import Page
from monitor.runtime.service import Service
from tests.support.alerts import metric, sink_server, targets_server, webhook_alerts, write_settings
from tests.support.common import free_port, root_only
from tests.support.netns import drill_for, lab_for, needs_netns_lab, new_pages

EXPECTED = [("TargetDown", "viettel-uplink"), ("InterfaceDown", "viettel-edge")]


async def _kill9_mid_outage(d: Drill) -> tuple[int, list[Page]]:
    since = len(d.sink.pages)
    d.lab.cut("viettel-uplink")
    await wait_for("the page", lambda: all(d.sink.seen(*e) for e in EXPECTED), 60)
    d.node.kill9()
    async with d.restarted():
        await asyncio.sleep(12)
        pages = new_pages(d.sink.pages[since:])
        d.lab.heal("viettel-uplink")
        await wait_for(
            "resolved after the restart",
            lambda: all(d.sink.seen(*e, status="resolved") for e in EXPECTED),
            60,
        )
    return since, pages


@needs_netns_lab
@pytest.mark.timeout(180)
async def test_kill9_during_an_outage_then_restart(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        _, pages = await _kill9_mid_outage(d)
    # What was paged before the kill is not paged again after the restart (Alertmanager still
    # has it), and the heal after the restart resolves it.
    assert set(EXPECTED) <= pages[0].names()
    for later in pages[1:]:
        assert not later.names("firing") & set(EXPECTED) - pages[0].names()


@needs_netns_lab
@pytest.mark.timeout(180)
async def test_children_stay_held_across_a_restart(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        _, pages = await _kill9_mid_outage(d)
    paged = {t for p in pages for _, t in p.names()}
    assert not paged & {"hall-a-wifi", "hall-a-camera"}, paged


@needs_netns_lab
@pytest.mark.timeout(180)
async def test_kill9_during_delivery(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        since = len(d.sink.pages)
        am = d.lab.procs["alertmanager"]
        am.send_signal(signal.SIGSTOP)  # Alertmanager hangs: netmon's POST is on the wire
        try:
            d.lab.cut("viettel-uplink")

            async def undelivered() -> bool:
                alerts = await netmon_alerts(d.lab, d.node)
                return any(a["rule"] == "TargetDown" and a["state"] == "firing" for a in alerts)

            await wait_for("the alert waiting for delivery", undelivered, 30)
            await asyncio.sleep(1)
            d.node.kill9()
        finally:
            am.send_signal(signal.SIGCONT)
        async with d.restarted():
            await wait_for("the page after the restart",
                           lambda: all(d.sink.seen(*e) for e in EXPECTED), 60)  # fmt: skip
            await asyncio.sleep(10)
            assert len(new_pages(d.sink.pages[since:])) == 1
        d.lab.heal("viettel-uplink")


@needs_netns_lab
@pytest.mark.timeout(180)
async def test_broken_config_reload_mid_outage(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        since = len(d.sink.pages)
        d.lab.cut("viettel-uplink")
        await wait_for("the page", lambda: all(d.sink.seen(*e) for e in EXPECTED), 60)
        good = d.config.read_text(encoding="utf-8")
        d.config.write_text(good.replace("[server]", "[server\nbroken = "), encoding="utf-8")
        d.lab.procs["netmon"].send_signal(signal.SIGHUP)

        async def refused() -> bool:
            return await d.metric("netmon_config_last_reload_successful") == 0.0

        await wait_for("the reload refused", refused, 20)
        assert d.node.alive()
        await asyncio.sleep(4)
        assert not any(d.sink.seen(*e, status="resolved") for e in EXPECTED)  # still firing
        assert len(new_pages(d.sink.pages[since:])) == 1
        # the old settings keep working: the heal is seen and resolved
        d.lab.heal("viettel-uplink")
        resolved = lambda: all(d.sink.seen(*e, status="resolved") for e in EXPECTED)  # noqa: E731
        await wait_for("resolved on the old settings", resolved, 60)
        d.config.write_text(good, encoding="utf-8")
        d.lab.procs["netmon"].send_signal(signal.SIGHUP)

        async def accepted() -> bool:
            return await d.metric("netmon_config_last_reload_successful") == 1.0

        await wait_for("the fixed file accepted", accepted, 20)


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "ro-state"
    where.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "netmon-ro", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@root_only
async def test_state_dir_on_a_read_only_filesystem(tmp_path: Path, read_only_disk: Path) -> None:
    async with targets_server() as web, sink_server() as sink:
        alerts = webhook_alerts(("noc", sink.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}]
        path = write_settings(tmp_path / "s.toml", [web.target("site-a")], alerts,
                              state_dir=read_only_disk)  # fmt: skip
        service = Service(load_settings(path), path)
        await service.start()
        task = asyncio.create_task(service.scheduler.run())
        try:
            web.modes["site-a"] = "fail"
            await wait_for("the page from memory", lambda: sink.kinds("site-a") == ["firing"], 20)
            assert service.alerts.db.ok is False
            assert (metric(service, "netmon_alerts_db_errors_total") or 0) > 0
            runs = metric(service, "netmon_probes_total", kind="http") or 0
            await wait_for("probing to go on",
                           lambda: (metric(service, "netmon_probes_total", kind="http") or 0)
                           > runs + 5, 20)  # fmt: skip
            web.modes["site-a"] = "ok"
            await wait_for("the end", lambda: sink.kinds("site-a") == ["firing", "resolved"], 20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.aclose()


class JumpingClock:
    """The wall clock jumps by ``offset`` when told; monotonic time and sleeping are real."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_wall_clock_jump(tmp_path: Path) -> None:
    async with targets_server() as web, sink_server() as sink:
        path = write_settings(tmp_path / "s.toml", [web.target(f"site-{i}") for i in range(5)],
                              webhook_alerts(("noc", sink.url)), interval="200ms")  # fmt: skip
        clock = JumpingClock()
        service = Service(load_settings(path), path, clock=clock)
        await service.start()
        task = asyncio.create_task(service.scheduler.run())
        try:

            async def rate(seconds: float) -> float:
                before = metric(service, "netmon_probes_total", kind="http") or 0
                await asyncio.sleep(seconds)
                after = metric(service, "netmon_probes_total", kind="http") or 0
                return (after - before) / seconds

            await asyncio.sleep(1.5)
            steady = await rate(2)
            clock.offset = 3600.0  # an hour forward (NTP stepping a wrong clock)
            forward = await rate(2)
            clock.offset = -3600.0  # two hours back
            back = await rate(2)
            # 5 targets every 200 ms: 25 a second, whatever the wall clock says
            for label, value in (("steady", steady), ("forward", forward), ("back", back)):
                assert 15 <= value <= 35, (label, steady, forward, back)
            lag = service.scheduler.stats.lag_quantiles(time.monotonic(), (0.99,))[0.99]
            assert lag < 0.25
            assert sink.requests == []  # no alert from a clock jump
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.aclose()


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


@pytest.mark.skipif(
    not FAKETIME.exists(), reason="libfaketime is not installed (Debian package libfaketime)"
)
@pytest.mark.timeout(120)
async def test_wall_clock_jump_in_a_real_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with targets_server() as web, sink_server() as sink:
        listen = f"127.0.0.1:{free_port()}"
        path = write_settings(tmp_path / "s.toml", [web.target(f"site-{i}") for i in range(5)],
                              webhook_alerts(("noc", sink.url)), interval="200ms",
                              listen=listen)  # fmt: skip
        stamp = tmp_path / "faketime"
        stamp.write_text("+0\n", encoding="utf-8")
        for key, value in {
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(stamp),
            "FAKETIME_NO_CACHE": "1",  # read the file on every call: the jump is immediate
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "DONT_FAKE_MONOTONIC": "1",  # the older spelling of the same
        }.items():
            monkeypatch.setenv(key, value)
        async with netmon_run(path, log_level="WARNING") as node, aiohttp.ClientSession() as http:
            monkeypatch.delenv("LD_PRELOAD")  # nothing else this test starts is faked

            async def scrape() -> tuple[float, float]:
                """(http probes so far, netmon's wall clock minus ours, from its Date header)"""
                async with http.get(f"http://{listen}/metrics") as resp:
                    text = await resp.text()
                    date = email.utils.parsedate_to_datetime(resp.headers["Date"])
                for line in text.splitlines():
                    if line.startswith('netmon_probes_total{kind="http"}'):
                        return float(line.split()[-1]), date.timestamp() - time.time()
                raise AssertionError(f"no netmon_probes_total:\n{node.tail()}")

            async def rate(seconds: float) -> tuple[float, float]:
                before, _ = await scrape()
                await asyncio.sleep(seconds)
                after, skew = await scrape()
                return (after - before) / seconds, skew

            await asyncio.sleep(2)
            steady, skew0 = await rate(2)
            stamp.write_text("+1h\n", encoding="utf-8")  # an hour forward
            forward, skew1 = await rate(2)
            stamp.write_text("-1h\n", encoding="utf-8")  # two hours back
            back, skew2 = await rate(2)
            # the jumps happened in netmon
            assert abs(skew0) < 2 and abs(skew1 - 3600) < 2 and abs(skew2 + 3600) < 2, (
                skew0, skew1, skew2)  # fmt: skip
            # 5 targets every 200 ms: 25 a second, whatever the wall clock says
            for label, value in (("steady", steady), ("forward", forward), ("back", back)):
                assert 15 <= value <= 35, (label, steady, forward, back, node.tail())
            assert node.proc.returncode is None
        assert sink.requests == []  # no alert from a clock jump


@needs_netns_lab
@pytest.mark.timeout(240)
async def test_5000_targets_half_time_out_at_once(tmp_path: Path) -> None:
    """2,500 healthy ICMP targets and 2,500 behind a blackhole that opens at once (nftables drop
    in the data-centre namespace): the healthy ones keep their 5 s interval."""
    async with lab_for(tmp_path) as lab:
        for net in ("10.78.0.0/16", "10.79.0.0/16"):
            lab.exec("dc", ["ip", "route", "add", "local", net, "dev", "lo"])
            lab.exec("mon", ["ip", "route", "add", net, "via", "10.77.0.1"])
        targets = []
        for i in range(2500):
            for net, group in (("78", "healthy"), ("79", "doomed")):
                targets.append({"name": f"{group}-{i}", "kind": "icmp", "group": group,
                                "host": f"10.{net}.{i // 250}.{i % 250 + 1}",
                                "icmp": {"count": 1}, "timeout": "2s"})  # fmt: skip
        config = write_settings(tmp_path / "big.toml", targets, {"shipped_rules": False},
                                interval="5s", listen="127.0.0.1:9108")  # fmt: skip
        async with netmon(lab, config, "127.0.0.1:9108") as node:
            await asyncio.sleep(8)  # every target probed once (first runs spread over 5 s)
            lab.blackhole("dc", "10.79.0.0/16")
            t0 = time.monotonic()
            _, before = await nsenter.request(lab.mon, "GET", f"{node.base}/metrics", wait=30)
            await asyncio.sleep(15)
            status, after = await nsenter.request(lab.mon, "GET", f"{node.base}/metrics", wait=30)
            assert status == 200, after[:300]
            elapsed = time.monotonic() - t0

            def count(text: bytes, name: str) -> float:
                total = 0.0
                for line in text.decode().splitlines():
                    if line.startswith(name) and not line.startswith("#"):
                        total += float(line.split()[-1])
                return total

            probes = count(after, "netmon_probes_total") - count(before, "netmon_probes_total")
            lag = [
                float(line.split()[-1])
                for line in after.decode().splitlines()
                if line.startswith('netmon_scheduler_lag_seconds{quantile="0.99"}')
            ]
            # 5,000 targets every 5 s: 1,000 probes a second when nobody starves; the 2,500
            # timing out (2 s each) must not hold the healthy ones back.
            print(f"probes/s {probes / elapsed:.0f}, lag p99 {lag}")
            assert probes / elapsed >= 0.8 * 1000, probes / elapsed
            assert lag and lag[0] < 1.0, lag
