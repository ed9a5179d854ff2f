"""An SMTP-like banner server: greets, answers HELO/EHLO/NOOP, says goodbye on QUIT.

Enough for a tcp probe with ``expect_banner = "220"``. It closes a session after QUIT or a
few seconds. Faults: ``slow`` (the greeting comes after ``slow_seconds``), ``down`` (the
listener is closed, so connections are refused).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from monitor.lab.inventory import SMTP_BANNER

__all__ = ["BannerServer", "SmtpFault"]

SmtpFault = Literal["slow", "down"]


class BannerServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        banner: str = SMTP_BANNER,
        slow_seconds: float = 8.0,
        session_seconds: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.banner = banner
        self.slow_seconds = slow_seconds
        self.session_seconds = session_seconds
        self.fault: SmtpFault | None = None
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, self.host, self.port)

    async def _stop_listening(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()

    async def close(self) -> None:
        await self._stop_listening()
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    async def set_fault(self, mode: SmtpFault | None) -> None:
        previous, self.fault = self.fault, mode
        if previous == "down" and mode != "down":
            await self.start()
        elif mode == "down" and previous != "down":
            await self._stop_listening()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        loop = asyncio.get_running_loop()
        try:
            if self.fault == "slow":
                await asyncio.sleep(self.slow_seconds)
            writer.write(self.banner.encode() + b"\r\n")
            await writer.drain()
            deadline = loop.time() + self.session_seconds
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    writer.write(b"421 4.4.2 mail.daklak.lab timeout\r\n")
                    break
                try:
                    line = await asyncio.wait_for(reader.readline(), remaining)
                except TimeoutError:
                    continue
                if not line:
                    break
                command = line.strip().split(b" ", 1)[0].upper()
                if command == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                if command in (b"HELO", b"EHLO"):
                    writer.write(b"250 mail.daklak.lab\r\n")
                elif command in (b"NOOP", b"RSET"):
                    writer.write(b"250 2.0.0 OK\r\n")
                else:
                    writer.write(b"502 5.5.1 Command not implemented\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
