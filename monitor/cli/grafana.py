"""``netmon grafana build|push`` and ``netmon prometheus config``.

``main(argv)`` takes the words after ``netmon``: ``["grafana", "build", ...]`` or
``["prometheus", "config", ...]``. Exit 0 on success, 2 for a settings error (each naming its
key), 1 when Grafana refused or could not be reached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grafana import prometheus
from grafana.provisioning import write_build
from grafana.push import PushError, push
from grafana.settings import SecretMissing
from monitor.cli.common import EXIT_CONFIG, load_or_exit

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netmon", description="Grafana and Prometheus for netmon.")
    sub = p.add_subparsers(dest="tool", required=True)

    def config(q: argparse.ArgumentParser) -> None:
        q.add_argument("--config", default="settings.toml", help="netmon settings (TOML)")

    g = sub.add_parser("grafana", help="dashboards as code")
    gsub = g.add_subparsers(dest="command", required=True)
    build = gsub.add_parser(
        "build", help="write the dashboards' JSON and Grafana's provisioning files"
    )
    config(build)
    build.add_argument(
        "--out", default="grafana/build", help="directory (default: grafana/build, as committed)"
    )
    push_ = gsub.add_parser(
        "push", help="push datasources, folders, teams and dashboards to [grafana] url"
    )
    config(push_)

    prom = sub.add_parser("prometheus", help="Prometheus scrape config and rules")
    psub = prom.add_subparsers(dest="command", required=True)
    conf = psub.add_parser("config", help="write prometheus.yml and netmon.rules.yml")
    config(conf)
    conf.add_argument("--out", default="grafana/build/prometheus", help="directory to write into")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings = load_or_exit(args.config)
    if args.tool == "prometheus":
        for path in prometheus.write(settings, Path(args.out)):
            print(f"wrote {path}")
        return 0
    if args.command == "build":
        for path in write_build(settings, Path(args.out)):
            print(f"wrote {path}")
        return 0
    try:
        for line in push(settings):
            print(line)
    except (PushError, SecretMissing) as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # grafana-client's and the transport's errors
        print(f"grafana push to {settings.grafana.url} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
