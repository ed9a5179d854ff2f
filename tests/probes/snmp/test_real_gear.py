"""What real carrier gear does that a plain IF-MIB agent does not (issue 15, "SNMP on real gear"),
served by Debian's snmpd from recordings (tests/probes/snmp/recording.py, ``pass_persist``):

- BGP peers in the vendors' tables (Cisco cbgpPeer3Table and cbgpPeer2Table, Juniper
  jnxBgpM2PeerTable, Arista aristaBgp4V2PeerTable, Huawei hwBgpPeerTable): IPv4 and IPv6
  peers, peers in a VRF; a router with no peer table at all is up, with the finding on its
  BGP series;
- GBK-encoded ifDescr and ifAlias (Huawei, H3C), decoded with ``label_encoding``, and bad runs
  collapsed to one U+FFFD;
- string extra OIDs (sysDescr, sysLocation, entPhysicalDescr, entPhysicalSerialNum) as
  ``probe_snmp_oid_info``, escaped on /metrics;
- a poll longer than its interval, where the settings allow it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Settings, Target
from monitor.lab.inventory import SNMP_COMMUNITY
from monitor.runtime.metrics import render_target
from monitor.runtime.scheduler import Scheduler
from monitor.runtime.store import Observation, Store
from probes import PROBES
from probes.base import ProbeResult, Sample
from probes.context import ProbeContext
from probes.snmp.ber import OCTET_STRING, Value
from probes.snmp.bgp import COLUMNS, TABLES
from probes.snmp.probe import OID_INFO_MAX, _info_text, decode_label
from tests.fixtures.snmpd import COMMUNITY, NET_SNMP_TOOLS, SNMPD, Snmpd, tool
from tests.probes.snmp.agents import ROUTER, lab_agent

pytestmark = pytest.mark.skipif(SNMPD is None, reason="snmpd is not installed (Debian snmpd)")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RECORDING = HERE / "recording.py"
# One snmpd per recording, on its own address (127.0.7.x: no other test uses them).
AGENTS = {
    "cisco-bgp": ("127.0.7.1", {".1.3.6.1.4.1": ["cisco-bgp.snmprec"],
                                ".1.3.6.1.2.1.15": ["cisco-bgp.snmprec"]}),
    "cisco-peer2": ("127.0.7.2", {".1.3.6.1.4.1": ["cisco-peer2.snmprec"]}),
    "juniper-bgp": ("127.0.7.3", {".1.3.6.1.4.1": ["juniper-bgp.snmprec"]}),
    "huawei-bgp": ("127.0.7.4", {".1.3.6.1.4.1": ["huawei-bgp.snmprec"]}),
    "arista-bgp": ("127.0.7.6", {".1.3.6.1.4.1": ["arista-bgp.snmprec"]}),
    "huawei-gbk": ("127.0.7.5", {"-p 1 .1.3.6.1.2.1.2.2": ["gbk-ifmib.snmprec"],
                                 "-p 1 .1.3.6.1.2.1.31.1.1": ["gbk-ifmib.snmprec"],
                                 ".1.3.6.1.2.1.47": ["entity.snmprec"]}),
}  # fmt: skip


def pass_persist(subtrees: dict[str, list[str]]) -> str:
    return "".join(
        f"pass_persist {where} {sys.executable} {RECORDING} {' '.join(files)}\n"
        for where, files in subtrees.items()
    )


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Snmpd]]:
    started: dict[str, Snmpd] = {}
    workdir = tmp_path_factory.mktemp("snmpd-gear")
    try:
        for name, (address, subtrees) in AGENTS.items():
            agent = Snmpd(workdir, address, extra_config=pass_persist(subtrees))
            agent.start()
            started[name] = agent
        yield started
    finally:
        for agent in started.values():
            agent.stop()


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


def target(agent: Snmpd, name: str = "gear", **snmp: Any) -> Target:
    options: dict[str, Any] = {"port": agent.port, "timeout": "1s", "retries": 0}
    options["community"] = COMMUNITY
    options.update(snmp)
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": agent.address, "timeout": "4s", "snmp": options}
    )


async def poll(t: Target, ctx: ProbeContext) -> ProbeResult:
    return await PROBES["snmp"](t, ctx)


def named(result: ProbeResult, name: str) -> list[Sample]:
    return [s for s in result.samples if s.name == name]


def bgp_peers(result: ProbeResult) -> dict[tuple[str, str, str], float]:
    out = {}
    for sample in named(result, "bgpPeerState"):
        labels = dict(sample.labels)
        out[(labels["peer"], labels["afi"], labels["vrf"])] = sample.value
    return out


# ------------------------------------------------------------------------------ BGP

VENDORS = {
    # cbgpPeer3Table wins over cbgpPeer2Table and BGP4-MIB (which has only the IPv4 peer)
    "cisco-bgp": (
        "CISCO-BGP4-MIB cbgpPeer3Table",
        {
            ("127.0.4.1", "ipv4", "default"): 6,
            ("fd00:4e::1", "ipv6", "default"): 6,
            ("127.0.4.9", "ipv4", "VNPT-INTERNET"): 3,
        },
        "BGP 2/3 peers established",
    ),
    "cisco-peer2": (
        "CISCO-BGP4-MIB cbgpPeer2Table",
        {("127.0.4.1", "ipv4", ""): 6, ("fd00:4e::1", "ipv6", ""): 2},
        "BGP 1/2 peers established (CISCO-BGP4-MIB cbgpPeer2Table, 1 row not understood)",
    ),
    "juniper-bgp": (
        "BGP4-V2-MIB-JUNIPER jnxBgpM2PeerTable",
        {
            ("127.0.4.1", "ipv4", "0"): 6,
            ("fd00:4e::1", "ipv6", "0"): 6,
            ("127.0.5.1", "ipv4", "5"): 1,
        },
        "BGP 2/3 peers established",
    ),
    "arista-bgp": (
        "ARISTA-BGP4V2-MIB aristaBgp4V2PeerTable",
        {
            ("127.0.4.1", "ipv4", "1"): 6,
            ("fd00:4e::1", "ipv6", "1"): 6,
            ("127.0.8.1", "ipv4", "3"): 4,
        },
        "BGP 2/3 peers established",
    ),
    # the public instance's IPv4 peer is listed for unicast and vpnv4: one series
    "huawei-bgp": (
        "HUAWEI-BGP-VPN-MIB hwBgpPeerTable",
        {
            ("127.0.4.1", "ipv4", ""): 6,
            ("fd00:4e::1", "ipv6", ""): 6,
            ("127.0.6.1", "ipv4", "VPN-HOITRUONG"): 5,
        },
        "BGP 2/3 peers established",
    ),
}


@pytest.mark.parametrize("version", ["2c", "1"])
@pytest.mark.parametrize("vendor", list(VENDORS))
async def test_vendor_bgp_tables(
    agents: dict[str, Snmpd], ctx: ProbeContext, vendor: str, version: str
) -> None:
    mib, expected, words = VENDORS[vendor]
    result = await poll(
        target(agents[vendor], f"{vendor}-v{version}", bgp=True, version=version), ctx
    )
    assert result.success, result.detail
    assert bgp_peers(result) == expected
    assert words in result.detail
    (present,) = named(result, "probe_snmp_bgp_table_present")
    (count,) = named(result, "probe_snmp_bgp_peers")
    assert present.value == 1
    assert count.value == len(expected) and dict(count.labels) == {"mib": mib}


async def test_bgp_peer_labels_keep_the_old_peer_label(agents: dict[str, Snmpd]) -> None:
    """Dashboards and the trap receiver select bgpPeerState by ``peer`` alone: still works."""
    context = ProbeContext()
    try:
        result = await poll(target(agents["cisco-bgp"], bgp=True), context)
    finally:
        await context.aclose()
    store = Store()
    t = target(agents["cisco-bgp"])
    store.set_targets([t])
    store.record(t.name, Observation(result, 0.0, 0.1))
    assert store.patch_samples(t.name, {("bgpPeerState", (("peer", "127.0.4.9"),)): 6.0})
    state = store.get(t.name)
    assert state is not None and state.latest is not None
    assert bgp_peers(state.latest.result)[("127.0.4.9", "ipv4", "VNPT-INTERNET")] == 6


async def test_no_bgp_table_is_not_a_failed_poll(
    agents: dict[str, Snmpd], ctx: ProbeContext
) -> None:
    """The GBK switch has IF-MIB and no BGP table: up, with probe_snmp_bgp_table_present 0."""
    result = await poll(target(agents["huawei-gbk"], bgp=True), ctx)
    assert result.success, result.detail
    assert "lists no BGP peer" in result.detail
    assert [s.value for s in named(result, "probe_snmp_bgp_table_present")] == [0]
    assert [(s.value, s.labels) for s in named(result, "probe_snmp_bgp_peers")] == [
        (0, (("mib", ""),))
    ]
    assert not named(result, "bgpPeerState") and named(result, "ifOperStatus")


async def test_standard_bgp4_mib_still_read() -> None:
    """The lab router has only BGP4-MIB: its peer as before, now with afi and vrf."""
    context = ProbeContext()
    try:
        async with lab_agent(ROUTER, "127.0.7.9") as agent:
            t = Target.model_validate(
                {"name": "lab-bgp", "kind": "snmp", "host": "127.0.7.9", "timeout": "3s",
                 "snmp": {"port": agent.address[1], "community": SNMP_COMMUNITY,
                          "timeout": "500ms", "retries": 0, "bgp": True}}
            )  # fmt: skip
            result = await poll(t, context)
    finally:
        await context.aclose()
    assert result.success, result.detail
    peers = bgp_peers(result)
    assert peers and all(afi == "ipv4" and vrf == "" for _, afi, vrf in peers)
    assert [dict(s.labels)["mib"] for s in named(result, "probe_snmp_bgp_peers")] == [
        "BGP4-MIB bgpPeerTable"
    ]


# ------------------------------------------------------------------------------ labels


def aliases(result: ProbeResult) -> dict[str, tuple[str, str]]:
    out = {}
    for sample in named(result, "ifOperStatus"):
        labels = dict(sample.labels)
        out[labels["ifIndex"]] = (labels["ifDescr"], labels["ifAlias"])
    return out


async def test_gbk_labels_with_label_encoding(agents: dict[str, Snmpd], ctx: ProbeContext) -> None:
    result = await poll(target(agents["huawei-gbk"], "gbk", label_encoding="gbk"), ctx)
    assert result.success, result.detail
    assert aliases(result) == {
        "1": ("GigabitEthernet0/0/1 上联 VNPT 光纤", "上联 VNPT 光纤"),
        "2": ("GigabitEthernet0/0/2 会场交换机", "会场交换机"),
        # neither UTF-8 nor GBK: the run of three bad bytes is one U+FFFD
        "3": ("GigabitEthernet0/0/3", "uplink \ufffd Viettel"),
    }


async def test_gbk_filter_matches_decoded_text(agents: dict[str, Snmpd], ctx: ProbeContext) -> None:
    t = target(agents["huawei-gbk"], "gbk-filter", label_encoding="GBK", interfaces="会场")
    result = await poll(t, ctx)
    assert result.success, result.detail
    assert list(aliases(result)) == ["2"]


async def test_without_label_encoding_bad_runs_collapse(
    agents: dict[str, Snmpd], ctx: ProbeContext
) -> None:
    """As snmp_exporter since its #968 (Go's strings.ToValidUTF8): each run of bad bytes is one
    U+FFFD, not one per byte."""
    result = await poll(target(agents["huawei-gbk"], "no-codec"), ctx)
    descr, alias = aliases(result)["1"]
    assert alias == "\ufffd VNPT \ufffd"
    assert descr == "GigabitEthernet0/0/1 \ufffd VNPT \ufffd"


def test_decode_label_order() -> None:
    text = "Đắk Lắk"
    assert decode_label(text.encode()) == text  # UTF-8 first, even with a codec set
    assert decode_label(text.encode(), "gbk") == text
    assert decode_label("上联".encode("gbk"), "gbk") == "上联"
    assert decode_label(b"a\xff\xfe\xfdb\xffc") == "a\ufffdb\ufffdc"
    assert decode_label(b"\xff\xfe", "gbk") == "\ufffd"  # not GBK either


def test_a_bad_label_encoding_is_a_settings_error(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(
        '[[targets]]\nname = "r"\nkind = "snmp"\nhost = "127.0.7.1"\n'
        'snmp = { community = "x", label_encoding = "gbk-not-a-codec" }\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "check-config", str(settings)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "label_encoding" in done.stderr and "gbk-not-a-codec" in done.stderr
    assert "Traceback" not in done.stderr
    base64 = settings.read_text(encoding="utf-8").replace("gbk-not-a-codec", "base64")
    settings.write_text(base64, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "check-config", str(settings)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not a text encoding" in done.stderr, done.stderr


# ------------------------------------------------------------------------------ string OIDs

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
ENT_DESCR = "1.3.6.1.2.1.47.1.1.1.1.2.1"
ENT_SERIAL = "1.3.6.1.2.1.47.1.1.1.1.11.1"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"


def snmpget(agent: Snmpd, oid: str) -> str:
    binary = tool("snmpget")
    assert binary is not None
    done = subprocess.run(
        [binary, "-v2c", "-c", COMMUNITY, "-Oqv", "-On", agent.target, oid],
        capture_output=True,
        text=True,
        timeout=10,
        env={"MIBS": ""},
    )
    return done.stdout.strip().strip('"')


@pytest.mark.skipif(not NET_SNMP_TOOLS, reason="Net-SNMP's snmpget is not installed (Debian snmp)")
async def test_string_oids_are_info_metrics(agents: dict[str, Snmpd], ctx: ProbeContext) -> None:
    agent = agents["huawei-gbk"]
    oids = [SYS_DESCR, SYS_OBJECT_ID, SYS_LOCATION, ENT_DESCR, ENT_SERIAL, IF_NUMBER]
    t = target(agent, "strings", oids=oids)
    result = await poll(t, ctx)
    assert result.success, result.detail
    info = {
        dict(s.labels)["oid"]: dict(s.labels)["value"] for s in named(result, "probe_snmp_oid_info")
    }
    assert all(s.value == 1 for s in named(result, "probe_snmp_oid_info"))
    assert info[SYS_LOCATION] == "Phòng máy Sở TT&TT Đắk Lắk"
    assert info[ENT_SERIAL] == "FOX1234ABCD"
    assert info[ENT_DESCR] == 'Cisco ASR-920 chassis\nslot "0" C:\\flash'
    assert info[SYS_DESCR] == snmpget(agent, SYS_DESCR)[:OID_INFO_MAX]
    assert info[SYS_OBJECT_ID] == snmpget(agent, SYS_OBJECT_ID).lstrip(".")
    assert IF_NUMBER not in info  # numeric: probe_snmp_oid_value, as before
    assert [dict(s.labels)["oid"] for s in named(result, "probe_snmp_oid_value")] == [IF_NUMBER]
    # On /metrics the value label is escaped: newline, quote, backslash.
    lines = render_target(t, Observation(result, 0.0, 0.1))["probe_snmp_oid_info"]
    assert 'value="Cisco ASR-920 chassis\\nslot \\"0\\" C:\\\\flash"' in lines
    assert lines.count("\n") == len(info)  # one line each: no raw newline inside a value


def test_info_value_is_capped() -> None:
    text = _info_text(Value(OCTET_STRING, b"x" * 5000), None)
    assert text is not None and len(text) == OID_INFO_MAX and text.endswith("\u2026")


# ------------------------------------------------------------------------------ overrun


def test_timeout_over_interval_is_opt_in() -> None:
    settings = Settings.model_validate(
        {
            "targets": [
                {"name": "chassis", "kind": "snmp", "host": "127.0.7.1", "interval": "10s",
                 "timeout": "25s",
                 "snmp": {"community": "x", "timeout_over_interval": True}},
                {"name": "capped", "kind": "snmp", "host": "127.0.7.1", "interval": "10s",
                 "timeout": "25s", "snmp": {"community": "x"}},
            ]
        }
    )  # fmt: skip
    chassis, capped = settings.targets
    assert settings.timeout_for(chassis, 10.0) == 25.0
    assert settings.timeout_for(capped, 10.0) == 10.0


async def test_a_poll_longer_than_its_interval_reports() -> None:
    """A slow agent (0.25 s an answer: the poll takes about 0.75 s) polled every 0.5 s: with
    timeout_over_interval the poll finishes and the slots it covers are skipped (the
    scheduler's overrun rule); without, the 0.5 s cap times it out."""
    slow = dataclasses.replace(ROUTER, interfaces=ROUTER.interfaces[:2])
    async with (
        lab_agent(slow, "127.0.7.10", answer_delay=0.25) as long_agent,
        lab_agent(slow, "127.0.7.11", answer_delay=0.25) as capped_agent,
    ):

        def spec(name: str, agent: Any, over: bool) -> dict[str, Any]:
            return {
                "name": name, "kind": "snmp", "host": agent.address[0], "interval": "500ms",
                "timeout": "4s",
                "snmp": {"port": agent.address[1], "community": SNMP_COMMUNITY, "retries": 0,
                         "timeout": "1s", "timeout_over_interval": over},
            }  # fmt: skip

        settings = Settings.model_validate(
            {"targets": [spec("long", long_agent, True), spec("capped", capped_agent, False)]}
        )
        store = Store()
        context = ProbeContext()
        scheduler = Scheduler(settings, store, context, probes={"snmp": PROBES["snmp"]})
        task = asyncio.create_task(scheduler.run())
        try:
            await asyncio.sleep(6.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await context.aclose()
    long_state, capped_state = store.get("long"), store.get("capped")
    assert long_state is not None and long_state.latest is not None
    assert capped_state is not None and capped_state.latest is not None
    long_results = [o.result for o in long_state.history]
    assert long_results and all(r.success for r in long_results), [r.detail for r in long_results]
    assert all(o.duration > 0.5 for o in long_state.history)
    assert scheduler.stats.skipped["snmp"] >= len(long_results) - 1
    assert capped_state.latest.result.reason == "timeout"


async def test_later_polls_walk_only_the_table_that_had_rows(
    agents: dict[str, Snmpd], ctx: ProbeContext
) -> None:
    t = target(agents["cisco-bgp"], "cisco-again", bgp=True)
    first = await poll(t, ctx)
    shared = await ctx.shared("snmp", _no_shared)
    state = shared.states[t.name]
    assert state.bgp_table is not None and state.bgp_table is TABLES[0]  # cbgpPeer3Table
    second = await poll(t, ctx)
    assert bgp_peers(second) == bgp_peers(first)
    walked = set(state.session._rows)
    assert tuple(COLUMNS) in walked and TABLES[0].columns in walked
    # The table read last time is empty now (here: pretend it was Huawei's): every table again.
    state.bgp_table = next(table for table in TABLES if table.mib.startswith("HUAWEI"))
    third = await poll(t, ctx)
    assert bgp_peers(third) == bgp_peers(first) and state.bgp_table is TABLES[0]


async def _no_shared() -> Any:
    raise AssertionError("the snmp probe made its shared state already")


EXPORTER = Path("/usr/bin/prometheus-snmp-exporter")


@pytest.mark.skipif(
    not EXPORTER.exists(), reason="snmp_exporter is not installed (Debian prometheus-snmp-exporter)"
)
async def test_where_debian_snmp_exporter_fails_the_scrape(
    agents: dict[str, Snmpd], ctx: ProbeContext, tmp_path: Path
) -> None:
    """Debian's snmp_exporter (0.21) polls the same GBK agent: the whole scrape fails ("label
    value ... is not valid UTF-8", its issues #637 and #824). Later snmp_exporters (#968) put
    strings.ToValidUTF8(value, "\ufffd") there: each run of bad bytes one U+FFFD, which is what
    netmon does without ``label_encoding``, and the poll succeeds."""
    agent = agents["huawei-gbk"]
    if_oper, if_descr = "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.2"
    if_alias = "1.3.6.1.2.1.31.1.1.1.18"
    lookups = [
        {"labels": ["ifIndex"], "labelname": name, "oid": oid, "type": "DisplayString"}
        for name, oid in (("ifDescr", if_descr), ("ifAlias", if_alias))
    ]
    module = {
        "walk": [if_oper, if_descr, if_alias],
        "metrics": [
            {"name": "ifOperStatus", "oid": if_oper, "type": "gauge", "help": "ifOperStatus",
             "indexes": [{"labelname": "ifIndex", "type": "gauge"}], "lookups": lookups}
        ],
        "version": 2,
        "auth": {"community": COMMUNITY},
    }  # fmt: skip
    config = tmp_path / "snmp.yml"
    config.write_text(json.dumps({"gbk": module}), encoding="utf-8")  # JSON is YAML
    with socket.socket() as free:
        free.bind(("127.0.7.12", 0))
        port = free.getsockname()[1]
    url = f"http://127.0.7.12:{port}/snmp?module=gbk&target={agent.address}:{agent.port}"
    status, body = await asyncio.to_thread(_exporter_scrape, config, port, url)
    assert status == 500, body
    assert b'label value "uplink \\xff\\xfe\\xfd Viettel" is not valid UTF-8' in body
    result = await poll(target(agent, "as-exporter"), ctx)
    assert result.success, result.detail
    assert aliases(result)["3"] == ("GigabitEthernet0/0/3", "uplink \ufffd Viettel")


def _exporter_scrape(config: Path, port: int, url: str) -> tuple[int, bytes]:
    exporter = subprocess.Popen(
        [str(EXPORTER), f"--config.file={config}", f"--web.listen-address=127.0.7.12:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return _scrape(url)
    finally:
        exporter.terminate()
        exporter.wait(10)


def _scrape(url: str) -> tuple[int, bytes]:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body: bytes = answer.read()
                return answer.status, body
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
