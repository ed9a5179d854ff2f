"""netmon's SNMP session (probes.snmp.session) against the lab's pure-Python agents: v1, v2c
and v3 agree, tooBig is retried with less, the agent's error-status and the three exceptions
come out by name, and a replaced v3 device is rediscovered.

No Net-SNMP needed here: test_probe.py is the real-agent half.
"""

from __future__ import annotations

import pytest

from probes.context import ProbeContext
from probes.snmp.ber import NO_SUCH_INSTANCE, NO_SUCH_OBJECT
from probes.snmp.errors import SnmpAgentError
from probes.snmp.session import BerSession, Credentials
from tests.probes.snmp.agents import (
    ROUTER,
    SWITCH,
    AgentFactory,
    poll,
    session,
    target,
    v3,
    values,
)


async def test_lab_agent_v1_v2c_v3_agree(make_agent: AgentFactory, ctx: ProbeContext) -> None:
    agent = await make_agent()
    for t in (target(agent, "v2c"), target(agent, "v1", version="1"), v3(agent)):
        result = await poll(t, ctx)
        assert result.success, (t.name, result.detail)
        assert dict(values(result, "sysName")[""].labels)["sysName"] == ROUTER.name
        assert values(result, "ifOperStatus")["1"].value == 1


async def test_too_big_is_retried_with_fewer_repetitions(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    # 50 ports do not fit in 600 bytes: the agent answers tooBig (as some do) until asked less.
    agent = await make_agent(SWITCH, max_response_bytes=600)
    transport, client = session(agent, timeout=0.5)
    try:
        walked = await client.walk(["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8"], 25)
        assert len(walked["1.3.6.1.2.1.2.2.1.8"]) == len(SWITCH.interfaces)
        assert client.repetitions_ok is not None and client.repetitions_ok < 25
    finally:
        await transport.aclose()
    result = await poll(target(agent, max_repetitions=50), ctx)
    assert result.success, result.detail
    assert len(values(result, "ifOperStatus")) == len(SWITCH.interfaces)


async def test_too_big_for_a_single_value_is_snmp_error(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(max_response_bytes=40)
    result = await poll(target(agent), ctx)
    assert result.reason == "snmp_error" and "tooBig" in result.detail


async def test_no_such_object_instance_and_end_of_mib_view(make_agent: AgentFactory) -> None:
    agent = await make_agent()
    transport, client = session(agent, timeout=0.5)
    try:
        got = dict(await client.get(["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.5.7", "1.3.6.1.9.9.0"]))
        assert got["1.3.6.1.2.1.1.5.0"].data == ROUTER.name.encode()
        assert got["1.3.6.1.2.1.1.5.7"].tag == NO_SUCH_INSTANCE
        assert got["1.3.6.1.9.9.0"].tag == NO_SUCH_OBJECT
        # The last column of the agent's MIB ends in endOfMibView, an empty one in nothing.
        walked = await client.walk(["1.3.6.1.2.1.15.3.1.16", "1.3.6.1.2.1.99"], 25)
        assert len(walked["1.3.6.1.2.1.15.3.1.16"]) == 1
        assert walked["1.3.6.1.2.1.99"] == []
        v1 = BerSession(transport, agent.address, Credentials("1", community=b"netmon-lab"))
        got = dict(await v1.get(["1.3.6.1.2.1.1.3.0", "1.3.6.1.9.9.0"]))
        assert got["1.3.6.1.9.9.0"].tag == NO_SUCH_OBJECT
        assert isinstance(got["1.3.6.1.2.1.1.3.0"].data, int)
    finally:
        await transport.aclose()


async def test_agent_error_status_is_snmp_error(make_agent: AgentFactory) -> None:
    agent = await make_agent()
    transport, client = session(agent, timeout=0.5)
    try:
        with pytest.raises(SnmpAgentError, match="tooBig"):
            agent.max_response_bytes = 30
            await client.get(["1.3.6.1.2.1.1.5.0"])
    finally:
        await transport.aclose()


async def test_a_replaced_device_is_rediscovered(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    assert (await poll(v3(agent), ctx)).success
    agent.engine_id = b"\x80\x00\x1f\x88\x04another-box"  # unknownEngineIDs, then rediscovery
    result = await poll(v3(agent), ctx)
    assert result.success, result.detail
