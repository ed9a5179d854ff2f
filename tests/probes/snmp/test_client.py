"""netmon's SNMP client and the probe's arithmetic, against the lab's pure-Python agents made
hostile on purpose (tooBig, garbage, late answers, silence, a Counter32 about to wrap, a
reboot), and the codec and USM keys against published test vectors and pysnmp.

No Net-SNMP needed here: tests/test_snmp.py is the real-agent half.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.config import Target
from monitor.lab.inventory import SNMP_COMMUNITY, SNMP_DEVICES, SnmpDevice
from monitor.lab.snmp import LabAgent
from probes import PROBES
from probes.base import ProbeContext, ProbeResult, Sample
from probes.options import SnmpOptions
from probes.snmp.ber import (
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GETBULK,
    INTEGER,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    OCTET_STRING,
    BerError,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    encode_community_message,
)
from probes.snmp.client import (
    BerSession,
    Credentials,
    GufoClient,
    SnmpAgentError,
    UdpTransport,
    peek_id,
)
from probes.snmp.probe import _Counters, _restarted, _TargetState, utilization
from probes.snmp.usm import UsmUser, decode_v3, localize, password_to_key

ROUTER = next(d for d in SNMP_DEVICES if d.name == "vnpt-edge-router")
SWITCH = next(d for d in SNMP_DEVICES if d.name == "venue-access-switch")
AgentFactory = Callable[..., Awaitable[LabAgent]]


@pytest.fixture
async def make_agent() -> AsyncIterator[AgentFactory]:
    """A lab agent on its own 127.0.0.x address and a free port; closed after the test."""
    agents: list[LabAgent] = []

    async def make(device: SnmpDevice = ROUTER, host: str = "127.0.0.71", **knobs: Any) -> LabAgent:
        placed = dataclasses.replace(device, host=host, port=0)  # the kernel picks
        knobs.setdefault("trap_address", None)
        agent = LabAgent(placed, **knobs)
        await agent.start()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.close()


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


def target(agent: LabAgent, name: str = "lab", **snmp: Any) -> Target:
    options: dict[str, Any] = {"port": agent.address[1], "timeout": "300ms", "retries": 0}
    if snmp.get("version") != "3":
        options["community"] = SNMP_COMMUNITY
    options.update(snmp)
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": agent.address[0], "timeout": "3s", "snmp": options}
    )


def v3(agent: LabAgent, name: str = "lab-v3", **snmp: Any) -> Target:
    options: dict[str, Any] = {
        "version": "3",
        "user": "noc",
        "level": "authPriv",
        "auth_protocol": "SHA",
        "auth_key": "netmon-lab-auth",
        "priv_protocol": "AES",
        "priv_key": "netmon-lab-priv",
    }
    return target(agent, name, **(options | snmp))


async def poll(t: Target, ctx: ProbeContext) -> ProbeResult:
    return await PROBES["snmp"](t, ctx)


def values(result: ProbeResult, name: str) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    for sample in result.samples:
        if sample.name == name:
            labels = dict(sample.labels)
            out[labels.get("ifIndex", "") + labels.get("direction", "")] = sample
    return out


def session(agent: LabAgent, **kwargs: Any) -> tuple[UdpTransport, BerSession]:
    transport = UdpTransport()
    creds = Credentials("2c", community=SNMP_COMMUNITY.encode())
    return transport, BerSession(transport, agent.address, creds, **kwargs)


# --------------------------------------------------------------------------- codec and keys


def test_rfc3414_key_localization_vectors() -> None:
    engine = bytes.fromhex("000000000000000000000002")
    md5 = password_to_key("md5", b"maplesyrup")
    assert md5.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localize("md5", md5, engine).hex() == "526f5eed9fcce26f8964c2930787d82b"
    sha = password_to_key("sha1", b"maplesyrup")
    assert sha.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert localize("sha1", sha, engine).hex() == "6695febc9288e36282235fc7151f128497b38f3f"


def test_aes_256_key_extensions_match_pysnmp() -> None:
    from pyasn1.type import univ  # type: ignore[import-untyped]
    from pysnmp.entity import config  # type: ignore[import-untyped]
    from pysnmp.proto.secmod.eso.priv import aes256  # type: ignore[import-untyped]
    from pysnmp.proto.secmod.rfc3414.localkey import hash_passphrase  # type: ignore[import-untyped]

    engine = bytes.fromhex("80001f8804") + b"netmon"
    master = hash_passphrase(b"netmon-priv-1", hashlib.sha1)
    for ours, theirs in (("AES-256", aes256.AesBlumenthal256()), ("AES-256-C", aes256.Aes256())):
        user = UsmUser(b"u", "SHA", b"netmon-auth-1", ours, b"netmon-priv-1")
        expected = theirs.localize_key(config.USM_AUTH_HMAC96_SHA, master, univ.OctetString(engine))
        assert user.keys(engine).priv_key == bytes(expected), ours


def test_codec_round_trip_and_garbage_raises_only_ber_errors() -> None:
    varbinds = [
        ("1.3.6.1.2.1.1.3.0", Value(0x43, 4294967295)),
        ("1.3.6.1.2.1.31.1.1.1.6.1", Value(COUNTER64, 2**64 - 1)),
        ("1.3.6.1.2.1.2.2.1.2.1", Value(OCTET_STRING, "Cổng 1".encode())),
        ("1.3.6.1.2.1.2.2.1.8.1", Value(INTEGER, -1)),
        ("1.3.6.1.2.1.1.99.0", Value(NO_SUCH_OBJECT)),
        ("1.3.6.1.4.1.99999.4294967295", Value(END_OF_MIB_VIEW)),
    ]
    message = CommunityMessage(1, b"c", Pdu(0xA2, 2**31 - 1, 0, 0, varbinds))
    data = encode_community_message(message)
    assert decode_community_message(data) == message
    assert peek_id(data) == 2**31 - 1
    rng = random.Random(3)
    for _ in range(3000):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        if rng.random() < 0.5:  # a valid head with a damaged body: the harder case
            cut = rng.randrange(1, len(data))
            noise = data[:cut] + noise
        for decode in (decode_community_message, decode_v3, peek_id):
            with contextlib.suppress(BerError):
                decode(noise)


def test_secrets_never_in_reprs() -> None:
    user = UsmUser(b"noc", "SHA", b"auth-secret-1", "AES", b"priv-secret-1")
    creds = Credentials("3", user=user)
    text = repr(user) + repr(creds) + repr(user.keys(b"\x80\x00\x00\x00\x01"))
    text += repr(Credentials("2c", community=b"community-secret"))
    assert "secret" not in text


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


# --------------------------------------------------------------------------- the agent's answers


async def test_lab_agent_v1_v2c_v3_and_gufo_agree(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    for t in (target(agent, "v2c"), target(agent, "v1", version="1"), v3(agent)):
        result = await poll(t, ctx)
        assert result.success, (t.name, result.detail)
        assert dict(values(result, "sysName")[""].labels)["sysName"] == ROUTER.name
        assert values(result, "ifOperStatus")["1"].value == 1
    gufo = GufoClient(agent.address, Credentials("2c", community=SNMP_COMMUNITY.encode()))
    walked = await gufo.walk(["1.3.6.1.2.1.2.2.1.2"], 10)
    assert [v.data for _, v in walked["1.3.6.1.2.1.2.2.1.2"]] == [
        i.descr.encode() for i in ROUTER.interfaces
    ]
    await gufo.close()


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


async def test_gufo_client_hides_too_big(make_agent: AgentFactory) -> None:
    """Why netmon does not poll with gufo-snmp: a tooBig ends its walk as an empty table.
    (If this starts failing, gufo-snmp learnt to report it: measure it again.)"""
    agent = await make_agent(SWITCH, max_response_bytes=600)
    gufo = GufoClient(agent.address, Credentials("2c", community=SNMP_COMMUNITY.encode()))
    walked = await gufo.walk(["1.3.6.1.2.1.2.2.1.8"], 50)
    assert walked["1.3.6.1.2.1.2.2.1.8"] == []
    await gufo.close()


async def test_too_big_for_a_single_value_is_snmp_error(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(max_response_bytes=40)
    result = await poll(target(agent), ctx)
    assert result.reason == "snmp_error" and "tooBig" in result.detail


async def test_garbage_answers_are_a_protocol_error_at_once(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(garbage=True)
    result = await asyncio.wait_for(poll(target(agent, timeout="2s"), ctx), 1.0)
    assert result.reason == "protocol" and "not SNMP" in result.detail
    agent.garbage = False
    assert (await poll(target(agent), ctx)).success


async def test_an_answer_after_the_timeout_is_a_timeout_and_then_ignored(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(answer_delay=0.5)
    result = await poll(target(agent, timeout="200ms"), ctx)
    assert result.reason == "timeout"
    agent.answer_delay = 0.0
    await asyncio.sleep(0.5)  # the late answer arrives now, to a request nobody awaits
    result = await poll(target(agent, timeout="200ms"), ctx)
    assert result.success, result.detail
    shared = await ctx.shared("snmp", _unreachable_factory)
    assert shared.transport.stats["late_or_unknown"] >= 1


async def _unreachable_factory() -> Any:
    raise AssertionError("the snmp probe made its shared state already")


async def test_silent_agent_times_out_with_every_try(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    agent.silent = True
    result = await poll(target(agent, timeout="150ms", retries=2), ctx)
    assert result.reason == "timeout" and "3 tries, 0.15 s each" in result.detail
    assert agent.requests == 0  # the agent saw them, and said nothing


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


# --------------------------------------------------------------------------- between polls


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


async def test_a_replaced_device_is_rediscovered(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    assert (await poll(v3(agent), ctx)).success
    agent.engine_id = b"\x80\x00\x1f\x88\x04another-box"  # unknownEngineIDs, then rediscovery
    result = await poll(v3(agent), ctx)
    assert result.success, result.detail


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


# --------------------------------------------------------------------------- isolation


async def test_requests_in_flight_are_bounded_per_agent(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(answer_delay=0.02)
    targets = [target(agent, f"copy-{i:03d}", timeout="2s") for i in range(300)]
    results = await asyncio.gather(*(poll(t, ctx) for t in targets))
    assert all(r.success for r in results), {r.detail for r in results if not r.success}
    shared = await ctx.shared("snmp", _unreachable_factory)
    assert 1 < shared.transport.peak_in_flight <= 8


async def test_bad_agents_do_not_break_good_ones(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    good = await make_agent(host="127.0.0.72")
    garbage = await make_agent(host="127.0.0.73", garbage=True)
    silent = await make_agent(host="127.0.0.74")
    silent.silent = True
    late = await make_agent(host="127.0.0.75", answer_delay=0.5)
    results = await asyncio.gather(
        *(
            poll(target(a, name, timeout="250ms"), ctx)
            for a, name in (
                (good, "good"),
                (garbage, "garbage"),
                (silent, "silent"),
                (late, "late"),
            )
        ),
        poll(v3(good, "good-v3", timeout="250ms"), ctx),
    )
    assert [r.reason for r in results] == [None, "protocol", "timeout", "timeout", None]


async def test_cancellation_propagates_and_leaves_nothing_pending(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    agent.silent = True
    task = asyncio.create_task(poll(target(agent, timeout="5s"), ctx))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    shared = await ctx.shared("snmp", _unreachable_factory)
    assert not shared.transport._pending and not shared.transport.in_flight


async def test_a_stray_datagram_from_a_stranger_is_ignored(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    t = target(agent)
    assert (await poll(t, ctx)).success
    shared = await ctx.shared("snmp", _unreachable_factory)
    sock = next(iter(shared.transport._sockets.values()))
    port = sock.getsockname()[1]
    loop = asyncio.get_running_loop()
    stranger, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.76", 0)
    )
    bulk = Pdu(GETBULK, 1, 0, 1, [])
    stranger.sendto(os.urandom(64), ("127.0.0.1", port))
    stranger.sendto(encode_community_message(CommunityMessage(1, b"x", bulk)), ("127.0.0.1", port))
    stranger.close()
    await asyncio.sleep(0.05)
    assert (await poll(t, ctx)).success
    assert shared.transport.stats["undecodable"] >= 1


def test_counter32_values_in_the_lab_wrap() -> None:
    agent = LabAgent(dataclasses.replace(ROUTER, host="127.0.0.77"), trap_address=None)
    agent.set_octets(1, 2**32 + 5, 0)
    value = agent.get("1.3.6.1.2.1.2.2.1.10.1")
    assert value.tag == COUNTER32 and isinstance(value.data, int) and value.data < 2**32
