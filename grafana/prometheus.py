"""``netmon prometheus config``: the scrape config and the rules, from the same settings.

- ``prometheus.yml``: one job scraping every netmon of ``[[prometheus.netmons]]`` (one, or
  several: sharded, or one per vantage point), each labelled with its ``location`` (and
  ``shard``); ``[server] listen`` at location "local" when none is listed.
- ``netmon.rules.yml``:
  - recording: availability per target (the mean of ``probe_success``) over 5m, 1h and 1d,
    keeping every label of the target and its location (so an operator's scope applies to them
    too): ``target:probe_success:avg5m``, ``...:avg1h``, ``...:avg1d``;
  - alerting, netmon's own health: ``NetmonScrapeDown``, ``NetmonSchedulerLag``,
    ``NetmonOutboxBacklog``, ``NetmonWatchdogMissing``, ``NetmonConfigReloadFailed``;
  - the multi-vantage quorum: ``TargetDownQuorum``, a target down from at least ``quorum``
    locations (netmon keeps no cluster state: this rule is where locations meet).

Rule unit tests for ``promtool test rules`` are in tests/fixtures/prometheus/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from grafana.settings import NetmonInstance, PrometheusSettings, prom_duration
from monitor.config import Settings

__all__ = [
    "AVAILABILITY_WINDOWS",
    "RULES_FILE",
    "alerting_rules",
    "instances",
    "recording_rules",
    "render",
    "rules",
    "scrape_config",
    "write",
]

RULES_FILE = "netmon.rules.yml"
AVAILABILITY_WINDOWS = ("5m", "1h", "1d")
# Labels of a series that say where it was measured from, not what it measures.
_WHERE = ("instance", "shard")


def instances(settings: Settings) -> list[NetmonInstance]:
    return settings.prometheus.netmons or [NetmonInstance(address=settings.server.listen)]


def scrape_config(settings: Settings, rule_files: list[str] | None = None) -> dict[str, Any]:
    prom = settings.prometheus
    static: list[dict[str, Any]] = []
    for inst in instances(settings):
        labels = {"location": inst.location}
        if inst.shard is not None:
            labels["shard"] = inst.shard
        static.append({"targets": [inst.address], "labels": labels})
    timeout = prom.scrape_timeout or min(10.0, prom.scrape_interval)
    job: dict[str, Any] = {
        "job_name": prom.job,
        "scrape_interval": prom_duration(prom.scrape_interval),
        "scrape_timeout": prom_duration(timeout),
        "metrics_path": "/metrics",
        "static_configs": static,
    }
    if prom.credentials_file is not None:
        job["authorization"] = {"type": "Bearer", "credentials_file": prom.credentials_file}
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": prom_duration(prom.scrape_interval),
            "evaluation_interval": prom_duration(prom.evaluation_interval),
        },
        "rule_files": rule_files if rule_files is not None else [RULES_FILE],
        "scrape_configs": [job],
    }
    if prom.alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(prom.alertmanagers)}]}]
        }
    return config


def _job(prom: PrometheusSettings) -> str:
    return f'job="{prom.job}"'


def recording_rules(prom: PrometheusSettings) -> list[dict[str, Any]]:
    groups = []
    for window in AVAILABILITY_WINDOWS:
        interval = prom.evaluation_interval if window == "5m" else prom.slow_evaluation_interval
        groups.append(
            {
                "name": f"netmon-availability-{window}",
                "interval": prom_duration(interval),
                "rules": [
                    {
                        "record": f"target:probe_success:avg{window}",
                        "expr": (
                            f"avg without ({', '.join(_WHERE)}) "
                            f"(avg_over_time(probe_success{{{_job(prom)}}}[{window}]))"
                        ),
                    }
                ],
            }
        )
    return groups


def _alert(
    name: str,
    expr: str,
    for_: float,
    severity: str,
    summary: tuple[str, str],
    description: tuple[str, str],
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": prom_duration(for_),
        "labels": {"severity": severity, "source": "prometheus"},
        "annotations": {
            "summary": summary[0],
            "description": description[0],
            "summary_en": summary[1],
            "description_en": description[1],
        },
    }


def alerting_rules(prom: PrometheusSettings) -> list[dict[str, Any]]:
    r = prom.rules
    job = _job(prom)
    lag = r.scheduler_lag
    health = [
        _alert(
            "NetmonScrapeDown",
            f"up{{{job}}} == 0 or absent(up{{{job}}})",
            r.scrape_down_for,
            "critical",
            (
                "Prometheus không đọc được số liệu của netmon {{ $labels.instance }}",
                "Prometheus cannot scrape netmon {{ $labels.instance }}",
            ),
            (
                "netmon tại {{ $labels.location }} không trả lời /metrics: nó hoặc máy chủ "
                "của nó đã ngừng, hoặc đường mạng tới nó bị đứt.",
                "netmon at {{ $labels.location }} does not answer /metrics: it or its host "
                "has stopped, or the network to it is cut.",
            ),
        ),
        _alert(
            "NetmonSchedulerLag",
            f'netmon_scheduler_lag_seconds{{{job},quantile="0.99"}} > {lag:g}',
            r.scheduler_lag_for,
            "warning",
            (
                "netmon {{ $labels.instance }} thăm dò chậm hơn lịch",
                "netmon {{ $labels.instance }} probes later than scheduled",
            ),
            (
                "99% số lần thăm dò bắt đầu trễ tới {{ $value | humanizeDuration }}: máy chủ "
                "quá tải hoặc quá nhiều đối tượng cho một tiến trình.",
                "The 99th percentile of probe start lag is {{ $value | humanizeDuration }}: "
                "the host is overloaded or one process has too many targets.",
            ),
        ),
        _alert(
            "NetmonOutboxBacklog",
            f"netmon_outbox_pending{{{job}}} > {r.outbox_pending}",
            r.outbox_for,
            "warning",
            (
                "netmon {{ $labels.instance }} còn {{ $value }} thông báo chưa gửi được",
                "netmon {{ $labels.instance }} has {{ $value }} notifications not yet delivered",
            ),
            (
                "Hàng đợi thông báo không giảm: kiểm tra Alertmanager, máy chủ thư, Telegram.",
                "The notification outbox is not draining: check Alertmanager, SMTP, Telegram.",
            ),
        ),
        _alert(
            "NetmonWatchdogMissing",
            f"up{{{job}}} == 1 unless on (instance) "
            f'(netmon_alerts_firing{{{job},severity="{r.watchdog_severity}"}} >= 1)',
            r.watchdog_for,
            "critical",
            (
                "Bộ cảnh báo của netmon {{ $labels.instance }} không còn chạy",
                "netmon {{ $labels.instance }}'s alert engine is not running",
            ),
            (
                "netmon vẫn trả lời /metrics nhưng cảnh báo Watchdog luôn bật của nó đã tắt: "
                "cảnh báo mới sẽ không được gửi.",
                "netmon answers /metrics but its always-firing Watchdog is gone: new alerts "
                "will not be sent.",
            ),
        ),
        _alert(
            "NetmonConfigReloadFailed",
            f"netmon_config_last_reload_successful{{{job}}} == 0",
            r.reload_failed_for,
            "warning",
            (
                "netmon {{ $labels.instance }} từ chối tệp cấu hình mới",
                "netmon {{ $labels.instance }} refused its new settings",
            ),
            (
                "Lần nạp lại cấu hình gần nhất bị từ chối; netmon vẫn chạy với cấu hình cũ. "
                "Chạy `netmon check-config` để xem lỗi.",
                "The last reload was refused; netmon runs on its old settings. "
                "Run `netmon check-config` to see the errors.",
            ),
        ),
    ]
    where = ", ".join(_WHERE)
    quorum = _alert(
        "TargetDownQuorum",
        f"count without (location) (max without ({where}) "
        f"(probe_success{{{job}}} == 0)) >= {r.quorum}",
        r.quorum_for,
        "critical",
        (
            "{{ $labels.target }} gặp sự cố nhìn từ {{ $value }} điểm đo",
            "{{ $labels.target }} is down from {{ $value }} locations",
        ),
        (
            "{{ $labels.target }} ({{ $labels.group }}) không đạt từ ít nhất "
            f"{r.quorum} điểm đo khác nhau: sự cố nằm ở đối tượng, không ở một điểm đo.",
            "{{ $labels.target }} ({{ $labels.group }}) fails from at least "
            f"{r.quorum} different locations: the fault is the target's, not one vantage point's.",
        ),
    )
    return [
        {"name": "netmon-health", "rules": health},
        {"name": "netmon-quorum", "rules": [quorum]},
    ]


def rules(settings: Settings) -> dict[str, Any]:
    prom = settings.prometheus
    return {"groups": recording_rules(prom) + alerting_rules(prom)}


_HEADER = (
    "# Generated by `netmon prometheus config` from the netmon settings: edit those, not this.\n"
)


def render(document: dict[str, Any]) -> str:
    return _HEADER + yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )


def write(settings: Settings, out: Path) -> list[Path]:
    """Write prometheus.yml and the rules file into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / "prometheus.yml": render(scrape_config(settings)),
        out / RULES_FILE: render(rules(settings)),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)
