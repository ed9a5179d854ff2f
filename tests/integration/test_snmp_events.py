"""Interface and restart pages from a real poll of the lab's recording-like agent (issue 12,
points 2 and 3): netmon in this process (scheduler, SNMP probe, trap receiver, alert engine,
SQLite) polls a 395-port agent on loopback and pages a webhook sink.

Counted: InterfaceDown and AgentRestarted messages the sink receives as "firing".

- start-up: the two named circuits that are down page, nothing else (the rule before issue 12
  paged 114 on the same agent), and the agent, young when netmon meets it, is no restart;
- a real up→down of a port pages once, however many polls it stays down;
- a linkDown trap for an up port pages before the next poll;
- the agent restarting (sysUpTime going back, traps off) pages AgentRestarted once; a
  coldStart trap (traps on) pages before any poll;
- netmon restarted on the same state: no page at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from monitor.core.waiting import wait_for
from monitor.lab.inventory import SNMP_COMMUNITY, SNMP_TRAP_COMMUNITY
from monitor.lab.snmp import LabAgent
from tests.fixtures.snmpd import free_udp_port
from tests.support.alerts import FakeClock, Sink, running, sink_server, until, write_settings
from tests.support.ruijie import circuits, not_up_admin_up, ruijie

HOST = "127.0.0.174"

OLD_INTERFACE_DOWN = {
    "name": "InterfaceDown",
    "match": {"kind": ["snmp"]},
    "expr": "ifOperStatus != 1",
    "unless": "ifAdminStatus != 1",
    "severity": "warning",
    "summary": {"en": "{target}: interface {ifName} is down"},
}


def _settings(
    path: Path, agent: LabAgent, sink: Sink, trap_port: int, rules: list[dict[str, Any]] | None
) -> Path:
    target = {
        "name": "ruijie-core",
        "kind": "snmp",
        "host": HOST,
        "group": "venue",
        "interval": "2s",
        "timeout": "1500ms",
        "snmp": {
            "port": agent.address[1],
            "community": SNMP_COMMUNITY,
            "trap_community": SNMP_TRAP_COMMUNITY,
            "circuits": circuits(),
        },
    }
    alerts: dict[str, Any] = {
        "receivers": {"noc": {"type": "webhook", "url": sink.url}},
        "routes": [{"match": {"severity": ["critical", "warning", "info"]}, "receivers": ["noc"]}],
        "delivery": {"backoff_initial": "100ms", "backoff_max": "500ms"},
    }
    if rules is not None:
        alerts["shipped_rules"] = False
        alerts["rules"] = rules
    return write_settings(
        path,
        [target],
        alerts,
        state_dir=path.parent / "state",
        traps={"listen": f"127.0.0.1:{trap_port}"},
    )


def _pages(sink: Sink, rule: str) -> list[str]:
    return [
        r["alerts"][0]["labels"].get("circuit") or r["alerts"][0]["labels"].get("ifName") or "agent"
        for r in sink.requests
        if r["netmon"]["kind"] == "firing" and r["alerts"][0]["labels"]["alertname"] == rule
    ]


async def test_pages_from_the_recording_like_agent(tmp_path: Path) -> None:
    trap_port = free_udp_port("127.0.0.1")
    skew = [0.0]  # the agent's clock runs ahead by this much (to age it without waiting)
    device = dataclasses.replace(ruijie(HOST), port=0)
    agent = LabAgent(
        device, trap_address=None, clock=lambda: time.monotonic() + skew[0], reboot_seconds=0.1
    )
    await agent.start()
    clock = FakeClock()
    try:
        async with sink_server() as sink:
            # The rule as it was, for the count before.
            (tmp_path / "before").mkdir()
            before = _settings(
                tmp_path / "before" / "s.toml", agent, sink, trap_port, [OLD_INTERFACE_DOWN]
            )
            async with running(before, clock) as service:
                await until(
                    clock, service, "the old rule's pages", lambda: len(sink.requests) >= 114
                )
                await until(clock, service, "another poll", lambda: clock.now > 5)
                assert len(_pages(sink, "InterfaceDown")) == not_up_admin_up() == 114
            sink.requests.clear()

            path = _settings(tmp_path / "s.toml", agent, sink, trap_port, None)
            async with running(path, clock) as service:
                start = clock.now
                await until(clock, service, "three polls", lambda: clock.now > start + 6)
                assert sorted(_pages(sink, "InterfaceDown")) == ["fpt-backup", "vnpt-uplink"]
                assert _pages(sink, "AgentRestarted") == []  # young, met for the first time

                # A real up→down, seen by the poll: one page, however long it stays down.
                agent.set_oper(4, 2)
                await until(
                    clock,
                    service,
                    "Gi0/0/4's page",
                    lambda: len(_pages(sink, "InterfaceDown")) == 3,
                )
                start = clock.now
                await until(clock, service, "five more polls", lambda: clock.now > start + 10)
                assert _pages(sink, "InterfaceDown")[-1] == "Gi0/0/4"
                assert len(_pages(sink, "InterfaceDown")) == 3

                # linkDown for an up port: the trap pages before the next poll.
                agent.trap_address = ("127.0.0.1", trap_port)
                agent.set_oper(5, 2, trap=True)
                await wait_for(
                    "the trap's page", lambda: len(_pages(sink, "InterfaceDown")) == 4, 5
                )
                assert _pages(sink, "InterfaceDown")[-1] == "Gi0/0/5"
                # linkDown for a port never up (Gi0/0/6, notPresent): nothing.
                agent.set_oper(6, 2, trap=True)
                agent.trap_address = None

                # The agent restarts; no trap: the poll sees sysUpTime go back.
                skew[0] += 3600  # it had been up an hour
                start = clock.now
                await until(
                    clock, service, "a poll of the older agent", lambda: clock.now > start + 4
                )
                agent.reboot_now()
                await until(
                    clock,
                    service,
                    "the restart's page",
                    lambda: _pages(sink, "AgentRestarted") == ["agent"],
                )
                start = clock.now
                await until(clock, service, "more polls", lambda: clock.now > start + 6)
                assert _pages(sink, "AgentRestarted") == ["agent"]
                # Ten minutes later (the agent's clock) it resolves; then a coldStart trap pages
                # before any poll.
                skew[0] += 700
                await until(
                    clock,
                    service,
                    "the end",
                    lambda: "resolved" in sink.kinds(rule="AgentRestarted"),
                )
                agent.trap_address = ("127.0.0.1", trap_port)
                agent.reboot_now()
                await wait_for(
                    "the coldStart's page", lambda: len(_pages(sink, "AgentRestarted")) == 2, 5
                )
                start = clock.now
                await until(clock, service, "polls after the reboot", lambda: clock.now > start + 6)
                assert len(_pages(sink, "AgentRestarted")) == 2
                agent.trap_address = None
            paged = len(sink.requests)
            assert sorted(_pages(sink, "InterfaceDown")) == [
                "Gi0/0/4", "Gi0/0/5", "fpt-backup", "vnpt-uplink"
            ]  # fmt: skip

            # netmon restarted on the same state: no new page.
            async with running(path, clock) as service:
                start = clock.now
                await until(
                    clock, service, "polls after the restart", lambda: clock.now > start + 6
                )
                await asyncio.sleep(0.2)
                new = [r for r in sink.requests[paged:] if r["netmon"]["kind"] == "firing"]
                assert new == [], new
    finally:
        await agent.close()
