"""The dispatcher's decisions, without delivery: route, mute, de-duplicate, escalate, end.

Its workers are not started, so what it decides stays queued where the test can count it; the
outbox is a real SQLite file.
"""

from __future__ import annotations

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
