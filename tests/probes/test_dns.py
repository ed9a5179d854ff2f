"""The dns probe against the lab's loopback DNS responder (monitor/lab/dns.py)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from monitor.config import Target
from monitor.lab.dns import DnsServer, start_dns_server
from probes import dns as dns_probe
from probes.base import ProbeResult
from probes.context import ProbeContext

HOST = "127.0.0.61"
CONGRESS = "Đại hội Đảng bộ tỉnh lần thứ XVIII"

RECORDS: dict[tuple[str, str], list[str]] = {
    ("lab.", "SOA"): ["ns.lab. noc.lab. 2025101401 3600 600 86400 60"],
    ("daklak.lab.", "A"): ["127.0.1.1"],
    ("multi.lab.", "A"): ["127.0.1.2", "127.0.1.3"],
    ("www.lab.", "CNAME"): ["daklak.lab."],
    ("daklak.lab.", "AAAA"): ["fd00:0:0:0::1"],
    ("daklak.lab.", "MX"): ["10 Mail.Daklak.lab.", "20 mail2.daklak.lab."],
    ("daklak.lab.", "TXT"): [f'"{CONGRESS}"', '"v=spf1 -all"'],
    ("big.lab.", "A"): [f"10.61.0.{i}" for i in range(1, 61)],
}


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    srv = await start_dns_server(HOST, 0, RECORDS)
    try:
        yield srv
    finally:
        await srv.close()


def target(host: str, port: int, **dns_options: Any) -> Target:
    return Target.model_validate(
        {
            "name": "dns-test",
            "kind": "dns",
            "host": host,
            "dns": {"port": port, **dns_options},
        }
    )


def samples(result: ProbeResult) -> dict[str, float]:
    return {s.name: s.value for s in result.samples}


async def run(t: Target, ctx: ProbeContext, limit: float = 5.0) -> ProbeResult:
    async with asyncio.timeout(limit):
        return await dns_probe.probe(t, ctx)


def open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


# --------------------------------------------------------------------------- the responder


async def test_responder_answers_udp_and_tcp_on_one_port(server: DnsServer) -> None:
    assert server.port > 0
    query = dns.message.make_query("DakLak.lab", "A")
    udp = await dns.asyncquery.udp(query, HOST, port=server.port, timeout=2)
    tcp = await dns.asyncquery.tcp(query, HOST, port=server.port, timeout=2)
    for response in (udp, tcp):
        assert response.flags & dns.flags.AA
        assert response.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in response.answer[0]] == ["127.0.1.1"]


async def test_responder_negative_answers_and_cname(server: DnsServer) -> None:
    async def ask(name: str, rdtype: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        return await dns.asyncquery.udp(query, HOST, port=server.port, timeout=2)

    nx = await ask("nothere.lab", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority and nx.authority[0].rdtype == dns.rdatatype.SOA
    nodata = await ask("multi.lab", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    outside = await ask("example.org", "A")
    assert outside.rcode() == dns.rcode.REFUSED
    chained = await ask("www.lab", "A")
    assert [r.rdtype for r in chained.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    big = await ask("big.lab", "A")
    assert big.flags & dns.flags.TC and not big.answer


async def test_responder_rejects_bad_rdata_before_changing(server: DnsServer) -> None:
    with pytest.raises(dns.exception.DNSException):
        server.set("daklak.lab.", "A", ["not-an-address"])
    assert server.zone.records[("daklak.lab.", "A")] == ["127.0.1.1"]
    with pytest.raises(ValueError, match="unknown mode"):
        server.set_mode("broken")  # type: ignore[arg-type]


async def test_responder_close_drops_open_tcp_connections() -> None:
    before = open_fds()
    srv = await start_dns_server("127.0.0.62", 0, RECORDS)
    srv.set_mode("silent")
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    query = dns.message.make_query("daklak.lab", "A").to_wire(prepend_length=True)
    writer.write(query)
    await writer.drain()
    await asyncio.sleep(0.05)  # let the server read the query (unread data would mean an RST)
    await srv.close()
    assert await asyncio.wait_for(reader.read(), 2) == b""  # the server closed it
    writer.close()
    await writer.wait_closed()
    assert open_fds() == before


# --------------------------------------------------------------------------- the probe


async def test_answer_matches(server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(target(HOST, server.port, query="daklak.lab", expect=["127.0.1.1"]), ctx)
    assert result.success, result.detail
    assert result.reason is None
    got = samples(result)
    assert got["probe_dns_answer_match"] == 1
    assert got["probe_dns_rcode"] == 0
    assert got["probe_dns_answer_rrs"] == 1
    assert 0 < got["probe_dns_lookup_time_seconds"] < 1
    assert result.detail.startswith("A daklak.lab. → 127.0.1.1 in ")
    assert result.detail.endswith("(NOERROR)")


async def test_answer_set_compared_as_a_set(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(HOST, server.port, query="multi.lab", expect=["127.0.1.3", "127.0.1.2"])
    result = await run(t, ctx)
    assert result.success, result.detail
    assert samples(result)["probe_dns_answer_rrs"] == 2
    # One of two is not the set.
    partial = await run(target(HOST, server.port, query="multi.lab", expect=["127.0.1.2"]), ctx)
    assert not partial.success and partial.reason == "answer"


async def test_no_expect_any_answer_succeeds(server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(target(HOST, server.port, query="multi.lab"), ctx)
    assert result.success, result.detail
    assert "probe_dns_answer_match" not in samples(result)


async def test_answer_differs(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(HOST, server.port, query="daklak.lab", expect=["127.0.1.9"])
    result = await run(t, ctx)
    assert not result.success
    assert result.reason == "answer"
    assert samples(result)["probe_dns_answer_match"] == 0
    assert "127.0.1.1" in result.detail and "expected 127.0.1.9" in result.detail


async def test_answer_changed_live(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(HOST, server.port, query="daklak.lab", expect=["127.0.1.1"])
    assert (await run(t, ctx)).success
    server.set("daklak.lab.", "A", ["203.0.113.66"])
    changed = await run(t, ctx)
    assert not changed.success and changed.reason == "answer"
    assert "203.0.113.66" in changed.detail
    server.set("daklak.lab.", "A", ["127.0.1.1"])
    assert (await run(t, ctx)).success


async def test_nxdomain_when_noerror_expected(server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(target(HOST, server.port, query="nothere.lab"), ctx)
    assert not result.success
    assert result.reason == "rcode"
    assert "NXDOMAIN" in result.detail and "expected NOERROR" in result.detail
    got = samples(result)
    assert got["probe_dns_rcode"] == dns.rcode.NXDOMAIN
    assert got["probe_dns_answer_rrs"] == 0
    assert got["probe_dns_authority_rrs"] == 1


async def test_nxdomain_expected(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(HOST, server.port, query="nothere.lab", expect_rcode="NXDOMAIN")
    result = await run(t, ctx)
    assert result.success, result.detail
    assert "(NXDOMAIN)" in result.detail


async def test_servfail(server: DnsServer, ctx: ProbeContext) -> None:
    server.set_mode("servfail")
    result = await run(target(HOST, server.port, query="daklak.lab"), ctx)
    assert not result.success
    assert result.reason == "rcode"
    assert "SERVFAIL" in result.detail
    assert samples(result)["probe_dns_rcode"] == dns.rcode.SERVFAIL
    server.set_mode("normal")
    assert (await run(target(HOST, server.port, query="daklak.lab"), ctx)).success


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_silent_server_is_cut_by_the_outer_timeout(
    server: DnsServer, ctx: ProbeContext, transport: str
) -> None:
    server.set_mode("silent")
    t = target(HOST, server.port, query="daklak.lab", transport=transport)
    before = open_fds()
    task = asyncio.create_task(run(t, ctx, limit=0.3))
    with pytest.raises(TimeoutError):
        await task
    await asyncio.sleep(0.01)  # transports close on the loop's next turn
    assert open_fds() == before  # the probe's socket is closed


async def test_probe_cancelled_propagates(server: DnsServer, ctx: ProbeContext) -> None:
    server.set_mode("silent")
    task = asyncio.create_task(dns_probe.probe(target(HOST, server.port, query="daklak.lab"), ctx))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_garbage_reply(server: DnsServer, ctx: ProbeContext, transport: str) -> None:
    server.set_mode("garbage")
    result = await run(target(HOST, server.port, query="daklak.lab", transport=transport), ctx)
    assert not result.success
    assert result.reason == "protocol", result.detail
    assert "malformed" in result.detail


async def test_reply_with_wrong_id_is_protocol(ctx: ProbeContext) -> None:
    """A reply that is not the answer to our query (id mismatch)."""

    class WrongId(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            response = dns.message.make_response(dns.message.from_wire(data))
            response.id = (response.id + 1) % 65536
            self.transport.sendto(response.to_wire(), addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(WrongId, local_addr=("127.0.0.63", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        result = await run(target("127.0.0.63", port, query="daklak.lab"), ctx)
    finally:
        transport.close()
    assert not result.success
    assert result.reason == "protocol", result.detail


async def test_tcp_transport(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(HOST, server.port, query="daklak.lab", transport="tcp", expect=["127.0.1.1"])
    result = await run(t, ctx)
    assert result.success, result.detail
    assert "over TCP" in result.detail


async def test_truncated_udp_answer_is_retried_over_tcp(
    server: DnsServer, ctx: ProbeContext
) -> None:
    expect = [f"10.61.0.{i}" for i in range(1, 61)]
    result = await run(target(HOST, server.port, query="big.lab", expect=expect), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_dns_answer_rrs"] == 60
    assert "TCP after a truncated UDP answer" in result.detail
    assert len(result.detail) < 300


async def test_closed_udp_port_is_refused(ctx: ProbeContext) -> None:
    # Linux answers a datagram to a closed port with ICMP port unreachable, which a connected
    # UDP socket reports as ECONNREFUSED.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_port:
        probe_port.bind(("127.0.0.64", 0))
        port = probe_port.getsockname()[1]
    result = await run(target("127.0.0.64", port, query="daklak.lab"), ctx, limit=2)
    assert not result.success
    assert result.reason == "refused", result.detail


async def test_closed_tcp_port_is_refused(ctx: ProbeContext) -> None:
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.64", 0))
        port = probe_port.getsockname()[1]
    t = target("127.0.0.64", port, query="daklak.lab", transport="tcp")
    result = await run(t, ctx, limit=2)
    assert not result.success
    assert result.reason == "refused", result.detail


async def test_unresolvable_server_name(ctx: ProbeContext) -> None:
    result = await run(target("no-such-host.invalid", 53, query="daklak.lab"), ctx)
    assert not result.success
    assert result.reason == "dns", result.detail


async def test_aaaa(server: DnsServer, ctx: ProbeContext) -> None:
    # Written another way than the zone has it: compared as addresses.
    t = target(HOST, server.port, query="daklak.lab", type="AAAA", expect=["FD00::1"])
    result = await run(t, ctx)
    assert result.success, result.detail
    assert "fd00::1" in result.detail


async def test_mx_names_case_and_trailing_dots(server: DnsServer, ctx: ProbeContext) -> None:
    expect = ["10 mail.daklak.lab", "20 MAIL2.daklak.lab."]
    result = await run(target(HOST, server.port, query="daklak.lab", type="MX", expect=expect), ctx)
    assert result.success, result.detail
    wrong = await run(
        target(HOST, server.port, query="daklak.lab", type="MX", expect=["10 mail.daklak.lab"]),
        ctx,
    )
    assert wrong.reason == "answer"


async def test_cname_chain_answers_the_asked_type(server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(target(HOST, server.port, query="www.lab", expect=["127.0.1.1"]), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_dns_answer_rrs"] == 2  # the CNAME and the A
    cname = await run(
        target(HOST, server.port, query="www.lab", type="CNAME", expect=["daklak.lab"]), ctx
    )
    assert cname.success, cname.detail


async def test_txt_vietnamese(server: DnsServer, ctx: ProbeContext) -> None:
    t = target(
        HOST, server.port, query="daklak.lab", type="TXT", expect=[CONGRESS, '"v=spf1 -all"']
    )
    result = await run(t, ctx)
    assert result.success, result.detail
    assert CONGRESS in result.detail  # decoded, not \DDD escapes
    # A changed TXT value is caught, and shown readably.
    server.set("daklak.lab.", "TXT", ['"Đại hội Đảng bộ tỉnh lần thứ XIX"', '"v=spf1 -all"'])
    changed = await run(t, ctx)
    assert not changed.success and changed.reason == "answer"
    assert "lần thứ XIX" in changed.detail


async def test_recursion_desired_flag(server: DnsServer, ctx: ProbeContext) -> None:
    seen: list[int] = []
    original = server._reply

    def spy(wire: bytes, *, udp: bool) -> bytes | None:
        seen.append(dns.message.from_wire(wire).flags)
        return original(wire, udp=udp)

    server._reply = spy  # type: ignore[method-assign]
    await run(target(HOST, server.port, query="daklak.lab"), ctx)
    await run(target(HOST, server.port, query="daklak.lab", recursion_desired=False), ctx)
    assert seen[0] & dns.flags.RD
    assert not seen[1] & dns.flags.RD


async def test_ipv6_server(ctx: ProbeContext) -> None:
    srv = await start_dns_server("::1", 0, RECORDS)
    try:
        for transport in ("udp", "tcp"):
            t = target("::1", srv.port, query="daklak.lab", transport=transport)
            result = await run(t, ctx)
            assert result.success, result.detail
    finally:
        await srv.close()
