"""The answers of /api/v1 as pydantic models: what the handlers serialise, and what the OpenAPI
document's ``components.schemas`` are generated from (monitor/web/openapi.py), so a field
cannot appear in one and not in the other.

Every model is strict and allows no other field; every field is required (null where the
document says nullable). A model's name is its component's name in the document, and its
docstring the component's description. Field order is the order of the answer's keys.

Times stay the text ``alerts.model.iso`` makes (RFC 3339 UTC, ``...Z``), documented as
``date-time``; numbers keep their Python type (an int stays ``5``, a float ``5.0``), so the
answers are byte for byte what they were when the handlers built dicts.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from alerts.model import NOTE_MAX, HoldKind

__all__ = [
    "Ack",
    "AckRequest",
    "Alert",
    "AlertList",
    "AlertState",
    "Error",
    "Event",
    "Figures",
    "Hold",
    "Maintenance",
    "MaintenanceDeleted",
    "MaintenanceList",
    "MaintenanceRequest",
    "Note",
    "NoteRequest",
    "Observation",
    "Outage",
    "OutageList",
    "Phase",
    "PlannedPhase",
    "PlannedPhases",
    "ReasonText",
    "Report",
    "ReportAggregate",
    "ReportOutage",
    "ReportSection",
    "ReportTarget",
    "ReportTotal",
    "ReportWindow",
    "Strict",
    "Target",
    "TargetDetail",
    "TargetList",
    "TargetStateName",
]

Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# int | float so that an int is not turned into a float (5 -> 5.0) on the way out.
Number = Annotated[float | int, WithJsonSchema({"type": "number"})]
Labels = dict[str, str]
TargetStateName = Literal["up", "down", "degraded", "suppressed", "maintenance", "unknown"]
AlertState = Literal["pending", "firing", "inactive"]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Error(Strict):
    """Every refusal (4xx, 5xx): one sentence saying what is wrong."""

    error: str


# --------------------------------------------------------------------------- phases


class Phase(Strict):
    """A phase of the plan."""

    name: str
    title: str
    start: Time
    end: Time


class PlannedPhase(Phase):
    """A phase of the plan, and whether it is the current one."""

    current: bool


class PlannedPhases(Strict):
    current: str | None
    phases: list[PlannedPhase]


# --------------------------------------------------------------------------- targets


class ReasonText(Strict):
    """The reason in words, in both languages ("" when there is none)."""

    vi: str
    en: str


class Target(Strict):
    """A target and its state now (monitor/web/status.py)."""

    name: str
    kind: str
    group: str
    labels: Labels
    address: str
    depends_on: list[str]
    state: TargetStateName
    probe_state: Literal["up", "down", "unknown"]
    since: Time | None
    reason: str | None
    reason_text: ReasonText
    detail: str | None
    last_probe: Time | None
    duration_seconds: Number | None
    rtt_seconds: Number | None
    loss_ratio: Number | None
    http_status: int | None
    cert_expiry: Time | None
    maintenance: str | None
    suppressed_by: str | None
    alerts: list[str]


class Observation(Strict):
    """One probe's result, in a target's recent history."""

    started: Time
    success: bool
    reason: str | None
    detail: str
    duration_seconds: Number | None
    rtt_seconds: Number | None
    loss_ratio: Number | None
    http_status: int | None


class Event(Strict):
    """Something a target did that is not a probe result (an SNMP trap, ...)."""

    source: str
    name: str
    at: Time
    labels: Labels
    detail: str


class TargetList(Strict):
    phase: Phase | None
    targets: list[Target]


# --------------------------------------------------------------------------- alerts, outages


class Hold(Strict):
    """Why the engine holds an alert, as data; the status page words it in its language."""

    kind: HoldKind
    parent: str | None
    window: str | None
    until: Time | None
    by: str | None  # inhibited: the rule of the alert that explains this one


class Ack(Strict):
    """An acknowledgement: who (the token's name), when, and an optional note."""

    by: str
    at: Time
    note: str


class AckRequest(Strict):
    """The body of ``POST /api/v1/alerts/{key}/ack``; no body: no note."""

    note: str = Field(max_length=500)


class Alert(Strict):
    """An alert pending or firing (or flapping), as the engine holds it."""

    key: str
    rule: str
    target: str | None
    state: AlertState
    severity: str | None
    phase: str | None
    labels: Labels
    annotations: Labels
    value: Number | None
    since: Time | None
    fired_at: Time | None
    held: str | None  # the hold in English words, as before ``hold`` (kept for scripts)
    hold: Hold | None
    suppressed: bool
    flapping: bool
    ack: Ack | None
    notified: list[str]


class AlertList(Strict):
    phase: str | None
    alerts: list[Alert]


class Note(Strict):
    """The NOC's note on an outage: plain text (never HTML), who wrote it and when."""

    text: str
    by: str
    at: Time


class NoteRequest(Strict):
    """The body of ``POST /api/v1/outages/{id}/note``: the note's text (plain text; a new
    note replaces the one before)."""

    note: str = Field(min_length=1, max_length=NOTE_MAX)


class Outage(Strict):
    """One period a target (or a circuit, ``DEVICE/CIRCUIT``, or a BGP peer,
    ``DEVICE/bgp:PEER``) was down, from the outage ledger (open while ``end`` is null)."""

    target: str
    group: str
    labels: Labels
    start: Time
    end: Time | None
    duration_seconds: Number | None
    reason: str | None
    detail: str
    phase: str | None
    maintenance: str | None
    ack: Ack | None  # an alert of the target acknowledged during the outage
    id: int | None  # the ledger's id: what a note is posted to
    note: Note | None


class OutageList(Strict):
    outages: list[Outage]


class TargetDetail(Strict):
    target: Target
    history: list[Observation]
    events: list[Event]
    alerts: list[Alert]
    outages: list[Outage]


# --------------------------------------------------------------------------- maintenance
#
# The one maintenance window is alerts.model.MaintenanceWindow (settings, API, database,
# report). ``Maintenance`` is its answer (``MaintenanceWindow.to_json``: times as text, plus
# where it came from and whether it is active); ``MaintenanceRequest`` its POST body (times
# optional, or a ``duration``). tests/web/test_schemas.py holds both to that model's fields.

MatchValues = Annotated[list[str], Field(min_length=1)]


class Maintenance(Strict):
    """A maintenance window, from the settings or made through the API."""

    name: str
    match: dict[str, list[str]]
    start: Time
    end: Time
    comment: str
    author: str  # who made it (the token's name); "" for the settings' unless they say
    source: Literal["settings", "api"]
    active: bool


class MaintenanceList(Strict):
    maintenance: list[Maintenance]


class MaintenanceDeleted(Strict):
    deleted: str


class MaintenanceRequest(Strict):
    """A window to add, or to replace one not ended (extend it): ``end`` or ``duration``;
    ``start`` defaults to now. Refused when it ends in the past or lasts longer than
    ``[alerts] max_maintenance``. api.py reads the body into alerts.model.MaintenanceWindow,
    its author the caller's token name."""

    name: str = Field(min_length=1, max_length=100)
    match: dict[str, MatchValues] = Field(min_length=1)
    # SkipJsonSchema: absent is allowed, null is not documented as a value.
    start: Time | SkipJsonSchema[None] = None
    end: Time | SkipJsonSchema[None] = None
    duration: (
        Annotated[
            str,
            Field(
                pattern=r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$",
                description='"30m", "2h": instead of end',
            ),
        ]
        | SkipJsonSchema[None]
    ) = None
    comment: str | SkipJsonSchema[None] = None


# --------------------------------------------------------------------------- report
#
# The figures are spliced into several rows. pydantic orders fields from the base on the
# right to the class itself, so ``class ReportTarget(Figures, _ReportTargetHead)`` answers the
# head's fields, then the figures, then its own: the order monitor/report has always written.


class Figures(Strict):
    """Availability figures of a target, or of a set of targets, over a period."""

    availability_percent: Number | None
    outages: int
    downtime_seconds: Number
    longest_outage_seconds: Number
    mttr_seconds: Number | None
    maintenance_seconds: Number
    maintenance_downtime_seconds: Number
    scheduled_seconds: Number
    period_seconds: Number
    watched_seconds: Number
    unwatched_seconds: Number
    up_seconds: Number
    coverage_percent: Number | None
    low_coverage: bool
    sla_percent: Number | None
    sla_met: bool | None


class _Counted(Strict):
    targets: int


class _Named(Strict):
    name: str


class ReportTotal(Figures, _Counted):
    """Every target of a section together."""


class ReportAggregate(Figures, _Counted, _Named):
    """The targets of one carrier or one group together."""


class ReportOutage(Strict):
    start: Time
    end: Time | None
    reason: str | None
    maintenance: str | None
    downtime_seconds: Number
    maintenance_seconds: Number
    ack: Ack | None  # who acknowledged an alert of the target during the outage
    id: int | None
    note: Note | None


class _ReportTargetHead(Strict):
    name: str
    group: str
    kind: str
    carrier: str | None
    labels: Labels


class ReportTarget(Figures, _ReportTargetHead):
    outage_list: list[ReportOutage]


class ReportSection(Strict):
    """A phase, or the whole range asked for (``key`` "range", ``phase`` null)."""

    key: str
    phase: str | None
    title: str
    start: Time
    end: Time
    planned_end: Time
    total: ReportTotal
    carriers: list[ReportAggregate]
    groups: list[ReportAggregate]
    targets: list[ReportTarget]


class ReportWindow(Strict):
    """A maintenance window that overlaps the report's period and selects one of its targets
    (from the settings or the API, ended ones too), with its comment and author."""

    name: str
    match: dict[str, list[str]]
    start: Time
    end: Time
    comment: str
    author: str
    maintenance_seconds: Number  # watched target-time it took out of the report's targets


class Report(Strict):
    """The availability report (monitor/report), computed from the outage ledger."""

    generated: Time
    start: Time
    end: Time
    timezone: str
    scope: str | None
    filters: Labels
    unknown_maintenance_windows: list[str]
    maintenance_windows: list[ReportWindow]
    sections: list[ReportSection]
