"""Issue 13, findings 2 and 12: forged traps, and trap errors that flood the log.

Finding 2: a trap was credited by the address it claims (a v1 agent-addr, a v2c
``snmpTrapAddress.0``) when its source address matched no target, so anyone on the LAN could set
a carrier's uplink down, or resolve a real outage. Guard: a trap is credited by its datagram's
source address only (``snmp.trap_sources`` for an agent behind NAT), it must carry that target's
community, and there is no default community. Finding 12: ``a0 00`` made pysnmp raise past the
counters, a traceback per datagram. Guard: every datagram pysnmp fails on is counted
(``undecodable``) and the receiver's log lines are rate-limited per reason (``LogLimiter``).

Real UDP on 127.0.0.x; Net-SNMP's snmptrap for v1, hand-built datagrams for v2c.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from monitor.config import Settings, Target
from monitor.config.traps import TrapSettings
from monitor.runtime.store import Observation, Store, TargetEvent, TargetState
from monitor.runtime.traps import LogLimiter, TrapReceiver
from probes.base import ProbeResult, Sample
from probes.snmp.ber import (
    INTEGER,
    IPADDRESS,
    OID,
    TIMETICKS,
    TRAP_V2,
    CommunityMessage,
    Pdu,
    Value,
    encode_community_message,
)
from tests.fixtures.snmpd import tool
from tests.support.traps import RigChecks

SNMPTRAP = tool("snmptrap")
needs_snmptrap = pytest.mark.skipif(
    SNMPTRAP is None, reason="Net-SNMP's snmptrap is not installed (Debian snmp)"
)
SECRET = "s3cret-trap-community"  # [traps] community
VNPT_SECRET = "vnpt-only-community"  # vnpt-edge's own snmp.trap_community
VIETTEL, VNPT, NATTED = "127.0.0.97", "127.0.0.96", "127.0.0.94"
NAT_SOURCE = "127.0.0.98"  # where the NATed agent's traps come from
FORGER = "127.0.0.99"  # no target's address
LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
BGP_ESTABLISHED = "1.3.6.1.2.1.15.0.1"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
IF_INDEX_1 = "1.3.6.1.2.1.2.2.1.1.1"
IF_OPER_1 = "1.3.6.1.2.1.2.2.1.8.1"
PEER = "127.0.4.1"
UPLINK = (("ifIndex", "1"), ("ifName", "ge-0/0/0"))


def snmp_target(name: str, host: str, **snmp: Any) -> Target:
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": host, "snmp": {"community": "poll"} | snmp}
    )


@dataclasses.dataclass
class Rig(RigChecks):
    receiver: TrapReceiver
    store: Store
    port: int
    events: list[TargetEvent]


def observation(up: bool) -> Observation:
    samples = (
        Sample("ifOperStatus", 1.0 if up else 2.0, UPLINK),
        Sample("bgpPeerState", 6.0 if up else 1.0, (("peer", PEER),)),
    )
    return Observation(ProbeResult(True, None, "ok", samples), time.time(), 0.01)


async def make_rig(traps: dict[str, Any], vnpt_up: bool = True) -> Rig:
    settings = Settings.model_validate(
        {
            "targets": [
                snmp_target("viettel-edge", VIETTEL),
                snmp_target("vnpt-edge", VNPT, trap_community=VNPT_SECRET),
                snmp_target("natted-edge", NATTED, trap_sources=[NAT_SOURCE]),
            ]
        }
    )
    store = Store()
    store.set_targets(settings.targets)
    for target in settings.targets:
        store.record(target.name, observation(up=vnpt_up or target.name != "vnpt-edge"))
    events: list[TargetEvent] = []

    def on_event(state: TargetState, event: TargetEvent) -> None:
        events.append(event)

    store.subscribe_events(on_event)
    receiver = TrapReceiver(
        settings, store, TrapSettings.model_validate({"listen": "127.0.0.1:0"} | traps)
    )
    await receiver.start()
    assert receiver.error is None and receiver.bound is not None
    return Rig(receiver, store, receiver.bound[1], events)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made = await make_rig({"community": SECRET})
    yield made
    await made.receiver.aclose()


@pytest.fixture
async def outage() -> AsyncIterator[Rig]:
    """vnpt-edge is really down: its uplink and its BGP session."""
    made = await make_rig({"community": SECRET}, vnpt_up=False)
    yield made
    await made.receiver.aclose()


def v2c_trap(trap_oid: str, *varbinds: tuple[str, Value], community: str = SECRET) -> bytes:
    pdu = Pdu(
        TRAP_V2,
        int.from_bytes(os.urandom(3), "big"),
        0,
        0,
        [
            ("1.3.6.1.2.1.1.3.0", Value(TIMETICKS, 100)),
            ("1.3.6.1.6.3.1.1.4.1.0", Value(OID, trap_oid)),
            *varbinds,
        ],
    )
    return encode_community_message(CommunityMessage(1, community.encode(), pdu))


def claiming(address: str) -> tuple[str, Value]:
    """The varbind a forger adds to say the trap is from ``address``."""
    return (SNMP_TRAP_ADDRESS, Value(IPADDRESS, socket.inet_aton(address)))


def send(data: bytes, port: int, source: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(data, ("127.0.0.1", port))


async def snmptrap(*args: str) -> subprocess.CompletedProcess[str]:
    assert SNMPTRAP is not None
    proc = await asyncio.create_subprocess_exec(
        SNMPTRAP, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


def metric(rig: Rig, name: str, **labels: str) -> float | None:
    for family in rig.receiver.metrics():
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


async def a_good_trap_still_counts(rig: Rig) -> None:
    """The end of every test: the receiver still works, so what it ignored was ignored on
    purpose, not lost to a broken receiver (and the test did wait long enough)."""
    before = len(rig.events)
    send(v2c_trap(LINK_DOWN, (IF_INDEX_1, Value(INTEGER, 1))), rig.port, source=VIETTEL)
    await rig.until("a genuine trap", lambda: len(rig.events) > before)
    assert rig.events[-1].target == "viettel-edge"


# ------------------------------------------------------------------ finding 2: forged traps


@needs_snmptrap
async def test_v1_link_down_claiming_another_routers_agent_addr_touches_nothing(rig: Rig) -> None:
    # The forger knows the community: only the source address may say whose trap it is.
    done = await snmptrap(
        f"--clientaddr={FORGER}",
        "-v1",
        "-c",
        SECRET,
        f"127.0.0.1:{rig.port}",
        "1.3.6.1.4.1.8072",
        VIETTEL,  # agent-addr: the Viettel router's
        "2",  # linkDown
        "0",
        "",
        IF_INDEX_1,
        "i",
        "1",
    )
    assert done.returncode == 0, done.stderr
    await rig.until("counted as unknown", lambda: rig.receiver.unknown == 1)
    assert rig.events == [] and not rig.receiver.counts
    assert rig.sample("viettel-edge", "ifOperStatus", ifIndex="1") == 1
    await a_good_trap_still_counts(rig)


async def test_v2c_link_down_with_a_forged_snmp_trap_address_touches_nothing(rig: Rig) -> None:
    forged = v2c_trap(
        LINK_DOWN,
        (IF_INDEX_1, Value(INTEGER, 1)),
        (IF_OPER_1, Value(INTEGER, 2)),
        claiming(VIETTEL),
    )
    send(forged, rig.port, source=FORGER)
    await rig.until("counted as unknown", lambda: rig.receiver.unknown == 1)
    assert rig.events == [] and not rig.receiver.counts
    assert rig.sample("viettel-edge", "ifOperStatus", ifIndex="1") == 1
    await a_good_trap_still_counts(rig)


async def test_forged_link_up_and_bgp_established_do_not_resolve_a_real_outage(
    outage: Rig,
) -> None:
    rig = outage
    # Even with vnpt-edge's own community: the source is not vnpt-edge's address.
    for community in (SECRET, VNPT_SECRET):
        up = v2c_trap(
            LINK_UP,
            (IF_INDEX_1, Value(INTEGER, 1)),
            (IF_OPER_1, Value(INTEGER, 1)),
            claiming(VNPT),
            community=community,
        )
        established = v2c_trap(
            BGP_ESTABLISHED,
            (f"1.3.6.1.2.1.15.3.1.2.{PEER}", Value(INTEGER, 6)),
            claiming(VNPT),
            community=community,
        )
        send(up, rig.port, source=FORGER)
        send(established, rig.port, source=FORGER)
    await rig.until("four unknown", lambda: rig.receiver.unknown == 4)
    assert rig.events == []
    assert rig.sample("vnpt-edge", "ifOperStatus", ifIndex="1") == 2  # still down
    assert rig.sample("vnpt-edge", "bgpPeerState", peer=PEER) == 1  # still idle
    await a_good_trap_still_counts(rig)


async def test_a_trap_from_an_unlisted_source_with_the_secret_community_is_dropped_and_counted(
    rig: Rig,
) -> None:
    send(v2c_trap(LINK_DOWN, claiming(VNPT), community=VNPT_SECRET), rig.port, source=FORGER)
    send(v2c_trap(LINK_DOWN, claiming(VIETTEL)), rig.port, source=FORGER)
    await rig.until("both unknown", lambda: rig.receiver.unknown == 2)
    assert rig.events == [] and not rig.receiver.counts
    assert metric(rig, "netmon_snmp_traps_unknown_total") == 2
    await a_good_trap_still_counts(rig)


async def test_a_trap_must_carry_its_own_targets_community(rig: Rig) -> None:
    # vnpt-edge has its own community: [traps] community is not enough from its address...
    send(v2c_trap(LINK_DOWN, (IF_INDEX_1, Value(INTEGER, 1))), rig.port, source=VNPT)
    # ...and vnpt-edge's community does not open viettel-edge.
    send(v2c_trap(LINK_DOWN, community=VNPT_SECRET), rig.port, source=VIETTEL)
    await rig.until("both refused", lambda: rig.receiver.dropped()["wrong_community"] == 2)
    assert rig.events == []
    send(v2c_trap(LINK_DOWN, community=VNPT_SECRET), rig.port, source=VNPT)
    await rig.until("its own community", lambda: bool(rig.events))
    assert rig.events[0].target == "vnpt-edge"


async def test_trap_sources_let_a_nated_agents_traps_in(rig: Rig) -> None:
    send(v2c_trap(LINK_DOWN, (IF_INDEX_1, Value(INTEGER, 1))), rig.port, source=NAT_SOURCE)
    await rig.until("the NATed agent's trap", lambda: bool(rig.events))
    assert [(e.target, e.name) for e in rig.events] == [("natted-edge", "linkDown")]
    assert rig.sample("natted-edge", "ifOperStatus", ifIndex="1") == 2
    assert rig.receiver.unknown == 0


def test_trap_sources_are_ip_addresses_only() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        snmp_target("t", VIETTEL, trap_sources=["router.example"])
    assert snmp_target("t", VIETTEL, trap_sources=["::ffff:127.0.0.98"]).options


async def test_with_no_community_configured_v1_v2c_traps_are_refused_and_counted() -> None:
    rig = await make_rig({})  # no [traps] community; only vnpt-edge sets one
    try:
        send(v2c_trap(LINK_DOWN, community="public"), rig.port, source=VIETTEL)
        send(v2c_trap(LINK_DOWN, community=SECRET), rig.port, source=VIETTEL)
        send(v2c_trap(LINK_DOWN, community=VNPT_SECRET), rig.port, source=VIETTEL)
        await rig.until(
            "three refused",
            lambda: (
                sum(rig.receiver.dropped()[r] for r in ("unknown_community", "wrong_community"))
                == 3
            ),
        )
        assert rig.events == [] and not rig.receiver.counts
        assert rig.receiver.dropped()["unknown_community"] == 2  # "public" is no default
        send(v2c_trap(LINK_DOWN, community=VNPT_SECRET), rig.port, source=VNPT)
        await rig.until("vnpt-edge's own community still works", lambda: bool(rig.events))
    finally:
        await rig.receiver.aclose()


# ------------------------------------------------------------------ finding 12: the log flood

FLOOD = 20_000
BATCH = 500  # under the 1 MB receive buffer: loopback drops nothing that is read in time


async def test_20000_undecodable_datagrams_are_all_counted_in_a_handful_of_log_lines(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((FORGER, 0))
        for sent in range(BATCH, FLOOD + 1, BATCH):
            for _ in range(BATCH):
                sock.sendto(b"\xa0\x00", ("127.0.0.1", rig.port))
            await rig.until(
                f"{sent} counted",
                lambda: rig.receiver.dropped()["undecodable"] >= sent,  # noqa: B023
                within=30.0,  # a busy machine; main counts none and fails here
            )
    assert rig.receiver.dropped()["undecodable"] == FLOOD
    lines = [r for r in caplog.records if r.name.startswith(("monitor", "asyncio", "pysnmp"))]
    assert len(lines) <= 10, [r.getMessage() for r in lines[:20]]
    assert rig.events == [] and rig.receiver.errors == 0
    assert metric(rig, "netmon_snmp_traps_dropped_total", reason="undecodable") == FLOOD
    await a_good_trap_still_counts(rig)


def test_the_log_limiter_lets_a_burst_through_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    limiter = LogLimiter(
        logging.getLogger("netmon-test"), burst=3, interval=60.0, clock=lambda: now[0]
    )
    caplog.set_level(logging.INFO, logger="netmon-test")
    passed = [limiter.log(logging.WARNING, "undecodable", "bad %d", i) for i in range(100)]
    assert passed == [True] * 3 + [False] * 97
    assert limiter.log(logging.WARNING, "other", "another reason") is True  # its own budget
    assert limiter.suppressed["undecodable"] == 97
    now[0] = 60.0
    assert limiter.log(logging.WARNING, "undecodable", "bad %d", 100) is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "bad 0",
        "bad 1",
        "bad 2",
        "another reason",
        "bad 100 (97 more like it not logged)",
    ]
    assert limiter.suppressed["undecodable"] == 0


async def test_a_reload_adds_and_removes_target_communities_without_a_rebind(rig: Rig) -> None:
    renamed = Settings.model_validate(
        {"targets": [snmp_target("viettel-edge", VIETTEL, trap_community="viettel-new")]}
    )
    rig.receiver.update(renamed, rig.receiver.settings)
    assert rig.receiver.restarting is None  # same [traps]: the communities change in place
    send(v2c_trap(LINK_DOWN, community="viettel-new"), rig.port, source=VIETTEL)
    await rig.until("the new community", lambda: len(rig.events) == 1)
    # vnpt-edge is gone, and its community with it: the engine no longer accepts it.
    send(v2c_trap(LINK_DOWN, community=VNPT_SECRET), rig.port, source=VIETTEL)
    send(v2c_trap(LINK_DOWN, community=SECRET), rig.port, source=VIETTEL)  # not its own now
    dropped = rig.receiver.dropped
    await rig.until(
        "both refused",
        lambda: dropped()["unknown_community"] == 1 and dropped()["wrong_community"] == 1,
    )
    assert len(rig.events) == 1
