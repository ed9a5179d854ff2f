"""The web layer in process: states and reasons, redaction, sessions, /metrics policy. (The
API's parameters and the OpenAPI document: test_api.py, test_openapi.py.)"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.config import Target
from monitor.config.access import AccessSettings, Principal, token_digest
from monitor.core import i18n
from monitor.runtime.store import Observation, Store, TargetState
from monitor.web.access import Access
from monitor.web.pages import _safe_next
from monitor.web.status import public_address, view_target, visible_alerts
from probes.base import ProbeResult, Sample
from tests.support.common import REPO
from tests.support.web import NOC, TOKENS, VIETTEL


def target(name: str, **more: Any) -> Target:
    data: dict[str, Any] = {"name": name, "kind": "icmp", "host": "127.0.2.1", **more}
    return Target.model_validate(data)


def ok(*samples: Sample) -> ProbeResult:
    return ProbeResult(True, None, "fine", samples)


def failed(reason: str = "timeout") -> ProbeResult:
    return ProbeResult(False, reason, "no answer")


def state_of(t: Target, *results: ProbeResult, start: float = 1000.0) -> TargetState:
    store = Store()
    store.set_targets([t])
    for i, result in enumerate(results):
        store.record(t.name, Observation(result, start + i, 0.01))
    found = store.get(t.name)
    assert found is not None
    return found


ADMIN = Principal("admin", "admin")
VIETTEL_OP = Principal("viettel", "operator", {"carrier": ("viettel",)})


def view(state: TargetState, **kw: Any) -> Any:
    args: dict[str, Any] = {"parents": {}, "windows": [], "alerts": [], "principal": ADMIN}
    args.update(kw)
    return view_target(state, **args)


def test_states_and_reasons() -> None:
    up = state_of(target("a"), ok())
    assert view(up).state == "up" and view(up).reason is None
    assert view(state_of(target("b"))).state == "unknown"
    lossy = ok(
        Sample("probe_icmp_packet_loss_ratio", 0.4),
        Sample("probe_icmp_rtt_seconds", 0.012, (("stat", "avg"),)),
    )
    v = view(state_of(target("c"), ok(), lossy, lossy))
    assert (v.state, v.reason, v.since) == ("degraded", "packet_loss", 1001.0)
    assert v.reason_text("vi") == "mất gói 40 %" and v.figures.rtt == 0.012
    soon = time.time() + 5 * 86400
    http = target("web", kind="http", url="https://127.0.1.3:8443/", host=None)
    v = view(state_of(http, ok(Sample("probe_ssl_earliest_cert_expiry", soon)), start=time.time()))
    assert v.state == "degraded" and v.reason_text("en") == "TLS certificate expires in 4 days"
    down = state_of(target("d"), ok(), failed("refused"))
    assert (view(down).state, view(down).since) == ("down", 1001.0)
    assert view(down).reason_text("vi") == "kết nối bị từ chối"
    parent = state_of(target("core"), failed())
    child = state_of(target("wifi", depends_on=["core"]), failed())
    v = view(child, parents={"core": parent, "wifi": child})
    assert (v.state, v.suppressed_by) == ("suppressed", "core")
    assert v.reason_text("en") == "parent core is down"
    window = {
        "name": "nang-cap",
        "match": {"target": ["d"]},
        "start": "2025-10-14T00:00:00Z",
        "end": "2025-10-14T02:00:00Z",
        "active": True,
    }
    v = view(down, windows=[window])
    assert (v.state, v.probe_state, v.maintenance) == ("maintenance", "down", "nang-cap")
    alert = {
        "target": "a",
        "rule": "HighLatency",
        "state": "firing",
        "severity": "warning",
        "held": None,
        "since": "2025-10-14T00:00:00Z",
        "annotations": {"summary_vi": "a trễ cao", "summary_en": "a is slow"},
    }
    v = view(up, alerts=[alert])
    assert (v.state, v.reason_text("vi"), v.reason_text("en")) == (
        "degraded",
        "a trễ cao",
        "a is slow",
    )


def test_every_reason_has_both_languages() -> None:
    for code in i18n.reason_codes():
        for lang in i18n.LANGUAGES:
            text = i18n.reason_text(
                code, lang, {"loss": "1 %", "days": "3", "parent": "p", "window": "w"}
            )
            assert text and "{" not in text, (code, lang)
    assert i18n.reason_text("brand_new", "vi") == "lỗi: brand_new"
    down = {"kind": "parent_down", "parent": "core", "window": None, "until": None}
    assert i18n.held_text(down, "vi") == "bị ẩn do thiết bị cấp trên core mất kết nối"
    window = {"kind": "maintenance", "parent": None, "window": "nang-cap", "until": None}
    assert i18n.held_text(window, "en") == "maintenance: nang-cap"
    back = {"kind": "recovering", "parent": "core", "window": None, "until": None}
    assert i18n.held_text(back, "vi") == "đang hồi phục sau khi cấp trên core phục hồi"
    assert i18n.held_text({**back, "parent": None}, "en") == "recovering after a parent recovered"
    assert i18n.duration_text(3725, "vi") == "1 giờ 2 phút 5 giây"
    assert i18n.duration_text(90061, "en") == "1 d 1 h 1 min 1 s"


def test_every_probe_reason_has_words() -> None:
    """A reason code a probe returns is named in i18n.py, in both languages."""
    found: set[str] = set()
    for path in (REPO / "probes").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'failure\(\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'return "([a-z_]+)", ', text))
        found |= set(re.findall(r'_Unavailable\("([a-z_]+)"', text))
    found |= {"status", "content", "probe_error"}  # returned through variables
    assert len(found) > 10
    assert found <= set(i18n.reason_codes()), found - set(i18n.reason_codes())


def test_an_operator_sees_no_parent_and_no_receiver_of_others() -> None:
    parent = state_of(target("vnpt-core", labels={"carrier": "vnpt"}), failed())
    child = state_of(
        target("viettel-link", labels={"carrier": "viettel"}, depends_on=["vnpt-core"]),
        failed(),
    )
    v = view(child, parents={"vnpt-core": parent}, principal=VIETTEL_OP)
    assert v.state == "suppressed" and v.suppressed_by is None and v.depends_on == ()
    assert "vnpt" not in v.reason_text("vi")
    alerts = [
        {
            "target": "viettel-link",
            "labels": {"carrier": "viettel", "target": "viettel-link"},
            "held": "suppressed: parent vnpt-core down",
            "hold": {"kind": "parent_down", "parent": "vnpt-core", "window": None, "until": None},
            "notified": ["noc"],
        },
        {"target": "vnpt-core", "labels": {"carrier": "vnpt"}, "held": None, "notified": []},
        {"target": None, "labels": {"alertname": "Watchdog"}, "held": None, "notified": []},
    ]
    seen = visible_alerts(alerts, VIETTEL_OP, {"viettel-link"})
    assert seen == [
        {
            "target": "viettel-link",
            "labels": {"carrier": "viettel", "target": "viettel-link"},
            "held": "suppressed: a parent down",
            "hold": {"kind": "parent_down", "parent": None, "window": None, "until": None},
            "notified": [],
        }
    ]
    assert len(visible_alerts(alerts, ADMIN, {"viettel-link"})) == 3


def test_addresses_hide_credentials() -> None:
    t = target("w", kind="http", host=None, url="https://user:pa55@portal.example:8443/a?key=s#x")
    assert public_address(t) == "https://portal.example:8443/a"
    assert public_address(target("h")) == "127.0.2.1"


def test_sign_in_never_redirects_elsewhere() -> None:
    for bad in ("//evil.example/", "/\\evil.example", "https://evil.example/", "", None):
        assert _safe_next(bad) == "/"
    assert _safe_next("/targets/a?lang=en") == "/targets/a?lang=en"
    assert _safe_next("/fragment/status") == "/"


async def test_metrics_policy() -> None:
    def access(**keys: Any) -> Access:
        return Access(AccessSettings.model_validate({"tokens": TOKENS, **keys}), max_delay=0.01)

    assert await access().metrics_allowed(None, "127.0.0.1") == "unauthorized"  # the default
    loopback = access(metrics="loopback")
    assert await loopback.metrics_allowed(None, "127.0.0.1") == "ok"
    assert await loopback.metrics_allowed(None, "10.0.0.5") == "unauthorized"
    assert await loopback.metrics_allowed(f"Bearer {NOC}", "10.0.0.5") == "ok"
    assert await loopback.metrics_allowed(f"Bearer {VIETTEL}", "10.0.0.5") == "forbidden"
    scrape = access(metrics="token", metrics_token_sha256=token_digest("scrape"))
    assert await scrape.metrics_allowed(None, "127.0.0.1") == "unauthorized"
    assert await scrape.metrics_allowed("Bearer scrape", "127.0.0.1") == "ok"
    assert await scrape.metrics_allowed("Bearer scrapf", "127.0.0.1") == "unauthorized"
    assert await access(metrics="open").metrics_allowed(None, "10.0.0.5") == "ok"
    with pytest.raises(ValueError, match="64 hex digits"):
        AccessSettings.model_validate({"metrics_token_sha256": "abc"})


async def test_sessions(client: TestClient[Any, Any]) -> None:
    # A page without a principal goes to the sign-in form, and comes back after it.
    resp = await client.get("/targets/vt?lang=en", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login?")
    form = await client.get(resp.headers["Location"])
    assert form.status == 200 and 'value="/targets/vt?lang=en"' in await form.text()
    wrong = await client.post("/login", data={"token": "nope", "next": "/targets/vt"})
    assert wrong.status == 401 and "nope" not in await wrong.text()
    assert 'value="/targets/vt"' in await wrong.text()
    resp = await client.post(
        "/login", data={"token": VIETTEL, "next": "//evil.example/"}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies["netmon_session"]
    assert cookie.value not in (VIETTEL, hashlib.sha256(VIETTEL.encode()).hexdigest())
    page = await client.get("/")
    text = await page.text()
    assert page.status == 200 and "vt" in text and ">vn<" not in text
    assert (await client.get("/targets/vn")).status == 404
    assert (await client.get("/fragment/status")).status == 200
    # Reading only: the cookie does not make a POST.
    resp = await client.post("/api/v1/maintenance", json={"name": "m", "match": {"a": ["b"]}})
    assert resp.status == 401
    resp = await client.post("/logout", allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/fragment/status")).status == 401
    # A form from another site is refused.
    resp = await client.post(
        "/login", data={"token": VIETTEL}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert resp.status == 403
