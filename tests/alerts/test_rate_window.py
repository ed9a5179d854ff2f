"""rate(): the oldest point inside the window per series, found without reading the whole
history when every series of the result has one (issue 17)."""

from __future__ import annotations

import random
from pathlib import Path

from alerts.engine import AlertEngine
from alerts.expr import parse
from monitor.config import Settings
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample

Labels = tuple[tuple[str, str], ...]


def _reference(
    history: list[Observation], obs: Observation, name: str, window: float
) -> dict[Labels, dict[float, float]]:
    """rate() as the engine computed it before: every result of the history read."""
    oldest: dict[Labels, tuple[float, float]] = {}
    for past in history:
        if past.started < obs.started - window or past.started >= obs.started:
            continue
        for sample in past.result.samples:
            if sample.name == name and sample.labels not in oldest:
                oldest[sample.labels] = (past.started, sample.value)
    rates: dict[Labels, dict[float, float]] = {}
    for sample in obs.result.samples:
        if sample.name != name:
            continue
        rates[sample.labels] = {}
        then = oldest.get(sample.labels)
        if then is None or sample.value < then[1] or obs.started <= then[0]:
            continue
        rates[sample.labels][window] = (sample.value - then[1]) / (obs.started - then[0])
    return rates


def test_rates_match_a_full_read_of_the_history(tmp_path: Path) -> None:
    """Ports that appear late, vanish and come back, counters that reset: every series'
    rate is the one a full read of the history gives."""
    settings = Settings.model_validate(
        {
            "server": {"state_dir": str(tmp_path)},
            "targets": [
                {"name": "sw", "kind": "snmp", "host": "127.0.0.1", "snmp": {"community": "x"}}
            ],
        }
    )
    store = Store(history_size=40)
    engine = AlertEngine(settings, store, state_dir=tmp_path)
    store.set_targets(settings.targets)
    condition = parse("rate(ifInErrors[30s]) > 1")
    rng = random.Random(17)
    counters = dict.fromkeys(range(1, 9), 0.0)
    compared = 0
    for n in range(120):
        samples = []
        for port in counters:
            if port > 4 and rng.random() < 0.3:
                continue  # this port is missing from this poll
            counters[port] = 0.0 if rng.random() < 0.05 else counters[port] + rng.randint(0, 50)
            samples.append(Sample("ifInErrors", counters[port], (("ifIndex", str(port)),)))
        obs = Observation(ProbeResult(True, None, "", tuple(samples)), 1000.0 + n * 2.5, 0.1)
        state = store.get("sw")
        assert state is not None
        history = list(state.history)
        index = engine._sample_index(obs)
        points = engine._values(condition, state, obs, index)
        expected = _reference(history, obs, "ifInErrors", 30.0)
        assert {p.labels: dict(p.rates) for p in points} == expected
        compared += sum(1 for rates in expected.values() if rates)
        store.record("sw", obs)
    assert compared > 500  # most points had a rate to compare
