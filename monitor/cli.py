"""The `netmon` command: run, check-config, lab."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from monitor import heap
from monitor.settings import Settings, SettingsError, load_settings, parse_shard, split_listen
from probes import PROBES

log = logging.getLogger("netmon")

EXIT_CONFIG = 2


def load_or_exit(path: str) -> Settings:
    try:
        return load_settings(path)
    except SettingsError as exc:
        print(f"{path}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def summary(settings: Settings, now: datetime) -> str:
    zone = ZoneInfo(settings.server.timezone)
    kinds = Counter(t.kind for t in settings.targets)
    groups = Counter(t.group for t in settings.targets)
    lines = [
        f"targets: {len(settings.targets)} ("
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ")",
        "groups: " + ", ".join(f"{g} {n}" for g, n in sorted(groups.items())),
    ]
    unpolled = sorted(k for k in kinds if k not in PROBES)
    if unpolled:
        lines.append("validated, not polled yet: " + ", ".join(unpolled))
    phase = settings.current_phase(now)
    if phase is not None:
        lines.append(
            f"phase now: {phase.name} ({phase.title}) until "
            f"{phase.end.astimezone(zone):%Y-%m-%d %H:%M %Z}"
        )
    else:
        upcoming = sorted((p for p in settings.phases if p.start > now), key=lambda p: p.start)
        nxt = ""
        if upcoming:
            when = upcoming[0].start.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            nxt = f" (next: {upcoming[0].name} from {when})"
        lines.append(f"phase now: none{nxt}")
    return "\n".join(lines)


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_or_exit(args.file)
    print(f"{args.file}: OK")
    print(summary(settings, datetime.now(UTC)))
    return 0


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


async def _run(args: argparse.Namespace) -> int:
    from monitor.service import Service
    from monitor.web import make_app

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
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
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


def cmd_run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


def cmd_lab(argv: list[str]) -> int:
    from monitor.lab.cli import main as lab_main

    return lab_main(argv)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netmon", description="Network and telecom uptime monitor.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="probe the targets of a settings file and serve /metrics")
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
    check = sub.add_parser("check-config", help="validate a settings file and summarise it")
    check.add_argument("file", nargs="?", default="settings.toml")
    sub.add_parser(
        "lab", help="the simulated province on loopback (netmon lab --help)", add_help=False
    )
    sub.add_parser("grafana", help="dashboards as code: build, push", add_help=False)
    sub.add_parser("drill", help="drills in the namespace lab (root only)", add_help=False)
    sub.add_parser("prometheus", help="Prometheus scrape config and rules", add_help=False)
    sub.add_parser(
        "report", help="availability report per phase (netmon report --help)", add_help=False
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=os.environ.get("NETMON_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if argv and argv[0] == "drill":
        from monitor.drill.cli import main as drill_main

        return drill_main(argv[1:])
    if argv[:1] == ["lab"] and "--netns" in argv[1:]:
        from monitor.drill.cli import lab_main as netns_lab_main

        return netns_lab_main(argv[1:])
    if argv and argv[0] == "lab":
        return cmd_lab(argv[1:])
    if argv and argv[0] in ("grafana", "prometheus"):
        from grafana.cli import main as grafana_main

        return grafana_main(argv)
    if argv and argv[0] == "report":
        from monitor.report import main as report_main

        return report_main(argv[1:])
    args = parser().parse_args(argv)
    if args.command == "check-config":
        return cmd_check_config(args)
    return cmd_run(args)


if __name__ == "__main__":
    raise SystemExit(main())
