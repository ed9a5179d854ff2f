"""ICMP dont_fragment, ttl and source_ip_address on a real path: three network namespaces made
here, A — R — B, where the link R—B has an MTU of 1280 (a carrier link narrower than the LAN):

    A 10.215.0.1 (10.215.9.1 on lo) ═ 1500 ═ 10.215.0.2 R 10.215.1.2 ═ 1280 ═ 10.215.1.1 B

The probe runs in A (as root: a raw socket) or in B. Echoes above 1280 bytes with DF set meet R's
"fragmentation needed" (the MTU black hole of a carrier link), or the kernel's own "message too
long" once the path MTU is known or when the narrow link is the sender's own; without DF, or
below the MTU, they pass. TTL 1 dies at R. A source address B has no route back to is never
answered. The same path carries IPv6 (R answers "packet too big"). Root only: skipped, with the
reason, where namespaces cannot be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.common import REPO

TAG = f"h5{os.getpid() % 100000}"
A, R, B = f"{TAG}a", f"{TAG}r", f"{TAG}b"

_SCRIPT = """
import asyncio, json, sys
from monitor.config import Target
from probes.context import ProbeContext
from probes.icmp import probe

async def main():
    ctx = ProbeContext()
    out = []
    try:
        for host, options in json.loads(sys.argv[1]):
            t = Target.model_validate({"name": "t", "kind": "icmp", "host": host,
                                       "icmp": {"count": 3, "spacing": "20ms", **options}})
            r = await probe(t, ctx)
            out.append({"success": r.success, "reason": r.reason, "detail": r.detail,
                        "samples": {s.name: s.value for s in r.samples if not s.labels}})
    finally:
        await ctx.aclose()
    print(json.dumps(out))

asyncio.run(main())
"""


def _sh(*commands: str) -> None:
    for command in commands:
        subprocess.run(command, shell=True, check=True, capture_output=True, timeout=30)


def _cannot() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    probe = f"{TAG}x"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


@pytest.fixture(scope="module")
def path() -> Iterator[None]:
    why = _cannot()
    if why is not None:
        pytest.skip(why)
    try:
        _sh(
            f"ip netns add {A}",
            f"ip netns add {R}",
            f"ip netns add {B}",
            f"ip link add {TAG}ar netns {A} type veth peer name {TAG}ra netns {R}",
            f"ip link add {TAG}rb netns {R} type veth peer name {TAG}br netns {B}",
            f"ip -n {A} addr add 10.215.0.1/24 dev {TAG}ar",
            f"ip -n {A} addr add 10.215.9.1/32 dev lo",
            f"ip -n {R} addr add 10.215.0.2/24 dev {TAG}ra",
            f"ip -n {R} addr add 10.215.1.2/24 dev {TAG}rb",
            f"ip -n {B} addr add 10.215.1.1/24 dev {TAG}br",
            f"ip -n {R} link set {TAG}rb mtu 1280",
            f"ip -n {B} link set {TAG}br mtu 1280",
            *(f"ip -n {ns} link set lo up" for ns in (A, R, B)),
            f"ip -n {A} link set {TAG}ar up",
            f"ip -n {R} link set {TAG}ra up",
            f"ip -n {R} link set {TAG}rb up",
            f"ip -n {B} link set {TAG}br up",
            f"ip -n {A} route add 10.215.1.0/24 via 10.215.0.2",
            # B routes back only to A's LAN: 10.215.9.1 (A's other address) is unreachable.
            f"ip -n {B} route add 10.215.0.0/24 via 10.215.1.2",
            f"ip netns exec {R} sysctl -qw net.ipv4.ip_forward=1",
            # The same path over IPv6 (fd15:0::/64 and fd15:1::/64; 1280 is IPv6's minimum).
            f"ip -n {A} addr add fd15:0::1/64 dev {TAG}ar nodad",
            f"ip -n {R} addr add fd15:0::2/64 dev {TAG}ra nodad",
            f"ip -n {R} addr add fd15:1::2/64 dev {TAG}rb nodad",
            f"ip -n {B} addr add fd15:1::1/64 dev {TAG}br nodad",
            f"ip -n {A} -6 route add fd15:1::/64 via fd15:0::2",
            f"ip -n {B} -6 route add fd15:0::/64 via fd15:1::2",
            f"ip netns exec {R} sysctl -qw net.ipv6.conf.all.forwarding=1",
        )
        yield
    finally:
        for ns in (A, R, B):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


# Root without CAP_NET_RAW: the probe falls back to a ping socket (ICMP errors come through
# its error queue), allowed by ping_group_range in that namespace.
_NO_NET_RAW = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"]


def probe_in(
    ns: str, cases: list[tuple[str, dict[str, Any]]], raw: bool = True
) -> list[dict[str, Any]]:
    drop = [] if raw else _NO_NET_RAW
    done = subprocess.run(
        ["ip", "netns", "exec", ns, *drop, sys.executable, "-c", _SCRIPT, json.dumps(cases)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_dont_fragment_finds_the_narrow_link(path: None) -> None:
    far = "10.215.1.1"
    below, above = 1200, 1400  # echo sizes 1228 and 1428 bytes against the 1280 link
    out = probe_in(
        A,
        [
            (far, {"dont_fragment": True, "payload_size": below}),
            (far, {"dont_fragment": True, "payload_size": above}),  # R: fragmentation needed
            (far, {"dont_fragment": True, "payload_size": above}),  # the path MTU is known now
            (far, {"payload_size": above}),  # no DF: R fragments it, B answers
        ],
    )
    assert out[0]["success"], out[0]
    first, again, fragmented = out[1], out[2], out[3]
    assert first["reason"] == "fragmentation_needed", first
    assert "fragmentation needed from 10.215.0.2" in first["detail"], first
    assert "MTU 1280" in first["detail"], first
    assert "1428 bytes with dont_fragment" in first["detail"]
    assert first["samples"]["probe_icmp_packets_received"] == 0
    assert again["reason"] == "fragmentation_needed", again
    assert "Message too long" in again["detail"] or "fragmentation needed" in again["detail"]
    assert fragmented["success"], fragmented


def test_dont_fragment_on_the_senders_own_narrow_link(path: None) -> None:
    out = probe_in(
        B,
        [
            ("10.215.1.2", {"dont_fragment": True, "payload_size": 1400}),
            ("10.215.1.2", {"dont_fragment": True, "payload_size": 1252}),  # 1280 exactly
            ("10.215.1.2", {"dont_fragment": True, "payload_size": 1253}),  # one byte over
        ],
    )
    assert out[0]["reason"] == "fragmentation_needed", out[0]
    assert "Message too long" in out[0]["detail"], out[0]
    assert out[1]["success"], out[1]
    assert out[2]["reason"] == "fragmentation_needed", out[2]


def test_ttl_and_source_address(path: None) -> None:
    far = "10.215.1.1"
    out = probe_in(
        A,
        [
            (far, {"ttl": 1}),  # dies at R
            (far, {"ttl": 2}),
            (far, {"source_ip_address": "10.215.0.1"}),
            (far, {"source_ip_address": "10.215.9.1"}),  # B cannot answer it
            (far, {"source_ip_address": "10.215.7.7"}),  # not an address of A
            (far, {}),
        ],
    )
    assert out[0]["reason"] == "unreachable", out[0]
    assert "TTL exceeded in transit from 10.215.0.2" in out[0]["detail"]
    assert out[1]["success"], out[1]
    assert out[2]["success"], out[2]
    assert out[3]["reason"] == "timeout", out[3]
    assert out[4]["reason"] == "unreachable", out[4]
    assert "Cannot assign requested address" in out[4]["detail"], out[4]
    assert out[5]["success"], out[5]
    assert out[5]["samples"]["probe_ip_protocol"] == 4


def test_dont_fragment_through_a_ping_socket(path: None) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    _sh(f"ip netns exec {A} sysctl -qw net.ipv4.ping_group_range='0 2147483647'")
    _sh(f"ip netns exec {B} sysctl -qw net.ipv4.ping_group_range='0 2147483647'")
    far = "10.215.1.1"
    out = probe_in(
        A,
        [
            (far, {"dont_fragment": True, "payload_size": 1200, "ttl": 5}),
            (far, {"dont_fragment": True, "payload_size": 1380}),
            (far, {"ttl": 1}),
        ],
        raw=False,
    )
    assert out[0]["success"], out[0]
    assert out[1]["reason"] == "fragmentation_needed", out[1]
    assert "MTU 1280" in out[1]["detail"] or "Message too long" in out[1]["detail"], out[1]
    assert out[2]["reason"] == "unreachable", out[2]
    assert "TTL exceeded" in out[2]["detail"], out[2]
    own = probe_in(B, [("10.215.1.2", {"dont_fragment": True, "payload_size": 1400})], raw=False)
    assert own[0]["reason"] == "fragmentation_needed", own[0]


def test_ipv6_dont_fragment_meets_packet_too_big(path: None) -> None:
    far = "fd15:1::1"
    out = probe_in(
        A,
        [
            (far, {"dont_fragment": True, "payload_size": 1200}),
            (far, {"dont_fragment": True, "payload_size": 1400}),  # R: packet too big
            (far, {"dont_fragment": True, "payload_size": 1400}),  # the path MTU is known now
            (far, {"ttl": 1}),  # the hop limit: dies at R
        ],
    )
    assert out[0]["success"], out[0]
    assert out[0]["samples"]["probe_ip_protocol"] == 6
    assert out[1]["reason"] == "fragmentation_needed", out[1]
    assert "packet too big from fd15::2" in out[1]["detail"], out[1]
    assert "MTU 1280" in out[1]["detail"], out[1]
    assert "1448 bytes" in out[1]["detail"]  # 1400 + the IPv6 and ICMPv6 headers
    assert out[2]["reason"] == "fragmentation_needed", out[2]
    assert out[3]["reason"] == "unreachable", out[3]
    assert "hop limit exceeded in transit from fd15::2" in out[3]["detail"], out[3]
