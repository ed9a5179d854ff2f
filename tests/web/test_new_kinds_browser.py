"""The sip, stream and web integrity cards in Debian's Chromium through Playwright, in both
languages, from real probes of stand-ins on loopback: the venue's PBX answering 200, the
congress livestream stalled, the portal with hidden gambling links and a foreign script, and a
district site still learning its baseline. The screenshots (cards-new-kinds.png in Vietnamese,
cards-new-kinds-en.png) go to a temporary directory, or to the README's when asked:
``NETMON_SCREENSHOTS=docs/img .venv/bin/pytest tests/web/test_new_kinds_browser.py``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from monitor.config import load_settings
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from probes import sip, stream
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.integrity import probe as integrity
from tests.support.alerts import write_settings
from tests.support.sip import port_of_udp, reply, udp_server
from tests.web.test_new_kind_cards import HLS_HOST, INJECTED, SITE_HOST, _hls, _server, _site
from tests.web.test_wall_browser import browser, shots  # noqa: F401 (fixtures)

PBX_HOST = "127.0.8.53"
DISTRICT_HOST = "127.0.8.54"

pytestmark = pytest.mark.timeout(180)


async def timed(run: Awaitable[ProbeResult]) -> tuple[ProbeResult, float, float]:
    """A probe's result with when it started and how long it took, as the scheduler records."""
    started, began = time.time(), time.monotonic()
    result = await run
    return result, started, time.monotonic() - began


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    def answer(request: bytes) -> list[bytes]:
        return [reply(request, "200 OK", extra="Server: Asterisk PBX 20.5.0\r\n")]

    hls: dict[str, Any] = {"stalled": False, "seq": 0}
    portal = {"extra": ""}
    async with (
        udp_server(PBX_HOST, answer) as pbx,
        _server(_hls(hls), HLS_HOST) as hls_port,
        _server(_site(portal), SITE_HOST) as portal_port,
        _server(_site({"extra": ""}), DISTRICT_HOST) as district_port,
    ):
        targets: list[dict[str, Any]] = [
            {"name": "venue-pbx", "title": "Tổng đài IP hội trường", "kind": "sip",
             "host": PBX_HOST, "group": "venue", "sip": {"port": port_of_udp(pbx)}},
            {"name": "congress-live", "title": "Truyền hình trực tiếp Đại hội",
             "kind": "stream", "url": f"http://{HLS_HOST}:{hls_port}/live/index.m3u8",
             "group": "venue", "timeout": "4s", "stream": {"min_bitrate": 100_000}},
            {"name": "portal", "title": "Cổng thông tin điện tử tỉnh", "kind": "web",
             "url": f"http://{SITE_HOST}:{portal_port}/", "group": "website"},
            {"name": "district-site", "title": "Trang huyện Krông Pắc", "kind": "web",
             "url": f"http://{DISTRICT_HOST}:{district_port}/", "group": "website"},
        ]  # fmt: skip
        path = write_settings(tmp_path / "s.toml", targets, {})
        settings = load_settings(path)
        by_name = {t.name: t for t in settings.targets}
        service = Service(settings, path)
        await service.start()
        (tmp_path / "baselines").mkdir()
        ctx = ProbeContext(state_dir=tmp_path / "baselines")
        server = TestServer(make_app(service), host="127.0.0.1")
        try:
            results = {"venue-pbx": await timed(sip.probe(by_name["venue-pbx"], ctx))}
            await stream.probe(by_name["congress-live"], ctx)
            hls["stalled"] = True
            results["congress-live"] = await timed(stream.probe(by_name["congress-live"], ctx))
            for _ in range(3):
                await integrity.probe(by_name["portal"], ctx)
            portal["extra"] = INJECTED
            results["portal"] = await timed(integrity.probe(by_name["portal"], ctx))
            await integrity.probe(by_name["district-site"], ctx)
            results["district-site"] = await timed(integrity.probe(by_name["district-site"], ctx))
            for name, (result, started, took) in results.items():
                service.store.record(name, Observation(result, started, took))
            await server.start_server()
            yield f"http://127.0.0.1:{server.port}"
        finally:
            await server.close()
            await ctx.aclose()
            await service.aclose()


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_new_kinds_cards_read_in_words(
    site: str,
    browser: Callable[..., Any],  # noqa: F811 (the fixture imported above)
    shots: Path,  # noqa: F811
    lang: str,
) -> None:
    page = await browser(viewport={"width": 1280, "height": 900}, color_scheme="light")
    await page.goto(f"{site}/?lang={lang}")
    await page.wait_for_selector('li.card[data-target="portal"]', timeout=15000)
    vi = lang == "vi"

    async def card(name: str) -> str:
        return str(await page.inner_text(f'li.card[data-target="{name}"]'))

    pbx = await card("venue-pbx")
    assert "SIP 200" in pbx and "Asterisk PBX 20.5.0" in pbx, pbx
    live = await card("congress-live")
    assert ("luồng phát trực tiếp bị đứng" if vi else "the live stream is stalled") in live, live
    assert ("tốc độ bit 200 kbit/s" if vi else "bitrate 200 kbit/s") in live, live
    portal = await card("portal")
    assert ("bị chèn mã lạ" if vi else "injected script") in portal, portal
    assert "cdn-skim.invalid" in portal and "nohu-<b>.example.invalid" in portal, portal
    assert await page.locator('li.card[data-target="portal"] .found b').count() == 0
    district = await card("district-site")
    assert ("đang học mẫu (2/3)" if vi else "learning the baseline (2/3)") in district
    # Nothing overflows its card: the found domains wrap inside it.
    overflow = await page.locator("li.card").evaluate_all(
        "cs => cs.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.dataset.target)"
    )
    assert overflow == []
    cards = page.locator("main")
    name = "cards-new-kinds.png" if vi else "cards-new-kinds-en.png"
    await cards.screenshot(path=str(shots / name))
    # The portal's page lists the evidence: every domain and word, the injected snippet.
    await page.goto(f"{site}/targets/portal?lang={lang}")
    evidence = page.locator("section.evidence")
    text = await evidence.inner_text()
    assert ("Bằng chứng" if vi else "Evidence") in text
    assert "nohu-<b>.example.invalid" in text and "tài xỉu" in text, text
    assert "cdn-skim.invalid/x.js" in await evidence.locator("pre.excerpt").inner_text()
