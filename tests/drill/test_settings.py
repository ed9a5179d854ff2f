"""The drill's settings file: what netmon reads back is what the drill meant, Vietnamese and
escapes included."""

from __future__ import annotations

from pathlib import Path

from monitor.config import load_settings
from monitor.drill.settings import drill_settings


def test_the_lab_settings_load_as_netmon_settings(tmp_path: Path) -> None:
    extra = {"name": "hoi-truong", "kind": "icmp", "host": "10.77.5.99",
             "labels": {"carrier": "dc", "note": 'Đắk Lắk "q" \\ \t \x7f'}}  # fmt: skip
    path, listen = drill_settings(tmp_path / "s.toml", ["http://127.0.0.1:9093/"],
                                  extra_targets=[extra], listen="127.0.0.1:19999")  # fmt: skip
    settings = load_settings(path)
    assert listen == "127.0.0.1:19999" == settings.server.listen
    by_name = {t.name: t for t in settings.targets}
    assert len(by_name) == 13  # 10 of the lab, the livestream, the portal's integrity, extra
    assert by_name["dc-livestream"].kind == "stream"
    assert by_name["dc-web-1-integrity"].kind == "web"
    assert by_name["hoi-truong"].labels["note"] == 'Đắk Lắk "q" \\ \t \x7f'
    assert by_name["hall-a-wifi"].depends_on == ["viettel-uplink"]
