"""The NOC's forms in the browser: maintenance windows and notes on outages (issue 14).

    GET  /maintenance                 the windows open now and the form for a new one
                                      (``?target=NAME``: filled in for that target)
    POST /maintenance                 create a window, or extend one not ended (same name)
    POST /maintenance/{name}/end      end a window now (kept for the report)
    POST /outages/{id}/note           the note on an outage (from the target's page)

Role ``noc``: an operator (read-only) gets 403 on every one of them and never sees a form.
The forms post ``application/x-www-form-urlencoded`` with the session cookie, so each POST is
checked twice against another site's forgery: the request must be same-origin (Sec-Fetch-Site
or Origin, as ``/login``), and carry the session's token (``notes.csrf_token``, an HMAC of the
session id that no other site can read). Each form calls what the API calls (the same checks:
a window in the past, with from after to, or longer than ``[alerts] max_maintenance`` is
refused with its reason, shown above the form with the values kept).

The times of the form are local times of ``[server] timezone`` (Asia/Ho_Chi_Minh), as the
NOC reads them: ``08/12/2026 14:00`` (24 h), or ``2026-12-08T14:00``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from alerts.engine import MaintenanceError
from alerts.model import NOTE_MAX
from monitor.config.access import Principal
from monitor.core.i18n import Lang, language, local_time, note_words, words
from monitor.web.api import outage_id_of, window_from_body
from monitor.web.guard import GUARD, SERVICE, ApiError, same_origin
from monitor.web.notes import csrf_ok, csrf_token
from monitor.web.pages import TEMPLATES, base_context

__all__ = ["add_routes", "parse_local", "parse_match"]

_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/maintenance", maintenance_page)
    r.add_post("/maintenance", maintenance_submit)
    r.add_post("/maintenance/{name}/end", maintenance_end)
    r.add_post("/outages/{id}/note", note_submit)


class FormError(ValueError):
    """What the form's user typed and netmon refuses, in words to show."""


def parse_local(key: str, text: str, zone: ZoneInfo) -> str:
    """A local time of the form as RFC 3339 with the zone's offset; FormError otherwise."""
    cleaned = text.strip()
    for fmt in _FORMATS:
        try:
            when = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return when.replace(tzinfo=zone).isoformat()
    raise FormError(f"{key}: {text!r} is not a time such as 2026-12-08T14:00 or 08/12/2026 14:00")


def parse_match(text: str) -> dict[str, list[str]]:
    """``target=a, carrier=viettel`` to ``{"target": ["a"], "carrier": ["viettel"]}``."""
    out: dict[str, list[str]] = {}
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise FormError(f"match: {part!r} is not label=value")
        values = out.setdefault(key.strip(), [])
        if value.strip() not in values:
            values.append(value.strip())
    if not out:
        raise FormError("match: give at least one label=value, e.g. target=so-tt-tt")
    return out


def _lang(request: web.Request) -> Lang:
    return language(request.query.get("lang"), request.app[SERVICE].settings.server.language)


def _page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    text = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def _noc(request: web.Request, *, changing: bool) -> Principal:
    """The noc principal of a form's request; 403 for another role or a forged POST, the
    sign-in form (a GET) or 401 (a POST) without a principal."""
    if changing and not same_origin(request):
        raise web.HTTPForbidden(
            text="a change from another site is refused", content_type="text/plain"
        )
    who = await request.app[GUARD].principal(request, session_changes=changing)
    if who is None:
        if not changing:
            target = "/login?" + urlencode({"lang": _lang(request), "next": request.path_qs})
            raise web.HTTPSeeOther(target)
        raise web.HTTPUnauthorized(text="sign in first", content_type="text/plain")
    if not who.at_least("noc"):
        raise web.HTTPForbidden(text="this needs the noc role", content_type="text/plain")
    return who


async def _form(request: web.Request) -> dict[str, str]:
    """The posted fields (text only); 403 unless the session's token came with them (a
    request with a bearer header is no browser's forgery and needs none)."""
    data = await request.post()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    if "Authorization" not in request.headers and not csrf_ok(request, fields.get("csrf")):
        raise web.HTTPForbidden(
            text="the form's token is missing or stale: open the page again",
            content_type="text/plain",
        )
    return fields


# --------------------------------------------------------------------------- maintenance


def _windows(request: web.Request, lang: Lang, zone: ZoneInfo) -> list[dict[str, Any]]:
    nw = note_words(lang)
    now = time.time()
    out = []
    for w in request.app[SERVICE].alerts.maintenance():
        start = _ts(w["start"])
        end = _ts(w["end"])
        if end is not None and end <= now:
            continue
        out.append(
            {
                "name": w["name"],
                "match": ", ".join(f"{k}={v}" for k, vs in w["match"].items() for v in vs),
                "start": local_time(start, zone, seconds=False),
                "end": local_time(end, zone, seconds=False),
                "end_input": _input_time(end, zone),
                "comment": w.get("comment") or "",
                "author": w.get("author") or "",
                "api": w["source"] == "api",
                "source": nw[f"maintenance_source_{w['source']}"],
                "state": nw["maintenance_active"] if w["active"] else nw["maintenance_upcoming"],
                "end_action": "/maintenance/"
                + quote(str(w["name"]), safe="")
                + "/end?"
                + urlencode({"lang": lang}),
            }
        )
    return out


def _ts(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _input_time(ts: float | None, zone: ZoneInfo) -> str:
    """A time as the form shows it: local, to the minute, as the pages write times (a text
    field, not the browser's picker, which follows the browser's locale: 12 h in en-US)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, zone).strftime("%d/%m/%Y %H:%M")


def _maintenance_context(
    request: web.Request,
    who: Principal,
    lang: Lang,
    *,
    values: dict[str, str] | None = None,
    error: str = "",
    done: str = "",
) -> dict[str, Any]:
    service = request.app[SERVICE]
    zone_name = service.settings.server.timezone
    zone = ZoneInfo(zone_name)
    nw = note_words(lang)
    now = time.time()
    target = request.query.get("target", "")
    if values is None:
        start = now - now % 60 + 60
        values = {
            "name": f"{target or 'bao-tri'}-{datetime.fromtimestamp(start, zone):%Y%m%d-%H%M}",
            "match": f"target={target}" if target else "",
            "start": _input_time(start, zone),
            "end": _input_time(start + 7200, zone),
            "comment": "",
        }
    longest = service.settings.alerts.max_maintenance
    return {
        **base_context(request, who, lang, "/maintenance"),
        "nw": nw,
        "csrf": csrf_token(request),
        "values": values,
        "error": error,
        "done": done,
        "windows": _windows(request, lang, zone),
        "local_zone": nw["maintenance_local"].format(zone=zone_name),
        "max_text": nw["maintenance_max"].format(max=_days_text(longest, lang)),
        "action": "/maintenance?" + urlencode({"lang": lang}),
        "note_max": NOTE_MAX,
    }


def _days_text(seconds: float, lang: Lang) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours = rest // 3600
    unit_d, unit_h = ("ngày", "giờ") if lang == "vi" else ("d", "h")
    parts = [f"{days} {unit_d}" if days else "", f"{hours} {unit_h}" if hours else ""]
    return " ".join(p for p in parts if p) or f"{int(seconds // 60)} min"


async def maintenance_page(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await _noc(request, changing=False)
    # What the last post did, worded here: the query names a window, never a message.
    nw = note_words(lang)
    done = ""
    for key in ("saved", "ended"):
        name = request.query.get(key, "")[:100]
        if name:
            done = nw[f"maintenance_{key}"].format(name=name)
    context = _maintenance_context(request, who, lang, done=done)
    return _page(request, "maintenance.html", context)


async def maintenance_submit(request: web.Request) -> web.StreamResponse:
    """A new window, or a new end for one not ended (the extend form: its name, match and
    start come back as they were)."""
    lang = _lang(request)
    who = await _noc(request, changing=True)
    fields = await _form(request)
    service = request.app[SERVICE]
    zone = ZoneInfo(service.settings.server.timezone)
    values = {k: fields.get(k, "") for k in ("name", "match", "start", "end", "comment")}
    extend = fields.get("extend") == "1"
    try:
        if extend:
            current = service.alerts.maintenance()
            found = next(
                (w for w in current if w["name"] == values["name"] and w["source"] == "api"), None
            )
            if found is None:
                raise FormError(f"no open maintenance window is named {values['name']!r}")
            body: dict[str, Any] = {
                "name": found["name"],
                "match": found["match"],
                "start": found["start"],
                "end": parse_local("to", values["end"], zone),
                "comment": found.get("comment") or "",
            }
        else:
            body = {
                "name": values["name"].strip(),
                "match": parse_match(values["match"]),
                "start": parse_local("from", values["start"], zone),
                "end": parse_local("to", values["end"], zone),
                "comment": values["comment"].strip(),
            }
        window = window_from_body(body, who.name)
        await service.alerts.add_maintenance(window)
    except (FormError, MaintenanceError) as exc:
        return _refused(request, who, lang, values, str(exc))
    except ApiError as exc:
        return _refused(request, who, lang, values, exc.message)
    raise web.HTTPSeeOther("/maintenance?" + urlencode({"lang": lang, "saved": window.name}))


def _refused(
    request: web.Request, who: Principal, lang: Lang, values: dict[str, str], reason: str
) -> web.Response:
    nw = note_words(lang)
    context = _maintenance_context(
        request, who, lang, values=values, error=f"{nw['maintenance_refused']}: {reason}"
    )
    return _page(request, "maintenance.html", context, status=400)


async def maintenance_end(request: web.Request) -> web.StreamResponse:
    lang = _lang(request)
    who = await _noc(request, changing=True)
    await _form(request)
    name = request.match_info["name"]
    try:
        ended = await request.app[SERVICE].alerts.end_maintenance(name)
    except MaintenanceError as exc:
        return _refused_plain(request, who, lang, str(exc))
    if ended is None:
        return _refused_plain(request, who, lang, f"no open maintenance window is named {name!r}")
    raise web.HTTPSeeOther("/maintenance?" + urlencode({"lang": lang, "ended": name}))


def _refused_plain(request: web.Request, who: Principal, lang: Lang, reason: str) -> web.Response:
    nw = note_words(lang)
    context = _maintenance_context(
        request, who, lang, error=f"{nw['maintenance_refused']}: {reason}"
    )
    return _page(request, "maintenance.html", context, status=400)


# --------------------------------------------------------------------------- notes


async def note_submit(request: web.Request) -> web.StreamResponse:
    """The note form of an outage on its target's page: back to that page, or the reason
    it was refused (too long, empty, control characters) with a link back."""
    lang = _lang(request)
    who = await _noc(request, changing=True)
    fields = await _form(request)
    service = request.app[SERVICE]
    outage_id = outage_id_of(request.match_info["id"])
    if outage_id is None:
        raise web.HTTPNotFound(text="no such outage", content_type="text/plain")
    found = await service.alerts.outage(outage_id)
    if found is None or not who.sees_labels({**found.labels, "target": found.target}):
        raise web.HTTPNotFound(text="no such outage", content_type="text/plain")
    device = found.labels.get("device") or found.target
    back = "/targets/" + quote(device, safe="") + "?" + urlencode({"lang": lang})
    try:
        await service.alerts.note(outage_id, who.name, fields.get("note", ""))
    except ValueError as exc:
        context = {
            **base_context(request, who, lang, "/maintenance"),
            "nw": note_words(lang),
            "error": f"{note_words(lang)['note']}: {exc}",
            "back": back,
            "w": words(lang),
        }
        return _page(request, "_note_refused.html", context, status=400)
    raise web.HTTPSeeOther(back + "#outage-" + str(outage_id))
