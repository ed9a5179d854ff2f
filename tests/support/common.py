"""What tests share that is not a fixture: the repository's root, a free port, the root mark,
and the loopback server a stand-in of an outside service runs on."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from aiohttp import web

__all__ = ["REPO", "LoopbackServer", "free_port", "root_only"]

REPO = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 (``port`` 0: any free one) for a stand-in: ``serve`` it
    with its routes, ``url`` to reach it, ``close``."""

    port: int = 0
    _runner: web.AppRunner | None = None

    async def serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")
