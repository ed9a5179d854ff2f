"""The NOC's "current phase" panel says "Ngoài giai đoạn kế hoạch" between phases (issue 14).

Grafana's server is not installable here, so the panel's query, as committed in
grafana/build/dashboards/netmon-noc.json, is evaluated by Debian's Prometheus:

- by `promtool test rules` (Prometheus' own PromQL engine) on hand-written series: no phase
  current, one current, no netmon at all;
- by a real Prometheus scraping a real `netmon run` whose only future phase starts a few
  seconds after it: first the fallback, then the phase's title alone.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana.dashboards import OUTSIDE_PHASES
from tests.support.alerts import write_settings
from tests.support.common import REPO, free_port

PANEL = "Giai đoạn hiện tại"
PHASE_TITLE = "Diễn tập bảo đảm thông tin liên lạc"


def _panel() -> dict[str, Any]:
    doc = json.loads(
        (REPO / "grafana/build/dashboards/netmon-noc.json").read_text(encoding="utf-8")
    )
    panels = [p for top in doc["panels"] for p in (top, *top.get("panels", []))]
    (panel,) = [p for p in panels if p["title"] == PANEL]
    found: dict[str, Any] = panel
    return found


def _expr() -> str:
    (target,) = _panel()["targets"]
    assert target["instant"] is True and target["legendFormat"] == "{{title}}"
    expr: str = target["expr"]
    assert "$" not in expr  # no dashboard variable: the query runs as it is
    return expr


def test_panel_shows_the_series_title() -> None:
    panel = _panel()
    # The stat shows the series' name (its legend, the title label), not the number.
    assert panel["options"]["textMode"] == "name"
    assert "Không có số liệu" in panel["fieldConfig"]["defaults"]["noValue"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian's promtool is not installed")
def test_promtool_evaluates_the_panel_query(tmp_path: Path) -> None:
    expr = _expr()
    reload_ok = "netmon_config_last_reload_successful{instance='a:9108',job='netmon'}"

    def phase(name: str, title: str, values: str) -> dict[str, str]:
        return {
            "series": f"netmon_phase_info{{instance='a:9108',job='netmon',phase='{name}',"
            f"title='{title}'}}",
            "values": values,
        }

    tests = [
        {  # between phases: both phases are 0
            "interval": "15s",
            "input_series": [
                {"series": reload_ok, "values": "1x10"},
                phase("dai-hoi", "Đại hội", "0x10"),
                phase("dien-tap", PHASE_TITLE, "0x10"),
            ],
            "promql_expr_test": [
                {
                    "expr": expr,
                    "eval_time": "1m",
                    "exp_samples": [{"labels": f"{{title='{OUTSIDE_PHASES}'}}", "value": 0}],
                }
            ],
        },
        {  # no [[phases]] at all: netmon reports no phase series, the fallback still shows
            "interval": "15s",
            "input_series": [{"series": reload_ok, "values": "1x10"}],
            "promql_expr_test": [
                {
                    "expr": expr,
                    "eval_time": "1m",
                    "exp_samples": [{"labels": f"{{title='{OUTSIDE_PHASES}'}}", "value": 0}],
                }
            ],
        },
        {  # a phase in force: its title alone, no fallback beside it
            "interval": "15s",
            "input_series": [
                {"series": reload_ok, "values": "1x10"},
                phase("dai-hoi", "Đại hội", "0x10"),
                phase("dien-tap", PHASE_TITLE, "0 0 1x8"),
            ],
            "promql_expr_test": [
                {
                    "expr": expr,
                    "eval_time": "1m",
                    "exp_samples": [
                        {"labels": f"{{phase='dien-tap',title='{PHASE_TITLE}'}}", "value": 1}
                    ],
                },
                {
                    "expr": expr,
                    "eval_time": "15s",
                    "exp_samples": [{"labels": f"{{title='{OUTSIDE_PHASES}'}}", "value": 0}],
                },
            ],
        },
        {  # no netmon reporting: nothing (the panel's "no data" text), not a made-up phase
            "interval": "15s",
            "input_series": [{"series": "up{job='other'}", "values": "1x10"}],
            "promql_expr_test": [{"expr": expr, "eval_time": "1m", "exp_samples": []}],
        },
    ]
    (tmp_path / "phase_test.yml").write_text(
        yaml.safe_dump({"rule_files": [], "tests": tests}, allow_unicode=True), encoding="utf-8"
    )
    proc = subprocess.run(
        ["promtool", "test", "rules", "phase_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait(url: str, within: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            pass
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {within} s")
        time.sleep(0.2)


@contextlib.contextmanager
def _started(argv: list[str], log: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(90)
@pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="Debian's prometheus is not installed"
)
def test_real_prometheus_on_a_real_netmon(tmp_path: Path) -> None:
    """Outside every phase the panel's query answers the fallback alone; once the phase
    begins (a few seconds in), the phase's title alone."""
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now + timedelta(seconds=12)
    netmon_port, prom_port = free_port(), free_port()
    settings = write_settings(
        tmp_path / "settings.toml",
        # One target on a closed loopback port: netmon has something to probe.
        [{"name": "cong-dong", "kind": "tcp", "host": "127.0.0.1", "tcp": {"port": free_port()}}],
        {},
        phases=[
            {
                "name": "da-qua",
                "title": "Đợt đã qua",
                "start": now - timedelta(days=2),
                "end": now - timedelta(days=1),
            },
            {
                "name": "dien-tap",
                "title": PHASE_TITLE,
                "start": starts,
                "end": now + timedelta(hours=1),
            },
        ],
        interval="1s",
        listen=f"127.0.0.1:{netmon_port}",
    )
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "netmon",
                        "static_configs": [{"targets": [f"127.0.0.1:{netmon_port}"]}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    expr = _expr()
    base = f"http://127.0.0.1:{prom_port}"

    def answer() -> list[dict[str, str]]:
        query = urllib.parse.urlencode({"query": expr})
        data = _get(f"{base}/api/v1/query?{query}")["data"]
        assert data["resultType"] == "vector"
        return sorted((s["metric"] for s in data["result"]), key=lambda m: m.get("title", ""))

    netmon = [sys.executable, "-m", "monitor.cli", "run", "--config", str(settings)]
    prometheus = [
        "prometheus",
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--log.level=warn",
    ]
    with (
        _started(netmon, tmp_path / "netmon.log", tmp_path) as nm,
        _started(prometheus, tmp_path / "prometheus.log", tmp_path) as prom,
    ):
        _wait(f"http://127.0.0.1:{netmon_port}/healthz", 30, nm)
        _wait(f"{base}/-/ready", 30, prom)
        deadline = time.monotonic() + 10
        while not answer():  # until Prometheus has scraped netmon once
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.5)
        assert datetime.now(UTC) < starts, "netmon and Prometheus took too long to start"
        assert answer() == [{"title": OUTSIDE_PHASES}]
        while datetime.now(UTC) < starts + timedelta(seconds=3):
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while (found := answer()) != [{"phase": "dien-tap", "title": PHASE_TITLE}]:
            assert time.monotonic() < deadline, found
            time.sleep(0.5)
