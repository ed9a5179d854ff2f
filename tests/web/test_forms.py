"""The NOC's forms (monitor/web/forms.py) and notes on outages, in process on loopback:
maintenance windows made, extended and ended from the pages, notes written from a target's
page and through the API; the bad input refused with its reason; operators get 403 and never
see a form; a forged POST (no token, another site) is refused; a note is never HTML."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerts import db
from alerts.model import NOTE_MAX
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from monitor.web.guard import COOKIE
from probes.base import ProbeResult
from tests.support.web import NOC, TOKENS, VIETTEL, web_settings

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
Client = TestClient[Any, Any]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, Client]]:
    service = Service(web_settings(tmp_path, tokens=TOKENS))
    await service.start()
    now = time.time()
    service.store.record("vt", Observation(ProbeResult(True, None, "fine"), now, 0.01))
    service.store.record("vn", Observation(ProbeResult(False, "timeout", "no answer"), now, 0.01))
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            yield service, client
    finally:
        await service.aclose()


async def sign_in(client: Client, token: str) -> None:
    client.session.cookie_jar.clear()
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303 and COOKIE in resp.cookies


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no form token in the page"
    return found.group(1)


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZONE).strftime("%Y-%m-%dT%H:%M")


async def vn_outage(service: Service) -> int:
    """The id of vn's open outage (the fixture's failed result opened it)."""
    for _ in range(100):
        outages = await service.alerts.outages(target="vn")
        if outages and outages[0].id is not None:
            return outages[0].id
        await service.alerts.db.run(lambda c: None)
    raise AssertionError("vn has no outage in the ledger")


async def test_operators_never_see_or_use_the_forms(served: tuple[Service, Client]) -> None:
    service, client = served
    outage_id = await vn_outage(service)
    await sign_in(client, VIETTEL)
    assert (await client.get("/maintenance")).status == 403
    page = await (await client.get("/targets/vt")).text()
    assert "<form" not in page.replace('action="/logout"', "").split("</header>", 1)[1]
    assert 'href="/maintenance' not in page
    assert "/maintenance" not in await (await client.get("/")).text()
    posted = await client.post("/maintenance", data={"name": "x", "csrf": "0"})
    assert posted.status == 403
    noted = await client.post(f"/outages/{outage_id}/note", data={"note": "x", "csrf": "0"})
    assert noted.status == 403
    api = await client.post(
        f"/api/v1/outages/{outage_id}/note",
        json={"note": "x"},
        headers={"Authorization": f"Bearer {VIETTEL}"},
    )
    assert api.status == 403 and "noc" in (await api.json())["error"]
    ended = await client.post("/maintenance/any/end", data={"csrf": "0"})
    assert ended.status == 403


async def test_noc_creates_extends_and_ends_a_window_in_the_browser(
    served: tuple[Service, Client],
) -> None:
    service, client = served
    await sign_in(client, NOC)
    page = await (await client.get("/maintenance?target=vn&lang=vi")).text()
    assert 'value="target=vn"' in page and "Asia/Ho_Chi_Minh" in page
    token = csrf_of(page)
    now = time.time()
    form = {
        "csrf": token,
        "name": "thay-cap-vn",
        "match": "target=vn",
        "start": local(now - 60),
        "end": local(now + 3600),
        "comment": "Thay cáp quang <b>VNPT</b>",
    }
    resp = await client.post("/maintenance?lang=vi", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    listed = await (await client.get(resp.headers["Location"])).text()
    assert "Đã lưu lịch bảo trì thay-cap-vn" in listed
    assert "Thay cáp quang &lt;b&gt;VNPT&lt;/b&gt;" in listed  # the comment, escaped
    windows = {w["name"]: w for w in service.alerts.maintenance()}
    window = windows["thay-cap-vn"]
    assert window["author"] == "noc" and window["active"] and window["match"] == {"target": ["vn"]}
    # The card and the target page show the comment.
    board = await (await client.get("/")).text()
    card = re.split(r'<li class="card[^"]*" data-target="vn"', board)[1].split("</li>", 1)[0]
    assert "Bảo trì" in card and "Thay cáp quang &lt;b&gt;VNPT&lt;/b&gt;" in card

    # Extend to three hours from now.
    extend = {"csrf": token, "extend": "1", "name": "thay-cap-vn", "end": local(now + 3 * 3600)}
    resp = await client.post("/maintenance?lang=en", data=extend, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    window = {w["name"]: w for w in service.alerts.maintenance()}["thay-cap-vn"]
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00")).timestamp()
    assert abs(end - (now + 3 * 3600)) < 61
    assert window["comment"] == "Thay cáp quang <b>VNPT</b>"  # kept as it was

    # End it now: gone from the open ones, kept (cut at now) for the report.
    resp = await client.post(
        "/maintenance/thay-cap-vn/end?lang=en", data={"csrf": token}, allow_redirects=False
    )
    assert resp.status == 303
    assert "ended" in await (await client.get(resp.headers["Location"])).text()
    assert "thay-cap-vn" not in {w["name"] for w in service.alerts.maintenance()}
    kept = await service.alerts.db.run(db.load_windows, write=False)
    assert [(w.name, w.author) for w in kept] == [("thay-cap-vn", "noc")]
    assert kept[0].span[1] <= time.time() + 1
    report = await (await client.get("/api/v1/report?from=2000-01-01T00:00:00Z&format=json")).json()
    listed_windows = report["maintenance_windows"]
    assert [(w["name"], w["author"]) for w in listed_windows] == [("thay-cap-vn", "noc")]
    assert listed_windows[0]["comment"] == "Thay cáp quang <b>VNPT</b>"


async def test_forged_form_posts_are_refused(served: tuple[Service, Client]) -> None:
    service, client = served
    await sign_in(client, NOC)
    token = csrf_of(await (await client.get("/maintenance")).text())
    now = time.time()
    form = {
        "name": "gia-mao",
        "match": "target=vn",
        "start": local(now),
        "end": local(now + 600),
    }
    no_token = await client.post("/maintenance", data=form)
    assert no_token.status == 403 and "token" in await no_token.text()
    wrong = await client.post("/maintenance", data={**form, "csrf": "0" * 64})
    assert wrong.status == 403
    other_site = await client.post(
        "/maintenance",
        data={**form, "csrf": token},
        headers={"Origin": "http://evil.test", "Sec-Fetch-Site": "cross-site"},
    )
    assert other_site.status == 403
    # Another session's token does not do either.
    await sign_in(client, NOC)
    stale = await client.post("/maintenance", data={**form, "csrf": token})
    assert stale.status == 403
    assert "gia-mao" not in {w["name"] for w in service.alerts.maintenance()}


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_bad_windows_are_refused_with_the_reason(
    served: tuple[Service, Client], lang: str
) -> None:
    service, client = served
    await sign_in(client, NOC)
    token = csrf_of(await (await client.get(f"/maintenance?lang={lang}")).text())
    now = time.time()
    cases = {
        "ends in the past": (local(now - 7200), local(now - 3600), "target=vn"),
        "end is not after start": (local(now + 7200), local(now + 3600), "target=vn"),
        "longer than [alerts] max_maintenance (7d)": (
            local(now + 60),
            local(now + 8 * 86400),
            "target=vn",
        ),
        "is not label=value": (local(now + 60), local(now + 600), "vn"),
        "is not a time": ("mai", local(now + 600), "target=vn"),
    }
    for reason, (start, end, match) in cases.items():
        form = {"csrf": token, "name": "sai", "match": match, "start": start, "end": end}
        resp = await client.post(f"/maintenance?lang={lang}", data=form)
        page = await resp.text()
        assert resp.status == 400, reason
        assert reason in page.replace("&#39;", "'"), (reason, page[:2000])
        assert 'value="sai"' in page  # what was typed stays in the form
    assert "sai" not in {w["name"] for w in service.alerts.maintenance()}
    # The API says the same.
    bearer = {"Authorization": f"Bearer {NOC}"}
    for body, reason in (
        ({"end": "2020-01-01T00:00:00+07:00", "start": "2019-12-31T00:00:00+07:00"}, "past"),
        ({"duration": "8d"}, "longer than [alerts] max_maintenance (7d)"),
    ):
        resp = await client.post(
            "/api/v1/maintenance",
            json={"name": "sai", "match": {"target": ["vn"]}, **body},
            headers=bearer,
        )
        assert resp.status == 400 and reason in (await resp.json())["error"]
    author = await client.post(
        "/api/v1/maintenance",
        json={"name": "x", "match": {"target": ["vn"]}, "duration": "1h", "author": "someone"},
        headers=bearer,
    )
    assert author.status == 400 and "author" in (await author.json())["error"]
    made = await client.post(
        "/api/v1/maintenance",
        json={"name": "x", "match": {"target": ["vn"]}, "duration": "7d"},
        headers=bearer,
    )
    assert made.status == 201 and (await made.json())["author"] == "noc"


async def test_notes_through_the_api_and_the_page_are_plain_text(
    served: tuple[Service, Client],
) -> None:
    service, client = served
    outage_id = await vn_outage(service)
    bearer = {"Authorization": f"Bearer {NOC}"}

    async def note(text: str) -> Any:
        return await client.post(
            f"/api/v1/outages/{outage_id}/note", json={"note": text}, headers=bearer
        )

    huge = await note("x" * 100_000)
    assert huge.status == 400 and f"at most {NOTE_MAX} characters" in (await huge.json())["error"]
    assert (await note("   ")).status == 400
    assert (await note("a\x00b")).status == 400
    unknown = await client.post("/api/v1/outages/999999/note", json={"note": "x"}, headers=bearer)
    assert unknown.status == 404
    for bad in ("187330571653066940292792320", "0", "-1", "x", "9223372036854775808"):
        resp = await client.post(f"/api/v1/outages/{bad}/note", json={"note": "x"}, headers=bearer)
        assert resp.status == 404, bad  # never a 5xx: an id SQLite cannot hold is no outage
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> Cáp đứt ở Km 12'
    answer = await note(hostile)
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["id"] == outage_id and body["note"]["text"] == hostile
    assert body["note"]["by"] == "noc"
    # In the ledger, and in the API's answers.
    outages = await (await client.get("/api/v1/outages?target=vn", headers=bearer)).json()
    assert outages["outages"][0]["note"]["text"] == hostile

    await sign_in(client, NOC)
    page = await (await client.get("/targets/vn")).text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    board = await (await client.get("/")).text()
    card = re.split(r'<li class="card[^"]*" data-target="vn"', board)[1].split("</li>", 1)[0]
    assert "✎ Ghi chú: &lt;script&gt;" in card  # the card's marker, escaped and cut short
    report = await (
        await client.get("/api/v1/report?from=2000-01-01T00:00:00Z&format=html&lang=en")
    ).text()
    assert "<script>alert" not in report and "&lt;script&gt;alert" in report
    csv_text = await (
        await client.get("/api/v1/report?from=2000-01-01T00:00:00Z&format=csv&lang=en")
    ).text()
    assert hostile.replace('"', '""') in csv_text

    # The page's form: a note too long is refused with the reason; a good one is kept.
    token = csrf_of(page)
    too_long = await client.post(
        f"/outages/{outage_id}/note?lang=en", data={"csrf": token, "note": "y" * (NOTE_MAX + 1)}
    )
    assert too_long.status == 400
    assert f"at most {NOTE_MAX} characters" in await too_long.text()
    saved = await client.post(
        f"/outages/{outage_id}/note?lang=en",
        data={"csrf": token, "note": "Đã gọi VNPT, hẹn 15:00"},
        allow_redirects=False,
    )
    assert saved.status == 303 and saved.headers["Location"].startswith("/targets/vn?lang=en")
    page = await (await client.get("/targets/vn?lang=en")).text()
    assert "Đã gọi VNPT, hẹn 15:00" in page
    forged = await client.post(f"/outages/{outage_id}/note", data={"note": "x"})
    assert forged.status == 403


def test_a_malformed_max_maintenance_names_the_key_and_exits_2(
    write_toml: Callable[..., Path],
) -> None:
    from tests.config.test_load import run_cli

    path = write_toml('[alerts]\nmax_maintenance = "a week"\n')
    proc = run_cli("check-config", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "alerts.max_maintenance" in proc.stderr and "Traceback" not in proc.stderr
    path = write_toml('[alerts]\nmax_maintenance = "10s"\n')  # under the minute it must be
    proc = run_cli("check-config", str(path))
    assert proc.returncode == 2 and "alerts.max_maintenance" in proc.stderr


async def test_a_devices_circuit_outage_takes_a_note_on_the_devices_page(
    tmp_path: Path,
) -> None:
    """The Viettel uplink of a router, down while the router answers: its outage is listed
    on the router's page (named by its circuit), takes a note there, and the router's card
    carries the note's marker."""
    from monitor.config import parse_settings
    from probes.base import Sample

    raw = {
        "server": {"state_dir": str(tmp_path / "state")},
        "targets": [
            {
                "name": "router",
                "kind": "snmp",
                "host": "127.0.3.9",
                "group": "carrier",
                "labels": {"carrier": "viettel"},
                "snmp": {
                    "community": "netmon-lab",
                    "circuits": [{"name": "viettel-uplink", "ifName": "ge-0/0/0"}],
                },
            }
        ],
        "access": {"tokens": TOKENS},
    }
    service = Service(parse_settings(raw, tmp_path))
    await service.start()
    labels = (("ifIndex", "1"), ("ifName", "ge-0/0/0"), ("circuit", "viettel-uplink"))
    poll = ProbeResult(
        True,
        None,
        "polled",
        (Sample("ifOperStatus", 2.0, labels), Sample("ifAdminStatus", 1.0, labels)),
    )
    service.store.record("router", Observation(poll, time.time(), 0.01))
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            outages: list[Any] = []
            for _ in range(100):
                outages = await service.alerts.outages(device="router")
                if outages:
                    break
                await service.alerts.db.run(lambda c: None)
            assert [o.target for o in outages] == ["router/viettel-uplink"]
            await sign_in(client, NOC)
            page = await (await client.get("/targets/router?lang=en")).text()
            assert "<b>viettel-uplink</b>" in page
            resp = await client.post(
                f"/outages/{outages[0].id}/note?lang=en",
                data={"csrf": csrf_of(page), "note": "Viettel: cáp đứt ở Km 12"},
                allow_redirects=False,
            )
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/targets/router?lang=en")
            board = await (await client.get("/?lang=en")).text()
            card = re.split(r'<li class="card[^"]*" data-target="router"', board)[1]
            card = card.split("</li>", 1)[0]
            assert "✎ Note: Viettel: cáp đứt ở Km 12" in card
    finally:
        await service.aclose()


async def test_the_forms_work_for_the_labs_anonymous_noc_and_still_need_the_token(
    tmp_path: Path,
) -> None:
    """``[access] anonymous = "noc"`` (and the lab's "auto" on loopback): no session to sign
    in with, so the token is bound to none, yet a post without the page's token is refused."""
    service = Service(web_settings(tmp_path, anonymous="noc"))
    await service.start()
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            page = await (await client.get("/maintenance?lang=en")).text()
            now = time.time()
            form = {
                "name": "an-danh",
                "match": "target=vt",
                "start": local(now),
                "end": local(now + 600),
            }
            refused = await client.post("/maintenance", data=form)
            assert refused.status == 403
            made = await client.post(
                "/maintenance", data={**form, "csrf": csrf_of(page)}, allow_redirects=False
            )
            assert made.status == 303, await made.text()
            window = {w["name"]: w for w in service.alerts.maintenance()}["an-danh"]
            assert window["author"] == "anonymous"
    finally:
        await service.aclose()
