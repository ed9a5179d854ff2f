"""What the pages show of notes on outages and of maintenance windows, and the forms' CSRF
token (the routes are monitor/web/forms.py; pages.py and the templates only include this).

- ``csrf_token``: an HMAC, with a secret of the process, of the session id (the HttpOnly
  cookie, which no other site can read), so a form rendered for a session carries a value
  another site cannot guess; the forms check it and the request's origin (``forms.py``).
- ``target_notes``: the target page's part: its recent outages with their notes and, for the
  noc role, a note form per outage and the link to the maintenance form for this target.
- ``card_marks``: the short lines of a card: the maintenance window's comment and a marker
  (the first words) of the NOC's note on the open outage.

Every text here is plain text, autoescaped by jinja2: a note written as HTML shows as the
characters typed, never as markup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from alerts.model import NOTE_MAX, Outage
from monitor.config.access import Principal
from monitor.core.i18n import Lang, duration_text, local_time, note_words, reason_text
from monitor.web.guard import COOKIE, SERVICE

__all__ = ["MARKER_CHARS", "NOTES_SHOWN", "card_marks", "csrf_ok", "csrf_token", "target_notes"]

NOTES_SHOWN = 10  # outages with a note form on a target's page, newest first
MARKER_CHARS = 60  # a card shows this much of a note


# A secret of this process: a page rendered before a restart needs reloading to post again.
_SECRET = secrets.token_bytes(32)


def csrf_token(request: web.Request) -> str:
    """The forms' token: bound to this browser's session, or (no session: ``[access]
    anonymous`` lets the lab's loopback in without a token) to none; either way made with a
    secret of the process, in a page no other site can read."""
    sid = request.cookies.get(COOKIE, "")
    bound = f"session:{sid}" if sid else "anonymous"
    return hmac.new(_SECRET, bound.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: web.Request, given: object) -> bool:
    expected = csrf_token(request)
    return isinstance(given, str) and hmac.compare_digest(expected, given)


def _ts(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MARKER_CHARS else line[: MARKER_CHARS - 1].rstrip() + "…"


def card_marks(note: dict[str, Any] | None, maintenance_comment: str, lang: Lang) -> dict[str, str]:
    """A card's ``note`` (a marker: the note's first words) and ``maintenance_comment``."""
    marker = ""
    if note and note.get("text"):
        marker = f"{note_words(lang)['note']}: {_short(str(note['text']))}"
    return {"note": marker, "maintenance_comment": _short(maintenance_comment)}


async def target_notes(
    request: web.Request,
    who: Principal,
    lang: Lang,
    name: str,
    outages: Sequence[Outage],
    zone: str,
    now: float,
) -> dict[str, Any]:
    """The target page's notes part (``_notes.html``): its own outages and those of its
    circuits and BGP peers (a device's), newest first."""
    tz = ZoneInfo(zone)
    nw = note_words(lang)
    noc = who.at_least("noc")
    try:
        parts = await request.app[SERVICE].alerts.outages(device=name)
    except Exception:  # the database is failing: the page shows what it has
        parts = []
    mine = [o for o in [*outages, *parts] if o.id is not None and who.sees_labels(o.labels)]
    mine.sort(key=lambda o: (o.start, o.id or 0))
    shown = list(reversed(mine))[:NOTES_SHOWN]
    back = "/targets/" + quote(name, safe="") + "?" + urlencode({"lang": lang})
    return {
        "nw": nw,
        "can_write": noc,
        "csrf": csrf_token(request) if noc else "",
        "note_max": NOTE_MAX,
        "note_hint": nw["note_hint"].format(max=NOTE_MAX),
        "maintenance_url": "/maintenance?" + urlencode({"lang": lang, "target": name}),
        "back": back,
        "rows": [
            {
                "id": o.id,
                "subject": o.target.removeprefix(name + "/").replace("bgp:", "BGP ")
                if o.target != name
                else "",
                "action": f"/outages/{o.id}/note?{urlencode({'lang': lang})}",
                "start": local_time(o.start, tz),
                "end": local_time(o.end, tz) if o.end is not None else "…",
                "duration": duration_text((o.end if o.end is not None else now) - o.start, lang),
                "reason": reason_text(o.reason, lang) if o.reason else "",
                "note": (o.note or {}).get("text", ""),
                "note_by": (o.note or {}).get("by", ""),
                "note_at": local_time(_ts((o.note or {}).get("at")), tz) if o.note else "",
            }
            for o in shown
        ],
    }
