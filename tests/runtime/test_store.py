"""The store: history, since, events, immediate sample patches (what traps will use)."""

from __future__ import annotations

from monitor.config import Settings
from monitor.runtime.metrics import MetricsRenderer
from monitor.runtime.store import Observation, Store, TargetEvent
from probes.base import ProbeResult, Sample

ROUTER = Settings.model_validate(
    {"targets": [{"name": "r1", "kind": "icmp", "host": "127.0.3.1", "group": "carrier"}]}
).targets

UP = ProbeResult(
    True,
    None,
    "ok",
    (
        Sample("ifOperStatus", 1, (("ifIndex", "1"), ("ifName", "ge-0/0/1"))),
        Sample("ifOperStatus", 1, (("ifIndex", "2"), ("ifName", "ge-0/0/2"))),
    ),
)
DOWN = ProbeResult(False, "timeout", "no answer")


def test_since_and_consecutive_follow_state_changes() -> None:
    store = Store(history_size=3)
    store.set_targets(ROUTER)
    for t, result in enumerate([UP, UP, DOWN, DOWN, DOWN, UP]):
        store.record("r1", Observation(result, 100.0 + t, 0.1))
    state = store.get("r1")
    assert state is not None and state.latest is not None
    assert state.since == 105.0 and state.consecutive == 1
    assert len(state.history) == 3  # bounded


def test_events_reach_listeners_and_patches_rerender_metrics() -> None:
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(ROUTER)
    store.record("r1", Observation(UP, 100.0, 0.1))
    seen: list[TargetEvent] = []
    store.subscribe_events(lambda state, event: seen.append(event))
    event = TargetEvent("r1", "snmp_trap", "linkDown", 101.0, (("ifIndex", "2"),))
    store.publish(event)
    store.publish(TargetEvent("unknown-target", "snmp_trap", "linkDown", 101.0))
    assert seen == [event]
    state = store.get("r1")
    assert state is not None and list(state.events) == [event]
    assert store.patch_samples("r1", {("ifOperStatus", (("ifIndex", "2"),)): 2.0})
    text = renderer.render_probes()
    assert (
        'ifOperStatus{target="r1",kind="icmp",group="carrier",ifIndex="2",ifName="ge-0/0/2"} 2'
        in text
    )
    assert 'ifIndex="1",ifName="ge-0/0/1"} 1' in text
    assert not store.patch_samples("r1", {("ifOperStatus", (("ifIndex", "2"),)): 2.0})
