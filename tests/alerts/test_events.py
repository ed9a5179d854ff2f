"""Interface and restart alerts as events (issue 12, points 2 and 3), engine-level.

An SNMP target shaped like a recording of real gear (a Ruijie router: hundreds of ports, many
admin-up and not up: down and never up, notPresent, lowerLayerDown, dormant) is fed to the
engine as the poller publishes it. What is counted is pages: alert episodes the engine hands
to the dispatcher as firing and not held (the dispatcher pages each episode once).

- at start-up only the named circuits that are down page, whatever the other ports do;
- a port seen up that goes down pages once and stays one alert until it is up again;
- netmon restarted: the previous values come back from SQLite, so a port that was up and is
  down now pages, one never seen up does not, and a young agent is not taken for a restart;
- AgentRestarted pages when sysUpTime goes back (not on a TimeTicks wrap), or on a coldStart;
- traps: linkDown fires at once for a circuit or an up port, never for a port never seen up.

Time is a ``FakeClock``; every test runs in well under a second.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from alerts.dispatch import Announcement
from alerts.engine import AlertEngine
from alerts.rules import compile_rules
from monitor.config import Settings, load_settings
from monitor.runtime.store import Observation, Store, TargetEvent
from probes.base import ProbeResult, Sample
from tests.support.clock import FakeClock

Labels = tuple[tuple[str, str], ...]
Patch = dict[tuple[str, Labels], float]

CIRCUITS = {1: "viettel-uplink", 2: "vnpt-uplink", 3: "fpt-backup"}
NEVER_UP = (2, 5, 6, 7)  # down, dormant, notPresent, lowerLayerDown


@dataclass
class Port:
    index: int
    oper: int = 1
    admin: int = 1

    @property
    def labels(self) -> Labels:
        name = f"Gi0/{self.index // 48}/{self.index % 48}"
        return (
            ("ifIndex", str(self.index)),
            ("ifName", name),
            ("ifDescr", f"GigabitEthernet {name}"),
            ("ifAlias", "Uplink" if self.index in CIRCUITS else ""),
            ("circuit", CIRCUITS.get(self.index, "")),
        )


def ruijie(ports: int = 395) -> dict[int, Port]:
    """A recording-like table: three named circuits (1 up, 2 down, 3 lowerLayerDown), every
    7th port shut by an operator, every 3rd admin-up port in one of the not-up states."""
    table = {1: Port(1, 1), 2: Port(2, 2), 3: Port(3, 7)}
    for i in range(4, ports + 1):
        if i % 7 == 0:
            table[i] = Port(i, 2, admin=2)
        elif i % 3 == 0:
            table[i] = Port(i, NEVER_UP[(i // 3) % 4])
        else:
            table[i] = Port(i, 1)
    return table


@dataclass
class Rig:
    path: Path
    clock: FakeClock
    store: Store = field(default_factory=Store)
    engine: AlertEngine | None = None
    announced: list[Announcement] = field(default_factory=list)
    t: float = 0.0  # the last result's start time: the clock's, at the first start

    async def start(self) -> AlertEngine:
        settings = load_settings(self.path)
        self.t = max(self.t, self.clock.time())
        self.store = Store()
        self.store.set_targets(settings.targets)
        engine = AlertEngine(settings, self.store, clock=self.clock)
        announce = engine.dispatcher.announce

        def spy(a: Announcement) -> None:
            self.announced.append(a)
            announce(a)

        engine.dispatcher.announce = spy  # type: ignore[method-assign]
        await engine.start()
        self.engine = engine
        return engine

    async def stop(self) -> None:
        assert self.engine is not None
        await self.engine.aclose()
        self.engine = None

    def poll(self, table: dict[int, Port] | None, uptime: float, target: str = "ruijie") -> None:
        self.t += 30
        samples: list[Sample] = [Sample("sysUpTime", uptime)]
        for port in (table or {}).values():
            samples.append(Sample("ifOperStatus", float(port.oper), port.labels))
            samples.append(Sample("ifAdminStatus", float(port.admin), port.labels))
        result = ProbeResult(True, None, "polled", tuple(samples))
        self.store.record(target, Observation(result, self.t, 0.05))

    def trap(self, name: str, patch: Patch, target: str = "ruijie", **labels: str) -> None:
        """As the trap receiver does: patch the latest result, then publish the event."""
        self.t += 1
        if patch:
            self.store.patch_samples(target, patch)
        self.store.publish(
            TargetEvent(target, "snmp_trap", name, self.t, tuple(labels.items()), name)
        )

    async def tick(self, seconds: float = 1.0) -> None:
        await self.clock.advance(seconds)

    def pages(self, rule: str) -> list[str]:
        """Each episode paged (firing, not held), as 'ifName' or the target, in order."""
        seen: set[tuple[str, float]] = set()
        out: list[str] = []
        for a in self.announced:
            alert = a.alert
            if alert.rule != rule or alert.status != "firing" or a.held or a.flapping:
                continue
            if (alert.key, alert.starts_at) in seen:
                continue
            seen.add((alert.key, alert.starts_at))
            labels = alert.labels
            out.append(labels.get("circuit") or labels.get("ifName") or labels["target"])
        return out

    def firing(self, rule: str) -> list[str]:
        assert self.engine is not None
        return sorted(
            a["labels"].get("circuit") or a["labels"].get("ifName") or a["target"]
            for a in self.engine.alerts_json()
            if a["rule"] == rule and a["state"] == "firing"
        )


def _settings(tmp_path: Path, rules: list[dict[str, Any]] | None = None) -> Path:
    doc: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "targets": [
            {
                "name": "ruijie",
                "kind": "snmp",
                "host": "127.0.0.1",
                "group": "venue",
                "snmp": {
                    "community": "public",
                    "circuits": [
                        {"name": n, "ifIndex": i, "title": f"Kênh {n}"} for i, n in CIRCUITS.items()
                    ],
                },
            }
        ],
        "alerts": {
            "receivers": {"log": {"type": "log", "level": "info"}},
            "routes": [
                {"match": {"severity": ["critical", "warning", "info"]}, "receivers": ["log"]}
            ],
        },
    }
    if rules is not None:
        doc["alerts"]["shipped_rules"] = False
        doc["alerts"]["rules"] = rules
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(_settings(tmp_path), FakeClock())
    await r.start()
    try:
        yield r
    finally:
        if r.engine is not None:
            await r.stop()


# The rule before issue 12: every admin-up port that is not up, from the first poll.
OLD_INTERFACE_DOWN = {
    "name": "InterfaceDown",
    "match": {"kind": ["snmp"]},
    "expr": "ifOperStatus != 1",
    "unless": "ifAdminStatus != 1",
    "severity": "warning",
    "summary": {"en": "{target}: interface {ifName} is down"},
}


async def test_start_up_pages_the_named_circuits_that_are_down_and_nothing_else(
    rig: Rig, tmp_path: Path
) -> None:
    table = ruijie()
    not_up = [p for p in table.values() if p.admin == 1 and p.oper != 1]
    assert len(table) == 395 and len(not_up) == 114
    rig.poll(table, uptime=30.0)  # a young agent, met for the first time
    assert rig.pages("InterfaceDown") == ["vnpt-uplink", "fpt-backup"]
    assert rig.pages("AgentRestarted") == []
    for n in range(5):  # nothing changes: nothing new, the two stay firing
        rig.poll(table, uptime=60.0 + 30 * n)
    assert rig.pages("InterfaceDown") == ["vnpt-uplink", "fpt-backup"]
    assert rig.firing("InterfaceDown") == ["fpt-backup", "vnpt-uplink"]
    # The rule as it was pages every admin-up port that is not up.
    (tmp_path / "before").mkdir()
    before = Rig(_settings(tmp_path / "before", [OLD_INTERFACE_DOWN]), FakeClock())
    await before.start()
    try:
        before.poll(table, uptime=30.0)
        assert len(before.pages("InterfaceDown")) == len(not_up) == 114
    finally:
        await before.stop()


async def test_a_port_seen_up_that_goes_down_pages_once_until_it_is_up(rig: Rig) -> None:
    table = ruijie()
    rig.poll(table, 86400.0)
    table[4].oper = 2  # Gi0/0/4: was up
    rig.poll(table, 86430.0)
    assert rig.pages("InterfaceDown") == ["vnpt-uplink", "fpt-backup", "Gi0/0/4"]
    # It stays down, then its lower layer goes too: one alert, no new page, no resolve.
    for n, oper in enumerate((2, 2, 7, 7, 2)):
        table[4].oper = oper
        rig.poll(table, 86460.0 + 30 * n)
        assert "Gi0/0/4" in rig.firing("InterfaceDown"), n
    assert rig.pages("InterfaceDown").count("Gi0/0/4") == 1
    assert not [a for a in rig.announced if a.alert.status == "resolved"]
    # Up again: resolved; down again: a new episode, a new page.
    table[4].oper = 1
    rig.poll(table, 86700.0)
    assert "Gi0/0/4" not in rig.firing("InterfaceDown")
    assert [a.alert.labels["ifName"] for a in rig.announced if a.alert.status == "resolved"] == [
        "Gi0/0/4"
    ]
    table[4].oper = 2
    rig.poll(table, 86730.0)
    assert rig.pages("InterfaceDown").count("Gi0/0/4") == 2
    # A port going from up to notPresent, dormant or lowerLayerDown pages nobody: it is no
    # circuit, and its cause (a module pulled, the physical port down) pages for itself.
    for i, oper in ((5, 6), (7 + 1, 5), (10, 7)):
        assert table[i].oper == 1 and table[i].admin == 1
        table[i].oper = oper
    rig.poll(table, 86760.0)
    assert rig.pages("InterfaceDown") == [
        "vnpt-uplink", "fpt-backup", "Gi0/0/4", "Gi0/0/4"
    ]  # fmt: skip


async def test_an_operator_shutting_a_port_is_no_page(rig: Rig) -> None:
    table = ruijie()
    rig.poll(table, 86400.0)
    table[4].oper, table[4].admin = 2, 2
    rig.poll(table, 86430.0)
    assert "Gi0/0/4" not in rig.pages("InterfaceDown")
    # a firing circuit that an operator then shuts ends (unless), as before
    table[2].admin = 2
    rig.poll(table, 86460.0)
    assert "vnpt-uplink" not in rig.firing("InterfaceDown")


async def test_a_restart_of_netmon_keeps_the_previous_values(rig: Rig) -> None:
    table = ruijie()
    rig.poll(table, 86400.0)
    await rig.tick()  # the tick writes the series memory behind: a kill -9 now keeps it
    assert rig.engine is not None
    await rig.engine.db.run(lambda conn: None)  # the jobs before it are committed
    with sqlite3.connect(rig.path.parent / "state" / "alerts.sqlite") as conn:
        rows = conn.execute("SELECT name, count(*) FROM series_memory GROUP BY name").fetchall()
    assert dict(rows) == {"ifOperStatus": 395, "sysUpTime": 1}
    await rig.stop()
    # netmon is down for a while; meanwhile Gi0/0/4 went down; nothing else changed.
    rig.clock.now += 600
    await rig.start()
    table[4].oper = 2
    rig.poll(table, 87000.0)
    assert rig.pages("InterfaceDown") == ["vnpt-uplink", "fpt-backup", "Gi0/0/4"]
    assert rig.pages("AgentRestarted") == []  # 87000 s > 86400 s: no restart
    # and the memory is written at stop too (no tick in between): Gi0/0/12, never up so
    # far, comes up just before netmon stops, and is down when it is back.
    assert table[12].oper == 2 and table[12].admin == 1
    table[12].oper = 1
    table[5].oper = 2
    rig.poll(table, 87030.0)
    await rig.stop()
    await rig.start()
    table[12].oper = 2
    rig.poll(table, 87060.0)
    assert rig.pages("InterfaceDown").count("Gi0/0/12") == 1
    assert rig.pages("InterfaceDown").count("Gi0/0/5") == 1  # firing before: not re-paged
    # The agent restarted while netmon was down: its sysUpTime is lower than the last poll's.
    await rig.stop()
    await rig.start()
    rig.poll(table, 40.0)
    assert rig.pages("AgentRestarted") == ["ruijie"]


async def test_agent_restarted_is_a_seen_restart_once(rig: Rig) -> None:
    rig.poll(None, 30.0)  # young when first met: no page
    rig.poll(None, 60.0)
    assert rig.pages("AgentRestarted") == []
    rig.poll(None, 90.0)
    rig.poll(None, 5.0)  # went back: restarted
    assert rig.pages("AgentRestarted") == ["ruijie"]
    for uptime in (35.0, 65.0, 300.0):  # still young: the same alert, no new page
        rig.poll(None, uptime)
        assert rig.firing("AgentRestarted") == ["ruijie"]
    rig.poll(None, 600.0)  # up 10 minutes: resolved
    assert rig.firing("AgentRestarted") == []
    assert rig.pages("AgentRestarted") == ["ruijie"]
    # TimeTicks wrap after 497.1 days: sysUpTime goes back, but that is no restart.
    rig.poll(None, 42_949_660.0)
    rig.poll(None, 20.0)
    assert rig.pages("AgentRestarted") == ["ruijie"]


async def test_traps_fire_for_circuits_and_up_ports_only(rig: Rig) -> None:
    table = ruijie()
    rig.poll(table, 86400.0)
    paged = len(rig.pages("InterfaceDown"))
    # linkDown for a port never seen up (Gi0/0/6, lowerLayerDown... now down): no page.
    assert table[6].oper != 1
    index6 = (("ifIndex", "6"),)
    rig.trap("linkDown", {("ifOperStatus", index6): 2.0}, ifIndex="6")
    assert len(rig.pages("InterfaceDown")) == paged
    # linkDown for an up port: at once, before any poll.
    index4 = (("ifIndex", "4"),)
    rig.trap("linkDown", {("ifOperStatus", index4): 2.0}, ifIndex="4")
    assert rig.pages("InterfaceDown")[-1] == "Gi0/0/4"
    # the next poll agrees: the same alert
    table[4].oper = 2
    rig.poll(table, 86430.0)
    assert rig.pages("InterfaceDown").count("Gi0/0/4") == 1
    # linkDown for the up circuit: at once.
    index1 = (("ifIndex", "1"),)
    rig.trap("linkDown", {("ifOperStatus", index1): 2.0}, ifIndex="1")
    assert rig.pages("InterfaceDown")[-1] == "viettel-uplink"
    # linkDown that says the operator shut the port (ifAdminStatus 2): no page.
    index8 = (("ifIndex", "8"),)
    assert table[8].oper == 1
    rig.trap(
        "linkDown",
        {("ifOperStatus", index8): 2.0, ("ifAdminStatus", index8): 2.0},
        ifIndex="8",
    )
    assert "Gi0/0/8" not in rig.pages("InterfaceDown")
    # coldStart: the trap's sysUpTime is 2 s, the last poll's a day.
    rig.trap("coldStart", {("sysUpTime", ()): 2.0})
    assert rig.pages("AgentRestarted") == ["ruijie"]
    rig.poll(table, 32.0)  # the poll after: the same alert
    assert rig.pages("AgentRestarted") == ["ruijie"]
    assert rig.firing("AgentRestarted") == ["ruijie"]


async def test_a_cold_start_before_any_poll_pages(rig: Rig) -> None:
    rig.trap("coldStart", {})
    assert rig.pages("AgentRestarted") == ["ruijie"]


def test_the_shipped_rules_read_prev() -> None:
    rules = {r.name: r for r in compile_rules(Settings().alerts)}
    for name in ("InterfaceDown", "AgentRestarted"):
        assert rules[name].condition.uses_prev and rules[name].recover is not None
