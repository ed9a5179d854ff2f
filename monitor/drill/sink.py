"""Alertmanager's webhook receiver for the drills: listens in netmon's namespace and records
every notification (a page) it gets, for the scenarios and tests to assert on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import nsenter


@dataclass
class Page:
    at: float
    receiver: str
    status: str
    group: dict[str, str]
    alerts: list[dict[str, Any]]

    def names(self, status: str = "firing") -> set[tuple[str, str]]:
        return {
            (a["labels"].get("alertname", ""), a["labels"].get("target", ""))
            for a in self.alerts
            if a.get("status") == status
        }


class Sink:
    """Alertmanager's webhook receiver, listening in netmon's namespace; records every page."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.pages: list[Page] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.pages.append(
            Page(
                time.time(),
                request.match_info["receiver"],
                body.get("status", ""),
                dict(body.get("groupLabels", {})),
                list(body.get("alerts", [])),
            )
        )
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{receiver}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = nsenter.listening_socket(self.netns, "127.0.0.1")
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{receiver}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def firing(self, group: dict[str, str] | None = None) -> list[Page]:
        return [
            p
            for p in self.pages
            if p.status == "firing"
            and (group is None or all(p.group.get(k) == v for k, v in group.items()))
        ]

    def seen(self, alertname: str, target: str, status: str = "firing") -> Page | None:
        for page in self.pages:
            if (alertname, target) in page.names(status):
                return page
        return None
