"""probes/resolve.py: preferred_ip_protocol, ip_protocol_fallback, probe_ip_protocol and
probe_ip_addr_hash for every kind that resolves a name, with names from a hosts table the test
controls (no DNS) and addresses on loopback (127.0.15.x, ::1)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from monitor.config import Target
from monitor.lab.dns import start_dns_server
from probes import dns as dns_probe
from probes import icmp
from probes.context import ProbeContext
from probes.resolve import (
    LOOKUP_KEY,
    Lookup,
    ResolveError,
    hosts_lookup,
    ip_addr_hash,
    resolve,
    system_lookup,
)

TABLE = {
    "dual.lab": ["127.0.15.8", "::1"],
    "v6.lab": ["::1"],
    "v4.lab": ["127.0.15.8"],
    "dns.lab": ["127.0.15.8"],
}


@pytest.fixture
async def hosts(ctx: ProbeContext) -> AsyncIterator[ProbeContext]:
    async def nothing() -> None:
        return None

    async def install() -> tuple[Lookup, Any]:
        return hosts_lookup(TABLE), nothing

    await ctx.shared(LOOKUP_KEY, install)
    yield ctx


def test_ip_addr_hash_is_blackbox_fnv1a() -> None:
    # FNV-1a 32 of the address bytes (blackbox's ipHash), computed by hand for two addresses
    def fnv(data: bytes) -> float:
        h = 0x811C9DC5
        for b in data:
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
        return float(h)

    assert ip_addr_hash("127.0.0.1") == fnv(bytes([127, 0, 0, 1]))
    assert ip_addr_hash("::1") == fnv(bytes(15) + b"\x01")
    assert ip_addr_hash("127.0.0.1") != ip_addr_hash("127.0.0.2")


@pytest.mark.parametrize(
    ("host", "preferred", "fallback", "address", "fell_back"),
    [
        ("dual.lab", "ip4", True, "127.0.15.8", False),
        ("dual.lab", "ip6", True, "::1", False),
        ("dual.lab", "ip6", False, "::1", False),
        ("v6.lab", "ip4", True, "::1", True),
        ("v4.lab", "ip6", True, "127.0.15.8", True),
        ("::1", "ip4", False, "::1", False),  # a literal is its own family
        ("[::1]", "ip4", False, "::1", False),
        ("127.0.15.8", "ip6", False, "127.0.15.8", False),
    ],
)
async def test_choice(
    hosts: ProbeContext, host: str, preferred: str, fallback: bool, address: str, fell_back: bool
) -> None:
    got = await resolve(hosts, host, preferred, fallback)
    assert (got.address, got.fell_back) == (address, fell_back)
    assert got.family == (socket.AF_INET6 if ":" in address else socket.AF_INET)
    values = {s.name: s.value for s in got.samples}
    assert values == {
        "probe_ip_protocol": 6.0 if ":" in address else 4.0,
        "probe_ip_addr_hash": ip_addr_hash(address),
    }


async def test_no_address_of_the_family_without_fallback(hosts: ProbeContext) -> None:
    with pytest.raises(ResolveError, match=r"no IPv4 address .*ip_protocol_fallback is off"):
        await resolve(hosts, "v6.lab", "ip4", False)
    with pytest.raises(ResolveError, match=r"nowhere\.lab did not resolve"):
        await resolve(hosts, "nowhere.lab", "ip4", True)


async def test_system_lookup_reads_the_hosts_file() -> None:
    assert "127.0.0.1" in await system_lookup("localhost")


def icmp_target(host: str, **options: Any) -> Target:
    options = {"count": 2, "spacing": "10ms", **options}
    return Target.model_validate({"name": "t", "kind": "icmp", "host": host, "icmp": options})


async def test_icmp_follows_the_choice(hosts: ProbeContext) -> None:
    for host, options, protocol in [
        ("v6.lab", {}, 6),  # netmon prefers IPv4 and falls back
        ("dual.lab", {"preferred_ip_protocol": "ip6"}, 6),
        ("dual.lab", {}, 4),
        ("dual.lab", {"ip_protocol": "ip6"}, 6),  # the older key
    ]:
        result = await icmp.probe(icmp_target(host, **options), hosts)
        if result.reason == "icmp_not_permitted":
            pytest.skip("needs root or ping sockets (net.ipv4.ping_group_range)")
        assert result.success, (host, options, result.detail)
        assert {s.name: s.value for s in result.samples}["probe_ip_protocol"] == protocol
    # The older ip_protocol key never fell back: an IPv6-only name fails as before.
    result = await icmp.probe(icmp_target("v6.lab", ip_protocol="ip4"), hosts)
    assert result.reason == "dns" and "no IPv4 address" in result.detail


async def test_dns_server_by_name(hosts: ProbeContext) -> None:
    server = await start_dns_server("127.0.15.8", 0, {("daklak.lab.", "A"): ["127.0.1.1"]})
    try:
        options = {"port": server.port, "query": "daklak.lab", "expect": ["127.0.1.1"]}
        t = Target.model_validate({"name": "d", "kind": "dns", "host": "dns.lab", "dns": options})
        result = await dns_probe.probe(t, hosts)
        assert result.success, result.detail
        got = {"/".join([s.name, *(v for _, v in s.labels)]): s.value for s in result.samples}
        assert got["probe_ip_protocol"] == 4
        assert got["probe_dns_duration_seconds/resolve"] > 0
        v6 = {**options, "preferred_ip_protocol": "ip6", "ip_protocol_fallback": False}
        t = Target.model_validate({"name": "d", "kind": "dns", "host": "dns.lab", "dns": v6})
        result = await dns_probe.probe(t, hosts)
        assert result.reason == "dns" and "no IPv6 address" in result.detail
    finally:
        await server.close()
