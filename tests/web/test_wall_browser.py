"""The wall, the phone and a target's 24 hours in Debian's Chromium through Playwright, in
both languages: no console error, and the layout facts a NOC relies on. The screenshots
(wall-dark.png, target-history.png, phone.png) go to a temporary directory, or to the README's
when asked: ``NETMON_SCREENSHOTS=docs/img .venv/bin/pytest tests/web/test_wall_browser.py``."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import REPO
from tests.web.walls import NOC, VIETTEL, WALL, running

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
WALL_SIZE = {"width": 1920, "height": 1080}

pytestmark = pytest.mark.timeout(180)


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no {CHROMIUM} (Debian package chromium: make debs-test)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    wanted = os.environ.get("NETMON_SCREENSHOTS")
    where = (REPO / wanted) if wanted else tmp_path / "shots"
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    async with running(tmp_path) as (_, server):
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def browser() -> AsyncIterator[Callable[..., Any]]:
    """A factory of fresh Chromium contexts whose console errors fail the test."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    problems: list[str] = []
    profiles = tempfile.mkdtemp(prefix="netmon-wall-")
    contexts: list[Any] = []
    async with async_playwright() as pw:

        async def open_page(*, refused: bool = False, **options: Any) -> Any:
            """``refused``: the page's sign-in is refused on purpose (its 401 is expected)."""
            ctx = await pw.chromium.launch_persistent_context(
                str(Path(profiles) / str(len(contexts))),
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                **options,
            )
            contexts.append(ctx)
            page = ctx.pages[0] if ctx.pages else await ctx.new_page()
            expected = "status of 401" if refused else "\0"

            def console(m: Any) -> None:
                if m.type == "error" and expected not in m.text:
                    problems.append(f"console: {m.text}")

            page.on("console", console)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            return page

        try:
            yield open_page
        finally:
            for ctx in contexts:
                await ctx.close()
            shutil.rmtree(profiles, ignore_errors=True)
    assert not problems, problems


def bearer(token: str) -> dict[str, Any]:
    return {"extra_http_headers": {"Authorization": f"Bearer {token}"}}


async def top(page: Any, selector: str) -> float:
    box = await page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["y"])


async def until(check: Callable[[], Any], what: str, within: float = 20.0) -> None:
    # (polled: Playwright's wait_for_function needs eval, which the page's CSP bars)
    for _ in range(int(within / 0.25)):
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(what)


async def test_the_wall_signs_in_from_its_fragment_and_shows_the_worst_first(
    site: str, browser: Callable[..., Any], shots: Path
) -> None:
    page = await browser(viewport=WALL_SIZE)
    # No session, no header: the page's script signs in with the fragment's token.
    await page.goto(f"{site}/wall#token={WALL}")
    await page.wait_for_selector("li.wall-card", timeout=15000)
    assert await page.locator("html").get_attribute("lang") == "vi"
    levels = await page.locator("section.wall-level").evaluate_all(
        "s => s.map(e => e.dataset.level)"
    )
    assert levels == ["critical", "warning"]  # red first, then orange; INFO never a card
    critical = await page.inner_text('section.wall-level[data-level="critical"]')
    assert "Bộ định tuyến biên VNPT" in critical and "Nghiêm trọng" in critical
    assert "3 Thông tin" in await page.inner_text(".wall-counts")
    # Dark, large, and nothing to press.
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 20, 24)"
    size = await page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.wc-name')).fontSize)"
    )
    assert size >= 28  # 1.25rem of the wall's 24 px on a 1920 px screen
    assert await page.locator("button, form, input, a").count() == 0
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    await page.screenshot(path=str(shots / "wall-dark.png"))
    # It refreshes itself in place.
    await until(
        lambda: page.evaluate("document.getElementById('main').dataset.refreshed"),
        "the wall did not refresh",
    )
    assert await page.locator("li.wall-card").count() == 2


async def test_the_wall_in_english_and_within_an_operators_scope(
    site: str, browser: Callable[..., Any]
) -> None:
    page = await browser(viewport=WALL_SIZE, **bearer(VIETTEL))
    await page.goto(f"{site}/wall?lang=en")
    assert await page.locator("html").get_attribute("lang") == "en"
    cards = await page.locator("li.wall-card").evaluate_all("c => c.map(e => e.dataset.target)")
    assert cards == ["viettel-lossy"]  # vnpt-core is not the operator's to see
    text = await page.inner_text("main")
    assert "Warning" in text and "3 Info" in text and "VNPT" not in text
    # A wrong token in the fragment says so, and signs nothing in.
    other = await browser(viewport=WALL_SIZE, refused=True)
    await other.goto(f"{site}/wall?lang=en#token=not-the-token%E0%A4%A")  # and not %-encoded
    await other.wait_for_selector("#wall-refused:not([hidden])", timeout=15000)
    assert "wrong" in await other.inner_text("#wall-refused")
    assert await other.locator("li.wall-card").count() == 0


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_phone_shows_targets_first_and_folds_the_alerts(
    site: str, browser: Callable[..., Any], lang: str, shots: Path
) -> None:
    page = await browser(viewport=PHONE, is_mobile=True, has_touch=True, **bearer(NOC))
    await page.goto(f"{site}/?lang={lang}")
    assert await top(page, "li.card") < await top(page, "section.alerts")
    assert await page.locator("a.to-alerts").is_visible()  # a way down to them from the top
    assert not await page.locator("details.alerts-fold").evaluate("d => d.open")
    await page.click("details.alerts-fold > summary")
    assert await page.locator("details.alerts-fold").evaluate("d => d.open")
    info = page.locator("details.info-fold > summary")
    assert (await info.inner_text()).strip() == ("3 thông tin" if lang == "vi" else "3 info")
    assert not await page.locator("details.info-fold").evaluate("d => d.open")
    assert await page.locator("details.alerts-fold > ul.alerts > li.alert").count() == 2
    assert await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth <= 1"
    )
    if lang == "vi":
        await page.click("details.alerts-fold > summary")  # folded again for the picture
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(shots / "phone.png"))
    # On a wide screen the alerts come before the targets, unfolded.
    await page.set_viewport_size(WALL_SIZE)
    await page.reload()
    assert await top(page, "section.alerts") < await top(page, "li.card")
    assert not await page.locator("a.to-alerts").is_visible()
    assert await page.locator("details.alerts-fold").evaluate("d => d.open")


async def test_a_targets_day_and_the_theme_switch(
    site: str, browser: Callable[..., Any], shots: Path
) -> None:
    page = await browser(
        viewport={"width": 1280, "height": 900}, color_scheme="light", **bearer(NOC)
    )
    await page.goto(f"{site}/targets/vnpt-core")
    chart = page.locator("svg.history")
    assert int(await chart.get_attribute("data-buckets") or 0) > 250  # a day less the gap
    band = await page.locator("svg.history rect[data-state]").evaluate_all(
        "r => r.map(e => e.dataset.state)"
    )
    assert "down" in band and band.count("up") >= 2  # the outage and the gap split the band
    assert "không giám sát" in (await chart.get_attribute("aria-label") or "")
    # The browser prefers light: light it is, until the switch says dark, which stays.
    light = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(244, 246, 248)"
    await page.click("#theme-toggle")
    await page.reload()
    assert await page.locator("html").get_attribute("data-theme") == "dark"
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == (
        "rgb(16, 20, 24)"
    )
    assert await page.inner_text("#theme-toggle") == "Giao diện sáng"
    await page.locator("section.history-day").screenshot(path=str(shots / "target-history.png"))
    await page.goto(f"{site}/targets/cong-thong-tin?lang=en")
    assert "Response time" in "".join(await page.locator("svg.history text").all_text_contents())
    assert await page.locator("svg.history rect.h-loss").count() == 0
    assert await page.inner_text("#theme-toggle") == "Light theme"
