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

import ipaddress
import json
from pathlib import Path
from typing import NoReturn

from aiohttp import web

from monitor.config.access import AccessSettings, Principal, Role, token_digest
from monitor.config.models import ServerSettings
from monitor.runtime.service import Service
from monitor.web.access import Access, Network, forwarded_client
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
    "same_origin",
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


_STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# Forms of their own: sign-in and sign-out check their origin themselves, the NOC's forms
# (monitor/web/forms.py) their origin and a token; the query proxy's POST is a read (Grafana
# posts its queries as a form).
_FORM_PATHS = ("/login", "/logout", "/prometheus/", "/maintenance", "/outages/")


def _host_name(host: str) -> str:
    """The name of a Host header without its port, lower case, without a final dot."""
    if host.startswith("["):
        return host[1 : host.find("]")].lower() if "]" in host else host.lower()
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        host = name
    return host.lower().rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return True


class Guard:
    """The Access of the settings in force (rebuilt after a reload) and the sessions."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self._settings: AccessSettings | None = None
        self._access: Access | None = None
        self._server: ServerSettings | None = None
        self._trusted: list[Network] = []
        self.sessions = SessionStore(state_dir / "sessions.sqlite" if state_dir else None)

    def access(self, request: web.Request) -> Access:
        settings = request.app[SERVICE].settings.access
        if self._access is None or settings is not self._settings:
            self._settings, self._access = settings, Access(settings)
        return self._access

    def front_door(self, request: web.Request) -> web.Request:
        """The request as its client sent it (address and scheme through a trusted proxy),
        or ApiError: 421 for a Host this netmon does not answer to (DNS rebinding), 415 for a
        state-changing body that is not JSON, 403 for a state change from another site.

        A browser sends a cross-site request with Origin or Sec-Fetch-Site, and cannot add an
        Authorization header without a preflight, which nothing here answers: a request with
        the header, or with neither of the others (curl, Prometheus, a script), is not one.
        """
        server = request.app[SERVICE].settings.server
        if server is not self._server:
            self._server = server
            self._trusted = [ipaddress.ip_network(p, strict=False) for p in server.trusted_proxies]
        if self._trusted:
            remote, scheme = forwarded_client(
                request.remote,
                request.headers.getall("X-Forwarded-For", []),
                request.headers.getall("X-Forwarded-Proto", []),
                self._trusted,
            )
            if remote is not None and (remote != request.remote or scheme is not None):
                request = request.clone(remote=remote, scheme=scheme or request.scheme)
        host = _host_name(request.headers.get("Host", ""))
        if not (host == "localhost" or _is_address(host) or host in server.hostnames):
            raise ApiError(421, "this netmon does not answer to that host name")
        if request.method in _STATE_CHANGING and not request.path.startswith(_FORM_PATHS):
            if request.body_exists and request.content_type != "application/json":
                raise ApiError(415, "the body must be application/json")
            if "Authorization" not in request.headers and not same_origin(request):
                raise ApiError(403, "a change from another site is refused")
        return request

    async def principal(
        self, request: web.Request, *, session_changes: bool = False
    ) -> Principal | None:
        """The bearer header's principal, else a session's for a read. ``session_changes``:
        a change that a page's button makes (an acknowledgement) may use the session too;
        front_door has already refused it unless it is a same-origin JSON request, which no
        other site can make."""
        access = self.access(request)
        authorization = request.headers.get("Authorization")
        reading = request.method in ("GET", "HEAD")
        if not authorization and (reading or (session_changes and same_origin(request))):
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


def same_origin(request: web.Request) -> bool:
    """A request from this site, not from another one. Non-browser clients send neither
    Sec-Fetch-Site nor Origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin != "null" and origin.split("://", 1)[-1].lower() == request.host.lower()


async def principal(request: web.Request) -> Principal | None:
    return await request.app[GUARD].principal(request)


async def require(request: web.Request, role: Role, *, session_changes: bool = False) -> Principal:
    """The principal if it has ``role`` at least; else 401 (no or wrong token) or 403."""
    found = await request.app[GUARD].principal(request, session_changes=session_changes)
    if found is None:
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    if not found.at_least(role):
        raise ApiError(403, f"this needs the {role} role")
    return found
