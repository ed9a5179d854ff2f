"""``netmon baseline``: the web integrity baselines under ``[server] state_dir``.

``netmon baseline accept TARGET`` forgets a ``web`` target's baseline, so that its next
``baseline_fetches`` good fetches learn it again: what to run after a legitimate redesign, a
new analytics script or a cleaned-up injection. A running netmon reads the baseline at each
fetch, so it takes effect at the next one, with no reload. ``netmon baseline list`` shows the
targets that have one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.cli.common import EXIT_CONFIG, EXIT_OK, load_or_exit
from probes.integrity.baseline import FILE_NAME, BaselineStore
from probes.options import WebOptions

__all__ = ["main"]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="netmon baseline", description='The web integrity baselines (kind = "web").'
    )
    p.add_argument("--config", default="settings.toml", help="the settings file")
    sub = p.add_subparsers(dest="action", required=True)
    accept = sub.add_parser("accept", help="learn TARGET's baseline again from its next fetches")
    accept.add_argument("target")
    sub.add_parser("list", help="the targets that have a baseline")
    args = p.parse_args(argv)
    settings = load_or_exit(args.config)
    store = BaselineStore(Path(settings.server.state_dir) / FILE_NAME)
    try:
        if args.action == "list":
            for name in store.targets():
                print(name)
            return EXIT_OK
        target = next((t for t in settings.targets if t.name == args.target), None)
        if target is None or not isinstance(target.options, WebOptions):
            web = sorted(t.name for t in settings.targets if t.kind == "web")
            print(
                f"netmon baseline: {args.target!r} is no web target of {args.config}"
                f" (web targets: {', '.join(web) or 'none'})",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        had = store.forget(target.name)
        fetches = target.options.baseline_fetches
        print(
            f"{target.name}: baseline {'forgotten' if had else 'not learnt yet'}; "
            f"the next {fetches} good fetch(es) learn it again"
        )
        return EXIT_OK
    finally:
        store.close()
