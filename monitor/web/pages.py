"""The status page: server-rendered (jinja2), Vietnamese by default, ``?lang=en`` for English.

    GET  /                         every target the caller may see, by group; firing alerts on top
    GET  /targets/NAME             one target: its state, recent results, outages, alerts, events
    GET  /fragment/status          the body of / alone (what static/netmon.js fetches to refresh)
    GET  /fragment/targets/NAME    the body of /targets/NAME alone
    GET  /wall                     the kiosk for the NOC's wall screens: dark, large, no control,
                                   worst first (signs itself in from ``#token=`` in the address)
    GET  /fragment/wall            the body of /wall alone
    GET  /login, POST /login       a browser signs in with its token (monitor/guard.py)
    POST /logout
    GET  /static/...               the CSS, the script and the icon: nothing from elsewhere

The pages carry no inline script and no inline style (CSP ``script-src 'self'; style-src
'self'``): the refresh is static/netmon.js, which swaps the body in place every few seconds,
and the sparklines are inline SVG styled by classes. Times are shown in ``[server] timezone``.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup

from monitor.config import Target
from monitor.config.access import Principal
from monitor.core.i18n import (
    STATE_WORDS,
    Lang,
    detail_text,
    duration_text,
    group_key,
    group_title,
    held_text,
    language,
    local_time,
    note_words,
    reason_text,
    severity_text,
    state_text,
    words,
)
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.chart import history_svg
from monitor.web.device import device
from monitor.web.guard import COOKIE, GUARD, SERVICE, SESSION_SECONDS, principal, same_origin
from monitor.web.notes import card_marks, target_notes
from monitor.web.status import (
    SPARK_POINTS,
    STATES,
    Board,
    TargetView,
    board,
    figures,
    public_address,
)

__all__ = [
    "RENDER_BURST",
    "RENDER_RATE",
    "TEMPLATES",
    "RenderBudget",
    "add_routes",
    "base_context",
    "sparkline",
]

HERE = Path(__file__).resolve().parent
REFRESH_SECONDS = 10
_HISTORY_ROWS = 120
_OUTAGE_ROWS = 50
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)
# Rendering the overview costs about a millisecond a target. The same view (template,
# principal, language) is rendered at most once per RENDER_CACHE_SECONDS (half the refresh
# period), its template in slices of the loop's time, one at a time, gzipped once; and each
# client address gets RENDER_BURST fresh renders at once, then RENDER_RATE a second (issue 13).
RENDER_CACHE_SECONDS = REFRESH_SECONDS / 2
RENDER_BURST = 120
RENDER_RATE = 5.0
RENDER_SLICE_SECONDS = 0.01
_VIEWS_KEPT = 256
_CLIENTS_KEPT = 4096

Rendered = tuple[bytes, bytes]  # the page, and gzipped


class RenderBudget:
    """The status page's views rendered lately (each a task that every request for the same
    view awaits), and each client address's budget of fresh renders (a token bucket)."""

    def __init__(self) -> None:
        self._views: dict[tuple[object, ...], tuple[float, asyncio.Task[Rendered]]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self.one_at_a_time = asyncio.Lock()

    def cached(self, key: tuple[object, ...], now: float) -> asyncio.Task[Rendered] | None:
        found = self._views.get(key)
        return found[1] if found is not None and found[0] > now else None

    def keep(self, key: tuple[object, ...], now: float, task: asyncio.Task[Rendered]) -> None:
        if len(self._views) >= _VIEWS_KEPT:
            self._views = {k: v for k, v in self._views.items() if v[0] > now}
        self._views[key] = (now + RENDER_CACHE_SECONDS, task)

    def forget(self, key: tuple[object, ...]) -> None:
        self._views.pop(key, None)

    def spend(self, client: str, now: float) -> bool:
        """Whether ``client`` may have one more fresh render now."""
        tokens, at = self._buckets.get(client, (RENDER_BURST, now))
        tokens = min(RENDER_BURST, tokens + (now - at) * RENDER_RATE)
        if len(self._buckets) >= _CLIENTS_KEPT:  # full buckets carry nothing: forget them
            full = now - RENDER_BURST / RENDER_RATE
            self._buckets = {c: b for c, b in self._buckets.items() if b[1] > full}
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1, now)
        return True


RENDERS: web.AppKey[RenderBudget] = web.AppKey("renders", RenderBudget)


def add_routes(app: web.Application) -> None:
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[RENDERS] = RenderBudget()
    r = app.router
    r.add_get("/", status_page)
    r.add_get("/fragment/status", status_fragment)
    r.add_get("/targets/{name}", target_page)
    r.add_get("/fragment/targets/{name}", target_fragment)
    r.add_get("/wall", wall_page)
    r.add_get("/fragment/wall", wall_fragment)
    r.add_get("/login", login_form)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_static("/static", HERE / "static", follow_symlinks=False)


# --------------------------------------------------------------------------- helpers


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.2f} ms"
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _figure_texts(view: TargetView, w: Mapping[str, str]) -> list[str]:
    fig = view.figures
    out = []
    if fig.rtt is not None:
        out.append(f"{w['rtt']} {_ms(fig.rtt)}")
    if fig.loss is not None:
        out.append(f"{w['loss']} {fig.loss * 100:.0f} %")
    if fig.response is not None and view.probe_state != "unknown":
        out.append(f"{w['response']} {_ms(fig.response)}")
    if fig.http_status is not None:
        out.append(f"HTTP {fig.http_status}")
    if fig.sip_status is not None:
        out.append(f"SIP {fig.sip_status}")
    if fig.sip_server:
        out.append(fig.sip_server)
    # The stream's state in a word, unless the card's reason line says it already.
    reason = _probe_reason(view)
    shown = reason is not None and view.reason == reason
    if view.target.kind == "stream" and view.probe_state != "unknown" and not shown:
        out.append(w[_STREAM_STATE.get(reason or "", "stream_live")])
    if fig.stream_bitrate is not None:
        rate = f"{w['bitrate']} {_rate(fig.stream_bitrate)}"
        if fig.stream_declared:
            rate += f" / {w['declared']} {_rate(fig.stream_declared)}"
        out.append(rate)
    if fig.stream_segment_age is not None:
        out.append(w["segment_age"].format(age=f"{fig.stream_segment_age:.0f} s"))
    if fig.web_learning is not None:
        done, needed = fig.web_learning
        out.append(w["web_learning"] + (f" ({done}/{needed})" if needed else ""))
    if fig.web_similarity is not None:
        out.append(f"{w['web_like']} {fig.web_similarity * 100:.0f} %")
    return out


# A stream's last reason as the card's short word for it; any other (or none): live.
_STREAM_STATE = {"stalled": "stream_stalled", "slow": "stream_slow", "bitrate": "stream_bitrate"}
_FOUND_SHOWN = 6  # domains and words named on a card; the target page names them all


def _rate(bps: float) -> str:
    if bps >= 1e6:
        return f"{bps / 1e6:.1f} Mbit/s"
    return f"{bps / 1e3:.0f} kbit/s"


def _evidence(obs: Observation | None) -> dict[str, Any]:
    """What the last result found, as data (jinja2 escapes it): the injected domains and
    gambling words, a snippet of the injected HTML, a changed title."""
    facts = obs.result.facts if obs is not None and not obs.result.success else ()
    return {
        "found": [text for key, text in facts if key == "forbidden"],
        "excerpt": next((text for key, text in facts if key == "excerpt"), ""),
        "new_title": next((text for key, text in facts if key == "title"), ""),
    }


def _spark_value(target: Target, obs: Observation) -> float | None:
    fig = figures(target, obs)
    return fig.rtt if target.kind == "icmp" else (fig.response or obs.duration)


def sparkline(target: Target, history: tuple[Observation, ...], lang: Lang) -> Markup:
    """The last results as bars: height by RTT or response time, red when failed."""
    recent = history[-SPARK_POINTS:]
    if not recent:
        return Markup("")
    values = [_spark_value(target, o) if o.result.success else None for o in recent]
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    height, step, width = 20.0, 5, 4
    bars = []
    for i, (obs, value) in enumerate(zip(recent, values, strict=True)):
        x = (SPARK_POINTS - len(recent) + i) * step
        if not obs.result.success:
            bars.append(f'<rect class="f" x="{x}" y="0" width="{width}" height="{height:.0f}"/>')
            continue
        h = max(2.0, (value or 0.0) / top * height)
        bars.append(
            f'<rect class="o" x="{x}" y="{height - h:.1f}" width="{width}" height="{h:.1f}"/>'
        )
    failed = sum(1 for o in recent if not o.result.success)
    label = (
        f"{len(recent)} kết quả gần đây, {failed} lỗi"
        if lang == "vi"
        else f"last {len(recent)} results, {failed} failed"
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {SPARK_POINTS * step} {height:.0f}" '
        f'preserveAspectRatio="none" role="img" aria-label="{label}">{"".join(bars)}</svg>'
    )


def _probe_reason(view: TargetView) -> str | None:
    """The last probe's own reason code (the card's reason may be an alert's or a hold's)."""
    last = view.history[-1].result if view.history else None
    return None if last is None or last.success else last.reason


def _card(view: TargetView, lang: Lang, now: float, zone: str) -> dict[str, Any]:
    w = words(lang)
    tz = ZoneInfo(zone)
    since = view.since
    found = _evidence(view.history[-1] if view.history else None)["found"]
    return {
        "name": view.target.name,
        "title": view.title(lang),
        "url": "/targets/" + quote(view.target.name, safe="") + f"?lang={lang}",
        "kind": view.target.kind,
        "carrier": view.label("carrier", lang),
        "state": view.state,
        "severity": view.severity,
        "state_text": state_text(view.state, _probe_reason(view), lang),
        "since": local_time(since, tz) if since else "",
        "ago": (f"{duration_text(now - since, lang)} {w['ago']}" if since else ""),
        "reason": view.reason_text(lang) if view.state != "up" else "",
        "detail": detail_text(_probe_reason(view), view.detail, lang),
        "figures": _figure_texts(view, w),
        "found": found[:_FOUND_SHOWN],
        "found_more": max(0, len(found) - _FOUND_SHOWN),
        "spark": sparkline(view.target, view.history, lang),
        **card_marks(dict(view.note or {}), view.maintenance_comment, lang),
    }


def _phase(service: Service, lang: Lang, now: float) -> dict[str, Any]:
    tz = ZoneInfo(service.settings.server.timezone)
    current = service.scheduler.phase
    if current is not None:
        return {
            "current": True,
            "name": current.name,
            "title": current.title or current.name,
            "start": local_time(current.start.timestamp(), tz, seconds=False),
            "end": local_time(current.end.timestamp(), tz, seconds=False),
        }
    upcoming = sorted(
        (p for p in service.settings.phases if p.start.timestamp() > now), key=lambda p: p.start
    )
    nxt = upcoming[0] if upcoming else None
    return {
        "current": False,
        "next": None
        if nxt is None
        else {
            "name": nxt.name,
            "title": nxt.title or nxt.name,
            "start": local_time(nxt.start.timestamp(), tz, seconds=False),
            "end": local_time(nxt.end.timestamp(), tz, seconds=False),
        },
    }


def _can_ack(request: web.Request, who: Principal) -> bool:
    """Whether the acknowledge button is shown (the API decides again: ack_handler)."""
    if who.at_least("noc"):
        return True
    return who.role == "operator" and request.app[SERVICE].settings.access.operators_acknowledge


def _ack_text(ack: dict[str, Any] | None, tz: ZoneInfo) -> str:
    if not ack:
        return ""
    at = datetime.fromisoformat(str(ack["at"]).replace("Z", "+00:00")).timestamp()
    note = f": {ack['note']}" if ack.get("note") else ""
    return f"{ack['by']}, {local_time(at, tz)}{note}"


def _alert_rows(b: Board, lang: Lang, zone: str) -> list[dict[str, Any]]:
    tz = ZoneInfo(zone)
    order = {"critical": 0, "warning": 1, "info": 2}
    # Severity "none" (the Watchdog: netmon is alive) is for Alertmanager, not the wall.
    firing = [a for a in b.alerts if a["state"] == "firing" and a.get("severity") != "none"]
    firing.sort(key=lambda a: (order.get(str(a.get("severity")), 3), str(a.get("since"))))
    rows = []
    for a in firing:
        ann = a.get("annotations") or {}
        since = a.get("since")
        ts = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() if since else None
        rows.append(
            {
                "severity": a.get("severity") or "",
                "severity_text": severity_text(str(a.get("severity") or ""), lang),
                "summary": ann.get(f"summary_{lang}") or ann.get("summary") or a["rule"],
                "rule": a["rule"],
                "target": a.get("target") or "",
                "title": b.names.target(a["target"], lang) if a.get("target") else "",
                "since": local_time(ts, tz),
                "held": held_text(a.get("hold"), lang),
                "flapping": bool(a.get("flapping")),
                "key": a["key"],
                "ack": _ack_text(a.get("ack"), tz),
            }
        )
    return rows


def _split_alerts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The alerts shown one by one, and the INFO ones that fold into a count."""
    return {
        "alerts": [a for a in rows if a["severity"] != "info"],
        "info_alerts": [a for a in rows if a["severity"] == "info"],
        "alert_total": len(rows),
    }


def _base(
    request: web.Request, who: Principal | None, lang: Lang, fragment: str, page: str
) -> dict[str, Any]:
    service = request.app[SERVICE]
    other: Lang = "en" if lang == "vi" else "vi"
    return {
        "lang": lang,
        "w": words(lang),
        "other_lang_url": f"{page}?{urlencode({'lang': other})}",
        "fragment_url": f"{fragment}?{urlencode({'lang': lang})}",
        "refresh": REFRESH_SECONDS,
        "zone": service.settings.server.timezone,
        "who": None if who is None or who.name == "anonymous" else f"{who.name} ({who.role})",
        "signed_in": bool(request.cookies.get(COOKIE)),
        # The report is the API's: a wall token, which reads no API, gets no link to it.
        "report_url": (
            f"/api/v1/report?{urlencode({'format': 'html', 'lang': lang})}"
            if who is None or who.at_least("operator")
            else ""
        ),
        # The maintenance forms (monitor/web/forms.py): the noc role only.
        "maintenance_url": (
            f"/maintenance?{urlencode({'lang': lang})}"
            if who is not None and who.at_least("noc")
            else ""
        ),
        "maintenance_link": note_words(lang)["maintenance_page"],
        # A refused reload: the NOC must know the settings on disk are not the ones running.
        "reload_refused": (
            service.last_reload_errors[:3]
            if who is not None and who.at_least("noc") and not service.last_reload_ok
            else []
        ),
    }


def base_context(request: web.Request, who: Principal, lang: Lang, page: str) -> dict[str, Any]:
    """The frame of a page without a refresh (monitor/web/forms.py's)."""
    return {**_base(request, who, lang, "", page), "fragment_url": ""}


def _status_context(request: web.Request, who: Principal, lang: Lang) -> dict[str, Any]:
    service = request.app[SERVICE]
    now = time.time()
    b = board(service, who, now)
    zone = service.settings.server.timezone
    groups: dict[str, list[TargetView]] = {}
    for view in b.views:
        groups.setdefault(view.target.group, []).append(view)
    counts = {s: 0 for s in STATES}
    for view in b.views:
        counts[view.state] += 1
    return {
        **_base(request, who, lang, "/fragment/status", "/"),
        "now": local_time(now, ZoneInfo(zone)),
        "phase": _phase(service, lang, now),
        **_split_alerts(_alert_rows(b, lang, zone)),
        "can_ack": _can_ack(request, who),
        "counts": [(s, STATE_WORDS[lang][s], counts[s]) for s in STATES if counts[s]],
        "total": len(b.views),
        "groups": [
            {
                "name": g,
                "title": group_title(g, lang, b.names),
                "cards": [
                    _card(v, lang, now, zone) for v in sorted(views, key=lambda v: v.target.name)
                ],
                "bad": sum(1 for v in views if v.state not in ("up", "maintenance")),
            }
            for g, views in sorted(groups.items(), key=lambda kv: group_key(kv[0]))
        ],
    }


# The wall's sections, worst first. A down target is red even before its alert fires.
WALL_LEVELS = ("critical", "warning", "suppressed", "maintenance", "unknown", "up")


def wall_level(view: TargetView) -> str:
    if view.state in ("maintenance", "suppressed"):
        return view.state
    if view.severity == "critical" or view.state == "down":
        return "critical"
    if view.severity == "warning" or view.state == "degraded":
        return "warning"
    return "unknown" if view.state == "unknown" else "up"


def _wall_context(request: web.Request, who: Principal, lang: Lang) -> dict[str, Any]:
    """What the wall shows: what the board shows the principal (its scope applies), without
    a control, an acknowledgement or the reload banner, whatever the role."""
    service = request.app[SERVICE]
    now = time.time()
    b = board(service, who, now)
    zone = service.settings.server.timezone
    by_level: dict[str, list[TargetView]] = {level: [] for level in WALL_LEVELS}
    for view in b.views:
        by_level[wall_level(view)].append(view)
    severities = {"critical": 0, "warning": 0, "info": 0}
    for a in _alert_rows(b, lang, zone):
        if a["severity"] in severities:
            severities[a["severity"]] += 1
    ups: dict[str, list[int]] = {}
    for view in b.views:
        tally = ups.setdefault(view.target.group, [0, 0])
        tally[1] += 1
        if wall_level(view) == "up":
            tally[0] += 1

    def title(level: str) -> str:
        if level in ("critical", "warning"):
            return severity_text(level, lang)
        return words(lang)["wall_up"] if level == "up" else STATE_WORDS[lang][level]

    def order(v: TargetView) -> tuple[tuple[int, str], str]:
        return group_key(v.target.group), v.target.name

    base = _base(request, None, lang, "/fragment/wall", "/wall")
    return {
        **base,
        "other_lang_url": "",
        "now": local_time(now, ZoneInfo(zone), seconds=False),
        "phase": _phase(service, lang, now),
        "total": len(b.views),
        "alert_counts": [(s, severity_text(s, lang), n) for s, n in severities.items() if n],
        "levels": [
            {
                "level": level,
                "title": title(level),
                "cards": [
                    {
                        **_card(v, lang, now, zone),
                        "group": group_title(v.target.group, lang, b.names),
                        # Read across a room: two units are enough ("3 giờ 58 phút").
                        "ago": f"{duration_text(now - v.since, lang, largest=2)} "
                        f"{words(lang)['ago']}"
                        if v.since
                        else "",
                    }
                    for v in sorted(by_level[level], key=order)
                ],
            }
            for level in WALL_LEVELS[:-1]
            if by_level[level]
        ],
        "up_groups": [
            {"title": group_title(g, lang, b.names), "up": up, "total": total}
            for g, (up, total) in sorted(ups.items(), key=lambda kv: group_key(kv[0]))
        ],
        "all_up": len(by_level["up"]) == len(b.views),
        "wall_login": False,
    }


async def _target_context(
    request: web.Request, who: Principal, lang: Lang, name: str
) -> dict[str, Any] | None:
    service = request.app[SERVICE]
    state = service.store.get(name)
    if state is None or not who.sees(state.target):
        return None
    now = time.time()
    b = board(service, who, now)
    view = b.view(name)
    if view is None:
        return None
    zone = service.settings.server.timezone
    tz = ZoneInfo(zone)
    w = words(lang)
    try:
        outages = await service.alerts.outages(target=name)
    except Exception:
        outages = []
    history = []
    for obs in reversed(list(state.history)[-_HISTORY_ROWS:]):
        fig = figures(state.target, obs)
        parts = []
        if fig.rtt is not None:
            parts.append(f"{w['rtt']} {_ms(fig.rtt)}")
        if fig.loss is not None:
            parts.append(f"{w['loss']} {fig.loss * 100:.0f} %")
        if fig.http_status is not None:
            parts.append(f"HTTP {fig.http_status}")
        if fig.sip_status is not None:
            parts.append(f"SIP {fig.sip_status}")
        if fig.stream_bitrate is not None:
            parts.append(f"{w['bitrate']} {_rate(fig.stream_bitrate)}")
        if fig.web_similarity is not None:
            parts.append(f"{w['web_like']} {fig.web_similarity * 100:.0f} %")
        history.append(
            {
                "time": local_time(obs.started, tz),
                "ok": obs.result.success,
                "duration": _ms(obs.duration),
                "figures": ", ".join(parts),
                "detail": detail_text(obs.result.reason, obs.result.detail, lang),
            }
        )
    target = state.target
    return {
        "device": device(target, list(state.history), lang, tz),
        **_base(
            request,
            who,
            lang,
            "/fragment/targets/" + quote(name, safe=""),
            "/targets/" + quote(name, safe=""),
        ),
        "now": local_time(now, tz),
        "card": _card(view, lang, now, zone),
        "target": {
            "name": target.name,
            "title": view.title(lang),
            "kind": target.kind,
            "group": group_title(target.group, lang, b.names),
            "labels": ", ".join(f"{k}={v}" for k, v in sorted(target.labels.items())),
            "address": public_address(target),
            "depends_on": ", ".join(view.depends_on),
        },
        "maintenance_until": local_time(view.maintenance_end, tz) if view.maintenance else "",
        "history": history,
        "evidence": _evidence(state.latest),
        "chart": history_svg(service.history.buckets(name, now), target.kind, now, tz, lang),
        "outages": [
            {
                "start": local_time(o.start, tz),
                "end": local_time(o.end, tz) if o.end is not None else w["ongoing"],
                "duration": duration_text((o.end if o.end is not None else now) - o.start, lang),
                "reason": reason_text(o.reason, lang) if o.reason else "",
                "detail": o.detail,
                "phase": b.names.label("phase", o.phase, lang) if o.phase else "",
                "maintenance": o.maintenance or "",
            }
            for o in reversed(outages[-_OUTAGE_ROWS:])
        ],
        **_split_alerts([a for a in _alert_rows(b, lang, zone) if a["target"] == name]),
        "notes": await target_notes(request, who, lang, name, outages, zone, now),
        "can_ack": _can_ack(request, who),
        "events": [
            {"time": local_time(e.at, tz), "name": e.name, "detail": e.detail}
            for e in reversed(list(state.events)[-20:])
        ],
    }


def _render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    text = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _lang(request: web.Request) -> Lang:
    return language(request.query.get("lang"), request.app[SERVICE].settings.server.language)


def _login_page(
    request: web.Request, lang: Lang, *, failed: bool = False, nxt: str | None = None
) -> web.Response:
    context = {
        **_base(request, None, lang, "", "/login"),
        "fragment_url": "",
        "report_url": "",
        "failed": failed,
        "next": _safe_next(nxt if nxt is not None else request.query.get("next")),
    }
    return _render(request, "login.html", context, status=401 if failed else 200)


def _to_login(request: web.Request, lang: Lang) -> NoReturn:
    """A page asked for without a principal: to the sign-in form, and back after it."""
    target = "/login?" + urlencode({"lang": lang, "next": _safe_next(request.path_qs)})
    raise web.HTTPSeeOther(target)


def _safe_next(value: str | None) -> str:
    """A path on this site to go back to after signing in; anything else is the overview.

    Browsers drop tabs and line breaks from a Location and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: the value, and the
    value once decoded, must start with exactly one "/" and hold no control character.
    """
    if not value:
        return "/"
    for form in (value, unquote(value)):
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in form):
            return "/"
        if not form.startswith("/") or form.startswith(("//", "/\\")) or "\\" in form:
            return "/"
    if value.startswith(("/login", "/logout", "/fragment/")):
        return "/"
    return value


def _spend_render(request: web.Request) -> None:
    if not request.app[RENDERS].spend(request.remote or "", time.monotonic()):
        raise web.HTTPTooManyRequests(
            text="too many page renders: try again in a moment",
            headers={"Retry-After": str(int(1 / RENDER_RATE) + 1)},
        )


async def _render_in_slices(
    budget: RenderBudget, template: jinja2.Template, context: Mapping[str, Any]
) -> Rendered:
    """The template rendered on the loop in slices of RENDER_SLICE_SECONDS at most, the
    loop free between them. (A thread would not do: it holds the GIL against the loop's
    every socket call.) gzip runs in a thread, as zlib lets go of the GIL."""
    async with budget.one_at_a_time:
        pieces: list[str] = []
        until = time.perf_counter() + RENDER_SLICE_SECONDS
        for piece in template.generate(**context):
            pieces.append(piece)
            if time.perf_counter() > until:
                await asyncio.sleep(0)
                until = time.perf_counter() + RENDER_SLICE_SECONDS
        body = "".join(pieces).encode()
        return body, await asyncio.to_thread(gzip.compress, body, 1)


async def _status_render(
    request: web.Request,
    who: Principal,
    lang: Lang,
    template: str,
    build: Callable[[web.Request, Principal, Lang], dict[str, Any]] | None = None,
) -> web.Response:
    """The overview or its fragment: from a recent render of the same view, or a fresh one
    (its context read at once, its template rendered in slices)."""
    service = request.app[SERVICE]
    scope = tuple(sorted((k, tuple(v)) for k, v in who.scope.items()))
    signed_in = bool(request.cookies.get(COOKIE))
    # id(settings) and the last reload's time: a reload, taken or refused, shows at once.
    key = (
        template,
        who.name,
        who.role,
        scope,
        lang,
        signed_in,
        id(service.settings),
        service.last_reload_at,
        service.last_reload_ok,
    )
    budget = request.app[RENDERS]
    now = time.monotonic()
    task = budget.cached(key, now)
    if task is None:
        _spend_render(request)
        context = (build or _status_context)(request, who, lang)
        compiled = request.app[TEMPLATES].get_template(template)
        task = asyncio.create_task(_render_in_slices(budget, compiled, context))
        budget.keep(key, now, task)
    try:
        body, zipped = await asyncio.shield(task)
    except Exception:
        budget.forget(key)
        raise
    headers = {"Content-Type": "text/html; charset=utf-8", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        return web.Response(body=zipped, headers={**headers, "Content-Encoding": "gzip"})
    return web.Response(body=body, headers=headers)


# --------------------------------------------------------------------------- handlers


async def status_page(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        return _to_login(request, lang)
    return await _status_render(request, who, lang, "status.html")


async def status_fragment(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        return web.Response(status=401, text="sign in", content_type="text/plain")
    return await _status_render(request, who, lang, "_status.html")


async def target_page(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        return _to_login(request, lang)
    _spend_render(request)
    context = await _target_context(request, who, lang, request.match_info["name"])
    if context is None:
        base = _base(request, who, lang, "", "/")
        context = {**base, "fragment_url": "", "report_url": ""}
        return _render(request, "missing.html", context, status=404)
    return _render(request, "target.html", context)


async def target_fragment(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        return web.Response(status=401, text="sign in", content_type="text/plain")
    _spend_render(request)
    context = await _target_context(request, who, lang, request.match_info["name"])
    if context is None:
        return web.Response(status=404, text="not found", content_type="text/plain")
    return _render(request, "_target.html", context)


async def wall_page(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        # Not signed in: the page's script signs in with the token after "#token=" in the
        # address (a fragment never reaches the server or its logs), else says how to.
        context = {**_base(request, None, lang, "", "/wall"), "wall_login": True, "now": ""}
        return _render(request, "wall.html", context)
    return await _status_render(request, who, lang, "wall.html", _wall_context)


async def wall_fragment(request: web.Request) -> web.Response:
    lang = _lang(request)
    who = await principal(request)
    if who is None:
        return web.Response(status=401, text="sign in", content_type="text/plain")
    return await _status_render(request, who, lang, "_wall.html", _wall_context)


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, _lang(request))


async def login_submit(request: web.Request) -> web.StreamResponse:
    lang = _lang(request)
    if not same_origin(request):
        return web.Response(status=403, text="cross-site sign-in refused")
    form = await request.post()
    token = form.get("token")
    nxt = _safe_next(str(form.get("next") or "/"))
    if not isinstance(token, str) or not token.strip():
        return _login_page(request, lang, failed=True, nxt=nxt)
    found = await request.app[GUARD].login(request, token.strip())
    if found is None:
        return _login_page(request, lang, failed=True, nxt=nxt)
    sid, _ = found
    response = web.HTTPSeeOther(nxt)
    response.set_cookie(
        COOKIE,
        sid,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return web.Response(status=403, text="cross-site sign-out refused")
    await request.app[GUARD].logout(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/")
    response.del_cookie(COOKIE, path="/")
    raise response
