"""The UDP transport (probes.snmp.transport): requests in flight bounded per agent, answers
matched by (agent, request id), and what a bad agent does (garbage, silence, late answers, ICMP
port unreachable) confined to that agent's requests.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

import pytest

from probes.context import ProbeContext
from probes.snmp.ber import (
    GET,
    GETBULK,
    NULL,
    RESPONSE,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    encode_community_message,
)
from probes.snmp.errors import SnmpRefused, SnmpTimeout
from probes.snmp.transport import Address, UdpTransport
from tests.fixtures.snmpd import free_udp_port
from tests.probes.snmp.agents import AgentFactory, poll, shared_transport, target, v3


class HoldingAgent(asyncio.DatagramProtocol):
    """Answers every GET after ``hold`` seconds and counts what it holds meanwhile: the requests
    in flight to it as the agent sees them."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.received = self.answered = self.held = self.peak_held = 0
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        request = decode_community_message(data)
        self.received += 1
        self.held += 1
        self.peak_held = max(self.peak_held, self.held)
        answer = CommunityMessage(
            request.version, request.community, Pdu(RESPONSE, request.pdu.request_id)
        )
        asyncio.get_running_loop().call_later(
            self.hold, self._answer, encode_community_message(answer), addr
        )

    def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.held -= 1
        self.answered += 1
        assert self._transport is not None
        self._transport.sendto(data, addr)


async def holding_agent(host: str, hold: float) -> tuple[asyncio.DatagramTransport, HoldingAgent]:
    loop = asyncio.get_running_loop()
    transport, agent = await loop.create_datagram_endpoint(
        lambda: HoldingAgent(hold), local_addr=(host, 0)
    )
    return transport, agent


def get_request(request_id: int) -> bytes:
    pdu = Pdu(GET, request_id, 0, 0, [("1.3.6.1.2.1.1.3.0", Value(NULL))])
    return encode_community_message(CommunityMessage(1, b"c", pdu))


async def test_requests_in_flight_are_bounded_per_agent() -> None:
    """300 requests at once to each of two agents that hold every answer 20 ms: neither agent
    ever holds more than 8 (the bound), and each holds more than one (they are concurrent, and
    the bound is per agent: one agent's queue does not hold back the other's). No request may
    time out on a busy machine: each waits up to a minute; the assertion is the count."""
    endpoints = [await holding_agent(host, 0.02) for host in ("127.0.0.78", "127.0.0.79")]
    transport = UdpTransport()
    try:

        async def ask(address: Address) -> bytes:
            request_id = transport.next_id()
            return await transport.request(
                address, request_id, get_request(request_id), per_try=60.0, tries=1
            )

        addresses = [endpoint.get_extra_info("sockname")[:2] for endpoint, _ in endpoints]
        answers = await asyncio.gather(*(ask(a) for a in addresses for _ in range(300)))
        assert len(answers) == 600
        for _, agent in endpoints:
            assert agent.received == agent.answered == 300  # one try each: no retry counted
            assert 1 < agent.peak_held <= 8, agent.peak_held
        assert 1 < transport.peak_in_flight <= 8
        assert not transport.in_flight and not transport._pending
    finally:
        await transport.aclose()
        for endpoint, _ in endpoints:
            endpoint.close()


async def test_the_probe_polls_through_the_bounded_transport(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(answer_delay=0.02)
    # A minute per request and per poll: a busy machine makes this slower, never wrong.
    targets = [
        target(agent, f"copy-{i:03d}", timeout="50s").model_copy(update={"timeout": 60.0})
        for i in range(60)
    ]
    results = await asyncio.gather(*(poll(t, ctx) for t in targets))
    assert all(r.success for r in results), {r.detail for r in results if not r.success}
    transport = await shared_transport(ctx)
    assert 1 < transport.peak_in_flight <= 8


async def test_nothing_listening_is_refused_at_once() -> None:
    """ICMP port unreachable (read with IP_RECVERR) fails the request long before its timeout."""
    transport = UdpTransport()
    address = ("127.0.0.80", free_udp_port("127.0.0.80"))
    try:
        request_id = transport.next_id()
        with pytest.raises(SnmpRefused, match=r"nothing listens on udp 127\.0\.0\.80"):
            await asyncio.wait_for(
                transport.request(
                    address, request_id, get_request(request_id), per_try=30.0, tries=1
                ),
                10.0,
            )
        with pytest.raises(SnmpTimeout, match=r"2 tries 0\.01 s apart"):
            silent, _ = await holding_agent("127.0.0.81", 3600)
            where = silent.get_extra_info("sockname")[:2]
            await transport.request(where, 1, get_request(1), per_try=0.01, tries=2)
        silent.close()
    finally:
        await transport.aclose()


async def test_one_request_id_cannot_be_in_flight_twice_to_one_agent() -> None:
    transport = UdpTransport()
    silent, _ = await holding_agent("127.0.0.82", 3600)
    where = silent.get_extra_info("sockname")[:2]
    try:
        first = asyncio.create_task(
            transport.request(where, 7, get_request(7), per_try=30, tries=1)
        )
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already in flight"):
            await transport.request(where, 7, get_request(7), per_try=30, tries=1)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert not transport._pending and not transport.in_flight
    finally:
        await transport.aclose()
        silent.close()


async def test_garbage_answers_are_a_protocol_error_at_once(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(garbage=True)
    # At once: long before the 20 s the request would wait for an answer.
    patient = target(agent, timeout="20s").model_copy(update={"timeout": 30.0})
    result = await asyncio.wait_for(poll(patient, ctx), 10.0)
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
    transport = await shared_transport(ctx)
    assert transport.stats["late_or_unknown"] >= 1


async def test_silent_agent_times_out_with_every_try(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    agent.silent = True
    result = await poll(target(agent, timeout="150ms", retries=2), ctx)
    assert result.reason == "timeout" and "3 tries, 0.15 s each" in result.detail
    assert agent.requests == 0  # the agent saw them, and said nothing


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
    transport = await shared_transport(ctx)
    assert not transport._pending and not transport.in_flight


async def test_a_stray_datagram_from_a_stranger_is_ignored(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent()
    t = target(agent)
    assert (await poll(t, ctx)).success
    transport = await shared_transport(ctx)
    sock = next(iter(transport._sockets.values()))
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
    assert transport.stats["undecodable"] >= 1
