"""The per-result path on its own (issue 17): store, metrics, alert evaluation, per result.

What ``netmon run`` does with each probe result once the probe returned: ``Store.record`` and
its listeners (the metrics renderer, the alert engine with the shipped rules, the coverage
ledger), as in a running service (``Service`` built and started, the scheduler not). 2,000
ICMP targets get results in rounds; every result differs from the last (RTTs move), all
succeed, so no alert fires (the steady state: what almost every result is). CPU per result
(``time.process_time``, so the database thread counts too), median of the rounds; then the
share of each listener (their own CPU, ``time.thread_time``) in one more round.

Run: ``.venv/bin/python bench/bench_result_path.py`` (a few seconds). Goal: <= 20 µs per
result. Writes bench/results/result_path.json.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.config import Settings  # noqa: E402
from monitor.runtime.service import Service  # noqa: E402
from monitor.runtime.store import Observation  # noqa: E402
from probes.base import ProbeResult, Sample  # noqa: E402

TARGETS = 2000
ROUNDS = 7
GOAL_US = 20.0


def result(i: int, n: int) -> ProbeResult:
    rtt = 0.0001 + (i * 7 + n * 13) % 997 * 1e-7
    return ProbeResult(
        True,
        None,
        "5/5 answered",
        (
            Sample("probe_icmp_packets_sent", 5),
            Sample("probe_icmp_packets_received", 5),
            Sample("probe_icmp_packet_loss_ratio", 0.0),
            Sample("probe_icmp_rtt_seconds", rtt, (("stat", "min"),)),
            Sample("probe_icmp_rtt_seconds", rtt * 1.5, (("stat", "avg"),)),
            Sample("probe_icmp_rtt_seconds", rtt * 4, (("stat", "max"),)),
            Sample("probe_icmp_jitter_seconds", rtt / 2),
        ),
    )


def listener_name(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)
    return f"{type(owner).__name__}.{fn.__name__}" if owner is not None else fn.__name__


async def bench(state_dir: Path) -> dict[str, Any]:
    settings = Settings.model_validate(
        {
            "server": {"state_dir": str(state_dir)},
            "traps": {"enabled": False},
            "targets": [
                {
                    "name": f"icmp-{i:05d}",
                    "kind": "icmp",
                    "host": f"127.4.{i // 250}.{i % 250 + 1}",
                    "group": "carrier",
                    "interval": "5s",
                    "labels": {"carrier": ("vnpt", "viettel")[i % 2]},
                }
                for i in range(TARGETS)
            ],
        }
    )
    service = Service(settings)
    await service.start()
    store = service.store
    names = [t.name for t in settings.targets]
    clock = 1.8e9
    per_round: list[float] = []
    try:
        for n in range(ROUNDS + 1):  # the first round warms up (first results, first heads)
            results = [result(i, n) for i in range(TARGETS)]
            start = time.process_time()
            for i, name in enumerate(names):
                store.record(name, Observation(results[i], clock + n * 5 + i * 0.0025, 0.004))
            spent = time.process_time() - start
            if n:
                per_round.append(spent / TARGETS * 1e6)
            await asyncio.sleep(0.05)  # the database thread and queued work catch up
        # Each listener's own share, timed one call at a time.
        shares: dict[str, float] = {}
        listeners = list(store._on_record)

        def timed(fn: Callable[..., None]) -> Callable[..., None]:
            key = listener_name(fn)

            def call(*args: Any) -> None:
                t0 = time.thread_time()
                fn(*args)
                shares[key] = shares.get(key, 0.0) + time.thread_time() - t0

            return call

        store._on_record[:] = [timed(fn) for fn in listeners]
        n = ROUNDS + 1
        results = [result(i, n) for i in range(TARGETS)]
        t0 = time.thread_time()
        for i, name in enumerate(names):
            store.record(name, Observation(results[i], clock + n * 5 + i * 0.0025, 0.004))
        whole = time.thread_time() - t0
        store._on_record[:] = listeners
    finally:
        await service.aclose()
    return {
        "targets": TARGETS,
        "rules": len(service.alerts._target_rules.get(names[0], [])),
        "us_per_result_median": round(statistics.median(per_round), 1),
        "us_per_result_rounds": [round(v, 1) for v in per_round],
        "share_us_per_result": {
            **{k: round(v / TARGETS * 1e6, 1) for k, v in shares.items()},
            "store itself": round((whole - sum(shares.values())) / TARGETS * 1e6, 1),
        },
        "goal_us": GOAL_US,
        "goal_met": statistics.median(per_round) <= GOAL_US,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="netmon-bench-result-") as tmp:
        figures = asyncio.run(bench(Path(tmp)))
    for key, value in figures.items():
        print(f"{key:<22}  {value}")
    path = REPO / "bench" / "results" / "result_path.json"
    if "--no-write" not in sys.argv:
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
