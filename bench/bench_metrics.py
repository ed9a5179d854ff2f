"""/metrics rendering CPU at 100k series: netmon's renderer against prometheus_client.

Both render the same series: 11,112 targets x 9 series (the ICMP sample set plus
probe_success, probe_duration_seconds). netmon renders each target's lines when its result
arrives and joins them at scrape time; the anchor is prometheus_client's generate_latest over
a registry holding the same series. Medians of several rounds, CPU time (time.process_time).
Goal (issue 2): <= 150 ms CPU per scrape at 100k series.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from monitor.config import Settings
from monitor.runtime.metrics import MetricsRenderer
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample

TARGETS = 11_112  # x 9 series = 100,008
ROUNDS = 7
RESULT = ProbeResult(
    True,
    None,
    "ok",
    (
        Sample("probe_icmp_packets_sent", 5),
        Sample("probe_icmp_packets_received", 5),
        Sample("probe_icmp_packet_loss_ratio", 0.0),
        Sample("probe_icmp_rtt_seconds", 0.000101, (("stat", "min"),)),
        Sample("probe_icmp_rtt_seconds", 0.000152, (("stat", "avg"),)),
        Sample("probe_icmp_rtt_seconds", 0.000401, (("stat", "max"),)),
        Sample("probe_icmp_jitter_seconds", 0.0000513),
    ),
)


def cpu(fn: Any) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> dict[str, Any]:
    settings = Settings.model_validate(
        {
            "targets": [
                {
                    "name": f"t{i}",
                    "kind": "icmp",
                    "host": f"127.0.{2 + i // 250}.{1 + i % 250}",
                    "group": "carrier",
                    "labels": {
                        "carrier": ("vnpt", "viettel", "mobifone", "fpt")[i % 4],
                        "site": "hoi-truong-tinh",
                    },
                }
                for i in range(TARGETS)
            ]
        }
    )
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings.targets)
    record_cpu, _ = cpu(
        lambda: [
            store.record(t.name, Observation(RESULT, time.time(), 0.81)) for t in settings.targets
        ]
    )
    renders, text = [], ""
    for _ in range(ROUNDS):
        spent, text = cpu(renderer.render_probes)
        renders.append(spent)
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    gzips = [cpu(lambda: gzip.compress(text.encode(), 1))[0] for _ in range(3)]

    # The anchor: the same series in prometheus_client.
    registry = CollectorRegistry()
    labels = ["target", "kind", "group", "carrier", "site"]
    gauges: dict[str, Gauge] = {}
    for sample in RESULT.samples:
        if sample.name not in gauges:
            extra = [k for k, _ in sample.labels]
            gauges[sample.name] = Gauge(sample.name, "x", labels + extra, registry=registry)
    for name in ("probe_success", "probe_duration_seconds"):
        gauges[name] = Gauge(name, "x", labels, registry=registry)
    for t in settings.targets:
        base = [t.name, t.kind, t.group, t.labels["carrier"], t.labels["site"]]
        for sample in RESULT.samples:
            gauges[sample.name].labels(*base, *[v for _, v in sample.labels]).set(sample.value)
        gauges["probe_success"].labels(*base).set(1)
        gauges["probe_duration_seconds"].labels(*base).set(0.81)
    anchors = [cpu(lambda: generate_latest(registry))[0] for _ in range(3)]

    out = {
        "series": series,
        "netmon_render_cpu_ms_median": round(statistics.median(renders) * 1000, 1),
        "netmon_record_cpu_us_per_target": round(record_cpu / TARGETS * 1e6, 1),
        "gzip_level1_cpu_ms_median": round(statistics.median(gzips) * 1000, 1),
        "prometheus_client_generate_latest_cpu_ms_median": round(
            statistics.median(anchors) * 1000, 1
        ),
        "body_mb": round(len(text) / 1e6, 2),
    }
    out["ratio_netmon_to_prometheus_client"] = round(
        out["netmon_render_cpu_ms_median"] / out["prometheus_client_generate_latest_cpu_ms_median"],
        3,
    )
    out["goal_150ms_met"] = out["netmon_render_cpu_ms_median"] <= 150
    return out


if __name__ == "__main__":
    result = main()
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    path = Path(__file__).parent / "results" / "metrics.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")
