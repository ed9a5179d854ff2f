"""``netmon run`` as a child process, for the tests and benches that need the real command.

Started with this Python in the settings file's folder, its output (stdout and stderr) is read
line by line from the start, so the pipe never fills, and kept in ``output``; it is handed
over once it prints "netmon running". (The drills start theirs inside netmon's network
namespace instead, through ``NetnsLab``: see ``scenarios.netmon``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

READY = "netmon running"


def run_argv(config: Path, *extra: str) -> list[str]:
    """The command line of ``netmon run --config CONFIG [EXTRA…]``."""
    return [sys.executable, "-m", "monitor.cli", "run", "--config", str(config), *extra]


async def stop(proc: asyncio.subprocess.Process, grace: float | None = 20.0) -> None:
    """SIGINT, then SIGKILL if it has not exited within ``grace`` seconds (None: SIGKILL at
    once, a crash); a process that has exited already is left alone."""
    if proc.returncode is not None:
        return
    if grace is not None:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await proc.wait()
                return
    proc.kill()
    await proc.wait()


class NetmonProcess:
    """A started ``netmon run``: ``output`` holds every line it has printed so far."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.started = time.monotonic()
        self.output: list[str] = []
        self._running = asyncio.Event()
        self._reader = asyncio.create_task(self._pump())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output[-lines:])

    async def _pump(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self.output.append(text)
            if READY in text:
                self._running.set()

    async def wait_running(self, within: float) -> None:
        """Until it prints "netmon running"; an error with its last lines if it exits first
        or does not get there within ``within`` seconds."""
        running = asyncio.create_task(self._running.wait())
        exited = asyncio.create_task(self.proc.wait())
        try:
            async with asyncio.timeout(within):
                await asyncio.wait(
                    {running, exited, self._reader}, return_when=asyncio.FIRST_COMPLETED
                )
        except TimeoutError:
            raise TimeoutError(
                f"netmon did not print {READY!r} within {within:g} s:\n{self.tail()}"
            ) from None
        finally:
            running.cancel()
            exited.cancel()
        if not self._running.is_set():
            # Its output may end (EOF) a moment before the exit is reaped: wait for the code.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.proc.wait()
            raise RuntimeError(
                f"netmon exited ({self.proc.returncode}) before it was running:\n{self.tail()}"
            )

    async def close(self, grace: float | None = 20.0) -> None:
        """Stopped as :func:`stop` says, and its output read to the end."""
        await stop(self.proc, grace)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._reader, 5)


@contextlib.asynccontextmanager
async def netmon_run(
    config: Path,
    *extra: str,
    log_level: str | None = None,
    within: float = 60.0,
    grace: float | None = 20.0,
) -> AsyncIterator[NetmonProcess]:
    """``netmon run --config CONFIG [EXTRA…]`` in CONFIG's folder, running once it said so.

    ``log_level``: NETMON_LOG_LEVEL for it (None: as this process has it). ``within``: how
    long it may take to start. ``grace``: on leaving, how long it gets to stop after SIGINT
    before SIGKILL (None: SIGKILL at once, a crash).
    """
    env = None if log_level is None else {**os.environ, "NETMON_LOG_LEVEL": log_level}
    proc = await asyncio.create_subprocess_exec(
        *run_argv(config, *extra),
        cwd=config.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    node = NetmonProcess(proc)
    try:
        await node.wait_running(within)
        yield node
    finally:
        await node.close(grace)
