"""The lab's congress livestream (monitor/lab/stream.py) and its ``stalled`` fault, probed with
the shipped settings.toml's target for it: live, stalled while the fault lasts, live again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.config import Target, load_settings
from monitor.lab import Lab
from monitor.lab.faults import ModeNotApplicable
from monitor.lab.inventory import STREAM_HOST, STREAM_NAME, STREAM_PORT
from monitor.lab.web import load_or_create_ca
from probes import PROBES
from probes.base import ProbeResult
from probes.context import ProbeContext
from tests.support.common import REPO, free_port


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    host = "127.0.1.71"  # the stream on its own address; the rest of the lab is left out
    async with Lab(
        tmp_path / "lab",
        control=None,
        sites=[],
        icmp_hosts=[],
        snmp_devices=[],
        trap_address=None,
        dns_address=(host, free_port(host)),
        smtp_address=(host, free_port(host)),
        nft_table="netmon_test_stream",
    ) as started:
        yield started


def shipped_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.chdir(tmp_path)
    load_or_create_ca(tmp_path / "var" / "lab")  # the TLS site's ca_file must exist at load
    settings = load_settings(REPO / "settings.toml")
    target = next(t for t in settings.targets if t.name == STREAM_NAME)
    assert target.kind == "stream" and target.group == "website"
    assert target.url == f"http://{STREAM_HOST}:{STREAM_PORT}/live/master.m3u8"
    return target


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    assert target.timeout is not None
    async with asyncio.timeout(target.timeout):
        return await PROBES["stream"](target, ctx)


async def test_the_lab_stream_plays_stalls_and_plays_again(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = shipped_target(tmp_path, monkeypatch)
    described = next(t for t in lab.targets() if t["name"] == STREAM_NAME)
    assert (described["kind"], described["modes"]) == ("stream", ["stalled"])
    ctx = ProbeContext()
    try:
        live = await probe(target, ctx)
        assert live.success, live.detail
        assert "live 720p" in live.detail
        await lab.fail(STREAM_NAME, "stalled")
        stalled = await probe(target, ctx)
        assert stalled.reason == "stalled", stalled.detail
        await lab.heal(STREAM_NAME)
        again = await probe(target, ctx)
        assert again.success, again.detail
    finally:
        await ctx.aclose()
    with pytest.raises(ModeNotApplicable):
        await lab.fail(STREAM_NAME, "503")
