"""icmp probe against the real kernel: loopback echoes, nftables for loss, netns for privileges.

No mocks. Most tests need root (a raw socket, nftables, network namespaces) and skip without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from monitor.config import Target
from probes import icmp
from probes.base import ProbeResult
from probes.context import Closer, ProbeContext
from probes.options import IcmpOptions

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root: raw ICMP socket, nftables, netns")
_R = TypeVar("_R")


def target(host: str, name: str = "t", **options: Any) -> Target:
    return Target.model_validate({"name": name, "kind": "icmp", "host": host, "icmp": options})


def samples(result: ProbeResult) -> dict[str, float]:
    return {s.name + "".join(f"/{v}" for _, v in s.labels): s.value for s in result.samples}


class CountingContext(ProbeContext):
    """A ProbeContext that counts how many resources its factories made."""

    made: int = 0

    async def shared(self, key: str, factory: Callable[[], Awaitable[tuple[_R, Closer]]]) -> _R:
        async def counted() -> tuple[_R, Closer]:
            self.made += 1
            return await factory()

        return await super().shared(key, counted)


@pytest.fixture
async def ctx() -> AsyncIterator[CountingContext]:
    context = CountingContext()
    yield context
    await context.aclose()


async def _no_factory() -> tuple[Any, Closer]:
    raise AssertionError("the socket should already exist")


async def shared_socket(ctx: ProbeContext, key: str = "icmp4") -> icmp.IcmpSocket:
    sock = await ctx.shared(key, _no_factory)
    assert isinstance(sock, icmp.IcmpSocket)
    return sock


@contextlib.contextmanager
def nft_rules(*rules: str) -> Iterator[None]:
    """A throwaway nftables table whose input chain holds ``rules``; always deleted."""
    if not IS_ROOT or shutil.which("nft") is None:
        pytest.skip("needs root and nft (nftables) to make loss on loopback")
    table = f"netmon_test_{uuid.uuid4().hex[:8]}"
    script = (
        f"table inet {table} {{\n chain input {{\n"
        "  type filter hook input priority -10; policy accept;\n"
        + "".join(f"  {rule}\n" for rule in rules)
        + " }\n}\n"
    )
    made = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"nft could not create a table: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- loopback -------------------------------------------------------------------------------


@needs_root
async def test_loopback_answers_with_all_samples(ctx: CountingContext) -> None:
    result = await icmp.probe(target("127.0.0.1", count=5, spacing="20ms"), ctx)
    assert result.success, result.detail
    assert result.reason is None
    values = samples(result)
    assert values["probe_icmp_packets_sent"] == 5
    assert values["probe_icmp_packets_received"] == 5
    assert values["probe_icmp_packet_loss_ratio"] == 0
    low, avg, high = (values[f"probe_icmp_rtt_seconds/{s}"] for s in ("min", "avg", "max"))
    assert 0 < low <= avg <= high < 0.05
    assert 0 <= values["probe_icmp_jitter_seconds"] < 0.05
    assert result.detail.startswith("5/5 echoes answered, 0% loss, avg ")
    assert len(result.samples) == 9  # and probe_ip_protocol, probe_ip_addr_hash
    assert values["probe_ip_protocol"] == 4
    assert (await shared_socket(ctx)).pending == {}


@needs_root
@pytest.mark.parametrize("size", [0, 1, 57, 1400])
async def test_payload_sizes_and_checksum(ctx: CountingContext, size: int) -> None:
    # Loopback does not verify checksums, so read our own requests off the wire and check them.
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as spy:
        spy.setblocking(False)
        result = await icmp.probe(
            target("127.0.0.7", count=2, spacing="5ms", payload_size=size), ctx
        )
        assert result.success, result.detail
        ident = (await shared_socket(ctx)).ident
        requests = []
        with contextlib.suppress(BlockingIOError):
            while True:
                packet = spy.recv(4096)
                echo = packet[(packet[0] & 0x0F) * 4 :]
                if echo[0] == 8 and struct.unpack_from("!H", echo, 4)[0] == ident:
                    requests.append(echo)
    assert len(requests) == 2
    for echo in requests:
        assert len(echo) == 8 + size
        padded = echo + b"\0" * (len(echo) & 1)
        total = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        assert total == 0xFFFF, "bad ICMP checksum"


@needs_root
async def test_twenty_hosts_share_one_socket(ctx: CountingContext) -> None:
    targets = [target(f"127.0.2.{i}", name=f"h{i}", count=3, spacing="10ms") for i in range(1, 21)]
    results = await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
    assert all(r.success for r in results), [r.detail for r in results if not r.success]
    assert ctx.made == 1, "one ICMP socket for every IPv4 target"
    sock = await shared_socket(ctx)
    assert sock.raw and sock.pending == {}


@needs_root
async def test_thousand_echoes_in_flight_lose_nothing(ctx: CountingContext) -> None:
    hosts = [f"127.0.{3 + i // 250}.{1 + i % 250}" for i in range(1000)]  # 127.0.3.1-127.0.6.250
    targets = [target(h, name=f"h{i}", count=1) for i, h in enumerate(hosts)]
    # Every probe sends before any reply is read: 1,000 echoes in flight on one socket.
    results = await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
    lost = [r.detail for r in results if not r.success]
    assert lost == [], f"{len(lost)} of 1000 echoes lost"
    assert ctx.made == 1
    assert max(samples(r)["probe_icmp_rtt_seconds/max"] for r in results) < 0.05
    assert (await shared_socket(ctx)).pending == {}


@pytest.mark.skipif(not IS_ROOT, reason="needs root for a raw ICMPv6 socket")
@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 on the loopback interface")
async def test_ipv6_loopback(ctx: CountingContext) -> None:
    result = await icmp.probe(target("::1", count=3, spacing="10ms"), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_icmp_packet_loss_ratio"] == 0
    assert ctx.made == 1
    assert (await shared_socket(ctx, "icmp6")).raw


async def test_unresolvable_name_is_dns(ctx: CountingContext) -> None:
    result = await icmp.probe(target("no-such-host.invalid"), ctx)
    assert (result.success, result.reason) == (False, "dns")
    assert "no-such-host.invalid" in result.detail


# --- loss and errors, made with nftables ------------------------------------------------------


async def test_all_echoes_dropped_is_timeout(ctx: CountingContext) -> None:
    with nft_rules("ip daddr 127.0.9.9 icmp type echo-request drop"):
        result = await icmp.probe(target("127.0.9.9", count=3, spacing="10ms"), ctx)
    assert (result.success, result.reason) == (False, "timeout")
    assert "0 of 3 echoes answered" in result.detail
    values = samples(result)
    assert values["probe_icmp_packet_loss_ratio"] == 1.0
    assert values["probe_icmp_packets_sent"] == 3
    assert values["probe_icmp_packets_received"] == 0
    assert not any(s.name in {"probe_icmp_rtt_seconds", "probe_icmp_jitter_seconds"}
                   for s in result.samples)  # fmt: skip


async def test_partial_loss_is_measured_not_an_outage(ctx: CountingContext) -> None:
    with nft_rules("ip daddr 127.0.9.10 icmp type echo-request numgen random mod 10 < 3 drop"):
        result = await icmp.probe(target("127.0.9.10", count=20, spacing="5ms"), ctx)
    assert result.success, result.detail
    loss = samples(result)["probe_icmp_packet_loss_ratio"]
    assert 0.05 <= loss <= 0.6, f"expected about 30 % loss, measured {loss:.0%}"


async def test_host_unreachable_error(ctx: CountingContext) -> None:
    rule = "ip daddr 127.0.9.11 icmp type echo-request reject with icmp type host-unreachable"
    with nft_rules(rule):
        result = await icmp.probe(target("127.0.9.11", count=2, spacing="10ms"), ctx)
    assert (result.success, result.reason) == (False, "unreachable"), result.detail
    assert "host unreachable" in result.detail


async def test_cancelled_probe_leaves_nothing_pending(ctx: CountingContext) -> None:
    with nft_rules("ip daddr 127.0.9.12 icmp type echo-request drop"):
        task = asyncio.create_task(icmp.probe(target("127.0.9.12", count=5, spacing="50ms"), ctx))
        await asyncio.sleep(0.12)
        sock = await shared_socket(ctx)
        assert len(sock.pending) == 3  # three echoes sent, none answered
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sock.pending == {}


# --- pure functions ---------------------------------------------------------------------------


def test_jitter_is_mean_absolute_difference_in_sending_order() -> None:
    assert icmp.jitter([]) == 0.0
    assert icmp.jitter([0.010]) == 0.0
    assert icmp.jitter([0.010, 0.012, 0.011, 0.015]) == pytest.approx((0.002 + 0.001 + 0.004) / 3)
    assert icmp.jitter([0.010, 0.010, 0.010]) == 0.0


def test_wait_after_last_echo() -> None:
    defaults = IcmpOptions()
    assert icmp.wait_after_last(defaults, None) == 1.0
    assert 0.8 + icmp.wait_after_last(defaults, 5.0) <= 5.0 * 0.9
    # slow spacing waits longer; a tight timeout shortens the wait so the probe still returns
    assert icmp.wait_after_last(IcmpOptions.model_validate({"spacing": "2s"}), None) == 6.0
    assert icmp.wait_after_last(defaults, 1.5) == pytest.approx(0.9 * 1.5 - 0.8)


# --- privileges: an ordinary user in a fresh network namespace --------------------------------

_SCRIPT = """
import asyncio, json, sys
from monitor.config import Target
from probes.context import ProbeContext
from probes.icmp import probe

async def main():
    ctx = ProbeContext()
    out = {}
    try:
        for host in sys.argv[1:]:
            t = Target.model_validate({"name": "t", "kind": "icmp", "host": host,
                                       "icmp": {"count": 3, "spacing": "10ms"}})
            r = await probe(t, ctx)
            out[host] = {"success": r.success, "reason": r.reason, "detail": r.detail}
    finally:
        await ctx.aclose()
    print(json.dumps(out))

asyncio.run(main())
"""
_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


# Without CAP_NET_RAW: root keeps its uid (so it can still read a venv under a mode-700
# directory, as CI's clone may be) but loses the capability that raw sockets need.
_NO_NET_RAW = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"]


def _unprivileged() -> tuple[list[str], str]:
    """How to run the probe without raw-socket rights: as nobody when nobody can run the
    venv's interpreter, else as root without CAP_NET_RAW; and the code that shows the venv."""
    if not IS_ROOT:
        pytest.skip("needs root to create a network namespace and drop privileges")
    for tool in ("unshare", "setpriv", "ip", "sysctl", "nft"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    # The venv's interpreter may be a link into root's home (mode 700): then a system
    # interpreter of the same version runs the same code with the venv's packages.
    boot = f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    for python, prefix in ((sys.executable, ""), (system, boot)):
        check = prefix + "import pydantic, monitor.config, probes.icmp"
        ran = subprocess.run([*_NOBODY, python, "-c", check], cwd=ROOT, capture_output=True)
        if ran.returncode == 0:
            return [*_NOBODY, python], prefix
    return [*_NO_NET_RAW, sys.executable], ""


def _run_in_netns(setup: str, hosts: list[str]) -> dict[str, dict[str, Any]]:
    """Run the probe unprivileged in a new network namespace, after ``setup`` ran there as
    root."""
    runner, prefix = _unprivileged()
    command = [*runner, "-c", prefix + _SCRIPT, *hosts]
    done = subprocess.run(
        ["unshare", "--net", "--", "sh", "-ec", f'{setup} exec "$@"', "sh", *command],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_not_permitted_for_an_ordinary_user() -> None:
    # A fresh namespace has the kernel default ping_group_range "1 0": no group may ping.
    out = _run_in_netns("", ["127.0.0.1", "::1"])
    for host in ("127.0.0.1", "::1"):
        assert out[host]["success"] is False
        assert out[host]["reason"] == "icmp_not_permitted"
        assert "ping_group_range" in out[host]["detail"]
        assert "CAP_NET_RAW" in out[host]["detail"]


def test_ping_socket_for_an_ordinary_user() -> None:
    setup = (
        "ip link set lo up; sysctl -qw net.ipv4.ping_group_range='0 2147483647';"
        " nft add table inet t;"
        " nft add chain inet t input '{ type filter hook input priority 0; }';"
        " nft add rule inet t input ip daddr 127.0.9.11 icmp type echo-request"
        " reject with icmp type host-unreachable;"
    )
    out = _run_in_netns(setup, ["127.0.0.1", "::1", "127.0.9.11"])
    assert out["127.0.0.1"]["success"], out["127.0.0.1"]
    assert out["127.0.0.1"]["detail"].startswith("3/3 echoes answered")
    assert out["::1"]["success"], out["::1"]
    # ICMP errors reach a ping socket through its error queue (IP_RECVERR)
    assert out["127.0.9.11"]["reason"] == "unreachable", out["127.0.9.11"]
    assert "host unreachable" in out["127.0.9.11"]["detail"]
