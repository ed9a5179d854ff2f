"""The dispatcher's decisions, without delivery: route, mute, de-duplicate, escalate, end.

Its workers are not started, so what it decides stays queued where the test can count it; the
outbox is a real SQLite file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts import db
from alerts.dispatch import Announcement, Dispatcher
from alerts.model import AlertSnapshot
from alerts.notify import NotifyContext
from alerts.settings import AlertsSettings
from tests.support.clock import FakeClock

SETTINGS: dict[str, Any] = {
    "receivers": {
        "noc": {"type": "log", "repeat_interval": "1h"},
        "oncall": {"type": "log"},
    },
    "routes": [
        {"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]},
        {"match": {"severity": ["critical"]}, "receivers": ["oncall"]},
    ],
}


def announcement(
    severity: str = "warning",
    *,
    resolved: bool = False,
    held: bool = False,
    flapping: bool = False,
    receivers: tuple[str, ...] | None = None,
) -> Announcement:
    alert = AlertSnapshot(
        key="k1",
        rule="TargetDown",
        target="uplink",
        status="resolved" if resolved else "firing",
        labels={"alertname": "TargetDown", "target": "uplink", "severity": severity},
        annotations={"summary": "uplink mất kết nối"},
        starts_at=1000.0,
        ends_at=1100.0 if resolved else None,
        value=0.0,
    )
    return Announcement(alert, flapping=flapping, held=held, receivers=receivers)


@pytest.fixture
async def dispatcher(tmp_path: Path) -> AsyncIterator[tuple[Dispatcher, FakeClock]]:
    clock = FakeClock()
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="")
    settings = AlertsSettings.model_validate(SETTINGS)
    d = Dispatcher(settings, database, ctx, clock, lambda: [])
    yield d, clock
    await d.aclose()
    await ctx.aclose()
    await database.close()


def test_routes_by_labels_or_the_rules_own_receivers(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, _ = dispatcher
    assert d.routes({"severity": "warning"}, None) == ["noc"]
    assert d.routes({"severity": "critical"}, None) == ["noc", "oncall"]
    assert d.routes({"severity": "info"}, None) == []
    assert d.routes({"severity": "info"}, ("oncall", "not-configured")) == ["oncall"]


def test_one_page_per_episode_again_on_escalation_and_an_end_to_those_paged(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, _ = dispatcher
    d.announce(announcement())
    d.announce(announcement())  # the same again: the notification log says it was sent
    assert d.pending_by_receiver() == {"noc": 1, "oncall": 0}
    assert d.notified("k1") == ["noc"]
    d.announce(announcement("critical"))  # a phase made it critical: noc again, and on-call
    assert d.pending_by_receiver() == {"noc": 2, "oncall": 1}
    d.announce(announcement("critical", resolved=True))
    assert d.pending_by_receiver() == {"noc": 3, "oncall": 2}
    assert d.notified("k1") == []
    d.announce(announcement("critical", resolved=True))  # told already: nothing more
    assert d.pending == 5


def test_an_end_reaches_a_receiver_paged_before_though_no_longer_routed(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, _ = dispatcher
    d.announce(announcement("critical"))
    assert d.notified("k1") == ["noc", "oncall"]
    d.announce(announcement("warning", resolved=True))  # relabelled down, then resolved
    assert d.pending_by_receiver() == {"noc": 2, "oncall": 2}


def test_held_pages_no_one_and_its_end_is_not_sent(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, _ = dispatcher
    d.announce(announcement(held=True))
    d.announce(announcement(resolved=True, held=True))
    assert d.pending == 0 and d.notified("k1") == []
    d.announce(announcement())  # released: pages now
    assert d.pending_by_receiver()["noc"] == 1


def test_flapping_sends_one_notice_and_pages_wait(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, _ = dispatcher
    for _ in range(3):
        d.announce(announcement(flapping=True))
    assert d.pending_by_receiver() == {"noc": 1, "oncall": 0}
    d.announce(announcement(resolved=True, flapping=True))  # the end waits for it to settle
    assert d.pending == 1
    d.announce(announcement(resolved=True))  # settled, resolved: the end goes out
    assert d.pending == 2 and d.notified("k1") == []


async def test_a_stateless_receiver_is_paged_again_after_repeat_interval(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    d, clock = dispatcher
    d.announce(announcement())
    await clock.advance(3599)
    d.announce(announcement())
    assert d.pending == 1
    await clock.advance(1)
    d.announce(announcement())
    assert d.pending == 2


GROUPED: dict[str, Any] = {
    "receivers": {"noc": {"type": "log"}, "am": {"type": "alertmanager", "urls": ["http://x:1"]}},
    "routes": [{"match": {}, "receivers": ["noc", "am"], "group_wait": "10s"}],
}


def snapshot(key: str, rule: str, target: str, *, resolved: bool = False) -> Announcement:
    alert = AlertSnapshot(
        key=key,
        rule=rule,
        target=target,
        status="resolved" if resolved else "firing",
        labels={"alertname": rule, "target": target, "severity": "warning"},
        annotations={"summary": f"{target}: {rule}"},
        starts_at=1000.0,
        ends_at=1100.0 if resolved else None,
        value=0.0,
    )
    return Announcement(alert, flapping=False, held=False, receivers=None)


@pytest.fixture
async def grouping(tmp_path: Path) -> AsyncIterator[tuple[Dispatcher, FakeClock, db.AlertDB]]:
    clock = FakeClock()
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="")
    d = Dispatcher(AlertsSettings.model_validate(GROUPED), database, ctx, clock, lambda: [])
    yield d, clock, database
    await d.aclose()
    await ctx.aclose()
    await database.close()


async def test_alerts_of_one_target_within_group_wait_go_out_as_one_message(
    grouping: tuple[Dispatcher, FakeClock, db.AlertDB],
) -> None:
    d, clock, database = grouping
    d.announce(snapshot("k1", "InterfaceDown", "edge"))
    await asyncio.sleep(0)  # the group's timer starts sleeping on the clock
    await clock.advance(3)
    d.announce(snapshot("k2", "BgpPeerDown", "edge"))
    d.announce(snapshot("k3", "TargetDown", "other"))
    d.announce(snapshot("k1", "InterfaceDown", "edge"))  # again while waiting: still one
    await asyncio.sleep(0)
    # Alertmanager groups by itself: it hears of each at once.
    assert d.pending_by_receiver() == {"noc": 0, "am": 3}
    await clock.advance(6.9)
    assert d.pending_by_receiver()["noc"] == 0
    await clock.advance(0.2)
    assert d.pending_by_receiver()["noc"] == 1  # edge: both, in one message
    await clock.advance(3)
    assert d.pending_by_receiver()["noc"] == 2  # other: its own wait
    rows = [n for n in await database.run(db.outbox_pending, write=False) if n.receiver == "noc"]
    assert [[a.rule for a in n.alerts] for n in rows] == [
        ["InterfaceDown", "BgpPeerDown"],
        ["TargetDown"],
    ]
    assert d.notified("k1") == d.notified("k2") == ["am", "noc"]
    # Each ends on its own, to those paged.
    d.announce(snapshot("k2", "BgpPeerDown", "edge", resolved=True))
    assert d.pending_by_receiver() == {"noc": 3, "am": 4}


async def test_an_alert_that_ends_within_group_wait_is_never_sent(
    grouping: tuple[Dispatcher, FakeClock, db.AlertDB],
) -> None:
    d, clock, _ = grouping
    d.announce(snapshot("k1", "InterfaceDown", "edge"))
    await asyncio.sleep(0)
    await clock.advance(2)
    d.announce(snapshot("k1", "InterfaceDown", "edge", resolved=True))
    await clock.advance(20)
    assert d.pending_by_receiver()["noc"] == 0 and "noc" not in d.notified("k1")


async def test_receivers_added_by_a_reload_hear_no_end_of_what_they_never_saw(
    dispatcher: tuple[Dispatcher, FakeClock],
) -> None:
    """Resolved goes only to receivers that were sent the firing (issue 12)."""
    d, _ = dispatcher
    d.announce(announcement("warning"))
    assert d.notified("k1") == ["noc"]
    wider = {
        **SETTINGS,
        "receivers": {**SETTINGS["receivers"], "sms": {"type": "log"}},
        "routes": [{"match": {}, "receivers": ["noc", "oncall", "sms"]}],
    }
    await d.update(AlertsSettings.model_validate(wider))
    d.announce(announcement("warning", resolved=True))
    assert d.pending_by_receiver() == {"noc": 2, "oncall": 0, "sms": 0}
    assert d.notified("k1") == []


ESCALATING: dict[str, Any] = {
    "receivers": {"noc": {"type": "log"}, "head": {"type": "log"}, "deputy": {"type": "log"}},
    "routes": [
        {
            "match": {"severity": ["warning"]},
            "receivers": ["noc"],
            "escalate": [
                {"after": "5m", "receivers": ["head"], "phases": ["dai-hoi-tinh"]},
                {"after": "30m", "receivers": ["head"]},
                {"after": "1h", "receivers": ["deputy"]},
            ],
        }
    ],
}


def climbing(
    phase: str, fired_at: float, *, acked: bool = False, resolved: bool = False
) -> Announcement:
    alert = AlertSnapshot(
        key="k1",
        rule="TargetDown",
        target="uplink",
        status="resolved" if resolved else "firing",
        labels={"alertname": "TargetDown", "target": "uplink", "severity": "warning",
                "phase": phase},
        annotations={},
        starts_at=0.0,
        ends_at=None,
        value=0.0,
    )  # fmt: skip
    return Announcement(alert, False, False, None, fired_at=fired_at, acked=acked)


@pytest.mark.parametrize(("phase", "head_after"), [("dai-hoi-tinh", 300.0), ("none", 1800.0)])
async def test_an_unacknowledged_alert_climbs_the_steps_of_its_phase(
    tmp_path: Path, phase: str, head_after: float
) -> None:
    clock = FakeClock()
    fired = clock.time()
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    ctx = NotifyContext(zone=ZoneInfo("Asia/Ho_Chi_Minh"), language="vi", external_url="")
    d = Dispatcher(AlertsSettings.model_validate(ESCALATING), database, ctx, clock, lambda: [])
    try:
        d.announce(climbing(phase, fired))
        assert d.notified("k1") == ["noc"]
        await clock.advance(head_after - 1)
        d.announce(climbing(phase, fired))
        assert d.notified("k1") == ["noc"]
        await clock.advance(1)
        d.announce(climbing(phase, fired))
        assert d.notified("k1") == ["head", "noc"]  # one page to the head, not a repeat
        d.announce(climbing(phase, fired, acked=True))
        await clock.advance(3600)
        d.announce(climbing(phase, fired, acked=True))  # acknowledged: no deputy, no repeat
        assert d.notified("k1") == ["head", "noc"]
        assert d.pending_by_receiver() == {"noc": 1, "head": 1, "deputy": 0}
        d.announce(climbing(phase, fired, acked=True, resolved=True))  # the end: to those paged
        assert d.pending_by_receiver() == {"noc": 2, "head": 2, "deputy": 0}
    finally:
        await d.aclose()
        await ctx.aclose()
        await database.close()


def test_escalation_steps_naming_unknown_receivers_or_phases_are_settings_errors(
    tmp_path: Path,
) -> None:
    from monitor.config import SettingsError, load_settings

    path = tmp_path / "settings.toml"
    path.write_text(
        '[alerts.receivers.noc]\ntype = "log"\n'
        '[[alerts.routes]]\nreceivers = ["noc"]\n'
        '[[alerts.routes.escalate]]\nafter = "10m"\nreceivers = ["truong-noc"]\n'
        'phases = ["dai-hoi"]\n',
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    got = [str(i) for i in caught.value.issues]
    assert any(g.startswith("alerts.routes[0].escalate[0].receivers[0]: no receiver") for g in got)
    assert any(g.startswith("alerts.routes[0].escalate[0].phases[0]: no phase") for g in got)
