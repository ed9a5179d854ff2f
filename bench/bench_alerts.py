"""Time to alert: a lab website flipped to 503, until the alert is in Alertmanager.

Run by hand: ``.venv/bin/python bench/bench_alerts.py [--flips 50] [--prom-flips 5]``
(about 6-8 minutes). Loopback only.

- The lab serves one website (in this process, on 127.0.7.1 and a free port) whose fault the
  bench flips to ``503`` and back.
- netmon (``netmon run`` in its own process) probes it every 1 s with ``failures = 1`` and
  ``recoveries = 1`` and sends to an Alertmanager (Debian ``prometheus-alertmanager``) on
  loopback. For each flip the bench polls Alertmanager's ``/api/v2/alerts`` every 20 ms:
  time to alert is from the fault to TargetDown being there; time to resolve is from the heal
  to it being gone. Flips start at a random point of the probe interval. Flapping detection
  is switched off for this target: 50 flips in a row are flapping, and netmon would hold the
  pages after the first few (as it should), which is not what this bench times.
- The same outage through Prometheus at typical settings: Debian ``prometheus`` scraping
  Debian ``prometheus-blackbox-exporter`` (``http_2xx``) every 15 s, evaluating
  ``probe_success == 0`` every 15 s (``for: 0s``), sending to its own Alertmanager. It is
  slow, so it gets fewer flips.

Goal (issue 4): netmon's alert in Alertmanager within 3 s, resolved within 3 s of healing.
Prints a table and the ratios; writes bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.drill.processes import run_argv  # noqa: E402
from monitor.lab.inventory import Site  # noqa: E402
from monitor.lab.server import Lab  # noqa: E402

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMETHEUS = "/usr/bin/prometheus"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
HOST = "127.0.7.1"  # the bench's own lab address, apart from the shipped lab's 127.0.1.x
SITE = "bench-cong-thong-tin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def process(*argv: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=log.parent
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def wait_http(http: aiohttp.ClientSession, url: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def alertmanager(work: Path, name: str, http: aiohttp.ClientSession) -> AsyncIterator[str]:
    config = work / f"{name}.yml"
    config.write_text(
        textwrap.dedent(
            """
            route:
              receiver: none
              group_wait: 0s
              group_interval: 1s
            receivers:
              - name: none
            """
        )
    )
    port = free_port()
    async with process(
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={work / (name + '-data')}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        log=work / f"{name}.log",
    ):
        base = f"http://127.0.0.1:{port}"
        await wait_http(http, f"{base}/-/ready")
        yield base


async def alert_present(http: aiohttp.ClientSession, base: str, instance: str) -> bool:
    async with http.get(f"{base}/api/v2/alerts", params={"filter": "alertname=TargetDown"}) as r:
        alerts = await r.json()
    return any(
        a["labels"].get("target") == instance or a["labels"].get("instance") == instance
        for a in alerts
    )


async def until(http: aiohttp.ClientSession, base: str, instance: str, present: bool) -> float:
    """Monotonic time at which the alert's presence in Alertmanager became ``present``."""
    deadline = time.monotonic() + 180
    while await alert_present(http, base, instance) != present:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the alert did not become present={present} within 180 s")
        await asyncio.sleep(0.02)
    return time.monotonic()


async def flips(
    lab: Lab,
    http: aiohttp.ClientSession,
    base: str,
    instance: str,
    count: int,
    label: str,
    cycle: float,
) -> tuple[list[float], list[float]]:
    """``cycle``: the probe (or scrape) interval; each change waits a random part of it, so
    that changes do not lock onto the schedule."""
    to_alert: list[float] = []
    to_resolve: list[float] = []
    for n in range(count):
        await asyncio.sleep(0.2 + random.uniform(0, cycle))
        start = time.monotonic()
        await lab.fail(SITE, "503")
        to_alert.append(await until(http, base, instance, True) - start)
        await asyncio.sleep(0.2 + random.uniform(0, cycle))
        start = time.monotonic()
        await lab.heal(SITE)
        to_resolve.append(await until(http, base, instance, False) - start)
        print(
            f"  {label} flip {n + 1:2d}/{count}: alert {to_alert[-1]:6.2f} s, "
            f"resolve {to_resolve[-1]:6.2f} s",
            flush=True,
        )
    return to_alert, to_resolve


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "p95_s": round(p95(values), 3),
        "max_s": round(max(values), 3),
        "n": len(values),
    }


async def bench_netmon(lab: Lab, work: Path, http: aiohttp.ClientSession, n: int) -> Any:
    async with alertmanager(work, "am-netmon", http) as am:
        port = free_port()
        config = work / "netmon.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "server": {"listen": f"127.0.0.1:{port}", "state_dir": str(work / "state")},
                    "defaults": {"interval": "1s", "timeout": "900ms"},
                    "targets": [
                        {"name": SITE, "kind": "http", "url": lab_url(lab), "group": "website"}
                    ],
                    "alerts": {
                        "rules": [
                            {"name": "TargetDown", "failures": 1, "recoveries": 1},
                            # A 503 pages HttpStatusError and mutes TargetDown (inhibition);
                            # this bench times TargetDown, as Prometheus' rule beside it.
                            {"name": "HttpStatusError", "enabled": False},
                        ],
                        "receivers": {"am": {"type": "alertmanager", "urls": [am]}},
                        "routes": [{"receivers": ["am"]}],
                        # 50 flips a few seconds apart ARE flapping: netmon would rightly
                        # send one notice and hold the pages. This bench times detection,
                        # so flapping detection is off here (the tests cover it).
                        "flapping": {"high": 1.0, "low": 1.0},
                    },
                }
            )
        )
        async with process(*run_argv(config), log=work / "netmon.log"):
            await wait_http(http, f"http://127.0.0.1:{port}/healthz")
            await asyncio.sleep(6)  # first probes done, the Watchdog delivered
            return await flips(lab, http, am, SITE, n, "netmon    ", 1.0)


async def bench_prometheus(lab: Lab, work: Path, http: aiohttp.ClientSession, n: int) -> Any:
    async with alertmanager(work, "am-prometheus", http) as am:
        bb_port, prom_port = free_port(), free_port()
        (work / "blackbox.yml").write_text(
            "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
            "    http:\n      preferred_ip_protocol: ip4\n"
        )
        (work / "rules.yml").write_text(
            textwrap.dedent(
                """
                groups:
                  - name: bench
                    interval: 15s
                    rules:
                      - alert: TargetDown
                        expr: probe_success == 0
                        for: 0s
                """
            )
        )
        url = lab_url(lab)
        (work / "prometheus.yml").write_text(
            textwrap.dedent(
                f"""
                global:
                  scrape_interval: 15s
                  evaluation_interval: 15s
                rule_files: [{work / "rules.yml"}]
                alerting:
                  alertmanagers:
                    - static_configs:
                        - targets: ['{am.removeprefix("http://")}']
                scrape_configs:
                  - job_name: blackbox
                    metrics_path: /probe
                    params: {{module: [http_2xx]}}
                    static_configs:
                      - targets: ['{url}']
                    relabel_configs:
                      - source_labels: [__address__]
                        target_label: __param_target
                      - source_labels: [__param_target]
                        target_label: instance
                      - target_label: __address__
                        replacement: 127.0.0.1:{bb_port}
                """
            )
        )
        async with (
            process(
                BLACKBOX,
                f"--config.file={work / 'blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{bb_port}",
                log=work / "blackbox.log",
            ),
            process(
                PROMETHEUS,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                log=work / "prometheus.log",
            ),
        ):
            await wait_http(http, f"http://127.0.0.1:{prom_port}/-/ready")
            await asyncio.sleep(20)  # a first scrape and evaluation
            return await flips(lab, http, am, url, n, "prometheus", 15.0)


def lab_url(lab: Lab) -> str:
    return lab.websites.sites[SITE].url


async def main() -> None:
    logging.getLogger("netmon.lab").setLevel(logging.ERROR)  # no line per flip from the lab
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flips", type=int, default=50, help="flips through netmon")
    parser.add_argument("--prom-flips", type=int, default=5, help="flips through Prometheus")
    args = parser.parse_args()
    for binary in (ALERTMANAGER, PROMETHEUS, BLACKBOX):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} is missing: make debs-bench installs it")
    site = Site(
        name=SITE,
        title="Cổng thông tin (bench)",
        host=HOST,
        hostname="bench.daklak.lab",
        owner="bench",
        port=free_port(HOST),
    )
    with tempfile.TemporaryDirectory(prefix="netmon-bench-alerts-") as tmp:
        work = Path(tmp)
        lab = Lab(
            work / "lab",
            control=None,
            sites=[site],
            icmp_hosts=[],
            dns_address=(HOST, free_port(HOST)),
            smtp_address=(HOST, free_port(HOST)),
            nft_table="netmon_bench_alerts",
            snmp_devices=[],
            trap_address=None,
        )
        async with lab, aiohttp.ClientSession() as http:
            print(f"netmon: {args.flips} flips (1 s interval, failures = 1)", flush=True)
            n_alert, n_resolve = await bench_netmon(lab, work, http, args.flips)
            print(f"prometheus: {args.prom_flips} flips (15 s scrape, 15 s evaluation)")
            p_alert, p_resolve = await bench_prometheus(lab, work, http, args.prom_flips)
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "netmon": {"to_alert": summary(n_alert), "to_resolve": summary(n_resolve)},
        "prometheus_blackbox": {"to_alert": summary(p_alert), "to_resolve": summary(p_resolve)},
    }
    nm, pm = result["netmon"], result["prometheus_blackbox"]
    result["ratio_prometheus_over_netmon"] = {
        "alert_median": round(pm["to_alert"]["median_s"] / nm["to_alert"]["median_s"], 1),
        "resolve_median": round(pm["to_resolve"]["median_s"] / nm["to_resolve"]["median_s"], 1),
    }
    result["goal_met"] = nm["to_alert"]["max_s"] <= 3.0 and nm["to_resolve"]["max_s"] <= 3.0
    print()
    print(f"{'path':<26}{'flips':>6}{'alert med':>11}{'p95':>8}{'max':>8}"
          f"{'resolve med':>13}{'p95':>8}{'max':>8}")  # fmt: skip
    for label, data in (("netmon → Alertmanager", nm), ("Prometheus+blackbox → AM", pm)):
        a, r = data["to_alert"], data["to_resolve"]
        print(
            f"{label:<26}{a['n']:>6}{a['median_s']:>10.2f}s{a['p95_s']:>7.2f}s{a['max_s']:>7.2f}s"
            f"{r['median_s']:>12.2f}s{r['p95_s']:>7.2f}s{r['max_s']:>7.2f}s"
        )
    ratio = result["ratio_prometheus_over_netmon"]
    print(
        f"\nPrometheus/netmon: alert {ratio['alert_median']}x slower (median), "
        f"resolve {ratio['resolve_median']}x slower (median)"
    )
    print(f"goal (every alert and resolve within 3 s): {'met' if result['goal_met'] else 'MISSED'}")
    out = REPO / "bench" / "results" / "alerts.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    asyncio.run(main())
