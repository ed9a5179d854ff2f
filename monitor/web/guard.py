"""Who is asking: the request's principal, for the API and the pages (monitor/access.py).

A request names itself with ``Authorization: Bearer <token>``. A browser, which cannot send
that header on its own, signs in once with its token at ``/login`` and gets a session cookie:
a random id (never the token) mapped, in memory, to the token's SHA-256, so a token removed
by a reload ends its sessions at once. The cookie is ``HttpOnly`` and ``SameSite=Strict``,
and is honoured for reading only (GET and HEAD): what changes state needs the header.
Without either, ``[access] anonymous`` decides (the lab on loopback: admin).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import NoReturn

from aiohttp import web

from monitor.config.access import AccessSettings, Principal, Role, token_digest
from monitor.runtime.service import Service
from monitor.web.access import Access

__all__ = [
    "COOKIE",
    "GUARD",
    "SERVICE",
    "ApiError",
    "Guard",
    "fail",
    "principal",
    "require",
]

SERVICE: web.AppKey[Service] = web.AppKey("service", Service)
COOKIE = "netmon_session"
SESSION_SECONDS = 12 * 3600
_MAX_SESSIONS = 10000


class ApiError(Exception):
    """An answer other than 2xx, with a message safe to show (no token, no secret)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.Response(
            text=json.dumps({"error": self.message}, ensure_ascii=False),
            status=self.status,
            content_type="application/json",
            headers=self.headers,
        )


def fail(status: int, message: str) -> NoReturn:
    raise ApiError(status, message)


class Guard:
    """The Access of the settings in force (rebuilt after a reload) and the sessions."""

    def __init__(self) -> None:
        self._settings: AccessSettings | None = None
        self._access: Access | None = None
        self._sessions: dict[str, tuple[str, float]] = {}  # id -> (token sha256, expiry)

    def access(self, request: web.Request) -> Access:
        settings = request.app[SERVICE].settings.access
        if self._access is None or settings is not self._settings:
            self._settings, self._access = settings, Access(settings)
        return self._access

    async def principal(self, request: web.Request) -> Principal | None:
        access = self.access(request)
        authorization = request.headers.get("Authorization")
        if not authorization and request.method in ("GET", "HEAD"):
            sid = request.cookies.get(COOKIE)
            if sid:
                found = self._session(access, sid)
                if found is not None:
                    return found
        return await access.authenticate(authorization, request.remote)

    def _session(self, access: Access, sid: str) -> Principal | None:
        entry = self._sessions.get(sid)
        if entry is None:
            return None
        digest, expiry = entry
        if expiry < time.monotonic():
            del self._sessions[sid]
            return None
        return access.lookup_digest(digest)

    async def login(self, request: web.Request, token: str) -> tuple[str, Principal] | None:
        """A new session for a right token; a wrong one is slowed down as by the header."""
        access = self.access(request)
        principal = await access.authenticate(f"Bearer {token}", request.remote)
        if principal is None:
            return None
        now = time.monotonic()
        if len(self._sessions) >= _MAX_SESSIONS:
            self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
            while len(self._sessions) >= _MAX_SESSIONS:  # still full: the oldest go
                del self._sessions[next(iter(self._sessions))]
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = (token_digest(token), now + SESSION_SECONDS)
        return sid, principal

    def logout(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)


GUARD: web.AppKey[Guard] = web.AppKey("guard", Guard)


async def principal(request: web.Request) -> Principal | None:
    return await request.app[GUARD].principal(request)


async def require(request: web.Request, role: Role) -> Principal:
    """The principal if it has ``role`` at least; else 401 (no or wrong token) or 403."""
    found = await principal(request)
    if found is None:
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    if not found.at_least(role):
        raise ApiError(403, f"this needs the {role} role")
    return found
