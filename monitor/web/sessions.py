"""Browser sessions: a random id (the cookie) → the SHA-256 of the token it signed in with.

Read from memory on the loop; every change is written to ``sessions.sqlite`` under
``[server] state_dir`` by one dedicated thread (the loop never waits on the disk), so a wall
screen stays signed in across a restart or an upgrade. The file holds the SHA-256 of each
session id, never the id itself: a copy of the file signs nobody in.

Sessions are capped per token (``PER_PRINCIPAL``): a principal that signs in again and again
evicts only its own oldest session, never another's (one operator's token cannot sign the NOC
out). The total is bounded by the number of tokens times the cap; sessions of a token that a
reload removed stop working at once (the digest resolves to nobody) and are purged lazily.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

__all__ = ["PER_PRINCIPAL", "SESSION_SECONDS", "Session", "SessionStore"]

log = logging.getLogger(__name__)

SESSION_SECONDS = 12 * 3600
# A NOC room has a few wall screens and laptops per token; 50 is far above that.
PER_PRINCIPAL = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    id_sha256 TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
)
"""

T = TypeVar("T")
Session = tuple[str, float, float]  # (token sha256, created, expires), unix seconds


def _sid_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    """The sessions in memory, mirrored to SQLite by one thread (``path`` None: memory only)."""

    def __init__(self, path: Path | None, *, per_principal: int = PER_PRINCIPAL) -> None:
        self._path = path
        self._per_principal = per_principal
        self._sessions: dict[str, Session] = {}  # sha256(id) -> session, oldest first
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._loaded = False
        self._load_lock = asyncio.Lock()

    # -- the thread's side
    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self._path is not None
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self._path, check_same_thread=False)
            # WAL without a sync per commit: a session lost to a power cut is a sign-in again.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()
        return self._conn

    def _read_all(self, now: float) -> list[tuple[str, str, float, float]]:
        conn = self._open()
        conn.execute("DELETE FROM web_sessions WHERE expires <= ?", (now,))
        conn.commit()
        rows = conn.execute(
            "SELECT id_sha256, token_sha256, created, expires FROM web_sessions ORDER BY created"
        ).fetchall()
        return [(str(a), str(b), float(c), float(d)) for a, b, c, d in rows]

    def _write(self, add: tuple[str, Session] | None, remove: list[str]) -> None:
        conn = self._open()
        if remove:
            conn.executemany("DELETE FROM web_sessions WHERE id_sha256 = ?", [(k,) for k in remove])
        if add is not None:
            key, (digest, created, expires) = add
            conn.execute(
                "INSERT OR REPLACE INTO web_sessions VALUES (?, ?, ?, ?)",
                (key, digest, created, expires),
            )
        conn.commit()

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the loop's side
    async def _run_in_thread(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="netmon-sessions")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def load(self) -> None:
        """Read the file once (later calls return at once); a broken file is logged and
        the sessions start empty: nobody is signed in, nothing else fails."""
        if self._loaded or self._path is None:
            self._loaded = True
            return
        async with self._load_lock:
            if self._loaded:
                return
            rows: list[tuple[str, str, float, float]]
            try:
                rows = await self._run_in_thread(self._read_all, time.time())
            except (sqlite3.Error, OSError) as exc:
                log.warning("sessions: cannot read %s: %s", self._path, exc)
                rows = []
            for key, digest, created, expires in rows:
                self._sessions[key] = (digest, created, expires)
            self._loaded = True

    def lookup(self, sid: str) -> str | None:
        """The token digest of a live session, or None."""
        key = _sid_key(sid)
        entry = self._sessions.get(key)
        if entry is None:
            return None
        if entry[2] <= time.time():
            del self._sessions[key]
            self._persist(None, [key])
            return None
        return entry[0]

    async def create(self, token_sha256: str) -> str:
        """A new session id for this token; its oldest session goes if it has too many."""
        await self.load()
        now = time.time()
        own = [k for k, v in self._sessions.items() if v[0] == token_sha256]
        expired = [k for k, v in self._sessions.items() if v[2] <= now]
        gone = set(expired)
        live_own = [k for k in own if k not in gone]
        while len(live_own) >= self._per_principal:
            gone.add(live_own.pop(0))  # insertion order: the oldest first
        for key in gone:
            del self._sessions[key]
        sid = secrets.token_urlsafe(32)
        key = _sid_key(sid)
        session = (token_sha256, now, now + SESSION_SECONDS)
        self._sessions[key] = session
        await self._persist_wait((key, session), sorted(gone))
        return sid

    async def delete(self, sid: str) -> None:
        key = _sid_key(sid)
        if self._sessions.pop(key, None) is not None:
            await self._persist_wait(None, [key])

    def count(self, token_sha256: str | None = None) -> int:
        return sum(1 for v in self._sessions.values() if token_sha256 in (None, v[0]))

    def _persist(self, add: tuple[str, Session] | None, remove: list[str]) -> None:
        """Queue a write without waiting (from code that is not a coroutine)."""
        if self._path is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._persist_wait(add, remove))
        except RuntimeError:
            return
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _persist_wait(self, add: tuple[str, Session] | None, remove: list[str]) -> None:
        if self._path is None:
            return
        try:
            await self._run_in_thread(self._write, add, remove)
        except (sqlite3.Error, OSError) as exc:
            # Memory still holds the session: it works until the next restart.
            log.warning("sessions: cannot write %s: %s", self._path, exc)

    async def aclose(self) -> None:
        if self._executor is not None:
            await self._run_in_thread(self._close_conn)
            self._executor.shutdown(wait=False)
            self._executor = None
