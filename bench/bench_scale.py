"""One netmon process, 10,000 targets (ICMP and HTTP mixed, lab-served) at a 30 s interval.

The lab runs in its own process (its CPU is not netmon's) with extra generic sites on
127.0.5.x and up; ICMP targets are loopback addresses the kernel answers. netmon runs as
`netmon run` on generated settings for a few intervals; the bench then reads, from netmon's
own /metrics and /proc: scheduler lag quantiles over the last minute, RSS, CPU used, how many
probes ran and failed, and the wall time and CPU of a /metrics scrape.
Goals (issue 2): lag p99 < 250 ms, RSS < 400 MB, /metrics within the render bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import tomli_w
from prometheus_client.parser import text_string_to_metric_families

from monitor.drill.processes import netmon_run, stop

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings(
    targets: int, http_share: float, sites: int, port: int, interval: str
) -> dict[str, Any]:
    n_http = int(targets * http_share)
    items: list[dict[str, Any]] = []
    for i in range(n_http):
        site = i % sites
        host = f"127.0.{5 + site // 254}.{1 + site % 254}"
        items.append(
            {
                "name": f"web-{i:05d}",
                "kind": "http",
                "url": f"http://{host}:8080/?n={i}",
                "group": "website",
                "labels": {"site": f"site-{site:04d}"},
                "http": {"body_absent": ["Hacked by"]},
            }
        )
    for i in range(targets - n_http):
        host = f"127.{10 + i // 65000}.{(i // 250) % 250 + 1}.{i % 250 + 1}"
        items.append(
            {
                "name": f"ping-{i:05d}",
                "kind": "icmp",
                "host": host,
                "group": "carrier",
                "labels": {"carrier": ("vnpt", "viettel", "mobifone", "fpt")[i % 4]},
                "icmp": {"count": 3, "spacing": "200ms"},
            }
        )
    return {
        "server": {"listen": f"127.0.0.1:{port}", "state_dir": "var"},
        "defaults": {"interval": interval, "timeout": "5s"},
        "scheduler": {"max_in_flight_per_host": 16},
        "targets": items,
    }


async def wait_line(stream: asyncio.StreamReader, word: str, within: float) -> None:
    async with asyncio.timeout(within):
        while line := await stream.readline():
            if word in line.decode(errors="replace"):
                return
    raise RuntimeError(f"no {word!r} line")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = HERE / "results" / "scale-work"
    work.mkdir(parents=True, exist_ok=True)
    lab = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.cli",
        "lab",
        "serve",
        "--state-dir",
        str(work / "lab"),
        "--control",
        "127.0.0.1:9191",
        "--extra-sites",
        str(args.sites),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert lab.stdout is not None
    await wait_line(lab.stdout, "ready", 120)
    port = 9118
    config = work / "settings.toml"
    config.write_text(
        tomli_w.dumps(settings(args.targets, args.http_share, args.sites, port, args.interval))
    )
    out: dict[str, Any] = {
        "targets": args.targets,
        "http_share": args.http_share,
        "interval": args.interval,
        "seconds": args.seconds,
    }
    try:
        # Its output is read all along, so the pipe never fills.
        async with netmon_run(config, log_level="WARNING", within=120, grace=20) as netmon:
            cpu0, t0 = proc_cpu(netmon.pid), time.monotonic()
            rss: list[float] = []
            scrapes: list[tuple[float, float]] = []
            text = ""
            async with aiohttp.ClientSession() as http:
                while time.monotonic() - t0 < args.seconds:
                    await asyncio.sleep(15)
                    rss.append(proc_rss_mb(netmon.pid))
                    c, w = proc_cpu(netmon.pid), time.monotonic()
                    async with http.get(
                        f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"}
                    ) as resp:
                        text = await resp.text()
                    scrapes.append((time.monotonic() - w, proc_cpu(netmon.pid) - c))
            cpu = proc_cpu(netmon.pid) - cpu0
            wall = time.monotonic() - t0
    finally:
        await stop(lab, grace=20)
    series: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            series.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    lag = {dict(k)["quantile"]: v for k, v in series["netmon_scheduler_lag_seconds"].items()}
    success = series.get("probe_success", {})
    out.update(
        lag_p50_ms=round(lag["0.5"] * 1000, 1),
        lag_p99_ms=round(lag["0.99"] * 1000, 1),
        lag_max_ms=round(lag["1"] * 1000, 1),
        rss_mb_max=round(max(rss), 1),
        cpu_cores_used=round(cpu / wall, 3),
        probes_total={dict(k)["kind"]: v for k, v in series["netmon_probes_total"].items()},
        skipped_total={
            dict(k)["kind"]: v for k, v in series["netmon_probes_skipped_total"].items()
        },
        targets_reporting=len(success),
        targets_failing=sum(1 for v in success.values() if v != 1),
        metrics_series=sum(len(v) for v in series.values()),
        scrape_wall_ms_median=round(statistics.median(s[0] for s in scrapes) * 1000, 1),
        scrape_process_cpu_ms_median=round(statistics.median(s[1] for s in scrapes) * 1000, 1),
    )
    out["goals"] = {
        "lag_p99_below_250ms": out["lag_p99_ms"] < 250,
        "rss_below_400mb": out["rss_mb_max"] < 400,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--http-share", type=float, default=0.5)
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, val in result.items():
        print(f"{key:<32} {val}")
    path = HERE / "results" / "scale.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
