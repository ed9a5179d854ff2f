"""Maintenance windows: those of the settings and those made through the API, which of them
are active now, and the SQLite rows that keep the API's across a restart.

Every window is one ``alerts.model.MaintenanceWindow``. A window of the settings is edited in
the settings; one of the API lives until it ends or is deleted. The engine asks ``tick`` once a
second, and the maintenance hold (``alerts.holds``) and the ledger ask ``matching``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from alerts import db
from alerts.model import MaintenanceWindow

__all__ = ["Maintenance", "MaintenanceError"]

log = logging.getLogger("netmon.alerts")


class MaintenanceError(ValueError):
    """A maintenance request the engine refuses (a name in use, one defined in settings)."""


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
        """The API's windows the database kept; those that ended meanwhile are left out."""
        self._api = {w.name: w for w in windows if w.span[1] > now}
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
        """Take the windows active at ``now``, forget the API's that ended; whether the set of
        active windows changed."""
        current = self._current(now)
        changed = current != self._active
        self._active = current
        for name in [n for n, w in self._api.items() if w.span[1] <= now]:
            del self._api[name]
            self._db.submit(db.delete_maintenance(name))
        return changed

    # ------------------------------------------------------------------ the API's windows

    def _in_settings(self, name: str) -> bool:
        return any(w.name == name for w in self._settings)

    async def add(self, window: MaintenanceWindow, now: float) -> None:
        if self._in_settings(window.name):
            raise MaintenanceError(f"maintenance {window.name!r} is defined in settings")
        self._api[window.name] = window
        try:
            await self._db.run(db.save_maintenance(window, now))
        except Exception as exc:
            log.error("maintenance %s kept in memory only: %s", window.name, exc)

    async def delete(self, name: str) -> bool:
        if self._in_settings(name):
            raise MaintenanceError(f"maintenance {name!r} is defined in settings: edit them")
        if self._api.pop(name, None) is None:
            return False
        with contextlib.suppress(Exception):
            await self._db.run(db.delete_maintenance(name))
        return True

    def resync(self, now: float) -> None:
        """The database took a write again after failing: write the API's windows again."""
        for window in self._api.values():
            self._db.submit(db.save_maintenance(window, now))
