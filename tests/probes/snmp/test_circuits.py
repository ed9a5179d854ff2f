"""``snmp.circuits``: the settings name an interface, the probe labels its samples
``circuit``, and the ``interfaces`` filter never drops one; bad entries are settings errors
with their key path.

Against the lab's recording-like agent (tests/support/ruijie.py: 395 ports, most not up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w

from monitor.config import SettingsError, Target, load_settings
from monitor.lab.inventory import SNMP_COMMUNITY
from monitor.lab.snmp import LabAgent
from probes import PROBES
from probes.context import ProbeContext
from tests.probes.snmp.agents import AgentFactory
from tests.support.ruijie import CIRCUITS, PORTS, circuits, ruijie


def _target(agent: LabAgent, **snmp: Any) -> Target:
    options = {"port": agent.address[1], "community": SNMP_COMMUNITY, "timeout": "1s"} | snmp
    return Target.model_validate(
        {"name": "ruijie-core", "kind": "snmp", "host": agent.address[0], "timeout": "5s",
         "snmp": options}
    )  # fmt: skip


def _oper(result: Any) -> dict[str, tuple[float, str]]:
    """ifName -> (ifOperStatus, circuit)"""
    out = {}
    for s in result.samples:
        if s.name == "ifOperStatus":
            labels = dict(s.labels)
            out[labels["ifName"]] = (s.value, labels["circuit"])
    return out


async def test_circuits_are_labelled_and_kept(make_agent: AgentFactory, ctx: ProbeContext) -> None:
    agent = await make_agent(ruijie("127.0.0.172"))
    result = await PROBES["snmp"](_target(agent, circuits=circuits()), ctx)
    assert result.success, result.detail
    ports = _oper(result)
    assert len(ports) == PORTS
    named = {name: circuit for name, (_, circuit) in ports.items() if circuit}
    assert named == {"Gi0/0/1": "viettel-uplink", "Gi0/0/2": "vnpt-uplink", "Gi0/0/3": "fpt-backup"}
    assert ports["Gi0/0/2"][0] == 2 and ports["Gi0/0/3"][0] == 7  # as the agent reports them
    states = {value for value, _ in ports.values()}
    assert states == {1.0, 2.0, 5.0, 6.0, 7.0}
    # every interface sample carries the label (empty for the others), in the catalogue's order
    for s in result.samples:
        if s.name.startswith("if") or s.name == "probe_snmp_if_utilization_ratio":
            assert [k for k, _ in s.labels][:5] == [
                "ifIndex", "ifName", "ifDescr", "ifAlias", "circuit"
            ]  # fmt: skip
    # With an ``interfaces`` filter that matches none of them, the circuits are still polled.
    filtered = await PROBES["snmp"](
        _target(agent, circuits=circuits(), interfaces="^Gi0/1/(1|2)$"), ctx
    )
    assert filtered.success, filtered.detail
    assert {n: c for n, (_, c) in _oper(filtered).items()} == {
        "Gi0/1/1": "", "Gi0/1/2": "", "Gi0/0/1": "viettel-uplink", "Gi0/0/2": "vnpt-uplink",
        "Gi0/0/3": "fpt-backup",
    }  # fmt: skip
    assert f"5 of {PORTS} interfaces kept" in filtered.detail
    # Without circuits nothing is labelled.
    plain = await PROBES["snmp"](_target(agent), ctx)
    assert not any(c for _, c in _oper(plain).values())


async def test_a_port_set_down_in_the_lab_is_seen(
    make_agent: AgentFactory, ctx: ProbeContext
) -> None:
    agent = await make_agent(ruijie("127.0.0.173"))
    t = _target(agent, circuits=circuits())
    assert _oper(await PROBES["snmp"](t, ctx))["Gi0/0/4"][0] == 1
    agent.set_oper(4, 2)
    assert _oper(await PROBES["snmp"](t, ctx))["Gi0/0/4"][0] == 2
    agent.set_oper(4, 1)
    agent.set_oper(1, 7)
    after = _oper(await PROBES["snmp"](t, ctx))
    assert after["Gi0/0/4"][0] == 1 and after["Gi0/0/1"] == (7, "viettel-uplink")
    assert CIRCUITS[1][0] == "viettel-uplink"


def _settings(tmp_path: Path, circuit_list: list[dict[str, Any]]) -> Path:
    doc = {
        "targets": [
            {"name": "ruijie", "kind": "snmp", "host": "127.0.0.1", "group": "venue",
             "snmp": {"community": "c", "circuits": circuit_list}},
        ]
    }  # fmt: skip
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("circuit_list", "error"),
    [
        ([{"name": "a"}], "targets[0].snmp.circuits[0]: circuit 'a' names no interface"),
        (
            [{"name": "a", "match": "(unclosed"}],
            "targets[0].snmp.circuits[0].match: '(unclosed' is not a valid regular expression",
        ),
        (
            [{"name": "Uplink 1", "ifIndex": 1}],
            "targets[0].snmp.circuits[0].name: 'Uplink 1' is not",
        ),
        ([{"name": "a", "ifIndex": 0}], "targets[0].snmp.circuits[0].ifIndex:"),
        ([{"name": "a", "ifIndex": "1"}], "targets[0].snmp.circuits[0].ifIndex:"),
        ([{"name": "a", "ifname": "x"}], "targets[0].snmp.circuits[0].ifname: unknown key"),
        (
            [{"name": "a", "ifIndex": 1}, {"name": "a", "ifIndex": 2}],
            "targets[0].snmp.circuits: circuits[1]: duplicate circuit name 'a' (first at "
            "circuits[0])",
        ),
        (
            [{"name": "a", "ifIndex": 1, "carrier": "Viettel"}],
            "targets[0].snmp.circuits[0].carrier",
        ),
    ],
)
def test_bad_circuits_are_settings_errors_with_their_key(
    tmp_path: Path, circuit_list: list[dict[str, Any]], error: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(_settings(tmp_path, circuit_list))
    issues = [str(i) for i in info.value.issues]
    assert any(i.startswith(error) for i in issues), issues


def test_good_circuits_load(tmp_path: Path) -> None:
    settings = load_settings(_settings(tmp_path, circuits()))
    snmp = settings.targets[0].snmp
    assert snmp is not None
    assert [c.name for c in snmp.circuits] == ["viettel-uplink", "vnpt-uplink", "fpt-backup"]
    assert snmp.circuits[0].carrier == "viettel" and snmp.circuits[0].title == CIRCUITS[1][1]
    found = snmp.circuit_of("3", "Gi0/0/3", "GigabitEthernet Gi0/0/3", "Backup FPT")
    assert found is not None and found.name == "fpt-backup"
    assert snmp.circuit_of("9", "Gi0/0/9", "x", "") is None
