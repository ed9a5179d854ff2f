"""The HTTP server: one aiohttp application.

    /                     status page (monitor/pages.py; /targets/NAME, /login, /static/...)
    /api/v1/...           the JSON API (monitor/api.py), its OpenAPI document (monitor/openapi.py)
    /metrics              Prometheus text (gzip); loopback, a scrape token, or open ([access])
    /healthz              open
    POST /-/reload        re-read the settings (admin)
    /prometheus/api/v1/*  the label-enforcing query proxy (monitor/promproxy.py)

The web layer only reads the store, the scheduler, the alert engine and its ledger; what it
changes is the configuration (``Service.reload``) and maintenance windows (the engine). Every
answer carries nosniff, frame-deny and a same-origin referrer policy; pages carry a CSP without
inline script or style. No answer, log line or error carries a token or a secret: tokens are
read from the Authorization header (or a sign-in form) only, and errors name the parameter,
never the credential.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from monitor.runtime.service import Service
from monitor.web import api, promproxy
from monitor.web.access import Access
from monitor.web.guard import GUARD, SERVICE, ApiError, Guard, require
from monitor.web.pages import add_routes as add_page_routes

__all__ = ["PAGE_CSP", "SERVICE", "make_app"]

log = logging.getLogger(__name__)

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Below this size gzip is cheaper on the loop than a hop to a thread.
_GZIP_INLINE = 64 * 1024
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(service: Service) -> web.Application:
    app = web.Application(middlewares=[_api_errors, _front_door], client_max_size=256 * 1024)
    app[SERVICE] = service
    app[GUARD] = Guard(Path(service.settings.server.state_dir))
    app.on_cleanup.append(_close_guard)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_post("/-/reload", reload_handler)
    api.add_routes(app)
    add_page_routes(app)
    promproxy.add_routes(
        app, service.settings, Access(service.settings.access), current=lambda: service.settings
    )
    return app


async def _close_guard(app: web.Application) -> None:
    await app[GUARD].aclose()


@web.middleware
async def _api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """ApiError as JSON; under /api/ the router's own 404 and 405 too."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return ApiError(exc.status, exc.reason, headers).response()


@web.middleware
async def _front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host allow-list, cross-site refusal, the client behind a trusted proxy (guard.py)."""
    return await handler(request.app[GUARD].front_door(request))


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if "Content-Security-Policy" not in headers:
        html = response.content_type == "text/html"
        headers["Content-Security-Policy"] = PAGE_CSP if html else _API_CSP
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")


async def metrics_handler(request: web.Request) -> web.Response:
    access = request.app[GUARD].access(request)
    verdict = await access.metrics_allowed(request.headers.get("Authorization"), request.remote)
    if verdict == "unauthorized":
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    if verdict == "forbidden":
        raise ApiError(403, "an operator reads metrics through the query proxy")
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
    return api.json_answer(
        {
            # Degraded, not down: probing and /metrics go on when the alert database fails.
            "status": "ok" if alerts["db_ok"] else "degraded",
            "targets": len(service.settings.targets),
            "phase": phase.name if phase else None,
            "config_last_reload_successful": service.last_reload_ok,
            "alerts": alerts,
        }
    )


async def reload_handler(request: web.Request) -> web.Response:
    await require(request, "admin")
    errors = await request.app[SERVICE].reload()
    if errors:
        return api.json_answer({"status": "refused", "errors": errors}, status=400)
    return api.json_answer({"status": "ok"})
