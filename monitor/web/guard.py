"""Who is asking: the request's principal, for the API and the pages (monitor/access.py).

A request names itself with ``Authorization: Bearer <token>``. A browser, which cannot send
that header on its own, signs in once with its token at ``/login`` and gets a session cookie:
a random id (never the token) mapped to the token's SHA-256 (monitor/web/sessions.py: capped
per token, kept across restarts), so a token removed by a reload ends its sessions at once.
The cookie is ``HttpOnly`` and ``SameSite=Strict``, and is honoured for reading only (GET and
HEAD): what changes state needs the header. Without either, ``[access] anonymous`` decides
(nobody unless set; the lab sets "auto").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

from aiohttp import web

from monitor.config.access import AccessSettings, Principal, Role, token_digest
from monitor.runtime.service import Service
from monitor.web.access import Access
from monitor.web.sessions import SESSION_SECONDS, SessionStore

__all__ = [
    "COOKIE",
    "GUARD",
    "SERVICE",
    "SESSION_SECONDS",
    "ApiError",
    "Guard",
    "fail",
    "principal",
    "require",
]

SERVICE: web.AppKey[Service] = web.AppKey("service", Service)
COOKIE = "netmon_session"


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

    def __init__(self, state_dir: Path | None = None) -> None:
        self._settings: AccessSettings | None = None
        self._access: Access | None = None
        self.sessions = SessionStore(state_dir / "sessions.sqlite" if state_dir else None)

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
                await self.sessions.load()
                digest = self.sessions.lookup(sid)
                found = access.lookup_digest(digest) if digest is not None else None
                if found is not None:
                    return found
        return await access.authenticate(authorization, request.remote)

    async def login(self, request: web.Request, token: str) -> tuple[str, Principal] | None:
        """A new session for a right token; a wrong one is slowed down as by the header."""
        access = self.access(request)
        principal = await access.authenticate(f"Bearer {token}", request.remote)
        if principal is None:
            return None
        return await self.sessions.create(token_digest(token)), principal

    async def logout(self, sid: str | None) -> None:
        if sid:
            await self.sessions.delete(sid)

    async def aclose(self) -> None:
        await self.sessions.aclose()


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
