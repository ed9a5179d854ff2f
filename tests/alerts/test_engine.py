"""The engine end to end in one process: real probes of loopback HTTP targets flipped between
healthy and failing, real webhook receivers, SQLite under a temporary state_dir. Time is a
``FakeClock`` the tests move a step at a time, so no test waits for the real one.

Cases: fire and resolve, a phase switch mid-outage, a parent down with 20 children, a flapping
target, maintenance windows, a receiver down for a while, the outage ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from alerts.notify.webhook import sign
from monitor.web.app import make_app
from tests.support.alerts import (
    FakeClock,
    alert_states,
    metric,
    running,
    sink_server,
    targets_server,
    until,
    webhook_alerts,
    write_settings,
)

# The test targets fail with HTTP 503, which pages HttpStatusError and mutes TargetDown
# (tests/alerts/test_inhibit.py); these tests are about TargetDown's own life.
NO_STATUS_RULE = {"name": "HttpStatusError", "enabled": False}


async def test_fire_then_resolve_with_signature_and_ledger(tmp_path: Path) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as sink:
        alerts = webhook_alerts(("noc", sink.url))
        alerts["rules"] = [NO_STATUS_RULE]
        alerts["receivers"]["noc"]["secret"] = "bí-mật-hmac"
        path = write_settings(
            tmp_path / "s.toml",
            [web.target("cong-thong-tin", labels={"site": "tinh"})],
            alerts,
        )
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "a first good probe",
                lambda: (s := service.store.get("cong-thong-tin")) and s.latest,
            )
            web.modes["cong-thong-tin"] = "fail"
            await until(
                clock,
                service,
                "the firing page",
                lambda: sink.kinds("cong-thong-tin") == ["firing"],
            )
            alert = sink.alerts("firing")[0]
            assert alert["labels"] == {
                "alertname": "TargetDown",
                "severity": "warning",
                "phase": "none",
                "target": "cong-thong-tin",
                "kind": "http",
                "group": "website",
                "site": "tinh",
            }
            annotations = alert["annotations"]
            # An HTTP fault is "sự cố", not "mất kết nối" (the NOC's glossary, issue 12).
            assert annotations["summary_vi"] == "cong-thong-tin gặp sự cố: máy chủ trả mã HTTP lỗi"
            assert annotations["summary_en"] == "cong-thong-tin answers with an HTTP error"
            assert annotations["evidence_vi"] == "máy chủ trả mã HTTP 503"
            assert annotations["evidence_en"] == "the server answered HTTP 503"
            # The webhook's own language (the server's: vi) for the plain keys.
            assert annotations["summary"] == annotations["summary_vi"]
            assert annotations["title"] == "cong-thong-tin"  # no title set: the name
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"
            # HMAC-SHA256 over the exact body, and the outbox id for de-duplication.
            headers, body = sink.headers[0], sink.bodies[0]
            assert headers["X-Netmon-Signature"] == sign("bí-mật-hmac".encode(), body)
            expected = hmac.new("bí-mật-hmac".encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Netmon-Signature"] == "sha256=" + expected
            assert (
                headers["X-Netmon-Notification-Id"] == sink.requests[0]["netmon"]["notification_id"]
            )
            api = alert_states(service)[("cong-thong-tin", "TargetDown")]
            assert api["state"] == "firing" and api["notified"] == ["noc"]
            assert metric(service, "netmon_alerts_firing", severity="warning") == 1

            web.modes["cong-thong-tin"] = "ok"
            await until(
                clock,
                service,
                "the resolved message",
                lambda: sink.kinds("cong-thong-tin") == ["firing", "resolved"],
            )
            resolved = sink.alerts("resolved")[0]
            assert resolved["status"] == "resolved"
            assert resolved["endsAt"] > resolved["startsAt"]
            assert ("cong-thong-tin", "TargetDown") not in alert_states(service)
            # The sink records a message before its answer reaches the dispatcher, which counts
            # the delivery only then.
            await until(
                clock,
                service,
                "the second delivery counted",
                lambda: (
                    metric(
                        service, "netmon_notifications_total", receiver="noc", outcome="delivered"
                    )
                    == 2
                ),
            )
            assert (
                metric(service, "netmon_notifications_total", receiver="noc", outcome="delivered")
                == 2
            )
            await until(
                clock,
                service,
                "an empty outbox",
                lambda: metric(service, "netmon_outbox_pending") == 0,
            )

            outages = await service.alerts.outages(target="cong-thong-tin")
            assert len(outages) == 1
            outage = outages[0]
            assert outage.reason == "status" and outage.end is not None
            assert outage.group == "website" and outage.labels == {"site": "tinh"}
            assert outage.phase is None
            assert await service.alerts.outages(group="carrier") == []
            later = outage.end + 3600
            assert await service.alerts.outages(since=later) == []
            assert len(await service.alerts.outages(since=outage.start - 1, until=later)) == 1


async def test_phase_switch_mid_outage_escalates(tmp_path: Path) -> None:
    clock = FakeClock()
    now = datetime.fromtimestamp(clock.time(), UTC)
    switch = now + timedelta(seconds=6)
    phases = [
        {
            "name": "truoc-dai-hoi",
            "title": "Trước Đại hội",
            "start": now - timedelta(hours=1),
            "end": switch,
        },
        {
            "name": "dai-hoi-tinh",
            "title": "Đại hội Đảng bộ tỉnh",
            "start": switch,
            "end": now + timedelta(hours=1),
        },
    ]
    async with targets_server() as web, sink_server() as noc, sink_server() as oncall:
        alerts = webhook_alerts(("noc", noc.url), ("oncall", oncall.url))
        alerts["routes"] = [{"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]}]
        alerts["rules"] = [
            {
                "name": "TargetDown",
                "failures": 3,
                "phases": {
                    "dai-hoi-tinh": {
                        "severity": "critical",
                        "failures": 1,
                        "receivers": ["noc", "oncall"],
                    }
                },
            },
            NO_STATUS_RULE,
        ]
        web.modes["venue-uplink"] = "fail"
        path = write_settings(
            tmp_path / "s.toml",
            [web.target("venue-uplink", group="carrier")],
            alerts,
            phases=phases,
        )
        async with running(path, clock) as service:
            await until(clock, service, "the warning page", lambda: noc.kinds() == ["firing"])
            first = noc.alerts()[0]["labels"]
            assert first["severity"] == "warning" and first["phase"] == "truoc-dai-hoi"
            assert oncall.requests == []
            # The congress opens while the uplink is still down: critical, to on-call as well.
            await until(
                clock, service, "the escalation", lambda: noc.kinds() == ["firing", "firing"], 15
            )
            await until(clock, service, "on-call's page", lambda: oncall.kinds() == ["firing"])
            for sink in (noc, oncall):
                labels = sink.alerts()[-1]["labels"]
                assert labels["severity"] == "critical" and labels["phase"] == "dai-hoi-tinh"
            api = alert_states(service)[("venue-uplink", "TargetDown")]
            assert api["phase"] == "dai-hoi-tinh" and api["severity"] == "critical"
            web.modes["venue-uplink"] = "ok"
            await until(clock, service, "noc's end", lambda: noc.kinds()[-1:] == ["resolved"])
            await until(
                clock, service, "on-call's end", lambda: oncall.kinds() == ["firing", "resolved"]
            )
            outages = await service.alerts.outages(target="venue-uplink")
            assert [o.phase for o in outages] == ["truoc-dai-hoi"]


async def test_pending_alert_fires_at_once_when_the_phase_says_so(tmp_path: Path) -> None:
    clock = FakeClock()
    now = datetime.fromtimestamp(clock.time(), UTC)
    switch = now + timedelta(seconds=4)
    phases = [{"name": "dai-hoi-tinh", "start": switch, "end": now + timedelta(hours=1)}]
    async with targets_server() as web, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [
            {"name": "TargetDown", "for": "1h", "phases": {"dai-hoi-tinh": {"for": "0s"}}},
            NO_STATUS_RULE,
        ]
        web.modes["press-room"] = "fail"
        path = write_settings(
            tmp_path / "s.toml", [web.target("press-room")], alerts, phases=phases
        )
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "pending",
                lambda: alert_states(service).get(("press-room", "TargetDown")),
            )
            assert alert_states(service)[("press-room", "TargetDown")]["state"] == "pending"
            assert noc.requests == []
            await until(
                clock,
                service,
                "the page once the phase began",
                lambda: noc.kinds() == ["firing"],
                15,
            )
            assert noc.alerts()[0]["labels"]["phase"] == "dai-hoi-tinh"


async def test_parent_down_with_twenty_children_pages_once(tmp_path: Path) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc:
        children = [f"xa-{i:02d}" for i in range(20)]
        targets = [web.target("uplink", group="carrier")]
        targets += [web.target(c, group="grassroots", depends_on=["uplink"]) for c in children]
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}, NO_STATUS_RULE]
        # The clock moves one interval (0.5 s) a step: each target is due once per step, so
        # nothing due is skipped between two looks, and 21 probes run per step, not 4.
        path = write_settings(tmp_path / "s.toml", targets, alerts, interval="500ms")
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "every target probed",
                lambda: all(
                    (s := service.store.get(n)) and s.latest for n in ["uplink", *children]
                ),
                step=0.5,
            )
            # The uplink is cut: it and everything behind it fail together.
            for name in ["uplink", *children]:
                web.modes[name] = "fail"
            await until(
                clock,
                service,
                "20 suppressed children",
                lambda: metric(service, "netmon_alerts_suppressed") == 20,
                step=0.5,
            )
            await until(
                clock,
                service,
                "the uplink's page",
                lambda: noc.kinds("uplink") == ["firing"],
                step=0.5,
            )
            states = alert_states(service)
            for child in children:
                assert states[(child, "TargetDown")]["held"] == "suppressed: parent uplink down"
                assert states[(child, "TargetDown")]["suppressed"] is True
            # A few more results of everyone: still one page.
            runs = metric(service, "netmon_probes_total", kind="http") or 0
            await until(
                clock,
                service,
                "more probes",
                lambda: (metric(service, "netmon_probes_total", kind="http") or 0) > runs + 63,
                step=0.5,
            )
            assert noc.kinds() == ["firing"], noc.kinds()
            # The uplink is back; four children are still down and page, one each.
            web.modes["uplink"] = "ok"
            for child in children[4:]:
                web.modes[child] = "ok"
            await until(
                clock, service, "the four pages", lambda: noc.kinds().count("firing") == 5, step=0.5
            )
            await until(
                clock,
                service,
                "the uplink's end",
                lambda: "resolved" in noc.kinds("uplink"),
                step=0.5,
            )
            paged = {a["labels"]["target"] for a in noc.alerts("firing")}
            assert paged == {"uplink", *children[:4]}
            runs = metric(service, "netmon_probes_total", kind="http") or 0
            await until(
                clock,
                service,
                "more probes",
                lambda: (metric(service, "netmon_probes_total", kind="http") or 0) > runs + 42,
                step=0.5,
            )
            assert noc.kinds().count("firing") == 5
            assert metric(service, "netmon_alerts_suppressed") == 0


async def test_flapping_target_sends_one_notice(tmp_path: Path) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}, NO_STATUS_RULE]
        alerts["flapping"] = {"settle": "1s"}  # quiet for 1 s (5 results) ends the episode
        # The clock moves one interval (0.2 s) a step: one flapping result per step.
        path = write_settings(
            tmp_path / "s.toml", [web.target("radio-ea-kao")], alerts, interval="200ms"
        )
        async with running(path, clock) as service:
            web.modes["radio-ea-kao"] = "flap"
            await until(
                clock,
                service,
                "the flapping notice",
                lambda: "flapping" in noc.kinds(),
                20,
                step=0.2,
            )
            api = alert_states(service)[("radio-ea-kao", "TargetDown")]
            assert api["flapping"] is True
            assert metric(service, "netmon_alerts_flapping") == 1
            before = noc.kinds()
            runs = metric(service, "netmon_probes_total", kind="http") or 0
            await until(
                clock,
                service,
                "20 more flapping results",
                lambda: (metric(service, "netmon_probes_total", kind="http") or 0) > runs + 20,
                step=0.2,
            )
            assert noc.kinds() == before, "pages went out while flapping"
            assert noc.kinds().count("flapping") == 1
            # Pages before the notice are those of the first few changes, before 30 % was
            # crossed; after it, nothing until the target settles.
            assert before[-1] == "flapping"
            web.modes["radio-ea-kao"] = "ok"
            await until(
                clock,
                service,
                "the end once it settled",
                lambda: noc.kinds()[-1] == "resolved",
                20,
                step=0.2,
            )
            assert noc.kinds().count("flapping") == 1
            assert metric(service, "netmon_alerts_flapping") == 0


async def test_maintenance_windows_mute_by_match(tmp_path: Path) -> None:
    # A minute ahead of the real time: the API opens a window at the real "now" (no start
    # given), which must have begun on this clock too.
    clock = FakeClock(time.time() + 60)
    now = datetime.fromtimestamp(clock.time(), UTC)
    async with targets_server() as web, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}, NO_STATUS_RULE]
        alerts["maintenance"] = [
            {
                "name": "nang-cap-switch",
                "match": {"target": ["venue-switch"]},
                "start": now - timedelta(minutes=5),
                "end": now + timedelta(hours=1),
                "comment": "Nâng cấp firmware",
            }
        ]
        targets = [web.target("venue-switch", group="venue"), web.target("so-khcn")]
        path = write_settings(tmp_path / "s.toml", targets, alerts)
        async with (
            running(path, clock) as service,
            TestClient(TestServer(make_app(service), host="127.0.0.1")) as client,
        ):
            resp = await client.post(
                "/api/v1/maintenance",
                json={
                    "name": "sua-website",
                    "match": {"target": ["so-khcn"]},
                    "duration": "1h",
                    "comment": "Sửa giao diện",
                },
            )
            assert resp.status == 201, await resp.text()
            bad = await client.post("/api/v1/maintenance", json={"name": "x", "match": {}})
            assert bad.status == 400
            clash = await client.post(
                "/api/v1/maintenance",
                json={
                    "name": "nang-cap-switch",
                    "match": {"target": ["so-khcn"]},
                    "duration": "1h",
                },
            )
            assert clash.status == 409
            listed = (await (await client.get("/api/v1/maintenance")).json())["maintenance"]
            assert {w["name"]: w["active"] for w in listed} == {
                "nang-cap-switch": True,
                "sua-website": True,
            }
            web.modes["venue-switch"] = "fail"
            web.modes["so-khcn"] = "fail"
            await until(
                clock,
                service,
                "both held",
                lambda: metric(service, "netmon_alerts_in_maintenance") == 2,
            )
            states = alert_states(service)
            assert states[("venue-switch", "TargetDown")]["held"] == "maintenance: nang-cap-switch"
            assert states[("so-khcn", "TargetDown")]["held"] == "maintenance: sua-website"
            api = await (await client.get("/api/v1/alerts?state=firing")).json()
            assert {a["target"] for a in api["alerts"]} == {"venue-switch", "so-khcn", None}
            assert {a["rule"] for a in api["alerts"] if a["target"] is None} == {"Watchdog"}
            assert noc.requests == []
            # The website's window ends early: its alert pages now; the switch stays muted.
            resp = await client.delete("/api/v1/maintenance/sua-website")
            assert resp.status == 200
            assert (await client.delete("/api/v1/maintenance/sua-website")).status == 404
            assert (await client.delete("/api/v1/maintenance/nang-cap-switch")).status == 409
            await until(
                clock, service, "the website's page", lambda: noc.kinds("so-khcn") == ["firing"]
            )
            assert noc.kinds("venue-switch") == []
            outages = await service.alerts.outages(target="venue-switch")
            assert outages[0].maintenance == "nang-cap-switch"
            ledger = await (await client.get("/api/v1/outages?group=venue")).json()
            assert [o["target"] for o in ledger["outages"]] == ["venue-switch"]
            assert ledger["outages"][0]["maintenance"] == "nang-cap-switch"
            assert (await client.get("/api/v1/outages?since=yesterday")).status == 400


async def test_receiver_down_then_back_gets_each_notification_once(tmp_path: Path) -> None:
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}, NO_STATUS_RULE]
        names = ["site-a", "site-b", "site-c"]
        path = write_settings(tmp_path / "s.toml", [web.target(n) for n in names], alerts)
        async with running(path, clock) as service:
            noc.status = 503  # the receiver is down
            for name in names:
                web.modes[name] = "fail"
            await until(
                clock,
                service,
                "three firing alerts",
                lambda: metric(service, "netmon_alerts_firing", severity="warning") == 3,
            )
            web.modes["site-a"] = "ok"  # one recovers while the receiver is still down
            await until(
                clock,
                service,
                "retries",
                lambda: (
                    (
                        metric(
                            service, "netmon_notifications_total", receiver="noc", outcome="retry"
                        )
                        or 0
                    )
                    >= 3
                ),
            )
            await until(
                clock, service, "four queued", lambda: metric(service, "netmon_outbox_pending") == 4
            )
            noc.status = 200  # back
            await until(
                clock,
                service,
                "an empty outbox",
                lambda: metric(service, "netmon_outbox_pending") == 0,
            )
            ids = [r["netmon"]["notification_id"] for r in noc.requests]
            assert len(ids) == len(set(ids)) == 4
            assert noc.kinds("site-a") == ["firing", "resolved"]  # in order
            assert noc.kinds("site-b") == noc.kinds("site-c") == ["firing"]
            assert (
                metric(service, "netmon_notifications_total", receiver="noc", outcome="delivered")
                == 4
            )
            assert (
                metric(service, "netmon_notifications_total", receiver="noc", outcome="dropped")
                == 0
            )


async def test_alert_api_roles(tmp_path: Path) -> None:
    clock = FakeClock()
    digest = {name: hashlib.sha256(name.encode()).hexdigest() for name in ("noc-t", "viettel-t")}
    async with targets_server() as web, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1}, NO_STATUS_RULE]
        targets = [
            web.target("viettel-uplink", group="carrier", labels={"carrier": "viettel"}),
            web.target("vnpt-uplink", group="carrier", labels={"carrier": "vnpt"}),
        ]
        path = write_settings(tmp_path / "s.toml", targets, alerts)
        text = path.read_text() + (
            f'[[access.tokens]]\nname = "noc"\nrole = "noc"\nsha256 = "{digest["noc-t"]}"\n'
            f'[[access.tokens]]\nname = "viettel"\nrole = "operator"\n'
            f'scope = {{ carrier = "viettel" }}\nsha256 = "{digest["viettel-t"]}"\n'
        )
        path.write_text(text)
        web.modes["viettel-uplink"] = web.modes["vnpt-uplink"] = "fail"
        async with (
            running(path, clock) as service,
            TestClient(TestServer(make_app(service), host="127.0.0.1")) as client,
        ):
            await until(clock, service, "two pages", lambda: len(noc.kinds()) == 2)
            as_noc = {"Authorization": "Bearer noc-t"}
            as_viettel = {"Authorization": "Bearer viettel-t"}
            assert (await client.get("/api/v1/alerts")).status == 401
            seen = await (await client.get("/api/v1/alerts", headers=as_viettel)).json()
            assert [a["target"] for a in seen["alerts"]] == ["viettel-uplink"]
            everything = await (await client.get("/api/v1/alerts", headers=as_noc)).json()
            assert {a["target"] for a in everything["alerts"]} >= {"viettel-uplink", "vnpt-uplink"}
            ledger = await (await client.get("/api/v1/outages", headers=as_viettel)).json()
            assert {o["target"] for o in ledger["outages"]} == {"viettel-uplink"}
            window = {"name": "m", "match": {"carrier": ["viettel"]}, "duration": "10m"}
            resp = await client.post("/api/v1/maintenance", json=window, headers=as_viettel)
            assert resp.status == 403
            assert (await client.post("/api/v1/maintenance", json=window)).status == 401
            resp = await client.post("/api/v1/maintenance", json=window, headers=as_noc)
            assert resp.status == 201
            resp = await client.delete("/api/v1/maintenance/m", headers=as_noc)
            assert resp.status == 200


async def test_lab_defacement_and_missing_banner(tmp_path: Path) -> None:
    """The lab's own faults: `deface` pages PageDefaced (critical), `banner-gone` pages
    BannerMissing, each on sites served by an embedded lab on addresses of its own."""
    from monitor.lab.inventory import BANNER, Site
    from monitor.lab.server import Lab
    from tests.support.common import free_port

    host = "127.0.8.1"
    sites = [
        Site("cong-thong-tin", "Cổng thông tin", host, "a.lab", "UBND", banner=True,
             port=free_port(host)),
        Site("so-khcn", "Sở KH&CN", "127.0.8.2", "b.lab", "Sở", port=free_port("127.0.8.2")),
    ]  # fmt: skip
    lab = Lab(
        tmp_path / "lab",
        control=None,
        sites=sites,
        icmp_hosts=[],
        dns_address=(host, free_port(host)),
        smtp_address=(host, free_port(host)),
        nft_table="netmon_test_alerts",
        snmp_devices=[],
        trap_address=None,
    )
    clock = FakeClock()
    async with lab, sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "enabled": False}]
        forbidden = ["hacked", "Hacked by"]
        targets = [
            {"name": "cong-thong-tin", "kind": "http", "url": sites[0].url, "group": "website",
             "http": {"body_contains": [BANNER], "body_absent": forbidden}},
            {"name": "so-khcn", "kind": "http", "url": sites[1].url, "group": "website",
             "http": {"body_absent": forbidden}},
        ]  # fmt: skip
        path = write_settings(tmp_path / "s.toml", targets, alerts)
        async with running(path, clock) as service:
            await lab.fail("so-khcn", "deface")
            await until(clock, service, "PageDefaced", lambda: noc.kinds("so-khcn") == ["firing"])
            assert noc.alerts()[0]["labels"]["alertname"] == "PageDefaced"
            assert noc.alerts()[0]["labels"]["severity"] == "critical"
            await lab.fail("cong-thong-tin", "banner-gone")
            await until(
                clock,
                service,
                "BannerMissing",
                lambda: noc.kinds("cong-thong-tin", "BannerMissing") == ["firing"],
            )
            summary = noc.alerts()[-1]["annotations"]["summary_vi"]
            assert "băng rôn" in summary or "Đại hội" in summary
            await lab.heal("so-khcn")
            await until(
                clock, service, "the end", lambda: noc.kinds("so-khcn") == ["firing", "resolved"]
            )


async def test_a_receiver_added_by_a_reload_never_gets_an_end_alone(tmp_path: Path) -> None:
    """Issue 12: after a reload that added receivers, they got RESOLVED for alerts they never
    saw fire. A receiver added while an alert fires hears the firing first (at the next
    repeat check), or nothing."""
    clock = FakeClock()
    async with targets_server() as web, sink_server() as noc, sink_server() as sms:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["rules"] = [{"name": "TargetDown", "failures": 1, "recoveries": 1}, NO_STATUS_RULE]
        path = write_settings(tmp_path / "s.toml", [web.target("so-tt-tt")], alerts)
        async with running(path, clock) as service:
            web.modes["so-tt-tt"] = "fail"
            await until(clock, service, "the page", lambda: noc.kinds("so-tt-tt") == ["firing"])
            wider = webhook_alerts(("noc", noc.url), ("sms", sms.url))
            wider["rules"] = alerts["rules"]
            write_settings(
                path,
                [web.target("so-tt-tt")],
                wider,
                listen=service.settings.server.listen,
                state_dir=Path(service.settings.server.state_dir),
            )
            assert await service.reload() == []
            web.modes["so-tt-tt"] = "ok"
            await until(
                clock, service, "the end", lambda: noc.kinds("so-tt-tt") == ["firing", "resolved"]
            )
            await clock.advance(11.0, step=0.5)
            await until(clock, service, "quiet", lambda: True)
            assert sms.kinds("so-tt-tt") in ([], ["firing", "resolved"])
