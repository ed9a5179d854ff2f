"""Maintenance windows: those of the settings and those made through the API (or the pages'
form, which is the same call), which of them are active now, and the SQLite rows that keep the
API's across a restart and after they end, for the report.

Every window is one ``alerts.model.MaintenanceWindow``. A window of the settings is edited in
the settings; one of the API lives in memory until it ends or is ended (``end``: cut at now,
its row kept; one that had not begun is dropped), and its row stays in SQLite
(``maintenance_windows``) with its comment and author, so the report counts its time as
maintenance and lists it. Adding a window under the name of one not ended replaces it: that
is how a window is extended. The engine asks ``tick`` once a second, and the maintenance hold
(``alerts.holds``) and the ledger ask ``matching``.

A new window is refused (``MaintenanceError``, the reason in words) when it has already ended,
or lasts longer than ``[alerts] max_maintenance`` (a typo in a year must not mute a carrier
for a decade).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from alerts import db
from alerts.model import MaintenanceWindow

__all__ = ["Maintenance", "MaintenanceError", "duration_words"]

log = logging.getLogger("netmon.alerts")


def duration_words(seconds: float) -> str:
    """``7d``, ``2d 3h``, ``90m``: a length as the settings write it."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return " ".join(parts) or "0s"


class MaintenanceError(ValueError):
    """A maintenance request the engine refuses (one defined in settings, one in the past,
    one too long); ``status`` is the HTTP answer that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class Maintenance:
    def __init__(self, database: db.AlertDB) -> None:
        self._db = database
        self._settings: tuple[MaintenanceWindow, ...] = ()
        self._api: dict[str, MaintenanceWindow] = {}
        self._active: frozenset[str] = frozenset()

    def apply(self, windows: Iterable[MaintenanceWindow]) -> None:
        """The settings' windows (at start and on every reload)."""
        self._settings = tuple(windows)

    def load(self, windows: Iterable[MaintenanceWindow], now: float) -> None:
        """The API's windows the database kept; those that ended (kept for the report) are
        left out."""
        self._api = {w.name: w for w in sorted(windows, key=lambda w: w.span) if w.span[1] > now}
        self._active = self._current(now)

    # ------------------------------------------------------------------ reading

    @property
    def active(self) -> frozenset[str]:
        """The names of the windows active at the last ``tick``."""
        return self._active

    def window(self, name: str) -> MaintenanceWindow | None:
        for window in self._settings:
            if window.name == name:
                return window
        return self._api.get(name)

    def windows(self) -> list[MaintenanceWindow]:
        """Every window known: the settings' first, then the API's."""
        return [*self._settings, *self._api.values()]

    def sources(self) -> list[tuple[MaintenanceWindow, Literal["settings", "api"]]]:
        out: list[tuple[MaintenanceWindow, Literal["settings", "api"]]] = [
            (w, "settings") for w in self._settings
        ]
        out += [(w, "api") for w in self._api.values()]
        return out

    def listed(self, now: float) -> list[dict[str, Any]]:
        """The API's answer: every window, with where it came from and whether it is active."""
        return [w.to_json(source, now) for w, source in self.sources()]

    def matching(self, labels: Mapping[str, str]) -> str | None:
        """The first active window (by name) whose match selects ``labels``."""
        for name in sorted(self._active):
            window = self.window(name)
            if window is not None and window.selects(labels):
                return name
        return None

    # ------------------------------------------------------------------ time

    def _current(self, now: float) -> frozenset[str]:
        return frozenset(w.name for w in self.windows() if w.active(now))

    def tick(self, now: float) -> bool:
        """Take the windows active at ``now``, forget the API's that ended (their rows stay,
        for the report); whether the set of active windows changed."""
        current = self._current(now)
        changed = current != self._active
        self._active = current
        for name in [n for n, w in self._api.items() if w.span[1] <= now]:
            del self._api[name]
        return changed

    # ------------------------------------------------------------------ the API's windows

    def _in_settings(self, name: str) -> bool:
        return any(w.name == name for w in self._settings)

    def check(self, window: MaintenanceWindow, now: float, longest: float | None) -> None:
        """MaintenanceError (400) unless ``window`` may be made now: not ended, not longer
        than ``longest`` seconds (``[alerts] max_maintenance``)."""
        start, end = window.span
        if end <= now:
            raise MaintenanceError("the window ends in the past: give an end after now", 400)
        if longest is not None and end - start > longest:
            raise MaintenanceError(
                f"the window lasts {duration_words(end - start)}, longer than "
                f"[alerts] max_maintenance ({duration_words(longest)})",
                400,
            )

    async def add(
        self, window: MaintenanceWindow, now: float, longest: float | None = None
    ) -> None:
        """A new window, or a new version of one not ended (extended, shortened)."""
        if self._in_settings(window.name):
            raise MaintenanceError(f"maintenance {window.name!r} is defined in settings")
        self.check(window, now, longest)
        self._api[window.name] = window
        try:
            await self._db.run(db.save_maintenance(window, now))
        except Exception as exc:
            log.error("maintenance %s kept in memory only: %s", window.name, exc)

    async def end(self, name: str, now: float) -> MaintenanceWindow | None:
        """End the API's window ``name`` now: the window as it ended (cut at ``now``; kept in
        SQLite for the report), the window itself when it had not begun (dropped), or None
        when no such window is open."""
        if self._in_settings(name):
            raise MaintenanceError(f"maintenance {name!r} is defined in settings: edit them")
        window = self._api.pop(name, None)
        if window is None:
            return None
        with contextlib.suppress(Exception):
            await self._db.run(db.end_maintenance(name, now))
        if window.span[0] > now:
            return window
        return window.model_copy(update={"end": datetime.fromtimestamp(now, UTC)})

    async def delete(self, name: str, now: float | None = None) -> bool:
        """``end`` it (the API's DELETE); whether there was one."""
        at = time.time() if now is None else now
        return await self.end(name, at) is not None

    def resync(self, now: float) -> None:
        """The database took a write again after failing: write the API's windows again."""
        for window in self._api.values():
            self._db.submit(db.save_maintenance(window, now))
