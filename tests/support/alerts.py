"""Shared parts of the alert tests (no tests here): loopback servers that play targets and
receivers, a netmon Service run in-process on settings written as TOML, and a ``FakeClock``
that the tests move one step at a time (``until``) instead of sleeping.

Everything listens on 127.0.0.1 ports picked by the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import tomli_w
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import load_settings
from monitor.core.clock import Clock
from monitor.runtime.service import Service
from tests.support.clock import FakeClock
from tests.support.common import free_port


class Targets:
    """HTTP targets on one loopback server: /t/NAME answers as its mode says.

    Modes: "ok" (200), "fail" (503), "flap" (200 and 503 in turn, per request).
    """

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}
        self._flip: dict[str, bool] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        mode = self.modes.get(name, "ok")
        if mode == "flap":
            self._flip[name] = not self._flip.get(name, False)
            mode = "fail" if self._flip[name] else "ok"
        if mode == "fail":
            return web.Response(status=503, text="bảo trì")
        return web.Response(text="Chào mừng Đại hội")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/t/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/t/{name}"

    def target(self, name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "kind": "http", "url": self.url(name), "group": "website", **extra}

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Sink:
    """A webhook receiver: records every POST; can answer 503 or hold requests unanswered."""

    def __init__(self, port: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.status = 200
        self.stall = False
        self.in_flight = 0
        self.stalled_ids: list[str] = []
        self.port = port or free_port()
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.stall:
            # Held without an answer; once released it is refused, not recorded: a request
            # that never got an answer was never processed.
            self.stalled_ids.append(request.headers.get("X-Netmon-Notification-Id", ""))
            self.in_flight += 1
            try:
                await self._release.wait()
            finally:
                self.in_flight -= 1
            return web.Response(status=503)
        if self.status != 200:
            return web.Response(status=self.status, text="xin thử lại sau")
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        self.requests.append(await request.json())
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def release(self) -> None:
        self.stall = False
        self._release.set()

    async def close(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # webhook payloads (Alertmanager's webhook JSON, one alert per message)
    def kinds(self, target: str | None = None, rule: str | None = None) -> list[str]:
        out = []
        for r in self.requests:
            alert = r["alerts"][0]
            if target is not None and alert["labels"].get("target") != target:
                continue
            if rule is not None and alert["labels"].get("alertname") != rule:
                continue
            out.append(r["netmon"]["kind"])
        return out

    def alerts(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            r["alerts"][0] for r in self.requests if kind is None or r["netmon"]["kind"] == kind
        ]


@contextlib.asynccontextmanager
async def targets_server() -> AsyncIterator[Targets]:
    server = Targets()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def sink_server(port: int | None = None) -> AsyncIterator[Sink]:
    sink = Sink(port)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


def write_settings(
    path: Path,
    targets: list[dict[str, Any]],
    alerts: dict[str, Any],
    *,
    phases: list[dict[str, Any]] | None = None,
    interval: str = "300ms",
    state_dir: Path | None = None,
    listen: str | None = None,
    traps: dict[str, Any] | None = None,
) -> Path:
    """Settings as TOML. The trap receiver is off unless ``traps`` says otherwise: it would
    bind the shared 127.0.0.1:1162, and its SNMP engine takes 0.2 s to start."""
    doc: dict[str, Any] = {
        "server": {
            "listen": listen or f"127.0.0.1:{free_port()}",
            "state_dir": str(state_dir or path.parent / "state"),
        },
        "defaults": {"interval": interval, "timeout": "250ms"},
        "traps": traps or {"enabled": False},
        "targets": targets,
        "alerts": alerts,
        # A loopback netmon without tokens, as in the lab: the explicit open policy.
        "access": {"anonymous": "auto", "metrics": "loopback"},
    }
    if phases:
        doc["phases"] = phases
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def webhook_alerts(
    *receivers: tuple[str, str], route: dict[str, list[str]] | None = None, **extra: Any
) -> dict[str, Any]:
    """[alerts] with webhook receivers (name, url), one route for warning and critical, and
    quick retries."""
    doc: dict[str, Any] = {
        "receivers": {name: {"type": "webhook", "url": url} for name, url in receivers},
        "routes": [
            {
                "match": route or {"severity": ["critical", "warning"]},
                "receivers": [name for name, _ in receivers],
            }
        ],
        "delivery": {"backoff_initial": "100ms", "backoff_max": "500ms"},
    }
    doc.update(extra)
    return doc


@contextlib.asynccontextmanager
async def running(path: Path, clock: Clock | None = None) -> AsyncIterator[Service]:
    """netmon in this process: the service started and its scheduler running (on ``clock``,
    the system's when not given)."""
    service = Service(load_settings(path), path, clock=clock)
    await service.start()
    task = asyncio.create_task(service.scheduler.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await service.aclose()


def metric(service: Service, name: str, **labels: str) -> float | None:
    # Only the lines of this series are parsed: the tests ask after every step of the clock.
    text = "".join(
        line + "\n"
        for line in service.render_metrics().splitlines()
        if line.startswith((name + "{", name + " "))
    )
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def alert_states(service: Service) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(a["target"], a["rule"]): a for a in service.alerts.alerts_json()}


async def settle(service: Service, limit: float = 10.0) -> None:
    """Wait (real time) until no probe runs: what the clock started has come back."""
    deadline = time.monotonic() + limit
    for _ in range(5):
        await asyncio.sleep(0)
    while True:
        while sum(service.scheduler.stats.in_flight.values()) > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"probes still running after {limit} s of real time")
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.002)  # the receivers' answers, and the database thread
        # A probe that waited for its host's slot starts only once another has finished.
        if sum(service.scheduler.stats.in_flight.values()) == 0:
            break


async def until(
    clock: FakeClock,
    service: Service,
    what: str,
    predicate: Callable[[], object],
    limit: float = 30.0,
    step: float = 0.1,
) -> None:
    """Move ``clock`` on ``step`` seconds at a time, letting the probes it starts finish each
    time, until ``predicate`` holds; fail after ``limit`` seconds of the clock."""
    end = clock.now + limit
    await settle(service)
    while not predicate():
        if clock.now >= end:
            raise AssertionError(f"{what}: not within {limit:g} s of the test's clock")
        await clock.advance(step)
        await settle(service)
