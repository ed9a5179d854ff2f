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

__all__ = ["Ledger", "circuit_subject", "subjects"]


def circuit_subject(device: str, circuit: str) -> str:
    """The ledger's name of a device's circuit: ``viettel-edge-router/viettel-uplink``."""
    return f"{device}/{circuit}"


def subjects(targets: Iterable[Target]) -> list[str]:
    """Every name the ledger keeps outages under: the targets and their named circuits."""
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
            return True
        if obs.result.success:
            self._circuits(target, obs, phase)
        return False

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
            down = value != 1 and admin.get(index, 1.0) == 1
            open_ = self._down.get(name)
            if down and open_ is None:
                labels = {**target.labels, "circuit": circuit, "device": target.name}
                if carriers[circuit]:
                    labels["carrier"] = str(carriers[circuit])
                outage = Outage(
                    target=name,
                    group=target.group,
                    labels=labels,
                    start=obs.started,
                    end=None,
                    reason="interface_down",
                    detail=f"ifOperStatus {value:.0f} on ifIndex {index}",
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

    def close_removed(self, targets: Iterable[str], now: float) -> None:
        """Targets gone from the settings: their open outages end now."""
        names = set(targets)
        for name in [n for n in self._down if n not in names]:
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
    ) -> list[Outage]:
        """Every recorded outage overlapping [since, until), oldest first."""
        return await self._db.run(db.query_outages(target, group, since, until), write=False)
