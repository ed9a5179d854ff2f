"""Times as people type them: RFC 3339 with an offset, or a local date or date and time in
the server's zone (Asia/Ho_Chi_Minh), as a department head asks for "the 4th of December"."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["parse_local_time"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_local_time(text: str, zone: ZoneInfo, *, end_of_day: bool = False) -> float:
    """Unix seconds of ``text``: ``2026-12-04T08:00:00+07:00`` (any offset, or Z) as it says;
    ``2026-12-04 08:00`` or ``2026-12-04T08:00`` in ``zone``; a date ``2026-12-04`` is its
    local midnight, or with ``end_of_day`` the next one (so ``--to 2026-12-04`` takes the
    whole day in). ValueError with the accepted forms otherwise."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give 2026-12-04, 2026-12-04 08:00 (local time, "
            f"{zone.key}) or 2026-12-04T08:00:00+07:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
        if end_of_day and _DATE.match(value):
            when = (when.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone)
    return when.timestamp()
