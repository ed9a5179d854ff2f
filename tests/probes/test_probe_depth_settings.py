"""Issue 15's settings for tcp, dns and icmp: a bad value names its key, and check-config
exits 2 with the key in its message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import SettingsError, Target, load_settings
from probes.options import STARTTLS_DIALOGUES, TcpOptions

HEAD = '[server]\nlisten = "127.0.0.1:9108"\n\n'


def one_target(kind: str, options: str, host: str = "127.0.0.1") -> str:
    return (
        f'{HEAD}[[targets]]\nname = "t"\nkind = "{kind}"\nhost = "{host}"\n'
        f"{kind} = {{ {options} }}\n"
    )


BAD = [
    (
        "tcp",
        'port = 25, query_response = [{ expect = "(" }]',
        "targets[0].tcp.query_response[0].expect",
    ),
    ("tcp", "port = 25, query_response = [{}]", "targets[0].tcp.query_response[0]: a step needs"),
    ("tcp", 'port = 25, query_response = [{ send = "x", labels = { v = "$1" } }]', "labels"),
    ("tcp", 'port = 25, query_response = [{ expect = "a", labels = { "1x" = "$1" } }]', "labels"),
    ("tcp", 'port = 25, starttls = "ftp"', "targets[0].tcp.starttls"),
    ("tcp", 'port = 25, starttls = "smtp", tls = true', "tls must be false"),
    (
        "tcp",
        'port = 25, starttls = "smtp", query_response = [{ send = "x" }]',
        "starttls or query_response",
    ),
    ("tcp", 'port = 25, source_ip_address = "nowhere"', "targets[0].tcp.source_ip_address"),
    ("tcp", 'port = 25, preferred_ip_protocol = "ipx"', "targets[0].tcp.preferred_ip_protocol"),
    ("dns", 'query = "a.lab", query_class = "HS"', "targets[0].dns.query_class"),
    (
        "dns",
        'query = "a.lab", validate_answer_rrs = { fail_if_none_matches_regexp = ["[z"] }',
        "targets[0].dns.validate_answer_rrs.fail_if_none_matches_regexp",
    ),
    ("dns", 'query = "a.lab", validate_answer_rrs = { fail_if = ["x"] }', "fail_if"),
    ("dns", 'query = "a.lab", secondaries = ["127.0.0.2"]', "type must be SOA"),
    ("dns", 'query = "a.lab", ip_protocol_fallback = "maybe"', "ip_protocol_fallback"),
    ("dns", 'query = "a.lab", source_ip_address = "::g"', "targets[0].dns.source_ip_address"),
    ("tcp", 'port = 25, query_response = [{ expect_bytes = "" }]', "expect_bytes"),
    ("icmp", "ttl = 0", "targets[0].icmp.ttl"),
    ("icmp", "ttl = 256", "targets[0].icmp.ttl"),
    ("icmp", "dont_fragment = 3", "targets[0].icmp.dont_fragment"),
    ("icmp", 'source_ip_address = "127.0.0"', "targets[0].icmp.source_ip_address"),
    ("icmp", "payload_size = 70000", "targets[0].icmp.payload_size"),
    ("icmp", 'ip_protocol = "ip6", preferred_ip_protocol = "ip4"', "disagree"),
]


@pytest.mark.parametrize(("kind", "options", "key"), BAD)
def test_bad_settings_name_their_key(
    write_toml: Callable[..., Path], kind: str, options: str, key: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write_toml(one_target(kind, options)))
    got = [str(i) for i in info.value.issues]
    assert any(key in g for g in got), got


def test_check_config_exits_2_naming_the_key(write_toml: Callable[..., Path]) -> None:
    path = write_toml(one_target("tcp", 'port = 25, query_response = [{ expect = "(" }]'))
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out
    assert "targets[0].tcp.query_response[0].expect" in out.stderr
    assert "Traceback" not in out.stderr


def test_good_settings_load(write_toml: Callable[..., Path]) -> None:
    text = (
        one_target("tcp", 'port = 587, starttls = "smtp", preferred_ip_protocol = "ip6"')
        + '\n[[targets]]\nname = "d"\nkind = "dns"\nhost = "127.0.0.1"\n'
        + 'dns = { query = "lab", type = "SOA", query_class = "IN", secondaries = ["::1"],'
        + ' validate_authority_rrs = { fail_if_matches_regexp = ["\\\\tNS\\\\t"] } }\n'
        + '\n[[targets]]\nname = "i"\nkind = "icmp"\nhost = "127.0.0.1"\n'
        + "icmp = { dont_fragment = true, payload_size = 1400, ttl = 3,"
        + ' source_ip_address = "127.0.0.1" }\n'
    )
    settings = load_settings(write_toml(text))
    tcp, dns, icmp = (t.options for t in settings.targets)
    assert isinstance(tcp, TcpOptions) and tcp.steps == STARTTLS_DIALOGUES["smtp"]
    assert dns.secondaries == ["::1"]  # type: ignore[attr-defined]
    assert icmp.dont_fragment and icmp.ttl == 3  # type: ignore[attr-defined]


def test_icmp_ip_protocol_keeps_its_meaning() -> None:
    def choice(**icmp: object) -> tuple[str, bool]:
        t = Target.model_validate({"name": "t", "kind": "icmp", "host": "h.lab", "icmp": icmp})
        return t.options.family_choice  # type: ignore[attr-defined, no-any-return]

    assert choice() == ("ip4", True)
    assert choice(ip_protocol="ip6") == ("ip6", False)  # as before: that family only
    assert choice(preferred_ip_protocol="ip6", ip_protocol_fallback=False) == ("ip6", False)
    assert choice(ip_protocol="ip6", preferred_ip_protocol="ip6") == ("ip6", True)
