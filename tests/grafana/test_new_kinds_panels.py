"""The panels of the kinds sip, stream and web (issue 16), as committed in grafana/build: where
they are, their colours and words, their links to netmon's target pages, and their queries
evaluated by `promtool test rules` (Prometheus' own PromQL engine) on hand-written series."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_settings
from tests.support.common import REPO

BUILD = REPO / "grafana" / "build" / "dashboards"
SERIES = "instance='a:9108',job='netmon',location='hoi-truong',group='venue'"


def _doc(uid: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((BUILD / f"{uid}.json").read_text(encoding="utf-8"))
    return doc


def _panels(uid: str) -> list[dict[str, Any]]:
    return [p for top in _doc(uid)["panels"] for p in (top, *top.get("panels", []))]


def _panel(uid: str, title: str) -> dict[str, Any]:
    (panel,) = [p for p in _panels(uid) if p["title"] == title]
    return panel


def _colour(panel: dict[str, Any], value: float) -> str:
    colour = ""
    for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]:
        if step["value"] is None or step["value"] <= value:
            colour = step["color"]
    return colour


def _words(panel: dict[str, Any]) -> dict[str, str]:
    (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
    return {value: result["text"] for value, result in mapping["options"].items()}


NOC_SIP = (
    "Mã trạng thái SIP theo trung kế",
    "Thời gian phản hồi SIP OPTIONS",
    "Đăng ký máy nhánh SIP",
)
NOC_STREAM = (
    "Luồng phát có tiến không",
    "Tuổi đoạn phát mới nhất",
    "Tốc độ bit đo được và khai báo",
    "Thời gian tải đoạn phát",
)
INTEGRITY = (
    "Bị chèn mã hoặc liên kết lạ",
    "Thay đổi giao diện",
    "Mẫu của trang",
    "Liên kết ẩn và từ ngữ cờ bạc",
    "Độ giống nội dung với mẫu",
)


def test_each_kind_has_its_panels_where_it_belongs() -> None:
    noc = {p["title"] for p in _panels("netmon-noc")}
    websites = {p["title"] for p in _panels("netmon-websites")}
    operator = {p["title"] for p in _panels("netmon-operator")}
    carriers = {p["title"] for p in _panels("netmon-carriers")}
    assert set(NOC_SIP) <= carriers  # the carriers' trunks beside their links
    assert set(NOC_SIP) | set(NOC_STREAM) <= noc
    assert {"Tổng đài, trung kế SIP đang lỗi", "Luồng phát đang lỗi"} <= noc
    assert set(INTEGRITY) | {"Trang bị chèn mã hoặc thay đổi giao diện"} <= websites
    assert not set(INTEGRITY) & noc and not set(NOC_STREAM) & websites
    # The operator view: its carrier's own SIP trunks, nothing else of the new kinds.
    assert set(NOC_SIP) <= operator and not (set(NOC_STREAM) | set(INTEGRITY)) & operator
    for title in NOC_SIP:
        for target in _panel("netmon-operator", title)["targets"]:
            assert 'carrier="$carrier"' in target["expr"] and 'kind="sip"' in target["expr"]
    for title in NOC_SIP:
        assert 'kind="sip"' in _panel("netmon-noc", title)["targets"][0]["expr"]
    for title in NOC_STREAM:
        assert 'kind="stream"' in _panel("netmon-noc", title)["targets"][0]["expr"]
    for title in INTEGRITY:
        assert 'kind="web"' in _panel("netmon-websites", title)["targets"][0]["expr"]


def test_sip_codes_are_coloured_by_class_and_the_states_are_in_words() -> None:
    panel = _panel("netmon-noc", "Mã trạng thái SIP theo trung kế")
    colours = {code: _colour(panel, code) for code in (200, 202, 302, 404, 407, 486, 503, 603)}
    assert colours == {
        200: "green",
        202: "green",
        302: "blue",
        404: "orange",
        407: "orange",
        486: "orange",
        503: "red",
        603: "red",
    }
    assert _words(panel) == {"0": "Không có phản hồi"}
    assert _words(_panel("netmon-noc", "Đăng ký máy nhánh SIP")) == {
        "1": "Đăng ký được",
        "0": "Không đăng ký được",
    }
    assert _words(_panel("netmon-noc", "Luồng phát có tiến không")) == {
        "1": "Luồng phát bình thường",
        "0": "Luồng bị đứng",
    }
    assert _words(_panel("netmon-websites", "Bị chèn mã hoặc liên kết lạ")) == {
        "0": "Bình thường",
        "1": "Bị chèn mã hoặc liên kết lạ",
    }
    assert _words(_panel("netmon-websites", "Thay đổi giao diện"))["1"] == "Thay đổi giao diện"
    assert _words(_panel("netmon-websites", "Mẫu của trang"))["0"] == "Đang học mẫu"
    # The failure tables say the reasons as the status page does.
    table = _panel("netmon-noc", "Luồng phát đang lỗi")
    (override,) = table["fieldConfig"]["overrides"][:1]
    words = override["properties"][0]["value"][0]["options"]
    assert words["stalled"]["text"].startswith("Luồng phát trực tiếp bị đứng")
    table = _panel("netmon-websites", "Trang bị chèn mã hoặc thay đổi giao diện")
    words = table["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]["options"]
    assert words["hidden_links"]["text"] == "Bị chèn liên kết ẩn"
    assert words["defaced"]["text"].startswith("Trang bị thay đổi giao diện")


def test_the_new_panels_link_to_the_target_page() -> None:
    base = load_settings(REPO / "settings.toml").status_url
    for uid, titles in (("netmon-noc", NOC_SIP + NOC_STREAM), ("netmon-websites", INTEGRITY)):
        for title in titles:
            links = _panel(uid, title)["fieldConfig"]["defaults"]["links"]
            assert [link["url"] for link in links] == [base + "targets/${__field.labels.target}"], (
                title
            )
    table = _panel("netmon-noc", "Tổng đài, trung kế SIP đang lỗi")
    links = [p for o in table["fieldConfig"]["overrides"] for p in o["properties"]]
    assert {"id": "links"}.items() <= links[-1].items()
    assert links[-1]["value"][0]["url"] == base + "targets/${__value.raw}"


def _expr(uid: str, title: str, n: int = 0) -> str:
    expr = str(_panel(uid, title)["targets"][n]["expr"])
    subs = {"$location": ".*", "$group": ".*", "$carrier": "viettel"}
    return re.sub(r"\$\w+", lambda m: subs[m.group(0)], expr)


def _series(metric: str, target: str, values: str, **labels: str) -> dict[str, str]:
    more = "".join(f",{k}='{v}'" for k, v in labels.items())
    return {"series": f"{metric}{{{SERIES},target='{target}'{more}}}", "values": values}


@pytest.mark.timeout(90)
def test_promtool_evaluates_the_new_panels_queries(tmp_path: Path) -> None:
    advancing = _expr("netmon-noc", "Luồng phát có tiến không")
    status = _expr("netmon-noc", "Mã trạng thái SIP theo trung kế")
    rtt = _expr("netmon-noc", "Thời gian phản hồi SIP OPTIONS")
    trunk = _expr("netmon-operator", "Mã trạng thái SIP theo trung kế")
    injected = _expr("netmon-websites", "Bị chèn mã hoặc liên kết lạ")
    similarity = _expr("netmon-websites", "Độ giống nội dung với mẫu")
    tests = [
        {
            "interval": "30s",
            "input_series": [
                # The livestream's sequence moves every probe; the radio's stops at 12.
                _series("probe_stream_media_sequence", "congress-live", "100+1x20", kind="stream"),
                _series("probe_stream_media_sequence", "radio", "10 11 12x18", kind="stream"),
                _series("probe_sip_status_code", "venue-pbx", "200x20", kind="sip"),
                _series(
                    "probe_sip_status_code",
                    "viettel-trunk",
                    "200x5 503x15",
                    kind="sip",
                    carrier="viettel",
                ),
                _series(
                    "probe_sip_status_code",
                    "vnpt-trunk",
                    "404x20",
                    kind="sip",
                    carrier="vnpt",
                ),
                _series(
                    "probe_sip_duration_seconds",
                    "venue-pbx",
                    "0.004x20",
                    kind="sip",
                    phase="options",
                ),
                _series(
                    "probe_sip_duration_seconds",
                    "venue-pbx",
                    "0.9x20",
                    kind="sip",
                    phase="register",
                ),
                _series("probe_web_injected", "portal", "0x10 1x10", kind="web"),
                _series("probe_web_text_similarity", "portal", "0.97x10 0.31x10", kind="web"),
            ],
            "promql_expr_test": [
                {
                    "expr": advancing,
                    "eval_time": "9m",
                    "exp_samples": [
                        {"labels": "{target='congress-live'}", "value": 1},
                        {"labels": "{target='radio'}", "value": 0},
                    ],
                },
                {
                    "expr": status,
                    "eval_time": "9m",
                    "exp_samples": [
                        {"labels": "{target='venue-pbx'}", "value": 200},
                        {"labels": "{target='viettel-trunk'}", "value": 503},
                        {"labels": "{target='vnpt-trunk'}", "value": 404},
                    ],
                },
                {  # the OPTIONS' round trip, not the REGISTER's
                    "expr": rtt,
                    "eval_time": "9m",
                    "exp_samples": [{"labels": "{target='venue-pbx'}", "value": 0.004}],
                },
                {  # the operator's copy: its carrier's trunk only
                    "expr": trunk,
                    "eval_time": "9m",
                    "exp_samples": [{"labels": "{target='viettel-trunk'}", "value": 503}],
                },
                {
                    "expr": injected,
                    "eval_time": "9m",
                    "exp_samples": [{"labels": "{target='portal'}", "value": 1}],
                },
                {
                    "expr": similarity,
                    "eval_time": "2m",
                    "exp_samples": [{"labels": "{target='portal'}", "value": 0.97}],
                },
            ],
        }
    ]
    (tmp_path / "panels_test.yml").write_text(
        yaml.safe_dump({"rule_files": [], "tests": tests}, allow_unicode=True), encoding="utf-8"
    )
    proc = subprocess.run(
        ["promtool", "test", "rules", "panels_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr
