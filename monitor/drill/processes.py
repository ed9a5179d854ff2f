"""The processes the drills and the integration tests start, and how each is waited for and
stopped.

Two ways to run ``netmon run`` live here, sharing its command line (``run_argv``):
``netmon_run`` starts it as a child of this process on the host's own network (the e2e,
restart and web tests, the benches) and reads its output; ``netmon`` starts it inside the
namespace lab's netmon namespace (the drills), where Debian's Alertmanager (``alertmanager``)
and Prometheus (``prometheus``) run too, each waited for on its HTTP readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana import prometheus as promgen
from monitor.config import Settings
from monitor.core.waiting import wait_for

from . import nsenter
from .netns import NetnsLab, snmpd_path
from .settings import GROUP_WAIT
from .sink import Sink

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMETHEUS = "/usr/bin/prometheus"
READY = "netmon running"


def alertmanager_available() -> bool:
    return os.access(ALERTMANAGER, os.X_OK)


def which_missing() -> list[str]:
    """The Debian packages the drills need and this machine lacks."""
    missing = [] if alertmanager_available() else ["prometheus-alertmanager"]
    if snmpd_path() is None:
        missing.append("snmpd")
    if shutil.which("nft") is None and not Path("/usr/sbin/nft").exists():
        missing.append("nftables")
    return missing


# ---------------------------------------------------------------------- netmon on the host


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


# ---------------------------------------------------------------------- in the namespace lab


def alertmanager_config(sink: Sink) -> str:
    return textwrap.dedent(
        f"""
        route:
          receiver: noc
          group_by: ['carrier']
          group_wait: {GROUP_WAIT:g}s
          group_interval: 2s
          repeat_interval: 1h
          routes:
            - receiver: deadman
              matchers: ['alertname="Watchdog"']
        receivers:
          - name: noc
            webhook_configs:
              - url: {sink.url("noc")}
                send_resolved: true
          - name: deadman
        """
    )


@dataclass
class Proc:
    """A process of the namespace lab, by its name in ``lab.procs``, answering on ``base``."""

    name: str
    base: str
    lab: NetnsLab

    @property
    def process(self) -> Any:
        return self.lab.procs.get(self.name)

    def alive(self) -> bool:
        proc = self.process
        return proc is not None and proc.poll() is None

    def kill9(self) -> None:
        proc = self.lab.procs.pop(self.name)
        proc.kill()
        proc.wait()


async def _ready(
    lab: NetnsLab, name: str, url: str, within: float, ok: tuple[int, ...] = (200,)
) -> None:
    async def up() -> bool:
        proc = lab.procs.get(name)
        if proc is None or proc.poll() is not None:
            log = (lab.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited:\n{log}")
        try:
            status, _ = await nsenter.request(lab.mon, "GET", url, wait=5)
        except OSError:
            return False
        return status in ok

    await wait_for(f"{name} to answer {url}", up, within)


@contextlib.asynccontextmanager
async def alertmanager(
    lab: NetnsLab,
    sink: Sink,
    name: str = "alertmanager",
    peers: list[int] | None = None,
    cluster_port: int | None = None,
) -> AsyncIterator[Proc]:
    """Debian's Alertmanager on 127.0.0.1 in netmon's namespace; a cluster peer when given."""
    workdir = lab.workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(alertmanager_config(sink), encoding="utf-8")
    port = nsenter.free_port(lab.mon)
    argv = [
        ALERTMANAGER,
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    if cluster_port is None:
        argv.append("--cluster.listen-address=")
    else:
        argv += [
            f"--cluster.listen-address=127.0.0.1:{cluster_port}",
            f"--cluster.advertise-address=127.0.0.1:{cluster_port}",
            "--cluster.gossip-interval=100ms",
            "--cluster.pushpull-interval=2s",
            "--cluster.peer-timeout=2s",
        ]
        argv += [f"--cluster.peer=127.0.0.1:{p}" for p in peers or []]
    lab.popen("mon", argv, name)
    proc = Proc(name, f"http://127.0.0.1:{port}", lab)
    try:
        await _ready(lab, name, f"{proc.base}/-/ready", 30)
        yield proc
    finally:
        lab._stop(name)


@contextlib.asynccontextmanager
async def prometheus(lab: NetnsLab, settings: Settings) -> AsyncIterator[Proc]:
    """Debian's Prometheus in netmon's namespace, on the config and rules ``netmon prometheus
    config`` generates from ``settings`` (its [prometheus] table names the netmons)."""
    workdir = lab.workdir / "prometheus"
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(promgen.render(promgen.scrape_config(settings)), encoding="utf-8")
    (workdir / promgen.RULES_FILE).write_text(
        promgen.render(promgen.rules(settings)), encoding="utf-8"
    )
    port = nsenter.free_port(lab.mon)
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    lab.popen("mon", argv, "prometheus", cwd=str(workdir))
    proc = Proc("prometheus", f"http://127.0.0.1:{port}", lab)
    try:
        await _ready(lab, "prometheus", f"{proc.base}/-/ready", 30)
        yield proc
    finally:
        lab._stop("prometheus")


@contextlib.asynccontextmanager
async def netmon(
    lab: NetnsLab, config: Path, listen: str, name: str = "netmon"
) -> AsyncIterator[Proc]:
    """``netmon run`` in netmon's namespace, started and answering /metrics."""
    lab.popen("mon", run_argv(config), name, cwd=str(config.parent))
    proc = Proc(name, f"http://{listen}", lab)
    try:
        await _ready(lab, name, f"{proc.base}/healthz", 60, ok=(200, 503))
        yield proc
    finally:
        lab._stop(name)


async def netmon_alerts(lab: NetnsLab, node: Proc) -> list[dict[str, Any]]:
    data = await nsenter.get_json(lab.mon, f"{node.base}/api/v1/alerts")
    return list(data["alerts"])
