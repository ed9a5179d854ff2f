"""The JSON API under /api/v1 (described by monitor/openapi.py, served at /api/v1/openapi.json).

Every answer is scoped to the caller (monitor/guard.py): an operator sees only the targets its
scope matches, in lists, details, alerts, outages and the report, and a target outside its
scope is answered exactly as one that does not exist (404 on a detail, nothing in a list).
Field names are stable (the OpenAPI document is the contract); times are RFC 3339 UTC.
Every answer is a model of monitor/web/schemas.py, the models the document's schemas are
generated from: what the lower layers hand over as dicts (the store's views, the engine's
alerts and windows, the ledger, the report) is validated into its model on the way out, so an
answer that drifts from the document fails here, in the tests, not in a client.
Reading needs any role; maintenance, notes on outages and acknowledgements need ``noc`` (an
operator may acknowledge the alerts of its scope when ``[access] operators_acknowledge``).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from alerts.engine import AckError, MaintenanceError
from alerts.model import MaintenanceWindow, Outage, iso
from monitor.config.access import Principal
from monitor.core.durations import parse_duration
from monitor.core.i18n import language
from monitor.report import build as reports
from monitor.report.html import to_html
from monitor.report.model import FORMATS, ReportError
from monitor.report.render_csv import to_csv
from monitor.report.render_json import to_json
from monitor.report.render_xlsx import XLSX_TYPE, to_xlsx
from monitor.runtime.service import Service
from monitor.web import schemas
from monitor.web.guard import SERVICE, ApiError, fail, require
from monitor.web.openapi import document
from monitor.web.status import STATES, board, observation_json, target_json

__all__ = ["add_routes", "dumps", "json_answer", "outage_id_of", "parse_time", "window_from_body"]

PREFIX = "/api/v1"
_HISTORY = 120
_TARGET_OUTAGES = 50


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/openapi.json", openapi_handler)
    r.add_get(f"{PREFIX}/phases", phases_handler)
    r.add_get(f"{PREFIX}/targets", targets_handler)
    r.add_get(f"{PREFIX}/targets/{{name}}", target_handler)
    r.add_get(f"{PREFIX}/alerts", alerts_handler)
    r.add_post(f"{PREFIX}/alerts/{{key}}/ack", ack_handler)
    r.add_get(f"{PREFIX}/outages", outages_handler)
    r.add_post(f"{PREFIX}/outages/{{id}}/note", note_handler)
    r.add_get(f"{PREFIX}/report", report_handler)
    r.add_get(f"{PREFIX}/maintenance", maintenance_list_handler)
    r.add_post(f"{PREFIX}/maintenance", maintenance_add_handler)
    r.add_delete(f"{PREFIX}/maintenance/{{name}}", maintenance_delete_handler)


# --------------------------------------------------------------------------- helpers


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """JSON in UTF-8 (Vietnamese as it is); a NaN or infinity becomes null, never ``NaN``."""
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(data), ensure_ascii=False, allow_nan=False)


def json_answer(data: BaseModel | Any, status: int = 200) -> web.Response:
    """A model (an /api/v1 answer) or plain JSON data (/healthz, /-/reload)."""
    if isinstance(data, BaseModel):
        # Python objects through json.dumps, not model_dump_json: the same separators and
        # float text as ever (3.6e-05, not 3.6e-5), and NaN to null as dumps does it.
        data = data.model_dump()
    return web.Response(text=dumps(data), status=status, content_type="application/json")


def _param(request: web.Request, key: str, choices: tuple[str, ...] | None = None) -> str | None:
    """One query parameter; empty is the same as absent; given twice is an error."""
    values = request.query.getall(key, [])
    if len(values) > 1:
        fail(400, f"{key}: give it at most once")
    value = values[0] if values else ""
    if not value:
        return None
    if choices is not None and value not in choices:
        fail(400, f"{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def parse_time(key: str, text: str) -> float:
    """RFC 3339 (an offset is required) to unix seconds; a leap second is the next second."""
    cleaned = text.strip().replace("z", "Z").replace("t", "T")
    cleaned = cleaned[:-1] + "+00:00" if cleaned.endswith("Z") else cleaned
    leap = 0.0
    if len(cleaned) >= 19 and cleaned[16:19] == ":60":
        cleaned, leap = cleaned[:17] + "59" + cleaned[19:], 1.0
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        fail(400, f"{key}: {text!r} is not an RFC 3339 time, e.g. 2025-10-14T07:00:00+07:00")
    if when.tzinfo is None:
        fail(400, f"{key}: give the offset, e.g. 2025-10-14T07:00:00+07:00")
    try:
        return when.timestamp() + leap
    except (OverflowError, ValueError, OSError):
        fail(400, f"{key}: {text!r} is out of range")


def _time_param(request: web.Request, key: str) -> float | None:
    text = _param(request, key)
    return None if text is None else parse_time(key, text)


def _phase_param(request: web.Request, service: Service) -> tuple[float, float] | None:
    name = _param(request, "phase")
    if name is None:
        return None
    found = next((p for p in service.settings.phases if p.name == name), None)
    if found is None:
        fail(400, f"phase: no phase is named {name!r}")
    return found.start.timestamp(), found.end.timestamp()


def _kind(service: Service, target: str) -> str:
    state = service.store.get(target)
    return state.target.kind if state is not None else ""


def _outage_visible(principal: Principal, service: Service, outage: Outage) -> bool:
    labels = {
        **outage.labels,
        "target": outage.target,
        "group": outage.group,
        "kind": _kind(service, outage.target),
    }
    return principal.sees_labels(labels)


async def _ledger(service: Service, **query: Any) -> list[Outage]:
    try:
        outages: list[Outage] = await service.alerts.outages(**query)
    except Exception as exc:
        raise ApiError(503, f"the outage ledger cannot be read: {type(exc).__name__}") from None
    return outages


def _current_phase(service: Service) -> schemas.Phase | None:
    phase = service.scheduler.phase
    if phase is None:
        return None
    return schemas.Phase(
        name=phase.name,
        title=phase.title,
        start=_iso(phase.start.timestamp()),
        end=_iso(phase.end.timestamp()),
    )


def _iso(ts: float) -> str:
    text = iso(ts)
    assert text is not None  # iso() keeps only None as None
    return text


# --------------------------------------------------------------------------- handlers


async def openapi_handler(request: web.Request) -> web.Response:
    return json_answer(document(request.app[SERVICE].settings))


async def phases_handler(request: web.Request) -> web.Response:
    await require(request, "operator")
    service = request.app[SERVICE]
    current = service.scheduler.phase
    return json_answer(
        schemas.PlannedPhases(
            current=current.name if current else None,
            phases=[
                schemas.PlannedPhase(
                    name=p.name,
                    title=p.title,
                    start=_iso(p.start.timestamp()),
                    end=_iso(p.end.timestamp()),
                    current=current is not None and p.name == current.name,
                )
                for p in sorted(service.settings.phases, key=lambda p: p.start)
            ],
        )
    )


async def targets_handler(request: web.Request) -> web.Response:
    """?group=&carrier=&kind=&state=: the caller's targets, by group then name."""
    principal = await require(request, "operator")
    service = request.app[SERVICE]
    group, carrier = _param(request, "group"), _param(request, "carrier")
    kind, state = _param(request, "kind"), _param(request, "state", STATES)
    views = board(service, principal, time.time()).views
    out = [
        schemas.Target.model_validate(target_json(v))
        for v in sorted(views, key=lambda v: (v.target.group, v.target.name))
        if (group is None or v.target.group == group)
        and (carrier is None or v.target.labels.get("carrier") == carrier)
        and (kind is None or v.target.kind == kind)
        and (state is None or v.state == state)
    ]
    return json_answer(schemas.TargetList(phase=_current_phase(service), targets=out))


def _not_found(name: str) -> ApiError:
    # The same words whether the target does not exist or is outside the caller's scope.
    return ApiError(404, f"no target is named {name!r}")


async def target_handler(request: web.Request) -> web.Response:
    principal = await require(request, "operator")
    service = request.app[SERVICE]
    name = request.match_info["name"]
    state = service.store.get(name)
    if state is None or not principal.sees(state.target):
        raise _not_found(name)
    now_board = board(service, principal, time.time())
    view = now_board.view(name)
    if view is None:
        raise _not_found(name)
    outages = await _ledger(service, target=name)
    outages = [o for o in outages if _outage_visible(principal, service, o)]
    events = [
        schemas.Event(
            source=e.source, name=e.name, at=_iso(e.at), labels=dict(e.labels), detail=e.detail
        )
        for e in list(state.events)[-50:]
    ]
    history = list(state.history)[-_HISTORY:]
    return json_answer(
        schemas.TargetDetail(
            target=schemas.Target.model_validate(target_json(view)),
            history=[
                schemas.Observation.model_validate(observation_json(state.target, o))
                for o in history
            ],
            events=events,
            alerts=[
                schemas.Alert.model_validate(a) for a in now_board.alerts if a["target"] == name
            ],
            outages=[
                schemas.Outage.model_validate(o.to_json()) for o in outages[-_TARGET_OUTAGES:]
            ],
        )
    )


async def alerts_handler(request: web.Request) -> web.Response:
    """?state=&target=&group=&carrier=&severity=: the caller's alerts (an operator's: only
    those of its own targets, never the Watchdog)."""
    principal = await require(request, "operator")
    service = request.app[SERVICE]
    state = _param(request, "state", ("pending", "firing", "inactive"))
    target, group = _param(request, "target"), _param(request, "group")
    carrier, severity = _param(request, "carrier"), _param(request, "severity")
    alerts = [
        schemas.Alert.model_validate(a)
        for a in board(service, principal, time.time()).alerts
        if (state is None or a["state"] == state)
        and (target is None or a["target"] == target)
        and (group is None or (a.get("labels") or {}).get("group") == group)
        and (carrier is None or (a.get("labels") or {}).get("carrier") == carrier)
        and (severity is None or a.get("severity") == severity)
    ]
    phase = service.scheduler.phase
    return json_answer(schemas.AlertList(phase=phase.name if phase else None, alerts=alerts))


async def outages_handler(request: web.Request) -> web.Response:
    """The outage ledger, oldest first: ?target=&group=&carrier=&phase=&since=&until=
    (outages overlapping the phase and the range)."""
    principal = await require(request, "operator")
    service = request.app[SERVICE]
    target, group = _param(request, "target"), _param(request, "group")
    carrier = _param(request, "carrier")
    since, until = _time_param(request, "since"), _time_param(request, "until")
    phase = _phase_param(request, service)
    if phase is not None:
        since = phase[0] if since is None else max(since, phase[0])
        until = phase[1] if until is None else min(until, phase[1])
    outages: list[Outage] = []
    if since is None or until is None or since < until:
        outages = await _ledger(service, target=target, group=group, since=since, until=until)
    visible = [
        o
        for o in outages
        if _outage_visible(principal, service, o)
        and (carrier is None or o.labels.get("carrier") == carrier)
    ]
    return json_answer(
        schemas.OutageList(outages=[schemas.Outage.model_validate(o.to_json()) for o in visible])
    )


async def report_handler(request: web.Request) -> web.Response:
    """The availability report (monitor/report/): ?phase= or ?from=&to=, format json, csv or
    html, lang, and target, group, carrier; scoped to the caller."""
    principal = await require(request, "operator")
    service = request.app[SERVICE]
    settings = service.settings
    phase = _param(request, "phase")
    since, until = _time_param(request, "from"), _time_param(request, "to")
    fmt = _param(request, "format", FORMATS) or "json"
    lang = language(_param(request, "lang", ("vi", "en")), settings.server.language)
    now = time.time()
    try:
        periods = reports.periods(settings, phase, since, until, now)
    except ReportError as exc:
        raise ApiError(400, str(exc)) from None
    first, last = min(p[2] for p in periods), max(p[3] for p in periods)
    outages = await _ledger(service, since=first, until=last)
    # Every window of the period, those of the API that ended too (kept in the ledger).
    windows = await service.alerts.maintenance_history(first, last)
    try:
        seen = await service.alerts.subjects_seen()
    except Exception as exc:
        raise ApiError(503, f"the outage ledger cannot be read: {type(exc).__name__}") from None
    try:
        watched = await service.coverage.query(first, last)
    except Exception as exc:  # the database is failing: say so, do not report all as unwatched
        raise ApiError(503, f"the coverage ledger cannot be read: {exc}") from None
    try:
        report = await asyncio.to_thread(
            reports.build,
            settings,
            outages,
            windows,
            coverage=watched,
            subjects=seen,
            principal=principal,
            phase=phase,
            since=since,
            until=until,
            target=_param(request, "target"),
            group=_param(request, "group"),
            carrier=_param(request, "carrier"),
            now=now,
        )
    except ReportError as exc:
        raise ApiError(400, str(exc)) from None
    if fmt == "json":
        return json_answer(schemas.Report.model_validate(to_json(report)))
    if fmt == "xlsx":
        return web.Response(
            body=await asyncio.to_thread(to_xlsx, report, lang),
            content_type=XLSX_TYPE,
            headers={"Content-Disposition": 'attachment; filename="netmon-report.xlsx"'},
        )
    if fmt == "csv":
        return web.Response(
            body=to_csv(report, lang),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="netmon-report.csv"'},
        )
    page, style = to_html(report, lang)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={
            "Content-Security-Policy": (
                f"default-src 'none'; style-src '{style}'; img-src data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            )
        },
    )


async def maintenance_list_handler(request: web.Request) -> web.Response:
    await require(request, "noc")
    windows = request.app[SERVICE].alerts.maintenance()
    return json_answer(
        schemas.MaintenanceList(
            maintenance=[schemas.Maintenance.model_validate(w) for w in windows]
        )
    )


async def maintenance_add_handler(request: web.Request) -> web.Response:
    """{"name", "match": {label: [values]}, "start"?: RFC 3339 (now), "end" | "duration",
    "comment"?}; role noc. The same name as a window not ended replaces it (extends it); the
    author is the caller. Refused (400, the reason) when it ends in the past or lasts longer
    than [alerts] max_maintenance."""
    who = await require(request, "noc")
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        fail(400, "the body is not JSON")
    if not isinstance(body, dict):
        fail(400, "the body must be a JSON object")
    if "author" in body:
        fail(400, "author: not a field of the request (the author is the caller's token)")
    window = window_from_body(body, who.name)
    try:
        answer = await request.app[SERVICE].alerts.add_maintenance(window)
    except MaintenanceError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return json_answer(schemas.Maintenance.model_validate(answer), status=201)


def window_from_body(body: dict[str, Any], author: str) -> MaintenanceWindow:
    """The request's window (``MaintenanceRequest``), by ``author``; ApiError 400 with every
    reason when it is not one (also for the pages' form, which hands over the same fields)."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        fail(400, "the body is not valid UTF-8 text")
    data = dict(body)
    data["author"] = author
    start = data.get("start")
    if start is None:
        data["start"] = datetime.now(UTC).isoformat()
    elif not isinstance(start, str):
        fail(400, "start: give an RFC 3339 time")
    duration = data.pop("duration", None)
    if duration is not None:
        if "end" in data:
            fail(400, "give end or duration, not both")
        try:
            seconds = parse_duration(str(duration))
        except ValueError as exc:
            fail(400, f"duration: {exc}")
        begin = parse_time("start", str(data["start"]))
        try:
            end = datetime.fromtimestamp(begin, UTC) + timedelta(seconds=seconds)
            data["end"] = end.isoformat()
        except (OverflowError, ValueError, OSError):
            fail(400, "duration: the window would end past the year 9999")
    try:
        window = MaintenanceWindow.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        errors = [
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"].removeprefix("Value error, ")
            for e in exc.errors(include_url=False)
        ]
        fail(400, "; ".join(errors))
    try:
        window.span  # noqa: B018 (unix seconds: the engine and its database need them)
    except (OverflowError, ValueError, OSError):
        fail(400, "start, end: out of range")
    return window


def outage_id_of(text: str) -> int | None:
    """An outage's id from a path (a SQLite rowid: 1 to 2**63 - 1), None for any other text."""
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value < 2**63 else None


async def note_handler(request: web.Request) -> web.Response:
    """{"note": text}: the NOC's note on outage ``id`` (replacing any before it); role noc.
    Plain text, at most alerts.model.NOTE_MAX characters (400 with the reason past it);
    every page and report escapes it. The target page's form posts the same."""
    who = await require(request, "noc", session_changes=True)
    service = request.app[SERVICE]
    outage_id = outage_id_of(request.match_info["id"])
    if outage_id is None:
        fail(404, f"no outage is {request.match_info['id']!r}")
    try:
        body = schemas.NoteRequest.model_validate_json(await request.text() or "{}")
    except ValidationError as exc:
        errors = [
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"]
            for e in exc.errors(include_url=False)
        ]
        fail(400, "; ".join(errors) or "the body is not JSON")
    try:
        found = await service.alerts.outage(outage_id)
    except Exception as exc:
        raise ApiError(503, f"the outage ledger cannot be read: {type(exc).__name__}") from None
    if found is None or not _outage_visible(who, service, found):
        fail(404, f"no outage is {outage_id}")
    try:
        outage = await service.alerts.note(outage_id, who.name, body.note)
    except ValueError as exc:
        fail(400, f"note: {exc}")
    except Exception as exc:
        raise ApiError(503, f"the outage ledger cannot be written: {type(exc).__name__}") from None
    if outage is None:
        fail(404, f"no outage is {outage_id}")
    return json_answer(schemas.Outage.model_validate(outage.to_json()))


async def ack_handler(request: web.Request) -> web.Response:
    """{"note"?: str}; role noc, or an operator of the alert's scope when [access] allows.
    The status page's button sends it with the session (same origin, JSON)."""
    service = request.app[SERVICE]
    principal = await require(request, "operator", session_changes=True)
    key = request.match_info["key"]
    text = await request.text()
    try:
        body = schemas.AckRequest.model_validate_json(text or '{"note": ""}')
    except ValidationError as exc:
        errors = [
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"]
            for e in exc.errors(include_url=False)
        ]
        fail(400, "; ".join(errors) or "the body is not JSON")
    known = {a["key"]: a for a in service.alerts.alerts_json()}
    alert = known.get(key)
    if principal.role == "operator":
        if not service.settings.access.operators_acknowledge:
            fail(403, "this needs the noc role ([access] operators_acknowledge is off)")
        if alert is not None and not principal.sees_labels(alert.get("labels") or {}):
            alert = None
        if alert is None or not alert.get("target"):
            fail(404, f"no alert is {key!r}")  # outside the scope: as one that does not exist
    try:
        answer = await service.alerts.ack(key, principal.name, body.note)
    except AckError as exc:
        raise ApiError(exc.status, str(exc)) from None
    if principal.role == "operator":
        answer = {**answer, "notified": []}
    return json_answer(schemas.Alert.model_validate(answer))


async def maintenance_delete_handler(request: web.Request) -> web.Response:
    """End the API's window now: one that began is kept, cut at now, for the report."""
    await require(request, "noc")
    name = request.match_info["name"]
    try:
        deleted = await request.app[SERVICE].alerts.delete_maintenance(name)
    except MaintenanceError as exc:
        raise ApiError(409, str(exc)) from None
    if not deleted:
        fail(404, f"no maintenance window is named {name!r}")
    return json_answer(schemas.MaintenanceDeleted(deleted=name))
