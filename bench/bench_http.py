"""CPU per HTTP probe: netmon's http probe against blackbox_exporter's http_2xx, side by side.

Run by hand: ``.venv/bin/python bench/bench_http.py [--probes 1000] [--rounds 5]``.

One loopback target (a tiny aiohttp server on 127.0.0.1, in its own process so its CPU is not
counted), a fresh connection per probe for both tools, ~50 probes in flight.

- blackbox_exporter (Debian ``/usr/bin/prometheus-blackbox-exporter``) runs on 127.0.0.1 with a
  temp config; a client drives ``/probe?module=http_2xx&target=...`` N times over keep-alive
  connections, and the exporter's CPU is its utime+stime delta from ``/proc/<pid>/stat``.
  Nothing is subtracted: that figure includes serving the ``/probe`` request and rendering its
  metrics, which netmon does not do per probe (it renders once per scrape).
- netmon: ``probes.http.probe`` N times in this process, CPU from ``time.process_time()``.

Both run plain http and https (the target's certificate from a trustme CA both trust). Each
round measures both tools; the table shows medians over rounds and the ratio netmon/blackbox
(goal: at most 0.5). Results also go to bench/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import trustme

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.config import Target  # noqa: E402
from probes import http  # noqa: E402
from probes.context import ProbeContext  # noqa: E402

BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVER = textwrap.dedent(
    """
    import asyncio, ssl, sys
    from aiohttp import web

    PAGE = "<html><body><h1>Đại hội Đảng bộ tỉnh</h1>" + "x" * 2000 + "</body></html>"

    async def index(request):
        return web.Response(text=PAGE, content_type="text/html")

    async def main():
        host, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
        app = web.Application()
        app.router.add_get("/", index)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        plain = web.TCPSite(runner, host, 0, backlog=1024)
        await plain.start()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        tls = web.TCPSite(runner, host, 0, ssl_context=context, backlog=1024)
        await tls.start()
        ports = [a[1] for a in runner.addresses]
        print(ports[0], ports[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def wait_http(url: str, deadline: float = 10.0) -> None:
    stop = time.monotonic() + deadline
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    return
            except aiohttp.ClientError:
                if time.monotonic() > stop:
                    raise
                await asyncio.sleep(0.05)


async def drive_blackbox(base: str, target_url: str, module: str, n: int, conc: int) -> int:
    """n /probe requests, conc at a time; returns how many reported probe_success 1."""
    ok = 0
    sem = asyncio.Semaphore(conc)
    url = f"{base}/probe"
    params = {"module": module, "target": target_url}
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal ok
            async with sem, session.get(url, params=params) as resp:
                text = await resp.text()
                if "\nprobe_success 1" in text:
                    ok += 1

        await asyncio.gather(*(one() for _ in range(n)))
    return ok


async def drive_netmon(target: Target, ctx: ProbeContext, n: int, conc: int) -> int:
    ok = 0
    sem = asyncio.Semaphore(conc)

    async def one() -> None:
        nonlocal ok
        async with sem, asyncio.timeout(5):
            result = await http.probe(target, ctx)
        ok += result.success

    await asyncio.gather(*(one() for _ in range(n)))
    return ok


def blackbox_config(path: Path, ca_file: str) -> None:
    path.write_text(
        textwrap.dedent(
            f"""
            modules:
              http_2xx:
                prober: http
                timeout: 5s
                http:
                  preferred_ip_protocol: ip4
              http_2xx_tls:
                prober: http
                timeout: 5s
                http:
                  preferred_ip_protocol: ip4
                  tls_config:
                    ca_file: {ca_file}
            """
        )
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="netmon-bench-http-"))
    ca = trustme.CA()
    cert = ca.issue_cert(HOST)
    ca_file, cert_file, key_file = work / "ca.pem", work / "cert.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))

    procs: list[asyncio.subprocess.Process] = []
    try:
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERVER,
            HOST,
            str(cert_file),
            str(key_file),
            stdout=asyncio.subprocess.PIPE,
        )
        procs.append(server)
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 10)
        plain_port, tls_port = (int(p) for p in line.split())
        urls = {
            "http": f"http://{HOST}:{plain_port}/",
            "https": f"https://{HOST}:{tls_port}/",
        }
        await wait_http(urls["http"])

        bb_pid: int | None = None
        bb_base = ""
        if os.access(BLACKBOX, os.X_OK):
            config = work / "blackbox.yml"
            blackbox_config(config, str(ca_file))
            bb_port = free_port()
            bb = await asyncio.create_subprocess_exec(
                BLACKBOX,
                f"--config.file={config}",
                f"--web.listen-address={HOST}:{bb_port}",
                "--log.level=error",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            procs.append(bb)
            bb_pid = bb.pid
            bb_base = f"http://{HOST}:{bb_port}"
            await wait_http(bb_base + "/-/healthy")
        else:
            print(f"blackbox_exporter not found at {BLACKBOX}: netmon figures only")

        ctx = ProbeContext()
        targets = {
            "http": Target.model_validate(
                {"name": "bench", "kind": "http", "url": urls["http"], "http": {}}
            ),
            "https": Target.model_validate(
                {
                    "name": "bench-tls",
                    "kind": "http",
                    "url": urls["https"],
                    "http": {"ca_file": str(ca_file)},
                }
            ),
        }
        modules = {"http": "http_2xx", "https": "http_2xx_tls"}
        n, conc = args.probes, args.concurrency
        rows: dict[str, dict[str, list[float]]] = {
            scheme: {"netmon": [], "blackbox": [], "netmon_ok": [], "blackbox_ok": []}
            for scheme in urls
        }
        try:
            # Warm-up: sessions, TLS contexts, Go's and Python's first-use costs.
            for scheme in urls:
                await drive_netmon(targets[scheme], ctx, 50, conc)
                if bb_pid is not None:
                    await drive_blackbox(bb_base, urls[scheme], modules[scheme], 50, conc)
            deadline = time.monotonic() + args.budget
            for _ in range(args.rounds):
                for scheme in urls:
                    cpu0 = time.process_time()
                    ok = await drive_netmon(targets[scheme], ctx, n, conc)
                    rows[scheme]["netmon"].append((time.process_time() - cpu0) / n)
                    rows[scheme]["netmon_ok"].append(ok / n)
                    if bb_pid is not None:
                        cpu0 = proc_cpu(bb_pid)
                        ok = await drive_blackbox(bb_base, urls[scheme], modules[scheme], n, conc)
                        rows[scheme]["blackbox"].append((proc_cpu(bb_pid) - cpu0) / n)
                        rows[scheme]["blackbox_ok"].append(ok / n)
                if time.monotonic() > deadline:
                    break
        finally:
            await ctx.aclose()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        shutil.rmtree(work, ignore_errors=True)

    result: dict[str, Any] = {
        "bench": "http",
        "probes_per_round": n,
        "concurrency": conc,
        "rounds": len(rows["http"]["netmon"]),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "cpus": os.cpu_count(),
        "blackbox": BLACKBOX if bb_pid is not None else None,
        "note": "blackbox CPU includes serving each /probe request and rendering its metrics",
        "results": {},
    }
    for scheme, data in rows.items():
        netmon = statistics.median(data["netmon"])
        entry: dict[str, Any] = {
            "netmon_cpu_us_per_probe": round(netmon * 1e6, 1),
            "netmon_rounds_us": [round(v * 1e6, 1) for v in data["netmon"]],
            "netmon_success_ratio": min(data["netmon_ok"]),
        }
        if data["blackbox"]:
            blackbox = statistics.median(data["blackbox"])
            entry.update(
                {
                    "blackbox_cpu_us_per_probe": round(blackbox * 1e6, 1),
                    "blackbox_rounds_us": [round(v * 1e6, 1) for v in data["blackbox"]],
                    "blackbox_success_ratio": min(data["blackbox_ok"]),
                    "ratio_netmon_over_blackbox": round(netmon / blackbox, 3),
                }
            )
        result["results"][scheme] = entry
    return result


def print_table(result: dict[str, Any]) -> None:
    print(
        f"http probe CPU, {result['probes_per_round']} probes x {result['rounds']} rounds, "
        f"{result['concurrency']} in flight, fresh connection per probe (median of rounds)"
    )
    header = (
        f"{'target':<8} {'netmon µs/probe':>16} {'blackbox µs/probe':>18} {'netmon/blackbox':>16}"
    )
    print(header)
    print("-" * len(header))
    for scheme, entry in result["results"].items():
        bb = entry.get("blackbox_cpu_us_per_probe")
        ratio = entry.get("ratio_netmon_over_blackbox")
        print(
            f"{scheme:<8} {entry['netmon_cpu_us_per_probe']:>16.1f} "
            f"{(f'{bb:.1f}' if bb is not None else 'n/a'):>18} "
            f"{(f'{ratio:.2f}x' if ratio is not None else 'n/a'):>16}"
        )
        if entry["netmon_success_ratio"] < 1 or entry.get("blackbox_success_ratio", 1) < 1:
            print(
                f"  warning: success netmon {entry['netmon_success_ratio']:.3f}, "
                f"blackbox {entry.get('blackbox_success_ratio', 'n/a')}"
            )
    if result["blackbox"] is not None:
        print("goal: netmon/blackbox <= 0.50x; " + result["note"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=1000, help="probes per round and tool")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--budget", type=float, default=45.0, help="stop adding rounds after")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "http.json")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    main()
