"""A sip target's card and page (issue 16): the OPTIONS' status code and the server's name,
from a real probe of a SIP stand-in on 127.0.8.41 recorded into a real service's store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.config import load_settings
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web import pages
from monitor.web.app import make_app
from probes import sip
from probes.context import ProbeContext
from tests.support.alerts import write_settings
from tests.support.sip import port_of_udp, reply, udp_server


async def test_the_card_shows_the_sip_status_and_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "RENDER_CACHE_SECONDS", 0.0)  # each GET renders anew
    status = ["200 OK"]

    def answer(request: bytes) -> list[bytes]:
        return [reply(request, status[0], extra="Server: Asterisk PBX 20.5.0\r\n")]

    async with udp_server("127.0.8.41", answer) as pbx:
        target = {
            "name": "venue-pbx",
            "kind": "sip",
            "host": "127.0.8.41",
            "group": "venue",
            "sip": {"port": port_of_udp(pbx)},
        }
        path = write_settings(tmp_path / "s.toml", [target], {})
        settings = load_settings(path)
        service = Service(settings, path)
        await service.start()
        ctx = ProbeContext()
        try:
            pbx_target = settings.targets[0]
            good = await sip.probe(pbx_target, ctx)
            status[0] = "503 Service Unavailable"
            bad = await sip.probe(pbx_target, ctx)
            assert good.success and bad.reason == "status", (good.detail, bad.detail)
            now = time.time()
            service.store.record("venue-pbx", Observation(good, now - 10, 0.01))
            async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
                up = await (await client.get("/")).text()
                service.store.record("venue-pbx", Observation(bad, now, 0.01))
                down = await (await client.get("/")).text()
                page = await (await client.get("/targets/venue-pbx")).text()
        finally:
            await ctx.aclose()
            await service.aclose()
    assert '<span class="fig">SIP 200</span>' in up
    # The response time shown is the OPTIONS' round trip, not the recorded 10 ms of the run.
    assert "10 ms</span>" not in up[up.index('data-target="venue-pbx"') :]
    assert '<span class="fig">Asterisk PBX 20.5.0</span>' in up
    card = down[down.index('data-target="venue-pbx"') :]
    assert '<span class="fig">SIP 503</span>' in card, card[:1500]
    # The page's history: each probe's code.
    assert "SIP 503" in page and "SIP 200" in page
