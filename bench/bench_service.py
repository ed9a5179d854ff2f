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

Prints a table and writes bench/results/service.json: medians of the rounds and each round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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


def settings(workdir: Path, port: int) -> Path:
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
                "interval": f"{INTERVAL:g}s",
                "timeout": "2s",
                "icmp": {"count": COUNT, "spacing": "20ms"},
            }
            for i, host in enumerate(hosts(TARGETS))
        ],
    }
    path = workdir / "settings.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def netmon_round(netns: str, workdir: Path) -> dict[str, float]:
    config = settings(workdir, 19200)
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
        time.sleep(WARMUP)
        pid = proc.pid  # ip netns exec execs the command in place: the pid is netmon's
        echos0, cpu0, t0 = in_echos(netns), cpu_seconds(pid), time.monotonic()
        time.sleep(WINDOW)
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


def one_round(index: int) -> dict[str, Any]:
    netns = f"nmbench{os.getpid()}x{index}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        with tempfile.TemporaryDirectory(prefix="netmon-bench-service-") as tmp:
            netmon = netmon_round(netns, Path(tmp))
        fping = fping_round(netns)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    return {
        "netmon": netmon,
        "fping": fping,
        "ratio": netmon["us_per_echo"] / fping["us_per_echo"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_service needs root (network namespaces)")
        return 2
    rounds = [one_round(i) for i in range(args.rounds)]
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
    out = HERE / "results" / "service.json"
    out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "icmp": {
                    "targets": TARGETS,
                    "count": COUNT,
                    "interval_s": INTERVAL,
                    "window_s": WINDOW,
                    "median": med,
                    "rounds": rounds,
                    "goal_ratio": GOAL,
                },
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
