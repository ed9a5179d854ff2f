"""``netmon check-config FILE``: validate a settings file and summarise it (exit 0), or print
every error with its key path (exit 2)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.cli.common import EXIT_OK, load_or_exit
from monitor.config import Settings
from probes import PROBES
from probes.snmp import estimate as snmp_estimate

__all__ = ["main", "snmp_warnings", "summary", "warnings"]


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


def warnings(settings: Settings) -> list[str]:
    """What is valid but leaves the listener open (issue 13): said, not refused."""
    access, server = settings.access, settings.server
    found = []
    if not access.tokens:
        found.append(
            f"[access] has no tokens: {server.listen} answers nobody, or (anonymous = "
            f'"{access.anonymous}") anyone it lets in; give the NOC and operators tokens'
        )
    if access.anonymous in ("noc", "admin"):
        found.append(f'[access] anonymous = "{access.anonymous}": anyone who reaches the port')
    if access.metrics == "open":
        found.append('[access] metrics = "open": every carrier\'s series, to anyone')
    return found


def snmp_warnings(settings: Settings) -> list[str]:
    """SNMP polls that cannot fit their timeout or interval (probes.snmp.estimate)."""
    found = []
    for target in settings.targets:
        if target.snmp is None:
            continue
        shortest = min(settings.interval_for(target, phase) for phase in (None, *settings.phases))
        timeout = target.timeout if target.timeout is not None else settings.defaults.timeout
        for problem in snmp_estimate.problems(target.snmp, timeout, shortest):
            found.append(f"target {target.name!r}: {problem}")
    return found


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="netmon check-config", description="Validate a settings file and summarise it."
    )
    p.add_argument("file", nargs="?", default="settings.toml")
    args = p.parse_args(argv)
    settings = load_or_exit(args.file)
    for warning in warnings(settings) + snmp_warnings(settings):
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    print(f"{args.file}: OK")
    print(summary(settings, datetime.now(UTC)))
    return EXIT_OK
