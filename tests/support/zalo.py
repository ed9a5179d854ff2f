"""A local stand-in for the two Zalo endpoints netmon uses (no tests here).

Zalo's real API (openapi.zalo.me, oauth.zaloapp.com) is out of reach from these machines, so
this aiohttp server speaks the documented shape of both, on 127.0.0.1:

    POST /v3.0/oa/message/cs      header access_token; {"recipient": {"user_id"}, "message":
                                  {"text"}} -> {"error": 0, "message": "Success", "data":
                                  {"message_id", "user_id"}}; an unknown or expired token:
                                  HTTP 200 {"error": -216, "message": "Access token is invalid"}
    POST /v4/oa/access_token      header secret_key; form app_id, grant_type=refresh_token,
                                  refresh_token -> {"access_token", "refresh_token",
                                  "expires_in": "90000"}; the refresh token is single-use:
                                  an old one gets {"error": -14014, ...}

Faults: ``answers`` (what the next message requests get, in turn: a (status, JSON) answer, or
a number of seconds to hold the request before a 503, a request whose client gave up first is
never processed), ``answers_for`` (the same per user id), ``not_followers`` (user ids answered
-213), ``expire()`` (every access token invalid from now on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.common import LoopbackServer


@dataclass
class Sent:
    user_id: str
    text: str
    token: str


class ZaloStandIn(LoopbackServer):
    def __init__(self, *, app_id: str, secret_key: str, refresh_token: str, port: int = 0) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.refresh_token = refresh_token  # the one valid refresh token
        self.valid: set[str] = set()  # valid access tokens
        self.sent: list[Sent] = []
        self.requests = 0  # message requests, answered or not
        self.refreshes = 0  # granted
        self.refused_refreshes = 0
        self.answers: list[tuple[int, dict[str, Any]] | float] = []
        self.answers_for: dict[str, list[tuple[int, dict[str, Any]] | float]] = {}
        self.not_followers: set[str] = set()
        self.port = port

    def expire(self) -> None:
        self.valid.clear()

    def texts(self, user_id: str) -> list[str]:
        return [s.text for s in self.sent if s.user_id == user_id]

    async def _message(self, request: web.Request) -> web.Response:
        self.requests += 1
        data = await request.json()
        user_id = data["recipient"]["user_id"]
        queue = self.answers_for.get(user_id) or self.answers
        if queue:
            fault = queue.pop(0)
            if isinstance(fault, float | int):
                await asyncio.sleep(fault)
                return web.json_response({"error": -1, "message": "late"}, status=503)
            status, answer = fault
            return web.json_response(answer, status=status)
        token = request.headers.get("access_token", "")
        if token not in self.valid:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if user_id in self.not_followers:
            return web.json_response({"error": -213, "message": "User has not followed OA"})
        self.sent.append(Sent(user_id, data["message"]["text"], token))
        return web.json_response(
            {
                "error": 0,
                "message": "Success",
                "data": {"message_id": f"m{len(self.sent)}", "user_id": user_id},
            }
        )

    async def _refresh(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            request.headers.get("secret_key") != self.secret_key
            or form.get("app_id") != self.app_id
            or form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            self.refused_refreshes += 1
            return web.json_response(
                {
                    "error": -14014,
                    "error_name": "Invalid refresh token",
                    "error_reason": "Refresh token is invalid",
                    "error_description": "Refresh token is invalid or expired",
                }
            )
        self.refreshes += 1
        access = f"access-{self.refreshes}-bi-mat"
        self.refresh_token = f"refresh-{self.refreshes}-bi-mat"
        self.valid = {access}  # the previous access token ends with the refresh
        return web.json_response(
            {"access_token": access, "refresh_token": self.refresh_token, "expires_in": "90000"}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        await self.serve(app)


@contextlib.asynccontextmanager
async def zalo_server(**kwargs: Any) -> AsyncIterator[ZaloStandIn]:
    server = ZaloStandIn(**kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
