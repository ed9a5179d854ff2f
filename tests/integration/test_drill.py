"""Drill scenarios in the namespace lab, each asserted on pages a real Alertmanager sent.

netmon (``netmon run``), Debian's Alertmanager and the webhook receiver all live in netmon's
namespace; the carriers are namespaces with their own snmpd. Alertmanager groups by carrier
(group_wait 8 s), so one carrier outage is one page.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.drill import cli as drill_cli
from monitor.drill import netns as lab_netns
from monitor.drill.netns import (
    OWNERS,
    PREFIX,
    ROLES,
    NetnsLab,
    Unavailable,
    clean_stale,
    lab_namespaces,
)
from monitor.drill.scenarios import drill
from monitor.drill.settings import TIME_TO_ALERT_GOAL
from tests.support.common import REPO
from tests.support.netns import drill_for, lab_for, needs_netns_lab

CHILDREN_A = {"hall-a-wifi", "hall-a-camera"}
CHILDREN_B = {"hall-b-wifi", "hall-b-camera"}


def test_refused_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(drill_cli, "is_root", lambda: False)
    assert drill_cli.main(["viettel-cut"]) == 2
    assert drill_cli.lab_main(["--netns"]) == 2
    out = capsys.readouterr().out
    assert "needs root" in out and "nothing was changed" in out


@needs_netns_lab
async def test_lab_faults_and_teardown(tmp_path: Path) -> None:
    # A namespace left by a killed run is removed before the next lab is built.
    stale = f"{PREFIX}stale0-mon"
    await asyncio.to_thread(subprocess.run, ["ip", "netns", "add", stale], check=True)
    assert stale in clean_stale()
    async with lab_for(tmp_path) as lab:
        assert len([ns for ns in lab_namespaces() if lab.tag in ns]) == 5
        # cut: hall A (behind Viettel) is gone, hall B (VNPT) is not
        lab.cut("viettel-uplink")
        out = lab.ping("10.77.101.10", "10.77.102.10").stdout
        assert "10.77.101.10 failed" in out and "10.77.102.10 ok" in out
        lab.heal("viettel-uplink")
        assert lab.ping("10.77.101.10").returncode == 0
        # loss: the nftables rule is there, and gone when cleared
        lab.loss("viettel", 30)
        listing = ["ip", "netns", "exec", lab.ns("vt"), "nft", "list", "ruleset"]
        done = await asyncio.to_thread(subprocess.run, listing, capture_output=True, text=True)
        rules = done.stdout
        assert "numgen random mod 100 < 30" in rules
        lab.clear_loss("viettel")
        # snmpd stopped, web server hung
        lab.stop_snmpd("vnpt")
        assert lab.procs.get("snmpd-vnpt") is None
        lab.restart_snmpd("vnpt")
        lab.hang_web("dc-web-1")
        lab.resume_web("dc-web-1")
        assert [e.action for e in lab.events] == [
            "cut", "heal", "loss", "loss-cleared", "snmpd-stopped", "snmpd-started",
            "web-hung", "web-resumed",
        ]  # fmt: skip
        tag = lab.tag
    assert not [ns for ns in lab_namespaces() if tag in ns]


# A lab's namespaces made by a process of their own, which prints the lab's tag and then keeps
# running until its stdin closes (a dead run when stdin is empty: it exits without teardown).
_OWNED_LAB = (
    "import sys; from pathlib import Path; from monitor.drill.netns import NetnsLab; "
    "lab = NetnsLab(Path(sys.argv[1])); lab.add_namespaces(); print(lab.tag, flush=True); "
    "sys.stdin.read()"
)


def _namespaces_of(tag: str) -> set[str]:
    return {ns for ns in lab_namespaces() if ns.startswith(f"{PREFIX}{tag}-")}


@needs_netns_lab
def test_the_clean_removes_a_dead_runs_namespaces_only(tmp_path: Path) -> None:
    """Another run's live lab is never touched; a dead run's is removed, and so is one whose
    recorded owner pid now belongs to another process (its start time differs)."""
    argv = [sys.executable, "-c", _OWNED_LAB]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    live = subprocess.Popen([*argv, str(tmp_path / "live")], cwd=REPO, text=True, **pipes)
    try:
        assert live.stdout is not None
        live_tag = live.stdout.readline().strip()
        assert live_tag, "the live lab's owner did not start"
        dead_tags = []
        for name in ("dead", "reused"):
            done = subprocess.run(
                [*argv, str(tmp_path / name)],
                cwd=REPO,
                text=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=True,
            )
            dead_tags.append(done.stdout.strip())
        # "reused": its owner's pid is now this test's, which started at another time
        (OWNERS / dead_tags[1]).write_text(f"{os.getpid()} 1\n", encoding="utf-8")
        expected = {f"{PREFIX}{tag}-{role}" for tag in dead_tags for role in ROLES}
        assert all(_namespaces_of(tag) for tag in (live_tag, *dead_tags))

        gone = clean_stale()
        assert expected <= set(gone)
        assert not [ns for ns in gone if live_tag in ns], gone
        assert _namespaces_of(live_tag) == {f"{PREFIX}{live_tag}-{role}" for role in ROLES}
        assert not any(_namespaces_of(tag) for tag in dead_tags)
        assert (OWNERS / live_tag).exists()
        assert not any((OWNERS / tag).exists() for tag in dead_tags)
    finally:
        live.communicate(timeout=10)  # its stdin closed: it exits, without a teardown
    # its owner gone, the live lab is stale too now
    assert _namespaces_of(live_tag) <= set(clean_stale())
    assert not _namespaces_of(live_tag) and not (OWNERS / live_tag).exists()


@needs_netns_lab
async def test_delay_fault(tmp_path: Path) -> None:
    """tc netem delay on the VNPT link: the RTT to hall B grows by it. Needs sch_netem; where the
    kernel has none, only this is skipped, with tc's own words."""
    async with lab_for(tmp_path) as lab:
        try:
            lab.delay("vnpt", 60)
        except Unavailable as exc:
            pytest.skip(f"delay unavailable here: {exc}")
        done = await asyncio.to_thread(lab.ping, "10.77.102.10")
        assert done.returncode == 0, done.stdout
        rtt = float(done.stdout.split("rtt_avg=")[1].split()[0])
        assert rtt >= 0.055, done.stdout
        lab.clear_delay("vnpt")
        done = await asyncio.to_thread(lab.ping, "10.77.102.10")
        assert float(done.stdout.split("rtt_avg=")[1].split()[0]) < 0.03, done.stdout


@needs_netns_lab
def test_teardown_even_when_the_build_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = NetnsLab(tmp_path / "lab")

    def broken(self: NetnsLab, carrier: str) -> None:
        raise RuntimeError("snmpd would not start")

    monkeypatch.setattr(lab_netns.NetnsLab, "start_snmpd", broken)
    with pytest.raises(RuntimeError, match="snmpd would not start"):
        lab.build()
    assert not [ns for ns in lab_namespaces() if lab.tag in ns]


@needs_netns_lab
async def test_viettel_uplink_cut(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.viettel_cut()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    for key in (("TargetDown", "viettel-uplink"), ("InterfaceDown", "viettel-edge")):
        assert alerts[key]["time_to_alert"] <= TIME_TO_ALERT_GOAL, rec.to_json()
        assert alerts[key]["resolved"] is not None, rec.to_json()
    # the venue behind it: held as suppressed, never paged
    assert set(rec.held) >= CHILDREN_A
    assert all(why.startswith("suppressed: parent viettel-uplink") for why in rec.held.values())
    heal = rec.heal_time()
    assert heal is not None
    paged_before_heal = {t for p in rec.pages if p.at < heal for _, t in p.names()}
    assert not paged_before_heal & CHILDREN_A
    # exactly one page for the outage (after the heal: test_no_page_for_the_children_...)
    trace = [(p.at - rec.started, p.status, sorted(p.names())) for p in rec.pages]
    outage = [p for p in rec.pages if p.at < heal and p.status == "firing"]
    assert len(outage) == 1, trace
    assert set(rec.expected) <= outage[0].names()
    assert not any(p.group.get("carrier") != "viettel" for p in rec.pages)


@needs_netns_lab
async def test_no_page_for_the_children_after_the_heal(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.viettel_cut()
        await asyncio.sleep(6)  # AM's group_interval for any late child page
        rec = d.finish(rec, 0)
    paged = {t for p in rec.pages for _, t in p.names()}
    assert not paged & CHILDREN_A, rec.pages_per_receiver()


@needs_netns_lab
async def test_thirty_percent_loss_on_a_carrier(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.viettel_loss(30)
    names = {a["alertname"] for a in rec.alerts()}
    assert "HighPacketLoss" in names
    assert "TargetDown" not in names, rec.to_json()
    assert not rec.missed(), rec.missed()


@needs_netns_lab
async def test_both_carriers_cut(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.both_cut()
    assert rec.page_count("noc", "carrier=viettel") >= 1
    assert rec.page_count("noc", "carrier=vnpt") >= 1
    heal = rec.heal_time()
    assert heal is not None
    # one page per carrier while the venue is cut off; the halls are held, not paged
    before = [p for p in rec.pages if p.at < heal and p.status == "firing"]
    per_carrier: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for p in before:
        if p.names() - seen:
            per_carrier[p.group["carrier"]] = per_carrier.get(p.group["carrier"], 0) + 1
        seen |= p.names()
    assert per_carrier == {"viettel": 1, "vnpt": 1}, rec.pages_per_receiver()
    assert set(rec.held) >= CHILDREN_A | CHILDREN_B
    assert not {t for _, t in seen} & (CHILDREN_A | CHILDREN_B)


@needs_netns_lab
async def test_linkdown_trap_before_the_next_poll(tmp_path: Path) -> None:
    # The routers are polled every 60 s; the trap must page long before the next poll.
    async with lab_for(tmp_path) as lab, drill(lab, snmp_interval="60s") as d:
        rec = await d.linkdown_trap()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    down = alerts[("InterfaceDown", "viettel-edge")]
    assert down["time_to_alert"] <= TIME_TO_ALERT_GOAL, rec.to_json()
    assert down["resolved"] is not None


def test_icmp_wait_fits_the_default_timeout() -> None:
    """The loss drill once read 30 % loss as down: the ICMP probe sized its wait for late
    replies from target.timeout only. The scheduler now hands probes the effective timeout."""
    from monitor.config import Settings
    from monitor.runtime.scheduler import Scheduler
    from monitor.runtime.store import Store
    from probes.context import ProbeContext
    from probes.icmp import wait_after_last

    settings = Settings.model_validate(
        {
            "defaults": {"interval": "1s", "timeout": "900ms"},
            "targets": [{"name": "uplink", "kind": "icmp", "host": "10.77.11.2",
                         "icmp": {"count": 40, "spacing": "15ms"}}],
        }
    )  # fmt: skip
    target = Scheduler(settings, Store(), ProbeContext()).probe_target("uplink")
    assert target is not None and target.timeout == 0.9
    opts = target.icmp
    assert opts is not None
    assert (opts.count - 1) * opts.spacing + wait_after_last(opts, target.timeout) <= 0.9


@needs_netns_lab
async def test_snmp_agent_stopped(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.snmp_agent_stopped()
    assert not rec.missed(), rec.to_json()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    assert alerts[("TargetDown", "vnpt-edge")]["resolved"] is not None, rec.to_json()
    assert set(alerts) == {("TargetDown", "vnpt-edge")}, rec.to_json()  # nothing else paged
    # the router is up, its agent is not: the kernel answers port unreachable, which netmon
    # names as refused (not a timeout, which would point at the link)
    assert rec.notes == ["vnpt-edge: reason refused"], rec.notes


@needs_netns_lab
async def test_web_server_hung(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.web_server_hung()
    assert not rec.missed(), rec.to_json()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    assert alerts[("TargetDown", "dc-web-1")]["time_to_alert"] <= TIME_TO_ALERT_GOAL
    assert alerts[("TargetDown", "dc-web-1")]["resolved"] is not None, rec.to_json()
    assert set(alerts) == {("TargetDown", "dc-web-1")}, rec.to_json()
    assert rec.notes == ["dc-web-1: reason timeout"], rec.notes


@needs_netns_lab
async def test_stream_stalled(tmp_path: Path) -> None:
    async with drill_for(tmp_path) as d:
        rec = await d.stream_stalled()
    assert not rec.missed(), rec.to_json()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    assert set(alerts) == {("StreamStalled", "dc-livestream")}, rec.to_json()
    stalled = alerts[("StreamStalled", "dc-livestream")]
    assert stalled["time_to_alert"] <= rec.goal and stalled["resolved"] is not None
    assert rec.notes[0] == "dc-livestream: reason stalled", rec.notes
    assert "TargetDown dc-livestream: inhibited by StreamStalled" in " ".join(rec.notes), rec.notes


async def test_site_injected(tmp_path: Path) -> None:
    """Web integrity (issue 16): a script from an unknown CDN on dc-web-1's learnt page pages
    SiteInjected, critical, within the goal; the site is not paged down."""
    async with drill_for(tmp_path) as d:
        rec = await d.site_injected()
    assert not rec.missed(), rec.to_json()
    alerts = {(a["alertname"], a["target"]): a for a in rec.alerts()}
    injected = alerts[("SiteInjected", "dc-web-1-integrity")]
    assert injected["time_to_alert"] <= TIME_TO_ALERT_GOAL, rec.to_json()
    assert injected["resolved"] is not None, rec.to_json()
    assert set(alerts) == {("SiteInjected", "dc-web-1-integrity")}, rec.to_json()
    assert rec.notes[0] == "dc-web-1-integrity: reason injected_script", rec.notes
    assert "SiteInjected" in rec.notes[1], rec.notes  # TargetDown held by the inhibit rule
