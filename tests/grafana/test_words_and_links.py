"""Issue 14, Grafana: HTTP status colours, failure reasons in the pages' words, the glossary's
wording, phase and outage annotations, data links to netmon's target pages.

Grafana's server is not installable here: the committed JSON is checked as Grafana reads it
(thresholds: the last step at or below the value gives the colour; value mappings: a cell's
text; annotations: the Prometheus datasource's keys; data links: fieldConfig links), and every
annotation query is parsed as PromQL. test_phase_panel.py and
tests/integration/test_prometheus_live.py run the queries on a real Prometheus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest

from grafana.dashboards import DASHBOARDS, TARGET_LINK_TITLE, build_all
from monitor.config import load_settings, parse_settings
from monitor.core.i18n import port_state_text, reason_text
from probes.catalogue import BY_NAME
from tests.support.common import REPO

BUILD = REPO / "grafana" / "build" / "dashboards"


def _docs() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(BUILD.glob("*.json"))}


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for top in doc["panels"] for p in (top, *top.get("panels", []))]


def _panel(uid: str, title: str) -> dict[str, Any]:
    (panel,) = [p for p in _panels(_docs()[uid]) if p["title"] == title]
    return panel


def _colour(panel: dict[str, Any], value: float) -> str:
    """The colour Grafana gives ``value`` with absolute thresholds: the last step whose value
    is at or below it (the first step, value null, is minus infinity)."""
    thresholds = panel["fieldConfig"]["defaults"]["thresholds"]
    assert thresholds["mode"] == "absolute"
    colour = ""
    for step in thresholds["steps"]:
        if step["value"] is None or step["value"] <= value:
            colour = step["color"]
    return colour


def test_http_status_colours() -> None:
    panel = _panel("netmon-websites", "Mã trạng thái HTTP")
    assert "probe_http_status_code" in panel["targets"][0]["expr"]
    colours = {code: _colour(panel, code) for code in (200, 204, 301, 304, 404, 429, 500, 503)}
    assert colours == {
        200: "green",
        204: "green",
        301: "blue",
        304: "blue",
        404: "orange",
        429: "orange",
        500: "red",
        503: "red",
    }
    assert _colour(panel, 0) == "red"  # no answer at all
    (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
    assert mapping["options"]["0"]["text"] == "Không có phản hồi"


def _reason_mapping(panel: dict[str, Any]) -> dict[str, str]:
    overrides = panel["fieldConfig"].get("overrides", [])
    found = [
        o["properties"] for o in overrides if o["matcher"] == {"id": "byName", "options": "reason"}
    ]
    assert len(found) == 1, panel["title"]
    ((prop,),) = found
    assert prop["id"] == "mappings"
    (mapping,) = prop["value"]
    assert mapping["type"] == "value"
    return {code: m["text"] for code, m in mapping["options"].items()}


def test_failure_tables_show_the_pages_words() -> None:
    tables = [
        (uid, p)
        for uid, doc in _docs().items()
        for p in _panels(doc)
        if p["type"] == "table" and "probe_failure_info" in p["targets"][0]["expr"]
    ]
    assert {uid for uid, _ in tables} == {"netmon-noc", "netmon-websites", "netmon-operator"}
    for _, panel in tables:
        words = _reason_mapping(panel)
        for code in ("timeout", "refused", "unreachable", "status", "content", "tls", "dns"):
            page = reason_text(code, "vi")  # what the status page says for the code
            assert words[code] == page[:1].upper() + page[1:], code
        assert words["timeout"] == "Không phản hồi (quá thời gian chờ)"
        assert words["tls"] == "Lỗi TLS hoặc chứng thư số"
        assert all("{" not in text for text in words.values())  # no unfilled figures


def test_failure_words_follow_the_settings_language(tmp_path: Path) -> None:
    settings = parse_settings({"server": {"language": "en"}}, tmp_path)
    doc = build_all(settings)["netmon-noc"]
    tables = [
        p for p in _panels(doc) if p["type"] == "table" and "probe_failure_info" in json.dumps(p)
    ]
    assert len(tables) == 3  # every target, the SIP trunks, the streams (issue 16)
    for table in tables:
        assert _reason_mapping(table)["refused"] == "Connection refused"
        assert _reason_mapping(table)["stalled"].startswith("The live stream is stalled")


# Words the glossary (docs/glossary.md) replaced.
RETIRED = ("đang phát", "đang bật", "chứng chỉ", "Bị che", "cấp trên hỏng")


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_glossary_words(uid: str) -> None:
    doc = _docs()[uid]
    text = json.dumps(doc, ensure_ascii=False)
    for word in RETIRED:
        assert word.lower() not in text.lower(), (uid, word)
    titles = {p["title"] for p in _panels(doc)}
    if uid == "netmon-noc":
        assert {"Cảnh báo hiện hành", "Cảnh báo hiện hành (Prometheus)"} <= titles
    if uid == "netmon-self":
        assert "Cảnh báo hiện hành theo mức độ" in titles
    if uid == "netmon-websites":
        # A site answering 503 is "Sự cố", never "Mất kết nối" (reachability only).
        state = _panel(uid, "Trạng thái trang")
        (mapping,) = state["fieldConfig"]["defaults"]["mappings"]
        assert mapping["options"]["0"]["text"] == "Sự cố"
        assert "Mất kết nối" not in text


def _walk_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: pp.Expr) -> bool:
        if isinstance(node, pp.VectorSelector) and node.name:
            names.add(node.name)
        return True

    substituted = re.sub(r"\$(\w+)", "x", expr)
    pp.walk(pp.parse(substituted), pre_visit=visit)
    return names


def test_annotations() -> None:
    docs = _docs()
    for uid, doc in docs.items():
        found = {a["name"]: a for a in doc["annotations"]["list"]}
        for annotation in found.values():
            assert annotation["datasource"] == {"type": "prometheus", "uid": "netmon-prometheus"}
            assert annotation["enable"] is True and annotation["hide"] is False
            assert annotation["step"] == "60s" and annotation["useValueForTime"] is False
            assert _walk_names(annotation["expr"]) <= set(BY_NAME) | {
                "netmon_phase_info",
                "ALERTS",
            }
            variables = set(re.findall(r"\$(\w+)", annotation["expr"]))
            assert variables <= {v["name"] for v in doc["templating"]["list"]}, uid
        if uid == "netmon-operator":
            # Only its own outages: the phases and ALERTS carry no carrier.
            assert list(found) == ["Sự cố / Outages"]
            assert 'carrier="$carrier"' in found["Sự cố / Outages"]["expr"]
            continue
        phases = found["Giai đoạn kế hoạch / Plan phases"]
        assert phases["expr"] == "max by (phase, title) (netmon_phase_info == 1)"
        assert phases["titleFormat"] == "{{title}}"
        alerts = found["Cảnh báo Prometheus / Prometheus alerts"]
        assert alerts["expr"].startswith('ALERTS{alertstate="firing"')
        if uid == "netmon-self":
            assert "Sự cố / Outages" not in found
            continue
        outages = found["Sự cố / Outages"]
        assert outages["expr"].startswith("max by (target, reason) (probe_failure_info{")
        assert outages["titleFormat"] == "Sự cố: {{target}}"
        assert "{{reason}}" in outages["textFormat"]
    venue = {a["name"]: a for a in docs["netmon-venue"]["annotations"]["list"]}
    settings = load_settings(REPO / "settings.toml")
    groups = "|".join(settings.grafana.venue_groups)
    assert f'group=~"{groups}"' in venue["Sự cố / Outages"]["expr"]


def _links(panel: dict[str, Any]) -> list[str]:
    config = panel.get("fieldConfig", {})
    urls = [link["url"] for link in config.get("defaults", {}).get("links", [])]
    for override in config.get("overrides", []):
        for prop in override["properties"]:
            if prop["id"] == "links":
                assert override["matcher"] == {"id": "byName", "options": "target"}
                urls += [link["url"] for link in prop["value"]]
    return urls


def test_data_links_to_the_target_page() -> None:
    settings = load_settings(REPO / "settings.toml")
    base = settings.status_url
    linked = 0
    for uid, doc in _docs().items():
        for panel in _panels(doc):
            if panel["type"] == "row":
                continue
            legends = " ".join(t.get("legendFormat", "") for t in panel["targets"])
            urls = _links(panel)
            by_target = any(
                re.match(r"((topk|bottomk)\(10, )?\w+ by \(([\w, ]*, )?target\b", t["expr"])
                for t in panel["targets"]
            )
            if panel["type"] == "table":
                assert urls == ([base + "targets/${__value.raw}"] if by_target else []), (
                    uid,
                    panel["title"],
                )
            elif "{{target}}" in legends or by_target:
                assert urls == [base + "targets/${__field.labels.target}"], (uid, panel["title"])
            else:
                assert urls == [], (uid, panel["title"])
            linked += bool(urls)
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                assert link["title"] == TARGET_LINK_TITLE and link["targetBlank"] is True
    assert linked >= 25
    # The up/down panels, the failure tables and the smokeping panels are among them.
    assert _links(_panel("netmon-noc", "Đối tượng đang lỗi"))
    assert _links(_panel("netmon-carriers", "Trạng thái đường truyền"))
    assert _links(_panel("netmon-carriers", "Độ trễ và mất gói: $target"))


def test_data_links_follow_external_url(tmp_path: Path) -> None:
    settings = parse_settings(
        {"server": {"external_url": "https://noc.daklak.local/netmon"}}, tmp_path
    )
    doc = build_all(settings)["netmon-websites"]
    urls = {u for p in _panels(doc) for u in _links(p)}
    assert urls == {
        "https://noc.daklak.local/netmon/targets/${__field.labels.target}",
        "https://noc.daklak.local/netmon/targets/${__value.raw}",
    }


def test_interface_states_in_the_pages_words() -> None:
    """ifOperStatus in the words of a device's page; bgpPeerState by the protocol's names."""
    ports = _panel("netmon-carriers", "Trạng thái cổng")
    (mapping,) = ports["fieldConfig"]["defaults"]["mappings"]
    words = {code: m["text"] for code, m in mapping["options"].items()}
    assert words["1"] == port_state_text("up", "vi") == "Hoạt động"
    assert words["2"] == port_state_text("down", "vi") == "Ngừng hoạt động"
    assert words["7"] == port_state_text("lowerLayerDown", "vi")
    assert mapping["options"]["2"]["color"] == "red"
    bgp = _panel("netmon-carriers", "Phiên BGP")
    (mapping,) = bgp["fieldConfig"]["defaults"]["mappings"]
    assert mapping["options"]["6"] == {"text": "Established", "color": "green", "index": 5}
    assert mapping["options"]["1"]["color"] == "red"
