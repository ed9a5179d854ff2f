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
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbfphase,from_utc")
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
    with pytest.raises(SystemExit):
        main(["--config", str(empty), "--from", "2025-10-14T07:00:00"])  # no offset


def test_netmon_report_runs_this_module() -> None:
    assert COMMANDS["report"].module == "monitor.report.cli"
