"""The OpenAPI 3.0 document of /api/v1, served at /api/v1/openapi.json: the API's contract.

The paths are written here; every answer's schema is generated from its model in
monitor/web/schemas.py (the models the handlers serialise), so a field cannot be in the answer
and not in the document, or the other way round. Built from the settings in force, so that
its enums (the phases) are what the server accepts. Every answer object lists its fields as
required and allows no others (schemathesis checks every answer against this document).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

from monitor.config import Settings
from monitor.report.render_xlsx import XLSX_TYPE
from monitor.web import schemas

__all__ = ["REF", "components", "document"]

REF = "#/components/schemas/{model}"
_STATES = list(get_args(schemas.TargetStateName))
_ALERT_STATES = list(get_args(schemas.AlertState))
_FORMATS = ["json", "csv", "html", "xlsx"]
# Error: every refusal (_errors below); Figures: no answer refers to it alone, v1 listed it.
_ALSO = (schemas.Error, schemas.Figures)
_ERROR = {"$ref": REF.format(model=schemas.Error.__name__)}


class OpenAPI30(GenerateJsonSchema):
    """pydantic's JSON Schema in OpenAPI 3.0's dialect: ``nullable`` instead of a union with
    null, no titles (the component's name says it), no ``default: null``."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:  # 3.0 ignores what stands beside a $ref
            return {"allOf": [inner], "nullable": True}
        out = {**inner, "nullable": True}
        if "enum" in out:  # 3.0.3: a nullable enum lists null
            out["enum"] = [*out["enum"], None]
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if "default" in out and out["default"] is None:
            del out["default"]
        return out


def _component(
    model: type[BaseModel], mode: JsonSchemaMode
) -> tuple[JsonSchemaValue, dict[str, Any]]:
    """A model's schema, and those of the models it refers to (pydantic's ``$defs``, which
    the document holds beside it in ``components.schemas``)."""
    generated = model.model_json_schema(ref_template=REF, schema_generator=OpenAPI30, mode=mode)
    defs = generated.pop("$defs", {})
    for found in (generated, *defs.values()):
        found.pop("title", None)
        if "description" in found:  # a docstring, wrapped at the source's width
            found["description"] = " ".join(found["description"].split())
    return generated, defs


def components(
    answers: Iterable[type[BaseModel]], requests: Iterable[type[BaseModel]] = ()
) -> dict[str, Any]:
    """``components.schemas`` for these models and every model they refer to, by name."""
    # A copy: the cached schemas are shared by every document made.
    return copy.deepcopy(_components(tuple(answers), tuple(requests)))


@functools.cache
def _components(
    answers: tuple[type[BaseModel], ...], requests: tuple[type[BaseModel], ...]
) -> dict[str, Any]:
    # Generating them takes pydantic some 50 ms, too long for every (anonymous) request.
    out: dict[str, Any] = {}

    def put(name: str, schema: JsonSchemaValue) -> None:
        if out.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name!r}")

    modes: tuple[tuple[JsonSchemaMode, tuple[type[BaseModel], ...]], ...] = (
        ("serialization", answers),
        ("validation", requests),
    )
    for mode, models in modes:
        for model in models:
            schema, defs = _component(model, mode)
            put(model.__name__, schema)
            for name, found in defs.items():
                put(name, found)
    return dict(sorted(out.items()))


class _Refs:
    """The models the paths refer to: their components are what the document lists."""

    def __init__(self) -> None:
        self.answers: list[type[BaseModel]] = list(_ALSO)
        self.requests: list[type[BaseModel]] = []

    def answer(self, model: type[BaseModel]) -> dict[str, Any]:
        self.answers.append(model)
        return {"$ref": REF.format(model=model.__name__)}

    def request(self, model: type[BaseModel]) -> dict[str, Any]:
        self.requests.append(model)
        return {"$ref": REF.format(model=model.__name__)}


def _s(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, **more}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = _s("string")
TIME = _s("string", format="date-time")
INT = _s("integer")


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "description": description or "OK",
        "content": {"application/json": {"schema": schema}},
    }


_ERRORS = {
    "400": _json(_ERROR, "a parameter is wrong (the message says which)"),
    "401": _json(_ERROR, "no token, or a wrong one"),
    "403": _json(_ERROR, "the token's role may not do this"),
}


def _errors(*codes: str) -> dict[str, Any]:
    out = {"401": _ERRORS["401"], "403": _ERRORS["403"]}
    for code in codes:
        if code in _ERRORS:
            out[code] = _ERRORS[code]
        elif code == "404":
            out[code] = _json(_ERROR, "no such target (or not in the caller's scope)")
        elif code == "409":
            out[code] = _json(_ERROR, "the window is defined in the settings")
        elif code == "503":
            out[code] = _json(_ERROR, "the outage ledger cannot be read")
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
    refs = _Refs()
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
                    "200": _json(refs.answer(schemas.PlannedPhases)),
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
                    "200": _json(refs.answer(schemas.TargetList)),
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
                    "200": _json(refs.answer(schemas.TargetDetail)),
                    **_errors("404", "503"),
                },
            }
        },
        "/api/v1/alerts": {
            "get": {
                "summary": "Alerts pending and firing (an operator: those of its targets)",
                "operationId": "alerts",
                "parameters": [
                    _q("state", "pending, firing", _s("string", enum=_ALERT_STATES)),
                    target_q,
                    *filters,
                    _q("severity", "critical, warning, info, ..."),
                ],
                "responses": {
                    "200": _json(refs.answer(schemas.AlertList)),
                    **_errors("400"),
                },
            }
        },
        "/api/v1/alerts/{key}/ack": {
            "post": {
                "summary": (
                    "Acknowledge a firing alert: it stops repeating and escalating; role noc "
                    "(an operator: alerts of its scope, if [access] operators_acknowledge)"
                ),
                "operationId": "ackAlert",
                "parameters": [
                    {"name": "key", "in": "path", "required": True, "schema": STR},
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": refs.request(schemas.AckRequest)}},
                },
                "responses": {
                    "200": _json(refs.answer(schemas.Alert), "the alert, acknowledged"),
                    "400": _ERRORS["400"],
                    "401": _ERRORS["401"],
                    "403": _ERRORS["403"],
                    "404": _json(_ERROR, "no such alert (or not in the caller's scope)"),
                    "409": _json(_ERROR, "the alert is resolved, or not firing yet"),
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
                    "200": _json(refs.answer(schemas.OutageList)),
                    **_errors("400", "503"),
                },
            }
        },
        "/api/v1/outages/{id}/note": {
            "post": {
                "summary": (
                    "Write the NOC's note on an outage (plain text; it replaces the one "
                    "before); role noc"
                ),
                "operationId": "noteOutage",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {**INT, "format": "int64", "minimum": 1},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": refs.request(schemas.NoteRequest)}},
                },
                "responses": {
                    "200": _json(refs.answer(schemas.Outage), "the outage with its note"),
                    **_errors("400", "404", "503"),
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
                    _q("format", "json (default), csv, html, xlsx", _s("string", enum=_FORMATS)),
                    _q("lang", "headings of csv and html", _s("string", enum=["vi", "en"])),
                    target_q,
                    *filters,
                ],
                "responses": {
                    "200": {
                        "description": "the report",
                        "content": {
                            "application/json": {"schema": refs.answer(schemas.Report)},
                            "text/csv": {"schema": STR},
                            "text/html": {"schema": STR},
                            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
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
                    "200": _json(refs.answer(schemas.MaintenanceList)),
                    **_errors(),
                },
            },
            "post": {
                "summary": (
                    "Add a maintenance window, or replace (extend) one not ended; role noc. "
                    "Refused when it ends in the past or lasts longer than "
                    "[alerts] max_maintenance"
                ),
                "operationId": "addMaintenance",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": refs.request(schemas.MaintenanceRequest)}
                    },
                },
                "responses": {
                    "201": _json(refs.answer(schemas.Maintenance), "the window as stored"),
                    **_errors("400", "409"),
                },
            },
        },
        "/api/v1/maintenance/{name}": {
            "delete": {
                "summary": (
                    "End a maintenance window made through the API now (one that began is "
                    "kept for the report); role noc"
                ),
                "operationId": "deleteMaintenance",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": STR},
                ],
                "responses": {
                    "200": _json(refs.answer(schemas.MaintenanceDeleted)),
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
            "schemas": components(refs.answers, refs.requests),
        },
    }
