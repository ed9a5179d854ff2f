"""A live HLS stream and an Icecast radio on loopback, from Debian's ffmpeg and icecast2.

``LiveHls``: ffmpeg encodes a generated test pattern (tiny, low frame rate, MPEG-2: cheap) into
an HLS playlist of 1 s segments in a temporary directory, which an aiohttp static server serves
(it sends Last-Modified). ``pause``/``resume`` stop and continue the encoder (SIGSTOP/SIGCONT):
its playlist then stops moving, as a stalled encoder's does.

``IcecastRadio``: icecast2 with a minimal configuration in a temporary directory (as root it
drops to the package's ``icecast2`` user through ``<changeowner>``, since icecast refuses to
run as root), and ffmpeg as its source: a sine tone as MP3 at 32 kbit/s on ``/radio.mp3``.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from tests.support.common import free_port

__all__ = ["HLS_HOST", "HOSTILE_HOST", "ICECAST_HOST", "IcecastRadio", "LiveHls", "have"]

HLS_HOST = "127.0.16.1"
ICECAST_HOST = "127.0.16.2"
HOSTILE_HOST = "127.0.16.3"
RADIO_NAME = "Đài truyền thanh xã Hòa Phú"
RADIO_BITRATE = 32_000


def have(*programs: str) -> bool:
    return all(shutil.which(p) for p in programs)


async def _until(what: str, ready: object, within: float) -> None:
    """Wait until ``ready()`` is true; TimeoutError naming ``what`` after ``within`` s."""
    assert callable(ready)
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not ready():
        if loop.time() > end:
            raise TimeoutError(f"{what}: not ready within {within:g} s")
        await asyncio.sleep(0.05)


_FFMPEG = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a paused encoder cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The types nginx's mime.types gives HLS files (Python's mimetypes knows neither).
_HLS_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


async def _hls_types(request: web.Request, response: web.StreamResponse) -> None:
    content_type = _HLS_TYPES.get(Path(request.path).suffix)
    if content_type is not None and response.status == 200:
        response.content_type = content_type


class LiveHls:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._ffmpeg: subprocess.Popen[bytes] | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{HLS_HOST}:{self.port}"

    @property
    def playlist(self) -> Path:
        return self.directory / "live.m3u8"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # A master playlist over ffmpeg's media playlist: the highest variant is the live one,
        # the lowest names a playlist that is not there.
        (self.directory / "master.m3u8").write_text(
            "#EXTM3U\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x90,NAME="truc-tiep"\n'
            "live.m3u8\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=64000,RESOLUTION=80x45\n"
            "low/missing.m3u8\n",
            encoding="utf-8",
        )
        self._ffmpeg = _spawn(
            *_FFMPEG,
            *[
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=160x90:rate=10",
                "-c:v",
                "mpeg2video",
                "-g",
                "10",
                "-b:v",
                "100k",
            ],
            *["-f", "hls", "-hls_time", "1", "-hls_list_size", "5"],
            *["-hls_flags", "delete_segments+program_date_time"],
            str(self.playlist),
        )
        app = web.Application()
        app.router.add_static("/", self.directory)
        app.on_response_prepare.append(_hls_types)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        self.port = free_port(HLS_HOST)
        await web.TCPSite(self._runner, HLS_HOST, self.port).start()
        await _until("ffmpeg's HLS playlist", self._segments_listed(2), 15)

    def _segments_listed(self, count: int) -> object:
        def ready() -> bool:
            try:
                return self.playlist.read_text().count("#EXTINF") >= count
            except OSError:
                return False

        return ready

    def pause(self) -> None:
        assert self._ffmpeg is not None
        os.kill(self._ffmpeg.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._ffmpeg is not None
        os.kill(self._ffmpeg.pid, signal.SIGCONT)

    async def close(self) -> None:
        if self._ffmpeg is not None:
            _stop(self._ffmpeg)
        if self._runner is not None:
            await self._runner.cleanup()


class IcecastRadio:
    """``directory`` is made under the system's temporary directory: icecast, as its own user,
    must reach it (pytest's own temporary directories are root's alone)."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="netmon-icecast-"))
        self.port = 0
        self._icecast: subprocess.Popen[bytes] | None = None
        self._source: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{ICECAST_HOST}:{self.port}/radio.mp3"

    def _config(self, password: str) -> str:
        owner = ""
        if os.geteuid() == 0:  # icecast will not run as root: it drops to its package's user
            user = pwd.getpwnam("icecast2")
            group = grp.getgrgid(user.pw_gid).gr_name
            owner = (
                f"<changeowner><user>icecast2</user><group>{escape(group)}</group></changeowner>"
            )
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        return f"""<icecast>
  <location>lab</location><admin>noc@daklak.lab</admin>
  <limits><clients>50</clients><sources>2</sources><burst-size>65535</burst-size>
    <source-timeout>5</source-timeout></limits>
  <authentication><source-password>{password}</source-password>
    <admin-user>admin</admin-user><admin-password>{password}-admin</admin-password>
  </authentication>
  <hostname>{ICECAST_HOST}</hostname>
  <listen-socket><port>{self.port}</port><bind-address>{ICECAST_HOST}</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths><logdir>{escape(str(self.directory))}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>
    <loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""

    async def start(self) -> None:
        password = "h9-" + os.urandom(6).hex()
        self.port = free_port(ICECAST_HOST)
        config = self.directory / "icecast.xml"
        config.write_text(self._config(password), encoding="utf-8")
        self._icecast = _spawn("icecast2", "-c", str(config))
        await _until("icecast2 listening", self._listening, 10)
        self._source = _spawn(
            *_FFMPEG,
            *["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-c:a", "libmp3lame"],
            *f"-b:a {RADIO_BITRATE} -content_type audio/mpeg".split(),
            *("-ice_name", RADIO_NAME, "-f", "mp3"),
            f"icecast://source:{password}@{ICECAST_HOST}:{self.port}/radio.mp3",
        )
        await _until("the radio mounted", self._mounted, 10)
        await asyncio.sleep(1.0)  # a second of audio in icecast's queue

    def _listening(self) -> bool:
        assert self._icecast is not None
        if self._icecast.poll() is not None:
            raise RuntimeError(f"icecast2 exited with {self._icecast.returncode}")
        with socket.socket() as sock:
            return sock.connect_ex((ICECAST_HOST, self.port)) == 0

    def _mounted(self) -> bool:
        log = self.directory / "error.log"
        try:
            return 'mountpoint "/radio.mp3"' in log.read_text(errors="replace")
        except OSError:
            return False

    async def close(self) -> None:
        for process in (self._source, self._icecast):
            if process is not None:
                _stop(process)
        shutil.rmtree(self.directory, ignore_errors=True)
