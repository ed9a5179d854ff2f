"""`netmon prometheus config`: promtool checks the scrape config and the rules, and runs the
rules' unit tests (tests/fixtures/prometheus/rules_test.yml); the [prometheus] settings."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import prometheus
from grafana.settings import prom_duration
from monitor.cli.grafana import main
from monitor.config import Settings, SettingsError, load_settings, parse_settings
from tests.support.common import REPO

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed"
)


def _promtool(*args: str, cwd: Path | None = None) -> str:
    assert PROMTOOL is not None
    proc = subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _settings(prom: dict[str, Any], tmp_path: Path) -> Settings:
    return parse_settings({"prometheus": prom}, tmp_path)


@needs_promtool
def test_shipped_settings_pass_promtool(tmp_path: Path) -> None:
    assert (
        main(
            [
                "prometheus",
                "config",
                "--config",
                str(REPO / "settings.toml"),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in out
    out = _promtool("check", "rules", str(tmp_path / prometheus.RULES_FILE))
    assert "SUCCESS: 9 rules found" in out


@needs_promtool
def test_several_netmons_sharded_and_per_location(tmp_path: Path) -> None:
    token = tmp_path / "metrics.token"
    token.write_text("secret\n")
    settings = _settings(
        {
            "scrape_interval": "30s",
            "scrape_timeout": "20s",
            "evaluation_interval": "1m",
            "netmons": [
                {"address": "10.1.0.1:9108", "location": "bmt", "shard": "1/2"},
                {"address": "10.1.0.2:9108", "location": "bmt", "shard": "2/2"},
                {"address": "monitor.hanoi.example:9108", "location": "ha-noi"},
                {"address": "[2001:db8::1]:9108", "location": "du-phong"},
            ],
            "alertmanagers": ["10.1.0.9:9093", "10.1.0.10:9093"],
            "credentials_file": str(token),
            "job": "netmon-daklak",
        },
        tmp_path,
    )
    written = prometheus.write(settings, tmp_path)
    assert [p.name for p in written] == ["prometheus.yml", prometheus.RULES_FILE]
    _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    doc = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    (job,) = doc["scrape_configs"]
    assert job["job_name"] == "netmon-daklak"
    assert (job["scrape_interval"], job["scrape_timeout"]) == ("30s", "20s")
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(token)}
    assert [(s["targets"], s["labels"]) for s in job["static_configs"]] == [
        (["10.1.0.1:9108"], {"location": "bmt", "shard": "1/2"}),
        (["10.1.0.2:9108"], {"location": "bmt", "shard": "2/2"}),
        (["monitor.hanoi.example:9108"], {"location": "ha-noi"}),
        (["[2001:db8::1]:9108"], {"location": "du-phong"}),
    ]
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "10.1.0.9:9093",
        "10.1.0.10:9093",
    ]
    rules = yaml.safe_load((tmp_path / prometheus.RULES_FILE).read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert all('job="netmon-daklak"' in e for e in exprs)


@needs_promtool
def test_rule_unit_tests(tmp_path: Path) -> None:
    """The rules from the default settings against promtool's unit tests."""
    prometheus.write(Settings(), tmp_path)
    shutil.copy(REPO / "tests" / "fixtures" / "prometheus" / "rules_test.yml", tmp_path)
    out = _promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert "SUCCESS" in out


def test_rules_shape() -> None:
    doc = prometheus.rules(Settings())
    groups = {g["name"]: g for g in doc["groups"]}
    assert list(groups) == [
        "netmon-availability-5m",
        "netmon-availability-1h",
        "netmon-availability-1d",
        "netmon-health",
        "netmon-quorum",
    ]
    assert [g["interval"] for g in list(groups.values())[:3]] == ["15s", "1m", "1m"]
    alerts = [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert alerts == [
        "NetmonScrapeDown",
        "NetmonSchedulerLag",
        "NetmonOutboxBacklog",
        "NetmonWatchdogMissing",
        "NetmonConfigReloadFailed",
        "TargetDownQuorum",
    ]
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert set(rule["annotations"]) == {
                    "summary",
                    "description",
                    "summary_en",
                    "description_en",
                }
                assert rule["labels"]["severity"] in ("critical", "warning")


def test_thresholds_come_from_settings(tmp_path: Path) -> None:
    settings = _settings(
        {
            "rules": {
                "scheduler_lag": "2500ms",
                "outbox_pending": 7,
                "quorum": 3,
                "quorum_for": "30s",
                "watchdog_severity": "info",
            }
        },
        tmp_path,
    )
    rules = {
        r["alert"]: r
        for g in prometheus.rules(settings)["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert rules["NetmonSchedulerLag"]["expr"].endswith("> 2.5")
    assert rules["NetmonOutboxBacklog"]["expr"].endswith("> 7")
    assert rules["TargetDownQuorum"]["expr"].endswith(">= 3")
    assert rules["TargetDownQuorum"]["for"] == "30s"
    assert 'severity="info"' in rules["NetmonWatchdogMissing"]["expr"]


def test_committed_outputs_are_current(tmp_path: Path) -> None:
    """grafana/build/prometheus/ is what `netmon prometheus config` makes of settings.toml."""
    prometheus.write(load_settings(REPO / "settings.toml"), tmp_path)
    for name in ("prometheus.yml", prometheus.RULES_FILE):
        committed = (REPO / "grafana" / "build" / "prometheus" / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), (
            f"grafana/build/prometheus/{name} is stale: run `netmon prometheus config`"
        )


def test_default_instance_is_server_listen() -> None:
    doc = tomllib.loads((REPO / "settings.toml").read_text(encoding="utf-8"))
    settings = load_settings(REPO / "settings.toml")
    (static,) = prometheus.scrape_config(settings)["scrape_configs"][0]["static_configs"]
    assert static == {"targets": [doc["server"]["listen"]], "labels": {"location": "local"}}


@pytest.mark.parametrize(
    ("prom", "error"),
    [
        ({"url": "ftp://x"}, "prometheus.url: 'ftp://x' is not an http:// or https:// URL"),
        ({"url": "http://x/?q=1"}, "prometheus.url: 'http://x/?q=1': give the base URL"),
        ({"scrape_interval": 15}, "prometheus.scrape_interval: a duration must be a string"),
        ({"scrape_interval": "10s", "scrape_timeout": "20s"}, "scrape_timeout is longer"),
        ({"netmons": [{"address": "127.0.0.1"}]}, "prometheus.netmons[0].address: '127.0.0.1'"),
        ({"netmons": [{"address": "a:1", "location": "Ha Noi"}]}, "netmons[0].location"),
        ({"netmons": [{"address": "a:1", "shard": "3/2"}]}, "shard '3/2' is not"),
        ({"netmons": [{"address": "a:1", "shard": "0/2"}]}, "shard '0/2' is not"),
        (
            {"netmons": [{"address": "a:1"}, {"address": "a:1"}]},
            "netmons[1]: a:1 at local is given twice",
        ),
        ({"rules": {"quorum": 1}}, "prometheus.rules.quorum: Input should be greater than"),
        ({"rules": {"watchdog_severity": "page"}}, "prometheus.rules.watchdog_severity"),
        ({"alertmanagers": ["http://am:9093"]}, "prometheus.alertmanagers[0]"),
        ({"unknown": 1}, "prometheus.unknown: unknown key"),
    ],
)
def test_settings_errors(prom: dict[str, Any], error: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        _settings(prom, tmp_path)
    assert error in str(info.value)


def test_prom_duration() -> None:
    assert [prom_duration(s) for s in (0, 0.5, 1.5, 2, 60, 90, 3600, 86400, 172800)] == [
        "0s",
        "500ms",
        "1500ms",
        "2s",
        "1m",
        "90s",
        "1h",
        "1d",
        "2d",
    ]
