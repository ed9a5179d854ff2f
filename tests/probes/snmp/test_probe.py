"""The snmp probe against a real agent: Debian's snmpd on loopback (tests/fixtures/snmpd.conf),
its values checked against Net-SNMP's own snmpget and snmpbulkwalk of the same agent.

Every bad input ends in its reason, and none breaks the next poll or another target.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Target
from probes import PROBES
from probes.base import ProbeResult, Sample
from probes.context import ProbeContext
from tests.fixtures.snmpd import (
    AUTH_KEY,
    COMMUNITY,
    NET_SNMP_TOOLS,
    PRIV_KEY,
    SNMPD,
    USERS,
    Snmpd,
    tool,
)

pytestmark = pytest.mark.skipif(SNMPD is None, reason="snmpd is not installed (Debian snmpd)")
needs_tools = pytest.mark.skipif(
    not NET_SNMP_TOOLS, reason="Net-SNMP's snmpget/snmpbulkwalk are not installed (Debian snmp)"
)

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    snmpd = Snmpd(tmp_path_factory.mktemp("snmpd"), "127.0.0.61")
    snmpd.start()
    yield snmpd
    snmpd.stop()


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


def target(agent: Snmpd, name: str = "snmpd", **snmp: Any) -> Target:
    options: dict[str, Any] = {"port": agent.port, "timeout": "400ms", "retries": 0}
    if snmp.get("version") != "3":
        options["community"] = COMMUNITY
    options.update(snmp)
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": agent.address, "timeout": "3s", "snmp": options}
    )


def v3(agent: Snmpd, user: str, name: str = "snmpd-v3", **extra: Any) -> Target:
    auth, priv = USERS[user]
    level = "authPriv" if priv else "authNoPriv" if auth else "noAuthNoPriv"
    options: dict[str, Any] = {"version": "3", "user": user, "level": level}
    if auth:
        options |= {"auth_protocol": auth, "auth_key": AUTH_KEY}
    if priv:
        options |= {"priv_protocol": priv, "priv_key": PRIV_KEY}
    return target(agent, name, **(options | extra))


async def poll(t: Target, ctx: ProbeContext) -> ProbeResult:
    return await PROBES["snmp"](t, ctx)


def samples(result: ProbeResult, name: str) -> dict[str, Sample]:
    """The samples called ``name``, by ifIndex (or "" for scalars)."""
    return {dict(s.labels).get("ifIndex", ""): s for s in result.samples if s.name == name}


def net_snmp(command: str, agent: Snmpd, *oids: str) -> dict[str, str]:
    binary = tool(command)
    assert binary is not None
    out = subprocess.run(
        [
            binary,
            "-v2c",
            "-c",
            COMMUNITY,
            "-On",
            "-OQ",
            "-Ot",
            "-Oe",
            "-r1",
            "-t2",
            agent.target,
            *oids,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = {}
    for line in out.splitlines():
        oid, _, value = line.partition(" = ")
        values[oid.lstrip(".")] = value.strip().strip('"')
    return values


def by_index(walk: dict[str, str], column: str) -> dict[str, str]:
    return {oid[len(column) + 1 :]: v for oid, v in walk.items() if oid.startswith(column + ".")}


# --------------------------------------------------------------------------- values


@needs_tools
async def test_v2c_poll_matches_snmpget_and_snmpbulkwalk(agent: Snmpd, ctx: ProbeContext) -> None:
    before = by_index(net_snmp("snmpbulkwalk", agent, IF_HC_IN), IF_HC_IN)
    result = await poll(target(agent), ctx)
    after = by_index(net_snmp("snmpbulkwalk", agent, IF_HC_IN), IF_HC_IN)
    assert result.success, result.detail
    assert result.reason is None

    descr = by_index(net_snmp("snmpbulkwalk", agent, IF_DESCR), IF_DESCR)
    names = by_index(net_snmp("snmpbulkwalk", agent, IF_NAME), IF_NAME)
    oper = by_index(net_snmp("snmpbulkwalk", agent, IF_OPER), IF_OPER)
    admin = by_index(net_snmp("snmpbulkwalk", agent, IF_ADMIN), IF_ADMIN)
    speed = by_index(net_snmp("snmpbulkwalk", agent, IF_HIGH_SPEED), IF_HIGH_SPEED)
    got_oper = samples(result, "ifOperStatus")
    assert set(got_oper) == set(descr) and descr
    for index, sample in got_oper.items():
        labels = dict(sample.labels)
        assert list(labels) == ["ifIndex", "ifName", "ifDescr", "ifAlias", "circuit"]
        assert labels["circuit"] == ""  # no snmp.circuits here
        assert labels["ifDescr"] == descr[index] and labels["ifName"] == names[index]
        assert sample.value == float(oper[index])
        assert samples(result, "ifAdminStatus")[index].value == float(admin[index])
        assert samples(result, "ifHighSpeed")[index].value == float(speed[index])
        hc = samples(result, "ifHCInOctets")[index].value
        assert int(before[index]) <= hc <= int(after[index])
        assert index in samples(result, "ifHCOutOctets")
        for column in ("ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards"):
            assert index in samples(result, column)
    assert not samples(result, "ifInOctets")  # HC counters exist: no 32-bit ones

    system = net_snmp("snmpget", agent, "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0")
    uptime = samples(result, "sysUpTime")[""].value
    assert abs(uptime - int(system["1.3.6.1.2.1.1.3.0"]) / 100) < 2
    assert dict(samples(result, "sysName")[""].labels) == {"sysName": system["1.3.6.1.2.1.1.5.0"]}
    assert samples(result, "probe_snmp_agent_restarted")[""].value == 0
    assert "netmon-test-agent" in result.detail


@pytest.mark.parametrize("user", sorted(USERS))
async def test_v3_every_auth_and_priv_protocol(agent: Snmpd, ctx: ProbeContext, user: str) -> None:
    result = await poll(v3(agent, user), ctx)
    assert result.success, (user, result.detail)
    assert dict(samples(result, "sysName")[""].labels) == {"sysName": "netmon-test-agent"}
    assert samples(result, "ifHCInOctets")


async def test_v1_falls_back_to_32_bit_counters(agent: Snmpd, ctx: ProbeContext) -> None:
    # v1 cannot carry Counter64: the agent has no HC counters for this manager.
    result = await poll(target(agent, version="1"), ctx)
    assert result.success, result.detail
    assert samples(result, "ifInOctets") and samples(result, "ifOutOctets")
    assert not samples(result, "ifHCInOctets")
    assert set(samples(result, "ifInOctets")) == set(samples(result, "ifOperStatus"))


async def test_interface_filter_and_extra_oids(agent: Snmpd, ctx: ProbeContext) -> None:
    result = await poll(
        target(agent, interfaces="^lo$", oids=["1.3.6.1.2.1.1.7.0", ".1.3.6.1.2.1.2.1.0"]), ctx
    )
    assert result.success, result.detail
    assert list(samples(result, "ifOperStatus")) == ["1"]
    extra = {
        dict(s.labels)["oid"]: s.value for s in result.samples if s.name == "probe_snmp_oid_value"
    }
    assert extra["1.3.6.1.2.1.1.7.0"] == 72  # sysServices
    assert extra["1.3.6.1.2.1.2.1.0"] >= 1  # ifNumber


# --------------------------------------------------------------------------- bad input


async def test_wrong_community_is_a_timeout_that_names_the_cause(
    agent: Snmpd, ctx: ProbeContext
) -> None:
    result = await poll(target(agent, community="not-the-community"), ctx)
    assert not result.success and result.reason == "timeout"
    assert "wrong community" in result.detail and agent.target in result.detail
    assert "not-the-community" not in result.detail
    # The agent itself is fine for the right community, in the same context.
    assert (await poll(target(agent, name="right"), ctx)).success


async def test_wrong_auth_key_is_snmp_auth_from_the_agents_report(
    agent: Snmpd, ctx: ProbeContext
) -> None:
    result = await poll(v3(agent, "shaaes", auth_key="wrong-auth-key"), ctx)
    assert result.reason == "snmp_auth"
    assert "usmStatsWrongDigests" in result.detail and "wrong auth key" in result.detail
    assert "wrong-auth-key" not in result.detail


async def test_wrong_auth_protocol_is_snmp_auth(agent: Snmpd, ctx: ProbeContext) -> None:
    result = await poll(v3(agent, "shaaes", auth_protocol="SHA-256"), ctx)
    assert result.reason == "snmp_auth" and "usmStatsWrongDigests" in result.detail


async def test_unknown_user_is_snmp_auth(agent: Snmpd, ctx: ProbeContext) -> None:
    nobody = v3(agent, "shaaes")
    assert nobody.snmp is not None
    result = await poll(
        nobody.model_copy(update={"snmp": nobody.snmp.model_copy(update={"user": "nobody"})}), ctx
    )
    assert result.reason == "snmp_auth"
    assert "does not know the user 'nobody'" in result.detail
    assert "usmStatsUnknownUserNames" in result.detail


async def test_wrong_priv_key_is_a_timeout_that_says_so(agent: Snmpd, ctx: ProbeContext) -> None:
    # snmpd drops what it cannot decrypt, without a report.
    result = await poll(v3(agent, "shaaes", priv_key="wrong-priv-key"), ctx)
    assert result.reason == "timeout"
    assert "priv key" in result.detail and "wrong-priv-key" not in result.detail


async def test_security_level_the_user_lacks_is_snmp_auth(agent: Snmpd, ctx: ProbeContext) -> None:
    asks_priv = v3(agent, "authonly", level="authPriv", priv_protocol="AES", priv_key=PRIV_KEY)
    result = await poll(asks_priv, ctx)
    assert result.reason == "snmp_auth" and "usmStatsUnsupportedSecLevels" in result.detail
    # A user made for authPriv asking authNoPriv: the agent's access control says no.
    lower = v3(agent, "shaaes", name="lower", level="authNoPriv", priv_protocol=None)
    result = await poll(lower, ctx)
    assert result.reason == "snmp_auth" and "authorizationError" in result.detail


async def test_missing_objects_are_no_such_object(agent: Snmpd, ctx: ProbeContext) -> None:
    result = await poll(target(agent, oids=["1.3.6.1.2.1.1.99.0"], bgp=True), ctx)
    assert not result.success and result.reason == "no_such_object"
    assert "1.3.6.1.2.1.1.99.0 does not exist" in result.detail
    # What the agent has is still there, for the status page and the trap receiver.
    assert samples(result, "ifOperStatus") and samples(result, "sysUpTime")


async def test_no_bgp_table_is_a_finding_not_a_failure(agent: Snmpd, ctx: ProbeContext) -> None:
    """Debian's snmpd has no BGP table at all: the router is up, its BGP series say none."""
    result = await poll(target(agent, bgp=True), ctx)
    assert result.success, result.detail
    assert "lists no BGP peer" in result.detail
    assert samples(result, "probe_snmp_bgp_table_present")[""].value == 0
    peers = samples(result, "probe_snmp_bgp_peers")[""]
    assert peers.value == 0 and dict(peers.labels) == {"mib": ""}
    assert not samples(result, "bgpPeerState")
    assert samples(result, "ifOperStatus")


async def test_nothing_listening_is_refused(agent: Snmpd, ctx: ProbeContext) -> None:
    closed = Target.model_validate(
        {
            "name": "closed",
            "kind": "snmp",
            "host": agent.address,
            "snmp": {"port": 9, "community": COMMUNITY, "timeout": "2s"},
        }
    )
    result = await asyncio.wait_for(poll(closed, ctx), 1.5)  # not the 2 s timeout
    assert result.reason == "refused" and "port unreachable" in result.detail


async def test_agent_restart_between_polls(tmp_path: Path, ctx: ProbeContext) -> None:
    agent = Snmpd(tmp_path, "127.0.0.62")
    agent.start()
    try:
        v2c, v3_target = target(agent, "restarting"), v3(agent, "sha256aes256", "restarting-v3")
        await asyncio.sleep(1.0)  # sysUpTime must be seen to go back: up a while first
        for t in (v2c, v3_target):
            first = await poll(t, ctx)
            assert first.success, first.detail
            assert not samples(first, "probe_snmp_last_restart_timestamp_seconds")
        agent.restart()
        for t in (v2c, v3_target):
            # v3: snmpEngineBoots went up; the session re-synchronises on the agent's
            # notInTimeWindow report without failing the poll.
            after = await poll(t, ctx)
            assert after.success, (t.name, after.detail)
            assert samples(after, "probe_snmp_agent_restarted")[""].value == 1
            assert "restarted" in after.detail
            restart_at = samples(after, "probe_snmp_last_restart_timestamp_seconds")[""].value
            assert restart_at > 0
            assert not samples(after, "probe_snmp_if_utilization_ratio")  # no rate across it
            again = await poll(t, ctx)
            assert samples(again, "probe_snmp_agent_restarted")[""].value == 0
            kept = samples(again, "probe_snmp_last_restart_timestamp_seconds")[""].value
            assert kept == restart_at
    finally:
        agent.stop()
