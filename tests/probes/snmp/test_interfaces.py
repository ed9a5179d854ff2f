"""What a device's page lists: every interface of a real poll of the recording-like lab agent,
and the admin-up ones that are not up, named circuits first."""

from __future__ import annotations

from collections import Counter

from monitor.lab.snmp import LabAgent
from probes.base import Sample
from probes.context import ProbeContext
from probes.snmp.interfaces import interfaces, not_up
from tests.probes.snmp.agents import AgentFactory, poll, target
from tests.support.ruijie import PORTS, circuits, not_up_admin_up, ruijie


async def test_the_device_page_lists_what_is_not_paged(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent: LabAgent = await make_agent(ruijie("127.0.0.175"))
    result = await poll(target(agent, circuits=circuits(), timeout="1s"), ctx)
    assert result.success, result.detail
    every = interfaces(result.samples)
    assert len(every) == PORTS and [i.index for i in every[:3]] == ["1", "2", "3"]
    states = Counter(i.state for i in every)
    assert set(states) == {"up", "down", "dormant", "notPresent", "lowerLayerDown", "adminDown"}
    listed = not_up(result.samples)
    assert len(listed) == not_up_admin_up() == 114
    assert [(i.circuit, i.state) for i in listed[:2]] == [
        ("vnpt-uplink", "down"), ("fpt-backup", "lowerLayerDown")
    ]  # fmt: skip
    assert not any(i.circuit for i in listed[2:])
    assert all(i.state != "adminDown" for i in listed)


def test_circuits_come_first_and_shut_ports_are_not_listed() -> None:
    def port(index: int, oper: int, admin: int = 1, circuit: str = "") -> list[Sample]:
        labels = (("ifIndex", str(index)), ("ifName", f"p{index}"), ("ifDescr", ""),
                  ("ifAlias", ""), ("circuit", circuit))  # fmt: skip
        return [Sample("ifOperStatus", oper, labels), Sample("ifAdminStatus", admin, labels)]

    samples = [*port(4, 2), *port(9, 7, circuit="fpt-backup"), *port(5, 2, admin=2), *port(6, 1)]
    assert [(i.name, i.state) for i in not_up(samples)] == [
        ("p9", "lowerLayerDown"), ("p4", "down")
    ]  # fmt: skip
    assert [i.name for i in interfaces(samples)] == ["p4", "p5", "p6", "p9"]
