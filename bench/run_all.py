"""`make bench`: every benchmark in one run, then one table of the figures and their goals.

Each bench runs its anchors side by side on the same loopback targets and writes
bench/results/<name>.json; this script runs them one after the other (never together: they
would share the two cores) and prints the summary. A bench that fails or lacks its anchor says
so; the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHES = [
    "icmp",
    "http",
    "metrics",
    "result_path",
    "scale",
    "snmp",
    "alerts",
    "sip",
    "stream",
    "integrity",
    "path",
]


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def dig(data: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def main() -> int:
    only = sys.argv[1:] or BENCHES
    ran: dict[str, str] = {}
    for name in only:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            ran[name] = "missing"
            continue
        print(f"\n=== bench_{name} ===", flush=True)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], check=False)
        ran[name] = f"exit {proc.returncode} in {time.monotonic() - start:.0f} s"
    print("\n=== summary (medians; ratios are netmon / anchor) ===")
    for name, status in ran.items():
        print(f"{name:<8} {status}")
    rows = [
        ("icmp CPU/echo vs fping", dig(load("icmp"), "goals")),
        ("http", dig(load("http"), "results")),
        ("metrics scrape 120k series, gzip", dig(load("metrics"), "scrape_gzip_cpu_ms_median")),
        ("per-result path", dig(load("result_path"), "icmp", "us_per_result_median")),
        ("scale 10k targets", dig(load("scale"), "goals")),
        ("snmp", dig(load("snmp"), "goals")),
        ("alerts time-to-alert", dig(load("alerts"), "netmon", "to_alert")),
        ("sip CPU/probe vs a UDP round trip", dig(load("sip"), "cases")),
        ("stream CPU per HLS check", dig(load("stream"), "results")),
    ]
    for label, value in rows:
        print(f"- {label}: {json.dumps(value, ensure_ascii=False)[:300]}")
    return 0 if all(s.startswith("exit 0") for s in ran.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
