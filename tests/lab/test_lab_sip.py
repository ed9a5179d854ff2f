"""The lab's venue PBX (monitor/lab/sip.py) and its faults, probed with the shipped
settings.toml's sip target: OPTIONS and the test extension's REGISTER succeed; ``sip-503`` is
a wrong status, ``sip-down`` a timeout; healed, it answers again. Its registrar refuses a wrong
password and keeps no binding of netmon's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.config import Target, load_settings
from monitor.lab import Lab
from monitor.lab.faults import ModeNotApplicable
from monitor.lab.inventory import SIP_HOST, SIP_NAME, SIP_PORT, SIP_USER
from monitor.lab.web import load_or_create_ca
from probes import PROBES
from probes.base import ProbeResult
from probes.context import ProbeContext
from tests.support.common import REPO, free_port


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    host = "127.0.1.61"  # the PBX on its own address; the rest of the lab is left out
    async with Lab(
        tmp_path / "lab",
        control=None,
        sites=[],
        icmp_hosts=[],
        snmp_devices=[],
        trap_address=None,
        dns_address=(host, free_port(host)),
        smtp_address=(host, free_port(host)),
        nft_table="netmon_test_sip",
        stream_address=None,
    ) as started:
        yield started


def shipped_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.chdir(tmp_path)
    load_or_create_ca(tmp_path / "var" / "lab")  # the TLS site's ca_file must exist at load
    settings = load_settings(REPO / "settings.toml")
    target = next(t for t in settings.targets if t.name == SIP_NAME)
    assert (target.kind, target.host, target.group) == ("sip", SIP_HOST, "venue")
    assert target.sip is not None and target.sip.effective_port == SIP_PORT
    assert target.sip.registration is not None and target.sip.registration.user == SIP_USER
    return target


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    timeout = target.timeout or 5.0
    async with asyncio.timeout(timeout + 1):
        return await PROBES["sip"](target, ctx)


def server_info(result: ProbeResult) -> str | None:
    for sample in result.samples:
        if sample.name == "probe_sip_info":
            return dict(sample.labels).get("server")
    return None


async def test_the_lab_pbx_answers_fails_and_answers_again(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = shipped_target(tmp_path, monkeypatch)
    described = next(t for t in lab.targets() if t["name"] == SIP_NAME)
    assert described["kind"] == "sip" and described["modes"] == ["sip-down", "sip-503"]
    assert described["address"] == f"{SIP_HOST}:{SIP_PORT}"
    ctx = ProbeContext()
    try:
        up = await probe(target, ctx)
        assert up.success, up.detail
        assert f"{SIP_USER}@{SIP_HOST} registered" in up.detail and "unregistered" in up.detail
        assert server_info(up) == "netmon-lab PBX"
        assert lab.pbx is not None and lab.pbx.bindings == {}  # netmon keeps no registration

        await lab.fail(SIP_NAME, "sip-503")
        busy = await probe(target, ctx)
        assert (busy.success, busy.reason) == (False, "status"), busy.detail
        assert "503" in busy.detail

        await lab.fail(SIP_NAME, "sip-down")
        silent = await probe(target, ctx)
        assert (silent.success, silent.reason) == (False, "timeout"), silent.detail

        await lab.heal(SIP_NAME)
        again = await probe(target, ctx)
        assert again.success, again.detail
    finally:
        await ctx.aclose()
    with pytest.raises(ModeNotApplicable):
        await lab.fail(SIP_NAME, "stalled")


async def test_the_lab_registrar_refuses_a_wrong_password(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(
        f"""[server]
state_dir = "{tmp_path / "var"}"
[[targets]]
name = "pbx"
kind = "sip"
host = "{SIP_HOST}"
sip = {{ port = {SIP_PORT}, register = {{ user = "{SIP_USER}", password = "wrong" }} }}
""",
        encoding="utf-8",
    )
    target = load_settings(path).targets[0]
    ctx = ProbeContext()
    try:
        refused = await probe(target, ctx)
    finally:
        await ctx.aclose()
    assert (refused.success, refused.reason) == (False, "sip_auth"), refused.detail
    assert lab.pbx is not None and lab.pbx.bindings == {}


async def test_the_lab_pbx_ignores_garbage_and_answers_other_methods(lab: Lab) -> None:
    assert lab.pbx is not None
    assert lab.pbx.answer(b"\x00\xffnot sip") is None
    assert lab.pbx.answer(b"SIP/2.0 200 OK\r\n\r\n") is None  # a response, not a request
    request = (
        f"INFO sip:{SIP_HOST} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\n"
        "From: <sip:netmon@127.0.0.1>;tag=a\r\nTo: <sip:127.0.1.60>\r\nCall-ID: c1\r\n"
        "CSeq: 1 INFO\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    answer = lab.pbx.answer(request)
    assert answer is not None and answer.startswith(b"SIP/2.0 405 ")
    assert b"\r\nCall-ID: c1\r\n" in answer and b"\r\nServer: netmon-lab PBX\r\n" in answer
    with pytest.raises(ValueError, match="without Via"):
        lab.pbx.answer(b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n")
