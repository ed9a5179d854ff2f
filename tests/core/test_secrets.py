from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from monitor.core import secrets


def test_resolve_reads_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETMON_TEST_SECRET", "from-env")
    (tmp_path / "key").write_text("from-file\n", encoding="utf-8")
    env = secrets.resolve(None, "NETMON_TEST_SECRET", None)
    from_file = secrets.resolve(None, None, str(tmp_path / "key"))
    assert env is not None and env.get_secret_value() == "from-env"
    assert from_file is not None and from_file.get_secret_value() == "from-file"
    assert secrets.resolve(SecretStr("inline"), None, None) == SecretStr("inline")
    assert secrets.resolve(None, None, None) is None


def test_resolve_refuses_two_sources() -> None:
    with pytest.raises(ValueError, match="give the secret once"):
        secrets.resolve(SecretStr("a"), "NETMON_TEST_SECRET", None)


def test_checks_name_the_variable_or_file_never_a_value(tmp_path: Path) -> None:
    assert "NETMON_TEST_UNSET" not in os.environ
    with pytest.raises(ValueError, match="NETMON_TEST_UNSET is not set"):
        secrets.check_env("NETMON_TEST_UNSET")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # a FIFO is not a secret file: reading it would block the load
    with pytest.raises(ValueError, match="not a file"):
        secrets.check_file(str(fifo))
