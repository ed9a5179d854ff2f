"""A lab agent shaped like a recording of real gear: a Ruijie router with 395 ports, most of
them not up (issue 12: 137 InterfaceDown pages at start-up on the recording).

Ports: three carrier uplinks the settings name as circuits (Gi0/0/1 up, Gi0/0/2 down,
Gi0/0/3 lowerLayerDown: its optic is out), every 7th port shut by an operator, every 3rd
other port admin-up and never up, in turn down (2), dormant (5), notPresent (6) and
lowerLayerDown (7); the rest up.
"""

from __future__ import annotations

from typing import Any

from monitor.lab.inventory import SnmpDevice, SnmpInterface

__all__ = ["CIRCUITS", "NEVER_UP", "PORTS", "circuits", "not_up_admin_up", "ruijie"]

PORTS = 395
NEVER_UP = (2, 5, 6, 7)
# ifIndex -> (circuit name, ifAlias, ifOperStatus at boot)
CIRCUITS = {
    1: ("viettel-uplink", "Uplink Viettel - kênh truyền hội trường", 1),
    2: ("vnpt-uplink", "Uplink VNPT - kênh chính", 2),
    3: ("fpt-backup", "Backup FPT", 7),
}


def _name(index: int) -> str:
    return f"Gi0/{index // 48}/{index % 48}"


def _status(index: int) -> tuple[bool, int]:
    """(admin up, ifOperStatus at boot)"""
    if index in CIRCUITS:
        return True, CIRCUITS[index][2]
    if index % 7 == 0:
        return False, 2
    if index % 3 == 0:
        return True, NEVER_UP[(index // 3) % 4]
    return True, 1


def ruijie(host: str, port: int = 0, ports: int = PORTS) -> SnmpDevice:
    interfaces = []
    for i in range(1, ports + 1):
        admin, oper = _status(i)
        alias = CIRCUITS[i][1] if i in CIRCUITS else ""
        interfaces.append(
            SnmpInterface(
                _name(i),
                f"GigabitEthernet {_name(i)}",
                alias,
                speed_mbps=1000,
                load=0.05,
                admin_up=admin,
                oper_status=oper,
            )
        )
    return SnmpDevice(
        name="ruijie-core",
        host=host,
        group="venue",
        title="Ruijie RG-S5750 (bản ghi)",
        interfaces=tuple(interfaces),
        port=port,
    )


def circuits() -> list[dict[str, Any]]:
    """The settings' ``snmp.circuits``: one by ifName, one by ifAlias, one by a regex."""
    return [
        {
            "name": "viettel-uplink",
            "ifName": _name(1),
            "title": CIRCUITS[1][1],
            "carrier": "viettel",
        },
        {"name": "vnpt-uplink", "ifAlias": CIRCUITS[2][1], "carrier": "vnpt"},
        {"name": "fpt-backup", "match": "^Backup FPT", "carrier": "fpt"},
    ]


def not_up_admin_up(ports: int = PORTS) -> int:
    """What the rule before issue 12 paged at start-up: admin-up ports that are not up."""
    return sum(1 for i in range(1, ports + 1) if _status(i)[0] and _status(i)[1] != 1)
