"""ICMP bench: CPU per echo next to fping and blackbox_exporter; echoes in flight on one socket.

Run by hand, as root: `.venv/bin/python bench/bench_icmp.py` (about a minute).
Loopback only: every target is in 127.0.0.0/8.

1. CPU per echo, the same 200 targets × 5 echoes (1,000 echoes a run), median of REPS runs:
   - fping (`fping -C 5 -p 20 -i 0|1 -q ...`): the child's user+sys time (RUSAGE_CHILDREN
     delta). `-i 0` sends without pacing, like netmon (all targets at once); `-i 1` paces one
     echo a millisecond and costs fping a wake-up per echo. The goal is checked against the
     cheaper of the two;
   - blackbox_exporter (one echo per /probe): its process time from /proc/<pid>/stat,
     1,000 /probe requests, 50 at a time;
   - netmon: `probes.icmp.probe` for the 200 targets at once (count 5, spacing 20 ms), this
     process's time.process_time().
2. In flight: 1,000 probes of one echo each, sent in one turn of the event loop (so 1,000
   echoes in flight on one socket), then 5,000 for headroom: false loss (must be 0) and the
   RTT each probe reports (median, p99; goal < 1 ms).
3. Why gufo-ping lost echoes: 1,000 echoes sent in one burst on a bare raw socket with the
   kernel's default receive buffer, with and without a type filter, next to netmon's socket.

Goals: netmon ≤ 3 × fping CPU per echo, 0 false loss at 1,000 in flight, RTT < 1 ms.
Prints a table and writes bench/results/icmp.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from monitor.config import Target
from probes import icmp
from probes.base import ProbeResult
from probes.context import ProbeContext

HERE = Path(__file__).resolve().parent

REPS = 5
COUNT = 5
HOSTS = [f"127.0.3.{i}" for i in range(1, 201)]  # 200 targets × 5 echoes = 1,000 echoes
ECHOES = len(HOSTS) * COUNT
CLK_TCK = os.sysconf("SC_CLK_TCK")
FPING = "/usr/bin/fping"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"


def loopback(i: int) -> str:
    return f"127.0.{3 + i // 250}.{1 + i % 250}"


def target(host: str, name: str, count: int, spacing: str = "20ms") -> Target:
    return Target.model_validate(
        {"name": name, "kind": "icmp", "host": host, "icmp": {"count": count, "spacing": spacing}}
    )


def value(result: ProbeResult, name: str, stat: str | None = None) -> float | None:
    labels = (("stat", stat),) if stat else ()
    return next((s.value for s in result.samples if s.name == name and s.labels == labels), None)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- 1. CPU per echo ----------------------------------------------------------------------


def bench_fping(interval_ms: int) -> dict[str, Any]:
    if not os.access(FPING, os.X_OK):
        return {"skipped": f"{FPING} not found (Debian package fping)"}
    cpu, rtts, lost = [], [], 0
    for _ in range(REPS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [FPING, "-C", str(COUNT), "-p", "20", "-i", str(interval_ms), "-q", *HOSTS],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        for line in done.stderr.splitlines():  # "127.0.3.1 : 0.05 0.01 - 0.02 0.01"
            if " : " in line:
                for field in line.split(" : ", 1)[1].split():
                    if field == "-":
                        lost += 1
                    else:
                        rtts.append(float(field) / 1e3)
    return {
        "cpu_per_echo_us": statistics.median(cpu) / ECHOES * 1e6,
        "cpu_runs_s": cpu,
        "lost": lost,
        "rtt_median_ms": statistics.median(rtts) * 1e3 if rtts else None,
    }


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_blackbox(tmp: str, port: int) -> subprocess.Popen[bytes]:
    config = Path(tmp, "blackbox.yml")
    config.write_text(
        "modules:\n  icmp:\n    prober: icmp\n    timeout: 5s\n"
        "    icmp:\n      preferred_ip_protocol: ip4\n"
    )
    with open(Path(tmp, "log"), "wb") as log:
        return subprocess.Popen(
            [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=log,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def bench_blackbox() -> dict[str, Any]:
    if not os.access(BLACKBOX, os.X_OK):
        return {"skipped": f"{BLACKBOX} not found (Debian package prometheus-blackbox-exporter)"}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_blackbox(tmp, port)
        try:
            return await _drive_blackbox(proc.pid, f"http://127.0.0.1:{port}")
        finally:
            stop(proc)


async def _drive_blackbox(pid: int, base: str) -> dict[str, Any]:
    limit = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as http:
        for _ in range(100):  # up within 5 s
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/-/healthy") as answer:
                    if answer.status == 200:
                        break
            await asyncio.sleep(0.05)
        else:
            return {"skipped": "blackbox_exporter did not start"}

        async def one(host: str) -> tuple[bool, float | None]:
            async with limit, http.get(f"{base}/probe?module=icmp&target={host}") as answer:
                text = await answer.text()
            ok = re.search(r"^probe_success 1$", text, re.M) is not None
            rtt = re.search(r'^probe_icmp_duration_seconds\{phase="rtt"\} (\S+)$', text, re.M)
            return ok, float(rtt.group(1)) if rtt else None

        await asyncio.gather(*(one(h) for h in HOSTS[:20]))  # warm-up
        cpu, rtts, lost = [], [], 0
        for _ in range(REPS):
            before = proc_cpu(pid)
            results = await asyncio.gather(*(one(h) for h in HOSTS * COUNT))
            cpu.append(proc_cpu(pid) - before)
            lost += sum(not ok for ok, _ in results)
            rtts += [rtt for _, rtt in results if rtt is not None]
    return {
        "cpu_per_echo_us": statistics.median(cpu) / ECHOES * 1e6,
        "cpu_runs_s": cpu,
        "lost": lost,
        "rtt_median_ms": statistics.median(rtts) * 1e3 if rtts else None,
        "note": "one echo per /probe; includes its HTTP handling, as deployed",
    }


async def bench_netmon(ctx: ProbeContext) -> dict[str, Any]:
    targets = [target(h, f"t{i}", COUNT) for i, h in enumerate(HOSTS)]
    await asyncio.gather(*(icmp.probe(t, ctx) for t in targets[:20]))  # opens the socket
    cpu, rtts, lost = [], [], 0
    for _ in range(REPS):
        before = time.process_time()
        results = await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
        cpu.append(time.process_time() - before)
        for r in results:
            lost += COUNT - int(value(r, "probe_icmp_packets_received") or 0)
            rtts += [v for v in [value(r, "probe_icmp_rtt_seconds", "avg")] if v is not None]
    sock = await ctx.shared("icmp4", _exists)
    return {
        "cpu_per_echo_us": statistics.median(cpu) / ECHOES * 1e6,
        "cpu_runs_s": cpu,
        "lost": lost,
        "rtt_median_ms": statistics.median(rtts) * 1e3 if rtts else None,
        "socket": "raw" if isinstance(sock, icmp.IcmpSocket) and sock.raw else "dgram",
    }


async def _exists() -> tuple[Any, Any]:
    raise RuntimeError("the ICMP socket should exist already")


# --- 2. echoes in flight ------------------------------------------------------------------


async def bench_in_flight(ctx: ProbeContext, n: int, reps: int) -> dict[str, Any]:
    targets = [target(loopback(i), f"f{i}", 1) for i in range(n)]
    medians, p99s, walls, lost = [], [], [], 0
    for _ in range(reps):
        start = time.perf_counter()
        # Each probe sends before the first await: all n echoes are in flight at once.
        results = await asyncio.gather(*(icmp.probe(t, ctx) for t in targets))
        walls.append(time.perf_counter() - start)
        lost += sum(not r.success for r in results)
        rtts = [v for r in results if (v := value(r, "probe_icmp_rtt_seconds", "avg")) is not None]
        medians.append(statistics.median(rtts) if rtts else float("nan"))
        p99s.append(pct(rtts, 0.99))
    return {
        "in_flight": n,
        "echoes": n * reps,
        "false_loss": lost,
        "rtt_median_ms": statistics.median(medians) * 1e3,
        "rtt_p99_ms": statistics.median(p99s) * 1e3,
        "wall_ms": statistics.median(walls) * 1e3,
    }


# --- 3. the overflow gufo-ping hits -------------------------------------------------------


def burst_on_bare_socket(n: int, big_buffer: bool, type_filter: bool) -> dict[str, Any]:
    """Send n echoes in one burst on a fresh raw socket, then read: how many replies survive."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK, 1) as s:
        if big_buffer:
            s.setsockopt(socket.SOL_SOCKET, icmp.SO_RCVBUFFORCE, icmp.RCVBUF)
        if type_filter:
            s.setsockopt(icmp.SOL_RAW, icmp.ICMP_FILTER, struct.pack("=I", ~0x809 & 0xFFFFFFFF))
        ident, payload = os.getpid() & 0xFFFF, bytes(56)
        for seq in range(n):
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
            total = sum(struct.unpack(f"!{len(header) // 2}H", header))
            total = (total & 0xFFFF) + (total >> 16)
            checksum = ~(total + (total >> 16)) & 0xFFFF
            s.sendto(
                struct.pack("!BBHHH", 8, 0, checksum, ident, seq) + payload, (loopback(seq), 0)
            )
        time.sleep(0.2)
        replies = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                data = s.recv(256)
                start = (data[0] & 0x0F) * 4
                replies += (
                    data[start] == 0 and struct.unpack_from("!H", data, start + 4)[0] == ident
                )
        drops = _raw_drops(os.fstat(s.fileno()).st_ino)
        rcvbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return {"sent": n, "replies": replies, "lost": n - replies, "kernel_drops": drops,
            "rcvbuf_bytes": rcvbuf, "type_filter": type_filter}  # fmt: skip


def _raw_drops(inode: int) -> int | None:
    for line in Path("/proc/net/raw").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] == str(inode):
            return int(fields[-1])
    return None


# --- report -------------------------------------------------------------------------------


def ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if "cpu_per_echo_us" in a and "cpu_per_echo_us" in b and b["cpu_per_echo_us"] > 0:
        return float(a["cpu_per_echo_us"] / b["cpu_per_echo_us"])
    return None


def show(results: dict[str, Any], fping: dict[str, Any]) -> None:
    cpu = results["cpu_per_echo"]
    print(f"\nICMP bench: {ECHOES} echoes a run ({len(HOSTS)} targets × {COUNT}), median of {REPS}")
    print(f"{'tool':<14}{'CPU/echo µs':>12}{'× fping':>9}{'lost':>6}{'RTT median ms':>15}")
    print("(× fping: against the cheaper fping mode)")
    for name in cpu:
        row = cpu[name]
        if "skipped" in row:
            print(f"{name:<14}skipped: {row['skipped']}")
            continue
        times = ratio(row, fping)
        print(
            f"{name:<14}{row['cpu_per_echo_us']:>12.1f}"
            f"{(f'{times:.2f}' if times is not None else '-'):>9}{row['lost']:>6}"
            f"{(row['rtt_median_ms'] or float('nan')):>15.3f}"
        )
    print(f"\n{'in flight':<14}{'echoes':>8}{'false loss':>12}{'RTT median ms':>15}"
          f"{'RTT p99 ms':>12}{'wall ms':>9}")  # fmt: skip
    for row in results["in_flight"]:
        print(
            f"{row['in_flight']:<14}{row['echoes']:>8}{row['false_loss']:>12}"
            f"{row['rtt_median_ms']:>15.3f}{row['rtt_p99_ms']:>12.3f}{row['wall_ms']:>9.1f}"
        )
    print("\nburst of 1000 on a bare raw socket (how gufo-ping loses echoes):")
    for row in results["overflow"]:
        print(
            f"  {row['label']:<46} rcvbuf {row['rcvbuf_bytes']:>8} B: "
            f"{row['lost']:>4} of {row['sent']} lost, kernel drops {row['kernel_drops']}"
        )
    print("\ngoals:")
    for goal, met in results["goals"].items():
        print(f"  {'met ' if met else 'MISSED' if met is False else 'n/a '}  {goal}")


async def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: raw sockets for netmon, fping and blackbox_exporter alike")
    started = time.perf_counter()
    ctx = ProbeContext()
    try:
        cpu = {"fping -i 0": bench_fping(0), "fping -i 1": bench_fping(1)}
        cpu["blackbox"] = await bench_blackbox()
        cpu["netmon"] = await bench_netmon(ctx)
        in_flight = [await bench_in_flight(ctx, 1000, 5), await bench_in_flight(ctx, 5000, 3)]
    finally:
        await ctx.aclose()
    overflow = [
        {"label": label, **burst_on_bare_socket(1000, big, filtered)}
        for label, big, filtered in (
            ("kernel default buffer, no type filter", False, False),
            ("kernel default buffer, type filter", False, True),
            ("netmon: 4 MiB (forced), type filter", True, True),
        )
    ]
    fping = min(
        (row for name, row in cpu.items() if name.startswith("fping") and "skipped" not in row),
        key=lambda row: float(row["cpu_per_echo_us"]),
        default={},
    )
    times = ratio(cpu["netmon"], fping)
    flight = in_flight[0]
    goals = {
        "netmon CPU per echo <= 3 x fping": None if times is None else times <= 3,
        "0 false loss at 1,000 in flight": flight["false_loss"] == 0,
        "loopback RTT < 1 ms (median and p99 at 1,000 in flight)": flight["rtt_p99_ms"] < 1,
    }
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(),
                 "python": platform.python_version()},
        "cpu_per_echo": cpu,
        "netmon_vs_fping": times,  # against the cheaper fping mode
        "netmon_vs_blackbox": ratio(cpu["netmon"], cpu["blackbox"]),
        "in_flight": in_flight,
        "overflow": overflow,
        "goals": goals,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    show(results, fping)
    out = HERE / "results" / "icmp.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten {out.relative_to(HERE.parent)} in {results['seconds']} s")


if __name__ == "__main__":
    asyncio.run(main())
