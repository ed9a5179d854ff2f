"""Display names in the settings (issue 12): a target's ``title``, the ``[names]`` table of
label values, ``[server] external_url``; each error names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.config import SettingsError, parse_settings


def settings(tmp_path: Path, **more: Any) -> Any:
    raw: dict[str, Any] = {
        "targets": [
            {"name": "venue-uplink", "kind": "icmp", "host": "127.0.0.1",
             "labels": {"carrier": "viettel"}, "title": "Đường truyền Viettel - Hội trường"},
            {"name": "bao", "kind": "icmp", "host": "127.0.0.1",
             "title": {"en": "The e-newspaper"}},
        ],
        **more,
    }  # fmt: skip
    return parse_settings(raw, tmp_path)


def test_titles_and_names_become_display_names(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        names={"carrier": {"viettel": {"vi": "Tập đoàn Viettel", "en": "Viettel Group"}}},
    )
    names = s.display_names
    assert names.target("venue-uplink", "vi") == "Đường truyền Viettel - Hội trường"
    assert names.target("venue-uplink", "en") == "Đường truyền Viettel - Hội trường"
    assert names.target("bao", "vi") == "The e-newspaper"  # the other language stands in
    assert names.label("carrier", "viettel", "en") == "Viettel Group"
    assert s.display_names is names  # made once per settings


@pytest.mark.parametrize(
    ("more", "error"),
    [
        ({"names": {"carrier": {"viettel": "a\nb"}}}, "names.carrier.viettel"),
        ({"names": {"carrier": {"viettel": {}}}}, "names.carrier.viettel"),
        ({"names": {"carrier": {"viettel": ""}}}, "names.carrier.viettel"),
        ({"names": {"bad key": {"x": "X"}}}, "names: 'bad key' is not a label name"),
        ({"names": {"target": {"x": "X"}}}, "names: 'target': names are given for"),
        ({"server": {"external_url": "ftp://noc"}}, "server.external_url"),
        ({"server": {"external_url": "https://noc/?a=1"}}, "server.external_url"),
    ],
)
def test_bad_names_are_refused_with_their_key(tmp_path: Path, more: Any, error: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings(tmp_path, **more)
    got = [str(i) for i in info.value.issues]
    assert any(g.startswith(error) for g in got), got


def test_a_title_of_a_target_is_checked_too(tmp_path: Path) -> None:
    raw = {"targets": [{"name": "a", "kind": "icmp", "host": "127.0.0.1", "title": "x" * 201}]}
    with pytest.raises(SettingsError) as info:
        parse_settings(raw, tmp_path)
    assert next(str(i) for i in info.value.issues).startswith("targets[0].title")


def test_the_status_url(tmp_path: Path) -> None:
    assert settings(tmp_path).status_url == "http://127.0.0.1:9108/"
    listen = settings(tmp_path, server={"listen": "[::1]:9200"})
    assert listen.status_url == "http://[::1]:9200/"
    external = settings(tmp_path, server={"external_url": "https://noc.daklak.gov.vn/netmon"})
    assert external.status_url == "https://noc.daklak.gov.vn/netmon/"
    older = settings(tmp_path, alerts={"external_url": "https://old.example.vn/"})
    assert older.status_url == "https://old.example.vn/"
