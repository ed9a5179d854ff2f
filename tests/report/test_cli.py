"""``netmon report`` against a real ledger, read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli.main import COMMANDS
from monitor.config import Settings
from monitor.report.cli import main
from tests.support.report import NOW, P1_START


async def test_cli(ledger: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, path = ledger
    argv = ["--config", str(path), "--phase", "dai-hoi-tinh", "--format", "json"]
    assert main([*argv, "--now", NOW]) == 0
    doc = json.loads(capsys.readouterr().out)
    target = next(t for t in doc["sections"][0]["targets"] if t["name"] == "vnpt-uplink")
    assert target["availability_percent"] == 99.415
    out = path.parent / "r.html"
    args = ["--config", str(path), "--from", P1_START, "--to", NOW, "--format", "html"]
    assert main([*args, "-o", str(out), "--now", NOW]) == 0
    assert "Toàn kỳ báo cáo" in out.read_text(encoding="utf-8")
    csv_out = path.parent / "r.csv"
    assert main(["--config", str(path), "--format", "csv", "--lang", "en", "-o", str(csv_out)]) == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbfphase,from_local")
    assert main(["--config", str(path), "--phase", "khong-co"]) == 2
    assert "no phase is named" in capsys.readouterr().err


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nnope = 1\n", encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    assert "error(s)" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[server]\nstate_dir = "{tmp_path}/state"\n', encoding="utf-8")
    assert main(["--config", str(empty), "--from", P1_START, "--to", NOW]) == 2
    assert "no outage ledger" in capsys.readouterr().err
    assert main(["--config", str(empty), "--from", "14/10/2025"]) == 2
    err = capsys.readouterr().err
    assert "--from: '14/10/2025' is not a time: give 2026-12-04" in err and "Traceback" not in err


async def test_cli_takes_local_dates(
    ledger: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--from 2025-10-14 --to 2025-10-15 is the 14th and 15th in Ha Noi time: 48 hours from
    2025-10-13T17:00Z, cut into the congress phase from its start (07:00 local)."""
    _, path = ledger
    argv = ["--config", str(path), "--from", "2025-10-14", "--to", "2025-10-15"]
    assert main([*argv, "--format", "json", "--now", NOW]) == 0
    doc = json.loads(capsys.readouterr().out)
    whole, congress = doc["sections"]
    assert (whole["start"], whole["end"]) == ("2025-10-13T17:00:00Z", "2025-10-15T17:00:00Z")
    assert (congress["key"], congress["start"]) == ("dai-hoi-tinh", "2025-10-14T00:00:00Z")
    assert main(["--config", str(path), "--from", "2025-10-14 08:00", "--to", NOW]) == 0
    assert "Kỳ báo cáo: 14/10/2025 08:00:00" in capsys.readouterr().out


def test_netmon_report_runs_this_module() -> None:
    assert COMMANDS["report"].module == "monitor.report.cli"
