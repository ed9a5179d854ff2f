"""The NOC's forms in headless Chromium (Debian's, through Playwright; no browser download),
against netmon's app in process on loopback: sign in with the form (a session, so the forms'
token and origin checks are what a browser meets), a maintenance window made from a target's
page, extended, refused with its reason, shown on the card, ended; a note written on an
outage, shown as the text typed (never as HTML); both languages, a phone's width, no console
error; an operator gets 403 and no form. With ``NETMON_SCREENSHOTS=1`` it writes the README's
picture docs/img/maintenance-form.png (else the picture goes to the test's temporary
directory, and the repository is left as it is)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from probes.base import ProbeResult
from tests.support.common import REPO
from tests.support.web import NOC, TOKENS, VIETTEL, web_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "docs" / "img" / "maintenance-form.png"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no {CHROMIUM} (Debian package chromium: make debs-test)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[str]:
    service = Service(web_settings(tmp_path, tokens=TOKENS))
    await service.start()
    now = time.time()
    service.store.record("vt", Observation(ProbeResult(True, None, "fine"), now, 0.01))
    service.store.record("vn", Observation(ProbeResult(False, "timeout", "no answer"), now, 0.01))
    server = TestServer(make_app(service), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
        await service.aclose()


def local(ts: float) -> str:
    """As the NOC types a time: local, dd/mm/yyyy HH:MM."""
    return datetime.fromtimestamp(ts, ZONE).strftime("%d/%m/%Y %H:%M")


async def test_the_maintenance_and_note_forms_in_chromium(base: str, tmp_path: Path) -> None:
    missing = _missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    problems: list[str] = []
    refusals: list[str] = []  # the two bad windows below: answered 400, as they should be
    profiles = tempfile.mkdtemp(prefix="netmon-forms-")

    def console(message: Any) -> None:
        if message.type != "error":
            return
        url = str((message.location or {}).get("url", ""))
        if "status of 400" in message.text and url.startswith(f"{base}/maintenance"):
            refusals.append(url)
        else:
            problems.append(f"console: {message.text} ({url})")

    def watch(page: Any) -> None:
        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    try:
        async with async_playwright() as pw:
            ctx = await pw.chromium.launch_persistent_context(
                str(Path(profiles) / "noc"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            page = await ctx.new_page()
            watch(page)
            await page.goto(f"{base}/targets/vn?lang=vi")
            await page.fill("#token", NOC)
            await page.click("section.login button[type=submit]")
            await page.wait_for_url(re.compile(r".*/targets/vn\?lang=vi$"))

            # From the target's page to the form, filled in for it.
            await page.click("section.notes a.button")
            await page.wait_for_url(re.compile(r".*/maintenance\?lang=vi&target=vn$"))
            assert await page.input_value("#m-match") == "target=vn"
            assert "Asia/Ho_Chi_Minh" in await page.inner_text("form.maintenance-new")
            now = time.time()
            # Bad input first: from after to, refused with the reason, the values kept.
            await page.fill("#m-name", "thay-cap-vn")
            await page.fill("#m-start", local(now + 7200))
            await page.fill("#m-end", local(now + 3600))
            await page.fill("#m-comment", "Thay cáp quang tuyến VNPT <b>gấp</b>")
            await page.click("form.maintenance-new button[type=submit]")
            error = await page.inner_text("p.error")
            assert "Không lưu được" in error and "end is not after start" in error
            assert await page.input_value("#m-name") == "thay-cap-vn"
            # Too long for [alerts] max_maintenance (7 days by default).
            await page.fill("#m-start", local(now + 60))
            await page.fill("#m-end", local(now + 9 * 86400))
            await page.click("form.maintenance-new button[type=submit]")
            assert "max_maintenance" in await page.inner_text("p.error")
            # Right: now to two hours from now.
            await page.fill("#m-start", local(now - 60))
            await page.fill("#m-end", local(now + 7200))
            await page.click("form.maintenance-new button[type=submit]")
            await page.wait_for_selector("p.done")
            assert "Đã lưu lịch bảo trì thay-cap-vn" in await page.inner_text("p.done")
            row = page.locator('tr[data-window="thay-cap-vn"]')
            assert "Thay cáp quang tuyến VNPT <b>gấp</b>" in await row.inner_text()
            assert "noc" in await row.inner_text()
            # The form filled in for another window, for the README's picture (not sent).
            await page.fill("#m-name", "nang-cap-bien-viettel")
            await page.fill("#m-match", "carrier=viettel, site=hoi-truong")
            await page.fill("#m-start", local(now + 86400))
            await page.fill("#m-end", local(now + 86400 + 5400))
            await page.fill("#m-comment", "Nâng cấp phần mềm bộ định tuyến biên Viettel")
            shot = SCREENSHOT if os.environ.get("NETMON_SCREENSHOTS") else tmp_path / "m.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes().startswith(b"\x89PNG")

            # Extended by an hour from the list.
            await row.locator('input[name="end"]').fill(local(now + 3 * 3600))
            await row.locator("form.extend button").click()
            await page.wait_for_selector("p.done")
            end_text = datetime.fromtimestamp(now + 3 * 3600, ZONE).strftime("%d/%m/%Y %H:%M")
            assert end_text in await page.locator('tr[data-window="thay-cap-vn"]').inner_text()

            # The card says maintenance, with the comment.
            await page.goto(f"{base}/?lang=vi")
            card = page.locator('li.card[data-target="vn"]')
            assert await card.get_attribute("data-state") == "maintenance"
            assert "Thay cáp quang" in await card.locator(".mark.comment").inner_text()

            # A note on vn's outage, typed as HTML, shown as typed.
            await page.goto(f"{base}/targets/vn?lang=vi")
            form = page.locator("section.notes form.note").first
            await form.locator("textarea").fill("Đã gọi VNPT <script>x()</script>, hẹn 15:00")
            await form.locator("button").click()
            await page.wait_for_selector("section.notes p.note-text")
            text = await page.inner_text("section.notes p.note-text")
            assert text == "Đã gọi VNPT <script>x()</script>, hẹn 15:00"
            assert await page.locator("section.notes p.note-text script").count() == 0
            await page.goto(f"{base}/?lang=vi")
            marker = await page.inner_text('li.card[data-target="vn"] .mark.note')
            assert marker.startswith("✎ Ghi chú: Đã gọi VNPT")

            # English, then a phone's width: nothing wider than the screen.
            await page.goto(f"{base}/maintenance?lang=en")
            assert "New maintenance window" in await page.inner_text("main")
            assert "In progress" in await page.inner_text('tr[data-window="thay-cap-vn"]')
            await page.set_viewport_size({"width": 390, "height": 844})
            wide = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 1, f"{wide}px wider than a phone"
            await page.set_viewport_size({"width": 1280, "height": 900})

            # Ended now: no longer listed as open.
            await page.click('tr[data-window="thay-cap-vn"] form.end button')
            await page.wait_for_selector("p.done")
            assert "Maintenance window thay-cap-vn ended" in await page.inner_text("p.done")
            assert await page.locator('tr[data-window="thay-cap-vn"]').count() == 0
            await ctx.close()

            # An operator: no link, no form, 403.
            ctx = await pw.chromium.launch_persistent_context(
                str(Path(profiles) / "viettel"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            page = await ctx.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            await page.goto(f"{base}/?lang=en")
            await page.fill("#token", VIETTEL)
            await page.click("section.login button[type=submit]")
            await page.wait_for_selector("li.card")
            assert await page.locator('a[href^="/maintenance"]').count() == 0
            answer = await page.goto(f"{base}/maintenance?lang=en")
            assert answer is not None and answer.status == 403
            await page.goto(f"{base}/targets/vt?lang=en")
            assert await page.locator("form.note").count() == 0
            assert await page.locator("section.notes a.button").count() == 0
            await ctx.close()
    finally:
        shutil.rmtree(profiles, ignore_errors=True)
    assert not problems, problems
    assert len(refusals) == 2, refusals  # Chromium logs a 400 page load; nothing else logged
