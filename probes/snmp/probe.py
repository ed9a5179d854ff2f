"""snmp probe: IF-MIB, sysUpTime, sysName, BGP peers and extra OIDs of one agent, v1/v2c/v3.

What one poll asks (numeric OIDs, no MIB files at run time):

- GET sysUpTime.0 and sysName.0;
- one walk of the ifTable and ifXTable columns below, all columns in the same GETBULK (a
  24-port switch answers in one round trip; a 1,000-port one in a few dozen);
- with ``bgp = true``, one walk of the BGP peer tables' state columns: BGP4-MIB's and the
  vendors' (``probes.snmp.bgp``: CISCO-BGP4-MIB, BGP4-V2-MIB-JUNIPER, ARISTA-BGP4V2-MIB,
  HUAWEI-BGP-VPN-MIB), all in the same GETBULK; from then on only the table that had rows
  (every table again once that one is empty); the extra ``oids``, by GET.

What it exports, named as snmp_exporter names them (its if_mib module), so that the dashboards
and alert rules NOC engineers know work unchanged:

- per interface kept by the ``interfaces`` regex (matched against ifName, ifDescr and ifAlias;
  only those three columns are walked, the rest fetched for the kept rows) or named in
  ``circuits``, with labels ``ifIndex``, ``ifName``, ``ifDescr``, ``ifAlias`` and ``circuit``
  (the ``snmp.circuits`` entry's name, "" for an interface that is none): ``ifOperStatus``,
  ``ifAdminStatus``, ``ifHCInOctets``, ``ifHCOutOctets`` (``ifInOctets``/``ifOutOctets``, the
  32-bit counters, where the agent has no HC ones), ``ifInErrors``, ``ifOutErrors``,
  ``ifInDiscards``, ``ifOutDiscards``, ``ifHighSpeed``;
- ``sysUpTime`` in seconds, ``sysName{sysName="..."} 1`` (snmp_exporter's way with strings),
  ``bgpPeerState{peer, afi, vrf}``, ``probe_snmp_bgp_table_present`` and
  ``probe_snmp_bgp_peers{mib}`` (no peer table is a finding there, not a failed poll),
  ``probe_snmp_oid_value{oid}`` for each numeric extra OID and ``probe_snmp_oid_info{oid,
  value} 1`` for each string one (sysDescr, sysLocation, entPhysicalSerialNum; at most
  ``OID_INFO_MAX`` characters);
- labels (ifName, ifDescr, ifAlias, sysName, VRF names, string OIDs) are UTF-8, else the
  target's ``label_encoding`` (GBK on Huawei and H3C), else UTF-8 with each run of bad bytes as
  one U+FFFD, as snmp_exporter does;
- derived from the previous poll of the same target: ``probe_snmp_if_utilization_ratio
  {direction="in|out"}`` (octets × 8 / seconds / speed; a Counter32 that wrapped is unwrapped,
  a counter that went back after a restart is not a rate), ``probe_snmp_agent_restarted``
  (1 on the poll that saw sysUpTime go back, else 0; a TimeTicks wrap after 497 days is not a
  restart) and ``probe_snmp_last_restart_timestamp_seconds`` once a restart was seen.

Failure reasons: ``timeout`` (no answer; the detail names the likely cause: a wrong community
or priv key makes an agent silent), ``refused`` (nothing listens: ICMP port unreachable),
``unreachable``, ``dns``, ``snmp_auth`` (the agent's USM report: unknown user, wrong digest,
security level; or authorizationError), ``snmp_error`` (another error-status), ``no_such_object``
(sysUpTime, the ifTable or an extra OID missing), ``protocol`` (an answer that is
not SNMP). A target fault never raises; cancellation (the scheduler's timeout) propagates.

Timing: the poll keeps within 90 % of the target's timeout when the target sets one, so the
probe's own, more precise reason wins over the scheduler's; each request waits ``timeout`` (by
default that budget, or 90 % of 5 s, split over the tries) and is sent ``retries + 1`` times.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import Closer, ProbeContext
from probes.options import SnmpOptions
from probes.snmp import bgp as bgp_tables
from probes.snmp.ber import (
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    INTEGER,
    IPADDRESS,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    OCTET_STRING,
    OID,
    TIMETICKS,
    Value,
)
from probes.snmp.errors import (
    SnmpAgentError,
    SnmpAuthError,
    SnmpError,
    SnmpProtocolError,
    SnmpRefused,
    SnmpTimeout,
    SnmpUnreachable,
)
from probes.snmp.session import BerSession, Credentials, Varbinds
from probes.snmp.transport import UdpTransport
from probes.snmp.usm import UsmUser

__all__ = [
    "FAMILIES",
    "IF_COLUMNS",
    "SnmpShared",
    "credentials",
    "probe",
    "utilization",
]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.SNMP

SYS_UPTIME: Final = "1.3.6.1.2.1.1.3.0"
SYS_NAME: Final = "1.3.6.1.2.1.1.5.0"
_IF: Final = "1.3.6.1.2.1.2.2.1."
_IFX: Final = "1.3.6.1.2.1.31.1.1.1."
IF_COLUMNS: Final = {
    "ifDescr": _IF + "2",
    "ifSpeed": _IF + "5",
    "ifAdminStatus": _IF + "7",
    "ifOperStatus": _IF + "8",
    "ifInOctets": _IF + "10",
    "ifInDiscards": _IF + "13",
    "ifInErrors": _IF + "14",
    "ifOutOctets": _IF + "16",
    "ifOutDiscards": _IF + "19",
    "ifOutErrors": _IF + "20",
    "ifName": _IFX + "1",
    "ifHCInOctets": _IFX + "6",
    "ifHCOutOctets": _IFX + "10",
    "ifHighSpeed": _IFX + "15",
    "ifAlias": _IFX + "18",
}
BGP_PEER_STATE: Final = bgp_tables.BGP4_PEER_STATE
BGP_STATES: Final = {1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm",
                     6: "established"}  # fmt: skip

# Exported per interface, in this order (the octets: HC, or 32-bit where HC is missing).
_EXPORTED: Final = (
    "ifOperStatus",
    "ifAdminStatus",
    "ifInErrors",
    "ifOutErrors",
    "ifInDiscards",
    "ifOutDiscards",
    "ifHighSpeed",
)
_COUNTER32_WRAP: Final = 1 << 32
_TIMETICKS_WRAP: Final = 1 << 32
DEFAULT_TIMEOUT: Final = 5.0
_BUDGET_SHARE: Final = 0.9
# Per-target state not touched for this long is dropped (targets renamed or removed).
_STATE_TTL: Final = 86400.0
# probe_snmp_oid_info's value label: at most this many characters (a sysDescr is a paragraph).
OID_INFO_MAX: Final = 256
_BAD_RUN: Final = re.compile("[\udc80-\udcff]+")


@dataclass(slots=True)
class _Counters:
    octets_in: int
    octets_out: int
    wide: bool  # 64-bit (HC) counters, else Counter32


@dataclass(eq=False, slots=True)
class _TargetState:
    key: tuple[object, ...]
    session: BerSession
    uptime_ticks: int | None = None
    polled_at: float | None = None  # monotonic
    counters: dict[str, _Counters] = field(default_factory=dict)
    last_restart: float | None = None  # unix seconds
    used: float = 0.0  # monotonic: last poll
    # With an ``interfaces`` filter: fetch only the kept rows (they were few at the last poll),
    # else walk the whole table.
    selective: bool = True
    # The BGP peer table that had rows last time: only its columns are walked, while it has.
    bgp_table: bgp_tables.Table | None = None


@dataclass(eq=False)
class SnmpShared:
    """What every snmp probe of the process shares: the UDP transport and each target's
    state between polls (its session, the last counters and sysUpTime)."""

    transport: UdpTransport
    states: dict[str, _TargetState] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        for name in [n for n, s in self.states.items() if now - s.used > _STATE_TTL]:
            del self.states[name]

    async def aclose(self) -> None:
        self.states.clear()
        await self.transport.aclose()


async def _open_shared() -> tuple[SnmpShared, Closer]:
    shared = SnmpShared(UdpTransport())
    return shared, shared.aclose


def credentials(opts: SnmpOptions) -> Credentials:
    if opts.version == "3":
        auth = opts.auth_key_secret if opts.level != "noAuthNoPriv" else None
        priv = opts.priv_key_secret if opts.level == "authPriv" else None
        user = UsmUser(
            (opts.user or "").encode(),
            opts.auth_protocol if auth is not None else None,
            auth.get_secret_value().encode() if auth is not None else None,
            opts.priv_protocol if priv is not None else None,
            priv.get_secret_value().encode() if priv is not None else None,
        )
        return Credentials("3", user=user, context=opts.context.encode())
    community = opts.community_secret
    secret = community.get_secret_value().encode() if community is not None else b""
    return Credentials(opts.version, community=secret)


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.lru_cache(maxsize=16384)
def _literal(host: str) -> str | None:
    try:
        info = socket.getaddrinfo(host, None, 0, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    return str(info[0][4][0])


async def _resolve(host: str) -> str | ProbeResult:
    literal = _literal(host)
    if literal is not None:
        return literal
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return failure("dns", f"cannot resolve {host}: {why}")
    if not infos:
        return failure("dns", f"{host} has no address")
    return str(infos[0][4][0])


def _timing(opts: SnmpOptions, target_timeout: float | None) -> tuple[float | None, float]:
    """(the poll's own budget, each request's timeout).

    The budget is 90 % of the target's timeout when the target sets one (the probe cannot see
    ``[defaults] timeout``: then only the scheduler bounds the poll). Each request waits
    ``snmp.timeout``, by default the budget (or 90 % of 5 s) shared among the tries.
    """
    known = target_timeout is not None
    budget = _BUDGET_SHARE * (target_timeout if target_timeout is not None else DEFAULT_TIMEOUT)
    per_request = opts.timeout if opts.timeout is not None else budget / (opts.retries + 1) * 0.95
    return (budget if known else None), max(0.01, per_request)


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, SnmpOptions)
    shared = await ctx.shared("snmp", _open_shared)
    host = target.host or ""
    address = await _resolve(host)
    if isinstance(address, ProbeResult):
        return address
    budget, per_request = _timing(opts, target.timeout)
    creds = credentials(opts)
    key = (address, opts.port, creds, per_request, opts.retries)
    state = shared.states.get(target.name)
    if state is None or state.key != key:
        session = BerSession(
            shared.transport,
            (address, opts.port),
            creds,
            timeout=per_request,
            retries=opts.retries,
        )
        if state is not None and state.key[:2] == key[:2]:
            state.key, state.session = key, session  # new settings, same agent: keep history
        else:
            state = shared.states[target.name] = _TargetState(key, session)
    now = time.monotonic()
    state.used = now
    if len(shared.states) > 64:
        shared.prune(now)
    where = f"{host}:{opts.port}" if host == address else f"{host} ({address}):{opts.port}"
    try:
        async with asyncio.timeout(budget):
            poll = await _poll(state, opts)
    except TimeoutError:
        return failure(
            "timeout",
            f"the poll of {where} did not finish within {budget or 0:g} s "
            "(90 % of the target's timeout): the agent answers too slowly",
        )
    except SnmpTimeout as exc:
        return failure("timeout", _timeout_detail(where, opts, exc))
    except SnmpRefused as exc:
        return failure("refused", str(exc))
    except SnmpUnreachable as exc:
        return failure("unreachable", str(exc))
    except SnmpAuthError as exc:
        return failure("snmp_auth", str(exc))
    except SnmpAgentError as exc:
        if exc.status in ("authorizationError", "noAccess"):
            return failure(
                "snmp_auth",
                f"{exc}: the agent does not let this user or community read it",
            )
        return failure("snmp_error", str(exc))
    except SnmpProtocolError as exc:
        return failure("protocol", str(exc))
    except SnmpError as exc:  # pragma: no cover - every subclass is handled above
        return failure("snmp_error", str(exc))
    return _result(state, opts, poll, time.time(), time.monotonic())


def _timeout_detail(where: str, opts: SnmpOptions, exc: SnmpTimeout) -> str:
    tries = f"{exc.tries} {'try' if exc.tries == 1 else 'tries'}, {exc.timeout:g} s each"
    head = f"no answer from {where} ({tries}): the agent is down or unreachable, or it ignores us"
    if opts.version != "3":
        return (
            f"{head}; an agent does not answer a wrong community, so check the community "
            "and the agent's ACL for this manager's address"
        )
    if opts.level == "authPriv":
        return (
            f"{head}; an agent drops a request it cannot decrypt, so check the priv key and "
            f"priv protocol of user {opts.user!r}, and the agent's ACL"
        )
    return f"{head}; check the agent's ACL for this manager's address"


# --------------------------------------------------------------------------- the poll


@dataclass(slots=True)
class _Poll:
    uptime: Value
    name: Value
    columns: dict[str, Varbinds]
    bgp: dict[str, Varbinds] | None  # bgp_tables.COLUMNS walked, with ``bgp = true``
    extra: Varbinds
    kept: set[str] | None  # the ifIndexes the ``interfaces`` filter keeps; None: no filter


_NAME_COLUMNS: Final = ("ifDescr", "ifName", "ifAlias")
_GET_BATCH: Final = 32  # varbinds per GET (session.BerSession.get)


async def _poll(state: _TargetState, opts: SnmpOptions) -> _Poll:
    session = state.session
    uptime, name = await session.get([SYS_UPTIME, SYS_NAME])
    keep = _keeper(opts)
    kept: list[str] | None = None
    if keep is not None and opts.version != "1" and state.selective:
        by_name, kept = await _selected_interfaces(state, opts, keep)
    else:
        walked = await session.walk(list(IF_COLUMNS.values()), opts.max_repetitions)
        by_name = {label: walked[oid] for label, oid in IF_COLUMNS.items()}
        if keep is not None:
            kept, total = _kept(by_name, keep, opts.label_encoding)
            # would fetching only the kept rows pay off next time? (never for v1)
            state.selective = opts.version != "1" and _fetch_pays(len(kept), len(total), opts)
    bgp = None
    if opts.bgp:
        table = state.bgp_table
        bgp = await session.walk(
            table.columns if table else bgp_tables.COLUMNS, opts.max_repetitions
        )
        if table is not None and not bgp[table.state]:  # gone: look in every table again
            bgp = await session.walk(bgp_tables.COLUMNS, opts.max_repetitions)
    extra = await session.get([o.lstrip(".") for o in opts.oids]) if opts.oids else []
    return _Poll(uptime[1], name[1], by_name, bgp, extra, None if kept is None else set(kept))


Keep = Callable[[str, str, str, str], bool]  # (ifIndex, ifName, ifDescr, ifAlias) -> kept


def _keeper(opts: SnmpOptions) -> Keep | None:
    """What the ``interfaces`` filter keeps, and every circuit; None: keep all."""
    if not opts.interfaces:
        return None
    pattern = _regex(opts.interfaces)

    def keep(index: str, name: str, descr: str, alias: str) -> bool:
        if any(pattern.search(t) for t in (name, descr, alias) if t):
            return True
        return opts.circuit_of(index, name, descr, alias) is not None

    return keep


def _kept(
    by_name: dict[str, Varbinds], keep: Keep, encoding: str | None = None
) -> tuple[list[str], list[str]]:
    """(the ifIndexes ``keep`` selects by ifName, ifDescr or ifAlias; all ifIndexes)"""
    texts = {c: _by_index(by_name[c], IF_COLUMNS[c]) for c in _NAME_COLUMNS}
    indices = list(texts["ifDescr"] or texts["ifName"])
    kept = [
        index
        for index in indices
        if keep(
            index,
            _text(texts["ifName"].get(index), encoding),
            _text(texts["ifDescr"].get(index), encoding),
            _text(texts["ifAlias"].get(index), encoding),
        )
    ]
    return kept, indices


_OTHER_COLUMNS: Final = tuple(c for c in IF_COLUMNS if c not in _NAME_COLUMNS)


def _fetch_pays(kept: int, total: int, opts: SnmpOptions) -> bool:
    """Whether GETs of the kept rows take no more round trips than a walk of the table."""
    gets = -(-kept * len(_OTHER_COLUMNS) // _GET_BATCH)
    walks = -(-total // opts.max_repetitions)
    return gets <= walks


async def _selected_interfaces(
    state: _TargetState, opts: SnmpOptions, keep: Keep
) -> tuple[dict[str, Varbinds], list[str]]:
    """The IF-MIB columns for the interfaces ``keep`` selects, without walking the others, and
    those interfaces' ifIndexes.

    A carrier's edge router has hundreds of (sub)interfaces and the NOC watches two uplinks:
    walk only the three name columns, then GET the other columns of the kept rows. When so many
    rows are kept that the GETs would take more round trips than a walk, walk the other columns
    this time and the whole table from the next poll on (``state.selective``; a full walk
    checks again). Not for v1: each Counter64 column it cannot carry would cost a noSuchName
    round trip per row.
    """
    session = state.session
    names = await session.walk([IF_COLUMNS[c] for c in _NAME_COLUMNS], opts.max_repetitions)
    by_name = {c: names[IF_COLUMNS[c]] for c in _NAME_COLUMNS}
    kept, indices = _kept(by_name, keep, opts.label_encoding)
    state.selective = _fetch_pays(len(kept), len(indices), opts)
    if not state.selective:
        walked = await session.walk([IF_COLUMNS[c] for c in _OTHER_COLUMNS], opts.max_repetitions)
        by_name.update({c: walked[IF_COLUMNS[c]] for c in _OTHER_COLUMNS})
        return by_name, kept
    wanted = [f"{IF_COLUMNS[c]}.{index}" for index in kept for c in _OTHER_COLUMNS]
    values = dict(await session.get(wanted)) if wanted else {}
    for c in _OTHER_COLUMNS:
        oids = (f"{IF_COLUMNS[c]}.{index}" for index in kept)
        by_name[c] = [(oid, values[oid]) for oid in oids]
    return by_name, kept


def _missing(value: Value) -> bool:
    return value.tag in (NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW)


def _number(value: Value) -> int | None:
    if value.tag in (INTEGER, COUNTER32, COUNTER64, GAUGE32, TIMETICKS) and isinstance(
        value.data, int
    ):
        return value.data
    return None


def _text(value: Value | None, encoding: str | None = None) -> str:
    if value is None or not isinstance(value.data, bytes):
        return ""
    return decode_label(value.data.rstrip(b"\0"), encoding)


def decode_label(data: bytes, encoding: str | None = None) -> str:
    """A label's text: UTF-8, else the target's ``label_encoding`` (GBK descriptions on Huawei
    and H3C), else UTF-8 with each run of bad bytes as one U+FFFD (as snmp_exporter does)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # surrogateescape turns each bad byte into one lone surrogate: a run of them is one bad run
    return _BAD_RUN.sub("\ufffd", data.decode("utf-8", errors="surrogateescape"))


def _by_index(varbinds: Varbinds, column: str) -> dict[str, Value]:
    start = len(column) + 1
    return {oid[start:]: value for oid, value in varbinds}


def utilization(
    previous: _Counters | None,
    current: _Counters,
    seconds: float,
    speed_bps: float,
) -> tuple[float | None, float | None]:
    """(in, out) utilization ratios between two polls; None where there is no rate: no
    previous poll, no speed, a counter that went back (a 64-bit one, or a 32-bit one by more
    than a wrap could explain), or the width changed."""
    if previous is None or seconds <= 0 or speed_bps <= 0 or previous.wide != current.wide:
        return None, None
    capacity = speed_bps * seconds / 8  # octets the link can carry in that time

    def one(before: int, after: int) -> float | None:
        delta = after - before
        if delta < 0:
            if current.wide:
                return None  # a 64-bit counter does not wrap in practice: a reset
            delta += _COUNTER32_WRAP
            if delta > 1.5 * capacity:
                return None  # more than the link could carry: a reset, not a wrap
        ratio = delta / capacity
        return ratio if ratio <= 1.5 else None

    return one(previous.octets_in, current.octets_in), one(previous.octets_out, current.octets_out)


def _restarted(state: _TargetState, uptime_ticks: int, now_mono: float) -> bool:
    """sysUpTime went back: a restart, unless TimeTicks wrapped (every 497 days)."""
    before = state.uptime_ticks
    if before is None or uptime_ticks >= before:
        return False
    if state.polled_at is not None:
        expected = before + (now_mono - state.polled_at) * 100
        if expected >= _TIMETICKS_WRAP and abs(expected - _TIMETICKS_WRAP - uptime_ticks) < 3000:
            return False  # wrapped within 30 s of where the clock says it should be
    return True


def _result(
    state: _TargetState, opts: SnmpOptions, poll: _Poll, now: float, now_mono: float
) -> ProbeResult:
    samples: list[Sample] = []
    problems: list[str] = []
    uptime_ticks = _number(poll.uptime)
    restarted = False
    if uptime_ticks is None:
        problems.append("sysUpTime.0 is missing")
    else:
        restarted = _restarted(state, uptime_ticks, now_mono)
        if restarted:
            state.last_restart = now - uptime_ticks / 100
            state.counters.clear()  # counters started again: no rate across the restart
        samples.append(Sample("sysUpTime", uptime_ticks / 100))
    encoding = opts.label_encoding
    sys_name = _text(poll.name, encoding)
    if not _missing(poll.name):
        samples.append(Sample("sysName", 1.0, (("sysName", sys_name),)))
    samples.append(Sample("probe_snmp_agent_restarted", 1.0 if restarted else 0.0))
    if state.last_restart is not None:
        samples.append(Sample("probe_snmp_last_restart_timestamp_seconds", state.last_restart))

    seconds = now_mono - state.polled_at if state.polled_at is not None else 0.0
    interfaces = _interfaces(state, opts, poll, seconds, samples)
    if interfaces[1] == 0:
        problems.append("the ifTable is empty or not in the agent's view")
    bgp_text = _bgp(state, poll.bgp, encoding, samples) if poll.bgp is not None else ""
    for oid, value in poll.extra:
        number = _number(value)
        if _missing(value):
            problems.append(f"{oid} does not exist on the agent")
        elif number is not None:
            samples.append(Sample("probe_snmp_oid_value", float(number), (("oid", oid),)))
        else:
            text = _info_text(value, encoding)
            if text is not None:
                samples.append(Sample("probe_snmp_oid_info", 1.0, (("oid", oid), ("value", text))))
    state.uptime_ticks = uptime_ticks
    state.polled_at = now_mono

    kept, total, down = interfaces
    name = f"{sys_name} " if sys_name else ""
    up_text = _duration(uptime_ticks / 100) if uptime_ticks is not None else "unknown"
    restart_text = "; the agent restarted since the last poll" if restarted else ""
    detail = (
        f"{name}up {up_text}; {kept} of {total} interfaces kept, {down} of them down"
        f"{bgp_text}{restart_text}"
    )
    if problems:
        return failure("no_such_object", "; ".join(problems) + f" ({detail})", tuple(samples))
    return ProbeResult(True, None, detail, tuple(samples))


def _bgp(
    state: _TargetState, walked: dict[str, Varbinds], encoding: str | None, samples: list[Sample]
) -> str:
    """Append the BGP samples; the detail's BGP words.

    No peer table is a finding on these series (``probe_snmp_bgp_table_present 0``,
    ``probe_snmp_bgp_peers 0``), not a failed poll: the interfaces were read.
    """
    table, found, bad = bgp_tables.peers(walked, functools.partial(decode_label, encoding=encoding))
    state.bgp_table = table
    mib = table.mib if table is not None else ""
    samples.append(Sample("probe_snmp_bgp_table_present", 1.0 if table is not None else 0.0))
    samples.append(Sample("probe_snmp_bgp_peers", float(len(found)), (("mib", mib),)))
    if table is None:
        return (
            "; bgp = true, but the agent lists no BGP peer (BGP4-MIB, CISCO-BGP4-MIB, "
            "BGP4-V2-MIB-JUNIPER, ARISTA-BGP4V2-MIB and HUAWEI-BGP-VPN-MIB peer tables empty "
            "or not in its view)"
        )
    established = 0
    for peer in found:
        labels = (("peer", peer.peer), ("afi", peer.afi), ("vrf", peer.vrf))
        samples.append(Sample("bgpPeerState", float(peer.state), labels))
        established += peer.state == 6
    skipped = f", {bad} {'row' if bad == 1 else 'rows'} not understood" if bad else ""
    return f"; BGP {established}/{len(found)} peers established ({mib}{skipped})"


def _info_text(value: Value, encoding: str | None) -> str | None:
    """An extra OID's value as probe_snmp_oid_info's ``value`` label, or None: not a string."""
    data = value.data
    if value.tag == OCTET_STRING and isinstance(data, bytes):
        text = decode_label(data.rstrip(b"\0"), encoding)
    elif value.tag == IPADDRESS and isinstance(data, bytes) and len(data) == 4:
        text = ".".join(str(b) for b in data)
    elif value.tag == OID and isinstance(data, str):
        text = data
    else:
        return None
    return text if len(text) <= OID_INFO_MAX else text[: OID_INFO_MAX - 1] + "\u2026"


def _interfaces(
    state: _TargetState,
    opts: SnmpOptions,
    poll: _Poll,
    seconds: float,
    samples: list[Sample],
) -> tuple[int, int, int]:
    """Append the interface samples; (kept, total, kept and down)."""
    cols = {name: _by_index(varbinds, IF_COLUMNS[name]) for name, varbinds in poll.columns.items()}
    indices = list(cols["ifDescr"] or cols["ifOperStatus"] or cols["ifName"])
    counters: dict[str, _Counters] = {}
    kept = down = 0
    encoding = opts.label_encoding
    for index in indices:
        if poll.kept is not None and index not in poll.kept:
            continue
        if_name = _text(cols["ifName"].get(index), encoding)
        descr = _text(cols["ifDescr"].get(index), encoding)
        alias = _text(cols["ifAlias"].get(index), encoding)
        kept += 1
        circuit = opts.circuit_of(index, if_name, descr, alias) if opts.circuits else None
        labels = (
            ("ifIndex", index),
            ("ifName", if_name),
            ("ifDescr", descr),
            ("ifAlias", alias),
            ("circuit", circuit.name if circuit is not None else ""),
        )
        for column in _EXPORTED:
            value = cols[column].get(index)
            number = _number(value) if value is not None else None
            if number is not None:
                samples.append(Sample(column, float(number), labels))
        oper = _number(cols["ifOperStatus"].get(index) or Value(NO_SUCH_OBJECT))
        down += oper is not None and oper != 1
        hc_in = _number(cols["ifHCInOctets"].get(index) or Value(NO_SUCH_OBJECT))
        hc_out = _number(cols["ifHCOutOctets"].get(index) or Value(NO_SUCH_OBJECT))
        if hc_in is not None and hc_out is not None:
            current = _Counters(hc_in, hc_out, wide=True)
            samples.append(Sample("ifHCInOctets", float(hc_in), labels))
            samples.append(Sample("ifHCOutOctets", float(hc_out), labels))
        else:
            lo_in = _number(cols["ifInOctets"].get(index) or Value(NO_SUCH_OBJECT))
            lo_out = _number(cols["ifOutOctets"].get(index) or Value(NO_SUCH_OBJECT))
            if lo_in is None or lo_out is None:
                continue
            current = _Counters(lo_in, lo_out, wide=False)
            samples.append(Sample("ifInOctets", float(lo_in), labels))
            samples.append(Sample("ifOutOctets", float(lo_out), labels))
        counters[index] = current
        high = _number(cols["ifHighSpeed"].get(index) or Value(NO_SUCH_OBJECT))
        low = _number(cols["ifSpeed"].get(index) or Value(NO_SUCH_OBJECT))
        speed = high * 1e6 if high else float(low or 0)
        ratio_in, ratio_out = utilization(state.counters.get(index), current, seconds, speed)
        if ratio_in is not None:
            samples.append(
                Sample("probe_snmp_if_utilization_ratio", ratio_in, (*labels, ("direction", "in")))
            )
        if ratio_out is not None:
            samples.append(
                Sample(
                    "probe_snmp_if_utilization_ratio", ratio_out, (*labels, ("direction", "out"))
                )
            )
    state.counters = counters
    return kept, len(indices), down


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
