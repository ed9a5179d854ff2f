"""The lab's SNMP agents, through the shipped settings.toml: every snmp target polls its agent
with the credentials written there, and each fault mode shows up in the poll and, as traps, in
the store (through a real TrapReceiver).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.config import Settings, Target, load_settings
from monitor.config.traps import TrapSettings
from monitor.lab import Lab
from monitor.lab.inventory import SNMP_DEVICES, SNMP_MODES
from monitor.lab.web import load_or_create_ca
from monitor.runtime.store import Observation, Store, TargetEvent, TargetState
from monitor.runtime.traps import TrapReceiver
from probes import PROBES
from probes.base import ProbeResult
from probes.context import ProbeContext
from tests.fixtures.snmpd import free_udp_port
from tests.support.common import REPO


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # http.ca_file is relative: the lab writes it at start
    load_or_create_ca(tmp_path / "var" / "lab")
    return load_settings(REPO / "settings.toml")


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


def quick(target: Target) -> Target:
    """The same target with short request timeouts, for the faults that make agents silent."""
    assert target.snmp is not None
    snmp = target.snmp.model_copy(update={"timeout": 0.3, "retries": 0})
    return target.model_copy(update={"snmp": snmp})


def value(result: ProbeResult, name: str, **labels: str) -> float | None:
    for sample in result.samples:
        if sample.name == name and set(labels.items()) <= set(sample.labels):
            return sample.value
    return None


def test_shipped_snmp_targets_are_the_lab_agents(shipped: Settings) -> None:
    devices = {d.name: d for d in SNMP_DEVICES}
    targets = {t.name: t for t in shipped.targets if t.kind == "snmp"}
    assert set(targets) == set(devices)
    for name, target in targets.items():
        device = devices[name]
        assert target.snmp is not None
        assert (target.host, target.snmp.port) == (device.host, device.port)
        assert target.group == device.group and target.labels == device.labels
        assert tuple(target.depends_on) == device.depends_on
        assert target.snmp.bgp == bool(device.peers)
    versions = {t.snmp.version for t in targets.values() if t.snmp is not None}
    assert versions == {"2c", "3"}
    assert {t.labels.get("carrier") for t in targets.values()} >= {
        "vnpt", "viettel", "mobifone", "fpt"
    }  # fmt: skip


async def test_the_shipped_settings_poll_the_lab_and_see_its_faults(
    shipped: Settings, tmp_path: Path, ctx: ProbeContext
) -> None:
    trap_port = free_udp_port("127.0.0.1")
    store = Store()
    store.set_targets(shipped.targets)
    events: list[TargetEvent] = []
    two = asyncio.Event()

    def on_event(state: TargetState, event: TargetEvent) -> None:
        events.append(event)
        if len(events) >= 2:
            two.set()

    store.subscribe_events(on_event)
    receiver = TrapReceiver(shipped, store, TrapSettings(listen=f"127.0.0.1:{trap_port}"))
    lab = Lab(
        tmp_path / "lab", control=None, trap_address=("127.0.0.1", trap_port), reboot_seconds=0.3
    )
    await receiver.start()
    await lab.start()
    try:
        catalogue = {t["name"]: t for t in lab.targets() if t["kind"] == "snmp"}
        assert set(catalogue) == {d.name for d in SNMP_DEVICES}
        assert all(tuple(t["modes"]) == SNMP_MODES for t in catalogue.values())

        targets = {t.name: t for t in shipped.targets if t.kind == "snmp"}

        async def poll(name: str, fast: bool = False) -> ProbeResult:
            target = quick(targets[name]) if fast else targets[name]
            result = await PROBES["snmp"](target, ctx)
            store.record(name, Observation(result, time.time(), 0.01))
            return result

        results = dict(zip(targets, await asyncio.gather(*map(poll, targets)), strict=True))
        for name, result in results.items():
            assert result.success, (name, result.detail)
        assert value(results["vnpt-edge-router"], "bgpPeerState", peer="127.0.4.1") == 6
        switch = results["venue-access-switch"]
        kept = {dict(s.labels)["ifName"] for s in switch.samples if s.name == "ifOperStatus"}
        assert "Te1/1/1" in kept and "Gi1/0/1" in kept and "Gi1/0/30" not in kept
        assert len(kept) < 50

        # iface-down: the poll sees it, and the traps reach the store before any poll.
        await lab.fail("vnpt-edge-router", "iface-down")
        async with asyncio.timeout(3):
            await two.wait()
        assert [(e.target, e.name) for e in events] == [
            ("vnpt-edge-router", "linkDown"),
            ("vnpt-edge-router", "bgpBackwardTransition"),
        ]
        state = store.get("vnpt-edge-router")
        assert state is not None and state.latest is not None
        assert value(state.latest.result, "ifOperStatus", ifIndex="1") == 2
        down = await poll("vnpt-edge-router")
        assert value(down, "ifOperStatus", ifIndex="1") == 2
        assert value(down, "bgpPeerState", peer="127.0.4.1") == 1
        await lab.heal("vnpt-edge-router")
        assert value(await poll("vnpt-edge-router"), "ifOperStatus", ifIndex="1") == 1

        # agent-silent: a timeout, and the other agents are unaffected.
        await lab.fail("viettel-edge-router", "agent-silent")
        silent = await poll("viettel-edge-router", fast=True)
        assert silent.reason == "timeout"
        assert (await poll("mobifone-edge-router")).success
        await lab.heal("viettel-edge-router")
        assert (await poll("viettel-edge-router")).success

        # reboot: silent a moment, then sysUpTime from zero and a coldStart trap.
        await asyncio.sleep(0.5)  # up long enough that the reboot shows as sysUpTime going back
        await poll("fpt-edge-router")
        await lab.fail("fpt-edge-router", "reboot")
        assert (await poll("fpt-edge-router", fast=True)).reason == "timeout"
        await asyncio.sleep(0.5)
        rebooted = await poll("fpt-edge-router")
        assert rebooted.success, rebooted.detail  # v3: re-synchronised with the new boots
        assert value(rebooted, "probe_snmp_agent_restarted") == 1
        assert ("fpt-edge-router", "coldStart") in [(e.target, e.name) for e in events]
        assert receiver.counts[("fpt-edge-router", "coldStart")] == 1
        assert receiver.unknown == 0
        assert await lab.heal_all() == ["fpt-edge-router"]
    finally:
        await lab.close()
        await receiver.aclose()


async def test_interface_filter_fetches_only_the_kept_rows(ctx: ProbeContext) -> None:
    """The access switch has 50 ports; the NOC watches its two uplinks. With ``interfaces``
    set, only the name columns are walked and the kept rows fetched: the same samples for those
    ports as a full walk gives, for a fraction of the agent's work."""
    from dataclasses import replace

    from monitor.lab.inventory import SNMP_COMMUNITY
    from monitor.lab.snmp import LabAgent

    device = next(d for d in SNMP_DEVICES if d.name == "venue-access-switch")
    agent = LabAgent(replace(device, port=free_udp_port(device.host)), trap_address=None)
    await agent.start()
    try:

        def switch(name: str, **snmp: object) -> Target:
            options = {"port": agent.address[1], "community": SNMP_COMMUNITY, **snmp}
            return Target.model_validate(
                {"name": name, "kind": "snmp", "host": device.host, "snmp": options}
            )

        async def polled(t: Target) -> tuple[ProbeResult, tuple[int, int]]:
            """The result and what it cost the agent: (requests, values answered)."""
            requests, values = agent.requests, agent.values_answered
            result = await PROBES["snmp"](t, ctx)
            assert result.success, result.detail
            return result, (agent.requests - requests, agent.values_answered - values)

        def per_port(result: ProbeResult, names: set[str]) -> dict[tuple[str, str], float]:
            """(sample, ifName) → value, for the static columns of the ports in ``names``."""
            static = {"ifOperStatus", "ifAdminStatus", "ifHighSpeed"}
            return {
                (s.name, dict(s.labels)["ifName"]): s.value
                for s in result.samples
                if s.name in static and dict(s.labels).get("ifName") in names
            }

        uplinks = {"Te1/1/1", "Te1/1/2"}
        full, full_requests = await polled(switch("all-ports"))
        kept, kept_requests = await polled(switch("uplinks", interfaces="^Te1/1/[12]$"))
        assert per_port(kept, uplinks) == per_port(full, uplinks)
        assert len(per_port(kept, uplinks)) == 6
        assert {dict(s.labels)["ifName"] for s in kept.samples if s.name == "ifOperStatus"} == (
            uplinks
        )
        assert "2 of 50 interfaces kept" in kept.detail, kept.detail
        # a quarter of the values for 3 name columns of 50 rows and 12 values of 2 rows, and
        # at most one round trip more (the GET of the kept rows)
        assert kept_requests[1] * 4 < full_requests[1], (kept_requests, full_requests)
        assert kept_requests[0] <= full_requests[0] + 1, (kept_requests, full_requests)
        # the next poll has counters to compare: utilization of the kept ports only
        again, _ = await polled(switch("uplinks", interfaces="^Te1/1/[12]$"))
        ratios = {
            dict(s.labels)["ifName"]
            for s in again.samples
            if s.name == "probe_snmp_if_utilization_ratio"
        }
        assert ratios == uplinks
        # most rows kept: a walk of the other columns is fewer round trips than GETs
        most, _ = await polled(switch("most", interfaces="^Gi1/0/"))
        assert "48 of 50 interfaces kept" in most.detail, most.detail
        gi = {f"Gi1/0/{i}" for i in range(1, 49)}
        assert per_port(most, gi) == per_port(full, gi)
        # ... and from then on the whole table at once, as without a filter
        most, most_requests = await polled(switch("most", interfaces="^Gi1/0/"))
        assert most_requests[0] == full_requests[0], (most_requests, full_requests)
        assert per_port(most, gi) == per_port(full, gi)
    finally:
        await agent.close()
