"""The snmp probe against the lab's pure-Python agents (a Counter32 about to wrap, a reboot) and
its arithmetic (utilization across a wrap, TimeTicks wrap); its options' errors.

No Net-SNMP needed here: test_probe.py is the real-agent half.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from pydantic import ValidationError

from monitor.lab.snmp import LabAgent
from probes.context import ProbeContext
from probes.options import SnmpOptions
from probes.snmp.ber import COUNTER32
from probes.snmp.probe import _Counters, _restarted, _TargetState, utilization
from tests.probes.snmp.agents import ROUTER, AgentFactory, poll, target, v3, values


def test_snmp_options_errors_name_the_problem() -> None:
    def options(**given: object) -> SnmpOptions:
        return SnmpOptions.model_validate(given)

    with pytest.raises(ValidationError, match="not a valid regular expression"):
        options(community="c", interfaces="(unclosed")
    with pytest.raises(ValidationError, match="fewer than 8 characters"):
        options(version="3", user="u", level="authNoPriv", auth_protocol="SHA", auth_key="short")
    with pytest.raises(ValidationError, match="needs `user`"):
        options(version="3")
    with pytest.raises(ValidationError, match="needs a community"):
        options(version="2c")
    opts = options(community="c", timeout="250ms", priv_protocol="AES-256-C")
    assert opts.timeout == 0.25


async def test_counter32_wrap_between_polls(make_agent: AgentFactory, ctx: ProbeContext) -> None:
    agent = await make_agent(counter32_only=True)
    t = target(agent, interfaces="^ge-0/0/0$")
    agent.set_octets(1, 2**32 - 20_000_000, 2**32 - 10_000_000)  # wraps within 1 s at ~56 MB/s
    first = await poll(t, ctx)
    assert first.success and not values(first, "ifHCInOctets")
    before = values(first, "ifInOctets")["1"].value
    await asyncio.sleep(1.0)
    second = await poll(t, ctx)
    after = values(second, "ifInOctets")["1"].value
    assert after < before  # it wrapped
    ratio_in = values(second, "probe_snmp_if_utilization_ratio")["1in"].value
    ratio_out = values(second, "probe_snmp_if_utilization_ratio")["1out"].value
    # The uplink's load is 45 % ± 30 % of that; out is 60 % of in.
    assert 0.25 < ratio_in < 0.65, ratio_in
    assert 0.15 < ratio_out < 0.45, ratio_out
    assert values(second, "probe_snmp_agent_restarted")[""].value == 0


async def test_restart_between_polls_marks_it_and_gives_no_rate(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    for t in (target(agent), v3(agent)):
        await asyncio.sleep(0.3)
        assert (await poll(t, ctx)).success
    await asyncio.sleep(0.3)
    agent.reboot_now()  # sysUpTime and counters from zero, snmpEngineBoots + 1
    for t in (target(agent), v3(agent)):
        result = await poll(t, ctx)
        assert result.success, result.detail  # v3 re-synchronised on notInTimeWindows
        assert values(result, "probe_snmp_agent_restarted")[""].value == 1
        assert "probe_snmp_last_restart_timestamp_seconds" in {s.name for s in result.samples}
        assert not values(result, "probe_snmp_if_utilization_ratio")


def test_utilization_arithmetic() -> None:
    gig = 1e9
    before = _Counters(2**32 - 1_000, 5_000, wide=False)
    after = _Counters(124_000_000, 125_005_000, wide=False)  # in wrapped; 1 Gbit/s for 1 s
    ratio_in, ratio_out = utilization(before, after, 1.0, gig)
    assert ratio_in == pytest.approx((124_001_000) * 8 / gig)
    assert ratio_out == pytest.approx(1.0)
    # A 64-bit counter going back is a reset, not a wrap.
    assert utilization(_Counters(10, 10, True), _Counters(5, 20, True), 1.0, gig)[0] is None
    # A "wrap" bigger than the link could carry is a reset too.
    assert (
        utilization(_Counters(3_000_000, 0, False), _Counters(1_000, 0, False), 1, 1e6)[0] is None
    )
    assert utilization(None, after, 1.0, gig) == (None, None)
    assert utilization(before, after, 1.0, 0.0) == (None, None)


def test_timeticks_wrap_is_not_a_restart() -> None:
    state = _TargetState(key=(), session=None)  # type: ignore[arg-type]
    state.uptime_ticks, state.polled_at = 2**32 - 500, 100.0
    assert not _restarted(state, 1_000, 115.0)  # 15 s later: wrapped where it should be
    assert _restarted(state, 1_000, 200.0)  # 100 s later it would read ~9,500: a restart
    state.uptime_ticks = 50_000
    assert _restarted(state, 100, 101.0)


def test_counter32_values_in_the_lab_wrap() -> None:
    agent = LabAgent(dataclasses.replace(ROUTER, host="127.0.0.77"), trap_address=None)
    agent.set_octets(1, 2**32 + 5, 0)
    value = agent.get("1.3.6.1.2.1.2.2.1.10.1")
    assert value.tag == COUNTER32 and isinstance(value.data, int) and value.data < 2**32
