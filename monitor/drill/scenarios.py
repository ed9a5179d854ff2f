"""Drill scenarios: a real Alertmanager and a webhook receiver in netmon's namespace, netmon
(``netmon run``) probing the lab through the carrier routers, faults injected, pages recorded.

Used by ``netmon drill NAME`` and by tests/integration/test_drill*.py, which assert on the same
record. The parts: the receiver in ``sink``, the processes in ``processes``, netmon's settings
for the lab in ``settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.core.waiting import wait_for

from . import nsenter
from .netns import (
    ADDRESSES,
    CARRIERS,
    COMMUNITY,
    SIP_CARRIER,
    SIP_PORT,
    SIP_TRUNK,
    STREAM,
    NetnsLab,
)
from .processes import Proc, alertmanager, netmon, netmon_alerts
from .settings import (
    GROUP_WAIT,
    INTEGRITY_TARGET,
    NETMON_ADDRESS,
    TIME_TO_ALERT_GOAL,
    TRAP_PORT,
    drill_settings,
)
from .sink import Page, Sink

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"

HEALS = (
    "heal",
    "loss-cleared",
    "snmpd-started",
    "web-resumed",
    "delay-cleared",
    "sip-started",
    "stream-resumed",
    "web-cleaned",
)


@dataclass
class Record:
    """What happened in one drill: the faults, the pages, netmon's own view of the holds."""

    scenario: str
    started: float
    goal: float = TIME_TO_ALERT_GOAL
    expected: list[tuple[str, str]] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # "Alertname" or "Alertname target"
    faults: list[dict[str, Any]] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # target → hold reason, at the worst
    notes: list[str] = field(default_factory=list)
    finished: float = 0.0

    def fault_start(self) -> float:
        starts = [f["at"] for f in self.faults if f["action"] not in HEALS]
        return min(starts) if starts else self.started

    def heal_time(self) -> float | None:
        heals = [f["at"] for f in self.faults if f["action"] in HEALS]
        return max(heals) if heals else None

    def alerts(self) -> list[dict[str, Any]]:
        """Each alert that reached a receiver: first firing page and first resolved page."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for page in self.pages:
            for a in page.alerts:
                key = (a["labels"].get("alertname", ""), a["labels"].get("target", ""))
                entry = seen.setdefault(
                    key,
                    {
                        "alertname": key[0],
                        "target": key[1],
                        "receiver": page.receiver,
                        "fired": None,
                        "resolved": None,
                    },
                )
                if a.get("status") == "firing" and entry["fired"] is None:
                    entry["fired"] = page.at
                if a.get("status") == "resolved" and entry["resolved"] is None:
                    entry["resolved"] = page.at
        start = self.fault_start()
        for entry in seen.values():
            entry["time_to_alert"] = None if entry["fired"] is None else entry["fired"] - start
        return sorted(seen.values(), key=lambda e: (e["fired"] or 0, e["alertname"]))

    def pages_per_receiver(self) -> dict[str, dict[str, int]]:
        """Pages: notifications that bring an alert not paged before in their group (a phone
        that buzzes for something new); updates and resolutions are counted apart."""
        out: dict[str, dict[str, int]] = {}
        known: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for page in self.pages:
            group = ",".join(f"{k}={v}" for k, v in sorted(page.group.items())) or "-"
            seen = known.setdefault((page.receiver, group), set())
            new = page.names("firing") - seen
            seen |= page.names("firing")
            kind = "pages" if new else ("resolved" if page.status == "resolved" else "updates")
            counts = out.setdefault(page.receiver, {})
            counts[f"{kind} {group}"] = counts.get(f"{kind} {group}", 0) + 1
        return out

    def page_count(self, receiver: str, group: str) -> int:
        return self.pages_per_receiver().get(receiver, {}).get(f"pages {group}", 0)

    def missed(self) -> list[str]:
        got = {(a["alertname"], a["target"]) for a in self.alerts() if a["fired"] is not None}
        out = [f"{n} {t}: never paged" for n, t in self.expected if (n, t) not in got]
        for a in self.alerts():
            if a["target"] in self.held and a["fired"] is not None:
                out.append(
                    f"{a['alertname']} {a['target']}: held during the outage, paged at "
                    f"+{a['time_to_alert']:.1f} s"
                )
        for a in self.alerts():
            if a["alertname"] in self.forbidden or f"{a['alertname']} {a['target']}" in (
                self.forbidden
            ):
                out.append(f"{a['alertname']} {a['target']}: paged but must not be")
            elif a["time_to_alert"] is not None and a["time_to_alert"] > self.goal:
                out.append(f"{a['alertname']} {a['target']}: {a['time_to_alert']:.1f} s > goal")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "started": self.started,
            "finished": self.finished,
            "time_to_alert_goal_s": self.goal,
            "faults": self.faults,
            "alerts": self.alerts(),
            "pages_per_receiver": self.pages_per_receiver(),
            "held": self.held,
            "missed": self.missed(),
            "notes": self.notes,
        }


class Drill:
    """The lab with Alertmanager, the webhook and netmon running; scenarios act on it."""

    def __init__(
        self, lab: NetnsLab, sink: Sink, am: Proc, node: Proc, config: Path, listen: str
    ) -> None:
        self.lab, self.sink, self.am, self.node = lab, sink, am, node
        self.config, self.listen = config, listen

    @contextlib.asynccontextmanager
    async def restarted(self) -> AsyncIterator[Proc]:
        """netmon started again on the same settings and state_dir (after a kill -9)."""
        async with netmon(self.lab, self.config, self.listen) as node:
            self.node = node
            yield node

    async def metric(self, name: str) -> float | None:
        _, body = await nsenter.request(self.lab.mon, "GET", f"{self.node.base}/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{}"):
                return float(line.split()[-1])
        return None

    async def watch_holds(self, record: Record, seconds: float) -> None:
        """Poll netmon's alerts for ``seconds``, keeping every hold reason seen."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(OSError):
                for a in await netmon_alerts(self.lab, self.node):
                    if a.get("held") and a.get("target"):
                        record.held.setdefault(a["target"], a["held"])
            await asyncio.sleep(0.5)

    async def settle(self) -> None:
        """Until netmon has probed every target once and nothing but the Watchdog fires."""

        async def quiet() -> bool:
            alerts = await netmon_alerts(self.lab, self.node)
            return not [a for a in alerts if a["rule"] != "Watchdog" and a["state"] == "firing"]

        await asyncio.sleep(3)
        try:
            await wait_for("the lab to be quiet", quiet, 20, 0.5)
        except TimeoutError:
            alerts = await netmon_alerts(self.lab, self.node)
            firing = [(a["rule"], a["target"]) for a in alerts if a["state"] == "firing"]
            raise TimeoutError(f"the lab is not quiet: {firing}") from None

    def record(self, name: str) -> Record:
        return Record(name, time.time())

    def finish(self, record: Record, since: int) -> Record:
        record.pages = [p for p in self.sink.pages[since:]]
        record.faults = [
            {"at": e.at, "action": e.action, "subject": e.subject, "detail": e.detail}
            for e in self.lab.events
            if e.at >= record.started
        ]
        record.finished = time.time()
        return record

    async def viettel_cut(self) -> Record:
        rec = self.record("viettel-cut")
        rec.expected = [("TargetDown", "viettel-uplink"), ("InterfaceDown", "viettel-edge")]
        since = len(self.sink.pages)
        self.lab.cut("viettel-uplink")
        await wait_for(
            "the Viettel page",
            lambda: all(self.sink.seen(*e) for e in rec.expected),
            TIME_TO_ALERT_GOAL * 3,
        )
        await self.watch_holds(rec, GROUP_WAIT + 4)  # any second page would arrive by now
        self.lab.heal("viettel-uplink")
        await wait_for(
            "the Viettel resolve",
            lambda: all(self.sink.seen(*e, status="resolved") for e in rec.expected),
            60,
        )
        return self.finish(rec, since)

    async def viettel_loss(self, percent: int = 30) -> Record:
        rec = self.record("viettel-loss")
        rec.expected = [("HighPacketLoss", "viettel-uplink")]
        rec.forbidden = ["TargetDown"]
        rec.goal = 30.0  # three lossy probes in a row: loss is random
        since = len(self.sink.pages)
        self.lab.loss("viettel", percent)
        await wait_for("HighPacketLoss", lambda: self.sink.seen(*rec.expected[0]), 90)
        await self.watch_holds(rec, GROUP_WAIT + 2)
        self.lab.clear_loss("viettel")
        await wait_for(
            "HighPacketLoss resolved",
            lambda: self.sink.seen(*rec.expected[0], status="resolved"),
            60 + 30,  # a level alert ends once settled: the drill's [alerts.flapping] settle, 15 s
        )
        return self.finish(rec, since)

    async def both_cut(self) -> Record:
        rec = self.record("both-carriers-cut")
        rec.expected = [
            ("TargetDown", "viettel-uplink"),
            ("TargetDown", "vnpt-uplink"),
            ("InterfaceDown", "viettel-edge"),
            ("InterfaceDown", "vnpt-edge"),
        ]
        since = len(self.sink.pages)
        self.lab.cut("viettel-uplink")
        self.lab.cut("vnpt-uplink")
        paged = lambda: all(self.sink.seen(*e) for e in rec.expected)  # noqa: E731
        await wait_for("both carriers' pages", paged, TIME_TO_ALERT_GOAL * 3)
        await self.watch_holds(rec, GROUP_WAIT + 4)
        self.lab.heal("viettel-uplink")
        self.lab.heal("vnpt-uplink")
        await wait_for(
            "both resolved",
            lambda: all(self.sink.seen(*e, status="resolved") for e in rec.expected),
            60,
        )
        return self.finish(rec, since)

    def send_link_trap(self, carrier: str, up: bool) -> None:
        """The carrier's router tells netmon its venue port changed (snmptrap, v2c)."""
        ifindex = self.lab.if_index(CARRIERS[carrier], "core")
        oper = "1" if up else "2"
        argv = [
            "snmptrap",
            "-v",
            "2c",
            "-c",
            COMMUNITY,
            f"{NETMON_ADDRESS}:{TRAP_PORT}",
            "",
            LINK_UP if up else LINK_DOWN,
            f"{IF_ENTRY}.1.{ifindex}",
            "i",
            str(ifindex),
            f"{IF_ENTRY}.7.{ifindex}",
            "i",
            "1",
            f"{IF_ENTRY}.8.{ifindex}",
            "i",
            oper,
        ]
        self.lab.exec(CARRIERS[carrier], argv)

    async def linkdown_trap(self) -> Record:
        """Run with a 60 s SNMP poll (``drill(lab, snmp_interval="60s")``): the port goes down
        and the router's linkDown trap pages before netmon polls it again."""
        rec = self.record("linkdown-trap")
        rec.expected = [("InterfaceDown", "viettel-edge")]
        since = len(self.sink.pages)
        self.lab.cut("viettel-uplink")
        self.send_link_trap("viettel", up=False)
        await wait_for(
            "InterfaceDown from the trap",
            lambda: self.sink.seen(*rec.expected[0]),
            TIME_TO_ALERT_GOAL * 2,
        )
        await self.watch_holds(rec, 2)
        self.lab.heal("viettel-uplink")
        self.send_link_trap("viettel", up=True)
        await wait_for(
            "InterfaceDown resolved by linkUp",
            lambda: self.sink.seen(*rec.expected[0], status="resolved"),
            60,
        )
        return self.finish(rec, since)

    async def target_reason(self, name: str) -> str | None:
        data = await nsenter.get_json(self.lab.mon, f"{self.node.base}/api/v1/targets/{name}")
        reason: str | None = data["target"]["reason"]
        return reason

    async def _fault_then_heal(
        self, rec: Record, target: str, fault: Callable[[], object], heal: Callable[[], object]
    ) -> Record:
        """One target's own fault: its TargetDown pages, with the reason netmon gives."""
        since = len(self.sink.pages)
        fault()
        await wait_for(
            f"TargetDown for {target}",
            lambda: self.sink.seen("TargetDown", target),
            TIME_TO_ALERT_GOAL * 3,
        )
        rec.notes.append(f"{target}: reason {await self.target_reason(target)}")
        await self.watch_holds(rec, GROUP_WAIT + 2)  # nothing else may page meanwhile
        heal()
        await wait_for(
            f"{target} resolved",
            lambda: self.sink.seen("TargetDown", target, status="resolved"),
            60,
        )
        return self.finish(rec, since)

    async def snmp_agent_stopped(self) -> Record:
        """VNPT's router stops answering SNMP; its link stays up. The agent is what pages (no
        answer is not an interface down), and the uplink and the halls stay quiet."""
        rec = self.record("snmp-agent-stopped")
        rec.expected = [("TargetDown", "vnpt-edge")]
        rec.forbidden = ["InterfaceDown", "TargetDown vnpt-uplink", "TargetDown hall-b-wifi"]
        return await self._fault_then_heal(
            rec,
            "vnpt-edge",
            lambda: self.lab.stop_snmpd("vnpt"),
            lambda: self.lab.restart_snmpd("vnpt"),
        )

    async def web_server_hung(self) -> Record:
        """A data-centre web server stops mid-flight (SIGSTOP: connections accepted by the
        kernel, never answered). Its site pages with a timeout; the other server stays up."""
        rec = self.record("web-server-hung")
        rec.expected = [("TargetDown", "dc-web-1")]
        rec.forbidden = ["TargetDown dc-web-2"]
        return await self._fault_then_heal(
            rec,
            "dc-web-1",
            lambda: self.lab.hang_web("dc-web-1"),
            lambda: self.lab.resume_web("dc-web-1"),
        )

    async def site_injected(self) -> Record:
        """dc-web-1's page gets a script from an unknown CDN (as card skimmers and redirectors
        arrive) once web integrity has learnt it: SiteInjected pages (critical) with the
        domain; the site is not "down"."""
        rec = self.record("site-injected")
        rec.expected = [("SiteInjected", INTEGRITY_TARGET)]
        rec.forbidden = [f"TargetDown {INTEGRITY_TARGET}", "TargetDown dc-web-1"]
        since = len(self.sink.pages)

        async def learnt() -> bool:
            data = await nsenter.get_json(
                self.lab.mon, f"{self.node.base}/api/v1/targets/{INTEGRITY_TARGET}"
            )
            detail = str(data["target"].get("detail") or "")
            return bool(detail) and "learning" not in detail

        await wait_for("the integrity baseline", learnt, 60, 0.5)
        self.lab.inject_web("dc-web-1", "inject-script")
        await wait_for(
            "SiteInjected", lambda: self.sink.seen(*rec.expected[0]), TIME_TO_ALERT_GOAL * 3
        )
        rec.notes.append(f"{INTEGRITY_TARGET}: reason {await self.target_reason(INTEGRITY_TARGET)}")
        # Its failed probe must not page TargetDown: the inhibit rule holds it, which is not
        # a hold of the outage (watch_holds would count it against SiteInjected itself).
        await asyncio.sleep(GROUP_WAIT + 2)
        held = [
            str(a["held"])
            for a in await netmon_alerts(self.lab, self.node)
            if a.get("target") == INTEGRITY_TARGET and a.get("rule") == "TargetDown"
        ]
        rec.notes.append(f"{INTEGRITY_TARGET} TargetDown: {held[0] if held else 'not firing'}")
        self.lab.clean_web("dc-web-1")
        await wait_for(
            "SiteInjected resolved",
            lambda: self.sink.seen(*rec.expected[0], status="resolved"),
            60,
        )
        return self.finish(rec, since)

    async def sip_trunk_down(self) -> Record:
        """Viettel's SIP trunk (its SBC, kamailio in the router's namespace) stops: the
        router and its link stay up. SipTrunkDown pages; TargetDown on the trunk is inhibited
        by it, and nothing of the router pages. Needs ``drill(lab, sip=True)``."""
        rec = self.record("sip-trunk-down")
        rec.expected = [("SipTrunkDown", SIP_TRUNK)]
        rec.forbidden = [f"TargetDown {SIP_TRUNK}", "TargetDown viettel-edge", "InterfaceDown"]
        since = len(self.sink.pages)
        self.lab.stop_sip()
        await wait_for(
            "SipTrunkDown", lambda: self.sink.seen(*rec.expected[0]), TIME_TO_ALERT_GOAL * 3
        )
        rec.notes.append(f"{SIP_TRUNK}: reason {await self.target_reason(SIP_TRUNK)}")
        await self.watch_holds(rec, GROUP_WAIT + 2)  # nothing else may page meanwhile
        # The trunk's own TargetDown held by SipTrunkDown (the shipped inhibit rule) is the
        # point, not a hold of the trunk: it goes to the notes.
        held = rec.held.get(SIP_TRUNK, "")
        if held.startswith("inhibited by SipTrunkDown"):
            rec.notes.append(f"TargetDown {SIP_TRUNK}: {rec.held.pop(SIP_TRUNK)}")
        self.lab.restart_sip()
        await wait_for(
            "SipTrunkDown resolved",
            lambda: self.sink.seen(*rec.expected[0], status="resolved"),
            60,
        )
        return self.finish(rec, since)

    async def stream_stalled(self) -> Record:
        """The livestream's encoder stalls: its server answers with a playlist that no longer
        moves. StreamStalled pages (not TargetDown: the server is up), then resolves."""
        rec = self.record("stream-stalled")
        name = STREAM[0]
        rec.expected = [("StreamStalled", name)]
        rec.forbidden = [f"TargetDown {name}"]
        rec.goal = 30.0  # two 3 s probes that each watch the playlist for its 2 s target duration
        since = len(self.sink.pages)
        self.lab.stall_stream()
        await wait_for("StreamStalled", lambda: self.sink.seen(*rec.expected[0]), 90)
        rec.notes.append(f"{name}: reason {await self.target_reason(name)}")
        await asyncio.sleep(GROUP_WAIT + 2)  # any other page would arrive by now
        # Its TargetDown is held by the StreamStalled inhibit rule (not a hold of the target
        # itself, which ``held`` would count against the page).
        for a in await netmon_alerts(self.lab, self.node):
            if a.get("target") == name and a.get("held"):
                rec.notes.append(f"{a['rule']} {name}: {a['held']}")
        self.lab.resume_stream()
        await wait_for(
            "StreamStalled resolved",
            lambda: self.sink.seen(*rec.expected[0], status="resolved"),
            60,
        )
        return self.finish(rec, since)


def sip_trunk_target() -> dict[str, Any]:
    """The drill's sip target: the Viettel SBC, OPTIONS over UDP every second."""
    return {
        "name": SIP_TRUNK,
        "kind": "sip",
        "host": ADDRESSES[f"{SIP_CARRIER}-edge"],
        "group": "carrier",
        "labels": {"carrier": SIP_CARRIER, "site": "hoi-truong-tinh"},
        "timeout": "900ms",
        "sip": {"port": SIP_PORT},
    }


SCENARIOS: dict[str, str] = {
    "viettel-cut": "viettel_cut",
    "viettel-loss": "viettel_loss",
    "both-carriers-cut": "both_cut",
    "linkdown-trap": "linkdown_trap",
    "snmp-agent-stopped": "snmp_agent_stopped",
    "web-server-hung": "web_server_hung",
    "site-injected": "site_injected",
    "sip-trunk-down": "sip_trunk_down",
    "stream-stalled": "stream_stalled",
}
# The scenarios that need the SIP trunk's SBC running (``drill(lab, sip=True)``).
NEEDS_SIP = frozenset({"sip-trunk-down"})


@contextlib.asynccontextmanager
async def drill(
    lab: NetnsLab, snmp_interval: str | None = None, sip: bool = False
) -> AsyncIterator[Drill]:
    """Alertmanager, the webhook and netmon in the lab's netmon namespace; with ``sip`` the
    Viettel SIP trunk's SBC too, and netmon's sip target for it."""
    # A fresh start: no Alertmanager notification log or netmon state from an earlier drill.
    for stale in (lab.workdir / "alertmanager", lab.workdir / "netmon"):
        shutil.rmtree(stale, ignore_errors=True)
    if sip:
        await asyncio.to_thread(lab.start_sip)
    sink = Sink(lab.mon)
    await sink.start()
    try:
        async with alertmanager(lab, sink) as am:
            config, listen = drill_settings(
                lab.workdir / "netmon" / "settings.toml",
                [f"{am.base}/"],
                snmp_interval=snmp_interval,
                extra_targets=[sip_trunk_target()] if sip else None,
            )
            async with netmon(lab, config, listen) as node:
                d = Drill(lab, sink, am, node, config, listen)
                await d.settle()
                yield d
    finally:
        await sink.close()
        if sip:
            lab.stop_sip()
