"""The stream probe against a live HLS stream from Debian's ffmpeg, an Icecast radio from Debian's
icecast2 fed by ffmpeg, and hostile servers (garbage, endless, huge, dripping), all on loopback.

One encoder and one radio serve the whole module (tests/support/stream.py); the stall test
pauses the encoder and resumes it, and checks the probe sees it live again.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import web

from monitor.config import Target
from probes import PROBES
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.stream import FAMILIES, choose_variant, parse_playlist
from tests.probes.test_catalogue import undeclared
from tests.support.common import REPO, free_port
from tests.support.stream import (
    HLS_HOST,
    HOSTILE_HOST,
    RADIO_BITRATE,
    RADIO_NAME,
    IcecastRadio,
    LiveHls,
    have,
)

# The async tests run on the module's loop, the one the shared encoder and radio are served on.
on_module_loop = pytest.mark.asyncio(loop_scope="module")
needs_ffmpeg = pytest.mark.skipif(not have("ffmpeg"), reason="needs Debian's ffmpeg")
needs_icecast = pytest.mark.skipif(
    not have("ffmpeg", "icecast2"), reason="needs Debian's ffmpeg and icecast2"
)

MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXTINF:2.000,
#EXT-X-PROGRAM-DATE-TIME:2025-10-14T07:00:00.000+0700
seg41.ts
#EXTINF:1.500,
seg42.ts
"""


def stream_target(url: str, timeout: str = "4s", **options: Any) -> Target:
    fields = {"url": url, "timeout": timeout, "stream": options}
    return Target.model_validate({"name": "truyen-hinh-tinh", "kind": "stream", **fields})


async def run(target: Target, ctx: ProbeContext) -> ProbeResult:
    """As the scheduler runs a probe: cancelled at the target's timeout."""
    assert target.timeout is not None
    try:
        async with asyncio.timeout(target.timeout):
            return await PROBES["stream"](target, ctx)
    except TimeoutError:
        return ProbeResult(False, "timeout", "the scheduler's timeout")


def figure(result: ProbeResult, name: str) -> float:
    values = [s.value for s in result.samples if s.name == name]
    assert len(values) == 1, (name, result.samples)
    return values[0]


@pytest_asyncio.fixture(loop_scope="module")
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveHls]:
    if not have("ffmpeg"):
        pytest.skip("needs Debian's ffmpeg")
    live = LiveHls(tmp_path_factory.mktemp("hls"))
    try:
        await live.start()
        yield live
    finally:
        await live.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def radio() -> AsyncIterator[IcecastRadio]:
    if not have("ffmpeg", "icecast2"):
        pytest.skip("needs Debian's ffmpeg and icecast2")
    station = IcecastRadio()
    try:
        await station.start()
        yield station
    finally:
        await station.close()


# --------------------------------------------------------------------------- the parser


def test_media_playlist_parses_sequence_durations_and_program_date_time() -> None:
    playlist = parse_playlist(MEDIA)
    assert playlist.target_duration == 2
    assert [s.sequence for s in playlist.segments] == [41, 42]
    first, second = playlist.segments
    # 07:00 at +07:00 is 00:00 UTC; the untagged segment follows its predecessor's end.
    assert first.program_date_time == 1760400000.0
    assert second.program_date_time == 1760400002.0
    assert second.duration == 1.5
    assert playlist.position == (42, "seg42.ts")
    assert not playlist.endlist and not playlist.variants


def test_master_playlist_variants_and_the_choice() -> None:
    master = parse_playlist(
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"\n'
        "sd/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,NAME="HD"\n'
        "hd/index.m3u8\n"
    )
    assert [v.bandwidth for v in master.variants] == [800000, 2500000]
    pick = {w: choose_variant(master.variants, w) for w in ("highest", "lowest", "360p", "HD")}
    assert {w: v.uri if v else None for w, v in pick.items()} == {
        "highest": "hd/index.m3u8",
        "lowest": "sd/index.m3u8",
        "360p": "sd/index.m3u8",
        "HD": "hd/index.m3u8",
    }
    assert choose_variant(master.variants, "1280x720") is pick["highest"]
    assert choose_variant(master.variants, "1080p") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not an M3U8 playlist"),
        ("<html>Trang chủ</html>", "not an M3U8 playlist"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:soon\n", "line 2"),
        ("#EXTM3U\n#EXTINF:nan,\nx.ts\n", "EXTINF"),
        ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", "line 2"),
        ("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1e9\n", "line 2"),
    ],
)
def test_garbage_is_no_playlist(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_playlist(text)


# --------------------------------------------------------------------------- live HLS


@on_module_loop
@needs_ffmpeg
async def test_live_hls_through_the_master_playlist(hls: LiveHls, ctx: ProbeContext) -> None:
    result = await run(stream_target(f"{hls.base}/master.m3u8"), ctx)
    assert result.success, result.detail
    assert "live truc-tiep" in result.detail
    # 100 kbit/s asked of the encoder: a 1 s segment of a test pattern, within a factor 3.
    assert 30_000 < figure(result, "probe_stream_bitrate_bps") < 300_000
    assert figure(result, "probe_stream_media_sequence") >= 0
    assert figure(result, "probe_stream_declared_bitrate_bps") == 200_000
    assert 0 < figure(result, "probe_stream_segment_download_seconds") < 1
    assert figure(result, "probe_stream_segment_duration_seconds") == pytest.approx(1, abs=0.2)
    # From the playlist's program date-time: the newest 1 s segment ended a moment ago.
    assert figure(result, "probe_stream_segment_age_seconds") < 3
    info = next(s for s in result.samples if s.name == "probe_stream_info")
    assert dict(info.labels) == {"name": "truc-tiep", "content_type": "video/mp2t"}
    # Every family of the kind, as declared in probes/catalogue.py.
    assert undeclared(FAMILIES, result.samples) == []
    assert {s.name for s in result.samples} == {f.name for f in FAMILIES}


@on_module_loop
@needs_ffmpeg
async def test_variant_by_name_resolution_and_a_missing_one(
    hls: LiveHls, ctx: ProbeContext
) -> None:
    master = f"{hls.base}/master.m3u8"
    by_size = await run(stream_target(master, variant="90p"), ctx)
    assert by_size.success, by_size.detail
    lowest = await run(stream_target(master, variant="lowest"), ctx)
    assert (lowest.reason, "HTTP 404") == ("status", lowest.detail[:8])
    none = await run(stream_target(master, variant="4k"), ctx)
    assert none.reason == "playlist"
    assert "no variant matches '4k' (truc-tiep, 80x45)" in none.detail


@on_module_loop
@needs_ffmpeg
async def test_bitrate_out_of_range(hls: LiveHls, ctx: ProbeContext) -> None:
    url = f"{hls.base}/live.m3u8"  # the media playlist itself
    low, high = await asyncio.gather(
        run(stream_target(url, min_bitrate=5_000_000), ctx),
        run(stream_target(url, max_bitrate=10_000), ctx),
    )
    assert low.reason == "bitrate", low.detail
    assert "below min_bitrate 5.00 Mbit/s" in low.detail
    assert high.reason == "bitrate", high.detail
    assert "above max_bitrate 10 kbit/s" in high.detail


@on_module_loop
@needs_ffmpeg
async def test_a_timeout_shorter_than_the_target_duration_says_so(
    hls: LiveHls, ctx: ProbeContext
) -> None:
    result = await run(stream_target(f"{hls.base}/live.m3u8", timeout="600ms"), ctx)
    assert not result.success
    if result.reason == "timeout" and "target duration" in result.detail:
        assert "give the target a timeout above 2 s" in result.detail
    else:  # the sequence moved within the 0.6 s: still no false "stalled"
        assert result.reason != "stalled", result.detail


@on_module_loop
@needs_ffmpeg
async def test_a_paused_encoder_is_stalled_and_live_again_when_it_resumes(
    hls: LiveHls, ctx: ProbeContext
) -> None:
    url = f"{hls.base}/master.m3u8"
    hls.pause()
    try:
        await asyncio.sleep(1.2)  # the segment being written when it stopped is never listed
        stalled = await run(stream_target(url), ctx)
    finally:
        hls.resume()
    assert stalled.reason == "stalled", stalled.detail
    assert "the playlist has not moved in" in stalled.detail
    assert figure(stalled, "probe_stream_segment_age_seconds") > 1.5
    again = await run(stream_target(url), ctx)
    assert again.success, again.detail


# --------------------------------------------------------------------------- hostile servers


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile() -> AsyncIterator[str]:
    """One server, one route per misbehaviour."""
    media = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{n}\n#EXTINF:1.0,\nseg{n}.ts\n"

    def moving() -> str:
        return media.format(n=int(time.monotonic() * 2))  # moves every half second

    async def playlist(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        text = {
            "garbage": "\x00\x01<html>404 không tìm thấy</html>",
            "ended": media.format(n=7) + "#EXT-X-ENDLIST\n",
            "empty": "#EXTM3U\n#EXT-X-TARGETDURATION:1\n",
            "nosegment-duration": "#EXTM3U\n#EXTINF:1.0,\nseg1.ts\n",
        }.get(name)
        if text is None:
            text = moving().replace("seg", f"{name}/seg")
        return web.Response(text=text, content_type="application/vnd.apple.mpegurl")

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/vnd.apple.mpegurl"})
        await resp.prepare(request)
        await resp.write(b"#EXTM3U\n")
        line = b"#EXTINF:1.0,\nseg.ts\n" * 1000
        while True:
            await resp.write(line)

    async def segment(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        resp = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await resp.prepare(request)
        if kind == "drip":  # 1 s of media in 1.6 s
            for _ in range(8):
                await resp.write(b"\x47" * 188)
                await asyncio.sleep(0.2)
        elif kind == "huge":
            block = b"\x47" * 65536
            for _ in range(1 << 14):  # 1 GiB if nobody stops reading
                await resp.write(block)
        else:
            await resp.write(b"\x47" * 18800)  # 150 kbit/s for 1 s
        return resp

    async def audio(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        content_type = "text/html" if kind == "html" else "audio/mpeg"
        resp = web.StreamResponse(headers={"Content-Type": content_type, "icy-br": "64"})
        await resp.prepare(request)
        if kind == "drip":  # 1 kbit/s
            for _ in range(100):
                await resp.write(b"\xff" * 25)
                await asyncio.sleep(0.2)
        elif kind == "closes":
            await resp.write(b"\xff" * 4000)
        elif kind == "html":
            await resp.write(b"<html>Trang ch\xe1\xbb\xa7</html>")
        return resp

    async def moved(request: web.Request) -> web.Response:  # a CDN sends players to an edge
        raise web.HTTPFound(f"/{request.match_info['name']}.m3u8")

    app = web.Application()
    app.router.add_get("/old/{name}.m3u8", moved)
    app.router.add_get("/endless.m3u8", endless)
    app.router.add_get("/{name}.m3u8", playlist)
    app.router.add_get("/{kind}/seg{n}.ts", segment)
    app.router.add_get("/audio/{kind}", audio)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port(HOSTILE_HOST)
    await web.TCPSite(runner, HOSTILE_HOST, port).start()
    try:
        yield f"http://{HOSTILE_HOST}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("path", "options", "reason", "words"),
    [
        ("/garbage.m3u8", {}, "playlist", "not an M3U8 playlist"),
        ("/endless.m3u8", {"max_playlist_bytes": 65536}, "playlist", "larger than 65,536 bytes"),
        ("/ended.m3u8", {}, "stalled", "EXT-X-ENDLIST"),
        ("/empty.m3u8", {}, "playlist", "lists no segment"),
        ("/nosegment-duration.m3u8", {}, "playlist", "no EXT-X-TARGETDURATION"),
        ("/nowhere/x.m3u8", {}, "status", "HTTP 404"),
        ("/drip.m3u8", {}, "slow", "took 1."),
        ("/huge.m3u8", {"max_segment_bytes": 1 << 20}, "bitrate", "over max_segment_bytes"),
        ("/audio/drip", {"listen": "1s", "min_bitrate": 16000}, "bitrate", "below min_bitrate"),
        ("/audio/closes", {"listen": "1s"}, "stalled", "the stream ended after"),
        ("/audio/html", {"protocol": "audio"}, "protocol", "text/html, not an audio stream"),
    ],
)
@on_module_loop
async def test_a_hostile_server_costs_only_its_probe(
    hostile: str, ctx: ProbeContext, path: str, options: dict[str, Any], reason: str, words: str
) -> None:
    started = time.monotonic()
    result = await run(stream_target(hostile + path, timeout="3s", **options), ctx)
    assert (result.reason, words in result.detail) == (reason, True), result.detail
    assert time.monotonic() - started < 3.0  # the probe's own verdict, not the scheduler's


@on_module_loop
async def test_audio_with_no_time_to_listen_is_a_timeout(hostile: str, ctx: ProbeContext) -> None:
    result = await run(stream_target(hostile + "/audio/closes", timeout="250ms"), ctx)
    assert result.reason == "timeout", result.detail
    assert "no time to listen" in result.detail


@on_module_loop
async def test_a_moving_playlist_with_good_segments_passes(hostile: str, ctx: ProbeContext) -> None:
    result = await run(stream_target(hostile + "/good.m3u8"), ctx)
    assert result.success, result.detail
    assert figure(result, "probe_stream_bitrate_bps") == 150_400
    # No program date-time here: the age comes from the playlist fetches (documented bound).
    assert 0 < figure(result, "probe_stream_segment_age_seconds") < 2
    # Behind a redirect, the segments are where the playlist was found, not where it was asked.
    moved = await run(stream_target(hostile + "/old/good.m3u8"), ctx)
    assert moved.success, moved.detail


@on_module_loop
async def test_refused_and_untrusted_tls(ctx: ProbeContext, tmp_path: Path) -> None:
    port = free_port(HOSTILE_HOST)
    refused = await run(stream_target(f"http://{HOSTILE_HOST}:{port}/live.m3u8"), ctx)
    assert refused.reason == "refused", refused.detail

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOSTILE_HOST).configure_cert(context)
    app = web.Application()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, HOSTILE_HOST, port, ssl_context=context).start()
    try:
        url = f"https://{HOSTILE_HOST}:{port}/live.m3u8"
        untrusted = await run(stream_target(url), ctx)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        trusted = await run(stream_target(url, ca_file=str(ca_file)), ctx)
    finally:
        await runner.cleanup()
    assert untrusted.reason == "tls", untrusted.detail
    assert trusted.reason == "status", trusted.detail  # through TLS to the server's 404


@on_module_loop
async def test_shoutcast_v1_icy_status_line(ctx: ProbeContext) -> None:
    """SHOUTcast v1 answers "ICY 200 OK", which HTTP clients refuse: the probe reads it itself."""
    heads = {
        "/": "ICY 200 OK\r\nicy-name:Đài xã Ea Kao\r\nicy-br:64\r\n".encode()
        + b"content-type:audio/mpeg\r\n\r\n",
        "/huge": b"ICY 200 OK\r\n" + b"icy-notice: x\r\n" * 2000,
        "/full": b"ICY 401 Service Unavailable\r\n\r\n",
    }

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split()[1].decode()
            writer.write(heads[path])
            for _ in range(12 if path == "/" else 0):  # 64 kbit/s
                writer.write(b"\xff" * 1600)
                await writer.drain()
                await asyncio.sleep(0.2)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, HOSTILE_HOST, 0)
    port = server.sockets[0].getsockname()[1]
    base = f"http://{HOSTILE_HOST}:{port}"
    try:
        radio, huge, full = await asyncio.gather(
            run(stream_target(base + "/", listen="2s"), ctx),
            run(stream_target(base + "/huge"), ctx),
            run(stream_target(base + "/full"), ctx),
        )
    finally:
        server.close()
    assert radio.success, radio.detail
    assert 32_000 < figure(radio, "probe_stream_bitrate_bps") < 128_000
    assert figure(radio, "probe_stream_declared_bitrate_bps") == 64_000
    info = next(s for s in radio.samples if s.name == "probe_stream_info")
    assert dict(info.labels) == {"name": "Đài xã Ea Kao", "content_type": "audio/mpeg"}
    assert (huge.reason, full.reason) == ("protocol", "status"), (huge.detail, full.detail)
    assert "over 16,384 bytes" in huge.detail


# --------------------------------------------------------------------------- Icecast radio


@on_module_loop
@needs_icecast
async def test_icecast_radio_bitrate_and_name(radio: IcecastRadio, ctx: ProbeContext) -> None:
    # Three listeners at once: the radio, the same held to at most 8 kbit/s, a missing mount.
    result, too_high, missing = await asyncio.gather(
        run(stream_target(radio.url, listen="2s"), ctx),
        run(stream_target(radio.url, listen="2s", max_bitrate=8_000), ctx),
        run(stream_target(radio.url.replace("radio", "khong-co"), listen="2s"), ctx),
    )
    assert result.success, result.detail
    # Past icecast's 64 kB burst to a new listener, the tone's 32 kbit/s.
    bps = figure(result, "probe_stream_bitrate_bps")
    assert RADIO_BITRATE * 0.5 < bps < RADIO_BITRATE * 2, bps
    info = next(s for s in result.samples if s.name == "probe_stream_info")
    assert dict(info.labels) == {"name": RADIO_NAME, "content_type": "audio/mpeg"}
    assert RADIO_NAME in result.detail
    assert undeclared(FAMILIES, result.samples) == []

    assert too_high.reason == "bitrate", too_high.detail
    assert "above max_bitrate 8 kbit/s" in too_high.detail
    assert missing.reason == "status", missing.detail


# --------------------------------------------------------------------------- settings


BAD_OPTIONS = [
    (
        "{ min_bitrate = 500000, max_bitrate = 1000 }",
        "targets[0].stream: max_bitrate 1000 is below",
    ),
    ('{ protocol = "rtmp" }', "targets[1].stream.protocol"),
    ('{ listen = "2h" }', "targets[2].stream.listen"),
    ('{ variant = "  " }', "targets[3].stream.variant"),
    ("{ max_playlist_bytes = 10 }", "targets[4].stream.max_playlist_bytes"),
    ("{ bitrate = 5 }", "targets[5].stream.bitrate"),
]


def test_bad_stream_settings_name_their_key_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        "".join(
            f'[[targets]]\nname = "luong-{i}"\nkind = "stream"\n'
            f'url = "http://{HLS_HOST}:8080/live.m3u8"\nstream = {options}\n'
            for i, (options, _) in enumerate(BAD_OPTIONS)
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(config)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for _, words in BAD_OPTIONS:
        assert words in proc.stderr, (words, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
