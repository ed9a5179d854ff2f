"""HTTP endpoints: /metrics, /healthz, /api/v1/targets, POST /-/reload, and a plain status page.

The web layer only reads the store and the scheduler; the one thing it changes is the
configuration, through ``Service.reload``.
"""

from __future__ import annotations

import asyncio
import gzip
import html
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from monitor.service import Service
from monitor.store import TargetState

SERVICE: web.AppKey[Service] = web.AppKey("service", Service)
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Below this size gzip is cheaper on the loop than a hop to a thread.
_GZIP_INLINE = 64 * 1024


def make_app(service: Service) -> web.Application:
    app = web.Application()
    app[SERVICE] = service
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_get("/api/v1/targets", targets_handler)
    app.router.add_post("/-/reload", reload_handler)
    app.router.add_get("/", status_handler)
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
    return web.json_response(
        {
            "status": "ok",
            "targets": len(service.settings.targets),
            "phase": phase.name if phase else None,
            "config_last_reload_successful": service.last_reload_ok,
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
