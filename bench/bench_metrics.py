"""/metrics CPU per scrape, gzip included, at 10,000 targets (120,000 series; issue 17).

The series: 5,000 ICMP targets x 9 series and 5,000 HTTP targets x 15 (each probe's sample
set with probe_success and probe_duration_seconds). A scrape is what the /metrics handler does
for Prometheus (Accept-Encoding: gzip): the probes' series gzipped. netmon keeps each target's
lines per family in blocks of targets and each block's gzip member, so a scrape compresses only
the blocks that changed since the last one. Measured, CPU time (time.process_time), medians:

- unchanged: no result since the last scrape;
- quarter: a quarter of the targets, contiguous in result order, have a new result (targets
  at a 60 s interval scraped every 15 s: the scheduler's offsets put the ones due in those 15 s
  together);
- all: every target has a new result (interval <= scrape interval).

Also the plain text join (a scrape without gzip), the record cost per result, and the anchor:
prometheus_client's generate_latest over the same series (100k-series figure of issue 2).
Run ``PYTHONPATH=<older tree> python bench/bench_metrics.py --no-write`` to time an older
renderer (one without gzip members: its scrape is join + encode + gzip.compress level 1).
Goal (issue 17): <= 20 ms CPU per scrape; an unchanged target costs the scrape nothing new.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from monitor.config import Settings
from monitor.runtime.metrics import MetricsRenderer
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample

TARGETS = 10_000
ROUNDS = 7


def icmp_result(i: int, n: int) -> ProbeResult:
    rtt = 0.0001 + (i * 7 + n * 13) % 997 * 1e-7  # changes with every round n
    return ProbeResult(
        True,
        None,
        "ok",
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


def http_result(i: int, n: int) -> ProbeResult:
    base = 0.001 + (i * 11 + n * 17) % 991 * 1e-6
    phases = ("resolve", "connect", "tls", "processing", "transfer")
    return ProbeResult(
        True,
        None,
        "HTTP 200",
        (
            Sample("probe_http_status_code", 200),
            *(
                Sample("probe_http_duration_seconds", base * (k + 1), (("phase", phase),))
                for k, phase in enumerate(phases)
            ),
            Sample("probe_http_content_length", 5120),
            Sample("probe_http_redirects", 0),
            Sample("probe_http_version", 1.1),
            Sample("probe_http_ssl", 0),
            Sample("probe_dns_lookup_time_seconds", base / 10),
            Sample("probe_http_content_match", 1),
            Sample("probe_ssl_earliest_cert_expiry", 1.8e9),
        ),
    )


def result(i: int, n: int) -> ProbeResult:
    return icmp_result(i, n) if i % 2 == 0 else http_result(i, n)


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def scrape_of(renderer: MetricsRenderer) -> Callable[[], bytes]:
    zipped = getattr(renderer, "render_gzip_sync", None)
    if zipped is not None:
        return zipped  # type: ignore[no-any-return]
    return lambda: gzip.compress(renderer.render_probes().encode(), 1)  # the older renderer


def main() -> dict[str, Any]:
    targets = [
        {
            "name": f"t{i:05d}",
            "kind": "icmp" if i % 2 == 0 else "http",
            **(
                {"host": f"127.0.{2 + i // 250}.{1 + i % 250}"}
                if i % 2 == 0
                else {"url": f"http://127.0.{2 + i // 250}.{1 + i % 250}/"}
            ),
            "group": "carrier",
            "labels": {
                "carrier": ("vnpt", "viettel", "mobifone", "fpt")[i % 4],
                "site": "hội trường tỉnh",
            },
        }
        for i in range(TARGETS)
    ]
    settings = Settings.model_validate({"targets": targets})
    names = [t.name for t in settings.targets]
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings.targets)

    def record_all() -> None:
        for i, name in enumerate(names):
            store.record(name, Observation(result(i, 0), 1e9, 0.81))

    record_cpu, _ = cpu(record_all)
    scrape = scrape_of(renderer)
    plain = getattr(renderer, "render_probes_bytes", lambda: renderer.render_probes().encode())
    body = scrape()
    text = gzip.decompress(body)
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    round_no = 1

    def renew(share: float) -> None:
        nonlocal round_no
        for i, name in enumerate(names[: int(len(names) * share)]):
            store.record(name, Observation(result(i, round_no), 1e9 + round_no, 0.81))
        round_no += 1

    figures: dict[str, list[float]] = {"unchanged": [], "quarter": [], "all": [], "plain": []}
    for _ in range(ROUNDS):
        figures["unchanged"].append(cpu(scrape)[0])
        renew(0.25)
        figures["quarter"].append(cpu(scrape)[0])
        renew(1.0)
        figures["all"].append(cpu(scrape)[0])
        figures["plain"].append(cpu(plain)[0])
    assert gzip.decompress(scrape()) == renderer.render_probes().encode()

    # The anchor: the same series in prometheus_client.
    registry = CollectorRegistry()
    gauges: dict[str, Gauge] = {}
    for t, name in zip(settings.targets, names, strict=True):
        base = [t.name, t.kind, t.group, t.labels["carrier"], t.labels["site"]]
        res = result(names.index(name), 0)
        for sample in (
            *res.samples,
            Sample("probe_success", 1),
            Sample("probe_duration_seconds", 0.81),
        ):
            gauge = gauges.get(sample.name)
            if gauge is None:
                extra = [k for k, _ in sample.labels]
                labels = ["target", "kind", "group", "carrier", "site", *extra]
                gauge = gauges[sample.name] = Gauge(sample.name, "x", labels, registry=registry)
            gauge.labels(*base, *[v for _, v in sample.labels]).set(sample.value)
    anchors = [cpu(lambda: generate_latest(registry))[0] for _ in range(3)]

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    out: dict[str, Any] = {
        "targets": TARGETS,
        "series": series,
        "body_mb": round(len(text) / 1e6, 2),
        "gzip_mb": round(len(body) / 1e6, 2),
        "scrape_gzip_cpu_ms_median": {
            key: ms(figures[key]) for key in ("unchanged", "quarter", "all")
        },
        "scrape_plain_cpu_ms_median": ms(figures["plain"]),
        "record_cpu_us_per_result": round(record_cpu / TARGETS * 1e6, 1),
        "prometheus_client_generate_latest_cpu_ms_median": ms(anchors),
        "rounds": ROUNDS,
    }
    out["goal_20ms_unchanged_met"] = out["scrape_gzip_cpu_ms_median"]["unchanged"] <= 20
    out["goal_20ms_all_met"] = out["scrape_gzip_cpu_ms_median"]["all"] <= 20
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    figures = main()
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if not args.no_write:
        path = Path(__file__).parent / "results" / "metrics.json"
        path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"written to {path}")
    sys.exit(0)
