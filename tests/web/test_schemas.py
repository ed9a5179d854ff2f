"""The answers' models (monitor/web/schemas.py): strict and closed, and an answer made from
one is the same text the handlers wrote before they had models."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from alerts.model import MaintenanceWindow
from monitor.web import schemas
from monitor.web.api import dumps
from monitor.web.status import STATES

MODELS = [
    model
    for name in schemas.__all__
    if isinstance(model := getattr(schemas, name), type) and issubclass(model, BaseModel)
]

TARGET: dict[str, Any] = {
    "name": "dc-fpt-uplink",
    "kind": "icmp",
    "group": "carrier",
    "labels": {"carrier": "fpt", "site": "trung-tâm"},
    "address": "127.0.2.14",
    "depends_on": [],
    "state": "up",
    "probe_state": "up",
    "since": "2026-12-03T19:13:53.900376Z",
    "reason": None,
    "reason_text": {"vi": "", "en": ""},
    "detail": "5/5 echoes answered, 0% loss, avg 0.04 ms",
    "last_probe": "2026-12-03T19:14:21Z",
    "duration_seconds": 0.801245,
    "rtt_seconds": 3.6e-05,
    "loss_ratio": 0.0,
    "http_status": None,
    "cert_expiry": None,
    "maintenance": None,
    "suppressed_by": None,
    "alerts": [],
}


def test_every_model_is_strict_and_closed() -> None:
    assert len(MODELS) > 20
    for model in MODELS:
        assert model.model_config.get("strict") is True, model
        assert model.model_config.get("extra") == "forbid", model


def test_a_wrong_answer_is_refused() -> None:
    schemas.Target.model_validate(TARGET)
    for wrong in (
        {**TARGET, "secret": "x"},  # a field the document does not have
        {k: v for k, v in TARGET.items() if k != "detail"},  # nullable, but required
        {**TARGET, "name": None},  # not nullable
        {**TARGET, "http_status": "200"},  # strict: no text for a number
        {**TARGET, "http_status": 200.0},
        {**TARGET, "state": "sideways"},
        {**TARGET, "reason_text": {"vi": ""}},
    ):
        with pytest.raises(ValidationError):
            schemas.Target.model_validate(wrong)


def test_an_answer_keeps_its_text() -> None:
    """Numbers as Python writes them (3.6e-05, an int stays an int), Vietnamese as it is,
    NaN as null, keys in the order the handlers always wrote them."""
    text = dumps(schemas.Target.model_validate(TARGET).model_dump())
    assert text == dumps(TARGET)
    assert '"rtt_seconds": 3.6e-05' in text and "trung-tâm" in text
    counted = {**TARGET, "duration_seconds": 5}
    assert dumps(schemas.Target.model_validate(counted).model_dump()) == dumps(counted)
    alert = {
        "key": "eaef4db0f9883ec4",
        "rule": "Watchdog",
        "target": None,
        "state": "firing",
        "severity": "none",
        "phase": "none",
        "labels": {"alertname": "Watchdog"},
        "annotations": {"summary_vi": "netmon đang hoạt động"},
        "value": float("nan"),
        "since": "2026-12-03T19:13:51.805285Z",
        "fired_at": None,
        "held": None,
        "hold": None,
        "suppressed": False,
        "flapping": False,
        "ack": None,
        "notified": [],
    }
    text = dumps(schemas.Alert.model_validate(alert).model_dump())
    assert text == dumps(alert) and json.loads(text)["value"] is None


FIGURES: dict[str, Any] = {
    "availability_percent": 99.987,
    "outages": 1,
    "downtime_seconds": 45.0,
    "longest_outage_seconds": 45.0,
    "mttr_seconds": 45.0,
    "maintenance_seconds": 0.0,
    "maintenance_downtime_seconds": 0.0,
    "scheduled_seconds": 345600.0,
    "period_seconds": 345600.0,
    "watched_seconds": 345600.0,
    "unwatched_seconds": 0.0,
    "up_seconds": 345555.0,
    "coverage_percent": 100.0,
    "low_coverage": False,
    "sla_percent": 99.9,
    "sla_met": True,
}


def test_the_report_rows_keep_their_figures_in_place() -> None:
    """The figures sit between a row's own fields and its outages, as monitor/report writes
    them: pydantic takes the bases' fields from the right."""
    outage = {
        "start": "2025-10-14T01:00:00Z",
        "end": "2025-10-14T01:00:45Z",
        "reason": "timeout",
        "maintenance": None,
        "downtime_seconds": 45.0,
        "maintenance_seconds": 0.0,
        "ack": None,
        "id": 7,
        "note": {"text": "Cáp quang đứt", "by": "noc", "at": "2025-10-14T01:05:00Z"},
    }
    row = {
        "name": "vt",
        "group": "carrier",
        "kind": "icmp",
        "carrier": "viettel",
        "labels": {"carrier": "viettel"},
        **FIGURES,
        "outage_list": [outage],
    }
    aggregate = {"name": "viettel", "targets": 1, **FIGURES}
    total = {"targets": 1, **FIGURES}
    section = {
        "key": "dai-hoi-tinh",
        "phase": "dai-hoi-tinh",
        "title": "Đại hội",
        "start": "2025-10-14T00:00:00Z",
        "end": "2025-10-16T11:00:00Z",
        "planned_end": "2025-10-16T11:00:00Z",
        "total": total,
        "carriers": [aggregate],
        "groups": [{**aggregate, "name": "carrier"}],
        "targets": [row],
    }
    report = {
        "generated": "2025-10-17T00:00:00Z",
        "start": "2025-10-14T00:00:00Z",
        "end": "2025-10-16T11:00:00Z",
        "timezone": "Asia/Ho_Chi_Minh",
        "scope": None,
        "filters": {},
        "unknown_maintenance_windows": [],
        "maintenance_windows": [
            {
                "name": "nang-cap",
                "match": {"target": ["vt"]},
                "start": "2025-10-14T02:00:00Z",
                "end": "2025-10-14T03:00:00Z",
                "comment": "Nâng cấp",
                "author": "noc",
                "maintenance_seconds": 3600.0,
            }
        ],
        "sections": [section],
    }
    assert dumps(schemas.Report.model_validate(report).model_dump()) == dumps(report)
    assert list(schemas.ReportTarget.model_fields) == list(row)
    assert list(schemas.ReportAggregate.model_fields) == list(aggregate)
    assert list(schemas.ReportTotal.model_fields) == list(total)


def test_the_states_are_the_status_pages() -> None:
    assert get_args(schemas.TargetStateName) == STATES


def test_maintenance_answer_and_request_follow_the_one_window_model() -> None:
    """The API's window is alerts.model.MaintenanceWindow: its answer adds where it came from
    and whether it is active; its request takes the same fields (times optional, or a
    duration). A field added to the model must reach both."""
    window = set(MaintenanceWindow.model_fields)
    assert set(schemas.Maintenance.model_fields) == window | {"source", "active"}
    # The author is the caller's token name, never the body's.
    assert set(schemas.MaintenanceRequest.model_fields) == window - {"author"} | {"duration"}
    made = MaintenanceWindow.at("w", {"target": ["a"]}, 1_760_000_000.0, 1_760_003_600.0)
    answer = schemas.Maintenance.model_validate(made.to_json("api", 1_760_000_100.0))
    assert answer.active and answer.start == "2025-10-09T08:53:20Z"
