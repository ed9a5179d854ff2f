"""A stream's and a web integrity target's card and page (issue 16), from real probes of
aiohttp stand-ins on 127.0.8.51 (a live HLS playlist that advances, then stalls) and
127.0.8.52 (a portal page, then the same page injected with hidden gambling links and a
foreign script), recorded into a real service's store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config import load_settings
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web import pages
from monitor.web.app import make_app
from monitor.web.status import figures
from probes import stream
from probes.base import ProbeResult, Sample
from probes.context import ProbeContext
from probes.integrity import probe as integrity
from tests.support.alerts import write_settings
from tests.support.common import free_port

HLS_HOST = "127.0.8.51"
SITE_HOST = "127.0.8.52"
SEGMENT = b"\x47" * 25_000  # one 1 s segment of 25 kB: 200 kbit/s

PORTAL = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>Cổng thông tin điện tử tỉnh Đắk Lắk</title></head><body>
<h1>Cổng thông tin điện tử tỉnh Đắk Lắk</h1>
<p>Ủy ban nhân dân tỉnh thông báo lịch tiếp công dân định kỳ của lãnh đạo tỉnh trong tháng,
danh sách thủ tục hành chính được tiếp nhận trực tuyến và kết quả giải quyết hồ sơ.</p>
<p>Tin tức sự kiện: hội nghị triển khai nhiệm vụ phát triển kinh tế xã hội năm tới, chương
trình chuyển đổi số của tỉnh và hướng dẫn người dân sử dụng dịch vụ công trực tuyến.</p>
{extra}</body></html>"""
INJECTED = (
    '<div style="display:none"><a href="http://nohu-<b>.example.invalid/">nổ hũ đổi thưởng</a>'
    '<a href="http://taixiu.invalid/">tài xỉu online</a></div>'
    '<script src="http://cdn-skim.invalid/x.js"></script>'
)


@asynccontextmanager
async def _server(app: web.Application, host: str) -> AsyncIterator[int]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port(host)
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield port
    finally:
        await runner.cleanup()


def _hls(state: dict[str, Any]) -> web.Application:
    """A live media playlist of 1 s segments whose sequence follows the clock until
    ``state["stalled"]`` freezes it, as a stalled encoder's does."""

    async def playlist(_: web.Request) -> web.Response:
        if not state["stalled"]:
            state["seq"] = int(time.monotonic() * 2)
        seq = state["seq"]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{seq}")
        for n in range(seq, seq + 3):
            lines += ["#EXTINF:1.0,", f"seg{n}.ts"]
        return web.Response(
            text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl"
        )

    async def segment(_: web.Request) -> web.Response:
        return web.Response(body=SEGMENT, content_type="video/mp2t")

    app = web.Application()
    app.router.add_get("/live/index.m3u8", playlist)
    app.router.add_get("/live/{name}.ts", segment)
    return app


def _site(state: dict[str, str]) -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PORTAL.format(extra=state["extra"]), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return app


def _card(html: str, name: str) -> str:
    start = html.index(f'data-target="{name}" data-state=')
    return html[start : html.index("</li>", start)]


async def _pages(service: Service, name: str, results: list[ProbeResult]) -> list[str]:
    """The status page after each result is recorded, then the target's page (vi)."""
    out = []
    async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
        for result in results:
            service.store.record(name, Observation(result, time.time(), 0.01))
            out.append(await (await client.get("/")).text())
        out.append(await (await client.get(f"/targets/{name}")).text())
        out.append(await (await client.get("/?lang=en")).text())
    return out


async def test_a_stream_card_says_live_then_stalled_with_bitrate_and_segment_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "RENDER_CACHE_SECONDS", 0.0)
    state: dict[str, Any] = {"stalled": False, "seq": 0}
    async with _server(_hls(state), HLS_HOST) as port:
        target = {
            "name": "congress-live",
            "kind": "stream",
            "url": f"http://{HLS_HOST}:{port}/live/index.m3u8",
            "group": "venue",
            "timeout": "4s",
            "stream": {"min_bitrate": 100_000, "max_bitrate": 2_000_000},
        }
        path = write_settings(tmp_path / "s.toml", [target], {})
        settings = load_settings(path)
        service = Service(settings, path)
        await service.start()
        ctx = ProbeContext()
        try:
            live = await stream.probe(settings.targets[0], ctx)
            state["stalled"] = True
            stalled = await stream.probe(settings.targets[0], ctx)
            assert live.success and stalled.reason == "stalled", (live.detail, stalled.detail)
            up, down, page, english = await _pages(service, "congress-live", [live, stalled])
        finally:
            await ctx.aclose()
            await service.aclose()
    card = _card(up, "congress-live")
    assert '<span class="fig">luồng phát bình thường</span>' in card, card
    assert '<span class="fig">tốc độ bit 200 kbit/s</span>' in card, card
    assert '<span class="fig">đoạn mới nhất ' in card and " s trước</span>" in card, card
    assert "Thời gian phản hồi" not in card  # a run lasts a target duration: no response time
    card = _card(down, "congress-live")
    # The reason line says it in words (the catalogue's), so no short word repeats it.
    assert "luồng phát trực tiếp bị đứng" in card, card
    assert '<span class="fig">luồng bị đứng</span>' not in card, card
    assert "bình thường</span>" not in card
    assert "tốc độ bit 200 kbit/s" in page  # the page's history: each probe's bitrate
    card = _card(english, "congress-live")
    assert "the live stream is stalled" in card and "bitrate 200 kbit/s" in card, card
    assert "old</span>" in card


async def test_a_web_card_shows_learning_then_the_injected_domains_and_words_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "RENDER_CACHE_SECONDS", 0.0)
    state = {"extra": ""}
    async with _server(_site(state), SITE_HOST) as port:
        target = {
            "name": "portal",
            "kind": "web",
            "url": f"http://{SITE_HOST}:{port}/",
            "group": "website",
            "web": {"baseline_fetches": 3},
        }
        path = write_settings(tmp_path / "s.toml", [target], {})
        settings = load_settings(path)
        service = Service(settings, path)
        await service.start()
        ctx = ProbeContext(state_dir=tmp_path / "baselines")
        (tmp_path / "baselines").mkdir()
        try:
            first = await integrity.probe(settings.targets[0], ctx)
            second = await integrity.probe(settings.targets[0], ctx)
            await integrity.probe(settings.targets[0], ctx)
            clean = await integrity.probe(settings.targets[0], ctx)
            state["extra"] = INJECTED
            hit = await integrity.probe(settings.targets[0], ctx)
            assert first.success and second.success and clean.success, clean.detail
            assert not hit.success, hit.detail
            learning1, learning2, as_baseline, injected, page, english = await _pages(
                service, "portal", [first, second, clean, hit]
            )
        finally:
            await ctx.aclose()
            await service.aclose()
    assert '<span class="fig">đang học mẫu (1/3)</span>' in _card(learning1, "portal")
    assert '<span class="fig">đang học mẫu (2/3)</span>' in _card(learning2, "portal")
    card = _card(as_baseline, "portal")
    assert "đang học mẫu" not in card and '<span class="fig">giống mẫu 100 %</span>' in card
    card = _card(injected, "portal")
    assert hit.reason == "injected_script"
    assert "bị chèn mã lạ" in card, card  # the finding in words
    assert "Phát hiện: <code>cdn-skim.invalid</code>" in card, card
    assert "<code>taixiu.invalid</code>" in card and "<code>tài xỉu</code>" in card, card
    # A domain as the page wrote it is data: escaped, never markup.
    assert "<code>nohu-&lt;b&gt;.example.invalid</code>" in card, card
    assert "<b>" not in card and "<code>nohu-<b>" not in injected
    # The target's page lists the evidence: every domain and word, and the injected snippet.
    evidence = page[page.index('<section class="evidence">') :]
    evidence = evidence[: evidence.index("</section>")]
    assert "<h2>Bằng chứng</h2>" in evidence and "Đoạn mã bị chèn" in evidence
    assert "cdn-skim.invalid/x.js" in evidence and "&lt;script" in evidence, evidence
    assert "<li><code>nổ hũ</code></li>" in evidence, evidence
    card = _card(english, "portal")
    assert "injected script" in card and "Found: <code>cdn-skim.invalid</code>" in card, card


def test_learning_without_a_count_in_the_detail_says_learning_only(tmp_path: Path) -> None:
    target = {"name": "portal", "kind": "web", "url": f"http://{SITE_HOST}:9/"}
    settings = load_settings(write_settings(tmp_path / "s.toml", [target], {}))
    (web_target,) = settings.targets

    def learning(detail: str, ready: float) -> tuple[int, int] | None:
        samples = (Sample("probe_web_baseline_ready", ready),)
        result = ProbeResult(True, None, detail, samples)
        return figures(web_target, Observation(result, time.time(), 0.01)).web_learning

    assert learning("HTTP 200, learning the baseline (2/5)", 0.0) == (2, 5)
    assert learning("HTTP 200, some other wording", 0.0) == (0, 0)  # shown without a count
    assert learning("HTTP 200, as the baseline (99% alike)", 1.0) is None
