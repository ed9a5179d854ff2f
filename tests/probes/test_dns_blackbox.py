"""The dns probe through blackbox_exporter's own DNS scenarios (prober/dns_test.go), replayed
against servers that answer as its Go handlers do, on loopback over UDP and TCP; then query
class CH, the section regex checks, probe_dns_serial, the phases, and the secondaries' serials
with the shipped DnsSerialMismatch rule in the alert engine.

Names are under ``bbx.lab.`` (blackbox's tests say example.com): nothing here leaves loopback.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import tomli_w

from alerts.engine import AlertEngine
from monitor.config import Target, load_settings
from monitor.lab.dns import start_dns_server
from monitor.runtime.store import Observation, Store
from probes import dns as dns_probe
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.dns import check_records, serial_difference
from probes.options import DnsRecordChecks
from probes.resolve import LOOKUP_KEY, Lookup, hosts_lookup
from tests.support.alerts import sink_server

HOST = "127.0.15.1"
PEERS: list[str] = []  # the client addresses the test servers saw
Handler = Callable[[dns.message.Message], dns.message.Message]


def rr(text: str) -> dns.rrset.RRset:
    name, ttl, rdclass, rdtype, rdata = text.split(None, 4)
    return dns.rrset.from_text(name, int(ttl), rdclass, rdtype, rdata)


def recursive(query: dns.message.Message) -> dns.message.Message:
    """recursiveDNSHandler: REFUSED without RD, else two A records with TTL 3600."""
    reply = dns.message.make_response(query)
    if not query.flags & dns.flags.RD:
        reply.set_rcode(dns.rcode.REFUSED)
    else:
        answer = rr("bbx.lab. 3600 IN A 127.0.0.1")
        answer.add(rr("bbx.lab. 3600 IN A 127.0.0.2")[0])
        reply.answer.append(answer)
    return reply


def authoritative(query: dns.message.Message) -> dns.message.Message:
    """authoritativeDNSHandler: SOA, CH TXT or A; NS in authority, glue in additional."""
    reply = dns.message.make_response(query)
    question = query.question[0]
    if question.rdtype == dns.rdatatype.SOA:
        reply.answer.append(
            rr("bbx.lab. 3600 IN SOA ns.bbx.lab. noc.bbx.lab. 1000 7200 3600 1209600 3600")
        )
    elif question.rdclass == dns.rdataclass.CH and question.rdtype == dns.rdatatype.TXT:
        reply.answer.append(rr('bbx.lab. 3600 CH TXT "goCHAOS"'))
    else:
        reply.answer.append(rr("bbx.lab. 3600 IN A 127.0.0.1"))
    ns = rr("bbx.lab. 7200 IN NS ns1.isp.lab.")
    ns.add(rr("bbx.lab. 7200 IN NS ns2.isp.lab.")[0])
    reply.authority.append(ns)
    reply.additional += [
        rr("ns1.isp.lab. 7200 IN A 127.0.0.1"),
        rr("ns1.isp.lab. 7200 IN AAAA ::1"),
        rr("ns2.isp.lab. 7200 IN A 127.0.0.2"),
    ]
    return reply


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.transport is not None
        PEERS.append(addr[0])
        reply = self.handler(dns.message.from_wire(data))
        self.transport.sendto(reply.to_wire(), addr)


async def _tcp(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    PEERS.append(writer.get_extra_info("peername")[0])
    try:
        while True:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            wire = handler(dns.message.from_wire(await reader.readexactly(size))).to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


class Server:
    """A handler answering on one UDP and one TCP port of HOST."""

    def __init__(self) -> None:
        self.udp_port = self.tcp_port = 0
        self._closers: list[Callable[[], Any]] = []

    async def start(self, handler: Handler) -> Server:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(handler), local_addr=(HOST, 0)
        )
        self.udp_port = transport.get_extra_info("sockname")[1]
        self._closers.append(transport.close)
        tcp = await asyncio.start_server(lambda r, w: _tcp(handler, r, w), HOST, 0)
        self.tcp_port = tcp.sockets[0].getsockname()[1]
        self._closers.append(tcp.close)
        return self

    def port(self, transport: str) -> int:
        return self.udp_port if transport == "udp" else self.tcp_port

    def close(self) -> None:
        for close in self._closers:
            close()


@pytest.fixture
async def recursive_server() -> AsyncIterator[Server]:
    server = await Server().start(recursive)
    yield server
    server.close()


@pytest.fixture
async def authoritative_server() -> AsyncIterator[Server]:
    server = await Server().start(authoritative)
    yield server
    server.close()


def target(port: int, transport: str, **dns_options: Any) -> Target:
    options = {"query": "bbx.lab", "port": port, "transport": transport, **dns_options}
    return Target.model_validate({"name": "dns-bbx", "kind": "dns", "host": HOST, "dns": options})


def values(result: ProbeResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in result.samples:
        out["/".join([s.name, *(v for _, v in s.labels)])] = s.value
    return out


async def run(t: Target, ctx: ProbeContext) -> ProbeResult:
    async with asyncio.timeout(5):
        return await dns_probe.probe(t, ctx)


# TestRecursiveDNSResponse: (options, should succeed). ValidRcodes [SERVFAIL, NXDOMAIN] is
# netmon's single expect_rcode: NXDOMAIN (a NOERROR answer fails either way).
RECURSIVE: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"expect_rcode": "NXDOMAIN"}, False),
    (
        {
            "validate_answer_rrs": {
                "fail_if_matches_regexp": [".*7200.*"],
                "fail_if_not_matches_regexp": [".*3600.*"],
            }
        },
        True,
    ),
    ({"validate_authority_rrs": {"fail_if_matches_regexp": [".*7200.*"]}}, True),
    ({"validate_additional_rrs": {"fail_if_not_matches_regexp": [".*3600.*"]}}, False),
    ({"recursion_desired": False}, False),
]

# TestAuthoritativeDNSResponse (blackbox's default query type is ANY; its handler answers A
# to anything but SOA and CH TXT, so type A asks the same).
AUTHORITATIVE: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"type": "SOA"}, True),
    (
        {
            "query_class": "CH",
            "type": "TXT",
            "validate_answer_rrs": {
                "fail_if_matches_regexp": [".*IN.*"],
                "fail_if_not_matches_regexp": [".*CH.*"],
            },
        },
        True,
    ),
    ({"expect_rcode": "NXDOMAIN"}, False),
    (
        {
            "validate_answer_rrs": {
                "fail_if_matches_regexp": [".*3600.*"],
                "fail_if_not_matches_regexp": [".*3600.*"],
            }
        },
        False,
    ),
    (
        {
            "validate_answer_rrs": {
                "fail_if_matches_regexp": [".*7200.*"],
                "fail_if_not_matches_regexp": [".*7200.*"],
            }
        },
        False,
    ),
    ({"validate_authority_rrs": {"fail_if_not_matches_regexp": ["ns.*.isp.lab"]}}, True),
    ({"validate_additional_rrs": {"fail_if_not_matches_regexp": ["^ns.*.isp"]}}, True),
    ({"validate_additional_rrs": {"fail_if_matches_regexp": ["^ns.*.isp"]}}, False),
    ({"validate_additional_rrs": {"fail_if_all_match_regexp": [".*127.0.0.*"]}}, False),
    ({"validate_additional_rrs": {"fail_if_none_matches_regexp": [".*127.0.0.3.*"]}}, False),
]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_blackbox_recursive_scenarios(
    recursive_server: Server, ctx: ProbeContext, transport: str
) -> None:
    agree = 0
    for options, should in RECURSIVE:
        result = await run(target(recursive_server.port(transport), transport, **options), ctx)
        assert result.success is should, (options, result.detail)
        got = values(result)
        # blackbox's expected registry results for every case
        assert got["probe_dns_query_succeeded"] == 1
        assert got["probe_dns_answer_rrs"] == (2 if options.get("recursion_desired", True) else 0)
        assert got["probe_dns_authority_rrs"] == 0 and got["probe_dns_additional_rrs"] == 0
        agree += 1
    assert agree == len(RECURSIVE) == 6


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_blackbox_authoritative_scenarios(
    authoritative_server: Server, ctx: ProbeContext, transport: str
) -> None:
    for options, should in AUTHORITATIVE:
        result = await run(target(authoritative_server.port(transport), transport, **options), ctx)
        assert result.success is should, (options, result.detail)
        got = values(result)
        assert got["probe_dns_query_succeeded"] == 1
        assert got["probe_dns_answer_rrs"] == 1
        assert got["probe_dns_authority_rrs"] == 2
        assert got["probe_dns_additional_rrs"] == 3
        if options.get("type") == "SOA":
            assert got["probe_dns_serial"] == 1000
        else:
            assert "probe_dns_serial" not in got
        if not should and "expect_rcode" not in options:
            assert result.reason == "answer"
            assert "section" in result.detail and "regexp" in result.detail


async def test_failed_query_reports_not_succeeded_and_its_phases(ctx: ProbeContext) -> None:
    # A UDP port nobody listens on: refused (ICMP port unreachable on a connected socket).
    server = await Server().start(recursive)
    port = server.udp_port
    server.close()
    await asyncio.sleep(0.05)
    result = await run(target(port, "udp"), ctx)
    assert result.reason == "refused", result.detail
    got = values(result)
    assert got["probe_dns_query_succeeded"] == 0
    assert {"resolve", "connect", "request"} <= {
        k.split("/")[1] for k in got if k.startswith("probe_dns_duration_seconds/")
    }
    assert got["probe_ip_protocol"] == 4


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_phases_and_address_samples(
    authoritative_server: Server, ctx: ProbeContext, transport: str
) -> None:
    result = await run(target(authoritative_server.port(transport), transport), ctx)
    got = values(result)
    connect = got["probe_dns_duration_seconds/connect"]
    request = got["probe_dns_duration_seconds/request"]
    assert got["probe_dns_duration_seconds/resolve"] >= 0  # an IP literal: nothing looked up
    assert 0 <= connect < 1 and 0 < request < 1
    assert got["probe_dns_lookup_time_seconds"] >= request
    assert got["probe_ip_protocol"] == 4
    # blackbox's ipHash of 127.0.15.1: FNV-1a 32 over its 4 bytes
    h = 0x811C9DC5
    for byte in (127, 0, 15, 1):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    assert got["probe_ip_addr_hash"] == h


def test_record_checks_on_blackbox_text() -> None:
    texts = ["bbx.lab.\t3600\tIN\tA\t127.0.0.1", "bbx.lab.\t3600\tIN\tA\t127.0.0.2"]
    assert check_records(texts, DnsRecordChecks()) is None
    # blackbox's fail_if_all_match_regexp fails unless every record matches (its code and
    # its tests; its README words it the other way round)
    every = DnsRecordChecks(fail_if_all_match_regexp=[r"^bbx\.lab\.\t3600\tIN\tA\t"])
    assert check_records(texts, every) is None
    some = DnsRecordChecks(fail_if_all_match_regexp=[r"127\.0\.0\.1$"])
    assert "127.0.0.2" in (check_records(texts, some) or "")
    assert "no records" in (
        check_records([], DnsRecordChecks(fail_if_none_matches_regexp=["x"])) or ""
    )
    # fail_if_matches on an empty section passes, as blackbox's
    assert check_records([], DnsRecordChecks(fail_if_matches_regexp=["x"])) is None


def test_serial_arithmetic() -> None:
    assert serial_difference(2025101402, 2025101401) == 1
    assert serial_difference(2025101401, 2025101402) == -1
    assert serial_difference(3, 0xFFFFFFFE) == 5  # across the wrap: the secondary is behind
    assert serial_difference(7, 7) == 0


def test_bad_settings_name_their_key() -> None:
    from pydantic import ValidationError

    bad: list[tuple[dict[str, Any], str]] = [
        ({"validate_answer_rrs": {"fail_if_matches_regexp": ["("]}}, "fail_if_matches_regexp"),
        ({"query_class": "HS"}, "query_class"),
        ({"secondaries": ["127.0.0.1"]}, "type must be SOA"),
        ({"preferred_ip_protocol": "ip5"}, "preferred_ip_protocol"),
    ]
    for options, key in bad:
        with pytest.raises(ValidationError, match=key):
            target(53, "udp", **options)


# --------------------------------------------------------------------------- secondaries

ZONE = {
    ("zone.lab.", "SOA"): ["ns1.zone.lab. noc.zone.lab. 2025101401 3600 600 86400 60"],
    ("zone.lab.", "A"): ["127.0.1.1"],
}
PRIMARY, SECOND, THIRD = "127.0.15.2", "127.0.15.3", "127.0.15.4"


def soa(serial: int) -> list[str]:
    return [f"ns1.zone.lab. noc.zone.lab. {serial} 3600 600 86400 60"]


async def test_secondaries_serials_and_the_mismatch_rule(ctx: ProbeContext, tmp_path: Path) -> None:
    primary = await start_dns_server(PRIMARY, 0, ZONE)
    port = primary.port  # the secondaries answer on the same port, as in a real zone
    servers = [primary] + [await start_dns_server(host, port, ZONE) for host in (SECOND, THIRD)]
    _, second, third = servers
    options = {"query": "zone.lab", "type": "SOA", "port": port, "secondaries": [SECOND, THIRD]}
    doc = {
        "server": {"state_dir": str(tmp_path / "state")},
        "targets": [{"name": "dns-zone", "kind": "dns", "host": PRIMARY, "dns": options}],
    }
    async with sink_server() as sink:
        doc["alerts"] = {
            "receivers": {"noc": {"type": "webhook", "url": sink.url}},
            "routes": [{"match": {"severity": ["warning"]}, "receivers": ["noc"]}],
        }
        path = tmp_path / "s.toml"
        path.write_text(tomli_w.dumps(doc))
        settings = load_settings(path)
        store = Store()
        store.set_targets(settings.targets)
        engine = AlertEngine(settings, store)
        await engine.start()
        t0 = 1_760_000_000.0
        try:

            async def probe_at(minute: float) -> ProbeResult:
                result = await run(settings.targets[0], ctx)
                store.record("dns-zone", Observation(result, t0 + minute * 60, 0.01))
                return result

            def mismatch() -> dict[str, str]:
                return {
                    a["labels"]["server"]: a["state"]
                    for a in engine.alerts_json()
                    if a["rule"] == "DnsSerialMismatch"
                }

            result = await probe_at(0)
            assert result.success, result.detail
            got = values(result)
            assert got["probe_dns_serial"] == 2025101401
            assert got[f"probe_dns_secondary_serial/{SECOND}"] == 2025101401
            assert got[f"probe_dns_serial_difference/{THIRD}"] == 0
            assert "2 secondaries in step" in result.detail
            assert mismatch() == {}

            # The primary takes an update; one secondary follows, the other does not.
            primary.set("zone.lab.", "SOA", soa(2025101403))
            second.set("zone.lab.", "SOA", soa(2025101403))
            result = await probe_at(1)
            assert result.success, result.detail  # a lagging secondary is the rule's, not down
            got = values(result)
            assert got[f"probe_dns_serial_difference/{SECOND}"] == 0
            assert got[f"probe_dns_serial_difference/{THIRD}"] == 2
            assert f"out of step: {THIRD} has 2025101401" in result.detail
            assert mismatch() == {THIRD: "pending"}
            # Shorter than the rule's 30 minutes: still pending; past them: firing.
            await probe_at(20)
            assert mismatch() == {THIRD: "pending"}
            await probe_at(32)
            assert mismatch() == {THIRD: "firing"}
            alert = next(a for a in engine.alerts_json() if a["rule"] == "DnsSerialMismatch")
            assert alert["annotations"]["summary_vi"].endswith(
                f"máy chủ DNS phụ {THIRD} lệch số serial với máy chủ chính (2)"
            ), alert["annotations"]["summary_vi"]
            assert THIRD in alert["annotations"]["summary_en"]
            assert alert["annotations"]["evidence_vi"] == (
                "máy chủ chính có serial 2025101403, máy chủ phụ lệch 2"
            )
            assert alert["annotations"]["evidence_en"] == (
                "the primary's serial is 2025101403, the secondary is 2 behind"
            )
            # The transfer happens: resolved.
            third.set("zone.lab.", "SOA", soa(2025101403))
            await probe_at(33)
            assert mismatch() == {}

            # A secondary that does not answer fails the probe with its own reason.
            await third.close()
            result = await probe_at(34)
            assert result.reason == "secondary", result.detail
            assert THIRD in result.detail
        finally:
            await engine.aclose()
            for srv in servers:
                await srv.close()


# --------------------------------------------------------------------------- TestDNSProtocol


async def test_blackbox_dns_protocol(ctx: ProbeContext) -> None:
    """TestDNSProtocol: a server name with both families, each preference, over UDP and TCP.
    blackbox's default preference is ip6; netmon's is ip4 (a documented difference)."""
    table = {"dual.lab": ["127.0.15.1", "::1"]}

    async def nothing() -> None:
        return None

    async def install() -> tuple[Lookup, Any]:
        return hosts_lookup(table), nothing

    await ctx.shared(LOOKUP_KEY, install)
    records = {("bbx.lab.", "A"): ["127.0.0.1", "127.0.0.2"]}
    v4 = await start_dns_server(HOST, 0, records)
    v6 = await start_dns_server("::1", v4.port, records)
    try:
        for transport in ("udp", "tcp"):
            for preference, protocol in (({"preferred_ip_protocol": "ip6"}, 6), ({}, 4)):
                options = {"query": "bbx.lab", "port": v4.port, "transport": transport}
                t = Target.model_validate(
                    {"name": "d", "kind": "dns", "host": "dual.lab", "dns": options | preference}
                )
                result = await run(t, ctx)
                assert result.success, (transport, preference, result.detail)
                assert values(result)["probe_ip_protocol"] == protocol
    finally:
        await v4.close()
        await v6.close()


def servfail(query: dns.message.Message) -> dns.message.Message:
    """miekg's dns.HandleFailed: SERVFAIL to everything."""
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.SERVFAIL)
    return reply


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_blackbox_servfail_and_metric_names(ctx: ProbeContext, transport: str) -> None:
    """TestServfailDNSResponse (its two invalid-name cases are settings errors here, exit 2:
    test_bad_settings_name_their_key) and TestDNSMetrics' names."""
    server = await Server().start(servfail)
    try:
        port = server.port(transport)
        failed = await run(target(port, transport), ctx)
        accepted = await run(target(port, transport, expect_rcode="SERVFAIL"), ctx)
    finally:
        server.close()
    assert failed.reason == "rcode" and "SERVFAIL" in failed.detail
    assert accepted.success, accepted.detail
    names = {s.name for s in accepted.samples}
    assert {
        "probe_dns_lookup_time_seconds",
        "probe_dns_duration_seconds",
        "probe_dns_answer_rrs",
        "probe_dns_authority_rrs",
        "probe_dns_additional_rrs",
        "probe_dns_query_succeeded",
        "probe_ip_protocol",
        "probe_ip_addr_hash",
    } <= names
    phases = {s.labels for s in accepted.samples if s.name == "probe_dns_duration_seconds"}
    assert phases == {(("phase", p),) for p in ("resolve", "connect", "request")}
    with pytest.raises(ValueError, match="type"):
        target(53, transport, type="NOT_A_VALID_QUERY_TYPE")
    with pytest.raises(ValueError, match="expect_rcode"):
        target(53, transport, expect_rcode="NOT_A_VALID_RCODE")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_source_ip_address(
    authoritative_server: Server, ctx: ProbeContext, transport: str
) -> None:
    PEERS.clear()
    port = authoritative_server.port(transport)
    result = await run(target(port, transport, source_ip_address="127.0.15.9"), ctx)
    assert result.success, result.detail
    assert PEERS == ["127.0.15.9"]
    result = await run(target(port, transport, source_ip_address="127.0.15.10"), ctx)
    assert PEERS[-1] == "127.0.15.10"
