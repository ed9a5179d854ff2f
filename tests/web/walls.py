"""A province in small for the wall, the phone and the 24-hour history: a started service fed
through its store as the scheduler would, with a day of results behind it.

- ``vnpt-core`` (carrier vnpt): down now (TargetDown, critical), down 06:00-07:00 earlier;
- ``viettel-lossy`` (viettel): up with 30 % loss (degraded; HighPacketLoss, warning);
- ``viettel-slow-1..3`` (viettel): slow answers, HighLatency made an INFO rule: three INFO
  alerts, which fold into a count;
- ``hoi-truong``, ``cong-thong-tin`` (venue, website): up; ``cong-thong-tin`` is HTTP;
- two hours of the day with no result at all (netmon stopped): a gap.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from monitor.config import Settings, parse_settings
from monitor.config.access import token_digest
from monitor.runtime.history import BUCKET
from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from probes.base import ProbeResult, Sample
from tests.support.web import NOC, TOKENS, VIETTEL

__all__ = ["NOC", "VIETTEL", "WALL", "running", "wall_settings"]

WALL = "wall-token-long-lived-0001"


def wall_settings(tmp_path: Path) -> Settings:
    raw: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "traps": {"enabled": False},
        "names": {"carrier": {"vnpt": "VNPT", "viettel": "Viettel"}},
        "targets": [
            {"name": "vnpt-core", "title": "Bộ định tuyến biên VNPT", "kind": "icmp",
             "host": "127.0.2.1", "group": "carrier", "labels": {"carrier": "vnpt"}},
            {"name": "viettel-lossy", "title": "Đường truyền Viettel hội trường", "kind": "icmp",
             "host": "127.0.2.2", "group": "carrier", "labels": {"carrier": "viettel"}},
            *[{"name": f"viettel-slow-{i}", "kind": "icmp", "host": f"127.0.2.{10 + i}",
               "group": "grassroots", "labels": {"carrier": "viettel"}} for i in (1, 2, 3)],
            {"name": "hoi-truong", "title": "Hội trường tỉnh", "kind": "icmp",
             "host": "127.0.2.5", "group": "venue"},
            {"name": "cong-thong-tin", "title": "Cổng thông tin điện tử tỉnh", "kind": "http",
             "url": "http://127.0.0.1:9/", "group": "website"},
        ],
        "alerts": {
            "rules": [
                {"name": "TargetDown", "failures": 1, "severity": "critical"},
                {"name": "HighPacketLoss", "failures": 1},
                {"name": "HighLatency", "failures": 1, "severity": "info"},
            ]
        },
        "access": {
            "tokens": [*TOKENS, {"name": "wall", "role": "wall", "sha256": token_digest(WALL)}]
        },
    }  # fmt: skip
    return parse_settings(raw, tmp_path)


def echo(ok: bool, rtt: float = 0.012, loss: float = 0.0) -> ProbeResult:
    samples = (
        Sample("probe_icmp_rtt_seconds", rtt, (("stat", "avg"),)),
        Sample("probe_icmp_packet_loss_ratio", loss if ok else 1.0),
    )
    return ProbeResult(ok, None if ok else "timeout", "fine" if ok else "no answer", samples)


def feed(service: Service, now: float) -> None:
    """A day of results every five minutes, then the state of now."""
    store = service.store
    first = int(now) // BUCKET - 287
    for slot in range(first, int(now) // BUCKET):
        at = slot * BUCKET + 7.0
        hours_ago = (now - at) / 3600
        if 9 < hours_ago < 11:  # netmon stopped: no result for anyone
            continue
        wave = 0.004 * ((slot % 24) / 24)
        down = 17 < hours_ago < 18  # an hour of outage for vnpt-core
        store.record("vnpt-core", Observation(echo(not down, 0.018 + wave), at, 0.05))
        lossy = echo(True, 0.030, 0.3 if hours_ago < 4 else 0.0)
        store.record("viettel-lossy", Observation(lossy, at, 0.05))
        for i in (1, 2, 3):
            store.record(f"viettel-slow-{i}", Observation(echo(True, 0.25 + wave), at, 0.05))
        store.record("hoi-truong", Observation(echo(True, 0.004 + wave), at, 0.01))
        fine = ProbeResult(True, None, "fine", (Sample("probe_http_status_code", 200.0),))
        store.record("cong-thong-tin", Observation(fine, at, 0.120 + wave * 10))
    store.record("vnpt-core", Observation(echo(False), now - 20, 1.0))


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[Service, TestServer]]:
    service = Service(wall_settings(tmp_path))
    await service.start()
    feed(service, time.time())
    server = TestServer(make_app(service), host="127.0.0.1")
    try:
        await server.start_server()
        yield service, server
    finally:
        await server.close()
        await service.aclose()


__all__ += ["NOC", "VIETTEL", "echo", "feed"]
