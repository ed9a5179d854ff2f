"""The HTTP server: one aiohttp application.

    /                     status page (monitor/pages.py; /targets/NAME, /login, /static/...)
    /api/v1/...           the JSON API (monitor/api.py), its OpenAPI document (monitor/openapi.py)
    /metrics              Prometheus text (gzip); loopback, a scrape token, or open ([access])
    /healthz              open
    POST /-/reload        re-read the settings (admin)
    /prometheus/api/v1/*  the label-enforcing query proxy (monitor/promproxy.py)

The web layer only reads the store, the scheduler, the alert engine and its ledger; what it
changes is the configuration (``Service.reload``) and maintenance windows (the engine). Every
answer carries nosniff, frame-deny and a same-origin referrer policy; pages carry a CSP without
inline script or style. No answer, log line or error carries a token or a secret: tokens are
read from the Authorization header (or a sign-in form) only, and errors name the parameter,
never the credential.

Slow clients (issue 13): ``GuardedSite`` listens in place of aiohttp's TCPSite, with an accept
loop of its own that admits a connection, as it is accepted, only under ``ConnectionLimits`` (a
total and a per-client-address cap, sized so the probes keep a reserve of file descriptors); a
connection that has not sent its first request's
headers within ``[server] header_timeout`` is closed, and aiohttp's keep-alive timeout
(``[server] idle_timeout``, armed from the connection's start) closes idle ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from monitor.config import ServerSettings
from monitor.runtime.service import Service
from monitor.web import api, promproxy
from monitor.web.access import Access
from monitor.web.forms import add_routes as add_form_routes
from monitor.web.guard import GUARD, SERVICE, ApiError, Guard, require
from monitor.web.pages import add_routes as add_page_routes

__all__ = [
    "CONNECTIONS",
    "PAGE_CSP",
    "SERVICE",
    "ConnectionLimits",
    "GuardedSite",
    "fd_reserve",
    "make_app",
]

log = logging.getLogger(__name__)

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONNECTIONS: web.AppKey[ConnectionLimits] = web.AppKey("connections")


def fd_reserve(fd_limit: int) -> int:
    """The file descriptors kept for the probes, the databases and the logs: half the limit,
    at least 64; web connections get the rest."""
    return max(64, fd_limit // 2)


class ConnectionLimits:
    """Which web connections are admitted (a total and a per-client-address cap) and which
    have not sent their first request's headers in time.

    The caps are fixed at start, like ``[server] listen``. Refused and timed-out connections
    are counted and logged at most once a minute, so a flood does not flood the log too.
    """

    def __init__(self, server: ServerSettings, fd_limit: int) -> None:
        ceiling = max(1, fd_limit - fd_reserve(fd_limit))
        if server.max_connections is not None and server.max_connections > ceiling:
            log.warning(
                "server.max_connections = %d leaves the probes too few of the %d file "
                "descriptors: %d web connections at most",
                server.max_connections,
                fd_limit,
                ceiling,
            )
        self.total = min(server.max_connections or ceiling, ceiling)
        self.per_client = min(server.max_connections_per_client, self.total)
        self.header_timeout = server.header_timeout
        self.by_client: Counter[str] = Counter()
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self.exhausted_accepts = 0
        self._awaiting: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}
        self._logged_at = -60.0

    def admit(self, client: str) -> bool:
        if self.open >= self.total or self.by_client[client] >= self.per_client:
            self.refused += 1
            self._log_now_and_then()
            return False
        self.open += 1
        self.by_client[client] += 1
        return True

    def release(self, client: str, transport: asyncio.BaseTransport | None) -> None:
        self.open -= 1
        self.by_client[client] -= 1
        if not self.by_client[client]:
            del self.by_client[client]
        self.request_started(transport)

    def exhausted(self) -> None:
        """accept() found the process out of descriptors (the caps were set above a limit
        lowered since): counted and logged now and then, accepting pauses."""
        self.exhausted_accepts += 1
        self._log_now_and_then()

    def await_headers(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        self._awaiting[transport] = loop.call_later(
            self.header_timeout, self._headers_late, transport
        )

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None and (timer := self._awaiting.pop(transport, None)):
            timer.cancel()

    def _headers_late(self, transport: asyncio.BaseTransport) -> None:
        del self._awaiting[transport]
        self.timed_out += 1
        self._log_now_and_then()
        transport.close()

    def _log_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._logged_at >= 60:
            self._logged_at = now
            log.warning(
                "web connections: %d open (cap %d, %d per client); %d refused, %d closed "
                "without a request in time and %d accepts paused for want of descriptors "
                "since the start",
                self.open,
                self.total,
                self.per_client,
                self.refused,
                self.timed_out,
                self.exhausted_accepts,
            )


class _Admitted(asyncio.Protocol):
    """aiohttp's protocol for one connection that ``_Listener`` admitted: it gives the seat
    back when the connection ends and arms the first request's header timer."""

    def __init__(self, limits: ConnectionLimits, client: str, inner: asyncio.Protocol) -> None:
        self._limits = limits
        self._inner = inner
        self._client = client
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._limits.await_headers(transport)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self._limits.release(self._client, self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


# Out of descriptors (process or system) or kernel memory: accept again after a pause.
_ACCEPT_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_ACCEPT_PAUSE = 0.25
_ACCEPTS_PER_WAKE = 32
_LINGER_RESET = struct.pack("ii", 1, 0)


class _Listener(asyncio.AbstractServer):
    """The listening socket with an accept loop of our own.

    asyncio's server accepts up to ``backlog`` sockets per wake-up and only later lets the
    protocol see them, so a flood holds a hundred descriptors more than the caps admit and
    the process runs out (EMFILE in accept, then in the probes). Here each socket is admitted
    or reset the moment it is accepted: descriptors held never exceed the caps plus one.
    """

    def __init__(
        self, sock: socket.socket, limits: ConnectionLimits, factory: Callable[[], asyncio.Protocol]
    ) -> None:
        self._sock = sock
        self._limits = limits
        self._factory = factory
        self._loop = asyncio.get_running_loop()
        self._serving = True
        self._tasks: set[asyncio.Task[object]] = set()
        self._closed = asyncio.Event()
        self._loop.add_reader(sock.fileno(), self._accept)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,) if self._serving else ()

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                conn, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _ACCEPT_EXHAUSTED:
                    raise
                self._limits.exhausted()
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(_ACCEPT_PAUSE, self._resume)
                return
            client = str(addr[0]) if addr else ""
            if not self._limits.admit(client):
                # A reset, not a lingering close: the descriptor is back at once.
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                conn.close()
                continue
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn, client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, conn: socket.socket, client: str) -> None:
        inner = self._factory()
        try:
            await self._loop.connect_accepted_socket(
                lambda: _Admitted(self._limits, client, inner), conn
            )
        except OSError:
            # The transport never came to be: no connection_lost will give the seat back.
            self._limits.release(client, None)
            conn.close()

    def _resume(self) -> None:
        if self._serving:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._closed.set()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        await self._closed.wait()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite with ``ConnectionLimits`` applied as each connection is accepted."""

    __slots__ = ("_host", "_limits", "_port")

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, limits: ConnectionLimits
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._limits = limits

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.create_server((self._host, self._port), family=family, backlog=self._backlog)
        sock.setblocking(False)
        self._server = _Listener(sock, self._limits, server)


def make_app(service: Service, fd_limit: int | None = None) -> web.Application:
    """The application; ``fd_limit`` (default: the soft RLIMIT_NOFILE now) sizes the caps of
    ``app[CONNECTIONS]``, which ``GuardedSite`` applies."""
    app = web.Application(
        middlewares=[_request_started, _api_errors, _front_door], client_max_size=256 * 1024
    )
    app[SERVICE] = service
    if fd_limit is None:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        fd_limit = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    app[CONNECTIONS] = ConnectionLimits(service.settings.server, fd_limit)
    app[GUARD] = Guard(Path(service.settings.server.state_dir))
    app.on_cleanup.append(_close_guard)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_post("/-/reload", reload_handler)
    api.add_routes(app)
    add_page_routes(app)
    add_form_routes(app)
    promproxy.add_routes(
        app, service.settings, Access(service.settings.access), current=lambda: service.settings
    )
    return app


async def _close_guard(app: web.Application) -> None:
    await app[GUARD].aclose()


@web.middleware
async def _request_started(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The headers of a request are in: its connection is no longer under the header timer."""
    request.app[CONNECTIONS].request_started(request.transport)
    return await handler(request)


@web.middleware
async def _api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """ApiError as JSON; under /api/ the router's own 404 and 405 too."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return ApiError(exc.status, exc.reason, headers).response()


@web.middleware
async def _front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host allow-list, cross-site refusal, the client behind a trusted proxy (guard.py)."""
    return await handler(request.app[GUARD].front_door(request))


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if "Content-Security-Policy" not in headers:
        html = response.content_type == "text/html"
        headers["Content-Security-Policy"] = PAGE_CSP if html else _API_CSP
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")


async def metrics_handler(request: web.Request) -> web.Response:
    access = request.app[GUARD].access(request)
    verdict = await access.metrics_allowed(request.headers.get("Authorization"), request.remote)
    if verdict == "unauthorized":
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    if verdict == "forbidden":
        raise ApiError(403, "an operator reads metrics through the query proxy")
    service = request.app[SERVICE]
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        # Only what changed since the last scrape is compressed anew (monitor/runtime/metrics.py).
        return web.Response(
            body=await service.render_metrics_gzip(),
            headers={"Content-Type": METRICS_TYPE, "Content-Encoding": "gzip"},
        )
    return web.Response(body=service.render_metrics_bytes(), headers={"Content-Type": METRICS_TYPE})


async def healthz_handler(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    phase = service.scheduler.phase
    alerts = service.alerts.health()
    return api.json_answer(
        {
            # Degraded, not down: probing and /metrics go on when the alert database fails.
            "status": "ok" if alerts["db_ok"] else "degraded",
            "targets": len(service.settings.targets),
            "phase": phase.name if phase else None,
            "config_last_reload_successful": service.last_reload_ok,
            "alerts": alerts,
        }
    )


async def reload_handler(request: web.Request) -> web.Response:
    await require(request, "admin")
    errors = await request.app[SERVICE].reload()
    if errors:
        return api.json_answer({"status": "refused", "errors": errors}, status=400)
    return api.json_answer({"status": "ok"})
