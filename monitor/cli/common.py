"""What every subcommand shares: exit codes and loading settings or exiting with their errors."""

from __future__ import annotations

import sys

from monitor.config import Settings, SettingsError, load_settings

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "load_or_exit"]

EXIT_OK = 0
EXIT_FAILURE = 1  # the work failed: a peer refused, a drill missed
EXIT_CONFIG = 2  # the settings or the command line are wrong; every error is printed


def load_or_exit(path: str) -> Settings:
    try:
        return load_settings(path)
    except SettingsError as exc:
        print(f"{path}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
