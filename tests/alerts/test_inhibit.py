"""Inhibition, one page per incident (issue 12, point 1): the lab's own website faults, probed
for real by an in-process netmon on the fake clock, every shipped rule on.

- a site answering 503 pages HttpStatusError only (not TargetDown, not BannerMissing);
- a defaced site answering 200 pages PageDefaced only (not "mất kết nối", not BannerMissing);
- a site whose banner is gone pages BannerMissing only (it is not down);
- the muted alerts show on the API as inhibited, by which rule, and end without a message;
- a BannerMissing left firing because the site then stopped answering does not hide the
  outage: TargetDown pages;
- with ``shipped_inhibit = false`` the same faults page as before (the numbers of the issue);
- a real Alertmanager (Debian's) gets only the alert that explains each incident;
- inhibit rules naming unknown labels or rules are settings errors with their key paths.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.config import SettingsError, load_settings
from monitor.core.waiting import wait_for
from monitor.lab.inventory import BANNER, Site
from monitor.lab.server import Lab
from tests.alerts.test_notify import alertmanager, am_alerts, needs_alertmanager
from tests.support.alerts import (
    FakeClock,
    Sink,
    alert_states,
    metric,
    running,
    sink_server,
    until,
    webhook_alerts,
    write_settings,
)
from tests.support.common import free_port

FORBIDDEN = ["hacked", "Hacked by"]
SITES = ("so-tt-tt", "bao-dak-lak", "cong-thong-tin")  # 503, deface, banner-gone


@contextlib.asynccontextmanager
async def lab_sites(tmp_path: Path) -> AsyncIterator[tuple[Lab, list[dict[str, Any]]]]:
    sites = [
        Site(name, name, f"127.0.8.{i + 11}", f"{name}.lab", "UBND", banner=True,
             port=free_port(f"127.0.8.{i + 11}"))
        for i, name in enumerate(SITES)
    ]  # fmt: skip
    host = sites[0].host
    lab = Lab(
        tmp_path / "lab",
        control=None,
        sites=sites,
        icmp_hosts=[],
        dns_address=(host, free_port(host)),
        smtp_address=(host, free_port(host)),
        nft_table="netmon_test_inhibit",
        snmp_devices=[],
        trap_address=None,
    )
    targets = [
        {"name": s.name, "kind": "http", "url": s.url, "group": "website",
         "http": {"body_contains": [BANNER], "body_absent": FORBIDDEN}}
        for s in sites
    ]  # fmt: skip
    async with lab:
        yield lab, targets


def pages(sink: Sink, target: str) -> list[str]:
    """The rules paged (firing) for ``target``, in order."""
    return [
        a["labels"]["alertname"]
        for a in sink.alerts("firing")
        if a["labels"].get("target") == target
    ]


async def faults_then_heal(
    tmp_path: Path, *, inhibit: bool
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[Any, Any]]:
    """Each site gets its fault; once every expected page is in, they heal. Returns the pages
    per site, every message per site, and the API's alerts while the faults lasted."""
    clock = FakeClock()
    async with lab_sites(tmp_path) as (lab, targets), sink_server() as noc:
        alerts = webhook_alerts(("noc", noc.url))
        alerts["shipped_inhibit"] = inhibit
        path = write_settings(tmp_path / "s.toml", targets, alerts)
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "a first good probe of each site",
                lambda: all((s := service.store.get(n)) and s.latest for n in SITES),
            )
            await lab.fail("so-tt-tt", "503")
            await lab.fail("bao-dak-lak", "deface")
            await lab.fail("cong-thong-tin", "banner-gone")
            expected = 1 if inhibit else 2
            await until(
                clock,
                service,
                "the pages",
                lambda: all(len(pages(noc, n)) >= expected for n in SITES),
            )
            await clock.advance(5.0, step=0.3)  # anything more would come now
            await until(clock, service, "quiet", lambda: True)
            during = alert_states(service)
            inhibited = metric(service, "netmon_alerts_inhibited")
            for name in SITES:
                await lab.heal(name)
            await until(
                clock,
                service,
                "every alert ended",
                lambda: not [a for a in service.alerts.alerts_json() if a["target"] in SITES],
            )
            await clock.advance(2.0, step=0.3)
            await until(clock, service, "quiet", lambda: True)
        messages = {
            n: [
                f"{r['netmon']['kind']} {r['alerts'][0]['labels']['alertname']}"
                for r in noc.requests
                if r["alerts"][0]["labels"].get("target") == n
            ]
            for n in SITES
        }
        during["inhibited_metric"] = inhibited
        return {n: sorted(pages(noc, n)) for n in SITES}, messages, during


async def test_one_page_per_website_incident(tmp_path: Path) -> None:
    paged, messages, during = await faults_then_heal(tmp_path, inhibit=True)
    assert paged == {
        "so-tt-tt": ["HttpStatusError"],
        "bao-dak-lak": ["PageDefaced"],
        "cong-thong-tin": ["BannerMissing"],
    }
    # The muted alerts fire on, shown as inhibited and by what.
    down = during[("so-tt-tt", "TargetDown")]
    assert down["state"] == "firing" and down["notified"] == []
    assert down["hold"]["kind"] == "inhibited" and down["hold"]["by"] == "HttpStatusError"
    assert down["hold"]["parent"] == "so-tt-tt"
    assert down["held"] == "inhibited by HttpStatusError of so-tt-tt"
    assert during[("so-tt-tt", "BannerMissing")]["hold"]["by"] == "HttpStatusError"
    assert during[("bao-dak-lak", "TargetDown")]["hold"]["by"] == "PageDefaced"
    assert during[("bao-dak-lak", "BannerMissing")]["hold"]["by"] == "PageDefaced"
    assert during[("cong-thong-tin", "TargetDown")]["hold"]["by"] == "BannerMissing"
    assert during["inhibited_metric"] == 5
    # Healed: the page that went out ends; the muted ones end without a word.
    assert messages == {
        "so-tt-tt": ["firing HttpStatusError", "resolved HttpStatusError"],
        "bao-dak-lak": ["firing PageDefaced", "resolved PageDefaced"],
        "cong-thong-tin": ["firing BannerMissing", "resolved BannerMissing"],
    }


async def test_without_inhibition_one_fault_pages_several_times(tmp_path: Path) -> None:
    """The issue's numbers, measured: what the shipped inhibit rules take away."""
    paged, _, _ = await faults_then_heal(tmp_path, inhibit=False)
    assert paged == {
        "so-tt-tt": ["BannerMissing", "HttpStatusError", "TargetDown"],
        "bao-dak-lak": ["BannerMissing", "PageDefaced", "TargetDown"],
        "cong-thong-tin": ["BannerMissing", "TargetDown"],
    }


async def test_a_stale_content_alert_does_not_hide_an_outage(tmp_path: Path) -> None:
    """The banner goes (BannerMissing pages, TargetDown muted), then the site stops
    answering: BannerMissing holds (its series are missing from failed results), but its
    condition no longer holds when TargetDown's does, so TargetDown pages."""
    clock = FakeClock()
    async with lab_sites(tmp_path) as (lab, targets), sink_server() as noc:
        path = write_settings(tmp_path / "s.toml", targets[2:], webhook_alerts(("noc", noc.url)))
        async with running(path, clock) as service:
            await until(
                clock,
                service,
                "a first good probe",
                lambda: (s := service.store.get("cong-thong-tin")) and s.latest,
            )
            await lab.fail("cong-thong-tin", "banner-gone")
            await until(
                clock,
                service,
                "BannerMissing",
                lambda: pages(noc, "cong-thong-tin") == ["BannerMissing"],
            )
            await lab.fail("cong-thong-tin", "down")
            await until(
                clock,
                service,
                "TargetDown",
                lambda: pages(noc, "cong-thong-tin") == ["BannerMissing", "TargetDown"],
            )
            states = alert_states(service)
            assert states[("cong-thong-tin", "TargetDown")]["hold"] is None


BASE = """
[[targets]]
name = "cong-thong-tin"
kind = "http"
url = "http://127.0.0.1:1/"
labels = { carrier = "vnpt" }
"""


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        (
            '[[alerts.inhibit]]\nsource_match = { alertname = ["PageDefacd"] }\n'
            'target_match = { alertname = ["TargetDown"] }\n',
            ["alerts.inhibit[0].source_match.alertname[0]: no rule is named 'PageDefacd'"],
        ),
        (
            '[[alerts.inhibit]]\nsource_match = { alertname = ["PageDefaced"] }\n'
            'target_match = { carier = ["vnpt"] }\nequal = ["target", "sitee"]\n',
            [
                "alerts.inhibit[0].target_match.carier: no alert has a label 'carier'",
                "alerts.inhibit[0].equal[1]: no alert has a label 'sitee'",
            ],
        ),
        (
            '[[alerts.inhibit]]\nsource_match = {}\ntarget_match = { alertname = ["X"] }\n',
            ["alerts.inhibit[0]: source_match and target_match need at least one label each"],
        ),
    ],
)
def test_inhibit_settings_errors_name_their_key(
    tmp_path: Path, extra: str, errors: list[str]
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    got = [str(issue) for issue in caught.value.issues]
    for expected in errors:
        assert any(g.startswith(expected) for g in got), (expected, got)


def test_inhibit_settings_accept_target_and_series_labels(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        BASE + '[[alerts.inhibit]]\nsource_match = { alertname = ["BgpPeerDown"] }\n'
        'target_match = { alertname = ["InterfaceDown"], carrier = ["vnpt"] }\n'
        'equal = ["target", "ifIndex"]\n',
        encoding="utf-8",
    )
    assert len(load_settings(path).alerts.inhibit) == 1


@needs_alertmanager
async def test_alertmanager_gets_one_alert_per_website_incident(tmp_path: Path) -> None:
    """The same faults sent to a real Alertmanager (Debian's): only the alert that explains
    each incident reaches it, and its webhook gets one notification per site."""
    async with (
        lab_sites(tmp_path) as (lab, targets),
        sink_server() as hook,
        alertmanager(tmp_path, hook.url) as am,
        aiohttp.ClientSession() as http,
    ):
        alerts = {
            "receivers": {"noc": {"type": "alertmanager", "urls": [am], "resend_interval": "1s"}},
            "routes": [{"match": {"severity": ["critical", "warning"]}, "receivers": ["noc"]}],
        }
        path = write_settings(tmp_path / "s.toml", targets[:2], alerts)
        async with running(path) as service:
            await wait_for(
                "a first good probe of each site",
                lambda: all((s := service.store.get(n)) and s.latest for n in SITES[:2]),
            )
            await lab.fail("so-tt-tt", "503")
            await lab.fail("bao-dak-lak", "deface")

            async def in_am() -> set[tuple[str, str]]:
                return {
                    (a["labels"]["target"], a["labels"]["alertname"])
                    for a in await am_alerts(http, am)
                    if a["labels"].get("target") in SITES
                }

            expected = {("so-tt-tt", "HttpStatusError"), ("bao-dak-lak", "PageDefaced")}

            async def both() -> bool:
                return await in_am() == expected

            await wait_for("the two alerts in Alertmanager", both)
            await asyncio.sleep(3.0)  # several keepalives later: still those two only
            assert await in_am() == expected
            sent = {
                (a["labels"]["target"], a["labels"]["alertname"])
                for r in hook.requests
                for a in r["alerts"]
            }
            assert sent == expected
