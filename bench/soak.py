"""Soak (issue 7): netmon in the namespace lab, 2,000 targets, faults flipping every few seconds.

    sudo .venv/bin/python bench/soak.py --minutes 30     # make soak

Targets: 1,000 ICMP addresses behind the Viettel link (a /16 the venue core answers for), 980
in the province data centre, 16 HTTP on the data centre's two web servers (8 each: netmon keeps
at most 8 probes in flight per host, so a hung server with more would queue its own targets),
and the drill's 12 (routers by SNMP, uplinks, halls, web): 2,008. netmon (``netmon run``),
Debian's Alertmanager and its webhook run in netmon's namespace. Every few seconds one fault
flips: the Viettel uplink cut or healed, 30 % loss on VNPT set or cleared, a web server hung
or resumed, VNPT's snmpd stopped or started.

Sampled every 10 s from /proc/PID and netmon's /metrics: RSS, open file descriptors, threads,
scheduler lag p99, asyncio tasks, objects frozen out of the garbage collector and its longest
pause (monitor/heap.py). After warm-up: RSS growth < 5 %; no growth of file descriptors, tasks or
frozen objects (they move with the probes in flight, so "flat" is judged as the last fifth's peak
against the first fifth's); threads flat; lag p99 < 250 ms. Written to
bench/results/soak.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from monitor.drill import nsenter  # noqa: E402
from monitor.drill.netns import NetnsLab, clean_stale, is_root  # noqa: E402
from monitor.drill.processes import alertmanager, netmon  # noqa: E402
from monitor.drill.settings import drill_settings  # noqa: E402
from monitor.drill.sink import Sink  # noqa: E402


def proc_status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            out["rss_mb"] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out["threads"] = float(value.strip())
    out["fds"] = float(len(os.listdir(f"/proc/{pid}/fd")))
    return out


def soak_targets() -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    for i in range(1000):
        targets.append({"name": f"venue-{i:04d}", "kind": "icmp", "group": "venue",
                        "host": f"10.80.{i // 250}.{i % 250 + 1}", "labels": {"carrier": "viettel"},
                        "depends_on": ["viettel-uplink"], "timeout": "2s",
                        "icmp": {"count": 3, "spacing": "50ms"}})  # fmt: skip
    for i in range(980):
        targets.append({"name": f"dc-{i:04d}", "kind": "icmp", "group": "datacentre",
                        "host": f"10.78.{i // 250}.{i % 250 + 1}", "timeout": "2s",
                        "labels": {"carrier": "dc"},
                        "icmp": {"count": 3, "spacing": "50ms"}})  # fmt: skip
    for i in range(16):
        addr = "10.77.5.10" if i % 2 else "10.77.5.11"
        targets.append({"name": f"portal-{i:03d}", "kind": "http", "group": "website",
                        "url": f"http://{addr}:8000/?n={i}", "timeout": "2s",
                        "labels": {"carrier": "dc"}})  # fmt: skip
    return targets


Flip = Callable[[NetnsLab], object]
FAULTS: list[tuple[str, Flip, Flip]] = [
    ("cut", lambda lab: lab.cut("viettel-uplink"), lambda lab: lab.heal("viettel-uplink")),
    ("loss", lambda lab: lab.loss("vnpt", 30), lambda lab: lab.clear_loss("vnpt")),
    ("hang", lambda lab: lab.hang_web("dc-web-1"), lambda lab: lab.resume_web("dc-web-1")),
    ("snmpd", lambda lab: lab.stop_snmpd("vnpt"), lambda lab: lab.restart_snmpd("vnpt")),
]


async def soak(minutes: float, every: float, workdir: Path) -> dict[str, Any]:
    clean_stale()
    lab = NetnsLab(workdir)
    lab.build()
    try:
        lab.wait_ready()
        lab.exec("core", ["ip", "route", "add", "local", "10.80.0.0/16", "dev", "lo"])
        lab.exec("dc", ["ip", "route", "add", "local", "10.78.0.0/16", "dev", "lo"])
        lab.exec("dc", ["ip", "route", "add", "10.80.0.0/16", "via", "10.77.10.2"])
        lab.exec("vt", ["ip", "route", "add", "10.80.0.0/16", "via", "10.77.11.2"])
        sink = Sink(lab.mon)
        await sink.start()
        try:
            async with alertmanager(lab, sink) as am:
                config, listen = drill_settings(workdir / "netmon" / "settings.toml",
                                                [f"{am.base}/"], interval="5s",
                                                extra_targets=soak_targets())  # fmt: skip
                async with netmon(lab, config, listen) as node:
                    return await _measure(lab, node, sink, minutes, every)
        finally:
            await sink.close()
    finally:
        lab.teardown()


WATCHED = {
    'netmon_scheduler_lag_seconds{quantile="0.99"}': "lag_p99",
    "netmon_asyncio_tasks": "tasks",
    "netmon_gc_frozen_objects": "gc_frozen",
    "netmon_gc_pause_max_seconds": "gc_pause_max",
}


async def _netmon_metrics(lab: NetnsLab, base: str) -> dict[str, float]:
    """The watched gauges, and probes in flight summed over kinds (sockets open for probes)."""
    _, body = await nsenter.request(lab.mon, "GET", f"{base}/metrics", wait=30)
    out = {key: float("nan") for key in WATCHED.values()}
    out["in_flight"] = 0.0
    for line in body.decode().splitlines():
        series, _, value = line.rpartition(" ")
        if series in WATCHED:
            out[WATCHED[series]] = float(value)
        elif series.startswith("netmon_probes_in_flight{"):
            out["in_flight"] += float(value)
    return out


async def _measure(
    lab: NetnsLab, node: Any, sink: Sink, minutes: float, every: float
) -> dict[str, Any]:
    pid = node.process.pid
    samples: list[dict[str, float]] = []
    start = time.monotonic()
    end = start + minutes * 60
    next_fault = start + every
    next_sample = start
    flips = 0
    active: dict[str, bool] = {}
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_fault:
            name, on, off = FAULTS[flips % len(FAULTS)]
            (off if active.get(name) else on)(lab)
            active[name] = not active.get(name, False)
            flips += 1
            next_fault += every
        if now >= next_sample:
            sample = {
                "t": now - start,
                **proc_status(pid),
                **await _netmon_metrics(lab, node.base),
            }
            samples.append(sample)
            next_sample += 10
        await asyncio.sleep(0.2)
    for name, on_off in active.items():
        if on_off:
            dict((f[0], f[2]) for f in FAULTS)[name](lab)
    # Warm-up: a fifth of the run, and at least until every target's history ring (120 results
    # in monitor/store.py, 10 minutes at 5 s) is full: before that, RSS grows by design.
    warmup = max(minutes * 60 / 5, 120 * 5.0)
    warm = [s for s in samples if s["t"] >= warmup] or samples[len(samples) // 2 :]
    head, tail = warm[: max(1, len(warm) // 5)], warm[-max(1, len(warm) // 5) :]
    rss0 = statistics.median(s["rss_mb"] for s in head)
    rss1 = statistics.median(s["rss_mb"] for s in tail)
    lags = sorted(s["lag_p99"] for s in warm)

    def spread(key: str) -> list[float]:
        return [min(s[key] for s in warm), max(s[key] for s in warm)]

    def growth(key: str) -> float:
        """The last fifth's peak over the first fifth's: >0 means it still grows."""
        return max(s[key] for s in tail) - max(s[key] for s in head)

    result: dict[str, Any] = {
        "minutes": minutes,
        "warmup_s": warmup,
        "conclusive": any(s["t"] >= warmup for s in samples),
        "targets": 2008,
        "fault_every_s": every,
        "fault_flips": flips,
        "pages": len(sink.pages),
        "rss_mb_after_warmup": round(rss0, 1),
        "rss_mb_end": round(rss1, 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 2),
        "fds_after_warmup": spread("fds"),
        "fds_growth": growth("fds"),
        "in_flight_after_warmup": spread("in_flight"),
        "threads_after_warmup": spread("threads"),
        "tasks_after_warmup": spread("tasks"),
        "tasks_growth": growth("tasks"),
        "gc_frozen_after_warmup": spread("gc_frozen"),
        "gc_frozen_growth_pct": round(
            100 * growth("gc_frozen") / max(1.0, max(s["gc_frozen"] for s in head)), 2
        ),
        "gc_pause_max_s": round(max(s["gc_pause_max"] for s in warm), 4),
        "lag_p99_max_s": round(lags[-1], 4),
        "lag_p99_median_s": round(statistics.median(lags), 4),
        "samples": samples,
    }
    # fds and tasks move with the probes in flight (a socket and a task each); "flat" means no
    # growth: the last fifth's peak is no higher than the first fifth's after warm-up.
    result["pass"] = {
        "rss_growth_below_5pct": result["rss_growth_pct"] < 5,
        "fds_flat": result["fds_growth"] <= 2,
        "threads_flat": result["threads_after_warmup"][1] - result["threads_after_warmup"][0] <= 2,
        "tasks_flat": result["tasks_growth"] <= 20,
        "gc_frozen_flat": result["gc_frozen_growth_pct"] < 5,
        "lag_p99_below_250ms": result["lag_p99_max_s"] < 0.25,
    }
    return result


def markdown(r: dict[str, Any]) -> str:
    return "\n".join([
        "# netmon soak",
        "",
        f"{r['minutes']:g} minutes, {r['targets']} targets in the namespace lab, a fault flipped "
        f"every {r['fault_every_s']:g} s ({r['fault_flips']} flips), {r['pages']} webhook pages.",
        "",
        f"Warm-up {r['warmup_s']:g} s (history rings full)."
        + ("" if r["conclusive"] else " The run was shorter than the warm-up: the figures below"
           " are from its second half and the RSS verdict is not conclusive."),
        "",
        "| measure | value | goal | ok |",
        "|---|---|---|---|",
        f"| RSS after warm-up → end | {r['rss_mb_after_warmup']} → {r['rss_mb_end']} MB "
        f"({r['rss_growth_pct']:+.2f} %) | < 5 % | {r['pass']['rss_growth_below_5pct']} |",
        f"| open fds (min–max after warm-up; last fifth's peak − first fifth's) | "
        f"{r['fds_after_warmup'][0]:g}–{r['fds_after_warmup'][1]:g} ({r['fds_growth']:+g}) "
        f"| no growth | {r['pass']['fds_flat']} |",
        f"| probes in flight (min–max; one socket each) | {r['in_flight_after_warmup'][0]:g}–"
        f"{r['in_flight_after_warmup'][1]:g} | | |",
        f"| threads (min–max) | {r['threads_after_warmup'][0]:g}–{r['threads_after_warmup'][1]:g} "
        f"| flat | {r['pass']['threads_flat']} |",
        f"| asyncio tasks (min–max; growth) | {r['tasks_after_warmup'][0]:g}–"
        f"{r['tasks_after_warmup'][1]:g} ({r['tasks_growth']:+g}) | no growth "
        f"| {r['pass']['tasks_flat']} |",
        f"| objects frozen out of the GC (min–max; growth) | {r['gc_frozen_after_warmup'][0]:,.0f}–"
        f"{r['gc_frozen_after_warmup'][1]:,.0f} ({r['gc_frozen_growth_pct']:+.2f} %) | no growth "
        f"| {r['pass']['gc_frozen_flat']} |",
        f"| longest GC pause | {r['gc_pause_max_s'] * 1000:.0f} ms | | |",
        f"| scheduler lag p99 (max of samples) | {r['lag_p99_max_s'] * 1000:.0f} ms "
        f"| < 250 ms | {r['pass']['lag_p99_below_250ms']} |",
        "",
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fault-every", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "soak")
    args = parser.parse_args()
    if not is_root():
        print("the soak needs root (network namespaces); nothing was changed")
        return 2
    import tempfile

    with tempfile.TemporaryDirectory(prefix="netmon-soak-") as tmp:
        result = asyncio.run(soak(args.minutes, args.fault_every, Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0 if all(result["pass"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
