"""``netmon check-config`` says when an SNMP walk cannot fit its timeout or interval."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from probes.options import SnmpOptions
from probes.snmp.estimate import REQUEST_SECONDS, estimate, problems

REPO = Path(__file__).resolve().parents[3]


def options(**snmp: Any) -> SnmpOptions:
    return SnmpOptions.model_validate({"community": "x", **snmp})


def test_requests_of_a_1300_port_chassis() -> None:
    guess = estimate(options(), 1300)
    # one GET; 1,301 rows (the last one sees the end) at 25 a request
    assert guess.requests == 1 + 53
    assert guess.seconds == guess.requests * REQUEST_SECONDS
    more = estimate(options(bgp=True, oids=[f"1.3.6.1.2.1.1.{i}.0" for i in range(40)]), 1300)
    assert more.requests == guess.requests + 1 + 2


def test_what_does_not_fit() -> None:
    chassis = options(expected_interfaces=1300)
    (slow,) = problems(chassis, 5.0, 10.0)
    assert "1300 interfaces" in slow and "more than the poll's 4.5 s" in slow
    assert problems(options(expected_interfaces=1300, timeout_over_interval=True), 25.0, 10.0) == []
    assert problems(options(expected_interfaces=24), 5.0, 10.0) == []
    (cut,) = problems(chassis, 25.0, 10.0)
    assert "cut to the interval" in cut and "timeout_over_interval" in cut
    over = options(expected_interfaces=1300, timeout_over_interval=True)
    (skips,) = problems(over, 25.0, 5.0)
    assert "longer than the 5 s interval" in skips
    assert problems(options(), 5.0, 10.0) == []  # no port count: nothing to estimate


def test_check_config_prints_it(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(
        '[defaults]\ninterval = "10s"\n\n'
        '[[targets]]\nname = "chassis"\nkind = "snmp"\nhost = "127.0.7.1"\ntimeout = "5s"\n'
        'snmp = { community = "x", expected_interfaces = 1300 }\n\n'
        '[[targets]]\nname = "switch"\nkind = "snmp"\nhost = "127.0.7.2"\n'
        'snmp = { community = "x", expected_interfaces = 48 }\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "check-config", str(settings)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "warning: target" in line]
    assert len(lines) == 1 and "'chassis'" in lines[0] and "1300 interfaces" in lines[0]
