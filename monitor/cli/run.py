"""``netmon run``: probe the targets of a settings file and serve /metrics, the API and the
status page; ``--lab`` also starts the built-in lab."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import signal
import sys
from pathlib import Path

from aiohttp import web

from monitor.cli.common import EXIT_CONFIG, load_or_exit
from monitor.config import parse_shard, split_listen
from monitor.runtime import heap
from monitor.runtime.service import Service
from monitor.web.app import CONNECTIONS, GuardedSite, make_app

__all__ = ["main"]

log = logging.getLogger("netmon")


async def _start_lab(state_dir: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.cli",
        "lab",
        "serve",
        "--state-dir",
        str(state_dir),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            while line := await proc.stdout.readline():
                text = line.decode(errors="replace").rstrip()
                print(text, flush=True)
                if "ready" in text:
                    break
            else:
                raise RuntimeError("the lab exited before it was ready")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        raise

    async def echo() -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            print(line.decode(errors="replace").rstrip(), flush=True)

    task = asyncio.create_task(echo())
    proc._netmon_echo = task  # type: ignore[attr-defined]  # keep a reference
    return proc


def raise_fd_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard one (often 1,024 of 524,288): slow web
    clients must not take the probes' descriptors. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit cannot be the soft one for descriptors (fs.nr_open caps it).
    want = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, want, exc)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


async def _run(args: argparse.Namespace) -> int:
    settings = load_or_exit(args.config)
    try:
        shard = parse_shard(args.shard) if args.shard else (1, 1)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    listen = args.listen or settings.server.listen
    host, port = split_listen(listen)
    lab = None
    if args.lab:
        lab = await _start_lab(Path(settings.server.state_dir) / "lab")
    service = Service(settings, Path(args.config), shard=shard)
    await service.start()
    app = make_app(service, fd_limit=raise_fd_limit())
    # aiohttp arms its keep-alive timer when a connection opens and does not push it back
    # on partial data: it also bounds a request's headers after the first.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=settings.server.idle_timeout)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, app[CONNECTIONS])
        await site.start()
    except OSError as exc:
        print(f"server.listen: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        await runner.cleanup()
        await service.aclose()
        if lab is not None:
            lab.terminate()
            await lab.wait()
        return EXIT_CONFIG
    base = f"http://{listen}"
    print(
        f"netmon running: {len(settings.targets)} targets\n  status page  {base}/\n"
        f"  metrics      {base}/metrics\n  API          {base}/api/v1/targets\n"
        f"  alerts       {base}/api/v1/alerts\n"
        "Ctrl-C stops.",
        flush=True,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(service.reload()))
    scheduler = asyncio.create_task(service.scheduler.run(), name="scheduler")
    stopper = asyncio.create_task(stop.wait())
    # A full garbage collection of the results history would stop the loop for most of a
    # second at 2,000 targets: see monitor/heap.py.
    heap.WATCH.install()
    freezer = asyncio.create_task(heap.keep_frozen(), name="gc-freeze")
    await asyncio.wait({scheduler, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    scheduler.cancel()
    stopper.cancel()
    freezer.cancel()
    await asyncio.gather(freezer, return_exceptions=True)  # it unfreezes on the way out
    with contextlib.suppress(asyncio.CancelledError):
        await scheduler
    await runner.cleanup()
    await service.aclose()
    if lab is not None:
        with contextlib.suppress(ProcessLookupError):
            lab.terminate()
        await lab.wait()
    if scheduler.done() and not scheduler.cancelled() and scheduler.exception():
        raise scheduler.exception()  # type: ignore[misc]
    return 0


def parser() -> argparse.ArgumentParser:
    run = argparse.ArgumentParser(
        prog="netmon run", description="Probe the targets of a settings file and serve /metrics."
    )
    run.add_argument("--config", default="settings.toml", help="settings file (TOML)")
    run.add_argument("--listen", help="override server.listen, e.g. 127.0.0.1:9108")
    run.add_argument(
        "--lab",
        action="store_true",
        help="also start the built-in lab (the simulated province on loopback)",
    )
    run.add_argument(
        "--shard", help="probe only shard INDEX of COUNT of the targets (stable hash), e.g. 2/4"
    )
    return run


def main(argv: list[str]) -> int:
    return asyncio.run(_run(parser().parse_args(argv)))
