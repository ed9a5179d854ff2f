"""The interfaces of one SNMP result, as a device's page shows them (no I/O, no asyncio).

InterfaceDown pages only a named circuit or a port that went from up to down; the rest (ports
never up, notPresent, dormant, lowerLayerDown) is for the device's page: ``interfaces(samples)``
reads them back from a result's samples, ``not_up(samples)`` the admin-up ones that are not up,
circuits first. The words are IF-MIB's (``OPER_STATUS``); a page translates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from probes.base import Sample

__all__ = ["OPER_STATUS", "Interface", "interfaces", "not_up"]

# IF-MIB ifOperStatus (RFC 2863)
OPER_STATUS = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}


@dataclass(frozen=True, slots=True)
class Interface:
    index: str
    name: str
    descr: str
    alias: str
    circuit: str  # the snmp.circuits entry's name, "" when none
    oper: int | None
    admin: int | None

    @property
    def state(self) -> str:
        """IF-MIB's word for ifOperStatus, or "adminDown" for a port an operator shut."""
        if self.admin is not None and self.admin != 1:
            return "adminDown"
        if self.oper is None:
            return "unknown"
        return OPER_STATUS.get(self.oper, str(self.oper))


def interfaces(samples: Iterable[Sample]) -> list[Interface]:
    """Every interface of a result (ifOperStatus and ifAdminStatus samples), by ifIndex."""
    oper: dict[str, tuple[dict[str, str], float]] = {}
    admin: dict[str, float] = {}
    for sample in samples:
        if sample.name not in ("ifOperStatus", "ifAdminStatus"):
            continue
        labels = dict(sample.labels)
        index = labels.get("ifIndex", "")
        if sample.name == "ifOperStatus":
            oper[index] = (labels, sample.value)
        else:
            admin[index] = sample.value
    out = []
    for index, (labels, value) in oper.items():
        out.append(
            Interface(
                index=index,
                name=labels.get("ifName", ""),
                descr=labels.get("ifDescr", ""),
                alias=labels.get("ifAlias", ""),
                circuit=labels.get("circuit", ""),
                oper=int(value),
                admin=int(admin[index]) if index in admin else None,
            )
        )
    out.sort(key=lambda i: (int(i.index) if i.index.isdigit() else 1 << 62, i.index))
    return out


def not_up(samples: Iterable[Sample]) -> list[Interface]:
    """The admin-up interfaces that are not up: named circuits first, then by ifIndex."""
    rows = [i for i in interfaces(samples) if i.admin in (1, None) and i.oper != 1]
    return sorted(rows, key=lambda i: not i.circuit)
