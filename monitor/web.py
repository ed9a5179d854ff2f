"""HTTP endpoints: /metrics, /healthz, /api/v1/targets, /api/v1/alerts, /api/v1/outages,
/api/v1/maintenance, POST /-/reload, and a plain status page.

The web layer only reads the store, the scheduler, the alert engine and its ledger; what it
changes is the configuration (``Service.reload``) and maintenance windows (the engine).
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from alerts.db import MaintenanceRow
from alerts.engine import MaintenanceError
from alerts.settings import MaintenanceWindow
from monitor import promproxy
from monitor.access import Access, AccessSettings, Principal, Role
from monitor.durations import parse_duration
from monitor.service import Service
from monitor.store import TargetState

SERVICE: web.AppKey[Service] = web.AppKey("service", Service)
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Below this size gzip is cheaper on the loop than a hop to a thread.
_GZIP_INLINE = 64 * 1024


def make_app(service: Service) -> web.Application:
    app = web.Application()
    app[SERVICE] = service
    app[GUARD] = _Guard()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_get("/api/v1/targets", targets_handler)
    app.router.add_get("/api/v1/alerts", alerts_handler)
    app.router.add_get("/api/v1/outages", outages_handler)
    app.router.add_get("/api/v1/maintenance", maintenance_list_handler)
    app.router.add_post("/api/v1/maintenance", maintenance_add_handler)
    app.router.add_delete("/api/v1/maintenance/{name}", maintenance_delete_handler)
    app.router.add_post("/-/reload", reload_handler)
    app.router.add_get("/", status_handler)
    promproxy.add_routes(
        app, service.settings, Access(service.settings.access), current=lambda: service.settings
    )
    return app


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[SERVICE].render_metrics().encode()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        if len(body) > _GZIP_INLINE:
            body = await asyncio.to_thread(gzip.compress, body, 1)
        else:
            body = gzip.compress(body, 1)
        return web.Response(
            body=body, headers={"Content-Type": METRICS_TYPE, "Content-Encoding": "gzip"}
        )
    return web.Response(body=body, headers={"Content-Type": METRICS_TYPE})


async def healthz_handler(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    phase = service.scheduler.phase
    alerts = service.alerts.health()
    return web.json_response(
        {
            # Degraded, not down: probing and /metrics go on when the alert database fails.
            "status": "ok" if alerts["db_ok"] else "degraded",
            "targets": len(service.settings.targets),
            "phase": phase.name if phase else None,
            "config_last_reload_successful": service.last_reload_ok,
            "alerts": alerts,
        }
    )


def _utc(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def target_json(state: TargetState) -> dict[str, Any]:
    target = state.target
    latest = state.latest
    out: dict[str, Any] = {
        "name": target.name,
        "kind": target.kind,
        "group": target.group,
        "labels": dict(target.labels),
        "address": target.address,
        "depends_on": list(target.depends_on),
        "state": "unknown",
        "since": _utc(state.since),
        "reason": None,
        "detail": None,
        "last_probe": None,
        "duration_seconds": None,
    }
    if latest is not None:
        out.update(
            state="up" if latest.result.success else "down",
            reason=latest.result.reason,
            detail=latest.result.detail,
            last_probe=_utc(latest.started),
            duration_seconds=round(latest.duration, 6),
        )
    return out


async def targets_handler(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"targets": [target_json(s) for s in service.store]})


async def alerts_handler(request: web.Request) -> web.Response:
    principal = await _allowed(request, "operator")
    if isinstance(principal, web.Response):
        return principal
    service = request.app[SERVICE]
    # An operator sees only the alerts of its own targets (not even the Watchdog's labels).
    alerts = [
        a
        for a in service.alerts.alerts_json()
        if principal.role != "operator" or (a["target"] and principal.sees_labels(a["labels"]))
    ]
    state = request.query.get("state")
    if state:
        alerts = [a for a in alerts if a["state"] == state]
    phase = service.scheduler.phase
    return web.json_response({"phase": phase.name if phase else None, "alerts": alerts})


def _query_time(request: web.Request, key: str) -> float | None:
    text = request.query.get(key)
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{key}: {text!r} is not an RFC 3339 time"}),
            content_type="application/json",
        ) from None
    if when.tzinfo is None:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{key}: give the offset, e.g. 2025-10-14T07:00:00+07:00"}),
            content_type="application/json",
        )
    return when.timestamp()


async def outages_handler(request: web.Request) -> web.Response:
    """The outage ledger: ?target=&group=&since=&until= (RFC 3339), oldest first."""
    principal = await _allowed(request, "operator")
    if isinstance(principal, web.Response):
        return principal
    service = request.app[SERVICE]
    since, until = _query_time(request, "since"), _query_time(request, "until")
    try:
        outages = await service.alerts.outages(
            target=request.query.get("target") or None,
            group=request.query.get("group") or None,
            since=since,
            until=until,
        )
    except Exception as exc:
        return web.json_response({"error": f"the ledger cannot be read: {exc}"}, status=503)
    visible = [
        o
        for o in outages
        if principal.sees_labels(
            {**o.labels, "target": o.target, "group": o.group, "kind": _kind(service, o.target)}
        )
    ]
    return web.json_response({"outages": [o.to_json() for o in visible]})


def _kind(service: Service, target: str) -> str:
    state = service.store.get(target)
    return state.target.kind if state is not None else ""


class _Guard:
    """The request's principal (monitor/access.py), rebuilt when a reload changes [access]."""

    def __init__(self) -> None:
        self._settings: AccessSettings | None = None
        self._access: Access | None = None

    async def principal(self, request: web.Request) -> Principal | None:
        settings = request.app[SERVICE].settings.access
        if self._access is None or settings is not self._settings:
            self._settings, self._access = settings, Access(settings)
        return await self._access.authenticate(request.headers.get("Authorization"), request.remote)


GUARD: web.AppKey[_Guard] = web.AppKey("alerts_guard", _Guard)


async def _allowed(request: web.Request, role: Role) -> Principal | web.Response:
    principal = await request.app[GUARD].principal(request)
    if principal is None:
        return web.json_response(
            {"error": "a bearer token is required"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not principal.at_least(role):
        return web.json_response({"error": f"this needs the {role} role"}, status=403)
    return principal


def _may_change(principal: Principal | web.Response) -> web.Response | None:
    return principal if isinstance(principal, web.Response) else None


async def maintenance_list_handler(request: web.Request) -> web.Response:
    principal = await _allowed(request, "noc")
    if isinstance(principal, web.Response):
        return principal
    return web.json_response({"maintenance": request.app[SERVICE].alerts.maintenance()})


async def maintenance_add_handler(request: web.Request) -> web.Response:
    """{"name", "match": {label: [values]}, "start"?: RFC 3339 (now), "end" | "duration",
    "comment"?}; role noc."""
    refused = _may_change(await _allowed(request, "noc"))
    if refused is not None:
        return refused
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "the body is not JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    now = datetime.now(UTC)
    data = dict(body)
    data.setdefault("start", now.isoformat())
    duration = data.pop("duration", None)
    if duration is not None:
        try:
            seconds = parse_duration(str(duration))
        except ValueError as exc:
            return web.json_response({"error": f"duration: {exc}"}, status=400)
        start = datetime.fromisoformat(str(data["start"]).replace("Z", "+00:00"))
        data["end"] = datetime.fromtimestamp(start.timestamp() + seconds, UTC).isoformat()
    try:
        window = MaintenanceWindow.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        errors = [
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"].removeprefix("Value error, ")
            for e in exc.errors(include_url=False)
        ]
        return web.json_response({"error": "; ".join(errors)}, status=400)
    row = MaintenanceRow(
        window.name, window.match, window.start.timestamp(), window.end.timestamp(), window.comment
    )
    try:
        answer = await request.app[SERVICE].alerts.add_maintenance(row)
    except MaintenanceError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response(answer, status=201)


async def maintenance_delete_handler(request: web.Request) -> web.Response:
    refused = _may_change(await _allowed(request, "noc"))
    if refused is not None:
        return refused
    name = request.match_info["name"]
    try:
        deleted = await request.app[SERVICE].alerts.delete_maintenance(name)
    except MaintenanceError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    if not deleted:
        return web.json_response({"error": f"no maintenance window is named {name!r}"}, status=404)
    return web.json_response({"deleted": name})


async def reload_handler(request: web.Request) -> web.Response:
    errors = await request.app[SERVICE].reload()
    if errors:
        return web.json_response({"status": "refused", "errors": errors}, status=400)
    return web.json_response({"status": "ok"})


_WORDS = {
    "vi": {
        "title": "netmon: giám sát mạng",
        "target": "Đối tượng",
        "group": "Nhóm",
        "state": "Trạng thái",
        "since": "Từ lúc",
        "detail": "Chi tiết",
        "phase": "Giai đoạn",
        "none": "không có",
        "up": "hoạt động",
        "down": "mất kết nối",
        "unknown": "chưa đo",
    },
    "en": {
        "title": "netmon: network monitor",
        "target": "Target",
        "group": "Group",
        "state": "State",
        "since": "Since",
        "detail": "Detail",
        "phase": "Phase",
        "none": "none",
        "up": "up",
        "down": "down",
        "unknown": "not probed yet",
    },
}


async def status_handler(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    lang = request.query.get("lang", service.settings.server.language)
    words = _WORDS.get(lang, _WORDS["vi"])
    zone = ZoneInfo(service.settings.server.timezone)
    phase = service.scheduler.phase
    rows = []
    for state in sorted(service.store, key=lambda s: (s.target.group, s.target.name)):
        data = target_json(state)
        since = (
            datetime.fromtimestamp(state.since, zone).strftime("%Y-%m-%d %H:%M:%S")
            if state.since
            else ""
        )
        rows.append(
            f'<tr class="{data["state"]}"><td>{html.escape(state.target.name)}</td>'
            f"<td>{html.escape(state.target.group)}</td><td>{words[data['state']]}</td>"
            f"<td>{since}</td><td>{html.escape(data['detail'] or '')}</td></tr>"
        )
    phase_text = html.escape(f"{phase.title} ({phase.name})") if phase else words["none"]
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{words["title"]}</title>
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse}}
td,th{{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}}
tr.down td{{background:#fdd}}tr.up td:nth-child(3){{color:#070}}</style></head>
<body><h1>{words["title"]}</h1><p>{words["phase"]}: {phase_text}</p>
<table><tr><th>{words["target"]}</th><th>{words["group"]}</th><th>{words["state"]}</th>
<th>{words["since"]} ({html.escape(service.settings.server.timezone)})</th>
<th>{words["detail"]}</th></tr>
{"".join(rows)}
</table></body></html>"""
    return web.Response(
        text=page,
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )
