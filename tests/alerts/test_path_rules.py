"""The shipped PathChanged rule (issue 18): a probe of kind "path" that reports path_changed
pages PathChanged (its TargetDown is held: the target still answers), and the next run on the
now-learnt path resolves it. Results go into the store by hand, as probes/path.py returns them;
the engine and its webhook receiver are real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from alerts.engine import AlertEngine
from monitor.config import load_settings
from monitor.core.waiting import wait_for
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample
from tests.support.alerts import sink_server

TARGET = "hoi-truong-duong-di"
CHANGED = (
    "the path to 10.218.2.1 changed at hop 1: 10.218.0.2 (VNPT BRAS Buôn Ma Thuột) → "
    "10.218.5.2 (Viettel Đắk Lắk); now 10.218.5.2 (Viettel Đắk Lắk) → 10.218.6.2 → 10.218.2.1"
)


class Path_:
    def __init__(self, engine: AlertEngine, store: Store) -> None:
        self.engine, self.store, self.t = engine, store, 1_760_400_000.0

    def probe(self, reason: str | None, path_hash: float) -> None:
        self.t += 60
        samples = (Sample("probe_path_hops", 3.0), Sample("probe_path_hash", path_hash))
        detail = "10.218.2.1 reached in 3 hops" if reason is None else CHANGED
        facts = (("old_hop", "hop 1: 10.218.0.2"), ("new_hop", "hop 1: 10.218.5.2"))
        result = ProbeResult(reason is None, reason, detail, samples, facts if reason else ())
        self.store.record(TARGET, Observation(result, self.t, 1.0))

    def states(self) -> dict[str, dict[str, Any]]:
        return {a["rule"]: a for a in self.engine.alerts_json() if a["target"] == TARGET}


@pytest.fixture
async def path(tmp_path: Path) -> AsyncIterator[tuple[Path_, Any]]:
    async with sink_server() as sink:
        doc = {
            "server": {"state_dir": str(tmp_path / "state")},
            "targets": [
                {
                    "name": TARGET,
                    "title": "Hội trường: đường đi",
                    "kind": "path",
                    "host": "10.218.2.1",
                    "group": "venue",
                }
            ],
            "alerts": {
                "receivers": {"noc": {"type": "webhook", "url": sink.url}},
                "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]}],
            },
        }
        settings_path = tmp_path / "s.toml"
        settings_path.write_text(tomli_w.dumps(doc))
        settings = load_settings(settings_path)
        store = Store()
        store.set_targets(settings.targets)
        engine = AlertEngine(settings, store)
        await engine.start()
        try:
            yield Path_(engine, store), sink
        finally:
            await engine.aclose()


async def test_a_path_change_pages_path_changed_not_target_down(
    path: tuple[Path_, Any],
) -> None:
    p, sink = path
    p.probe(None, 1.0)
    p.probe("path_changed", 2.0)
    states = p.states()
    alert = states["PathChanged"]
    assert alert["state"] == "firing"  # failures = 1: a change is seen once
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["summary_vi"] == "Đường đi tới Hội trường: đường đi đã thay đổi"
    assert "VNPT BRAS Buôn Ma Thuột" in alert["annotations"]["description_en"]
    assert "Viettel Đắk Lắk" in alert["annotations"]["description_vi"]
    assert states["TargetDown"]["state"] == "pending"  # one failed run: not a page
    await wait_for("the page", lambda: sink.kinds(rule="PathChanged") == ["firing"])
    assert sink.kinds(rule="TargetDown") == []
    p.probe(None, 2.0)  # the new path is learnt
    assert "PathChanged" not in p.states()
    await wait_for("the end", lambda: sink.kinds(rule="PathChanged") == ["firing", "resolved"])


async def test_an_expected_path_missed_run_after_run_holds_target_down(
    path: tuple[Path_, Any],
) -> None:
    p, sink = path
    for _ in range(3):  # expected_path in the settings: every run differs from it
        p.probe("path_changed", 2.0)
    states = p.states()
    assert states["PathChanged"]["state"] == "firing"
    assert states["TargetDown"]["state"] == "firing"
    assert states["TargetDown"]["hold"]["by"] == "PathChanged"
    await wait_for("the page", lambda: sink.kinds(rule="PathChanged") == ["firing"])
    assert sink.kinds(rule="TargetDown") == []


async def test_a_path_not_reached_is_not_a_path_change(path: tuple[Path_, Any]) -> None:
    p, _sink = path
    for _ in range(3):
        p.probe("max_hops", 0.0)
    assert "PathChanged" not in p.states()
