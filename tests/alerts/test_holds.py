"""The holds, one at a time: a maintenance window, and a depends_on parent down, not yet
probed, back before the child's last result, or back while the child recovers. And every hold
reason has words in both languages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts import db
from alerts.holds import MaintenanceHold, ParentHold
from alerts.maintenance import Maintenance
from alerts.model import HOLD_KINDS, HoldReason, MaintenanceWindow
from monitor.config import Target
from monitor.core import i18n
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult

CYCLE = 12.0  # what a result of any target may take to come, here


@dataclass
class Alert:
    target: str | None = "xa-01"
    labels: dict[str, str] = field(default_factory=lambda: {"target": "xa-01"})
    active_since: float = 1000.0
    oks: int = 0
    hold: HoldReason | None = None


def make_store(*children: str) -> Store:
    store = Store()
    store.set_targets(
        [Target.model_validate({"name": "uplink", "kind": "icmp", "host": "127.0.2.1"})]
        + [
            Target.model_validate(
                {"name": c, "kind": "icmp", "host": "127.0.2.2", "depends_on": ["uplink"]}
            )
            for c in children
        ]
    )
    return store


def result(store: Store, name: str, success: bool, at: float) -> None:
    outcome = ProbeResult(success, None if success else "timeout", "")
    store.record(name, Observation(outcome, at, 0.01))


def test_parent_down_then_back_then_the_child_recovering() -> None:
    store = make_store("xa-01")
    hold = ParentHold(store, lambda target: CYCLE)
    hold.started_at = 900.0
    alert = Alert()
    # No result of the parent since netmon started: wait for one, one cycle at most.
    assert hold.held(alert, 905.0) == HoldReason("parent_pending", "uplink")
    assert hold.held(alert, 905.0).until == 912.0  # type: ignore[union-attr]
    assert hold.held(alert, 913.0) is None
    result(store, "xa-01", False, 1000.0)
    result(store, "uplink", True, 999.0)  # good, but before the child failed
    assert hold.held(alert, 1001.0) == HoldReason("parent_pending", "uplink", until=1012.0)
    result(store, "uplink", False, 1001.0)
    down = hold.held(alert, 1002.0)
    assert down == HoldReason("parent_down", "uplink") and down.suppressed
    # The parent is back; the child's last result is older: wait for one of its own.
    result(store, "uplink", True, 1010.0)
    hold.parent_recovered("uplink", 1010.0)
    alert.hold = down
    assert hold.held(alert, 1011.0) == HoldReason("parent_recovered", "uplink", until=1022.0)
    assert hold.held(alert, 1023.0) is None  # it had its chance: a child still down pages
    result(store, "xa-01", True, 1012.0)
    alert.oks = 1
    assert hold.held(alert, 1013.0) == HoldReason("recovering", "uplink")
    alert.hold = None  # not held when it began to recover: a new failure pages
    assert hold.held(alert, 1013.0) is None


def test_a_parent_not_watched_here_holds_nothing() -> None:
    store = make_store()  # the child and its parent are another shard's
    assert ParentHold(store, lambda target: CYCLE).held(Alert(), 1000.0) is None
    assert ParentHold(store, lambda target: CYCLE).held(Alert(target=None), 1000.0) is None


async def test_maintenance_holds_by_the_alerts_labels(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "a.sqlite")
    database.start()
    try:
        maintenance = Maintenance(database)
        maintenance.apply(
            [
                MaintenanceWindow(
                    name="nang-cap",
                    match={"target": ["xa-01", "xa-02"]},
                    start=datetime(2025, 10, 14, tzinfo=UTC),
                    end=datetime(2025, 10, 15, tzinfo=UTC),
                )
            ]
        )
        hold = MaintenanceHold(maintenance)
        inside = datetime(2025, 10, 14, 12, tzinfo=UTC).timestamp()
        assert hold.held(Alert(), inside) is None  # not active until the engine's tick
        assert maintenance.tick(inside) is True
        assert hold.held(Alert(), inside) == HoldReason("maintenance", window="nang-cap")
        assert hold.held(Alert(labels={"target": "xa-03"}), inside) is None
        assert maintenance.tick(inside + 86400) is True
        assert hold.held(Alert(), inside + 86400) is None
    finally:
        await database.close()


@pytest.mark.parametrize("kind", HOLD_KINDS)
def test_every_hold_reason_has_words_in_both_languages(kind: str) -> None:
    named = HoldReason(kind, "uplink", "nang-cap")  # type: ignore[arg-type]
    for reason in (named, named.unnamed()):
        data = reason.to_json()
        texts = {lang: i18n.held_text(data, lang) for lang in i18n.LANGUAGES}
        assert all(texts.values()) and not any("{" in t for t in texts.values()), texts
        assert texts["vi"] != texts["en"]
        if kind != "maintenance":
            assert ("uplink" in texts["en"]) == (reason.parent is not None)
    assert "uplink" not in named.unnamed().english()


def test_hold_reasons_speak_the_apis_words() -> None:
    assert HoldReason("parent_down", "core").english() == "suppressed: parent core down"
    assert HoldReason("parent_down").english() == "suppressed: a parent down"
    assert HoldReason("maintenance", window="w").english() == "maintenance: w"
    assert HoldReason("recovering", "core").english() == "recovering after parent core recovered"
    texts = i18n.held_text(HoldReason("recovering", "core").to_json(), "vi")
    assert texts == "đang hồi phục sau khi cấp trên core phục hồi"
