"""An SNMP device's page: its ports and circuits, and its BGP sessions (issue 14, the wall).

Built from the target's latest result and its short history in the store, nothing else: a
port's state, alias and circuit (``snmp.circuits``: named circuits first, then ports an
operator left up that are not up, then the rest, folded), its utilisation each way, its error
counters, and since when it has been in its state, as far back as the history goes (``before``
the oldest result otherwise). InterfaceDown pages only circuits and transitions; everything
else it sees is shown here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.config import Target
from monitor.core.i18n import Lang, bgp_state_text, local_time, port_state_text
from monitor.runtime.store import Observation
from probes.options import SnmpOptions
from probes.snmp.interfaces import Interface, interfaces

__all__ = ["BgpRow", "Device", "PortRow", "device"]


@dataclass(frozen=True, slots=True)
class PortRow:
    name: str
    alias: str
    circuit: str  # the circuit's title (or name), "" for a port no circuit names
    state: str  # in words
    bad: bool  # admin-up and not up
    util_in: str
    util_out: str
    errors: str
    since: str


@dataclass(frozen=True, slots=True)
class BgpRow:
    peer: str
    state: str
    bad: bool
    since: str


@dataclass(frozen=True, slots=True)
class Device:
    ports: tuple[PortRow, ...]  # circuits, then ports not up, then the rest
    folded: int  # how many of the last ports are "up and unnamed", shown folded
    bgp: tuple[BgpRow, ...]


def _since(
    history: Sequence[Observation], name: str, key: tuple[str, str], value: float, zone: ZoneInfo
) -> str:
    """When the series (``name`` with label ``key``) took ``value``, as far back as the
    history reaches."""
    since: float | None = None
    for obs in reversed(history):
        seen = next(
            (s.value for s in obs.result.samples if s.name == name and key in s.labels),
            None,
        )
        if seen is None or seen != value:
            break
        since = obs.started
    if since is None:
        return ""
    oldest = history[0].started if history else since
    text = local_time(since, zone)
    return f"≤ {text}" if since == oldest else text


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def device(
    target: Target, history: Sequence[Observation], lang: Lang, zone: ZoneInfo
) -> Device | None:
    """The device section of ``target``'s page; None when it is no SNMP target or has no
    result yet."""
    if target.kind != "snmp" or not history:
        return None
    latest = history[-1].result.samples
    opts = target.options if isinstance(target.options, SnmpOptions) else None
    titles = {c.name: c.title or c.name for c in (opts.circuits if opts else [])}
    util: dict[tuple[str, str], float] = {}
    errors: dict[tuple[str, str], float] = {}
    bgp: list[tuple[str, float]] = []
    for s in latest:
        labels = dict(s.labels)
        if s.name == "probe_snmp_if_utilization_ratio":
            util[(labels.get("ifIndex", ""), labels.get("direction", ""))] = s.value
        elif s.name in ("ifInErrors", "ifOutErrors"):
            errors[(labels.get("ifIndex", ""), s.name)] = s.value
        elif s.name == "bgpPeerState":
            bgp.append((labels.get("peer", ""), s.value))

    def row(port: Interface) -> PortRow:
        i = port.index
        inn, out = errors.get((i, "ifInErrors")), errors.get((i, "ifOutErrors"))
        return PortRow(
            name=port.name or port.descr or i,
            alias=port.alias,
            circuit=titles.get(port.circuit, port.circuit),
            state=port_state_text(port.state, lang),
            bad=port.admin == 1 and port.oper != 1,
            util_in=_percent(util.get((i, "in"))),
            util_out=_percent(util.get((i, "out"))),
            errors="" if inn is None and out is None else f"{inn or 0:.0f} / {out or 0:.0f}",
            since=_since(history, "ifOperStatus", ("ifIndex", i), float(port.oper or 0), zone),
        )

    ports = interfaces(latest)
    named = [p for p in ports if p.circuit]
    bad = [p for p in ports if not p.circuit and p.admin == 1 and p.oper != 1]
    rest = [p for p in ports if not p.circuit and not (p.admin == 1 and p.oper != 1)]
    rows = tuple(row(p) for p in (*named, *bad, *rest))
    peers = tuple(
        BgpRow(
            peer=peer,
            state=bgp_state_text(int(state)),
            bad=int(state) != 6,
            since=_since(history, "bgpPeerState", ("peer", peer), state, zone),
        )
        for peer, state in sorted(bgp)
    )
    return Device(ports=rows, folded=len(rest), bgp=peers)
