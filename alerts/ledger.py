"""The outage ledger: every up/down change of a target opens or closes an outage, whatever
the rules say. The open outages are kept in memory and in SQLite; the closed ones only in
SQLite, read back for the API and the availability report.

An outage begins at the first failed result and ends at the first good one; it carries the
phase and the maintenance window (if any) it began in, so the report can leave it out.

A carrier's availability is its circuits' (issue 14): an SNMP target's named circuits
(``snmp.circuits``) are ledger subjects of their own, ``DEVICE/CIRCUIT`` (``circuit_subject``),
down while the port is admin-up and not up, with the circuit's carrier and name as labels. A
result that did not reach the device says nothing of its circuits: their state is unknown,
and an open circuit outage stays open until a result says the port is up again.

BGP peers likewise (issue 14, point 2): an SNMP target with ``snmp.bgp = true`` has each peer
its ``bgpPeerState`` samples name as a subject ``DEVICE/bgp:PEER`` (``bgp_subject``; a VRF
and an unusual address family are added to the name, as the samples are per peer, afi, vrf), down
while the state is not established (6), with the device's labels (its ``carrier`` first of
all) and ``peer``/``device``. The settings do not list peers, so the first time one is seen it
is written to ``ledger_subjects``: the report gives it a row (watched when its device is)
from then on, also in a period when it never went down. A result without BGP samples (the
device unreachable, the walk failed) leaves the peers as they were.

The NOC's note on an outage (``note``) is kept in its row (``outages.note``) and, for an open
one, with the outage in memory too, so the cards can show it without reading SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from alerts import db
from alerts.maintenance import Maintenance
from alerts.model import Outage
from monitor.config import Target
from monitor.core.labels import target_labels
from monitor.runtime.store import Observation, TargetState
from probes.options import SnmpOptions

__all__ = ["BGP_ESTABLISHED", "Ledger", "bgp_device", "bgp_subject", "circuit_subject", "subjects"]

BGP_ESTABLISHED = 6.0  # BGP4-MIB bgpPeerState established(6)
_BGP = "/bgp:"


def circuit_subject(device: str, circuit: str) -> str:
    """The ledger's name of a device's circuit: ``viettel-edge-router/viettel-uplink``."""
    return f"{device}/{circuit}"


_DEFAULT_VRF = ("", "0", "default")  # BGP4-MIB's none, Huawei's public instance, Cisco's


def bgp_subject(device: str, peer: str, vrf: str = "", afi: str = "") -> str:
    """The ledger's name of a device's BGP peer: ``viettel-edge-router/bgp:10.0.0.1``; a peer
    in a VRF adds ``@VRF``, an address family other than IPv4/IPv6 (Huawei's VPLS, L2VPN)
    ``#AFI``: the probe's samples are one per (peer, afi, vrf)."""
    name = f"{device}{_BGP}{peer}"
    if vrf not in _DEFAULT_VRF:
        name += f"@{vrf}"
    if afi not in ("", "ipv4", "ipv6"):
        name += f"#{afi}"
    return name


def bgp_device(name: str) -> str | None:
    """The device of a BGP peer's subject name, None for any other name."""
    device, sep, _ = name.partition(_BGP)
    return device if sep else None


def _bgp_on(target: Target) -> bool:
    opts = target.options
    return isinstance(opts, SnmpOptions) and opts.bgp


def subjects(targets: Iterable[Target]) -> list[str]:
    """Every name the ledger keeps outages under that the settings name: the targets and their
    named circuits (a BGP peer is kept while its device has ``bgp = true``: ``close_removed``)."""
    out: list[str] = []
    for target in targets:
        out.append(target.name)
        opts = target.options
        if isinstance(opts, SnmpOptions):
            out += [circuit_subject(target.name, c.name) for c in opts.circuits]
    return out


class Ledger:
    def __init__(self, database: db.AlertDB, maintenance: Maintenance) -> None:
        self._db = database
        self._maintenance = maintenance
        self._down: dict[str, Outage] = {}
        self._peers_seen: set[str] = set()  # BGP subjects written to ledger_subjects
        self._bgp_devices: set[str] = set()  # targets with bgp = true, as ``record`` saw them

    def load(self, outages: Iterable[Outage]) -> None:
        """The outages the database had open (netmon restarted while they lasted)."""
        self._down = {o.target: o for o in outages}

    def open(self, name: str) -> Outage | None:
        return self._down.get(name)

    def record(self, state: TargetState, obs: Observation, phase: str | None) -> bool:
        """One result of ``state``'s target; whether it closed an outage (the target is back)."""
        target = state.target
        open_ = self._down.get(target.name)
        if not obs.result.success and open_ is None:
            outage = Outage(
                target=target.name,
                group=target.group,
                labels=dict(target.labels),
                start=obs.started,
                end=None,
                reason=obs.result.reason,
                detail=obs.result.detail,
                phase=phase,
                maintenance=self._maintenance.matching(target_labels(target)),
            )
            self._down[target.name] = outage
            self._db.submit(db.outage_open(outage))
        elif obs.result.success and open_ is not None:
            del self._down[target.name]
            self._db.submit(db.outage_close(target.name, open_.start, obs.started))
            self._circuits(target, obs, phase)
            self._bgp(target, obs, phase)
            return True
        if obs.result.success:
            self._circuits(target, obs, phase)
            self._bgp(target, obs, phase)
        return False

    def _bgp(self, target: Target, obs: Observation, phase: str | None) -> None:
        """The BGP peers' outages, from the ``bgpPeerState`` samples of a good result."""
        if not _bgp_on(target):
            self._bgp_devices.discard(target.name)
            return
        self._bgp_devices.add(target.name)
        for sample in obs.result.samples:
            if sample.name != "bgpPeerState":
                continue
            found = dict(sample.labels)
            peer = found.get("peer", "")
            if not peer:
                continue
            vrf, afi = found.get("vrf", ""), found.get("afi", "")
            name = bgp_subject(target.name, peer, vrf, afi)
            if name not in self._peers_seen:
                self._peers_seen.add(name)
                self._db.submit(db.save_subject(name, target.name, "bgp", obs.started))
            labels = {**target.labels, "peer": peer, "device": target.name}
            labels.update({k: v for k, v in (("vrf", vrf), ("afi", afi)) if v})
            self._part(
                name, sample.value != BGP_ESTABLISHED, target, labels, obs, phase,
                "bgp_down", f"bgpPeerState {sample.value:.0f} (not established)",
            )  # fmt: skip

    def _circuits(self, target: Target, obs: Observation, phase: str | None) -> None:
        """The named circuits' outages, from the interface samples of a good result."""
        opts = target.options
        if not isinstance(opts, SnmpOptions) or not opts.circuits:
            return
        carriers = {c.name: c.carrier for c in opts.circuits}
        oper: dict[str, tuple[str, float]] = {}  # ifIndex -> (circuit, ifOperStatus)
        admin: dict[str, float] = {}
        for sample in obs.result.samples:
            if sample.name not in ("ifOperStatus", "ifAdminStatus"):
                continue
            labels = dict(sample.labels)
            circuit, index = labels.get("circuit", ""), labels.get("ifIndex", "")
            if not circuit or circuit not in carriers:
                continue
            if sample.name == "ifOperStatus":
                oper[index] = (circuit, sample.value)
            else:
                admin[index] = sample.value
        for index, (circuit, value) in oper.items():
            name = circuit_subject(target.name, circuit)
            labels = {**target.labels, "circuit": circuit, "device": target.name}
            if carriers[circuit]:
                labels["carrier"] = str(carriers[circuit])
            self._part(
                name, value != 1 and admin.get(index, 1.0) == 1, target, labels, obs, phase,
                "interface_down", f"ifOperStatus {value:.0f} on ifIndex {index}",
            )  # fmt: skip

    def _part(
        self,
        name: str,
        down: bool,
        target: Target,
        labels: dict[str, str],
        obs: Observation,
        phase: str | None,
        reason: str,
        detail: str,
    ) -> None:
        """A device's part (a circuit, a BGP peer) seen down or up: open or close its outage."""
        open_ = self._down.get(name)
        if down and open_ is None:
            outage = Outage(
                target=name,
                group=target.group,
                labels=labels,
                start=obs.started,
                end=None,
                reason=reason,
                detail=detail,
                phase=phase,
                maintenance=self._maintenance.matching({**target_labels(target), **labels}),
            )
            self._down[name] = outage
            self._db.submit(db.outage_open(outage))
        elif not down and open_ is not None:
            del self._down[name]
            self._db.submit(db.outage_close(name, open_.start, obs.started))

    def ack(self, name: str, ack: dict[str, Any]) -> asyncio.Future[Any] | None:
        """An acknowledgement of an alert of ``name``, kept with its open outage (if it is
        down: a loss alert of a target that answers has no outage to go with); the write's
        future, or None."""
        open_ = self._down.get(name)
        if open_ is None:
            return None
        self._down[name] = dataclasses.replace(open_, ack=ack)
        return self._db.submit(db.outage_ack(name, open_.start, ack))

    def open_notes(self) -> dict[str, dict[str, Any]]:
        """The notes on open outages by the target they belong to (a circuit's and a peer's
        go to their device; the target's own note first)."""
        out: dict[str, dict[str, Any]] = {}
        for outage in self._down.values():
            if outage.note is None:
                continue
            device = outage.labels.get("device") if "/" in outage.target else None
            owner = device or outage.target
            if owner not in out or owner == outage.target:
                out[owner] = outage.note
        return out

    def note(self, outage: Outage) -> None:
        """``outage`` (read back after its note was written): an open one keeps its note in
        memory too (the cards show it)."""
        open_ = self._down.get(outage.target)
        if open_ is not None and open_.start == outage.start:
            self._down[outage.target] = dataclasses.replace(open_, note=outage.note, id=outage.id)

    def close_removed(self, targets: Iterable[Target] | Iterable[str], now: float) -> None:
        """Subjects gone from the settings: their open outages end now. Given the targets, a
        BGP peer stays while its device is there with ``bgp = true``; given names, a peer
        stays while its device is among them and ``record`` last saw it with BGP on."""
        items = list(targets)
        bgp_on: set[str] = set()
        if all(isinstance(t, str) for t in items):
            names = {str(t) for t in items}
            bgp_on = names & self._bgp_devices
        else:
            found = [t for t in items if isinstance(t, Target)]
            names = set(subjects(found))
            bgp_on = {t.name for t in found if _bgp_on(t)}
            self._bgp_devices &= bgp_on
        for name in [n for n in self._down if n not in names and bgp_device(n) not in bgp_on]:
            outage = self._down.pop(name)
            self._db.submit(db.outage_close(name, outage.start, now))

    def resync(self) -> None:
        """The database took a write again after failing: write the open outages again."""
        for outage in self._down.values():
            self._db.submit(db.outage_open(outage))

    async def query(
        self,
        target: str | None = None,
        group: str | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        device: str | None = None,
    ) -> list[Outage]:
        """Every recorded outage overlapping [since, until), oldest first (``device``: those
        of its circuits and BGP peers)."""
        job = db.query_outages(target, group, since, until, device=device)
        return await self._db.run(job, write=False)
