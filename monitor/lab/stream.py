"""The lab's congress livestream: a live HLS stream made up on the fly (no encoder needed).

``/live/master.m3u8`` names two variants; ``/live/720p.m3u8`` (and ``360p``) is a media
playlist of the last five 2 s segments, its media sequence following the clock, each segment
with its EXT-X-PROGRAM-DATE-TIME; ``/live/720p/N.ts`` is a segment of transport-stream packets
at the variant's bitrate. The fault ``stalled`` freezes the playlists where they are, as a
stalled encoder leaves them (the server still answers); healing lets them follow the clock again.

The drills run it alone in a namespace: ``python -m monitor.lab.stream HOST PORT``; SIGUSR1
stalls it, SIGUSR2 heals it, SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from datetime import UTC, datetime

from aiohttp import web

__all__ = ["LabStream", "main"]

_log = logging.getLogger("netmon.lab")

SEGMENT_SECONDS = 2
LIST_SIZE = 5
VARIANTS = {"720p": (1_200_000, "1280x720"), "360p": (400_000, "640x360")}
_PACKET = b"\x47" + b"\xff" * 187  # an MPEG-TS packet's size, sync byte first


class LabStream:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.stalled_at: int | None = None  # the sequence the playlists froze at
        self._runner: web.AppRunner | None = None
        self._segments = {
            name: _PACKET * (bps * SEGMENT_SECONDS // 8 // len(_PACKET))
            for name, (bps, _) in VARIANTS.items()
        }

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/live/master.m3u8"

    def sequence(self) -> int:
        """The newest complete segment's sequence number: by the clock, unless stalled."""
        if self.stalled_at is not None:
            return self.stalled_at
        return int(time.time()) // SEGMENT_SECONDS - 1

    def set_fault(self, mode: str | None) -> None:
        if mode == "stalled":
            self.stalled_at = self.sequence()
        elif mode is None:
            self.stalled_at = None
        else:  # pragma: no cover - the lab checks modes
            raise ValueError(mode)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/live/master.m3u8", self._master)
        app.router.add_get("/live/{variant}.m3u8", self._media)
        app.router.add_get("/live/{variant}/{sequence:\\d+}.ts", self._segment)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _master(self, request: web.Request) -> web.Response:
        lines = ["#EXTM3U"]
        for name, (bps, resolution) in VARIANTS.items():
            lines += [
                f'#EXT-X-STREAM-INF:BANDWIDTH={bps},RESOLUTION={resolution},NAME="{name}"',
                f"{name}.m3u8",
            ]
        return _playlist(lines)

    async def _media(self, request: web.Request) -> web.Response:
        variant = request.match_info["variant"]
        if variant not in VARIANTS:
            raise web.HTTPNotFound()
        newest = self.sequence()
        first = max(0, newest - LIST_SIZE + 1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        for n in range(first, newest + 1):
            when = datetime.fromtimestamp(n * SEGMENT_SECONDS, UTC)
            lines += [
                f"#EXT-X-PROGRAM-DATE-TIME:{when.isoformat(timespec='milliseconds')}",
                f"#EXTINF:{SEGMENT_SECONDS}.000,",
                f"{variant}/{n}.ts",
            ]
        return _playlist(lines)

    async def _segment(self, request: web.Request) -> web.Response:
        body = self._segments.get(request.match_info["variant"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="video/mp2t")


def _playlist(lines: list[str]) -> web.Response:
    return web.Response(
        text="\n".join(lines) + "\n",
        content_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "no-cache"},
    )


async def _serve(host: str, port: int) -> None:
    stream = LabStream(host, port)
    await stream.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, stream.set_fault, "stalled")
    loop.add_signal_handler(signal.SIGUSR2, stream.set_fault, None)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"lab stream on {stream.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await stream.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m monitor.lab.stream HOST PORT", file=sys.stderr)
        return 2
    asyncio.run(_serve(argv[0], int(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
