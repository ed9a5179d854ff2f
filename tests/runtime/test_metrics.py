"""/metrics rendering: names and labels of DESIGN.md, valid text format, removal on reload."""

from __future__ import annotations

import gzip
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Settings
from monitor.runtime.metrics import MetricsRenderer, escape_label_value, format_value
from monitor.runtime.service import Service
from monitor.runtime.store import Observation, Store
from monitor.web.app import make_app
from probes.base import ProbeResult, Sample


def settings(*targets: dict[str, Any]) -> Settings:
    return Settings.model_validate({"targets": list(targets)})


UPLINK = {
    "name": "venue-viettel-uplink",
    "kind": "icmp",
    "host": "127.0.2.2",
    "group": "carrier",
    "labels": {"carrier": "viettel", "site": 'hội trường "tỉnh"\\A'},
}
PORTAL = {
    "name": "cong-thong-tin",
    "kind": "http",
    "url": "http://127.0.1.1:8080/",
    "group": "website",
}

ICMP_OK = ProbeResult(
    True,
    None,
    "5/5 answered",
    (
        Sample("probe_icmp_packets_sent", 5),
        Sample("probe_icmp_packets_received", 5),
        Sample("probe_icmp_packet_loss_ratio", 0.0),
        Sample("probe_icmp_rtt_seconds", 0.0001, (("stat", "min"),)),
        Sample("probe_icmp_rtt_seconds", 0.0002, (("stat", "avg"),)),
        Sample("probe_icmp_rtt_seconds", 0.0004, (("stat", "max"),)),
        Sample("probe_icmp_jitter_seconds", 0.00005),
    ),
)
HTTP_DOWN = ProbeResult(False, "status", "HTTP 503", (Sample("probe_http_status_code", 503),))


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_series_carry_target_kind_group_and_labels() -> None:
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(UPLINK, PORTAL).targets)
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 1.25))
    store.record("cong-thong-tin", Observation(HTTP_DOWN, 1.0, 0.5))
    series = parse(renderer.render_probes())
    ((labels, value),) = series["probe_icmp_packet_loss_ratio"]
    assert labels == {
        "target": "venue-viettel-uplink",
        "kind": "icmp",
        "group": "carrier",
        "carrier": "viettel",
        "site": 'hội trường "tỉnh"\\A',
    }
    assert value == 0.0
    stats = {lab["stat"]: v for lab, v in series["probe_icmp_rtt_seconds"]}
    assert stats == {"min": 0.0001, "avg": 0.0002, "max": 0.0004}
    success = {lab["target"]: v for lab, v in series["probe_success"]}
    assert success == {"venue-viettel-uplink": 1.0, "cong-thong-tin": 0.0}
    durations = {lab["target"]: v for lab, v in series["probe_duration_seconds"]}
    assert durations == {"venue-viettel-uplink": 1.25, "cong-thong-tin": 0.5}
    # probe_failure_info only for the failed target, with its reason.
    assert series["probe_failure_info"] == [
        ({"target": "cong-thong-tin", "kind": "http", "group": "website", "reason": "status"}, 1)
    ]
    assert series["probe_http_status_code"][0][1] == 503


def test_failure_info_disappears_on_recovery_and_target_on_removal() -> None:
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(UPLINK, PORTAL).targets)
    store.record("cong-thong-tin", Observation(HTTP_DOWN, 1.0, 0.5))
    assert "probe_failure_info" in renderer.render_probes()
    ok = ProbeResult(True, None, "HTTP 200", (Sample("probe_http_status_code", 200),))
    store.record("cong-thong-tin", Observation(ok, 2.0, 0.5))
    assert "probe_failure_info" not in renderer.render_probes()
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 1.0))
    store.set_targets(settings(PORTAL).targets)  # a reload without the uplink
    text = renderer.render_probes()
    assert "venue-viettel-uplink" not in text and "probe_icmp" not in text
    assert 'target="cong-thong-tin"' in text


def test_label_change_on_reload_drops_old_series() -> None:
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(UPLINK).targets)
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 1.0))
    store.set_targets(settings({**UPLINK, "labels": {"carrier": "vnpt"}}).targets)
    assert 'carrier="viettel"' not in renderer.render_probes()


def test_value_and_label_formatting() -> None:
    assert format_value(1.0) == "1"
    assert format_value(0.25) == "0.25"
    assert format_value(float("nan")) == "NaN"
    assert format_value(float("inf")) == "+Inf"
    assert format_value(1.7e18) == "1.7e+18"
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


async def test_metrics_endpoint_gzip_and_service_metrics() -> None:
    service = Service(settings(UPLINK, PORTAL))
    service.store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 1.0))
    async with TestClient(TestServer(make_app(service))) as client:
        plain = await client.get("/metrics")
        assert plain.status == 200
        assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await plain.text()
        zipped = await client.get(
            "/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(await zipped.read()).decode() == text
        series = parse(text)
        assert series["netmon_config_last_reload_successful"][0][1] == 1
        kinds = {lab["kind"] for lab, _ in series["netmon_probes_in_flight"]}
        assert {"icmp", "http", "dns", "tcp"} <= kinds
        quantiles = {lab["quantile"] for lab, _ in series["netmon_scheduler_lag_seconds"]}
        assert quantiles == {"0.5", "0.9", "0.99", "1"}
        targets = {(lab["kind"], lab["group"]): v for lab, v in series["netmon_targets"]}
        assert targets == {("icmp", "carrier"): 1, ("http", "website"): 1}
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["targets"] == 2
        api = await (await client.get("/api/v1/targets")).json()
        by_name = {t["name"]: t for t in api["targets"]}
        assert by_name["venue-viettel-uplink"]["state"] == "up"
        assert by_name["cong-thong-tin"]["state"] == "unknown"
    await service.aclose()
