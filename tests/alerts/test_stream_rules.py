"""The shipped StreamStalled rule (issue 16): a livestream whose playlist stops moving pages
StreamStalled, which mutes its TargetDown (the server answers: it is stalled, not down), and a
stream that plays again resolves it. Results go into the store by hand, as the stream probe
returns them; the engine and its webhook receiver are real.
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

TARGET = "truyen-hinh-dak-lak"


class Stream:
    def __init__(self, engine: AlertEngine, store: Store) -> None:
        self.engine = engine
        self.store = store
        self.t = 1_760_400_000.0

    def probe(self, reason: str | None, sequence: int) -> None:
        self.t += 10
        samples = (Sample("probe_stream_media_sequence", float(sequence)),)
        detail = "live" if reason is None else f"the playlist has not moved in 1.5 s ({sequence})"
        result = ProbeResult(reason is None, reason, detail, samples)
        self.store.record(TARGET, Observation(result, self.t, 1.5))

    def states(self) -> dict[str, dict[str, Any]]:
        return {a["rule"]: a for a in self.engine.alerts_json() if a["target"] == TARGET}


@pytest.fixture
async def stream(tmp_path: Path) -> AsyncIterator[tuple[Stream, Any]]:
    async with sink_server() as sink:
        doc = {
            "server": {"state_dir": str(tmp_path / "state")},
            "targets": [
                {
                    "name": TARGET,
                    "title": "Truyền hình Đắk Lắk trực tiếp",
                    "kind": "stream",
                    "url": "http://127.0.16.1:8080/live/master.m3u8",
                    "group": "venue",
                }
            ],
            "alerts": {
                "receivers": {"noc": {"type": "webhook", "url": sink.url}},
                "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]}],
            },
        }
        path = tmp_path / "s.toml"
        path.write_text(tomli_w.dumps(doc))
        settings = load_settings(path)
        store = Store()
        store.set_targets(settings.targets)
        engine = AlertEngine(settings, store)
        await engine.start()
        try:
            yield Stream(engine, store), sink
        finally:
            await engine.aclose()


async def test_a_stalled_stream_pages_stream_stalled_not_target_down(
    stream: tuple[Stream, Any],
) -> None:
    s, sink = stream
    s.probe(None, 100)
    s.probe("stalled", 101)
    assert s.states()["StreamStalled"]["state"] == "pending"  # failures = 2
    s.probe("stalled", 101)
    states = s.states()
    alert = states["StreamStalled"]
    assert alert["state"] == "firing"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary_vi"] == (
        "Truyền hình Đắk Lắk trực tiếp: luồng phát trực tiếp bị đứng"
    )
    assert "has not moved in 1.5 s" in alert["annotations"]["description_en"]
    # TargetDown fires too (the probe failed) but is held: the stall is the page.
    assert states["TargetDown"]["hold"]["by"] == "StreamStalled"
    await wait_for("the page", lambda: sink.kinds(rule="StreamStalled") == ["firing"])
    assert sink.kinds(rule="TargetDown") == []
    s.probe(None, 102)
    assert "StreamStalled" not in s.states()
    await wait_for("the end", lambda: sink.kinds(rule="StreamStalled") == ["firing", "resolved"])


async def test_a_refused_stream_is_down_not_stalled(stream: tuple[Stream, Any]) -> None:
    s, sink = stream
    for _ in range(3):
        s.probe("refused", 0)
    states = s.states()
    assert "StreamStalled" not in states
    assert states["TargetDown"]["state"] == "firing" and not states["TargetDown"].get("hold")
    await wait_for("the page", lambda: sink.kinds(rule="TargetDown") == ["firing"])
