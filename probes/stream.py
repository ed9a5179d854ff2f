"""stream probe: a live HLS stream moves and plays; an Icecast/Shoutcast/HTTP audio stream
flows at its bitrate.

HLS (the congress livestream):

1. fetch the URL; a master playlist picks a variant (``variant``: the highest or lowest
   BANDWIDTH, a resolution, or a name) and its media playlist is fetched;
2. the newest segment is downloaded: slower than its own duration is ``slow``; its size over
   its EXTINF duration is the bitrate, outside ``min_bitrate``..``max_bitrate`` is ``bitrate``;
3. one target duration after the first fetch, the media playlist is fetched again (and once
   more half a target duration later, as RFC 8216 §6.3.4 has a client retry, if the
   timeout leaves room): a playlist that has not moved is ``stalled``. A timeout shorter
   than the target duration cannot tell, and says so (``timeout``).

The age of the newest segment is from EXT-X-PROGRAM-DATE-TIME when the playlist has it (the end
of the newest segment), else from the media playlist's Last-Modified header, else what one probe
can tell: the time since its first fetch of the media playlist (the playlist moved after that,
or has not moved since).

Audio (commune radio): read ``listen`` seconds of the stream and measure the bitrate over the
second half of the time from the first audio byte to the end, past the burst Icecast sends a
new listener at once (counted in 40 time slices: memory does not grow with the stream). icy-name and
icy-br are kept as information. Silence detection is out of scope: it needs decoding the audio.

Every read is bounded: playlists by ``max_playlist_bytes``, segments and audio by
``max_segment_bytes`` and by time (nothing of a segment or of the audio is kept, only counted),
so an endless, huge, dripping or garbage answer costs only its own probe and gives a reason.

The playlist is parsed here, not with the ``m3u8`` package (6.0, well kept, no dependencies):
the probe needs a few tags, and m3u8 took 4 to 10 times this parser's CPU on the same
playlists over runs here (bench/bench_stream.py: 5 and 3,000 segments), all on the event loop.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.http import last_modified
from probes.options import StreamOptions
from probes.tls import client_context

__all__ = ["FAMILIES", "Playlist", "parse_playlist", "probe"]

FAMILIES = catalogue.STREAM

log = logging.getLogger(__name__)

USER_AGENT = "netmon/0.1"
DEFAULT_TIMEOUT = 10.0
_CHUNK = 64 * 1024
_MPEGURL = ("mpegurl",)  # application/vnd.apple.mpegurl, application/x-mpegurl, audio/mpegurl


# --------------------------------------------------------------------------- the playlist


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int
    resolution: tuple[int, int] | None
    name: str | None


@dataclass(slots=True)
class Segment:
    uri: str
    duration: float
    sequence: int
    # The latest EXT-X-PROGRAM-DATE-TIME before it and the media time since: read only for the
    # segment the probe looks at (a date per line costs more than all the rest of the parse).
    pdt_text: str | None = None
    pdt_offset: float = 0.0

    @property
    def program_date_time(self) -> float | None:
        """Unix seconds of its first sample, when the playlist says."""
        if self.pdt_text is None:
            return None
        return _pdt(self.pdt_text) + self.pdt_offset


@dataclass(slots=True)
class Playlist:
    variants: list[Variant] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    target_duration: float | None = None
    media_sequence: int = 0
    endlist: bool = False

    @property
    def position(self) -> tuple[int, str]:
        """Where the live edge is: a moving playlist changes this."""
        if not self.segments:
            return (self.media_sequence - 1, "")
        return (self.segments[-1].sequence, self.segments[-1].uri)


_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _attributes(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(text)}


def _pdt(text: str) -> float:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", value):  # +0700: Python 3.11 wants +07:00
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"EXT-X-PROGRAM-DATE-TIME {text!r} has no UTC offset")
    return moment.timestamp()


def parse_playlist(text: str) -> Playlist:
    """A master or media playlist (RFC 8216), the tags a probe needs; ValueError when it is
    not a playlist (the message says why, briefly)."""
    lines = text.lstrip("\ufeff").splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first != "#EXTM3U":
        shown = first[:40].encode("unicode_escape").decode("ascii")
        raise ValueError(f"not an M3U8 playlist (starts with {shown!r}, not #EXTM3U)")
    playlist = Playlist()
    sequence: int | None = None
    duration: float | None = None
    stream_inf: dict[str, str] | None = None
    pdt_text: str | None = None  # the latest EXT-X-PROGRAM-DATE-TIME, its line, and the
    pdt_line = 0  # media time from it to the next segment
    since = 0.0
    number, line = 0, ""
    try:
        for raw in lines:
            number += 1
            line = raw.strip()
            if not line:
                continue
            if not line.startswith("#"):
                if stream_inf is not None:
                    playlist.variants.append(_variant(line, stream_inf))
                    stream_inf = None
                elif duration is not None:
                    if sequence is None:
                        sequence = playlist.media_sequence
                    playlist.segments.append(Segment(line, duration, sequence, pdt_text, since))
                    since += duration
                    sequence += 1
                    duration = None
                continue
            tag, _, value = line.partition(":")
            if tag == "#EXTINF":
                duration = float(value.partition(",")[0])
                if not 0 <= duration < 86400:
                    raise ValueError(f"EXTINF {duration}")
            elif tag == "#EXT-X-TARGETDURATION":
                playlist.target_duration = float(value)
                if not 0 < playlist.target_duration <= 3600:
                    raise ValueError(f"EXT-X-TARGETDURATION {value}")
            elif tag == "#EXT-X-MEDIA-SEQUENCE":
                playlist.media_sequence = int(value)
            elif tag == "#EXT-X-PROGRAM-DATE-TIME":
                pdt_text, pdt_line, since = value, number, 0.0
            elif tag == "#EXT-X-ENDLIST":
                playlist.endlist = True
            elif tag == "#EXT-X-STREAM-INF":
                stream_inf = _attributes(value)
        if pdt_text is not None:  # the one a probe reads (the newest segment's)
            number, line = pdt_line, lines[pdt_line - 1].strip()
            _pdt(pdt_text)
    except ValueError as exc:
        raise ValueError(f"line {number}: {line[:60]!r}: {exc}") from None
    return playlist


def _variant(uri: str, attrs: dict[str, str]) -> Variant:
    bandwidth = int(attrs.get("BANDWIDTH", "0") or 0)
    resolution: tuple[int, int] | None = None
    width, x, height = attrs.get("RESOLUTION", "").lower().partition("x")
    if x and width.isdigit() and height.isdigit():
        resolution = (int(width), int(height))
    return Variant(uri, bandwidth, resolution, attrs.get("NAME"))


_RESOLUTION = re.compile(r"(?i)^(?:(\d+)x(\d+)|(\d+)p)$")


def choose_variant(variants: list[Variant], wanted: str) -> Variant | None:
    """``highest``/``lowest`` bandwidth, a resolution (``1280x720``, ``720p``), else the first
    whose NAME or URI contains the text."""
    if wanted == "highest":
        return max(variants, key=lambda v: v.bandwidth)
    if wanted == "lowest":
        return min(variants, key=lambda v: v.bandwidth)
    size = _RESOLUTION.match(wanted)
    if size:
        for v in sorted(variants, key=lambda v: -v.bandwidth):
            if v.resolution is None:
                continue
            if size[3] is not None and v.resolution[1] == int(size[3]):
                return v
            if size[1] is not None and v.resolution == (int(size[1]), int(size[2])):
                return v
        return None
    return next((v for v in variants if wanted in (v.name or "") or wanted in v.uri), None)


def _variant_name(variant: Variant | None) -> str:
    if variant is None:
        return ""
    if variant.name:
        return variant.name
    if variant.resolution:
        return f"{variant.resolution[0]}x{variant.resolution[1]}"
    return variant.uri[:80]


# --------------------------------------------------------------------------- fetching


class _Failed(Exception):
    """Carries a failed result out of the steps below."""

    def __init__(self, result: ProbeResult) -> None:
        super().__init__(result.detail)
        self.result = result


async def _make_session() -> tuple[aiohttp.ClientSession, Callable[[], Any]]:
    connector = aiohttp.TCPConnector(force_close=True, use_dns_cache=False, limit=0)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
        # A segment's size is what crossed the wire: nothing compressed is asked for or undone.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
    )
    return session, session.close


@dataclass(slots=True)
class _Fetch:
    text: str
    elapsed: float
    last_modified: float | None
    url: URL  # where the playlist was, after redirects: its URIs are relative to it


@dataclass(slots=True)
class _Run:
    session: aiohttp.ClientSession
    opts: StreamOptions
    ssl: ssl.SSLContext | bool
    deadline: float  # monotonic: the probe is done by then

    def headers(self) -> dict[str, str] | None:
        return self.opts.headers or None

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _check_status(resp: aiohttp.ClientResponse, what: str) -> None:
    if not 200 <= resp.status < 300:
        raise _Failed(failure("status", f"HTTP {resp.status} for the {what} ({resp.url})"))


async def _read_text(resp: aiohttp.ClientResponse, cap: int, prefix: bytes = b"") -> str:
    data = bytearray(prefix)
    while len(data) <= cap:
        chunk = await resp.content.read(min(_CHUNK, cap + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > cap:
        resp.close()
        raise _Failed(failure("playlist", f"playlist larger than {cap:,} bytes ({resp.url})"))
    return data.decode("utf-8", errors="replace")


async def _fetch_playlist(run: _Run, url: URL) -> tuple[Playlist, _Fetch]:
    start = time.monotonic()
    async with run.session.get(url, headers=run.headers(), ssl=run.ssl) as resp:
        _check_status(resp, "playlist")
        text = await _read_text(resp, run.opts.max_playlist_bytes)
        fetched = _Fetch(text, time.monotonic() - start, last_modified(resp.headers), resp.url)
    return _parse(text, url), fetched


def _parse(text: str, url: URL) -> Playlist:
    try:
        return parse_playlist(text)
    except ValueError as exc:
        raise _Failed(failure("playlist", f"{url}: {exc}")) from None


@dataclass(slots=True)
class _Download:
    size: int
    seconds: float
    content_type: str
    complete: bool


async def _download(run: _Run, url: URL, segment: Segment) -> _Download:
    """The segment's size and download time, counted and dropped as it comes; stops at
    ``max_segment_bytes`` or when the probe's time is up (a drip reports what it managed)."""
    start = time.monotonic()
    size = 0
    content_type = ""
    complete = False
    try:
        async with asyncio.timeout(max(run.left(), 0.0)):
            async with run.session.get(url, headers=run.headers(), ssl=run.ssl) as resp:
                _check_status(resp, "segment")
                content_type = resp.content_type
                while size <= run.opts.max_segment_bytes:
                    chunk = await resp.content.read(_CHUNK)
                    if not chunk:
                        complete = True
                        break
                    size += len(chunk)
                if not complete:
                    resp.close()
    except TimeoutError:
        if size == 0 and time.monotonic() - start < segment.duration:
            raise
    return _Download(size, time.monotonic() - start, content_type, complete)


# --------------------------------------------------------------------------- HLS


def _bitrate_problem(bps: float, opts: StreamOptions) -> str | None:
    if bps < opts.min_bitrate:
        return f"{_rate(bps)}, below min_bitrate {_rate(opts.min_bitrate)}"
    if opts.max_bitrate is not None and bps > opts.max_bitrate:
        return f"{_rate(bps)}, above max_bitrate {_rate(opts.max_bitrate)}"
    return None


def _rate(bps: float) -> str:
    if bps >= 1e6:
        return f"{bps / 1e6:.2f} Mbit/s"
    return f"{bps / 1e3:.0f} kbit/s"


async def _hls(run: _Run, url: URL, first: Playlist, fetched: _Fetch) -> ProbeResult:
    variant: Variant | None = None
    media_url, media, t_first = url, first, time.monotonic() - fetched.elapsed
    if first.variants:
        variant = choose_variant(first.variants, run.opts.variant)
        if variant is None:
            shown = ", ".join(_variant_name(v) for v in first.variants[:6])
            return failure("playlist", f"no variant matches {run.opts.variant!r} ({shown})")
        media_url = fetched.url.join(URL(variant.uri))
        t_first = time.monotonic()
        media, fetched = await _fetch_playlist(run, media_url)
        if media.variants:
            return failure("playlist", f"the variant {media_url} is a master playlist again")
    if media.target_duration is None:
        return failure("playlist", f"{media_url}: no EXT-X-TARGETDURATION (not a media playlist)")
    if not media.segments:
        return failure("playlist", f"{media_url}: the media playlist lists no segment")
    if media.endlist:
        where = f"sequence {media.media_sequence}"
        return failure("stalled", f"the playlist has ended (EXT-X-ENDLIST) at {where}")
    target = media.target_duration
    newest = media.segments[-1]
    seg = await _download(run, fetched.url.join(URL(newest.uri)), newest)
    play = newest.duration if newest.duration > 0 else target
    bps = seg.size * 8 / play

    # The second look, one target duration after the first (RFC 8216 §6.3.4: once more half a
    # target duration later), finished before the deadline with room for one more fetch.
    latest = run.deadline - max(0.05, 2 * fetched.elapsed)
    due = t_first + target
    moved = False
    second = media
    while True:
        await asyncio.sleep(max(0.0, min(due, latest) - time.monotonic()))
        second, fetched = await _fetch_playlist(run, media_url)
        moved = second.position != media.position
        if moved or time.monotonic() + target / 2 > latest:
            break
        due = time.monotonic() + target / 2
    watched = time.monotonic() - t_first

    now = time.time()
    edge = second.segments[-1] if second.segments else newest
    if edge.program_date_time is not None:
        age = now - (edge.program_date_time + edge.duration)
    elif fetched.last_modified is not None:
        age = now - fetched.last_modified
    else:
        age = watched
    samples = [
        Sample("probe_stream_media_sequence", float(second.media_sequence)),
        Sample("probe_stream_segment_age_seconds", max(0.0, age)),
        Sample("probe_stream_bitrate_bps", bps),
        Sample("probe_stream_segment_download_seconds", seg.seconds),
        Sample("probe_stream_segment_duration_seconds", play),
        Sample(
            "probe_stream_info",
            1.0,
            (("name", _variant_name(variant)), ("content_type", seg.content_type)),
        ),
    ]
    if variant is not None and variant.bandwidth:
        samples.append(Sample("probe_stream_declared_bitrate_bps", float(variant.bandwidth)))
    out = tuple(samples)
    where = f"sequence {second.media_sequence}"
    if not moved:
        if watched < target:
            return failure(
                "timeout",
                f"the timeout left {watched:.1f} s to see the playlist move, less than its "
                f"target duration {target:g} s: give the target a timeout above {2 * target:g} s",
                out,
            )
        return failure("stalled", f"the playlist has not moved in {watched:.1f} s ({where})", out)
    if seg.size > run.opts.max_segment_bytes:
        cap = run.opts.max_segment_bytes
        return failure("bitrate", f"the newest segment is over max_segment_bytes {cap:,}", out)
    if not seg.complete or seg.seconds > play:
        got = "" if seg.complete else f" (only {seg.size:,} bytes)"
        return failure(
            "slow",
            f"the newest segment took {seg.seconds:.2f} s to download{got}, "
            f"longer than its {play:g} s",
            out,
        )
    problem = _bitrate_problem(bps, run.opts)
    if problem is not None:
        return failure("bitrate", f"segment bitrate {problem}", out)
    name = f" {_variant_name(variant)}" if variant is not None else ""
    detail = (
        f"live{name}: {where}, segment {play:g} s at {_rate(bps)} downloaded in "
        f"{seg.seconds * 1000:,.0f} ms, newest segment {max(0.0, age):.1f} s old"
    )
    return ProbeResult(success=True, reason=None, detail=detail, samples=out)


# --------------------------------------------------------------------------- audio


def _icy_bitrate(headers: Mapping[str, str]) -> float | None:
    value = headers.get("icy-br") or headers.get("ice-bitrate")
    if not value:
        return None
    digits = re.match(r"\s*(\d+)", value)  # "128" or "128,128"
    return float(digits[1]) * 1000 if digits else None


_BINS = 40


def _steady_rate(arrived: list[int], start: float, first: float | None, listen: float) -> float:
    """Bits per second over the second half of the time from the first audio to the end of
    listening: the burst a server sends a new listener at once falls in the first half."""
    if first is None or listen <= 0:
        return 0.0
    width = listen / _BINS
    since = int(((first - start) + (listen - (first - start)) / 2) / width + 0.999)
    since = min(since, _BINS - 1)
    return sum(arrived[since:]) * 8 / ((_BINS - since) * width)


async def _audio(
    run: _Run,
    read: Callable[[], Awaitable[bytes]],
    content_type: str,
    headers: Mapping[str, str],
    prefix: bytes = b"",
) -> ProbeResult:
    """``read`` gives the stream's next bytes (b"" at its end); ``headers`` with lowercase
    names are looked up for icy-name and icy-br."""
    name = headers.get("icy-name", "")[:120]
    declared = _icy_bitrate(headers)
    if content_type.startswith("text/") and not headers.get("icy-name"):
        return failure("protocol", f"the answer is {content_type}, not an audio stream")
    listen = min(run.opts.listen, max(0.0, run.left() - 0.05))
    if listen < 0.25:
        return failure("timeout", "the target's timeout leaves no time to listen to the stream")
    start = time.monotonic()
    arrived = [0] * _BINS  # bytes by arrival time, in _BINS slices of the listening time
    first: float | None = None  # when the first audio came
    total = len(prefix)
    ended = False
    cap = run.opts.max_segment_bytes
    try:
        async with asyncio.timeout(listen):
            while total <= cap:
                chunk = await read()
                now = time.monotonic()
                if not chunk:
                    ended = True
                    break
                first = now if first is None else first
                total += len(chunk)
                arrived[min(_BINS - 1, int((now - start) / listen * _BINS))] += len(chunk)
    except TimeoutError:
        pass
    elapsed = time.monotonic() - start
    samples = [Sample("probe_stream_info", 1.0, (("name", name), ("content_type", content_type)))]
    if declared is not None:
        samples.append(Sample("probe_stream_declared_bitrate_bps", declared))
    if ended:
        return failure(
            "stalled", f"the stream ended after {elapsed:.1f} s ({total:,} bytes)", tuple(samples)
        )
    if total > cap:
        return failure(
            "bitrate",
            f"more than max_segment_bytes {cap:,} bytes in {elapsed:.1f} s",
            tuple(samples),
        )
    bps = _steady_rate(arrived, start, first, listen)
    samples.append(Sample("probe_stream_bitrate_bps", bps))
    out = tuple(samples)
    if total == 0:
        return failure("stalled", f"no audio in {elapsed:.1f} s", out)
    problem = _bitrate_problem(bps, run.opts)
    if problem is not None:
        return failure("bitrate", f"audio bitrate {problem}", out)
    who = f"{name}: " if name else ""
    icy = f" (declared {_rate(declared)})" if declared is not None else ""
    detail = f"{who}{content_type or 'audio'} at {_rate(bps)}{icy} over {listen:g} s"
    return ProbeResult(success=True, reason=None, detail=detail, samples=out)


_ICY_HEAD = 16 * 1024


async def _icy(run: _Run, url: URL) -> ProbeResult:
    """The stream of a SHOUTcast v1 server, whose "ICY 200 OK" status line HTTP clients
    refuse: one plain request, headers up to 16 KiB, then the audio as ``_audio`` reads it."""
    tls = run.ssl if url.scheme == "https" else None
    host = url.raw_host or ""
    reader, writer = await asyncio.open_connection(
        host, url.port, ssl=tls, limit=_ICY_HEAD, server_hostname=host if tls else None
    )
    try:
        extra = "".join(f"{k}: {v}\r\n" for k, v in run.opts.headers.items())
        request = (
            f"GET {url.raw_path_qs or '/'} HTTP/1.0\r\nHost: {url.raw_authority}\r\n"
            f"User-Agent: {USER_AGENT}\r\nIcy-MetaData: 0\r\n{extra}\r\n"
        )
        writer.write(request.encode("latin-1", "replace"))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return failure("protocol", f"ICY answer headers over {_ICY_HEAD:,} bytes")
        except asyncio.IncompleteReadError:
            return failure("protocol", "the server closed the connection within its ICY headers")
        try:  # names are UTF-8 on most servers; Latin-1 on old ones
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = head.decode("latin-1")
        lines = text.split("\r\n")
        status = lines[0].split()
        if len(status) < 2 or not status[1].isdigit():
            return failure("protocol", f"bad ICY status line {lines[0][:60]!r}")
        if not 200 <= int(status[1]) < 300:
            return failure("status", f"ICY {status[1]} for the stream ({url})")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        return await _audio(run, functools.partial(reader.read, _CHUNK), content_type, headers)
    finally:
        writer.close()


# --------------------------------------------------------------------------- the probe


def _is_playlist_type(content_type: str) -> bool:
    return any(word in content_type for word in _MPEGURL)


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, StreamOptions)
    if target.url is None:  # settings validation makes this unreachable
        return failure("config", "stream target without url")
    budget = target.timeout if target.timeout is not None else DEFAULT_TIMEOUT
    start = time.monotonic()
    try:
        sslcontext: ssl.SSLContext | bool = client_context(opts.tls_verify, opts.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return failure("tls", f"cannot load ca_file {opts.ca_file}: {exc}")
    session = await ctx.shared("stream", _make_session)
    # Done a little before the scheduler's timeout, so the stream's own verdict comes out.
    run = _Run(session, opts, sslcontext, start + budget - min(0.25, budget * 0.1))
    url = URL(target.url)
    try:
        async with session.get(url, headers=run.headers(), ssl=run.ssl) as resp:
            _check_status(resp, "stream" if opts.protocol == "audio" else "playlist")
            content_type = resp.content_type
            prefix = b""
            hls = opts.protocol == "hls" or (
                opts.protocol == "auto"
                and (_is_playlist_type(content_type) or url.path.endswith(".m3u8"))
            )
            if opts.protocol == "auto" and not hls and not content_type.startswith("audio/"):
                prefix = await resp.content.read(16)  # a playlist served as text/plain
                hls = prefix.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"#EXTM3U")
            if not hls:
                headers = {k.lower(): v for k, v in resp.headers.items()}
                try:
                    return await _audio(run, resp.content.readany, content_type, headers, prefix)
                finally:
                    resp.close()  # the stream goes on: never read it to its end
            text = await _read_text(resp, opts.max_playlist_bytes, prefix)
            fetched = _Fetch(text, time.monotonic() - start, last_modified(resp.headers), resp.url)
        return await _hls(run, url, _parse(text, url), fetched)
    except _Failed as failed:
        return failed.result
    except aiohttp.ClientResponseError as exc:
        if "b'ICY " not in str(exc.message) or opts.protocol == "hls":
            return failure(*_classify(exc))
        try:  # SHOUTcast v1 answers "ICY 200 OK", which is not HTTP
            return await _icy(run, url)
        except _Failed as failed:
            return failed.result
        except (OSError, TimeoutError) as again:
            return failure(*_classify(again))
    except Exception as exc:  # whatever a hostile server provokes: never raise out
        if not isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
            log.warning("stream probe of %s: unexpected %r", target.name, exc, exc_info=True)
        reason, detail = _classify(exc)
        return failure(reason, detail)


_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def _one_line(text: object, limit: int = 160) -> str:
    flat = " ".join(line.strip() for line in str(text).splitlines() if line.strip("^ "))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "tls", f"TLS certificate rejected for {exc.host}: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return "tls", f"TLS handshake with {exc.host}:{exc.port} failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns", f"cannot resolve {exc.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = f"{exc.host}:{exc.port}"
        if exc.os_error.errno == errno.ECONNREFUSED:
            return "refused", f"connection to {where} refused"
        if exc.os_error.errno in _UNREACHABLE:
            return "unreachable", f"{where} unreachable: {exc.os_error.strerror}"
        return "connection", f"cannot connect to {where}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "protocol", "the server closed the connection without a whole answer"
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return "protocol", f"invalid HTTP answer: {_one_line(getattr(exc, 'message', exc))}"
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        return "connection", f"connection error: {exc.strerror or exc}"
    if isinstance(exc, aiohttp.ClientError):
        return "protocol", f"HTTP error: {_one_line(exc)}"
    if isinstance(exc, OSError):
        return "connection", f"connection error: {exc.strerror or exc}"
    return "protocol", f"unexpected error: {type(exc).__name__}: {_one_line(exc)}"
