"""``netmon drill NAME`` and ``netmon lab --netns``: root only (network namespaces)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from . import pages, report
from .netns import ADDRESSES, WEB, NetnsLab, clean_stale, is_root, kamailio_path
from .processes import which_missing
from .scenarios import NEEDS_SIP, SCENARIOS, drill

NOT_ROOT = (
    "netmon {what} needs root: it creates network namespaces, veth links and nftables rules "
    "(run it as root, e.g. sudo netmon {what}); nothing was changed"
)


def _refuse(what: str) -> int | None:
    if not is_root():
        print(NOT_ROOT.format(what=what))
        return 2
    missing = which_missing()
    if missing:
        print(f"netmon {what}: missing Debian packages: {', '.join(missing)} (make debs-test)")
        return 2
    return None


async def _run(names: list[str], workdir: Path, out: Path) -> int:
    records: list[dict[str, Any]] = []
    lab = NetnsLab(workdir)
    lab.build()
    try:
        await asyncio.to_thread(lab.wait_ready)
        for name in names:
            # The trap drill polls the routers every 60 s: the trap must beat the next poll.
            slow = "60s" if name == "linkdown-trap" else None
            async with drill(lab, snmp_interval=slow, sip=name in NEEDS_SIP) as d:
                print(f"drill {name} …", flush=True)
                rec = await getattr(d, SCENARIOS[name])()
                records.append(rec.to_json())
    finally:
        lab.teardown()
    md, js = report.write(records, out)
    print(report.markdown(records))
    print(f"report: {md} and {js}")
    return 1 if any(r["missed"] for r in records) else 0


async def _pages(settings: Path, workdir: Path, out: Path) -> int:
    records = await pages.run_pages_drill(workdir, settings, root=is_root())
    md, js = pages.write(records, out)
    print(pages.markdown(records))
    print(f"report: {md} and {js}")
    return 0


def main(argv: list[str]) -> int:
    """``netmon drill NAME|all|pages [--out STEM]``."""
    parser = argparse.ArgumentParser(prog="netmon drill", description=__doc__)
    parser.add_argument("name", choices=[*SCENARIOS, "all", "pages"])
    parser.add_argument(
        "--out", type=Path, default=None, help="report stem (default bench/results/drill-NAME)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("settings.toml"),
        help="pages: the settings to drill (default: the shipped settings.toml)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path("bench/results") / f"drill-{args.name}"
    if args.name == "pages":  # the loopback lab; root only for the ICMP loss fault
        with tempfile.TemporaryDirectory(prefix="netmon-drill-") as tmp:
            return asyncio.run(_pages(args.config.resolve(), Path(tmp), out))
    refused = _refuse("drill")
    if refused is not None:
        return refused
    clean_stale()
    names = list(SCENARIOS) if args.name == "all" else [args.name]
    if kamailio_path() is None and NEEDS_SIP & set(names):
        print("netmon drill: kamailio is not installed (make debs-test): no SIP drill")
        if args.name != "all":
            return 2
        names = [n for n in names if n not in NEEDS_SIP]
    with tempfile.TemporaryDirectory(prefix="netmon-drill-") as tmp:
        return asyncio.run(_run(names, Path(tmp), out))


def lab_main(argv: list[str]) -> int:
    """``netmon lab --netns``: build the namespace lab and keep it until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="netmon lab --netns")
    parser.add_argument("--netns", action="store_true", required=True)
    parser.parse_args(argv)
    refused = _refuse("lab --netns")
    if refused is not None:
        return refused
    clean_stale()
    with tempfile.TemporaryDirectory(prefix="netmon-lab-") as tmp:
        lab = NetnsLab(Path(tmp))
        lab.build()
        try:
            lab.wait_ready()
            print(f"namespace lab up: netmon's namespace is {lab.mon}")
            print(f"  run netmon in it: ip netns exec {lab.mon} netmon run --config FILE")
            for name, addr in {**ADDRESSES, **{k: v for k, v in WEB.items()}}.items():
                print(f"  {name:16} {addr}")
            print("Ctrl-C tears it down.")
            stop = {"now": False}

            def _stop(*_: object) -> None:
                stop["now"] = True

            signal.signal(signal.SIGTERM, _stop)
            try:
                while not stop["now"]:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        finally:
            lab.teardown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    raise SystemExit(
        main(sys.argv[1:]) if os.environ.get("NETMON_LAB") is None else lab_main(sys.argv[1:])
    )
