"""The glossary on the rendered pages (issue 14, point 7): a site answering 503 is "Sự cố",
an unreachable host "Mất kết nối"; the probe's reason as a Vietnamese sentence with its English
detail beside it; no retired word in any page, in either language's page.

A real Service (no scheduler, no probe) fed real ProbeResults, its aiohttp app on loopback."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from monitor.config import parse_settings
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from probes.base import ProbeResult
from tests.core.test_glossary import RETIRED
from tests.support.clock import FakeClock

T0 = datetime(2025, 10, 14, 1, 0, tzinfo=UTC).timestamp()  # 08:00 in Ha Noi

RESULTS = {
    "bao-dak-lak": ProbeResult(False, "status", "HTTP 503 from https://127.0.1.3:8443/", ()),
    "so-noi-vu": ProbeResult(False, "tls", "certificate verify failed: self-signed", ()),
    "vien-thong": ProbeResult(False, "timeout", "no answer within 1.0 s", ()),
    "tu-choi": ProbeResult(False, "refused", "connect to 127.0.1.9:8443 refused", ()),
}


def _card(page: str, name: str) -> str:
    match = re.search(rf'<li class="card[^"]*"[^>]*data-target="{name}".*?</li>', page, re.S)
    assert match, name
    return html.unescape(match.group(0))


async def test_pages_speak_the_glossary(tmp_path: Path) -> None:
    raw: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "traps": {"enabled": False},
        "access": {"anonymous": "auto"},
        "targets": [
            {"name": "bao-dak-lak", "kind": "http", "url": "https://127.0.1.3:8443/",
             "group": "website"},
            {"name": "so-noi-vu", "kind": "http", "url": "https://127.0.1.4:8443/",
             "group": "website"},
            {"name": "vien-thong", "kind": "icmp", "host": "127.0.2.2", "group": "carrier"},
            {"name": "tu-choi", "kind": "tcp", "host": "127.0.1.9", "tcp": {"port": 8443},
             "group": "datacenter"},
            {"name": "con", "kind": "icmp", "host": "127.0.2.3", "group": "venue",
             "depends_on": ["vien-thong"]},
        ],
        "alerts": {"rules": [{"name": "TargetDown", "failures": 1}]},
    }  # fmt: skip
    service = Service(parse_settings(raw, tmp_path), clock=FakeClock(wall=T0))
    await service.start()
    try:
        for name, result in RESULTS.items():
            service.store.record(name, Observation(result, T0 - 30, 0.05))
        service.store.record("con", Observation(RESULTS["vien-thong"], T0 - 30, 0.05))
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            pages = {
                path: html.unescape(await (await client.get(path)).text())
                for path in (
                    "/?lang=vi",
                    "/?lang=en",
                    "/targets/so-noi-vu?lang=vi",
                    "/targets/so-noi-vu?lang=en",
                    "/targets/tu-choi?lang=vi",
                )
            }
            raw_vi = await (await client.get("/?lang=vi")).text()
    finally:
        await service.aclose()
    for path, page in pages.items():
        for word in RETIRED:
            assert word not in page.lower(), (path, word)
    vi = pages["/?lang=vi"]
    assert "Cảnh báo hiện hành" in vi
    badge = re.compile(r'<span class="badge[^"]*">([^<]+)</span>')
    states = {name: badge.findall(_card(raw_vi, name)) for name in (*RESULTS, "con")}
    assert states["bao-dak-lak"] == ["Sự cố"]  # HTTP 503: not reachability
    assert states["so-noi-vu"] == ["Sự cố"]  # a certificate fault
    assert states["vien-thong"] == ["Mất kết nối"]
    assert states["tu-choi"] == ["Mất kết nối"]
    assert states["con"] == ["Bị ẩn do thiết bị cấp trên mất kết nối"]
    # The probe's reason as a Vietnamese sentence, its English detail beside it.
    target = pages["/targets/so-noi-vu?lang=vi"]
    assert "Lỗi TLS hoặc chứng thư số. (certificate verify failed: self-signed)" in target
    assert (
        "Kết nối bị từ chối. (connect to 127.0.1.9:8443 refused)"
        in pages["/targets/tu-choi?lang=vi"]
    )
    english = pages["/targets/so-noi-vu?lang=en"]
    assert "certificate verify failed: self-signed" in english
    assert "chứng thư" not in english
