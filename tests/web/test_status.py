"""The status page's data (monitor/web/status.py): one state per target by precedence
(maintenance > suppressed > down > degraded > up; unknown before the first probe), since when,
the reason and what fills its words, the figures per probe kind, and the operator's scope.

States come from a real Store fed real ProbeResults; the scope tests run a real Service (its
AlertEngine fed by the same store, no scheduler, no probe) on a FakeClock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.model import iso
from monitor.config import Target, parse_settings
from monitor.config.access import Principal
from monitor.core import i18n
from monitor.runtime.service import Service
from monitor.runtime.store import Observation, Store, TargetState
from monitor.web.status import (
    Board,
    Figures,
    board,
    figures,
    observation_json,
    target_json,
    view_target,
    visible_alerts,
)
from probes.base import ProbeResult, Sample
from tests.support.clock import FakeClock
from tests.support.common import free_port

T0 = datetime(2025, 10, 14, 1, 0, tzinfo=UTC).timestamp()  # 08:00 in Ha Noi

ADMIN = Principal("admin", "admin")
NOC = Principal("noc", "noc")
VIETTEL_OP = Principal("viettel", "operator", {"carrier": ("viettel",)})


def target(name: str, **more: Any) -> Target:
    data: dict[str, Any] = {"name": name, "kind": "icmp", "host": "127.0.2.1", **more}
    return Target.model_validate(data)


def web(name: str, **more: Any) -> Target:
    return target(name, kind="http", host=None, url="https://127.0.1.3:8443/", **more)


def ok(*samples: Sample) -> ProbeResult:
    return ProbeResult(True, None, "fine", samples)


def failed(reason: str | None = "timeout", *samples: Sample) -> ProbeResult:
    return ProbeResult(False, reason, "no answer", samples)


def loss(ratio: float) -> Sample:
    return Sample("probe_icmp_packet_loss_ratio", ratio)


def expiry(days: float, at: float = T0) -> Sample:
    return Sample("probe_ssl_earliest_cert_expiry", at + days * 86400)


def states(
    *rows: tuple[Target, tuple[ProbeResult, ...]], start: float = T0, step: float = 10.0
) -> dict[str, TargetState]:
    """A real store, each target's results recorded ``step`` seconds apart from ``start``."""
    store = Store()
    store.set_targets([t for t, _ in rows])
    for t, results in rows:
        for i, result in enumerate(results):
            store.record(t.name, Observation(result, start + i * step, 0.05))
    return {s.target.name: s for s in store}


def one(t: Target, *results: ProbeResult, start: float = T0) -> TargetState:
    return states((t, results), start=start)[t.name]


def view(state: TargetState, **kw: Any) -> Any:
    args: dict[str, Any] = {"parents": {}, "windows": [], "alerts": [], "principal": ADMIN}
    args.update(kw)
    return view_target(state, **args)


def window(name: str, match: dict[str, list[str]], *, active: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "match": match,
        "start": iso(T0 - 3600),
        "end": iso(T0 + 3600),
        "active": active,
    }


def firing(target_name: str, rule: str = "HighLatency", **more: Any) -> dict[str, Any]:
    return {
        "target": target_name,
        "rule": rule,
        "state": "firing",
        "severity": "warning",
        "held": None,
        "since": iso(T0 - 600),
        "annotations": {
            "summary_vi": f"{target_name} trễ cao",
            "summary_en": f"{target_name} slow",
        },
        **more,
    }


# --------------------------------------------------------------------------- precedence


def test_maintenance_comes_before_everything() -> None:
    family = states(
        (target("core"), (failed(),)),
        (target("wifi", depends_on=["core"]), (failed(),)),
        (target("lossy"), (ok(loss(0.3)),)),
        (target("fresh"), ()),
    )
    windows = [window("nang-cap", {"target": sorted(family)})]
    for name in ("wifi", "core", "lossy", "fresh"):
        v = view(family[name], parents=family, windows=windows)
        assert (v.state, v.reason, v.maintenance) == ("maintenance", "maintenance", "nang-cap"), (
            name
        )
        assert v.fields == {"window": "nang-cap"}
        assert v.reason_text("vi") == "đang bảo trì (nang-cap)"
    # The probe's own state still shows under the window.
    assert view(family["wifi"], parents=family, windows=windows).probe_state == "down"
    assert view(family["fresh"], parents=family, windows=windows).probe_state == "unknown"


def test_a_window_counts_only_when_active_and_matching() -> None:
    down = one(target("d", labels={"carrier": "vnpt"}), failed())
    assert view(down, windows=[window("w", {"carrier": ["vnpt"]}, active=False)]).state == "down"
    assert view(down, windows=[window("w", {"carrier": ["viettel"]})]).state == "down"
    assert view(down, windows=[window("w", {"target": ["d"]})]).state == "maintenance"
    # The first active matching window names it.
    both = [window("a", {"target": ["x"]}), window("b", {"carrier": ["vnpt"]})]
    assert view(down, windows=both).maintenance == "b"


def test_suppressed_comes_before_down() -> None:
    family = states(
        (target("core"), (failed(),)),
        (target("up-core"), (ok(),)),
        (target("wifi", depends_on=["up-core", "core"]), (failed("refused"),)),
        (target("lone", depends_on=["up-core"]), (failed("refused"),)),
    )
    v = view(family["wifi"], parents=family)
    assert (v.state, v.probe_state, v.reason, v.suppressed_by) == (
        "suppressed",
        "down",
        "parent_down",
        "core",
    )
    assert v.fields == {"parent": "core"}
    assert v.reason_text("en") == "parent core is down"
    assert v.reason_text("vi") == "thiết bị cấp trên core mất kết nối"
    assert v.depends_on == ("up-core", "core")
    # Its parents are up: it is down on its own, and says why.
    v = view(family["lone"], parents=family)
    assert (v.state, v.reason, v.suppressed_by) == ("down", "refused", None)
    # A parent the store does not know (another shard) suppresses nothing.
    orphan = one(target("far", depends_on=["elsewhere"]), failed())
    assert view(orphan, parents={"far": orphan}).state == "down"


def test_down_comes_before_degraded() -> None:
    # A failed ICMP probe carries its loss; a down target with a firing alert of its own is
    # still down, not degraded by the alert.
    v = view(one(target("d"), failed("timeout", loss(1.0))), alerts=[firing("d")])
    assert (v.state, v.reason) == ("down", "timeout")
    assert v.figures.loss == 1.0 and len(v.alerts) == 1
    assert v.reason_text("vi") == "không phản hồi (quá thời gian chờ)"
    # A failed result without a reason code still says something.
    v = view(one(target("e"), failed(None)))
    assert (v.state, v.reason, v.reason_text("en")) == ("down", "unknown", "failed: unknown")


def test_degraded_comes_before_up() -> None:
    assert view(one(target("a"), ok())).state == "up"
    assert view(one(target("a"), ok())).reason is None
    assert view(one(target("a"), ok(loss(0.0)))).state == "up"
    v = view(one(target("a"), ok(loss(0.25))))
    assert (v.state, v.reason, v.fields) == ("degraded", "packet_loss", {"loss": "25 %"})
    assert (v.reason_text("vi"), v.reason_text("en")) == ("mất gói 25 %", "25 % packet loss")
    # Loss is named before a certificate about to expire.
    v = view(one(web("w"), ok(loss(0.1), expiry(3))))
    assert v.reason == "packet_loss"


def test_a_firing_alert_of_its_own_degrades_unless_held() -> None:
    up = one(target("a"), ok())
    v = view(up, alerts=[firing("a")])
    assert (v.state, v.reason) == ("degraded", "alert")
    assert (v.reason_text("vi"), v.reason_text("en")) == ("a trễ cao", "a slow")
    held = firing("a", held="maintenance: w", hold={"kind": "maintenance", "window": "w"})
    assert view(up, alerts=[held]).state == "up"
    assert len(view(up, alerts=[held]).alerts) == 1  # still listed
    # Another target's alert, or one only pending, is not this target's trouble.
    assert view(up, alerts=[firing("b")]).state == "up"
    assert view(up, alerts=[firing("a", state="pending")]).alerts == ()
    # Without a summary the rule's name speaks.
    bare = {**firing("a"), "annotations": {}}
    assert view(up, alerts=[bare]).reason_text("en") == "HighLatency"
    # Loss is the probe's own finding: it comes before an alert.
    assert view(one(target("a"), ok(loss(0.5))), alerts=[firing("a")]).reason == "packet_loss"


def test_the_most_severe_alert_colours_and_words_the_card() -> None:
    """Issue 14: a router with its uplink down (warning, older) and its BGP session lost
    (critical, newer) shows the critical one, in red; an info alert never colours a card."""
    up = one(target("r"), ok())
    uplink = firing("r", "InterfaceDown", since=iso(T0 - 900))
    uplink["annotations"] = {"summary_vi": "r: cổng mất kết nối", "summary_en": "r: port down"}
    bgp = firing("r", "BgpPeerDown", severity="critical", since=iso(T0 - 300))
    bgp["annotations"] = {"summary_vi": "r: mất phiên BGP", "summary_en": "r: BGP down"}
    v = view(up, alerts=[uplink, bgp])
    assert (v.state, v.severity, v.reason_text("vi")) == (
        "degraded",
        "critical",
        "r: mất phiên BGP",
    )
    assert v.since == T0 - 300
    assert view(up, alerts=[uplink]).severity == "warning"
    restarted = firing("r", "AgentRestarted", severity="info")
    info = view(up, alerts=[restarted])
    assert (info.state, info.severity) == ("up", "")  # listed, not shown on the card
    assert len(info.alerts) == 1


def test_unknown_before_the_first_probe() -> None:
    v = view(one(target("new")))
    assert (v.state, v.probe_state, v.reason, v.since) == ("unknown", "unknown", "not_probed", None)
    assert (v.last_probe, v.duration, v.detail, v.figures) == (None, None, None, Figures())
    assert v.reason_text("vi") == "chưa đo lần nào"


# --------------------------------------------------------------------------- since


def test_since_is_when_the_shown_state_began() -> None:
    t = target("a")
    # up since the first good result after the last failure
    v = view(one(t, ok(), failed(), ok(), ok()))
    assert (v.state, v.since, v.last_probe) == ("up", T0 + 20, T0 + 30)
    # down since the first failure of the run
    v = view(one(t, ok(), failed(), failed()))
    assert (v.state, v.since) == ("down", T0 + 10)
    # degraded since the first of the trailing results degraded the same way: a clean result
    # or another reason in between starts it again
    v = view(one(t, ok(loss(0.2)), ok(), ok(loss(0.2)), ok(loss(0.4))))
    assert (v.state, v.since) == ("degraded", T0 + 20)
    w = web("w")
    v = view(one(w, ok(expiry(3)), ok(loss(0.2)), ok(loss(0.2))))
    assert (v.reason, v.since) == ("packet_loss", T0 + 10)
    # degraded by an alert: since the alert's condition began
    v = view(one(t, ok(), ok()), alerts=[firing("a")])
    assert (v.state, v.since) == ("degraded", T0 - 600)
    # by two: since the earliest paging one
    later = firing("a", rule="HighJitter", since=iso(T0 - 60))
    v = view(one(t, ok()), alerts=[later, firing("a")])
    assert v.since == T0 - 600
    # suppressed: since it went down
    family = states(
        (target("core"), (failed(),)), (target("b", depends_on=["core"]), (ok(), failed()))
    )
    assert view(family["b"], parents=family).since == T0 + 10
    # maintenance: since the window began
    v = view(one(t, failed()), windows=[window("m", {"target": ["a"]})])
    assert (v.since, v.maintenance_end) == (T0 - 3600, T0 + 3600)


# --------------------------------------------------------------------------- figures


def test_figures_per_kind() -> None:
    rtts = (
        Sample("probe_icmp_rtt_seconds", 0.010, (("stat", "min"),)),
        Sample("probe_icmp_rtt_seconds", 0.012, (("stat", "avg"),)),
        Sample("probe_icmp_rtt_seconds", 0.020, (("stat", "max"),)),
    )
    icmp = one(target("i"), ok(loss(0.0), *rtts))
    # ICMP: the average round trip and the loss; the probe's own duration is no response time
    assert figures(icmp.target, icmp.latest) == Figures(rtt=0.012, loss=0.0)
    status = Sample("probe_http_status_code", 200)
    http = one(web("h"), ok(status, expiry(90)))
    assert figures(http.target, http.latest) == Figures(
        response=0.05, http_status=200, cert_expiry=T0 + 90 * 86400
    )
    # No answer at all: status 0 is no status
    refused = one(web("h"), failed("refused", Sample("probe_http_status_code", 0)))
    assert figures(refused.target, refused.latest).http_status is None
    dns = target("d", kind="dns", dns={"query": "example.vn"})
    lookup = one(dns, ok(Sample("probe_dns_lookup_time_seconds", 0.003)))
    assert figures(dns, lookup.latest) == Figures(response=0.003)
    assert figures(dns, one(dns, ok()).latest) == Figures(response=0.05)
    for kind, extra in (
        ("tcp", {"tcp": {"port": 22}}),
        ("snmp", {"snmp": {"community": "public"}}),
    ):
        t = target("x", kind=kind, **extra)
        assert figures(t, one(t, ok()).latest) == Figures(response=0.05), kind
    assert figures(dns, None) == Figures()
    # The view carries the same figures, and the API rounds them.
    v = view(http)
    assert v.figures.http_status == 200 and v.duration == 0.05 and v.last_probe == T0
    body = target_json(view(icmp))
    assert (body["rtt_seconds"], body["loss_ratio"], body["duration_seconds"]) == (0.012, 0.0, 0.05)
    assert observation_json(http.target, http.history[0])["http_status"] == 200


def test_certificate_warning_follows_the_targets_own_threshold() -> None:
    v = view(one(web("w"), ok(expiry(20))))  # http's default: 21 days
    assert (v.state, v.fields) == ("degraded", {"days": "20"})
    assert v.reason_text("en") == "TLS certificate expires in 20 days"
    assert view(one(web("w"), ok(expiry(22)))).state == "up"
    short = web("w", http={"tls_expiry_warn": "7d"})
    assert view(one(short, ok(expiry(20)))).state == "up"
    assert view(one(short, ok(expiry(6.5)))).fields == {"days": "6"}
    tcp = target("t", kind="tcp", tcp={"port": 443})  # tcp has none of its own: http's default
    assert view(one(tcp, ok(expiry(20)))).state == "degraded"
    assert view(one(web("w"), ok(expiry(-2)))).fields == {"days": "0"}  # expired


# --------------------------------------------------------------------------- scope


def settings(tmp_path: Path) -> Any:
    raw: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "traps": {"enabled": False},  # not the shared 127.0.0.1:1162; nothing here needs it
        "targets": [
            {"name": "vnpt-core", "kind": "icmp", "host": "127.0.2.1",
             "labels": {"carrier": "vnpt"}},
            {"name": "viettel-link", "kind": "icmp", "host": "127.0.2.2",
             "labels": {"carrier": "viettel"}, "depends_on": ["vnpt-core"]},
            {"name": "viettel-core", "kind": "icmp", "host": "127.0.2.3",
             "labels": {"carrier": "viettel"}},
            {"name": "viettel-pop", "kind": "icmp", "host": "127.0.2.4",
             "labels": {"carrier": "viettel"}, "depends_on": ["viettel-core"]},
            {"name": "viettel-slow", "kind": "icmp", "host": "127.0.2.5",
             "labels": {"carrier": "viettel"}},
        ],
        "alerts": {
            # Nothing listens there: a page is queued (and named in ``notified``), never sent.
            "receivers": {"noc": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/"}},
            "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]}],
            "rules": [
                {"name": "TargetDown", "failures": 1},
                {"name": "HighLatency", "failures": 1},
            ]
        },
    }  # fmt: skip
    return parse_settings(raw, tmp_path)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    """The engine fed through the store, as the scheduler would: every target down but
    viettel-slow, which answers slowly (HighLatency fires)."""
    service = Service(settings(tmp_path), clock=FakeClock(wall=T0))
    await service.start()
    slow = ok(loss(0.0), Sample("probe_icmp_rtt_seconds", 0.4, (("stat", "avg"),)))
    try:
        for name in ("vnpt-core", "viettel-core", "viettel-link", "viettel-pop"):
            service.store.record(name, Observation(failed(), T0 - 30, 0.05))
        service.store.record("viettel-slow", Observation(slow, T0 - 30, 0.05))
        yield service
    finally:
        await service.aclose()


def test_the_engine_holds_as_the_page_says(service: Service) -> None:
    """What the scope tests below rest on: the engine fired and held as expected."""
    alerts = {(a["target"], a["rule"]): a for a in service.alerts.alerts_json()}
    assert alerts[("viettel-link", "TargetDown")]["hold"]["parent"] == "vnpt-core"
    assert alerts[("viettel-pop", "TargetDown")]["hold"]["parent"] == "viettel-core"
    assert alerts[("vnpt-core", "TargetDown")]["hold"] is None
    assert alerts[("viettel-slow", "HighLatency")]["state"] == "firing"


def test_the_noc_sees_everything_named(service: Service) -> None:
    seen = board(service, NOC, T0)
    assert {v.target.name for v in seen.views} == {t.name for t in service.settings.targets}
    link = seen.view("viettel-link")
    assert link is not None
    assert (link.state, link.suppressed_by, link.depends_on) == (
        "suppressed",
        "vnpt-core",
        ("vnpt-core",),
    )
    held = next(a for a in seen.alerts if a["target"] == "viettel-link")
    assert held["hold"]["parent"] == "vnpt-core"
    assert held["held"] == "suppressed: parent vnpt-core down"
    assert any(a["rule"] == "Watchdog" for a in seen.alerts)
    assert next(a for a in seen.alerts if a["target"] == "vnpt-core")["notified"] == ["noc"]
    slow = seen.view("viettel-slow")
    assert slow is not None and (slow.state, slow.reason) == ("degraded", "alert")
    assert slow.reason_text("vi") == "viettel-slow: độ trễ cao (400 ms)"
    assert slow.since == T0 - 30  # the alert's condition began with that result
    assert seen.view("nothing") is None and seen.now == T0 and seen.phase is None


def test_a_viettel_operator_never_sees_vnpt(service: Service) -> None:
    seen = board(service, VIETTEL_OP, T0)
    names = {v.target.name for v in seen.views}
    assert names == {"viettel-link", "viettel-core", "viettel-pop", "viettel-slow"}
    link = seen.view("viettel-link")
    assert link is not None
    # Suppressed by a parent it may not see: the state says so, the parent goes unnamed.
    assert (link.state, link.suppressed_by, link.depends_on) == ("suppressed", None, ())
    # Its own parent is named.
    pop = seen.view("viettel-pop")
    assert pop is not None and (pop.suppressed_by, pop.depends_on) == (
        "viettel-core",
        ("viettel-core",),
    )
    # Only its own targets' alerts, without the Watchdog or who was paged; the hold that
    # names vnpt-core names no parent.
    assert {a["target"] for a in seen.alerts} == names
    assert all(a["notified"] == [] for a in seen.alerts)
    assert not [a for a in seen.alerts if a["rule"] == "Watchdog"]
    held = next(a for a in seen.alerts if a["target"] == "viettel-link")
    assert held["hold"] == {
        "kind": "parent_down",
        "parent": None,
        "window": None,
        "until": None,
        "by": None,
    }
    assert held["held"] == "suppressed: a parent down"
    for lang in i18n.LANGUAGES:
        assert i18n.held_text(held["hold"], lang) == i18n.held_text({"kind": "parent_down"}, lang)
    # Nowhere in what this operator gets: not in a view, a reason, an alert or a hold.
    texts = [json.dumps(target_json(v), ensure_ascii=False) for v in seen.views]
    texts += [json.dumps(a, ensure_ascii=False) for a in seen.alerts]
    texts += [i18n.held_text(a["hold"], lang) for a in seen.alerts for lang in i18n.LANGUAGES]
    texts += [v.reason_text(lang) for v in seen.views for lang in i18n.LANGUAGES]
    assert not [t for t in texts if "vnpt" in t.lower()]


def test_the_board_is_in_scope_and_json_ready(service: Service) -> None:
    seen: Board = board(service, VIETTEL_OP, T0)
    body = target_json(next(v for v in seen.views if v.target.name == "viettel-pop"))
    assert body["state"] == "suppressed" and body["suppressed_by"] == "viettel-core"
    assert body["since"] == iso(T0 - 30) and body["last_probe"] == iso(T0 - 30)
    assert body["reason_text"] == {
        "vi": "thiết bị cấp trên viettel-core mất kết nối",
        "en": "parent viettel-core is down",
    }
    assert body["alerts"] == ["TargetDown"] and body["address"] == "127.0.2.4"


def test_an_alert_whose_labels_leave_the_scope_is_not_shown() -> None:
    # A series label can say more than the target (an interface relabelled to another
    # carrier): the operator's scope is checked on the alert's own labels too.
    alerts = [
        {"target": "viettel-link", "labels": {"carrier": "viettel"}, "hold": None},
        {"target": "viettel-link", "labels": {"carrier": "vnpt"}, "hold": None},
    ]
    seen = visible_alerts(alerts, VIETTEL_OP, {"viettel-link"})
    assert [a["labels"] for a in seen] == [{"carrier": "viettel"}]
    assert len(visible_alerts(alerts, NOC, {"viettel-link"})) == 2


# --------------------------------------------------------------------------- display names


async def test_the_pages_show_display_names_and_keep_slugs_as_keys(tmp_path: Path) -> None:
    """Issue 12: people read "Đường truyền Viettel - Hội trường", never only the slug; the
    slug stays in the links, the data attributes and small beside the name."""
    from aiohttp.test_utils import TestClient, TestServer

    from monitor.web.app import make_app

    raw: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "traps": {"enabled": False},
        "access": {"anonymous": "auto"},
        "names": {
            "carrier": {"viettel": "Tập đoàn Viettel"},
            "group": {"venue": {"vi": "Hội trường 10-3", "en": "Hall 10-3"}},
        },
        "targets": [
            {"name": "venue-viettel-uplink", "kind": "icmp", "host": "127.0.2.2",
             "title": {"vi": "Đường truyền Viettel - Hội trường", "en": "Viettel link to the hall"},
             "group": "venue", "labels": {"carrier": "viettel"}},
            {"name": "plain-slug", "kind": "icmp", "host": "127.0.2.3", "group": "venue"},
            {"name": "child", "kind": "icmp", "host": "127.0.2.4", "group": "venue",
             "depends_on": ["venue-viettel-uplink"]},
        ],
        "alerts": {"rules": [{"name": "TargetDown", "failures": 1}]},
    }  # fmt: skip
    service = Service(parse_settings(raw, tmp_path), clock=FakeClock(wall=T0))
    await service.start()
    try:
        service.store.record("venue-viettel-uplink", Observation(failed(), T0 - 30, 0.05))
        service.store.record("plain-slug", Observation(ok(), T0 - 30, 0.05))
        service.store.record("child", Observation(failed(), T0 - 30, 0.05))
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            page = await (await client.get("/?lang=vi")).text()
            english = await (await client.get("/?lang=en")).text()
            one = await (await client.get("/targets/venue-viettel-uplink?lang=vi")).text()
    finally:
        await service.aclose()
    assert '<a class="name" href="/targets/venue-viettel-uplink?lang=vi">' in page
    assert ">Đường truyền Viettel - Hội trường</a>" in page
    assert '<span class="muted slug">venue-viettel-uplink</span>' in page
    assert '<span class="tag">Tập đoàn Viettel</span>' in page  # the carrier's display name
    assert "<h2>Hội trường 10-3 " in page  # the group's, from [names.group]
    assert ">plain-slug</a>" in page and '"muted slug">plain-slug<' not in page  # no title
    # The firing alert's link names the target too.
    assert '?lang=vi">Đường truyền Viettel - Hội trường</a>' in page
    assert '<span class="sev">Cảnh báo</span>' in page  # the severity in words, not "warning"
    assert ">Viettel link to the hall</a>" in english and "<h2>Hall 10-3 " in english
    assert "<h2>Đường truyền Viettel - Hội trường" in one and "Hội trường 10-3" in one
    # A suppressed child names its parent by the parent's display name.
    assert "thiết bị cấp trên Đường truyền Viettel - Hội trường mất kết nối" in page
