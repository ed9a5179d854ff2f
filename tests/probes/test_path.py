"""kind "path" on a real routed path, compared with Debian's traceroute and mtr. Namespaces made
here (root only: skipped, with the reason, where they cannot be made):

    A 10.218.0.1 ═ 10.218.0.2 R1 10.218.1.1 ═ 10.218.1.2 R2 10.218.2.2 ═ 10.218.2.1 B
    A 10.218.5.1 ═ 10.218.5.2 R3 10.218.6.1 ═ 10.218.6.2 R2       (the other carrier)

A reaches B through R1 (``ip route replace`` moves it to R3). R1 can drop its ICMP errors
(nftables): its hop is then a star.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Target, load_settings
from probes.options import PathOptions
from probes.path import _load, first_difference
from tests.support.common import REPO

TAG = f"h18{os.getpid() % 10000}"
A, R1, R2, R3, B = (f"{TAG}{n}" for n in ("a", "r1", "r2", "r3", "b"))
FAR = "10.218.2.1"
VIA_R1 = ["10.218.0.2", "10.218.1.2", FAR]
VIA_R3 = ["10.218.5.2", "10.218.6.2", FAR]

_SCRIPT = """
import asyncio, json, subprocess, sys
from pathlib import Path
from monitor.config import Target
from probes.context import ProbeContext
from probes.path import probe

async def main():
    state_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    ctx = ProbeContext(state_dir=state_dir)
    out = []
    try:
        for step in json.loads(sys.argv[1]):
            if "sh" in step:
                subprocess.run(step["sh"], shell=True, check=True)
                continue
            if "restart" in step:  # a new process's context, the same state directory
                await ctx.aclose()
                ctx = ProbeContext(state_dir=state_dir)
                continue
            t = Target.model_validate({"name": "t", "kind": "path", "host": step["host"],
                                       "path": {"wait": "500ms", **step["path"]}})
            r = await probe(t, ctx)
            out.append({"success": r.success, "reason": r.reason, "detail": r.detail,
                        "facts": r.facts,
                        "samples": [[s.name, s.value, dict(s.labels)] for s in r.samples]})
    finally:
        await ctx.aclose()
    print(json.dumps(out))

asyncio.run(main())
"""


def _sh(*commands: str) -> None:
    for command in commands:
        subprocess.run(command, shell=True, check=True, capture_output=True, timeout=30)


def _cannot() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    probe = f"{TAG}x"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


def _link(left: str, right: str, name: str, left_addr: str, right_addr: str) -> list[str]:
    return [
        f"ip link add {TAG}{name}l netns {left} type veth peer name {TAG}{name}r netns {right}",
        f"ip -n {left} addr add {left_addr}/24 dev {TAG}{name}l",
        f"ip -n {right} addr add {right_addr}/24 dev {TAG}{name}r",
        f"ip -n {left} link set {TAG}{name}l up",
        f"ip -n {right} link set {TAG}{name}r up",
    ]


@pytest.fixture(scope="module")
def lab() -> Iterator[None]:
    why = _cannot()
    if why is not None:
        pytest.skip(why)
    spaces = (A, R1, R2, R3, B)
    try:
        _sh(
            *(f"ip netns add {ns}" for ns in spaces),
            *(f"ip -n {ns} link set lo up" for ns in spaces),
            *_link(A, R1, "a1", "10.218.0.1", "10.218.0.2"),
            *_link(R1, R2, "12", "10.218.1.1", "10.218.1.2"),
            *_link(R2, B, "2b", "10.218.2.2", "10.218.2.1"),
            *_link(A, R3, "a3", "10.218.5.1", "10.218.5.2"),
            *_link(R3, R2, "32", "10.218.6.1", "10.218.6.2"),
            f"ip -n {A} route add 10.218.2.0/24 via 10.218.0.2",
            f"ip -n {R1} route add 10.218.2.0/24 via 10.218.1.2",
            f"ip -n {R3} route add 10.218.2.0/24 via 10.218.6.2",
            f"ip -n {R2} route add 10.218.0.0/24 via 10.218.1.1",
            f"ip -n {R2} route add 10.218.5.0/24 via 10.218.6.1",
            f"ip -n {B} route add default via 10.218.2.2",
            *(f"ip netns exec {ns} sysctl -qw net.ipv4.ip_forward=1" for ns in (R1, R2, R3)),
            # The A—R1—R2—B path over IPv6 too.
            f"ip -n {A} addr add fd18::1/64 dev {TAG}a1l nodad",
            f"ip -n {R1} addr add fd18::2/64 dev {TAG}a1r nodad",
            f"ip -n {R1} addr add fd18:1::1/64 dev {TAG}12l nodad",
            f"ip -n {R2} addr add fd18:1::2/64 dev {TAG}12r nodad",
            f"ip -n {R2} addr add fd18:2::2/64 dev {TAG}2bl nodad",
            f"ip -n {B} addr add fd18:2::1/64 dev {TAG}2br nodad",
            f"ip -n {A} -6 route add fd18:2::/64 via fd18::2",
            f"ip -n {R1} -6 route add fd18:2::/64 via fd18:1::2",
            f"ip -n {R2} -6 route add fd18::/64 via fd18:1::1",
            f"ip -n {B} -6 route add default via fd18:2::2",
            *(f"ip netns exec {ns} sysctl -qw net.ipv6.conf.all.forwarding=1" for ns in (R1, R2)),
            *(f"ip netns exec {ns} sysctl -qw net.ipv6.icmp.ratelimit=0" for ns in (R1, R2)),
            # No ICMP rate limit in the routers, nor in B (its port unreachable for udp).
            *(f"ip netns exec {ns} sysctl -qw net.ipv4.icmp_ratelimit=0" for ns in (R1, R2, R3, B)),
        )
        yield
    finally:
        for ns in spaces:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


# Root without CAP_NET_RAW: a ping socket, its ICMP errors read from the error queue.
_NO_NET_RAW = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"]


def run_in_a(
    steps: list[dict[str, Any]], raw: bool = True, state_dir: Path | None = None
) -> list[dict[str, Any]]:
    drop = [] if raw else _NO_NET_RAW
    state = [] if state_dir is None else [str(state_dir)]
    done = subprocess.run(
        ["ip", "netns", "exec", A, *drop, sys.executable, "-c", _SCRIPT, json.dumps(steps), *state],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def hops_of(result: dict[str, Any]) -> list[str]:
    """The hop addresses (or "*") from the result's "hop" facts."""
    return [text.split()[1] for key, text in result["facts"] if key == "hop"]


def traceroute_hops(icmp: bool = True) -> list[str]:
    if shutil.which("traceroute") is None:
        pytest.skip("traceroute is not installed (scripts/ensure-debs traceroute)")
    method = ["-I"] if icmp else []
    out = subprocess.run(
        ["ip", "netns", "exec", A, "traceroute", *method, "-n", "-q", "3", "-w", "1", FAR],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    hops = []
    for line in out.splitlines()[1:]:
        found = re.match(r"\s*\d+\s+(\S+)", line)
        assert found, line
        hops.append(found.group(1))
    return hops


def mtr_hops() -> list[str]:
    if shutil.which("mtr") is None:
        pytest.skip("mtr is not installed (scripts/ensure-debs mtr-tiny)")
    out = subprocess.run(
        ["ip", "netns", "exec", A, "mtr", "--report", "-n", "-c", "3", FAR],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    hops = re.findall(r"^\s*\d+\.\|--\s+(\S+)", out, re.M)
    return ["*" if hop == "???" else hop for hop in hops]


def test_hops_agree_with_traceroute_and_mtr(lab: None) -> None:
    out = run_in_a([{"host": FAR, "path": {}}])[0]
    assert out["success"], out
    assert hops_of(out) == VIA_R1, out
    assert traceroute_hops() == VIA_R1
    assert mtr_hops() == VIA_R1
    samples = {(name, labels.get("hop")): value for name, value, labels in out["samples"]}
    assert samples[("probe_path_hops", None)] == 3
    for hop in ("1", "2", "3"):
        assert samples[("probe_path_hop_loss_ratio", hop)] == 0.0
        assert 0 < samples[("probe_path_hop_rtt_seconds", hop)] < 0.5
    labels = {(s[2].get("hop"), s[2].get("address")) for s in out["samples"] if s[2]}
    assert ("2", "10.218.1.2") in labels


def test_udp_hops_agree_with_traceroute(lab: None) -> None:
    out = run_in_a([{"host": FAR, "path": {"protocol": "udp"}}, {"host": FAR, "path": {}}])
    assert traceroute_hops(icmp=False) == VIA_R1
    udp, icmp = out
    assert udp["success"], udp
    assert hops_of(udp) == VIA_R1, udp
    assert icmp["success"], icmp  # the same path, learnt by either protocol
    loss = {s[2]["hop"]: s[1] for s in udp["samples"] if s[0] == "probe_path_hop_loss_ratio"}
    assert loss == {"1": 0.0, "2": 0.0, "3": 0.0}, udp


def test_udp_without_any_privilege(lab: None) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    out = run_in_a([{"host": FAR, "path": {"protocol": "udp", "max_hops": 2}}], raw=False)
    assert out[0]["reason"] == "max_hops", out[0]
    assert hops_of(out[0]) == VIA_R1[:2], out[0]


def test_an_asymmetric_path_shows_the_addresses_routers_answer_from(lab: None) -> None:
    # Out through R1, back through R3: R2 answers from its address towards R3 (the way back),
    # as traceroute shows it too. The defined result: each hop is the address its ICMP error
    # came from, whatever the return path.
    _sh(
        f"ip -n {R2} route replace 10.218.0.0/24 via 10.218.6.1",
        f"ip -n {R3} route replace 10.218.0.0/24 via 10.218.5.1",
    )
    try:
        out = run_in_a([{"host": FAR, "path": {}}])[0]
        seen = traceroute_hops()
    finally:
        _sh(
            f"ip -n {R2} route replace 10.218.0.0/24 via 10.218.1.1",
            f"ip -n {R3} route del 10.218.0.0/24",
        )
    assert out["success"], out
    assert hops_of(out) == ["10.218.0.2", "10.218.6.2", FAR], out
    assert seen == hops_of(out)


def test_ipv6_hops(lab: None) -> None:
    out = run_in_a([{"host": "fd18:2::1", "path": {}}, {"host": "fd18:2::1", "path": {}}])
    for result in out:
        assert result["success"], result
        assert hops_of(result) == ["fd18::2", "fd18:1::2", "fd18:2::1"], result
    protocol = [s[1] for s in out[0]["samples"] if s[0] == "probe_ip_protocol"]
    assert protocol == [6.0], out[0]


def test_through_a_ping_socket(lab: None) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    _sh(f"ip netns exec {A} sysctl -qw net.ipv4.ping_group_range='0 2147483647'")
    out = run_in_a([{"host": FAR, "path": {}}, {"host": FAR, "path": {"max_hops": 1}}], raw=False)
    assert out[0]["success"], out[0]
    assert hops_of(out[0]) == VIA_R1, out[0]
    assert out[1]["reason"] == "max_hops", out[1]
    assert hops_of(out[1]) == VIA_R1[:1], out[1]


def test_a_rate_limited_router_is_a_star_not_a_path_change(lab: None) -> None:
    # The path is learnt, then R2 may send one ICMP error per 100 s (its token bucket starts
    # empty for a new peer): its hop is a star, the path the same.
    limit = f"ip netns exec {R2} sysctl -qw net.ipv4.icmp_ratelimit={{}}"
    try:
        out = run_in_a(
            [
                {"host": FAR, "path": {}},
                {"sh": limit.format(100000)},
                *({"host": FAR, "path": {}} for _ in range(3)),
            ]
        )
    finally:
        _sh(limit.format(0))
    assert all(o["success"] for o in out), out  # a star is no change of path
    losses = [
        s[1] for o in out for s in o["samples"]
        if s[0] == "probe_path_hop_loss_ratio" and s[2]["hop"] == "2"
    ]  # fmt: skip
    assert losses[0] == 0.0 and losses[-1] == 1.0, losses
    assert hops_of(out[0]) == VIA_R1, out[0]
    assert hops_of(out[-1]) == ["10.218.0.2", "*", FAR], out[-1]
    assert len({s[1] for o in out for s in o["samples"] if s[0] == "probe_path_hash"}) == 2


def test_a_hop_that_drops_its_icmp_errors_is_a_star(lab: None) -> None:
    table = f"ip netns exec {R1} nft"
    _sh(
        f"{table} add table inet {TAG}",
        f"{table} 'add chain inet {TAG} out {{ type filter hook output priority 0 ; }}'",
        f"{table} add rule inet {TAG} out icmp type time-exceeded drop",
    )
    try:
        first, second = run_in_a([{"host": FAR, "path": {}}, {"host": FAR, "path": {}}])
        expected = ["*", "10.218.1.2", FAR]
        assert traceroute_hops() == expected
        assert mtr_hops() == expected
    finally:
        _sh(f"{table} delete table inet {TAG}")
    for out in (first, second):
        assert out["success"], out  # a star is no change of path
        assert hops_of(out) == expected, out
        loss = {s[2]["hop"]: s[1] for s in out["samples"] if s[0] == "probe_path_hop_loss_ratio"}
        assert loss == {"1": 1.0, "2": 0.0, "3": 0.0}, out


def test_route_change_is_path_changed_at_the_first_differing_hop(lab: None) -> None:
    names = [
        {"address": "10.218.0.2", "name": "VNPT BRAS Buôn Ma Thuột"},
        {"address": "10.218.5.2", "name": "Viettel Đắk Lắk"},
    ]
    options = {"hops": names}
    replace = "ip route replace 10.218.2.0/24 via {}"
    out = run_in_a(
        [
            {"host": FAR, "path": options},
            {"host": FAR, "path": options},
            {"sh": replace.format("10.218.5.2")},
            {"host": FAR, "path": options},  # the change
            {"host": FAR, "path": options},  # now learnt
            {"sh": replace.format("10.218.0.2")},
            {"host": FAR, "path": options},  # seen 2 runs ago: a known (load-balanced) path
            {"host": FAR, "path": {**options, "learn_runs": 1}},  # R1 seen 2 runs ago...
            {"sh": replace.format("10.218.5.2")},
            {"host": FAR, "path": {**options, "learn_runs": 1}},  # ...R3 forgotten: a change
        ]
    )
    first, steady, changed, learnt, back, again, forgotten = out
    assert first["success"] and steady["success"], out
    assert hops_of(changed) == VIA_R3
    assert changed["reason"] == "path_changed", changed
    facts = dict(changed["facts"])
    assert facts["old_hop"] == "hop 1: 10.218.0.2 (VNPT BRAS Buôn Ma Thuột)", facts
    assert facts["new_hop"] == "hop 1: 10.218.5.2 (Viettel Đắk Lắk)", facts
    assert "VNPT BRAS Buôn Ma Thuột" in changed["detail"]
    hashes = {o["reason"]: [s[1] for s in o["samples"] if s[0] == "probe_path_hash"] for o in out}
    assert hashes["path_changed"] != [s[1] for s in first["samples"] if s[0] == "probe_path_hash"]
    assert learnt["success"], learnt
    assert back["success"], back  # two known paths, not a change every run
    assert again["success"], again
    assert forgotten["reason"] == "path_changed", forgotten


def test_the_learnt_paths_survive_a_restart(lab: None, tmp_path: Path) -> None:
    replace = "ip route replace 10.218.2.0/24 via {}"
    out = run_in_a(
        [
            {"sh": replace.format("10.218.0.2")},
            {"host": FAR, "path": {}},
            {"restart": True},
            {"sh": replace.format("10.218.5.2")},
            {"host": FAR, "path": {}},  # a change, though this context never saw R1's path
            {"sh": replace.format("10.218.0.2")},
        ],
        state_dir=tmp_path,
    )
    assert out[0]["success"], out[0]
    assert out[1]["reason"] == "path_changed", out[1]
    assert dict(out[1]["facts"])["old_hop"] == "hop 1: 10.218.0.2", out[1]
    kept = json.loads((tmp_path / "paths.json").read_text())
    assert kept == {f"t {FAR}": [VIA_R1, VIA_R3]}, kept


def test_expected_path_and_max_hops(lab: None) -> None:
    expected = {"expected_path": ["10.218.0.2", "*", FAR]}
    wrong = {"expected_path": ["10.218.0.2", "10.218.6.2", FAR]}
    ok, changed, short, no_route = run_in_a(
        [
            {"sh": "ip route replace 10.218.2.0/24 via 10.218.0.2"},  # through R1 again
            {"host": FAR, "path": expected},
            {"host": FAR, "path": wrong},
            {"host": FAR, "path": {"max_hops": 2}},
            {"host": "10.218.99.1", "path": {}},  # A has no route there
        ]
    )
    assert no_route["reason"] == "unreachable", no_route
    assert "Network is unreachable" in no_route["detail"], no_route
    assert ok["success"], ok
    assert changed["reason"] == "path_changed", changed
    assert dict(changed["facts"])["old_hop"] == "hop 2: 10.218.6.2", changed
    assert dict(changed["facts"])["new_hop"] == "hop 2: 10.218.1.2", changed
    assert short["reason"] == "max_hops", short
    assert hops_of(short) == VIA_R1[:2], short


def test_a_router_that_refuses_the_destination_ends_the_path(lab: None) -> None:
    # nftables' reject, not a prohibit route: ip_error() has its own token bucket, which the
    # ICMP errors of the earlier tests share and drain.
    table = f"ip netns exec {R2} nft"
    _sh(
        f"{table} add table inet {TAG}",
        f"{table} 'add chain inet {TAG} through {{ type filter hook forward priority 0 ; }}'",
        f"{table} add rule inet {TAG} through ip daddr {FAR} reject with icmp type host-prohibited",
    )
    try:
        out = run_in_a([{"host": FAR, "path": {}}])[0]
        seen = traceroute_hops()
    finally:
        _sh(f"{table} delete table inet {TAG}")
    # The TTL is checked before the forward hook: TTL 2 dies at R2 (time exceeded), TTL 3 is
    # refused there; traceroute shows R2 at hop 3 with !X as well.
    assert out["reason"] == "unreachable", out
    assert "at hop 3: host prohibited from 10.218.1.2" in out["detail"], out
    assert hops_of(out) == ["10.218.0.2", "10.218.1.2", "10.218.1.2"], out
    assert seen == hops_of(out)


def test_first_difference() -> None:
    assert first_difference(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert first_difference(["a", None, "c"], ["a", "x", "c"]) == 3
    assert first_difference(["a", "b"], ["a", "b", "c"]) == 2


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"count": 0}, "count"),
        ({"max_hops": 99}, "max_hops"),
        ({"expected_path": ["10.0.0.300"]}, "expected_path"),
        ({"hops": [{"address": "nope", "name": "x"}]}, "address"),
        ({"protocol": "tcp"}, "protocol"),
    ],
)
def test_bad_settings_name_their_key(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        Target.model_validate({"name": "t", "kind": "path", "host": FAR, "path": options})


SETTINGS = """
[[hops]]
address = "10.218.0.2"
name = "VNPT BRAS Buôn Ma Thuột"

[[targets]]
name = "duong-di"
kind = "path"
host = "10.218.2.1"
[[targets.path.hops]]
address = "10.218.5.2"
name = "Viettel Đắk Lắk"
"""


def test_settings_hops_table_names_the_hops_of_every_path_target(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    target = load_settings(path).targets[0]
    assert isinstance(target.options, PathOptions)
    assert target.options.hop_names == {
        "10.218.0.2": "VNPT BRAS Buôn Ma Thuột",
        "10.218.5.2": "Viettel Đắk Lắk",
    }


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('address = "10.218.0.2"', 'address = "VNPT"', "hops[0].address"),
        (
            "[[targets.path.hops]]",
            "[targets.path]\nmax_hops = 0\n[[targets.path.hops]]",
            "max_hops",
        ),
    ],
)
def test_bad_path_settings_exit_2_naming_the_key(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SETTINGS.replace(old, new), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert key in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("text", ["not json", '{"t 10.0.0.1": 5}', "[1, 2]"])
def test_a_kept_paths_file_that_does_not_read_is_learnt_again(tmp_path: Path, text: str) -> None:
    (tmp_path / "paths.json").write_text(text)
    assert _load(tmp_path / "paths.json") == {}
