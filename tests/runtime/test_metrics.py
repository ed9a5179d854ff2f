"""/metrics rendering: names and labels of DESIGN.md, valid text format, removal on reload."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import math
import random
import re
import zlib
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Settings
from monitor.runtime import metrics as metrics_module
from monitor.runtime.metrics import (
    MetricsRenderer,
    escape_label_value,
    format_value,
    render_target,
)
from monitor.runtime.service import Service
from monitor.runtime.store import Observation, Store
from monitor.web.app import make_app
from probes.base import ProbeResult, Sample
from probes.catalogue import BY_NAME, CATALOGUE


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


def steady(text: str) -> str:
    return "".join(line for line in text.splitlines(True) if not line.startswith("process_"))


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


def test_the_kept_line_heads_give_render_targets_bytes_across_a_reload() -> None:
    """The renderer reuses each target's escaped line heads; what it keeps must be exactly what
    render_target makes, for hostile label values, a failure and after a reload that changes
    the labels (a new Target: new heads, none of the old)."""
    hostile = {**UPLINK, "labels": {"carrier": 'vi"et\\tel\nx', "site": "hội trường"}}
    store = Store()
    renderer = MetricsRenderer(store)
    for spec, result in ((hostile, ICMP_OK), (hostile, HTTP_DOWN), (UPLINK, ICMP_OK)):
        store.set_targets(settings(spec).targets)
        obs = Observation(result, 1.0, 0.25)
        store.record("venue-viettel-uplink", obs)
        state = store.get("venue-viettel-uplink")
        assert state is not None
        expected = render_target(state.target, obs)
        text = renderer.render_probes()
        for family, lines in expected.items():
            assert lines in text, family
        series = [line for line in text.splitlines() if not line.startswith("#")]
        assert len(series) == sum(lines.count("\n") for lines in expected.values())


SWITCH = {
    "name": "venue-access-switch",
    "kind": "snmp",
    "host": "127.0.3.11",
    "group": "venue",
    "snmp": {"community": "netmon-lab"},
}
PORT = (("ifIndex", "49"), ("ifName", "Te1/1/1"), ("ifDescr", "TenGigabitEthernet1/1/1"),
        ("ifAlias", "Uplink"))  # fmt: skip
SWITCH_OK = ProbeResult(
    True,
    None,
    "up",
    (
        Sample("sysUpTime", 86400.5),
        Sample("ifOperStatus", 1, PORT),
        Sample("ifHCInOctets", 123456789012, PORT),
        Sample("probe_made_up_seconds", 0.5),  # emitted but not in the catalogue
    ),
)


def test_help_type_and_order_come_from_the_catalogue() -> None:
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(UPLINK, PORTAL, SWITCH).targets)
    # The switch first: the order is the catalogue's, not the order results came in.
    store.record("venue-access-switch", Observation(SWITCH_OK, 1.0, 0.25))
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 1.25))
    store.record("cong-thong-tin", Observation(HTTP_DOWN, 1.0, 0.5))
    text = renderer.render_probes()
    helps = re.findall(r"^# HELP (\S+) (.*)$", text, re.M)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    names = [name for name, _ in helps]
    order = [f.name for f in CATALOGUE]
    assert names[:-1] == sorted(names[:-1], key=order.index)
    for name, help_text in helps[:-1]:
        assert help_text == BY_NAME[name].help
        assert types[name] == BY_NAME[name].type
    assert types["ifHCInOctets"] == "counter"
    # A family no probe declared still comes out, last, as a gauge.
    assert helps[-1] == ("probe_made_up_seconds", "probe_made_up_seconds as measured by the probe.")
    assert types["probe_made_up_seconds"] == "gauge"


def test_exposition_is_byte_for_byte_what_it_was() -> None:
    """The text before the catalogue existed, for the same store (the scrape contract); only
    the help of blackbox's further figures changed, from a placeholder to words."""
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(SWITCH, PORTAL).targets)
    declared = dataclasses.replace(SWITCH_OK, samples=SWITCH_OK.samples[:-1])
    store.record("venue-access-switch", Observation(declared, 1.0, 0.25))
    redirects = (Sample("probe_http_status_code", 503), Sample("probe_http_redirects", 1))
    store.record("cong-thong-tin", Observation(ProbeResult(False, "status", "", redirects), 1, 1))
    switch = 'target="venue-access-switch",kind="snmp",group="venue"'
    port = 'ifIndex="49",ifName="Te1/1/1",ifDescr="TenGigabitEthernet1/1/1",ifAlias="Uplink"'
    portal = 'target="cong-thong-tin",kind="http",group="website"'
    assert renderer.render_probes() == (
        "# HELP probe_success Whether the last probe succeeded (1) or not (0).\n"
        "# TYPE probe_success gauge\n"
        f"probe_success{{{switch}}} 1\n"
        f"probe_success{{{portal}}} 0\n"
        "# HELP probe_duration_seconds How long the last probe took, in seconds.\n"
        "# TYPE probe_duration_seconds gauge\n"
        f"probe_duration_seconds{{{switch}}} 0.25\n"
        f"probe_duration_seconds{{{portal}}} 1\n"
        "# HELP probe_failure_info Why the last probe failed (absent when it succeeded).\n"
        "# TYPE probe_failure_info gauge\n"
        f'probe_failure_info{{{portal},reason="status"}} 1\n'
        "# HELP probe_http_status_code HTTP status code of the last probe's final response.\n"
        "# TYPE probe_http_status_code gauge\n"
        f"probe_http_status_code{{{portal}}} 503\n"
        "# HELP ifOperStatus The current operational state of the interface (IF-MIB).\n"
        "# TYPE ifOperStatus gauge\n"
        f"ifOperStatus{{{switch},{port}}} 1\n"
        "# HELP ifHCInOctets Octets received on the interface, 64-bit (IF-MIB).\n"
        "# TYPE ifHCInOctets counter\n"
        f"ifHCInOctets{{{switch},{port}}} 123456789012\n"
        "# HELP sysUpTime Seconds since the SNMP agent was (re)initialized (SNMPv2-MIB).\n"
        "# TYPE sysUpTime gauge\n"
        f"sysUpTime{{{switch}}} 86400.5\n"
        "# HELP probe_http_redirects The number of redirects the probe followed.\n"
        "# TYPE probe_http_redirects gauge\n"
        f"probe_http_redirects{{{portal}}} 1\n"
    )


def test_value_and_label_formatting() -> None:
    assert format_value(1.0) == "1"
    assert format_value(0.25) == "0.25"
    assert format_value(float("nan")) == "NaN"
    assert format_value(float("inf")) == "+Inf"
    assert format_value(1.7e18) == "1.7e+18"
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


async def test_metrics_endpoint_gzip_and_service_metrics() -> None:
    # Closed by default (issue 13): this loopback test opens /metrics and the API as the lab does.
    access = {"anonymous": "auto", "metrics": "loopback"}
    service = Service(Settings.model_validate({"targets": [UPLINK, PORTAL], "access": access}))
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
        # The same text but for the process_* figures, read anew at each scrape (memory moves).
        assert steady(one_member(await zipped.read()).decode()) == steady(text)
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


def one_member(body: bytes) -> bytes:
    """The text of a gzip body that is one member, all of it: what curl --compressed and a
    browser read (they stop after the first member)."""
    reader = zlib.decompressobj(31)
    text = reader.decompress(body)
    assert reader.eof and reader.unused_data == b""
    return text


class _Reference:
    """The renderer as it was before the blocks (issue 17): one dict per family of each
    target's render_target lines, joined per family in the catalogue's order."""

    def __init__(self, store: Store) -> None:
        self.fragments: dict[str, dict[str, str]] = {}
        self.order = [family.name for family in CATALOGUE]
        store.subscribe(self.on_record, self.on_remove)

    def on_record(self, state: Any, observation: Observation) -> None:
        rendered = render_target(state.target, observation)
        for family, lines in rendered.items():
            if family not in self.fragments:
                self.fragments[family] = {}
                if family not in BY_NAME:
                    self.order.append(family)
            self.fragments[family][state.target.name] = lines
        for family, per_target in self.fragments.items():
            if family not in rendered:
                per_target.pop(state.target.name, None)

    def on_remove(self, name: str) -> None:
        for per_target in self.fragments.values():
            per_target.pop(name, None)

    def render(self) -> str:
        parts = []
        for family in self.order:
            per_target = self.fragments.get(family)
            if per_target:
                declared = BY_NAME.get(family)
                kind, text = (
                    ("gauge", f"{family} as measured by the probe.")
                    if declared is None
                    else (declared.type, declared.help)
                )
                parts.append(f"# HELP {family} {text}\n# TYPE {family} {kind}\n")
                parts.append("".join(per_target.values()))
        return "".join(parts)


def sections(text: str) -> list[tuple[str, list[str]]]:
    """Each family's header and its lines, the lines sorted (their order within a family
    carries no meaning to a scraper)."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines(True):
        if line.startswith("# HELP"):
            out.append((line, []))
        elif line.startswith("# TYPE"):
            out[-1] = (out[-1][0] + line, out[-1][1])
        else:
            out[-1][1].append(line)
    return [(head, sorted(lines)) for head, lines in out]


def test_blocks_and_their_deflated_pieces_give_the_old_text(monkeypatch: Any) -> None:
    """Many targets over several blocks, results that change, fail, recover, targets removed
    and relabelled: the text is the old renderer's (byte for byte while no target's lines left
    a family and came back; family by family, the same lines, after), its gzip decompresses to
    the same bytes, and a scrape re-compresses only the blocks whose lines changed."""
    monkeypatch.setattr(metrics_module, "BLOCK_TARGETS", 8)
    made: list[bytes] = []

    class CountingPiece(metrics_module.Piece):
        def __init__(self, text: bytes) -> None:
            made.append(text)
            super().__init__(text)

    monkeypatch.setattr(metrics_module, "Piece", CountingPiece)
    specs = [
        {**UPLINK, "name": f"uplink-{i:02d}", "labels": {"carrier": f'c"{i % 3}', "site": "hội"}}
        for i in range(30)
    ] + [{**SWITCH, "name": f"switch-{i}"} for i in range(5)]
    store = Store()
    reference = _Reference(store)
    renderer = MetricsRenderer(store)
    store.set_targets(settings(*specs).targets)

    def icmp(rtt: float) -> ProbeResult:
        return dataclasses.replace(
            ICMP_OK, samples=(*ICMP_OK.samples[:3], Sample("probe_icmp_rtt_seconds", rtt))
        )

    for i in range(30):
        store.record(f"uplink-{i:02d}", Observation(icmp(i / 1000), 1.0, 0.5))
    for i in range(5):
        store.record(f"switch-{i}", Observation(SWITCH_OK, 1.0, 0.25))
    assert renderer.render_probes() == reference.render()
    whole = renderer.render_probes_bytes()
    body = renderer.render_gzip_sync()
    assert one_member(body) == gzip.decompress(body) == whole
    first = len(made)
    assert first > 10  # the family heads and every block: made once
    made.clear()
    assert one_member(renderer.render_gzip_sync()) == whole
    assert made == []  # nothing changed: nothing compressed
    # One target's new RTT: only its block of the RTT family is compressed anew; its other
    # lines are the same bytes as before.
    store.record("uplink-03", Observation(icmp(0.25), 1.0, 0.5))
    assert one_member(renderer.render_gzip_sync()) == renderer.render_probes_bytes()
    assert len(made) == 1
    made.clear()
    store.record("uplink-12", Observation(HTTP_DOWN, 2.0, 1.0))  # fails: other families
    store.record("uplink-12", Observation(icmp(0.5), 3.0, 1.0))  # and back
    store.record("switch-2", Observation(HTTP_DOWN, 2.0, 1.0))
    # uplink-12's ICMP lines came back: the old renderer put them last in their families, the
    # blocks last in uplink-12's block.
    assert sections(renderer.render_probes()) == sections(reference.render())
    assert one_member(renderer.render_gzip_sync()) == renderer.render_probes_bytes()
    assert 0 < len(made) < first
    # Removals and a relabel: the order within a family may now differ; the lines may not.
    kept = [s for s in specs if s["name"] not in ("uplink-05", "uplink-20")]
    kept[0] = {**kept[0], "labels": {"carrier": "vnpt"}}
    store.set_targets(settings(*kept).targets)
    store.record(str(kept[0]["name"]), Observation(icmp(0.75), 4.0, 0.5))
    text = renderer.render_probes()
    assert sections(text) == sections(reference.render())
    assert "uplink-05" not in text and "uplink-20" not in text
    assert one_member(renderer.render_gzip_sync()).decode() == text
    parse(text)  # still valid text format


async def test_deflate_in_a_thread_keeps_no_piece_of_a_block_changed_meanwhile(
    monkeypatch: Any,
) -> None:
    """Much to compress goes to a thread; a result that lands meanwhile must not be hidden by
    the piece made from the text before it."""
    monkeypatch.setattr(metrics_module, "_GZIP_INLINE", 0)
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings(UPLINK).targets)
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 1.0, 0.5))
    scrape = asyncio.ensure_future(renderer.render_gzip())
    await asyncio.sleep(0)  # the scrape took its texts and waits on the thread
    store.record("venue-viettel-uplink", Observation(ICMP_OK, 2.0, 0.75))
    assert b"} 0.5\n" in one_member(await scrape)  # what it took
    again = one_member(await renderer.render_gzip())
    assert b"probe_duration_seconds{" in again and b"} 0.75\n" in again
    assert again == renderer.render_probes_bytes()


def test_value_lines_are_format_value_in_bytes() -> None:
    """The renderer writes values with _value_line (bytes, one step); it must write what
    format_value says, for every kind of value a probe gives."""
    rng = random.Random(17)
    values: list[float] = [0.000152, 5, 1.0, 0.0, -0.0, 1e15, 1e16, -3.5, 2**60, 1.7e18]
    values += [math.nan, math.inf, -math.inf, 86400.5, 1e-300, 5e-324, 123456789012.0]
    values += [rng.uniform(-1e6, 1e6) for _ in range(2000)]
    values += [rng.randint(-(10**17), 10**17) for _ in range(500)]
    values += [float(rng.randint(-(10**17), 10**17)) for _ in range(500)]
    for value in values:
        assert metrics_module._value_line(value) == (format_value(value) + "\n").encode(), value
