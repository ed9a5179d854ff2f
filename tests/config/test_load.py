"""The settings error table: every malformed setting is one clear error naming its key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import SettingsError, load_settings
from tests.support.common import REPO

GOOD = """
[server]
listen = "127.0.0.1:9108"

[defaults]
interval = "30s"
timeout = "5s"

[[phases]]
name = "dai-hoi-tinh"
title = "Đại hội Đảng bộ tỉnh lần thứ XVIII"
start = 2025-10-14T07:00:00+07:00
end = 2025-10-16T18:00:00+07:00
interval = "5s"

[[targets]]
name = "venue-core-switch"
kind = "icmp"
host = "127.0.2.1"
group = "venue"

[[targets]]
name = "venue-viettel-uplink"
kind = "icmp"
host = "127.0.2.2"
group = "carrier"
labels = { carrier = "viettel", site = "hoi-truong-tinh" }
depends_on = ["venue-core-switch"]
interval = "10s"
icmp = { count = 5, spacing = "200ms" }

[[targets]]
name = "cong-thong-tin-tinh"
kind = "http"
url = "https://127.0.1.1:8443/"
group = "website"
http = { expect_status = [200], body_contains = ["Đại hội"], tls_expiry_warn = "21d" }
"""


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return [str(i) for i in info.value.issues]


def test_good_settings_load(write_toml: Callable[..., Path]) -> None:
    settings = load_settings(write_toml(GOOD))
    assert [t.name for t in settings.targets] == [
        "venue-core-switch",
        "venue-viettel-uplink",
        "cong-thong-tin-tinh",
    ]
    uplink = settings.targets[1]
    assert uplink.icmp is not None and uplink.icmp.spacing == 0.2 and uplink.icmp.count == 5
    # Options omitted get their defaults.
    assert settings.targets[0].icmp is not None and settings.targets[0].icmp.count == 5
    http = settings.targets[2].http
    assert http is not None and http.tls_expiry_warn == 21 * 86400
    phase = settings.phases[0]
    assert settings.current_phase(datetime(2025, 10, 15, tzinfo=UTC)) == phase
    assert settings.current_phase(datetime(2025, 10, 17, tzinfo=UTC)) is None
    assert settings.interval_for(uplink, phase) == 5.0
    assert settings.interval_for(uplink, None) == 10.0


# (what is wrong, text appended to GOOD or a replacement, the key path, words in the message)
CASES = [
    ("unknown key", GOOD + "\n[server2]\nx = 1\n", "server2", "unknown key"),
    (
        "unknown key in options",
        GOOD.replace("count = 5,", "count = 5, cuont = 3,"),
        "targets[1].icmp.cuont",
        "unknown key",
    ),
    (
        "wrong type",
        GOOD.replace("expect_status = [200]", 'expect_status = ["200"]'),
        "targets[2].http.expect_status[0]",
        "valid integer",
    ),
    (
        "bad duration",
        GOOD.replace('timeout = "5s"', 'timeout = "5 parsecs"'),
        "defaults.timeout",
        "not a duration",
    ),
    (
        "duration as a number",
        GOOD.replace('interval = "30s"', "interval = 30"),
        "defaults.interval",
        "must be a string",
    ),
    (
        "unknown kind",
        GOOD.replace('kind = "http"', 'kind = "gopher"'),
        "targets[2].kind",
        "unknown kind 'gopher'",
    ),
    (
        "duplicate target name",
        GOOD.replace('name = "cong-thong-tin-tinh"', 'name = "venue-core-switch"').replace(
            'url = "https://127.0.1.1:8443/"', 'url = "https://127.0.1.1:8443/"'
        ),
        "targets[2].name",
        "duplicate target name 'venue-core-switch'",
    ),
    (
        "name not [a-z0-9-]",
        GOOD.replace('"venue-core-switch"\nkind', '"Venue_Core"\nkind'),
        "targets[0].name",
        "[a-z0-9-]",
    ),
    (
        "depends_on naming no target",
        GOOD.replace('depends_on = ["venue-core-switch"]', 'depends_on = ["no-such-switch"]'),
        "targets[1].depends_on[0]",
        "no target is named 'no-such-switch'",
    ),
    (
        "depends_on cycle",
        GOOD.replace(
            'group = "venue"\n', 'group = "venue"\ndepends_on = ["cong-thong-tin-tinh"]\n'
        ).replace(
            'group = "website"\n', 'group = "website"\ndepends_on = ["venue-viettel-uplink"]\n'
        ),
        "targets[0].depends_on",
        "dependency cycle: venue-core-switch -> cong-thong-tin-tinh",
    ),
    (
        "overlapping phases",
        GOOD + '\n[[phases]]\nname = "dot-2"\nstart = 2025-10-15T07:00:00+07:00\n'
        "end = 2025-10-20T07:00:00+07:00\n",
        "phases[1]",
        "overlaps phase 'dai-hoi-tinh'",
    ),
    (
        "phase end before start",
        GOOD.replace("end = 2025-10-16T18:00:00+07:00", "end = 2025-10-13T18:00:00+07:00"),
        "phases[0]",
        "is not after start",
    ),
    (
        "bad URL",
        GOOD.replace('url = "https://127.0.1.1:8443/"', 'url = "htps//127.0.1.1"'),
        "targets[2].url",
        "not an http:// or https:// URL",
    ),
    (
        "bad URL port",
        GOOD.replace('url = "https://127.0.1.1:8443/"', 'url = "http://h:99999/"'),
        "targets[2].url",
        "not a valid URL",
    ),
    (
        "missing include file",
        GOOD.replace("[server]", 'include = ["targets/carriers.toml"]\n[server]'),
        "include[0]",
        "not found",
    ),
    (
        "secret env var unset",
        GOOD + '\n[[targets]]\nname = "r1"\nkind = "snmp"\nhost = "127.0.3.1"\n'
        'snmp = { version = "2c", community_env = "NETMON_TEST_UNSET_VAR" }\n',
        "targets[3].snmp.community_env",
        "environment variable NETMON_TEST_UNSET_VAR is not set",
    ),
    (
        "http without url",
        GOOD.replace('url = "https://127.0.1.1:8443/"', 'host = "127.0.1.1"'),
        "targets[2]",
        "needs `url`",
    ),
    (
        "options of another kind",
        GOOD.replace("icmp = { count", "tcp = { port = 1 }\n#"),
        "targets[1]",
        "`tcp` options given, but kind is 'icmp'",
    ),
    (
        "reserved label",
        GOOD.replace('carrier = "viettel"', 'target = "x"'),
        "targets[1].labels",
        "reserved",
    ),
    (
        "out of bounds",
        GOOD.replace("count = 5", "count = 0"),
        "targets[1].icmp.count",
        "greater than or equal to 1",
    ),
    (
        "bad listen",
        GOOD.replace('"127.0.0.1:9108"', '"localhost"'),
        "server.listen",
        "not host:port",
    ),
    (
        "bad timezone",
        GOOD.replace("[server]", '[server]\ntimezone = "Asia/Hanoi_Nowhere"'),
        "server.timezone",
        "unknown time zone",
    ),
    (
        "naive phase time",
        GOOD.replace("start = 2025-10-14T07:00:00+07:00", "start = 2025-10-14T07:00:00"),
        "phases[0].start",
        "timezone",
    ),
    ("TOML syntax", GOOD + "\n[[targets]\n", "", "not valid TOML"),
    (
        "an availability goal over 100 %",
        GOOD + "\n[report.sla]\ncarrier = { viettel = 120 }\n",
        "report.sla.carrier",
        "a percent in (0, 100]",
    ),
    (
        "a report key that does not exist",
        GOOD + '\n[report]\nagencyy = "Sở KH&CN"\n',
        "report.agencyy",
        "unknown key",
    ),
    (
        "a signer without a title",
        GOOD + "\n[[report.signers]]\nname = 'A'\n",
        "report.signers[0].title",
        "required key is missing",
    ),
]


@pytest.mark.parametrize(("what", "text", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_error_table(
    write_toml: Callable[..., Path], what: str, text: str, path: str, words: str
) -> None:
    errors = errors_of(write_toml(text))
    matching = [e for e in errors if e.startswith(f"{path}: " if path else "") and words in e]
    assert matching, f"{what}: expected {path}: ...{words}... in {errors}"


def test_every_error_is_reported_at_once(write_toml: Callable[..., Path]) -> None:
    text = GOOD.replace('timeout = "5s"', 'timeout = "5x"').replace(
        'kind = "http"', 'kind = "gopher"'
    )
    errors = errors_of(write_toml(text))
    assert any(e.startswith("defaults.timeout") for e in errors)
    assert any(e.startswith("targets[2].kind") for e in errors)


def test_includes_merge_and_name_their_file(write_toml: Callable[..., Path]) -> None:
    extra = '[[targets]]\nname = "fpt-uplink"\nkind = "icmp"\nhost = "127.0.2.9"\n'
    bad = '[[targets]]\nname = "bad"\nkind = "icmp"\nhost = "127.0.2.9"\nicmp = { count = -1 }\n'
    path = write_toml(
        GOOD.replace("[server]", 'include = ["targets/*.toml"]\n[server]'),
        targets__carriers_toml="",
        **{"targets__a.toml": extra},
    )
    settings = load_settings(path)
    assert settings.targets[-1].name == "fpt-uplink"
    (path.parent / "targets" / "b.toml").write_text(bad)
    errors = errors_of(path)
    assert any("targets/b.toml: targets[0].icmp.count" in e for e in errors), errors


def test_include_glob_with_no_match(write_toml: Callable[..., Path]) -> None:
    path = write_toml(GOOD.replace("[server]", 'include = ["nowhere/*.toml"]\n[server]'))
    assert any(e.startswith("include[0]: no file matches") for e in errors_of(path))


def test_secrets_from_env_and_file(
    write_toml: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "s3cret-community")
    (tmp_path / "auth.key").write_text("auth-key-value\n")
    text = GOOD + (
        '\n[[targets]]\nname = "r1"\nkind = "snmp"\nhost = "127.0.3.1"\n'
        'snmp = { community_env = "NETMON_TEST_COMMUNITY" }\n'
        '\n[[targets]]\nname = "r2"\nkind = "snmp"\nhost = "127.0.3.2"\n'
        'snmp = { version = "3", user = "noc", level = "authNoPriv", auth_protocol = "SHA", '
        f'auth_key_file = "{tmp_path / "auth.key"}" }}\n'
    )
    settings = load_settings(write_toml(text))
    r1, r2 = settings.targets[3].snmp, settings.targets[4].snmp
    assert r1 is not None and r1.community_secret is not None
    assert r1.community_secret.get_secret_value() == "s3cret-community"
    assert r2 is not None and r2.auth_key_secret is not None
    assert r2.auth_key_secret.get_secret_value() == "auth-key-value"
    assert "s3cret" not in repr(settings) and "auth-key-value" not in repr(settings)


def test_secret_value_never_in_errors(write_toml: Callable[..., Path]) -> None:
    text = GOOD + (
        '\n[[targets]]\nname = "r1"\nkind = "snmp"\nhost = "127.0.3.1"\n'
        'snmp = { community = "hunter2-community", version = "3" }\n'
    )
    errors = errors_of(write_toml(text))
    assert errors and not any("hunter2" in e for e in errors)


# A target's snmp options and a trap user share their SNMPv3 keys (probes.options.UsmCredentials):
# the same checks in both places, each error naming that place's key.
USM_PLACES = [
    pytest.param(
        '\n[[targets]]\nname = "r1"\nkind = "snmp"\nhost = "127.0.3.1"\n'
        'snmp = { version = "3", user = "noc", level = "authPriv", auth_protocol = "SHA", '
        'priv_protocol = "AES", KEYS }\n',
        "targets[3].snmp",
        id="snmp",
    ),
    pytest.param(
        '\n[traps]\nusers = [{ name = "noc", auth_protocol = "SHA", priv_protocol = "AES", '
        "KEYS }]\n",
        "traps.users[0]",
        id="trap-user",
    ),
]


@pytest.mark.parametrize(("place", "where"), USM_PLACES)
@pytest.mark.parametrize(
    ("keys", "key", "message"),
    [
        (
            'auth_key_env = "NETMON_TEST_UNSET_VAR", priv_key = "priv-key-value"',
            ".auth_key_env",
            "environment variable NETMON_TEST_UNSET_VAR is not set",
        ),
        (
            'auth_key = "auth-key-value", priv_key_file = "/nonexistent/priv.key"',
            ".priv_key_file",
            "secret file /nonexistent/priv.key does not exist or is not a file",
        ),
        (
            'auth_key = "short", priv_key = "priv-key-value"',
            "",
            "the auth key has fewer than 8 characters (RFC 3414)",
        ),
        (
            'auth_key = "auth-key-value", auth_key_env = "HOME", priv_key = "priv-key-value"',
            "",
            "give the secret once: inline, as *_env, or as *_file",
        ),
    ],
)
def test_usm_key_errors_name_their_key(
    write_toml: Callable[..., Path], place: str, where: str, keys: str, key: str, message: str
) -> None:
    errors = errors_of(write_toml(GOOD + place.replace("KEYS", keys)))
    assert f"{where}{key}: {message}" in errors, errors


@pytest.mark.parametrize(("place", "where"), USM_PLACES)
def test_usm_keys_from_env_and_file(
    write_toml: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    place: str,
    where: str,
) -> None:
    monkeypatch.setenv("NETMON_TEST_AUTH_KEY", "auth-key-value")
    (tmp_path / "priv.key").write_text("priv-key-value\n")
    keys = f'auth_key_env = "NETMON_TEST_AUTH_KEY", priv_key_file = "{tmp_path / "priv.key"}"'
    settings = load_settings(write_toml(GOOD + place.replace("KEYS", keys)))
    usm = settings.targets[3].snmp if where.startswith("targets") else settings.traps.users[0]
    assert usm is not None and usm.auth_key_secret is not None and usm.priv_key_secret is not None
    assert usm.auth_key_secret.get_secret_value() == "auth-key-value"
    assert usm.priv_key_secret.get_secret_value() == "priv-key-value"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_check_config_ok_prints_summary(write_toml: Callable[..., Path]) -> None:
    proc = run_cli("check-config", str(write_toml(GOOD)))
    assert proc.returncode == 0, proc.stderr
    assert "targets: 3 (http 1, icmp 2)" in proc.stdout
    assert "groups: carrier 1, venue 1, website 1" in proc.stdout
    assert "phase now: none" in proc.stdout


def test_check_config_errors_exit_2_without_traceback(write_toml: Callable[..., Path]) -> None:
    text = GOOD.replace('kind = "http"', 'kind = "gopher"').replace("count = 5", "count = 0")
    proc = run_cli("check-config", str(write_toml(text)))
    assert proc.returncode == 2
    assert "targets[2].kind: unknown kind 'gopher'" in proc.stderr
    assert "targets[1].icmp.count" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_check_config_missing_file(tmp_path: Path) -> None:
    proc = run_cli("check-config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_settings_are_valid() -> None:
    proc = run_cli("check-config", "settings.toml")
    assert proc.returncode == 0, proc.stderr


def test_shards_partition_the_targets(write_toml: Callable[..., Path]) -> None:
    extra = "".join(
        f'\n[[targets]]\nname = "board-{i}"\nkind = "icmp"\nhost = "127.0.2.{i}"\n'
        for i in range(1, 61)
    )
    settings = load_settings(write_toml(GOOD + extra))
    shards = [settings.for_shard(i, 3) for i in (1, 2, 3)]
    names = [sorted(t.name for t in s.targets) for s in shards]
    assert sorted(n for shard in names for n in shard) == sorted(t.name for t in settings.targets)
    assert all(10 <= len(n) <= 35 for n in names)  # roughly even
    assert names[0] == sorted(t.name for t in settings.for_shard(1, 3).targets)  # stable
    assert settings.for_shard(1, 1) is settings


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0"])
def test_bad_shard(text: str) -> None:
    from monitor.config import parse_shard

    with pytest.raises(ValueError, match="INDEX/COUNT"):
        parse_shard(text)
