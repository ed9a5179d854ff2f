"""Probe rounds (issue 17): the shared socket sends the later echoes of every run from one
timer per 2 ms slot. Checked on the wire: a raw socket of the test's own sees our echo
requests on loopback with the kernel's timestamps."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import pytest

from monitor.config import Target
from probes import icmp
from probes.base import ProbeResult
from probes.context import Closer, ProbeContext

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: raw ICMP sockets")
SO_TIMESTAMPNS = 35


def target(host: str, name: str, count: int, spacing: str) -> Target:
    return Target.model_validate(
        {"name": name, "kind": "icmp", "host": host, "icmp": {"count": count, "spacing": spacing}}
    )


def value(result: ProbeResult, name: str) -> float:
    return next(s.value for s in result.samples if s.name == name and not s.labels)


async def _no_factory() -> tuple[icmp.IcmpSocket, Closer]:
    raise AssertionError("the socket should already exist")


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


@pytest.fixture
def wire() -> Iterator[socket.socket]:
    """Every ICMP packet on the host, with its kernel receive time."""
    sock = socket.socket(
        socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.IPPROTO_ICMP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    yield sock
    sock.close()


def requests_seen(wire: socket.socket, ident: int) -> dict[str, list[int]]:
    """Our echo requests by destination: kernel timestamps (ns), in order."""
    seen: dict[str, list[int]] = defaultdict(list)
    while True:
        try:
            data, ancillary, _flags, _src = wire.recvmsg(256, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return seen
        start = (data[0] & 0x0F) * 4
        if data[start] != 8 or struct.unpack_from("!H", data, start + 4)[0] != ident:
            continue
        sec, nsec = struct.unpack_from("@ll", ancillary[0][2])
        seen[socket.inet_ntoa(data[16:20])].append(sec * 1_000_000_000 + nsec)


@needs_root
@pytest.mark.parametrize("spacing", [0.012, 0.003], ids=["slotted", "exact"])
async def test_echoes_never_go_before_their_interval(
    ctx: ProbeContext, wire: socket.socket, spacing: float
) -> None:
    # 30 targets at once, 4 echoes each: the later echoes go in the shared rounds (12 ms) or
    # by a timer each (3 ms, shorter than the slots could keep); neither sends early.
    hosts = [f"127.0.12.{i}" for i in range(1, 31)]
    targets = [target(h, f"r{i}", 4, f"{spacing * 1000:g}ms") for i, h in enumerate(hosts)]
    results = await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
    assert all(r.success for r in results), [r.detail for r in results if not r.success]
    assert all(value(r, "probe_icmp_packet_loss_ratio") == 0.0 for r in results)
    sock = await ctx.shared("icmp4", _no_factory)
    seen = requests_seen(wire, sock.ident)
    assert sorted(seen) == sorted(hosts)
    for host, times in seen.items():
        assert len(times) == 4, host
        for i, t in enumerate(times):
            # Echo i is due start + i × spacing; 0.5 ms for start → first sendto.
            assert t - times[0] >= i * spacing * 1e9 - 0.5e6, (host, i, (t - times[0]) / 1e6)
        # ... and not much later either: a slot adds at most 2 ms on an idle loop.
        assert times[-1] - times[0] < 3 * spacing * 1e9 + 50e6, host


@needs_root
async def test_rtt_is_from_each_echos_own_send(ctx: ProbeContext) -> None:
    # Loopback answers in microseconds: an RTT measured from the slot's start, or from the
    # echo's due time, would read up to 2 ms, or the spacing.
    result = await icmp.probe(target("127.0.12.40", "rtt", 5, "12ms"), ctx)
    rtt_max = next(
        s.value
        for s in result.samples
        if s.name == "probe_icmp_rtt_seconds" and s.labels == (("stat", "max"),)
    )
    assert result.success and 0 < rtt_max < 0.0015, result.detail


@needs_root
async def test_a_round_leaves_no_slot_behind(ctx: ProbeContext) -> None:
    targets = [target(f"127.0.12.{50 + i}", f"s{i}", 3, "12ms") for i in range(10)]
    await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
    sock = await ctx.shared("icmp4", _no_factory)
    assert sock.pending == {}
    # The deadlines of runs answered in full may still sit in a slot; their timer drops them.
    await asyncio.sleep(1.2)
    assert sock._slots == {}
