"""`netmon run --lab` as a process on the shipped settings, read back over HTTP.

This is what a newcomer gets from `make run`: the lab and netmon on loopback. The test then
injects a lab fault, reloads by SIGHUP and by POST /-/reload (a broken file is refused and the
old settings keep running), removes a target, and stops with SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomli_w
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.waiting import wait_for
from monitor.drill.processes import NetmonProcess, netmon_run
from probes import PROBES
from tests.support.common import REPO, free_port

Series = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


class Netmon:
    def __init__(self, node: NetmonProcess, base: str, config: Path) -> None:
        self.node = node
        self.proc = node.proc
        self.output = node.output
        self.base = base
        self.config = config
        self.http = aiohttp.ClientSession()

    async def metrics(self) -> Series:
        async with self.http.get(f"{self.base}/metrics") as resp:
            assert resp.status == 200
            return parse(await resp.text())

    def write(self, doc: dict[str, Any]) -> None:
        self.config.write_text(tomli_w.dumps(doc), encoding="utf-8")

    async def wait_for(self, what: str, check: Any, within: float = 30.0) -> Series:
        """Until ``check`` passes on /metrics; on a timeout, with netmon's last lines."""

        async def passed() -> tuple[Series] | None:
            series = await self.metrics()
            return (series,) if check(series) else None

        try:
            found: tuple[Series] = await wait_for(what, passed, within, 0.25)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.node.tail()}") from None
        return found[0]


def value(series: Series, name: str, **labels: str) -> float | None:
    for got, v in series.get(name, []):
        if all(got.get(k) == want for k, want in labels.items()):
            return v
    return None


async def lab_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.cli",
        "lab",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.fixture
async def netmon(tmp_path: Path) -> AsyncIterator[Netmon]:
    doc = tomllib.loads((REPO / "settings.toml").read_text(encoding="utf-8"))
    port = free_port()
    doc.setdefault("server", {})["listen"] = f"127.0.0.1:{port}"
    config = tmp_path / "settings.toml"
    config.write_text(tomli_w.dumps(doc), encoding="utf-8")
    async with netmon_run(config, "--lab", log_level="INFO", within=60, grace=20) as proc:
        node = Netmon(proc, f"http://127.0.0.1:{port}", config)
        try:
            yield node
        finally:
            await node.http.close()


async def test_make_run_path_end_to_end(netmon: Netmon) -> None:
    doc = tomllib.loads(netmon.config.read_text(encoding="utf-8"))
    polled = {t["name"] for t in doc["targets"] if t["kind"] in PROBES}
    assert len(polled) >= 26  # 6+ websites and 20+ ICMP hosts

    # 1. Every lab target shows probe_success within 15 s of the start, and is up.
    series = await netmon.wait_for(
        "probe_success for every target",
        lambda s: {lab["target"] for lab, _ in s.get("probe_success", [])} >= polled,
        within=15 - (time.monotonic() - netmon.node.started),
    )
    down = sorted(lab["target"] for lab, v in series["probe_success"] if v != 1)
    assert not down, f"lab targets down on a healthy lab: {down}"
    kinds = {lab["kind"] for lab, _ in series["probe_success"]}
    # issue 16's kinds too: the livestream, the venue's PBX (OPTIONS and REGISTER) and the
    # portal's integrity (its baseline being learnt counts as up).
    assert {"icmp", "http", "dns", "tcp", "snmp", "stream", "sip", "web"} <= kinds

    # 2. SIGHUP reload with a short interval, so the fault below shows quickly.
    doc["defaults"]["interval"] = "1s"
    netmon.write(doc)
    before = value(series, "netmon_config_last_reload_success_timestamp_seconds")
    assert netmon.proc.pid
    os.kill(netmon.proc.pid, signal.SIGHUP)
    await netmon.wait_for(
        "the SIGHUP reload",
        lambda s: value(s, "netmon_config_last_reload_success_timestamp_seconds") != before,
    )

    # 3. A lab fault: the portal answers 503 -> probe_failure_info{reason="status"}.
    site = next(
        t["name"] for t in doc["targets"] if t["kind"] == "http" and t["url"].startswith("http:")
    )
    code, out = await lab_cli("fail", site, "--mode", "503")
    assert code == 0, out
    series = await netmon.wait_for(
        "the 503", lambda s: value(s, "probe_failure_info", target=site, reason="status") == 1
    )
    assert value(series, "probe_success", target=site) == 0
    assert value(series, "probe_http_status_code", target=site) == 503
    code, out = await lab_cli("heal", site)
    assert code == 0, out
    await netmon.wait_for("the heal", lambda s: value(s, "probe_success", target=site) == 1)

    # 4. A broken file is refused by POST /-/reload; the old settings keep running.
    good_text = netmon.config.read_text(encoding="utf-8")
    netmon.config.write_text(good_text.replace('kind = "http"', 'kind = "htp"', 1))
    async with netmon.http.post(f"{netmon.base}/-/reload") as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["status"] == "refused"
    assert any("kind: unknown kind 'htp'" in e for e in body["errors"]), body
    runs = value(await netmon.metrics(), "netmon_probes_total", kind="http") or 0
    series = await netmon.wait_for(
        "probes to go on after the refused reload",
        lambda s: (value(s, "netmon_probes_total", kind="http") or 0) > runs + 3,
    )
    assert value(series, "netmon_config_last_reload_successful") == 0
    assert any("reload refused" in line for line in netmon.output)

    # 5. A good reload that drops a target: its series disappear.
    gone = next(t["name"] for t in doc["targets"] if t["kind"] == "icmp")
    doc["targets"] = [t for t in doc["targets"] if t["name"] != gone]
    netmon.write(doc)
    async with netmon.http.post(f"{netmon.base}/-/reload") as resp:
        assert resp.status == 200, await resp.text()
    series = await netmon.metrics()
    assert value(series, "netmon_config_last_reload_successful") == 1
    assert value(series, "probe_success", target=gone) is None
    async with netmon.http.get(f"{netmon.base}/api/v1/targets") as resp:
        names = {t["name"] for t in (await resp.json())["targets"]}
    assert gone not in names and site in names

    # 6. The status page, in Vietnamese by default.
    async with netmon.http.get(f"{netmon.base}/") as resp:
        page = await resp.text()
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "Trạng thái" in page and site in page

    # 7. Ctrl-C stops netmon and the lab cleanly.
    netmon.proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(20):
        assert await netmon.proc.wait() == 0
    code, out = await lab_cli("list")
    assert code != 0  # the lab's control port is gone with it
