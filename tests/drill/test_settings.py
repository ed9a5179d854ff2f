"""The drill's settings file, written without a TOML library: what netmon reads back is what
the drill meant, Vietnamese and escapes included, and a value TOML cannot hold is refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.drill import settings as drill_settings_module
from monitor.drill.settings import drill_settings, to_toml


def test_the_lab_settings_load_as_netmon_settings(tmp_path: Path) -> None:
    extra = {"name": "hoi-truong", "kind": "icmp", "host": "10.77.5.99",
             "labels": {"carrier": "dc", "note": 'Đắk Lắk "q" \\ \t \x7f'}}  # fmt: skip
    path, listen = drill_settings(tmp_path / "s.toml", ["http://127.0.0.1:9093/"],
                                  extra_targets=[extra], listen="127.0.0.1:19999")  # fmt: skip
    settings = load_settings(path)
    assert listen == "127.0.0.1:19999" == settings.server.listen
    by_name = {t.name: t for t in settings.targets}
    assert len(by_name) == 11
    assert by_name["hoi-truong"].labels["note"] == 'Đắk Lắk "q" \\ \t \x7f'
    assert by_name["hall-a-wifi"].depends_on == ["viettel-uplink"]


def test_to_toml_reads_back_as_written() -> None:
    doc = {
        "server": {"listen": "127.0.0.1:1", "odd key": True, "n": 3, "x": 0.5},
        "targets": [{"name": "a", "labels": {"k": "v"}, "list": [1, 2]}, {"name": "b"}],
    }
    text = to_toml(doc)  # type: ignore[arg-type]
    assert tomllib.loads(text) == doc
    assert "[[targets]]" in text and '"odd key" = true' in text


def test_to_toml_refuses_what_it_cannot_write(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="no TOML for NoneType"):
        to_toml({"server": {"listen": None}})
    # a writer that got a value wrong is caught by the read-back, never written
    monkeypatch.setattr(drill_settings_module, "_value", lambda value: '"wrong"')
    with pytest.raises(ValueError, match="do not read back"):
        to_toml({"server": {"n": 1}})
