"""``GET /api/v1/report`` (monitor/web/api.py) over the test ledger: scoped to the caller.

It belongs in tests/web/test_api.py, which does not exist yet (api.py is being reworked).
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from monitor.config import Settings
from monitor.runtime.service import Service
from monitor.web.app import make_app


async def test_api_report_scoped(ledger: tuple[Settings, Path]) -> None:
    settings, _ = ledger
    service = Service(settings)
    await service.start()
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            noc = {"Authorization": "Bearer noc-token"}
            viettel = {"Authorization": "Bearer viettel-token"}
            resp = await client.get("/api/v1/report?phase=dai-hoi-tinh", headers=noc)
            assert resp.status == 200, await resp.text()
            doc = await resp.json()
            figures = {t["name"]: t for t in doc["sections"][0]["targets"]}
            assert figures["viettel-uplink"]["downtime_seconds"] == 2400
            assert figures["vnpt-uplink"]["maintenance_seconds"] == 7200
            resp = await client.get("/api/v1/report?phase=dai-hoi-tinh", headers=viettel)
            text = await resp.text()
            assert "vnpt" not in text and "venue-switch" not in text and "old-site" not in text
            mine = json.loads(text)["sections"][0]
            assert [c["name"] for c in mine["carriers"]] == ["viettel"]
            resp = await client.get(
                "/api/v1/report?phase=dai-hoi-tinh&format=csv&lang=en", headers=viettel
            )
            body = await resp.read()
            assert resp.headers["Content-Type"].startswith("text/csv")
            assert body.startswith(b"\xef\xbb\xbf") and b"vnpt" not in body
            resp = await client.get("/api/v1/report?format=html", headers=noc)
            assert resp.status == 200
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src" not in csp and "'sha256-" in csp
            assert (await client.get("/api/v1/report?phase=x", headers=noc)).status == 400
            assert (await client.get("/api/v1/report?format=pdf", headers=noc)).status == 400
            assert (await client.get("/api/v1/report")).status == 401
            # The ledger through /api/v1/outages: phase filter, carrier filter, scope.
            resp = await client.get("/api/v1/outages?phase=sau-dai-hoi", headers=noc)
            names = [o["target"] for o in (await resp.json())["outages"]]
            assert names == ["viettel-uplink", "cong-thong-tin"]
            resp = await client.get("/api/v1/outages?carrier=vnpt", headers=noc)
            assert len((await resp.json())["outages"]) == 2
            resp = await client.get("/api/v1/outages?target=vnpt-uplink", headers=viettel)
            assert (await resp.json())["outages"] == []
    finally:
        await service.aclose()
