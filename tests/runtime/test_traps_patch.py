"""What a trap changes in the store before the next poll, for the rules that read prev():
coldStart/warmStart set sysUpTime to the trap's own (0 without one), linkDown/linkUp set
ifOperStatus and, when the trap carries it, ifAdminStatus."""

from __future__ import annotations

import time

from monitor.config import Settings, Target
from monitor.config.traps import TrapSettings
from monitor.runtime.store import Observation, Store
from monitor.runtime.traps import SNMP_TRAP_OID, TrapReceiver
from probes.base import ProbeResult, Sample

COMMUNITY = "rig-trap-community"
PORT_3 = (("ifIndex", "3"), ("ifName", "ge-0/0/3"), ("ifDescr", "ge-0/0/3"), ("ifAlias", ""),
          ("circuit", ""))  # fmt: skip


def _rig() -> tuple[TrapReceiver, Store]:
    target = Target.model_validate(
        {"name": "edge", "kind": "snmp", "host": "127.0.0.1", "snmp": {"community": "c"}}
    )
    settings = Settings.model_validate({"targets": [target]})
    store = Store()
    store.set_targets(settings.targets)
    samples = (
        Sample("sysUpTime", 86400.0),
        Sample("probe_snmp_agent_restarted", 0.0),
        Sample("ifOperStatus", 1.0, PORT_3),
        Sample("ifAdminStatus", 1.0, PORT_3),
    )
    store.record("edge", Observation(ProbeResult(True, None, "ok", samples), time.time(), 0.01))
    traps = TrapSettings.model_validate({"listen": "127.0.0.1:0", "community": COMMUNITY})
    return TrapReceiver(settings, store, traps), store


def _value(store: Store, name: str) -> float:
    state = store.get("edge")
    assert state is not None and state.latest is not None
    return next(s.value for s in state.latest.result.samples if s.name == name)


def test_cold_start_sets_sys_up_time_to_the_traps() -> None:
    receiver, store = _rig()
    trap = {SNMP_TRAP_OID: "1.3.6.1.6.3.1.1.5.1", "1.3.6.1.2.1.1.3.0": 250}
    assert receiver.handle("127.0.0.1", trap, community=COMMUNITY) == ["edge"]
    assert _value(store, "sysUpTime") == 2.5
    assert _value(store, "probe_snmp_agent_restarted") == 1
    # a warmStart without sysUpTime.0: the agent just started
    receiver.handle("127.0.0.1", {SNMP_TRAP_OID: "1.3.6.1.6.3.1.1.5.2"}, community=COMMUNITY)
    assert _value(store, "sysUpTime") == 0


def test_link_down_carries_the_admin_status() -> None:
    receiver, store = _rig()
    shut = {
        SNMP_TRAP_OID: "1.3.6.1.6.3.1.1.5.3",
        "1.3.6.1.2.1.2.2.1.1.3": 3,
        "1.3.6.1.2.1.2.2.1.7.3": 2,
        "1.3.6.1.2.1.2.2.1.8.3": 2,
    }
    receiver.handle("127.0.0.1", shut, community=COMMUNITY)
    assert _value(store, "ifOperStatus") == 2 and _value(store, "ifAdminStatus") == 2
