"""Speed as deployed (issue 17): the whole ``netmon run`` process against the whole anchor.

Run as root: ``.venv/bin/python bench/bench_service.py [--rounds 3]`` (a few minutes). Each
round runs in a network namespace of its own, so the kernel's ICMP counters count only the
round's echoes, and touches only that namespace's loopback.

ICMP row: 2,000 ICMP targets on 127.4.0.0/16, 5 echoes every 5 s, the shipped alert rules on.
``netmon run`` warms up, then its process CPU (user + system, /proc/PID/stat) over a steady
window is divided by the echo requests the kernel answered in that window (``InEchos`` of
/proc/net/snmp, in the namespace). The anchor, in the same round and namespace: ``fping -C 5
-i 0 -q`` over the same 2,000 hosts, its CPU (RUSAGE_CHILDREN) over the echoes the kernel
answered for it. The ratio netmon / fping is the figure; the goal is at most 3.

ICMP 10k row (``icmp_10k``): 10,000 targets, 1 echo every 10 s, the same settings otherwise;
the figure is netmon's share of one core over the window (goal at most 0.3).

Prints a table and writes bench/results/service.json: medians of the rounds and each round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tomli_w

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
FPING = "/usr/bin/fping"

TARGETS = 2000
COUNT = 5
INTERVAL = 5.0
WARMUP = 15.0
WINDOW = 20.0
GOAL = 3.0

# The large ICMP case: 10,000 targets, 1 echo every 10 s; the goal is a share of one core.
BIG_TARGETS = 10000
BIG_COUNT = 1
BIG_INTERVAL = 10.0
BIG_WARMUP = 25.0  # loading 10,000 targets, then a full interval
BIG_WINDOW = 20.0
BIG_GOAL_CORE = 0.3


def hosts(n: int) -> list[str]:
    return [f"127.4.{i // 250}.{i % 250 + 1}" for i in range(n)]


def in_echos(netns: str) -> int:
    """Echo requests the namespace's kernel received (and answered), from /proc/net/snmp."""
    text = subprocess.run(
        ["ip", "netns", "exec", netns, "cat", "/proc/net/snmp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    head, values = [line.split() for line in text.splitlines() if line.startswith("Icmp:")][:2]
    return int(values[head.index("InEchos")])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def settings(
    workdir: Path,
    port: int,
    targets: int = TARGETS,
    count: int = COUNT,
    interval: float = INTERVAL,
) -> Path:
    doc: dict[str, Any] = {
        "server": {"listen": f"127.0.0.1:{port}", "state_dir": str(workdir / "var")},
        "access": {"anonymous": "auto", "metrics": "loopback"},
        "traps": {"enabled": False},
        "targets": [
            {
                "name": f"icmp-{i:05d}",
                "kind": "icmp",
                "host": host,
                "group": "carrier",
                "interval": f"{interval:g}s",
                "timeout": "2s",
                "icmp": {"count": count, "spacing": "20ms"},
            }
            for i, host in enumerate(hosts(targets))
        ],
    }
    path = workdir / "settings.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def netmon_round(
    netns: str,
    workdir: Path,
    targets: int = TARGETS,
    count: int = COUNT,
    interval: float = INTERVAL,
    warmup: float = WARMUP,
    window: float = WINDOW,
) -> dict[str, float]:
    config = settings(workdir, 19200, targets, count, interval)
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            "-m",
            "monitor.cli",
            "run",
            "--config",
            str(config),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(warmup)
        pid = proc.pid  # ip netns exec execs the command in place: the pid is netmon's
        echos0, cpu0, t0 = in_echos(netns), cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        echos1, cpu1, t1 = in_echos(netns), cpu_seconds(pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(30)
    echoes = echos1 - echos0
    return {
        "echoes": echoes,
        "echoes_per_s": echoes / (t1 - t0),
        "cpu_s": cpu1 - cpu0,
        "core": (cpu1 - cpu0) / (t1 - t0),
        "us_per_echo": (cpu1 - cpu0) / max(echoes, 1) * 1e6,
    }


def fping_round(netns: str) -> dict[str, float]:
    targets = hosts(TARGETS)
    echos0 = in_echos(netns)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        ["ip", "netns", "exec", netns, FPING, "-C", str(COUNT), "-i", "0", "-q", *targets],
        capture_output=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    echoes = in_echos(netns) - echos0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"echoes": echoes, "cpu_s": cpu, "us_per_echo": cpu / max(echoes, 1) * 1e6}


HTTP_TARGETS = 200
HTTP_INTERVAL = 1.0
HTTP_WARMUP = 10.0
HTTP_WINDOW = 15.0
HTTP_GOAL = 0.5
HTTP_PORT = 18090  # nginx, in the round's namespace
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
NGINX = "/usr/sbin/nginx"
PAGE = "<html><body><h1>Đại hội Đảng bộ tỉnh</h1>" + "x" * 2000 + "</body></html>"


def nginx_conf(workdir: Path) -> Path:
    """A loopback nginx serving a 2 KB page on every path; stub_status counts the requests."""
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{HTTP_PORT} backlog=4096;
        location = /nginx-status {{ stub_status; }}
        location / {{ default_type text/html; return 200 '{PAGE}'; }}
    }}
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_requests(netns: str) -> int:
    """Requests nginx has served, from stub_status (the read itself is one of them)."""
    text = subprocess.run(
        ["ip", "netns", "exec", netns, "curl", "-s", f"http://127.0.0.1:{HTTP_PORT}/nginx-status"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(text.splitlines()[2].split()[2]) - 1


def http_settings(workdir: Path, port: int) -> Path:
    doc: dict[str, Any] = {
        "server": {"listen": f"127.0.0.1:{port}", "state_dir": str(workdir / "var")},
        "access": {"anonymous": "auto", "metrics": "loopback"},
        "traps": {"enabled": False},
        "targets": [
            {
                "name": f"http-{i:04d}",
                "kind": "http",
                "url": f"http://127.0.0.1:{HTTP_PORT}/site/{i}",
                "group": "website",
                "interval": f"{HTTP_INTERVAL:g}s",
                "timeout": "2s",
                "http": {"expect_status": [200], "body_contains": ["Đảng bộ"]},
            }
            for i in range(HTTP_TARGETS)
        ],
    }
    path = workdir / "settings-http.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def steady_window(netns: str, pid: int, warmup: float, window: float) -> dict[str, float]:
    time.sleep(warmup)
    req0, cpu0, t0 = nginx_requests(netns), cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    req1, cpu1, t1 = nginx_requests(netns), cpu_seconds(pid), time.monotonic()
    requests = req1 - req0 - 1  # less the first status read
    return {
        "requests": requests,
        "requests_per_s": requests / (t1 - t0),
        "cpu_s": cpu1 - cpu0,
        "core": (cpu1 - cpu0) / (t1 - t0),
        "us_per_request": (cpu1 - cpu0) / max(requests, 1) * 1e6,
    }


# Prometheus's part for an exporter: one request per target per interval, spread over the
# interval, on kept-alive connections; ``{i}`` in the URL is the target's number. It runs in the
# namespace as a process of its own (its CPU is not the exporter's).
DRIVER = """
import asyncio, sys, time
import aiohttp

async def main():
    url, targets = sys.argv[1], int(sys.argv[2])
    interval, seconds = float(sys.argv[3]), float(sys.argv[4])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(i):
            try:
                async with session.get(url.replace("{i}", str(i))) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                pass
        start = time.monotonic()
        tasks = set()
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n * interval / targets
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.ensure_future(one(n % targets))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)

asyncio.run(main())
"""


def drive(netns: str | None, url: str, targets: int, interval: float, seconds: float) -> Any:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.Popen(
        [*prefix, sys.executable, "-c", DRIVER, url, str(targets), str(interval), str(seconds)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def blackbox_round(netns: str, workdir: Path) -> dict[str, float]:
    config = workdir / "blackbox.yml"
    config.write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n"
        "    http:\n      preferred_ip_protocol: ip4\n",
        encoding="utf-8",
    )
    exporter = subprocess.Popen(
        ["ip", "netns", "exec", netns, BLACKBOX, f"--config.file={config}",
         "--web.listen-address=127.0.0.1:19115", "--log.level=error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    url = f"http://127.0.0.1:19115/probe?module=http_2xx&target=http://127.0.0.1:{HTTP_PORT}/site/{{i}}"
    driver = drive(netns, url, HTTP_TARGETS, HTTP_INTERVAL, HTTP_WARMUP + HTTP_WINDOW + 2)
    try:
        return steady_window(netns, exporter.pid, HTTP_WARMUP, HTTP_WINDOW)
    finally:
        driver.wait(60)
        exporter.terminate()
        exporter.wait(30)


def netmon_http_round(netns: str, workdir: Path) -> dict[str, float]:
    config = http_settings(workdir, 19201)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "monitor.cli", "run",
         "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return steady_window(netns, proc.pid, HTTP_WARMUP, HTTP_WINDOW)
    finally:
        proc.terminate()
        proc.wait(30)


def http_row(netns: str, workdir: Path) -> dict[str, Any]:
    nginx = subprocess.Popen(
        ["ip", "netns", "exec", netns, NGINX, "-c", str(nginx_conf(workdir)), "-g",
         "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        netmon = netmon_http_round(netns, workdir)
        blackbox = blackbox_round(netns, workdir)
    finally:
        nginx.terminate()
        nginx.wait(30)
    return {
        "netmon": netmon,
        "blackbox": blackbox,
        "ratio": netmon["us_per_request"] / blackbox["us_per_request"],
    }


SNMP_AGENTS = 40
SNMP_INTERFACES = 24  # veth ends in the namespace, besides lo: the agents' IF-MIB rows
SNMP_INTERVAL = 1.0
SNMP_WARMUP = 10.0
SNMP_WINDOW = 15.0
SNMP_GOAL = 0.5
SNMP_EXPORTER = "/usr/bin/prometheus-snmp-exporter"
IN_TOTAL_REQ_VARS = "1.3.6.1.2.1.11.13.0"  # snmpInTotalReqVars: varbinds the agent served


def agent_hosts() -> list[str]:
    return [f"127.5.{i}.1" for i in range(SNMP_AGENTS)]


def varbinds_served(community: str) -> int:
    """The agents' snmpInTotalReqVars summed, less the reads themselves (one each)."""
    from probes.snmp.ber import (
        GET,
        NULL,
        CommunityMessage,
        Pdu,
        Value,
        decode_community_message,
        encode_community_message,
    )

    request = encode_community_message(
        CommunityMessage(
            1, community.encode(), Pdu(GET, 7, 0, 0, [(IN_TOTAL_REQ_VARS, Value(NULL))])
        )
    )
    total = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        for host in agent_hosts():
            sock.sendto(request, (host, 161))
        for _ in agent_hosts():
            answer = decode_community_message(sock.recv(65535))
            value = answer.pdu.varbinds[0][1].data
            assert isinstance(value, int), value
            total += value
    return total - SNMP_AGENTS


def snmp_window(pid: int, community: str) -> dict[str, float]:
    time.sleep(SNMP_WARMUP)
    var0, cpu0, t0 = varbinds_served(community), cpu_seconds(pid), time.monotonic()
    time.sleep(SNMP_WINDOW)
    var1, cpu1, t1 = varbinds_served(community), cpu_seconds(pid), time.monotonic()
    varbinds = var1 - var0
    return {
        "varbinds": varbinds,
        "varbinds_per_s": varbinds / (t1 - t0),
        "cpu_s": cpu1 - cpu0,
        "core": (cpu1 - cpu0) / (t1 - t0),
        "us_per_varbind": (cpu1 - cpu0) / max(varbinds, 1) * 1e6,
    }


def snmp_inner() -> dict[str, Any]:
    """The SNMP row, run inside its namespace (``--inner snmp``): agents, then netmon, then
    snmp_exporter polling the same agents the same way."""
    sys.path.insert(0, str(REPO))
    from bench.bench_snmp import exporter_config
    from tests.fixtures.snmpd import COMMUNITY, Snmpd

    for i in range(SNMP_INTERFACES // 2):  # veth pairs: containers often lack the dummy module
        a, b = f"bencha{i}", f"benchb{i}"
        subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
        subprocess.run(["ip", "link", "set", a, "up"], check=True)
        subprocess.run(["ip", "link", "set", b, "up"], check=True)
    with tempfile.TemporaryDirectory(prefix="netmon-bench-snmp-") as tmp:
        work = Path(tmp)
        agents = [Snmpd(work, host, port=161) for host in agent_hosts()]
        try:
            for agent in agents:
                agent.start()
            doc: dict[str, Any] = {
                "server": {"listen": "127.0.0.1:19202", "state_dir": str(work / "var")},
                "access": {"anonymous": "auto", "metrics": "loopback"},
                "traps": {"enabled": False},
                "targets": [
                    {
                        "name": f"snmp-{i:03d}",
                        "kind": "snmp",
                        "host": host,
                        "group": "venue",
                        "interval": f"{SNMP_INTERVAL:g}s",
                        "timeout": "2s",
                        "snmp": {"version": "2c", "port": 161, "community": COMMUNITY},
                    }
                    for i, host in enumerate(agent_hosts())
                ],
            }
            config = work / "settings-snmp.toml"
            config.write_text(tomli_w.dumps(doc), encoding="utf-8")
            netmon = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                netmon_figures = snmp_window(netmon.pid, COMMUNITY)
            finally:
                netmon.terminate()
                netmon.wait(30)
            exporter_yml = work / "snmp.yml"
            exporter_config(exporter_yml, {"agents": COMMUNITY})
            exporter = subprocess.Popen(
                [SNMP_EXPORTER, f"--config.file={exporter_yml}",
                 "--web.listen-address=127.0.0.1:19116", "--log.level=error"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
            url = "http://127.0.0.1:19116/snmp?module=netmon_if_mib_agents&target=127.5.{i}.1:161"
            driver = drive(None, url, SNMP_AGENTS, SNMP_INTERVAL, SNMP_WARMUP + SNMP_WINDOW + 2)
            try:
                exporter_figures = snmp_window(exporter.pid, COMMUNITY)
            finally:
                driver.wait(60)
                exporter.terminate()
                exporter.wait(30)
        finally:
            for agent in agents:
                agent.stop()
    return {
        "netmon": netmon_figures,
        "snmp_exporter": exporter_figures,
        "ratio": netmon_figures["us_per_varbind"] / exporter_figures["us_per_varbind"],
    }


def snmp_round(index: int) -> dict[str, Any]:
    with Netns(f"s{index}") as netns:
        run = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, str(Path(__file__).resolve()),
             "--inner", "snmp"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the SNMP row failed in its namespace:\n{run.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return figures


class Netns:
    """A network namespace of the round's own, its loopback up; deleted after."""

    def __init__(self, tag: str) -> None:
        self.name = f"nmbench{os.getpid()}{tag}"

    def __enter__(self) -> str:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        return self.name

    def __exit__(self, *_: object) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def icmp_round(index: int) -> dict[str, Any]:
    with Netns(f"i{index}") as netns:
        with tempfile.TemporaryDirectory(prefix="netmon-bench-service-") as tmp:
            netmon = netmon_round(netns, Path(tmp))
        fping = fping_round(netns)
    return {
        "netmon": netmon,
        "fping": fping,
        "ratio": netmon["us_per_echo"] / fping["us_per_echo"],
    }


def icmp_big_round(index: int) -> dict[str, Any]:
    with Netns(f"b{index}") as netns, tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        netmon = netmon_round(
            netns, Path(tmp), BIG_TARGETS, BIG_COUNT, BIG_INTERVAL, BIG_WARMUP, BIG_WINDOW
        )
    return {"netmon": netmon}


def icmp_big_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = {
        "netmon_core": statistics.median(r["netmon"]["core"] for r in rounds),
        "netmon_us_per_echo": statistics.median(r["netmon"]["us_per_echo"] for r in rounds),
    }
    print(
        f"ICMP, {BIG_TARGETS} targets x {BIG_COUNT} echo every {BIG_INTERVAL:g} s, whole process:"
    )
    for i, r in enumerate(rounds):
        print(
            f"  round {i + 1}: netmon {r['netmon']['core']:.3f} core, "
            f"{r['netmon']['us_per_echo']:.1f} us/echo ({r['netmon']['echoes_per_s']:.0f} echoes/s)"
        )
    print(f"  median: {med['netmon_core']:.3f} core (goal <= {BIG_GOAL_CORE:g})")
    return {
        "targets": BIG_TARGETS,
        "count": BIG_COUNT,
        "interval_s": BIG_INTERVAL,
        "window_s": BIG_WINDOW,
        "median": med,
        "rounds": rounds,
        "goal_core": BIG_GOAL_CORE,
    }


def http_round(index: int) -> dict[str, Any]:
    with Netns(f"h{index}") as netns, tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        return http_row(netns, Path(tmp))


def icmp_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = {
        "netmon_us_per_echo": statistics.median(r["netmon"]["us_per_echo"] for r in rounds),
        "netmon_core": statistics.median(r["netmon"]["core"] for r in rounds),
        "fping_us_per_echo": statistics.median(r["fping"]["us_per_echo"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
    }
    print(f"ICMP, {TARGETS} targets x {COUNT} echoes every {INTERVAL:g} s, whole process:")
    for i, r in enumerate(rounds):
        print(
            f"  round {i + 1}: netmon {r['netmon']['us_per_echo']:.1f} us/echo "
            f"({r['netmon']['echoes_per_s']:.0f} echoes/s, {r['netmon']['core']:.2f} core); "
            f"fping {r['fping']['us_per_echo']:.1f} us/echo; ratio {r['ratio']:.2f}"
        )
    print(
        f"  median: netmon {med['netmon_us_per_echo']:.1f} us/echo, fping "
        f"{med['fping_us_per_echo']:.1f} us/echo, ratio {med['ratio']:.2f} (goal <= {GOAL:g})"
    )
    return {
        "targets": TARGETS,
        "count": COUNT,
        "interval_s": INTERVAL,
        "window_s": WINDOW,
        "median": med,
        "rounds": rounds,
        "goal_ratio": GOAL,
    }


def http_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = {
        "netmon_us_per_request": statistics.median(r["netmon"]["us_per_request"] for r in rounds),
        "blackbox_us_per_request": statistics.median(
            r["blackbox"]["us_per_request"] for r in rounds
        ),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        "netmon_core": statistics.median(r["netmon"]["core"] for r in rounds),
        "blackbox_core": statistics.median(r["blackbox"]["core"] for r in rounds),
    }
    print(f"HTTP, {HTTP_TARGETS} targets every {HTTP_INTERVAL:g} s, fresh connection each:")
    for i, r in enumerate(rounds):
        print(
            f"  round {i + 1}: netmon {r['netmon']['us_per_request']:.0f} us/request "
            f"({r['netmon']['requests_per_s']:.0f}/s, {r['netmon']['core']:.2f} core); "
            f"blackbox {r['blackbox']['us_per_request']:.0f} us/request "
            f"({r['blackbox']['requests_per_s']:.0f}/s); ratio {r['ratio']:.2f}"
        )
    print(
        f"  median: netmon {med['netmon_us_per_request']:.0f} us/request, blackbox "
        f"{med['blackbox_us_per_request']:.0f}, ratio {med['ratio']:.2f} (goal <= {HTTP_GOAL:g})"
    )
    return {
        "targets": HTTP_TARGETS,
        "interval_s": HTTP_INTERVAL,
        "window_s": HTTP_WINDOW,
        "server": "nginx, a 2 KB page; requests counted by its stub_status",
        "anchor": "prometheus-blackbox-exporter http_2xx, a /probe per target per second "
        "(its HTTP serving included; the driver's CPU not)",
        "median": med,
        "rounds": rounds,
        "goal_ratio": HTTP_GOAL,
    }


def snmp_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = {
        "netmon_us_per_varbind": statistics.median(r["netmon"]["us_per_varbind"] for r in rounds),
        "snmp_exporter_us_per_varbind": statistics.median(
            r["snmp_exporter"]["us_per_varbind"] for r in rounds
        ),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        # Both poll each agent once a second: the CPU per poll is in proportion to the core.
        "netmon_core": statistics.median(r["netmon"]["core"] for r in rounds),
        "snmp_exporter_core": statistics.median(r["snmp_exporter"]["core"] for r in rounds),
        "netmon_varbinds_per_s": statistics.median(r["netmon"]["varbinds_per_s"] for r in rounds),
        "snmp_exporter_varbinds_per_s": statistics.median(
            r["snmp_exporter"]["varbinds_per_s"] for r in rounds
        ),
    }
    med["ratio_per_poll"] = med["netmon_core"] / med["snmp_exporter_core"]
    print(f"SNMP, {SNMP_AGENTS} agents' IF-MIB ({SNMP_INTERFACES + 1} interfaces) every "
          f"{SNMP_INTERVAL:g} s:")  # fmt: skip
    for i, r in enumerate(rounds):
        print(
            f"  round {i + 1}: netmon {r['netmon']['us_per_varbind']:.1f} us/varbind "
            f"({r['netmon']['varbinds_per_s']:.0f}/s, {r['netmon']['core']:.2f} core); "
            f"snmp_exporter {r['snmp_exporter']['us_per_varbind']:.1f} us/varbind "
            f"({r['snmp_exporter']['varbinds_per_s']:.0f}/s); ratio {r['ratio']:.2f}"
        )
    print(
        f"  median: netmon {med['netmon_us_per_varbind']:.1f} us/varbind, snmp_exporter "
        f"{med['snmp_exporter_us_per_varbind']:.1f}, ratio {med['ratio']:.2f} "
        f"(goal <= {SNMP_GOAL:g}); per poll (core for the same 40 polls/s): "
        f"{med['ratio_per_poll']:.2f}"
    )
    return {
        "agents": SNMP_AGENTS,
        "interfaces_per_agent": SNMP_INTERFACES + 1,
        "interval_s": SNMP_INTERVAL,
        "window_s": SNMP_WINDOW,
        "counted": "varbinds the agents served (snmpInTotalReqVars, summed over the agents)",
        "anchor": "prometheus-snmp-exporter, the same OIDs (bench_snmp's module), a /snmp per "
        "agent per second (its HTTP serving included; the driver's CPU not)",
        "median": med,
        "rounds": rounds,
        "goal_ratio": SNMP_GOAL,
    }


ROWS = {
    "icmp": (icmp_round, icmp_summary),
    "icmp_10k": (icmp_big_round, icmp_big_summary),
    "http": (http_round, http_summary),
    "snmp": (snmp_round, snmp_summary),
}


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    lines = [
        "# Speed as deployed (bench/bench_service.py)",
        "",
        f"Measured {doc['measured_at']}, {doc['machine']['cpus']} CPUs, Python "
        f"{doc['machine']['python']}; medians of the rounds, CPU from /proc over a steady window.",
        "",
        "| work | netmon run | anchor, same run | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    if "icmp" in doc:
        m = doc["icmp"]["median"]
        lines.append(
            f"| {TARGETS} ICMP targets, {COUNT} echoes every {INTERVAL:g} s | "
            f"{m['netmon_us_per_echo']:.1f} µs per echo | fping -C {COUNT} -i 0: "
            f"{m['fping_us_per_echo']:.1f} µs | {m['ratio']:.2f}× | ≤ {GOAL:g}× |"
        )
    if "icmp_10k" in doc:
        m = doc["icmp_10k"]["median"]
        lines.append(
            f"| {BIG_TARGETS} ICMP targets, {BIG_COUNT} echo every {BIG_INTERVAL:g} s | "
            f"{m['netmon_core']:.3f} of one core ({m['netmon_us_per_echo']:.1f} µs per echo) | "
            f"— | — | ≤ {BIG_GOAL_CORE:g} core |"
        )
    if "http" in doc:
        m = doc["http"]["median"]
        lines.append(
            f"| {HTTP_TARGETS} HTTP targets at {HTTP_INTERVAL:g} s, fresh connection each | "
            f"{m['netmon_us_per_request'] / 1000:.2f} ms per probe | blackbox http_2xx: "
            f"{m['blackbox_us_per_request'] / 1000:.2f} ms | {m['ratio']:.2f}× | "
            f"≤ {HTTP_GOAL:g}× |"
        )
    if "snmp" in doc:
        m = doc["snmp"]["median"]
        lines.append(
            f"| {SNMP_AGENTS} SNMP agents' IF-MIB at {SNMP_INTERVAL:g} s | "
            f"{m['netmon_us_per_varbind']:.1f} µs per varbind | snmp_exporter: "
            f"{m['snmp_exporter_us_per_varbind']:.1f} µs | {m['ratio']:.2f}× | ≤ {SNMP_GOAL:g}× |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default="icmp,icmp_10k,http,snmp", help="comma-separated")
    parser.add_argument("--inner", choices=["snmp"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_service needs root (network namespaces)")
        return 2
    if args.inner == "snmp":  # inside the round's namespace: one JSON line for the outer run
        print(json.dumps(snmp_inner()))
        return 0
    out = HERE / "results" / "service.json"
    # Rows not run this time keep their last figures.
    doc: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    for row in args.rows.split(","):
        run, summary = ROWS[row]
        doc[row] = summary([run(i) for i in range(args.rounds)])
    doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    doc["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_markdown(doc, out.with_suffix(".md"))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
