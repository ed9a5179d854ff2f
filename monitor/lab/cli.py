"""``netmon lab``: serve the lab, inject and heal faults, list its targets.

    netmon lab [serve] [--state-dir var/lab] [--control 127.0.0.1:9190] [--extra-sites N]
                       [--trap-address 127.0.0.1:1162]
    netmon lab fail NAME --mode MODE [--control ...]
    netmon lab heal NAME | --all     [--control ...]
    netmon lab list [--json]         [--control ...]

Exit status: 0 done; 2 a usage error, an unknown target or a mode that does not apply to it;
1 the lab is not reachable, or cannot inject that fault here (ICMP faults need root and nft),
or ``serve`` could not start.

``fail``, ``heal`` and ``list`` talk to a running ``serve`` through its control API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from monitor.lab.inventory import SNMP_TRAP_ADDRESS
from monitor.lab.server import DEFAULT_CONTROL, Lab, parse_control

__all__ = ["main"]

_COMMANDS = ("serve", "fail", "heal", "list")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netmon lab",
        description="A simulated province on loopback for netmon: websites, DNS, SMTP, "
        "ICMP hosts, SNMP agents, with fault injection.",
    )
    sub = parser.add_subparsers(dest="command")

    def control(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--control",
            default=DEFAULT_CONTROL,
            metavar="HOST:PORT",
            help=f"the lab's control API, on loopback (default {DEFAULT_CONTROL})",
        )

    serve = sub.add_parser("serve", help="serve the lab until SIGINT or SIGTERM (the default)")
    serve.add_argument(
        "--state-dir",
        default="var/lab",
        type=Path,
        help="where the lab CA (ca.pem) is kept (default var/lab)",
    )
    serve.add_argument(
        "--extra-sites",
        default=0,
        type=int,
        metavar="N",
        help="also serve N generic websites on 127.0.5.x, 127.0.6.x, ... (benchmarks)",
    )
    serve.add_argument(
        "--trap-address",
        default="{}:{}".format(*SNMP_TRAP_ADDRESS),
        metavar="HOST:PORT",
        help="where the SNMP agents send their traps, on loopback: netmon's traps.listen "
        "(default %(default)s)",
    )
    control(serve)

    fail = sub.add_parser("fail", help="inject a fault into a lab target")
    fail.add_argument("name")
    fail.add_argument(
        "--mode",
        required=True,
        help="503, slow, deface, banner-gone, tls-expiring, down, inject-links, inject-script, "
        "cloak (websites); "
        "dns-changed, servfail, silent, garbage (dns); slow, down (smtp); "
        "down, loss (icmp); iface-down, agent-silent, reboot (snmp); stalled (stream); "
        "sip-down, sip-503 (sip)",
    )
    control(fail)

    heal = sub.add_parser("heal", help="remove a target's fault")
    heal.add_argument("name", nargs="?")
    heal.add_argument("--all", action="store_true", help="heal every target")
    control(heal)

    listing = sub.add_parser("list", help="the lab's targets and their faults")
    listing.add_argument("--json", action="store_true", help="print the JSON as served")
    control(listing)
    return parser


def main(argv: list[str]) -> int:
    """Run ``netmon lab`` with ``argv`` (the words after ``lab``); returns the exit status."""
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        parse_control(args.control)
    except ValueError as exc:
        print(f"netmon lab: --control: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        try:
            trap_address = parse_control(args.trap_address)
        except ValueError as exc:
            print(f"netmon lab: --trap-address: {exc}", file=sys.stderr)
            return 2
        return _serve(args.state_dir, args.control, args.extra_sites, trap_address)
    if args.command == "fail":
        return _request(args.control, "POST", "/lab/fail", {"name": args.name, "mode": args.mode})
    if args.command == "heal":
        if args.all == (args.name is not None):
            print("netmon lab heal: give a target NAME or --all", file=sys.stderr)
            return 2
        return _request(args.control, "POST", "/lab/heal", {"name": "*" if args.all else args.name})
    return _request(args.control, "GET", "/lab/targets", None, as_json=args.json)


# --------------------------------------------------------------------------- serve


def _serve(state_dir: Path, control: str, extra_sites: int, trap_address: tuple[str, int]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_serve_async(state_dir, control, extra_sites, trap_address))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


async def _serve_async(
    state_dir: Path, control: str, extra_sites: int, trap_address: tuple[str, int]
) -> int:
    try:
        lab = Lab(state_dir, control=control, extra_sites=extra_sites, trap_address=trap_address)
    except ValueError as exc:
        print(f"netmon lab: {exc}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await lab.start()
        except OSError as exc:
            print(f"netmon lab: cannot start: {exc}", file=sys.stderr)
            return 1
        print(lab.ready_line, flush=True)
        await stop.wait()
        return 0
    finally:
        await lab.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


# --------------------------------------------------------------------------- client


def _request(
    control: str, method: str, path: str, body: dict[str, str] | None, *, as_json: bool = False
) -> int:
    host, port = parse_control(control)
    url = f"http://{host}:{port}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    # Loopback only: never through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            answer: Any = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read().decode("utf-8")).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        print(f"netmon lab: {message}", file=sys.stderr)
        return 2 if exc.code in (400, 404) else 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(
            f"netmon lab: the lab is not reachable at {url} ({reason}); "
            "is `netmon lab serve` running?",
            file=sys.stderr,
        )
        return 1
    if as_json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    elif "targets" in answer:
        _print_targets(answer["targets"])
    elif "healed" in answer:
        print("healed: " + (", ".join(answer["healed"]) or "nothing was failed"))
    else:
        print(f"{answer['name']}: {answer['fault'] or 'ok'}")
    return 0


def _print_targets(targets: list[dict[str, Any]]) -> None:
    rows = [("NAME", "KIND", "GROUP", "ADDRESS", "FAULT", "MODES")]
    for t in targets:
        rows.append(
            (
                t["name"],
                t["kind"],
                t["group"],
                t["address"],
                t["fault"] or "-",
                ",".join(t["modes"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
