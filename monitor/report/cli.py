"""``netmon report``: the availability report from the ledger of ``[server] state_dir``.

    netmon report [--phase NAME | --from T --to T] [--format html|csv|json|xlsx] [--lang vi|en]
                  [--target NAME] [--group NAME] [--carrier NAME] [-o FILE]

Times are local dates or times in ``[server] timezone`` (``2026-12-04``, ``2026-12-04 08:00``;
a date given to ``--to`` takes that whole day in) or RFC 3339 with an offset. Without a phase
or a range: the current phase, else the last one that ended, else the last 7 days.

The ledger is opened read-only, so netmon may be running. ``GET /api/v1/report`` is the same
report, scoped to the caller (monitor/web/api.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import SettingsError, load_settings
from monitor.core.i18n import Lang, language
from monitor.core.localtime import parse_local_time
from monitor.report.build import build, periods, read_ledger, read_subjects, settings_windows
from monitor.report.html import to_html
from monitor.report.model import FORMATS, Format, Report, ReportError
from monitor.report.render_csv import to_csv
from monitor.report.render_json import to_json
from monitor.report.render_xlsx import XLSX_TYPE, to_xlsx

__all__ = ["main", "render"]


def render(report: Report, fmt: Format, lang: Lang) -> tuple[bytes, str]:
    """(body, content type)."""
    if fmt == "csv":
        return to_csv(report, lang), "text/csv; charset=utf-8"
    if fmt == "html":
        return to_html(report, lang)[0].encode(), "text/html; charset=utf-8"
    if fmt == "xlsx":
        return to_xlsx(report, lang), XLSX_TYPE
    return (
        json.dumps(to_json(report), ensure_ascii=False, indent=1).encode(),
        "application/json; charset=utf-8",
    )


def _times(args: argparse.Namespace, zone: ZoneInfo) -> tuple[float | None, float | None]:
    """--from and --to as unix seconds (ReportError naming the option otherwise)."""
    out: list[float | None] = []
    for option, text, end in (("--from", args.since, False), ("--to", args.until, True)):
        try:
            out.append(None if text is None else parse_local_time(text, zone, end_of_day=end))
        except ValueError as exc:
            raise ReportError(f"{option}: {exc}") from None
    return out[0], out[1]


def _rfc3339(text: str) -> float:
    try:
        return parse_local_time(text, ZoneInfo("UTC"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netmon report",
        description="Availability per carrier, group and target, for each phase, "
        "computed from the outage ledger.",
    )
    p.add_argument("--config", default="settings.toml", help="settings file (TOML)")
    p.add_argument("--phase", help="one phase of the plan, by name")
    p.add_argument(
        "--from", dest="since", help="range start: 2026-12-04, 2026-12-04 08:00 (local) or RFC 3339"
    )
    p.add_argument("--to", dest="until", help="range end; a date takes its whole day in")
    p.add_argument("--format", choices=FORMATS, default="html")
    p.add_argument("--lang", choices=("vi", "en"), help="default: [server] language")
    p.add_argument("--target", help="only this target")
    p.add_argument("--group", help="only this group")
    p.add_argument("--carrier", help="only this carrier (label carrier)")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.add_argument(
        "--now", type=_rfc3339, help=argparse.SUPPRESS
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
        since_arg, until_arg = _times(args, ZoneInfo(settings.server.timezone))
        spans = periods(settings, args.phase, since_arg, until_arg, now)
        since = min(p[2] for p in spans)
        until = max(p[3] for p in spans)
        path = Path(settings.server.state_dir) / "alerts.sqlite"
        outages, api_windows, watched = read_ledger(path, since, until)
        report = build(
            settings,
            outages,
            settings_windows(settings) + api_windows,
            coverage=watched,
            subjects=read_subjects(path),
            phase=args.phase,
            since=since_arg,
            until=until_arg,
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
