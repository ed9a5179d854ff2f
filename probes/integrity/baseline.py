"""The web integrity baseline: what each site looked like over its first good fetches.

Probe state, not monitoring state: the store and the alert engine keep results and alerts,
while this is what the ``web`` probe learnt in order to judge the next fetch, so the probe
owns it and reaches it through its ``ProbeContext`` (``ctx.state_dir``). It lives in
``baselines.sqlite`` under ``[server] state_dir`` and survives restarts. Every call is
blocking (SQLite): the probe makes them in a thread (``asyncio.to_thread``), never on the loop;
a lock serialises the threads on the one connection. ``netmon baseline accept TARGET``
(monitor/cli/baseline.py) forgets a site's baseline so that the next fetches learn it again.

A row that does not decode is dropped with a warning and learnt again; a file that is not a
database is moved aside (``baselines.sqlite.corrupt-<unix time>``) and made anew.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FILE_NAME", "Baseline", "BaselineStore"]

log = logging.getLogger("netmon.web.baseline")

FILE_NAME = "baselines.sqlite"
# Fingerprints kept: the learnt ones, then those of later clean fetches, newest last, so that a
# news portal's front page, which changes a little every day, drifts with its baseline, while
# a defacement, which changes it all at once, does not.
MAX_FINGERPRINTS = 8
_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline (
    target TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL
)
"""


@dataclass(slots=True)
class Baseline:
    """One site's learnt page: the union over the fetches it learnt from."""

    fetches: int = 0
    scripts: set[str] = field(default_factory=set)  # script, iframe, form, refresh domains
    links: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    simhashes: list[int] = field(default_factory=list)

    def ready(self, needed: int) -> bool:
        return self.fetches >= needed

    def learn(self, scripts: set[str], links: set[str], title: str, simhash: int) -> None:
        self.fetches += 1
        self.scripts |= scripts
        self.links |= links
        self.titles.add(title)
        self.track(simhash)

    def track(self, simhash: int) -> bool:
        """Keep a clean fetch's fingerprint (the oldest go past MAX_FINGERPRINTS); whether it
        was new."""
        if simhash in self.simhashes:
            return False
        self.simhashes = [*self.simhashes, simhash][-MAX_FINGERPRINTS:]
        return True

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": _VERSION,
                "fetches": self.fetches,
                "scripts": sorted(self.scripts),
                "links": sorted(self.links),
                "titles": sorted(self.titles),
                "simhashes": [f"{h:016x}" for h in self.simhashes],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Baseline:
        """Raises ValueError (or KeyError/TypeError, re-raised as ValueError) if malformed."""
        try:
            data: Any = json.loads(text)
            if data["version"] != _VERSION:
                raise ValueError(f"version {data['version']!r}")
            fetches = int(data["fetches"])
            if fetches < 0:
                raise ValueError("negative fetch count")
            return cls(
                fetches=fetches,
                scripts={str(d) for d in data["scripts"]},
                links={str(d) for d in data["links"]},
                titles={str(t) for t in data["titles"]},
                simhashes=[int(h, 16) for h in data["simhashes"]],
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed baseline: {exc!r}") from None


class BaselineStore:
    """Baselines by target name, in ``path`` (None: in memory, for tests and benchmarks)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            db = sqlite3.connect(":memory:", check_same_thread=False)
            db.execute(_SCHEMA)
            return db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect(self.path)
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.warning(
                "web baselines %s are unreadable (%s): moved to %s, learning them again",
                self.path,
                exc,
                aside.name,
            )
            self.path.replace(aside)
            return self._connect(self.path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, timeout=5.0, isolation_level=None)
        try:
            db.execute(_SCHEMA)
            db.execute("SELECT count(*) FROM baseline").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, target: str) -> Baseline:
        """The target's baseline; an empty one when none was learnt or the row was corrupt."""
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM baseline WHERE target = ?", (target,)
            ).fetchone()
            if row is None:
                return Baseline()
            try:
                return Baseline.from_json(row[0])
            except ValueError as exc:
                log.warning("web baseline of %s is corrupt (%s): learning it again", target, exc)
                self._db.execute("DELETE FROM baseline WHERE target = ?", (target,))
                return Baseline()

    def put(self, target: str, baseline: Baseline) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO baseline (target, data, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (target) DO UPDATE SET data = excluded.data, "
                "updated = excluded.updated",
                (target, baseline.to_json(), time.time()),
            )

    def forget(self, target: str) -> bool:
        """Drop the target's baseline (the next fetches learn it again); whether it had one."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM baseline WHERE target = ?", (target,))
            return cursor.rowcount > 0

    def targets(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT target FROM baseline ORDER BY 1")]

    def close(self) -> None:
        with self._lock:
            self._db.close()
