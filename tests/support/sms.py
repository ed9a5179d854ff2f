"""An SMS gateway's JSON API on 127.0.0.1, for the ``http`` receiver's tests (no tests here).

``POST /api/v1/messages`` with ``Authorization: Bearer <token>`` and a JSON body; records what
it accepted (the parsed JSON, the raw body, the headers). ``GET /send`` records the query.
Faults: ``answers`` (the next requests' answers, in turn: (status, text), or a number of seconds
to hold the request before a 503; a request whose client gave up is never processed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from tests.support.common import LoopbackServer


class SmsGateway(LoopbackServer):
    def __init__(self, token: str, port: int = 0) -> None:
        self.token = token
        self.accepted: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.queries: list[dict[str, str]] = []
        self.requests = 0
        self.answers: list[tuple[int, str] | float] = []
        self.port = port

    async def _fault(self) -> web.Response | None:
        self.requests += 1
        if not self.answers:
            return None
        fault = self.answers.pop(0)
        if isinstance(fault, float | int):
            await asyncio.sleep(fault)
            return web.Response(status=503, text="late")
        status, text = fault
        return web.Response(status=status, text=text, content_type="application/json")

    async def _messages(self, request: web.Request) -> web.Response:
        fault = await self._fault()
        if fault is not None:
            return fault
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized: bad token"}, status=401)
        raw = await request.read()
        try:
            data = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(data.get("to"), list) or not data["to"]:
            return web.json_response({"error": "'to' must be a non-empty list"}, status=422)
        self.raw.append(raw)
        self.headers.append(dict(request.headers))
        self.accepted.append(data)
        return web.json_response({"status": "queued", "id": len(self.accepted)}, status=202)

    async def _send(self, request: web.Request) -> web.Response:
        fault = await self._fault()
        if fault is not None:
            return fault
        self.queries.append(dict(request.query))
        return web.Response(text="OK")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v1/messages", self._messages)
        app.router.add_get("/send", self._send)
        await self.serve(app)


@contextlib.asynccontextmanager
async def sms_gateway(token: str, port: int = 0) -> AsyncIterator[SmsGateway]:
    gateway = SmsGateway(token, port)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()
