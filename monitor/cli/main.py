"""The ``netmon`` command: one table of subcommands, each module imported only when its command
runs, so ``netmon check-config`` never loads aiohttp and ``netmon lab`` never loads the engine.

Every subcommand module exposes ``main(argv) -> int`` taking the words after its name (the
grafana module takes the command word too: it serves ``grafana`` and ``prometheus``). Exit
codes: 0 done, 1 the work failed, 2 the settings or the command line are wrong
(``monitor.cli.common``).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from monitor.cli.common import EXIT_CONFIG

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True, slots=True)
class Command:
    module: str  # exposes ``function(argv) -> int``
    help: str
    function: str = "main"
    with_name: bool = False  # whether argv keeps the command's own word


COMMANDS: dict[str, Command] = {
    "run": Command("monitor.cli.run", "probe the targets of a settings file and serve /metrics"),
    "check-config": Command("monitor.cli.check", "validate a settings file and summarise it"),
    "report": Command("monitor.report.cli", "availability report per phase (html, csv, json)"),
    "grafana": Command("monitor.cli.grafana", "dashboards as code: build, push", with_name=True),
    "prometheus": Command(
        "monitor.cli.grafana", "Prometheus scrape config and rules", with_name=True
    ),
    "baseline": Command("monitor.cli.baseline", "web integrity baselines: accept, list"),
    "lab": Command("monitor.lab.cli", "the simulated province on loopback"),
    "drill": Command("monitor.drill.cli", "drills in the namespace lab (root only)"),
}
# ``netmon lab --netns``: the lab inside network namespaces, which the drill package owns.
_NETNS_LAB = Command("monitor.drill.cli", "the lab in network namespaces", function="lab_main")


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: netmon COMMAND [ARGS...]   (netmon COMMAND --help for its options)",
        "",
        "Network and telecom uptime monitor.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {cmd.help}" for name, cmd in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=os.environ.get("NETMON_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else EXIT_CONFIG
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"netmon: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_CONFIG
    if name == "lab" and "--netns" in rest:
        command = _NETNS_LAB
    function = cast(
        Callable[[list[str]], int],
        getattr(importlib.import_module(command.module), command.function),
    )
    return function(argv if command.with_name else rest)


if __name__ == "__main__":
    raise SystemExit(main())
