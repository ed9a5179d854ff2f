"""Path bench: CPU per traceroute of kind "path" next to Debian's `traceroute -I` and
`mtr --report -c 3`, on the same routed path in network namespaces made here:

    A 10.219.0.1 ═ R1 ═ R2 ═ 10.219.2.1 B      (three hops; ip_forward in R1 and R2)

Run by hand, as root: `.venv/bin/python bench/bench_path.py` (about a minute; needs
`scripts/ensure-debs traceroute mtr-tiny`). The script makes the namespaces, then runs itself
inside A, so no `ip netns exec` wrapper is counted:

- traceroute: `traceroute -I -n -q 3 -w 1 10.219.2.1`, the child's user+sys time
  (RUSAGE_CHILDREN delta);
- mtr: `mtr --report -n -c 3 10.219.2.1`, the same (mtr and its mtr-packet helper);
- netmon: `probes.path.probe` (count 3, max_hops 30), this process's time.process_time()
  around one probe, the socket already open (it is shared by every probe of the process);
  with protocol icmp, then udp.

Each figure is the median of REPS runs. Then 200 paths at once (B answers every address of
10.219.3.0/24; the routers' ICMP rate limits lifted, as the burst is this bench's, not a
schedule's): netmon's CPU per traceroute and the hops that came back as stars (false loss).
Prints a table and writes bench/results/path.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

REPS = 5
FAR = "10.219.2.1"
TAG = f"bp{os.getpid() % 10000}"
A, R1, R2, B = (f"{TAG}{n}" for n in ("a", "r1", "r2", "b"))


def _sh(command: str) -> None:
    subprocess.run(command, shell=True, check=True, capture_output=True, timeout=30)


def _setup() -> None:
    for ns in (A, R1, R2, B):
        _sh(f"ip netns add {ns}")
        _sh(f"ip -n {ns} link set lo up")
    links = [(A, R1, "10.219.0"), (R1, R2, "10.219.1"), (R2, B, "10.219.2")]
    for n, (left, right, net) in enumerate(links):
        # B is .1 on its link, as FAR says; the router side is .2.
        left_ip, right_ip = (f"{net}.2", f"{net}.1") if right == B else (f"{net}.1", f"{net}.2")
        _sh(f"ip link add {TAG}{n}l netns {left} type veth peer name {TAG}{n}r netns {right}")
        _sh(f"ip -n {left} addr add {left_ip}/24 dev {TAG}{n}l")
        _sh(f"ip -n {right} addr add {right_ip}/24 dev {TAG}{n}r")
        _sh(f"ip -n {left} link set {TAG}{n}l up")
        _sh(f"ip -n {right} link set {TAG}{n}r up")
    _sh(f"ip -n {A} route add default via 10.219.0.2")
    _sh(f"ip -n {R1} route add 10.219.2.0/24 via 10.219.1.2")
    _sh(f"ip -n {R2} route add 10.219.0.0/24 via 10.219.1.1")
    _sh(f"ip -n {B} route add default via 10.219.2.2")
    _sh(f"ip -n {B} route add local 10.219.3.0/24 dev lo")
    _sh(f"ip -n {R1} route add 10.219.3.0/24 via 10.219.1.2")
    _sh(f"ip -n {R2} route add 10.219.3.0/24 via 10.219.2.1")
    for ns in (R1, R2):
        _sh(f"ip netns exec {ns} sysctl -qw net.ipv4.ip_forward=1")
        _sh(f"ip netns exec {ns} sysctl -qw net.ipv4.icmp_ratelimit=0")
        _sh(f"ip netns exec {ns} sysctl -qw net.ipv4.icmp_msgs_per_sec=1000000")
        _sh(f"ip netns exec {ns} sysctl -qw net.ipv4.icmp_msgs_burst=1000000")
    _sh(f"ip netns exec {B} sysctl -qw net.ipv4.icmp_ratelimit=0")  # udp: port unreachable


def _child_cpu(argv: list[str]) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used, out


async def _netmon(protocol: str = "icmp") -> tuple[list[float], list[float], str]:
    from monitor.config import Target
    from probes.context import ProbeContext
    from probes.path import probe

    options = {"protocol": protocol}
    target = Target.model_validate({"name": "b", "kind": "path", "host": FAR, "path": options})
    ctx = ProbeContext()
    cpu, wall = [], []
    try:
        detail = (await probe(target, ctx)).detail  # opens the shared socket
        for _ in range(REPS):
            t0, w0 = time.process_time(), time.perf_counter()
            result = await probe(target, ctx)
            cpu.append(time.process_time() - t0)
            wall.append(time.perf_counter() - w0)
            assert result.success, result.detail
    finally:
        await ctx.aclose()
    return cpu, wall, detail


async def _many(n: int = 200) -> dict[str, Any]:
    from monitor.config import Target
    from probes.context import ProbeContext
    from probes.path import probe

    targets = [
        Target.model_validate(
            {"name": f"p{i}", "kind": "path", "host": f"10.219.3.{i + 1}", "path": {}}
        )
        for i in range(n)
    ]
    ctx = ProbeContext()
    cpu, wall, stars, failed = [], [], [], []
    try:
        await probe(targets[0], ctx)
        for _ in range(REPS):
            t0, w0 = time.process_time(), time.perf_counter()
            results = await asyncio.gather(*(probe(t, ctx) for t in targets))
            cpu.append((time.process_time() - t0) / n)
            wall.append(time.perf_counter() - w0)
            failed.append(sum(not r.success for r in results))
            stars.append(sum(text.split()[1] == "*" for r in results for k, text in r.facts))
    finally:
        await ctx.aclose()
    return {
        "paths": n,
        "cpu_ms_per_traceroute_median": statistics.median(cpu) * 1e3,
        "wall_s_median": statistics.median(wall),
        "star_hops_per_run": stars,
        "failed_per_run": failed,
    }


def _inside() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, argv in (
        ("traceroute", ["traceroute", "-I", "-n", "-q", "3", "-w", "1", FAR]),
        ("mtr", ["mtr", "--report", "-n", "-c", "3", FAR]),
    ):
        runs = [_child_cpu(argv) for _ in range(REPS)]
        figures[name] = {
            "cpu_ms_median": statistics.median(cpu for cpu, _ in runs) * 1e3,
            "cpu_ms_runs": [round(cpu * 1e3, 2) for cpu, _ in runs],
            "output": runs[-1][1],
        }
    cpu, wall, detail = asyncio.run(_netmon())
    figures["netmon"] = {
        "cpu_ms_median": statistics.median(cpu) * 1e3,
        "cpu_ms_runs": [round(c * 1e3, 2) for c in cpu],
        "wall_ms_median": statistics.median(wall) * 1e3,
        "output": detail,
    }
    cpu, wall, detail = asyncio.run(_netmon("udp"))
    figures["netmon_udp"] = {
        "cpu_ms_median": statistics.median(cpu) * 1e3,
        "cpu_ms_runs": [round(c * 1e3, 2) for c in cpu],
        "output": detail,
    }
    figures["netmon_200"] = asyncio.run(_many())
    return figures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        print(json.dumps(_inside()))
        return
    if os.geteuid() != 0:
        sys.exit("bench_path.py needs root (network namespaces, raw sockets)")
    try:
        _setup()
        done = subprocess.run(
            ["ip", "netns", "exec", A, sys.executable, __file__, "--inside"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    finally:
        for ns in (A, R1, R2, B):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"CPU per traceroute, 3 hops, 3 probes per hop, median of {REPS} runs")
    for name in ("traceroute", "mtr", "netmon", "netmon_udp"):
        f = figures[name]
        print(f"  {name:<11} {f['cpu_ms_median']:8.2f} ms   runs {f['cpu_ms_runs']}")
    print(f"  netmon wall {figures['netmon']['wall_ms_median']:.1f} ms")
    many = figures["netmon_200"]
    print(
        f"200 paths at once: {many['cpu_ms_per_traceroute_median']:.2f} ms CPU per traceroute, "
        f"{many['wall_s_median']:.2f} s wall, stars {many['star_hops_per_run']}, "
        f"failed {many['failed_per_run']}"
    )
    result = {"host": platform.node(), "python": platform.python_version(), **figures}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "path.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
