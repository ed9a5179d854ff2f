"""path probe: a traceroute over the shared ICMP socket (kind "path").

ICMP echoes with every TTL from 1 to ``max_hops``, ``count`` per TTL, go out in parallel as
mtr and paris-traceroute send them, not hop after hop: round ``r`` sends one echo per TTL,
rounds ``spacing`` apart, then replies are awaited ``wait`` after the last send (the probe
ends as soon as every echo is answered). Once a round has seen the destination answer, later
rounds stop at its TTL. The echoes go through the ICMP probe's socket of the family
(``probes/icmp.py``: raw, else a ping socket), each with its own TTL as ancillary data, and
are matched by (address, sequence) as the ICMP probe's are; time-exceeded and unreachable
errors name the hop that sent them. ``protocol = "udp"`` sends datagrams to ports from 33434
instead (``UdpTracer``: one UDP socket per family, errors from its error queue, no privilege
needed); the destination's "port unreachable" is "reached".

Result: one hop per TTL up to the destination (its most frequent address, or a star when none
answered), per hop the loss and RTT min/avg (facts "hop", metrics per hop and address), the
path's hash over the responding addresses. Not reached within ``max_hops``: reason
"max_hops"; an unreachable error on the way: "unreachable".

Path changes. The reached path (one address or star per hop) is compared with
``expected_path`` when the settings give one, else with the paths learnt by this process
(kept in the probe context, and in ``state_dir/paths.json`` when the service has a state
directory, so a restart remembers them). A star matches any address,
so a hop that drops some ICMP errors is no change. A path is known while it was seen within
``learn_runs`` reached runs: two load-balanced paths alternating are both known, so they are
not a change every run, while a path that has not been seen for that long (a failback after a
long failover) is a change again. A change is reason "path_changed", naming the old and new
first differing hop with their ``hops`` display names.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
import struct
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import Closer, ProbeContext
from probes.icmp import (
    _EXT_ERR,
    _PLAIN,
    _TTL_CMSG,
    RCVBUF,
    SO_TIMESTAMPNS,
    V6,
    IcmpSocket,
    _describe,
    _Family,
    _literal,
    _offender,
    _open,
    _receive_time,
    _Run,
    _send,
    _settle_all,
    _SocketOptions,
    _Unavailable,
)
from probes.options import PathOptions
from probes.resolve import ResolveError, resolve

__all__ = ["FAMILIES", "Hop", "first_difference", "probe"]

FAMILIES = catalogue.PATH

log = logging.getLogger("netmon.path")

UDP_BASE_PORT = 33434  # traceroute's: ports above it are rarely listened on
UDP_PORTS = 4096

STAR = "*"


@dataclass(frozen=True, slots=True)
class Hop:
    ttl: int
    addresses: tuple[str, ...]  # every address that answered, the most frequent first
    sent: int
    rtts: tuple[float, ...]  # seconds, of the answered echoes

    @property
    def address(self) -> str | None:
        return self.addresses[0] if self.addresses else None

    @property
    def loss(self) -> float:
        return 1.0 - len(self.rtts) / self.sent if self.sent else 1.0


@dataclass(slots=True)
class _Known:
    hops: list[str | None]
    seen: int  # the reached run it was last seen in


@dataclass(slots=True)
class _Learnt:
    runs: int = 0
    paths: list[_Known] = field(default_factory=list)


async def _no_close() -> None:
    return None


LEARNT_FILE = "paths.json"


def _load(path: Path | None) -> dict[str, _Learnt]:
    """The learnt paths a previous run kept (``state_dir/paths.json``); a file that does not
    read is learnt again, with a warning."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(key): _Learnt(0, [_Known([h if h else None for h in hops], 0) for hops in known])
            for key, known in data.items()
        }
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("%s does not read (%s): the paths are learnt again", path, exc)
        return {}


def _save(path: Path, data: dict[str, list[list[str]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def _learnt_factory(ctx: ProbeContext) -> Callable[[], Awaitable[tuple[_State, Closer]]]:
    async def make() -> tuple[_State, Closer]:
        path = ctx.state_dir / LEARNT_FILE if ctx.state_dir is not None else None
        return _State(path, await asyncio.to_thread(_load, path)), _no_close

    return make


@dataclass(slots=True)
class _State:
    """The learnt paths of every path target; kept in ``state_dir`` when there is one, so a
    failover during a restart is still a change."""

    path: Path | None
    learnt: dict[str, _Learnt]

    async def save(self) -> None:
        if self.path is None:
            return
        data = {
            key: [[hop or "" for hop in known.hops] for known in state.paths]
            for key, state in self.learnt.items()
        }
        try:
            await asyncio.to_thread(_save, self.path, data)
        except OSError as exc:
            log.warning("cannot keep the learnt paths in %s: %s", self.path, exc)


def _matches(known: Sequence[str | None], new: Sequence[str | None]) -> bool:
    return len(known) == len(new) and all(
        a is None or b is None or a == b for a, b in zip(known, new, strict=True)
    )


def first_difference(old: Sequence[str | None], new: Sequence[str | None]) -> int:
    """The index of the first hop where two paths differ (a star matches anything), or
    where the shorter one ends."""
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a is not None and b is not None and a != b:
            return index
    return min(len(old), len(new))


def _name(address: str | None, names: dict[str, str]) -> str:
    if address is None:
        return STAR
    known = names.get(address)
    return f"{address} ({known})" if known else address


def _hop_words(path: Sequence[str | None], index: int, names: dict[str, str]) -> str:
    if index >= len(path):
        return f"hop {index + 1}: none (the path ends at hop {len(path)})"
    return f"hop {index + 1}: {_name(path[index], names)}"


def _spell(path: Sequence[str | None], names: dict[str, str]) -> str:
    return " → ".join(_name(hop, names) for hop in path)


def path_hash(path: Sequence[str | None]) -> float:
    return float(zlib.crc32(" ".join(hop for hop in path if hop is not None).encode()))


async def _address(
    ctx: ProbeContext, host: str, opts: PathOptions
) -> tuple[_Family, str, tuple[Sample, ...]] | ProbeResult:
    known = _literal(host)
    if known is not None:
        return known
    try:
        resolved = await resolve(ctx, host, opts.preferred_ip_protocol, opts.ip_protocol_fallback)
    except ResolveError as exc:
        return failure("dns", str(exc))
    known = _literal(resolved.address)
    if known is None:
        return failure("dns", f"{host} resolved to {resolved.address!r}, not an IP address")
    return known


class UdpTracer:
    """One UDP socket per family for every udp path probe: datagrams to ports from 33434 up,
    each with its own TTL; the kernel queues the ICMP errors they meet on the socket's error
    queue (IP_RECVERR, no privilege needed), matched by (address, port). The destination
    answers port unreachable: that is "reached"."""

    raw = False  # a pending error (sk_err) fails the next send: _send retries it once

    def __init__(self, sock: socket.socket, fam: _Family) -> None:
        self.sock, self.fam = sock, fam
        self.pending: dict[tuple[str, int], tuple[_Run, int, int]] = {}
        self._port = int.from_bytes(os.urandom(2), "big") % UDP_PORTS
        try:
            sock.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)  # SO_RCVBUFFORCE
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(fam.errlevel, fam.recverr, 1)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def send(self, run: _Run, index: int, payload_size: int, ttl: int | None = None) -> None:
        for _ in range(UDP_PORTS):
            self._port = (self._port + 1) % UDP_PORTS
            port = UDP_BASE_PORT + self._port
            if (run.addr, port) not in self.pending:
                break
        else:
            raise OSError(errno.EBUSY, f"{UDP_PORTS} datagrams already in flight to {run.addr}")
        level, kind = _TTL_CMSG[self.fam.version]
        cmsg = [(level, kind, struct.pack("@i", ttl or 64))]
        sent_ns = time.time_ns()
        self.sock.sendmsg([b"\0" * payload_size], cmsg, 0, (run.addr, port))
        self.pending[(run.addr, port)] = (run, index, sent_ns)
        run.seqs.append(port)
        run.sent += 1
        run.waiting += 1

    def forget(self, run: _Run) -> None:
        for port in run.seqs:
            entry = self.pending.get((run.addr, port))
            if entry is not None and entry[0] is run:
                del self.pending[(run.addr, port)]

    def _on_readable(self) -> None:
        for _ in range(4096):
            try:
                self.sock.recvmsg(64, 64)  # nothing is expected; a pending error clears here
            except BlockingIOError:
                break
            except OSError:
                continue
        for _ in range(4096):
            try:
                _data, ancillary, _flags, dest = self.sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
            except OSError:
                break
            entry = self.pending.pop((str(dest[0]), int(dest[1])), None)
            if entry is None:
                continue
            run, index, sent_ns = entry
            rtt = max(_receive_time(ancillary) - sent_ns, 0)
            for level, kind, cdata in ancillary:
                if level != self.fam.errlevel or kind != self.fam.recverr or len(cdata) < 12:
                    continue
                _err, origin, icmp_type, code, _pad, _info = _EXT_ERR.unpack_from(cdata)
                if origin not in (2, 3):  # not an ICMP error: a local one
                    run.settle(index, None, os.strerror(_err))
                    break
                source = _offender(self.fam, cdata)
                port_unreachable = icmp_type == self.fam.unreachable and code in (3, 4)
                if port_unreachable and source == run.addr:
                    run.settle(index, rtt)  # the destination itself: reached
                    break
                if run.responders is not None:
                    run.responders[index] = (source, icmp_type, code, rtt)
                run.settle(index, None, f"{_describe(self.fam, icmp_type, code)} from {source}")
                break

    async def aclose(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.pending.clear()


async def _open_udp(fam: _Family, source: str | None) -> tuple[UdpTracer | _Unavailable, Closer]:
    try:
        sock = socket.socket(fam.af, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    except OSError as exc:
        why = f"cannot open a UDP socket: {exc.strerror or exc}"
        return _Unavailable("unreachable", why), _no_close
    try:
        if source is not None:
            sock.bind((source, 0))
        tracer = UdpTracer(sock, fam)
    except OSError as exc:
        sock.close()
        why = f"cannot set up a UDP socket (source {source}): {exc.strerror or exc}"
        return _Unavailable("unreachable", why), _no_close
    except BaseException:
        sock.close()
        raise
    return tracer, tracer.aclose


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, PathOptions)
    host = target.host or ""
    resolved = await _address(ctx, host, opts)
    if isinstance(resolved, ProbeResult):
        return resolved
    fam, addr, address_samples = resolved
    options = _PLAIN
    if opts.source_ip_address is not None:
        if (":" in opts.source_ip_address) != (fam is V6):
            return failure(
                "unreachable",
                f"source_ip_address {opts.source_ip_address} is not an IPv{fam.version} "
                f"address as {addr} is",
                address_samples,
            )
        options = _SocketOptions(source=opts.source_ip_address)
    icmp: IcmpSocket | UdpTracer | _Unavailable
    if opts.protocol == "udp":
        key = f"path-udp{fam.version}/src={opts.source_ip_address}"
        icmp = await ctx.shared(key, lambda: _open_udp(fam, opts.source_ip_address))
    else:
        icmp = await ctx.shared(options.key(fam), lambda: _open(fam, options))
    if isinstance(icmp, _Unavailable):
        return failure(icmp.reason, icmp.detail, address_samples)

    loop = asyncio.get_running_loop()
    count, max_hops = opts.count, opts.max_hops
    wait = opts.wait
    if target.timeout is not None:  # end inside the target's timeout, with a result
        wait = min(wait, max(0.05, 0.9 * target.timeout - (count - 1) * opts.spacing))
    run = _Run(addr, loop.create_future(), [None] * (count * max_hops), responders={})
    sent: set[int] = set()
    timer: asyncio.TimerHandle | None = None
    try:
        start = loop.time()
        for round_ in range(count):
            if round_:
                await asyncio.sleep(start + round_ * opts.spacing - loop.time())
            top = _end(run, fam, count, max_hops)[0]
            for ttl in range(1, top + 1):
                index = (ttl - 1) * count + round_
                before = run.sent
                await _send(icmp, run, index, opts.payload_size, ttl)
                if run.sent > before:
                    sent.add(index)
        run.all_sent = True
        run.check()
        timer = loop.call_later(wait, _settle_all, run.done)
        await run.done
    finally:
        if timer is not None:
            timer.cancel()
        icmp.forget(run)
    if not sent:
        error = run.errors[0] if run.errors else "nothing sent"
        return failure("unreachable", f"{addr} is unreachable: {error}", address_samples)
    last, reached, ending = _end(run, fam, count, max_hops)
    hops = _hops(run, count, last, sent)
    if not reached:  # trailing stars say nothing: the path as far as it answered
        while hops and hops[-1].address is None:
            hops.pop()
    return await _result(target, ctx, opts, addr, address_samples, hops, reached, ending)


def _end(run: _Run, fam: _Family, count: int, max_hops: int) -> tuple[int, bool, str | None]:
    """(the last TTL to look at, the destination reached, the error that ended the path)."""
    responders = run.responders or {}
    for ttl in range(1, max_hops + 1):
        for index in range((ttl - 1) * count, ttl * count):
            if run.rtts[index] is not None:
                return ttl, True, None
        for index in range((ttl - 1) * count, ttl * count):
            answer = responders.get(index)
            if answer is not None and answer[1] != fam.exceeded:
                source, kind, code, _rtt = answer
                return ttl, False, f"{_describe(fam, kind, code)} from {source}"
    return max_hops, False, None


def _hops(run: _Run, count: int, last: int, sent: set[int]) -> list[Hop]:
    responders = run.responders or {}
    hops = []
    for ttl in range(1, last + 1):
        seen: Counter[str] = Counter()
        rtts: list[float] = []
        tried = 0
        for index in range((ttl - 1) * count, ttl * count):
            if index not in sent:
                continue
            tried += 1
            reply = run.rtts[index]
            answer = responders.get(index)
            if reply is not None:
                seen[run.addr] += 1
                rtts.append(reply / 1e9)
            elif answer is not None:
                seen[answer[0]] += 1
                rtts.append(answer[3] / 1e9)
        addresses = tuple(address for address, _n in seen.most_common())
        hops.append(Hop(ttl, addresses, tried, tuple(rtts)))
    return hops


def _hop_fact(hop: Hop) -> str:
    if not hop.rtts:
        return f"{hop.ttl} {STAR} loss 100%"
    rtts = hop.rtts
    others = f" (also {', '.join(hop.addresses[1:])})" if len(hop.addresses) > 1 else ""
    return (
        f"{hop.ttl} {hop.address}{others} loss {hop.loss:.0%} "
        f"min {min(rtts) * 1e3:.2f} ms avg {sum(rtts) / len(rtts) * 1e3:.2f} ms"
    )


async def _result(
    target: ProbeTarget,
    ctx: ProbeContext,
    opts: PathOptions,
    addr: str,
    address_samples: tuple[Sample, ...],
    hops: list[Hop],
    reached: bool,
    ending: str | None,
) -> ProbeResult:
    path = [hop.address for hop in hops]
    names = opts.hop_names
    samples = [
        Sample("probe_path_hops", float(len(hops))),
        Sample("probe_path_hash", path_hash(path)),
    ]
    for hop in hops:
        labels = (("hop", str(hop.ttl)), ("address", hop.address or ""))
        if hop.rtts:
            samples.append(
                Sample("probe_path_hop_rtt_seconds", sum(hop.rtts) / len(hop.rtts), labels)
            )
        samples.append(Sample("probe_path_hop_loss_ratio", hop.loss, labels))
    samples += address_samples
    facts: list[tuple[str, str]] = [("hop", _hop_fact(hop)) for hop in hops]
    spelt = _spell(path, names)
    if not reached:
        if ending is not None:
            detail = f"{target.host} is unreachable at hop {len(hops)}: {ending}; path {spelt}"
            return failure("unreachable", detail, tuple(samples), tuple(facts))
        detail = f"{target.host} not reached within {opts.max_hops} hops; path {spelt or STAR}"
        return failure("max_hops", detail, tuple(samples), tuple(facts))
    old = await _compare(target, ctx, opts, addr, path)
    if old is not None:
        index = first_difference(old, path)
        before, after = _hop_words(old, index, names), _hop_words(path, index, names)
        facts += [
            ("old_hop", before),
            ("new_hop", after),
            ("old_path", _spell(old, names)),
            ("new_path", spelt),
        ]
        detail = f"the path to {target.host} changed at {before} → {after.split(': ', 1)[1]}"
        return failure("path_changed", f"{detail}; now {spelt}", tuple(samples), tuple(facts))
    detail = f"{target.host} reached in {len(hops)} hops: {spelt}"
    return ProbeResult(True, None, detail, tuple(samples), tuple(facts))


async def _compare(
    target: ProbeTarget, ctx: ProbeContext, opts: PathOptions, addr: str, path: list[str | None]
) -> list[str | None] | None:
    """The path this one changed from, or None when it is an expected or known one."""
    if opts.expected_path is not None:
        expected = [None if hop == STAR else hop for hop in opts.expected_path]
        return None if _matches(expected, path) else expected
    store = await ctx.shared("path-learnt", _learnt_factory(ctx))
    state = store.learnt.setdefault(f"{target.name} {addr}", _Learnt())
    state.runs += 1
    state.paths = [known for known in state.paths if state.runs - known.seen <= opts.learn_runs]
    for known in state.paths:
        if _matches(known.hops, path):
            known.seen = state.runs
            known.hops = [a if a is not None else b for a, b in zip(known.hops, path, strict=True)]
            return None
    latest = max(state.paths, key=lambda known: known.seen, default=None)
    state.paths.append(_Known(list(path), state.runs))
    await store.save()
    return latest.hops if latest is not None else None
