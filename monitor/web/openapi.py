"""The OpenAPI 3.0 document of /api/v1, served at /api/v1/openapi.json: the API's contract.

Built from the settings in force, so that its enums (the phases) are what the server accepts.
Every answer object lists its fields as required and allows no others: a field that appears
or goes without this document changing is a test failure (schemathesis checks every answer).
"""

from __future__ import annotations

from typing import Any

from alerts.model import HOLD_KINDS
from monitor.config import Settings

__all__ = ["document"]

_STATES = ["up", "down", "degraded", "suppressed", "maintenance", "unknown"]
ALERT_STATES = ["pending", "firing", "inactive"]
FORMATS = ["json", "csv", "html"]


def _s(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, **more}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _obj(props: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


STR = _s("string")
TIME = _s("string", format="date-time")
NUM = _s("number")
INT = _s("integer")
BOOL = _s("boolean")
LABELS = {"type": "object", "additionalProperties": STR}
PHASE = {
    "type": "object",
    "properties": {"name": STR, "title": STR, "start": TIME, "end": TIME},
    "required": ["name", "title", "start", "end"],
    "additionalProperties": False,
}
MATCH = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "array", "items": STR, "minItems": 1},
}


def _schemas() -> dict[str, Any]:
    figures = {
        "availability_percent": _null(NUM),
        "outages": INT,
        "downtime_seconds": NUM,
        "longest_outage_seconds": NUM,
        "mttr_seconds": _null(NUM),
        "maintenance_seconds": NUM,
        "maintenance_downtime_seconds": NUM,
        "scheduled_seconds": NUM,
        "period_seconds": NUM,
    }
    return {
        "Error": _obj({"error": STR}),
        "Target": _obj(
            {
                "name": STR,
                "kind": STR,
                "group": STR,
                "labels": LABELS,
                "address": STR,
                "depends_on": _array(STR),
                "state": _s("string", enum=_STATES),
                "probe_state": _s("string", enum=["up", "down", "unknown"]),
                "since": _null(TIME),
                "reason": _null(STR),
                "reason_text": _obj({"vi": STR, "en": STR}),
                "detail": _null(STR),
                "last_probe": _null(TIME),
                "duration_seconds": _null(NUM),
                "rtt_seconds": _null(NUM),
                "loss_ratio": _null(NUM),
                "http_status": _null(INT),
                "cert_expiry": _null(TIME),
                "maintenance": _null(STR),
                "suppressed_by": _null(STR),
                "alerts": _array(STR),
            }
        ),
        "Observation": _obj(
            {
                "started": TIME,
                "success": BOOL,
                "reason": _null(STR),
                "detail": STR,
                "duration_seconds": _null(NUM),
                "rtt_seconds": _null(NUM),
                "loss_ratio": _null(NUM),
                "http_status": _null(INT),
            }
        ),
        "Event": _obj({"source": STR, "name": STR, "at": TIME, "labels": LABELS, "detail": STR}),
        "Alert": _obj(
            {
                "key": STR,
                "rule": STR,
                "target": _null(STR),
                "state": _s("string", enum=ALERT_STATES),
                "severity": _null(STR),
                "phase": _null(STR),
                "labels": LABELS,
                "annotations": LABELS,
                "value": _null(NUM),
                "since": _null(TIME),
                "fired_at": _null(TIME),
                "held": _null(STR),
                "hold": _null(
                    _obj(
                        {
                            "kind": _s("string", enum=list(HOLD_KINDS)),
                            "parent": _null(STR),
                            "window": _null(STR),
                            "until": _null(TIME),
                        }
                    )
                ),
                "suppressed": BOOL,
                "flapping": BOOL,
                "notified": _array(STR),
            }
        ),
        "Outage": _obj(
            {
                "target": STR,
                "group": STR,
                "labels": LABELS,
                "start": TIME,
                "end": _null(TIME),
                "duration_seconds": _null(NUM),
                "reason": _null(STR),
                "detail": STR,
                "phase": _null(STR),
                "maintenance": _null(STR),
            }
        ),
        "Maintenance": _obj(
            {
                "name": STR,
                "match": {"type": "object", "additionalProperties": _array(STR)},
                "start": TIME,
                "end": TIME,
                "comment": STR,
                "source": _s("string", enum=["settings", "api"]),
                "active": BOOL,
            }
        ),
        "MaintenanceRequest": {
            "type": "object",
            "properties": {
                "name": _s("string", minLength=1, maxLength=100),
                "match": MATCH,
                "start": TIME,
                "end": TIME,
                "duration": _s(
                    "string",
                    pattern=r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$",
                    description='"30m", "2h": instead of end',
                ),
                "comment": STR,
            },
            "required": ["name", "match"],
            "additionalProperties": False,
        },
        "Figures": _obj(figures),
        "ReportAggregate": _obj({"name": STR, "targets": INT, **figures}),
        "ReportOutage": _obj(
            {
                "start": TIME,
                "end": _null(TIME),
                "reason": _null(STR),
                "maintenance": _null(STR),
                "downtime_seconds": NUM,
                "maintenance_seconds": NUM,
            }
        ),
        "ReportTarget": _obj(
            {
                "name": STR,
                "group": STR,
                "kind": STR,
                "carrier": _null(STR),
                "labels": LABELS,
                **figures,
                "outage_list": _array(_ref("ReportOutage")),
            }
        ),
        "ReportSection": _obj(
            {
                "key": STR,
                "phase": _null(STR),
                "title": STR,
                "start": TIME,
                "end": TIME,
                "planned_end": TIME,
                "total": _obj({"targets": INT, **figures}),
                "carriers": _array(_ref("ReportAggregate")),
                "groups": _array(_ref("ReportAggregate")),
                "targets": _array(_ref("ReportTarget")),
            }
        ),
        "Report": _obj(
            {
                "generated": TIME,
                "start": TIME,
                "end": TIME,
                "timezone": STR,
                "scope": _null(STR),
                "filters": LABELS,
                "unknown_maintenance_windows": _array(STR),
                "sections": _array(_ref("ReportSection")),
            }
        ),
    }


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "description": description or "OK",
        "content": {"application/json": {"schema": schema}},
    }


_ERRORS = {
    "400": _json(_ref("Error"), "a parameter is wrong (the message says which)"),
    "401": _json(_ref("Error"), "no token, or a wrong one"),
    "403": _json(_ref("Error"), "the token's role may not do this"),
}


def _errors(*codes: str) -> dict[str, Any]:
    out = {"401": _ERRORS["401"], "403": _ERRORS["403"]}
    for code in codes:
        if code in _ERRORS:
            out[code] = _ERRORS[code]
        elif code == "404":
            out[code] = _json(_ref("Error"), "no such target (or not in the caller's scope)")
        elif code == "409":
            out[code] = _json(_ref("Error"), "the window is defined in the settings")
        elif code == "503":
            out[code] = _json(_ref("Error"), "the outage ledger cannot be read")
    return out


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or STR,
    }


def document(settings: Settings) -> dict[str, Any]:
    phases = [p.name for p in sorted(settings.phases, key=lambda p: p.start)]
    phase_schema = _s("string", enum=phases) if phases else STR
    filters = [
        _q("group", "only targets of this group (carrier, venue, website, ...)"),
        _q("carrier", "only targets whose label carrier has this value"),
    ]
    target_q = _q("target", "only this target")
    ops: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "Liveness and the alert database's health (no token needed)",
                "operationId": "healthz",
                "security": [],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["status", "targets", "phase"],
                            "properties": {
                                "status": _s("string", enum=["ok", "degraded"]),
                                "targets": INT,
                                "phase": _null(STR),
                            },
                        }
                    )
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/phases": {
            "get": {
                "summary": "The plan's phases and the current one",
                "operationId": "phases",
                "responses": {
                    "200": _json(
                        _obj(
                            {
                                "current": _null(STR),
                                "phases": _array(
                                    _obj(
                                        {
                                            "name": STR,
                                            "title": STR,
                                            "start": TIME,
                                            "end": TIME,
                                            "current": BOOL,
                                        }
                                    )
                                ),
                            }
                        )
                    ),
                    **_errors(),
                },
            }
        },
        "/api/v1/targets": {
            "get": {
                "summary": "The caller's targets and their state now",
                "operationId": "targets",
                "parameters": [
                    *filters,
                    _q("kind", "only targets of this kind (icmp, http, dns, tcp, snmp)"),
                    _q("state", "only targets in this state", _s("string", enum=_STATES)),
                ],
                "responses": {
                    "200": _json(_obj({"phase": _null(PHASE), "targets": _array(_ref("Target"))})),
                    **_errors("400"),
                },
            }
        },
        "/api/v1/targets/{name}": {
            "get": {
                "summary": "One target: state, recent history, events, alerts, outages",
                "operationId": "target",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": STR},
                ],
                "responses": {
                    "200": _json(
                        _obj(
                            {
                                "target": _ref("Target"),
                                "history": _array(_ref("Observation")),
                                "events": _array(_ref("Event")),
                                "alerts": _array(_ref("Alert")),
                                "outages": _array(_ref("Outage")),
                            }
                        )
                    ),
                    **_errors("404", "503"),
                },
            }
        },
        "/api/v1/alerts": {
            "get": {
                "summary": "Alerts pending and firing (an operator: those of its targets)",
                "operationId": "alerts",
                "parameters": [
                    _q("state", "pending, firing", _s("string", enum=ALERT_STATES)),
                    target_q,
                    *filters,
                    _q("severity", "critical, warning, info, ..."),
                ],
                "responses": {
                    "200": _json(_obj({"phase": _null(STR), "alerts": _array(_ref("Alert"))})),
                    **_errors("400"),
                },
            }
        },
        "/api/v1/outages": {
            "get": {
                "summary": "The outage ledger: outages overlapping phase and range, oldest first",
                "operationId": "outages",
                "parameters": [
                    target_q,
                    *filters,
                    _q("phase", "outages overlapping this phase", phase_schema),
                    _q("since", "outages ending after this time (RFC 3339)", TIME),
                    _q("until", "outages starting before this time (RFC 3339)", TIME),
                ],
                "responses": {
                    "200": _json(_obj({"outages": _array(_ref("Outage"))})),
                    **_errors("400", "503"),
                },
            }
        },
        "/api/v1/report": {
            "get": {
                "summary": "The availability report per carrier, group and target, by phase",
                "description": (
                    "Computed exactly from the outage ledger; maintenance is excluded and "
                    "shown. Without phase, from and to: the span of every phase and each "
                    "phase in it. With from (and to, default now): that range and each "
                    "phase in it."
                ),
                "operationId": "report",
                "parameters": [
                    _q("phase", "one phase", phase_schema),
                    _q("from", "range start (RFC 3339)", TIME),
                    _q("to", "range end (RFC 3339), default now", TIME),
                    _q("format", "json (default), csv, html", _s("string", enum=FORMATS)),
                    _q("lang", "headings of csv and html", _s("string", enum=["vi", "en"])),
                    target_q,
                    *filters,
                ],
                "responses": {
                    "200": {
                        "description": "the report",
                        "content": {
                            "application/json": {"schema": _ref("Report")},
                            "text/csv": {"schema": STR},
                            "text/html": {"schema": STR},
                        },
                    },
                    **_errors("400", "503"),
                },
            }
        },
        "/api/v1/maintenance": {
            "get": {
                "summary": "Maintenance windows (settings and API); role noc",
                "operationId": "maintenance",
                "responses": {
                    "200": _json(_obj({"maintenance": _array(_ref("Maintenance"))})),
                    **_errors(),
                },
            },
            "post": {
                "summary": "Add (or replace) a maintenance window; role noc",
                "operationId": "addMaintenance",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MaintenanceRequest")}},
                },
                "responses": {
                    "201": _json(_ref("Maintenance"), "the window as stored"),
                    **_errors("400", "409"),
                },
            },
        },
        "/api/v1/maintenance/{name}": {
            "delete": {
                "summary": "End a maintenance window made through the API; role noc",
                "operationId": "deleteMaintenance",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": STR},
                ],
                "responses": {
                    "200": _json(_obj({"deleted": STR})),
                    **_errors("404", "409"),
                },
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "netmon API",
            "version": "1",
            "description": (
                "Network and telecom uptime monitor. Bearer tokens ([[access.tokens]]), roles "
                "admin, noc and operator; an operator sees only its scope, in every answer, and "
                "a target outside it is not found. Times are RFC 3339 UTC."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": ops,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }
