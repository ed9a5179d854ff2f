"""``netmon report``: the availability report from the ledger of ``[server] state_dir``.

    netmon report --phase NAME | --from T --to T [--format html|csv|json] [--lang vi|en]
                  [--target NAME] [--group NAME] [--carrier NAME] [-o FILE]

The ledger is opened read-only, so netmon may be running. ``GET /api/v1/report`` is the same
report, scoped to the caller (monitor/web/api.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from monitor.config import SettingsError, load_settings
from monitor.core.i18n import Lang, language
from monitor.report.build import build, periods, read_ledger, settings_windows
from monitor.report.html import to_html
from monitor.report.model import FORMATS, Format, Report, ReportError
from monitor.report.render_csv import to_csv
from monitor.report.render_json import to_json

__all__ = ["main", "render"]


def render(report: Report, fmt: Format, lang: Lang) -> tuple[bytes, str]:
    """(body, content type)."""
    if fmt == "csv":
        return to_csv(report, lang), "text/csv; charset=utf-8"
    if fmt == "html":
        return to_html(report, lang)[0].encode(), "text/html; charset=utf-8"
    return (
        json.dumps(to_json(report), ensure_ascii=False, indent=1).encode(),
        "application/json; charset=utf-8",
    )


def _time(text: str) -> float:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the offset, e.g. 2025-10-14T07:00:00+07:00"
        )
    return when.timestamp()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netmon report",
        description="Availability per carrier, group and target, for each phase, "
        "computed from the outage ledger.",
    )
    p.add_argument("--config", default="settings.toml", help="settings file (TOML)")
    p.add_argument("--phase", help="one phase of the plan, by name")
    p.add_argument("--from", dest="since", type=_time, help="range start, RFC 3339")
    p.add_argument("--to", dest="until", type=_time, help="range end, RFC 3339")
    p.add_argument("--format", choices=FORMATS, default="html")
    p.add_argument("--lang", choices=("vi", "en"), help="default: [server] language")
    p.add_argument("--target", help="only this target")
    p.add_argument("--group", help="only this group")
    p.add_argument("--carrier", help="only this carrier (label carrier)")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument(
        "--now", type=_time, help=argparse.SUPPRESS
    )  # tests and re-runs: "now" for open outages and a phase in progress
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"{args.config}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    now = args.now if args.now is not None else time.time()
    try:
        spans = periods(settings, args.phase, args.since, args.until, now)
        since = min(p[2] for p in spans)
        until = max(p[3] for p in spans)
        path = Path(settings.server.state_dir) / "alerts.sqlite"
        outages, api_windows, watched = read_ledger(path, since, until)
        report = build(
            settings,
            outages,
            settings_windows(settings) + api_windows,
            coverage=watched,
            phase=args.phase,
            since=args.since,
            until=args.until,
            target=args.target,
            group=args.group,
            carrier=args.carrier,
            now=now,
        )
    except ReportError as exc:
        print(f"netmon report: {exc}", file=sys.stderr)
        return 2
    lang = language(args.lang, settings.server.language)
    body, _ = render(report, args.format, lang)
    if args.output:
        Path(args.output).write_bytes(body)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    return 0
