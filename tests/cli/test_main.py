"""The `netmon` command table: every subcommand is one entry, loaded only when it runs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from monitor.cli.main import COMMANDS, main
from tests.support.common import REPO


def test_every_command_names_a_loadable_main() -> None:
    for name, command in COMMANDS.items():
        module = importlib.import_module(command.module)
        assert callable(getattr(module, command.function)), name


def test_no_command_prints_the_table_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name}" in out


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "netmon COMMAND" in capsys.readouterr().out


def test_an_unknown_command_is_named_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rnu"]) == 2
    assert "unknown command 'rnu'" in capsys.readouterr().err


def test_check_config_loads_neither_the_web_nor_the_probes() -> None:
    code = (
        "import sys; from monitor.cli.main import main; "
        "code = main(['check-config', 'settings.toml']); "
        "print('LOADED', code, sorted(m for m in ('aiohttp', 'alerts.engine', 'probes.http', "
        "'monitor.web.app', 'monitor.runtime.service') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "LOADED 0 []" in done.stdout, done.stdout + done.stderr
