"""The wall (/wall), the wall role, the INFO alerts folded into a count and a target's 24 hours
on its page, through the app on loopback (aiohttp's test server)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar

from monitor.config import SettingsError, parse_settings
from monitor.config.access import token_digest
from monitor.runtime.service import Service
from tests.web.walls import NOC, VIETTEL, WALL, running


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Service, str, ClientSession]]:
    jar = CookieJar(unsafe=True)  # keeps the session cookie of an address (127.0.0.1)
    async with running(tmp_path) as (service, server), ClientSession(cookie_jar=jar) as http:
        yield service, f"http://127.0.0.1:{server.port}", http


Site = tuple[Service, str, ClientSession]


async def get(site: Site, path: str, token: str | None = None, **kw: Any) -> tuple[int, str]:
    _, base, http = site
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(base + path, headers=headers, allow_redirects=False, **kw) as r:
        return r.status, await r.text()


def targets_in(html: str) -> list[str]:
    return re.findall(r'<li class="wall-card[^"]*" data-target="([^"]+)"', html)


async def test_the_wall_is_worst_first_and_has_no_control(site: Site) -> None:
    status, html = await get(site, "/wall", WALL)
    assert status == 200
    assert targets_in(html) == ["vnpt-core", "viettel-lossy"]  # critical, then warning
    levels = re.findall(r'<section class="wall-level lv-(\w+)"', html)
    assert levels == ["critical", "warning"]
    assert 'data-theme="dark"' in html and "data-theme-fixed" in html
    for control in ("<button", "<form", "<input", "<a "):
        assert control not in html, control
    assert "3 Thông tin" in html  # INFO alerts: a count, never a card
    assert "<strong>3/3</strong>" in html  # the three slow (INFO) targets are up
    status, fragment = await get(site, "/fragment/wall?lang=en", WALL)
    assert status == 200 and "<html" not in fragment
    assert "Critical" in fragment and "3 Info" in fragment


async def test_the_noc_on_the_wall_gets_no_button_or_banner(site: Site) -> None:
    service, _, _ = site
    service.last_reload_ok = False
    service.last_reload_errors = ["targets[0].host: not an address"]
    _, page = await get(site, "/", NOC)
    assert "not an address" in page  # the overview shows a refused reload to the noc role
    _, wall = await get(site, "/wall", NOC)
    assert "not an address" not in wall and "<button" not in wall


async def test_an_operator_wall_keeps_its_scope(site: Site) -> None:
    _, html = await get(site, "/wall", VIETTEL)
    assert targets_in(html) == ["viettel-lossy"]
    assert "VNPT" not in html and "vnpt" not in html


async def test_without_a_session_the_wall_signs_itself_in(site: Site) -> None:
    status, html = await get(site, "/wall")
    assert status == 200  # the page whose script reads #token= (never sent to the server)
    assert "data-wall-login" in html and targets_in(html) == []
    assert "/login?lang=vi&amp;next=/wall%3Flang%3Dvi" in html
    status, _ = await get(site, "/fragment/wall")
    assert status == 401
    # What the script does: the token posted to /login, a session back, the wall behind it.
    _, base, http = site
    form = {"token": WALL, "next": "/wall?lang=en"}
    async with http.post(f"{base}/login", data=form, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/wall?lang=en"
    async with http.get(f"{base}/wall?lang=en") as r:
        assert targets_in(await r.text()) == ["vnpt-core", "viettel-lossy"]


async def test_a_wall_token_reads_the_pages_and_nothing_else(site: Site) -> None:
    for path in ("/", "/targets/vnpt-core"):
        status, html = await get(site, path, WALL)
        assert status == 200, path
        assert 'class="ack"' not in html  # no acknowledgement from the wall
        assert "/api/v1/report" not in html  # nor a link to what it may not read
    for path in ("/api/v1/targets", "/api/v1/alerts", "/api/v1/outages", "/api/v1/report"):
        status, _ = await get(site, path, WALL)
        assert status == 403, path
    status, _ = await get(site, "/metrics", WALL)
    assert status == 403
    _, base, http = site
    key = next(a["key"] for a in site[0].alerts.alerts_json() if a["target"] == "vnpt-core")
    headers = {"Authorization": f"Bearer {WALL}"}
    async with http.post(f"{base}/api/v1/alerts/{key}/ack", json={}, headers=headers) as r:
        assert r.status == 403


def test_a_wall_token_takes_no_scope(tmp_path: Path) -> None:
    token = {"name": "wall", "role": "wall", "scope": {"carrier": "vnpt"}, "sha256": "a" * 64}
    with pytest.raises(SettingsError) as raised:
        parse_settings({"access": {"tokens": [token]}}, tmp_path)
    assert "access.tokens" in str(raised.value) and "operator token" in str(raised.value)
    fine = {"name": "wall", "role": "wall", "sha256": token_digest("x")}
    assert parse_settings({"access": {"tokens": [fine]}}, tmp_path).access.tokens[0].role == "wall"


async def test_info_alerts_fold_into_a_count(site: Site) -> None:
    _, html = await get(site, "/", NOC)
    fold = html[html.index('<details class="info-fold"') :]
    fold = fold[: fold.index("</details>")]
    assert re.search(r"<summary>3 thông tin</summary>", fold)
    assert fold.count('<li class="alert sev-info') == 3
    shown = html[
        html.index('<details class="alerts-fold"') : html.index('<details class="info-fold"')
    ]
    assert shown.count('<li class="alert') == 2  # the critical and the warning, one by one
    assert html.index('<section class="alerts"') < html.index('<li class="card')  # wide: on top
    _, english = await get(site, "/?lang=en", NOC)
    assert "<summary>3 info</summary>" in english


async def test_a_targets_page_draws_its_day(site: Site) -> None:
    status, html = await get(site, "/targets/vnpt-core", NOC)
    assert status == 200
    svg = html[
        html.index('<svg class="history"') : html.index(
            "</svg>", html.index('<svg class="history"')
        )
        + 6
    ]
    root = ET.fromstring(svg)  # well-formed XML, as served
    ns = "{http://www.w3.org/2000/svg}"
    states = [r.get("data-state") for r in root.iter(f"{ns}rect") if r.get("data-state")]
    assert states.count("down") >= 1 and states.count("up") >= 2
    assert [r for r in root.iter(f"{ns}rect") if r.get("class") == "h-gap"]
    assert "Độ trễ" in "".join(root.itertext()) and "Mất gói" in "".join(root.itertext())
    _, http_page = await get(site, "/targets/cong-thong-tin?lang=en", NOC)
    assert "Response time" in http_page and 'class="h-loss"' not in http_page
    _, frag = await get(site, "/fragment/targets/vnpt-core", NOC)
    assert '<svg class="history"' in frag  # the refresh redraws it
