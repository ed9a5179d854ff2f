"""CPU per HLS check: netmon's stream probe against a live-like HLS server on loopback.

Run by hand: ``.venv/bin/python bench/bench_stream.py [--checks 200] [--rounds 5]``.

The server runs in its own process (its CPU is not counted): a master playlist with two
variants, a media playlist of 1 s segments whose media sequence moves every half second (so
every check sees it move and succeeds), with EXT-X-PROGRAM-DATE-TIME, and segments of a given
size (125,000 bytes: 1 Mbit/s; and 2,500 bytes, to show what the bytes cost against the rest).
One check is the whole probe: master playlist, media playlist, newest segment, the media
playlist again one target duration later. ``--checks`` of them run together (most of a check is
waiting), CPU from ``time.process_time()`` of this process over the round, divided by the
checks. Medians over ``--rounds``.

Beside it, the playlist parser alone: ``probes.stream.parse_playlist`` on a 5-segment and a
3,000-segment media playlist, and the ``m3u8`` package (6.0, not a dependency) on the same
text when it is installed, which is why the probe parses playlists itself.
Results go to bench/results/stream.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.config import Target  # noqa: E402
from probes import stream  # noqa: E402
from probes.context import ProbeContext  # noqa: E402

HOST = "127.0.0.1"

SERVER = textwrap.dedent(
    """
    import asyncio, sys, time
    from datetime import datetime, timezone
    from aiohttp import web

    MASTER = ("#EXTM3U\\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=1280x720\\nhd.m3u8\\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=640x360\\nsd.m3u8\\n")

    def media(size):
        n = int(time.time() * 2)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1",
                 f"#EXT-X-MEDIA-SEQUENCE:{n}"]
        for i in range(n, n + 5):
            when = datetime.fromtimestamp(i / 2, timezone.utc).isoformat(timespec="milliseconds")
            lines += [f"#EXT-X-PROGRAM-DATE-TIME:{when}", "#EXTINF:1.000,", f"s{size}/{i}.ts"]
        return "\\n".join(lines) + "\\n"

    async def master(request):
        return web.Response(text=MASTER, content_type="application/vnd.apple.mpegurl")

    async def hd(request):
        size = request.match_info["size"]
        return web.Response(text=media(size), content_type="application/vnd.apple.mpegurl")

    BODIES = {}

    async def segment(request):
        size = int(request.match_info["size"])
        body = BODIES.setdefault(size, b"\\x47" * size)
        return web.Response(body=body, content_type="video/mp2t")

    async def main():
        app = web.Application()
        app.router.add_get("/{size}/master.m3u8", master)
        app.router.add_get("/{size}/hd.m3u8", hd)
        app.router.add_get("/{size}/s{n}/{seq}.ts", segment)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, sys.argv[1], 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def media_text(segments: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:1"]
    for i in range(segments):
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:2025-10-14T07:{i // 10 % 60:02d}:{i * 6 % 60:02d}.000+07:00",
            "#EXTINF:6.000,",
            f"seg{i}.ts",
        ]
    return "\n".join(lines) + "\n"


def parse_costs() -> dict[str, Any]:
    """Microseconds per parse, median of 5 timings of a batch, for each playlist size."""
    out: dict[str, Any] = {}
    try:
        import m3u8  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        m3u8 = None
    for segments, batch in ((5, 2000), (3000, 5)):
        text = media_text(segments)
        row: dict[str, float] = {}
        parsers: list[tuple[str, Any]] = [("netmon", stream.parse_playlist)]
        if m3u8 is not None:
            parsers.append(("m3u8", m3u8.loads))
        for name, parse in parsers:
            times = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(batch):
                    parse(text)
                times.append((time.perf_counter() - start) / batch * 1e6)
            row[f"{name}_us"] = round(statistics.median(times), 1)
        out[f"{segments}_segments"] = row
    return out


async def checks(base: str, n: int, ctx: ProbeContext) -> tuple[float, int, float]:
    """n checks at once; returns CPU seconds, how many succeeded, and the wall time."""
    target = Target.model_validate(
        {"name": "bench-hls", "kind": "stream", "url": f"{base}/master.m3u8", "timeout": "5s"}
    )
    cpu, wall = time.process_time(), time.monotonic()
    results = await asyncio.gather(*(stream.probe(target, ctx) for _ in range(n)))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    failed = [r.detail for r in results if not r.success]
    if failed:
        print(f"  {len(failed)} failed, e.g. {failed[0]}", file=sys.stderr)
    return cpu, n - len(failed), wall


def start_server() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SERVER, HOST], stdout=subprocess.PIPE, text=True)


async def run(n: int, rounds: int) -> dict[str, Any]:
    server = start_server()
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        out: dict[str, Any] = {}
        ctx = ProbeContext()
        try:
            await checks(f"http://{HOST}:{port}/2500", 10, ctx)  # warm-up
            for size in (125_000, 2_500):
                base = f"http://{HOST}:{port}/{size}"
                per, walls, oks = [], [], []
                for _ in range(rounds):
                    cpu, ok, wall = await checks(base, n, ctx)
                    per.append(cpu / n * 1000)
                    walls.append(wall)
                    oks.append(ok)
                out[f"segment_{size}_bytes"] = {
                    "cpu_ms_per_check_median": round(statistics.median(per), 3),
                    "cpu_ms_per_check_rounds": [round(p, 3) for p in per],
                    "succeeded_min": min(oks),
                    "wall_s_median": round(statistics.median(walls), 2),
                }
        finally:
            await ctx.aclose()
        return out
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.checks, args.rounds))
    parsing = parse_costs()
    doc = {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "kernel": platform.release(),
        },
        "checks_at_once": args.checks,
        "rounds": args.rounds,
        "results": results,
        "parse": parsing,
    }
    print(f"{'segment bytes':>14}  {'CPU ms/check (median)':>22}  {'ok (min)':>8}  wall s")
    for key, row in results.items():
        size = key.split("_")[1]
        print(
            f"{size:>14}  {row['cpu_ms_per_check_median']:>22.3f}  "
            f"{row['succeeded_min']:>8}  {row['wall_s_median']}"
        )
    print("playlist parse, µs:", json.dumps(parsing))
    path = REPO / "bench" / "results" / "stream.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if all(r["succeeded_min"] == args.checks for r in results.values()) else 1


if __name__ == "__main__":
    socket.setdefaulttimeout(10)
    raise SystemExit(main())
