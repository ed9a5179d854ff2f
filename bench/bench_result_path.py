"""The per-result path on its own (issue 17): store, metrics, alert evaluation, per result.

What ``netmon run`` does with each probe result once the probe returned: ``Store.record`` and
its listeners (the metrics renderer, the alert engine with the shipped rules, the coverage
ledger), as in a running service (``Service`` built and started, the scheduler not). 2,000
ICMP targets get results in rounds; every result differs from the last (RTTs move), all
succeed, so no alert fires (the steady state: what almost every result is). CPU per result
(``time.process_time``, so the database thread counts too), median of the rounds; then the
share of each listener (their own CPU, ``time.thread_time``) in one more round. The same for
40 SNMP agents of 25 ports each (228 samples a result, counters growing), timed once their
history is full (rate() reads it).

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


INTERFACES = 25
SNMP_TARGETS = 40
SNMP_ROUNDS = 150  # past the 120 results a target's history keeps: rate() reads all of it


def snmp_result(i: int, n: int) -> ProbeResult:
    """A 25-port agent's poll as netmon's snmp probe reports it (Debian's snmpd answers the
    same 228 samples): counters grow with each poll n, statuses stay."""
    samples = [
        Sample("sysUpTime", 86400.0 + n),
        Sample("sysName", 1.0, (("sysName", f"sw-{i}"),)),
        Sample("probe_snmp_agent_restarted", 0.0),
    ]
    columns = (
        ("ifOperStatus", 0), ("ifAdminStatus", 0), ("ifInErrors", 0), ("ifOutErrors", 0),
        ("ifInDiscards", 0), ("ifOutDiscards", 0), ("ifHighSpeed", 0),
        ("ifHCInOctets", 125_000), ("ifHCOutOctets", 97_000),
    )  # fmt: skip
    for name, growth in columns:
        for port in range(1, INTERFACES + 1):
            labels = (
                ("ifIndex", str(port)), ("ifName", f"ge-0/0/{port}"),
                ("ifDescr", f"GigabitEthernet0/0/{port}"), ("ifAlias", ""), ("circuit", ""),
            )  # fmt: skip
            base = {"ifOperStatus": 1.0, "ifAdminStatus": 1.0, "ifHighSpeed": 1000.0}
            value = base.get(name, 0.0) + growth * port * n
            samples.append(Sample(name, value, labels))
    return ProbeResult(True, None, "ok", tuple(samples))


def listener_name(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)
    return f"{type(owner).__name__}.{fn.__name__}" if owner is not None else fn.__name__


async def case(
    state_dir: Path,
    kind: str,
    targets: int,
    make: Callable[[int, int], ProbeResult],
    rounds: int,
    measured: int,
    interval: float,
) -> dict[str, Any]:
    """``rounds`` rounds of one result per target; the last ``measured`` are timed."""
    specs: list[dict[str, Any]] = []
    for i in range(targets):
        spec: dict[str, Any] = {
            "name": f"{kind}-{i:05d}",
            "kind": kind,
            "host": f"127.4.{i // 250}.{i % 250 + 1}",
            "group": "carrier",
            "interval": f"{interval:g}s",
            "labels": {"carrier": ("vnpt", "viettel")[i % 2]},
        }
        if kind == "snmp":
            spec["snmp"] = {"version": "2c", "community": "bench"}
        specs.append(spec)
    settings = Settings.model_validate(
        {"server": {"state_dir": str(state_dir)}, "traps": {"enabled": False}, "targets": specs}
    )
    service = Service(settings)
    await service.start()
    store = service.store
    names = [t.name for t in settings.targets]
    clock = 1.8e9
    per_round: list[float] = []
    samples = 0
    try:
        for n in range(rounds + 1):
            results = [make(i, n) for i in range(targets)]
            samples = len(results[0].samples)
            start = time.process_time()
            for i, name in enumerate(names):
                at = clock + n * interval + i * interval / targets
                store.record(name, Observation(results[i], at, 0.004))
            spent = time.process_time() - start
            if n > rounds - measured:
                per_round.append(spent / targets * 1e6)
            if n % 10 == 0 or n > rounds - measured:
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
        n = rounds + 1
        results = [make(i, n) for i in range(targets)]
        t0 = time.thread_time()
        for i, name in enumerate(names):
            at = clock + n * interval + i * interval / targets
            store.record(name, Observation(results[i], at, 0.004))
        whole = time.thread_time() - t0
        store._on_record[:] = listeners
    finally:
        await service.aclose()
    median = statistics.median(per_round)
    return {
        "targets": targets,
        "samples_per_result": samples,
        "rules": len(service.alerts._target_rules.get(names[0], [])),
        "us_per_result_median": round(median, 1),
        "us_per_sample_median": round(median / samples, 2),
        "us_per_result_rounds": [round(v, 1) for v in per_round],
        "share_us_per_result": {
            **{k: round(v / targets * 1e6, 1) for k, v in shares.items()},
            "store itself": round((whole - sum(shares.values())) / targets * 1e6, 1),
        },
    }


async def bench(work: Path) -> dict[str, Any]:
    icmp = await case(work / "icmp", "icmp", TARGETS, result, ROUNDS, ROUNDS, 5.0)
    snmp = await case(work / "snmp", "snmp", SNMP_TARGETS, snmp_result, SNMP_ROUNDS, 20, 1.0)
    icmp["goal_us"] = GOAL_US
    icmp["goal_met"] = icmp["us_per_result_median"] <= GOAL_US
    return {"icmp": icmp, "snmp": snmp}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="netmon-bench-result-") as tmp:
        figures = asyncio.run(bench(Path(tmp)))
    for row, values in figures.items():
        print(row)
        for key, value in values.items():
            print(f"  {key:<22}  {value}")
    path = REPO / "bench" / "results" / "result_path.json"
    if "--no-write" not in sys.argv:
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
