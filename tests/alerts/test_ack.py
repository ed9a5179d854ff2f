"""Acknowledgement (issue 12, point 7), through the web app on an in-process netmon: the API
with its roles, 404 and 409; the page's button with the session; the acknowledgement on the
pages, in the ledger and in the report; an acknowledged alert pages no more repeats."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from monitor.web.app import make_app
from tests.support.alerts import (
    FakeClock,
    running,
    sink_server,
    targets_server,
    until,
    webhook_alerts,
    write_settings,
)

TOKENS = {name: hashlib.sha256(name.encode()).hexdigest() for name in ("noc-t", "viettel-t")}
AS_NOC = {"Authorization": "Bearer noc-t"}
AS_VIETTEL = {"Authorization": "Bearer viettel-t"}


def settings(tmp_path: Path, web: Any, noc_url: str, *, operators: bool) -> Path:
    alerts = webhook_alerts(("noc", noc_url))
    alerts["receivers"]["noc"]["repeat_interval"] = "1m"
    alerts["rules"] = [
        {"name": "TargetDown", "failures": 1, "recoveries": 1},
        {"name": "HttpStatusError", "enabled": False},  # the 503 pages TargetDown here
    ]
    targets = [
        web.target("viettel-uplink", group="carrier", labels={"carrier": "viettel"}),
        web.target("vnpt-uplink", group="carrier", labels={"carrier": "vnpt"}),
    ]
    path = write_settings(tmp_path / "s.toml", targets, alerts)
    path.write_text(
        path.read_text()
        + f"operators_acknowledge = {'true' if operators else 'false'}\n"
        + f'[[access.tokens]]\nname = "noc"\nrole = "noc"\nsha256 = "{TOKENS["noc-t"]}"\n'
        + '[[access.tokens]]\nname = "viettel"\nrole = "operator"\n'
        + f'scope = {{ carrier = "viettel" }}\nsha256 = "{TOKENS["viettel-t"]}"\n'
    )
    return path


def key_of(service: Any, target: str) -> str:
    return next(a["key"] for a in service.alerts.alerts_json() if a["target"] == target)


async def test_acknowledge_through_the_api_and_the_page(tmp_path: Path) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc:
        path = settings(tmp_path, web, noc.url, operators=False)
        web.modes["viettel-uplink"] = web.modes["vnpt-uplink"] = "fail"
        async with (
            running(path, clock) as service,
            TestClient(TestServer(make_app(service), host="127.0.0.1")) as client,
        ):
            await until(clock, service, "two pages", lambda: len(noc.kinds()) == 2)
            viettel, vnpt = key_of(service, "viettel-uplink"), key_of(service, "vnpt-uplink")
            url = f"/api/v1/alerts/{viettel}/ack"
            assert (await client.post(url, json={"note": "x"})).status == 401
            resp = await client.post(url, json={"note": "x"}, headers=AS_VIETTEL)
            assert resp.status == 403  # operators may not, unless [access] says so
            resp = await client.post(
                "/api/v1/alerts/0000000000000000/ack", json={"note": ""}, headers=AS_NOC
            )
            assert resp.status == 404
            resp = await client.post(url, json={"nota": "x"}, headers=AS_NOC)
            assert resp.status == 400
            resp = await client.post(
                url, json={"note": "Đang gọi Viettel, mã sự cố 4411"}, headers=AS_NOC
            )
            assert resp.status == 200, await resp.text()
            answer = await resp.json()
            assert answer["ack"]["by"] == "noc"
            assert answer["ack"]["note"] == "Đang gọi Viettel, mã sự cố 4411"
            assert answer["ack"]["at"].endswith("Z")

            # The pages: the acknowledgement shown, a button for the other alert.
            page = await (await client.get("/?lang=en", headers=AS_NOC)).text()
            assert f'data-ack="{vnpt}"' in page and f'data-ack="{viettel}"' not in page
            assert "acknowledged: noc," in page and "mã sự cố 4411" in page
            target_page = await (await client.get("/targets/vnpt-uplink", headers=AS_NOC)).text()
            assert f'data-ack="{vnpt}"' in target_page
            # The button: the session, same origin, JSON; another site cannot.
            login = await client.post(
                "/login", data={"token": "noc-t", "next": "/"}, allow_redirects=False
            )
            assert login.status == 303
            vnpt_url = f"/api/v1/alerts/{vnpt}/ack"
            resp = await client.post(
                vnpt_url, json={"note": ""}, headers={"Sec-Fetch-Site": "cross-site"}
            )
            assert resp.status == 403
            resp = await client.post(
                vnpt_url, json={"note": ""}, headers={"Sec-Fetch-Site": "same-origin"}
            )
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["ack"]["by"] == "noc"

            # No repeats once acknowledged (the receiver repeats after 1 min).
            web.modes["vnpt-uplink"] = "ok"
            await until(
                clock, service, "vnpt's end", lambda: noc.kinds("vnpt-uplink")[-1] == "resolved"
            )
            await clock.advance(75.0, step=1.0)
            await until(clock, service, "quiet", lambda: True)
            assert noc.kinds("viettel-uplink") == ["firing"]
            # A resolved alert: 409.
            resp = await client.post(vnpt_url, json={"note": ""}, headers=AS_NOC)
            assert resp.status == 409

            # Kept with the outage, and into the report.
            outages = await (
                await client.get("/api/v1/outages?target=viettel-uplink", headers=AS_NOC)
            ).json()
            assert outages["outages"][0]["ack"]["by"] == "noc"
            web.modes["viettel-uplink"] = "ok"
            await until(
                clock,
                service,
                "viettel's end",
                lambda: noc.kinds("viettel-uplink") == ["firing", "resolved"],
            )
            report = await (
                await client.get(
                    "/api/v1/report?target=viettel-uplink&from=2000-01-01T00:00:00Z",
                    headers=AS_NOC,
                )
            ).json()
            rows = [t for s in report["sections"] for t in s["targets"]]
            acks = [o["ack"] for t in rows for o in t["outage_list"]]
            assert acks and acks[0]["note"] == "Đang gọi Viettel, mã sự cố 4411"


async def test_an_operator_acknowledges_its_own_carrier_only_when_allowed(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc:
        path = settings(tmp_path, web, noc.url, operators=True)
        web.modes["viettel-uplink"] = web.modes["vnpt-uplink"] = "fail"
        async with (
            running(path, clock) as service,
            TestClient(TestServer(make_app(service), host="127.0.0.1")) as client,
        ):
            await until(clock, service, "two pages", lambda: len(noc.kinds()) == 2)
            viettel, vnpt = key_of(service, "viettel-uplink"), key_of(service, "vnpt-uplink")
            resp = await client.post(
                f"/api/v1/alerts/{vnpt}/ack", json={"note": ""}, headers=AS_VIETTEL
            )
            assert resp.status == 404  # another carrier's: as one that does not exist
            resp = await client.post(
                f"/api/v1/alerts/{viettel}/ack", json={"note": ""}, headers=AS_VIETTEL
            )
            assert resp.status == 200
            answer = await resp.json()
            assert answer["ack"]["by"] == "viettel" and answer["notified"] == []
            page = await (await client.get("/", headers=AS_VIETTEL)).text()
            assert "đã xác nhận: viettel," in page
