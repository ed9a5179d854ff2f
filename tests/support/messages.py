"""Notifications made by the real alert engine from results fed by hand, for the tests of what
people read (tests/alerts/test_messages.py) and for looking at them (``python -m
tests.support.messages``: prints a Telegram message and writes an e-mail's HTML).

The settings are a small Đắk Lắk NOC: a Viettel uplink into the congress hall (ICMP), the
provincial e-newspaper (HTTP, "Hacked by" forbidden), Viettel's edge router (SNMP), with
titles, a [names] table, a phase and ``[server] external_url``. Time is a FakeClock at
08:03:00 on 14/10/2025 in Ha Noi, inside the congress phase.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tomli_w

from alerts.dispatch import Announcement
from alerts.engine import AlertEngine
from alerts.model import AlertSnapshot, Kind, Notification
from monitor.config import Settings, load_settings
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample
from tests.support.clock import FakeClock

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2025, 10, 14, 8, 3, 0, tzinfo=ZONE).timestamp()
EXTERNAL = "https://noc.daklak.gov.vn/netmon"
RUNBOOK = "https://wiki.daklak.gov.vn/noc/target-down"


def settings_doc(state_dir: Path) -> dict[str, Any]:
    return {
        "server": {"state_dir": str(state_dir), "external_url": EXTERNAL},
        "phases": [
            {
                "name": "dai-hoi-tinh",
                "title": "Đại hội Đảng bộ tỉnh lần thứ XVIII",
                "start": datetime(2025, 10, 14, 7, 0, tzinfo=ZONE),
                "end": datetime(2025, 10, 16, 18, 0, tzinfo=ZONE),
            }
        ],
        "names": {
            "carrier": {"viettel": "Viettel"},
            "site": {"hoi-truong-tinh": {"vi": "Hội trường Tỉnh ủy", "en": "Party congress hall"}},
        },
        "targets": [
            {
                "name": "venue-viettel-uplink",
                "title": "Đường truyền Viettel - Hội trường",
                "kind": "icmp",
                "host": "127.0.0.1",
                "group": "carrier",
                "labels": {"carrier": "viettel", "site": "hoi-truong-tinh"},
            },
            {
                "name": "bao-dak-lak",
                "title": {"vi": "Báo Đắk Lắk điện tử", "en": "Dak Lak e-newspaper"},
                "kind": "http",
                "url": "http://127.0.0.1:8080/",
                "group": "website",
                "http": {"body_absent": ["Hacked by"]},
            },
            {
                "name": "viettel-edge",
                "title": "Router biên Viettel",
                "kind": "snmp",
                "host": "127.0.0.1",
                "group": "carrier",
                "labels": {"carrier": "viettel"},
                "snmp": {"community": "public"},
            },
        ],
        "alerts": {
            "rules": [
                {"name": "TargetDown", "failures": 1, "recoveries": 1, "runbook_url": RUNBOOK}
            ]
        },
    }


class Feed:
    """The engine, its store and clock; what the engine announced, as notifications."""

    def __init__(self, engine: AlertEngine, store: Store, clock: FakeClock) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.announced: list[Announcement] = []

    @property
    def settings(self) -> Settings:
        return self.engine._settings

    def result(self, target: str, result: ProbeResult, *, at: float) -> None:
        """``result`` of ``target`` at ``at`` seconds after 08:03:00."""
        self.clock.now = at
        self.store.record(target, Observation(result, self.clock.time(), 0.05))

    def notification(self, rule: str, target: str, kind: Kind | None = None) -> Notification:
        """The last announcement of ``rule`` for ``target`` as one receiver's notification."""
        found = [a for a in self.announced if a.alert.rule == rule and a.alert.target == target]
        assert found, f"{rule} {target} was not announced"
        alert: AlertSnapshot = found[-1].alert
        made: Kind = kind or ("resolved" if alert.status == "resolved" else "firing")
        return Notification(uuid.uuid4().hex, "noc", made, alert, self.clock.time())


@contextlib.asynccontextmanager
async def feed(tmp_path: Path, doc: dict[str, Any] | None = None) -> AsyncIterator[Feed]:
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(doc or settings_doc(tmp_path / "state")))
    settings = load_settings(path)
    store = Store()
    store.set_targets(settings.targets)
    clock = FakeClock(wall=T0)
    engine = AlertEngine(settings, store, clock=clock)
    await engine.start()
    f = Feed(engine, store, clock)
    engine.dispatcher.announce = f.announced.append  # type: ignore[method-assign]
    try:
        yield f
    finally:
        await engine.aclose()


def icmp(sent: int, received: int) -> ProbeResult:
    loss = 1 - received / sent
    samples = (
        Sample("probe_icmp_packets_sent", float(sent)),
        Sample("probe_icmp_packets_received", float(received)),
        Sample("probe_icmp_packet_loss_ratio", loss),
    )
    if received:
        return ProbeResult(True, None, f"{received} of {sent} echoes answered", samples)
    return ProbeResult(False, "timeout", f"0 of {sent} echoes answered by 127.0.0.1", samples)


def defaced() -> ProbeResult:
    return ProbeResult(
        False,
        "content",
        'HTTP 200 in 12 ms, but forbidden text "Hacked by" present',
        (
            Sample("probe_http_status_code", 200.0),
            Sample("probe_http_content_match", 0.0),
            Sample("probe_http_content_forbidden_match", 0.0),
        ),
        facts=(
            ("forbidden", "Hacked by"),
            ("excerpt", "Hacked by Anonymous Team - greetz to all"),
        ),
    )


def http_ok() -> ProbeResult:
    return ProbeResult(
        True,
        None,
        "HTTP 200 in 12 ms, no forbidden text",
        (
            Sample("probe_http_status_code", 200.0),
            Sample("probe_http_content_match", 1.0),
            Sample("probe_http_content_forbidden_match", 1.0),
        ),
    )


async def _show(out: Path) -> None:  # pragma: no cover - a tool for looking, not a test
    from alerts.notify.email import build_message
    from alerts.notify.telegram import message
    from alerts.settings import EmailReceiver

    receiver = EmailReceiver.model_validate(
        {"type": "email", "host": "127.0.0.1", "from": "netmon@daklak.lab", "to": ["noc@x.vn"]}
    )
    async with feed(out) as f:
        f.result("venue-viettel-uplink", icmp(5, 5), at=0)
        f.result("venue-viettel-uplink", icmp(5, 0), at=10)
        f.result("bao-dak-lak", defaced(), at=12)
        down = f.notification("TargetDown", "venue-viettel-uplink")
        f.result("venue-viettel-uplink", icmp(5, 5), at=10 + 252)
        up = f.notification("TargetDown", "venue-viettel-uplink")
        page = f.notification("PageDefaced", "bao-dak-lak")
        for n in (down, up, page):
            for lang in ("vi", "en"):
                print(message(n, f.engine.ctx, lang), end="\n\n")
        for name, n in (("down", down), ("up", up), ("defaced", page)):
            for lang in ("vi", "en"):
                ctx = f.engine.ctx
                msg = build_message(n, receiver.model_copy(update={"language": lang}), ctx)
                html_part = msg.get_body(("html",))
                text_part = msg.get_body(("plain",))
                assert html_part is not None and text_part is not None
                (out / f"{name}-{lang}.html").write_text(html_part.get_content())
                (out / f"{name}-{lang}.txt").write_text(
                    f"Subject: {msg['Subject']}\n\n{text_part.get_content()}"
                )


if __name__ == "__main__":  # pragma: no cover
    import asyncio
    import sys

    asyncio.run(_show(Path(sys.argv[1] if len(sys.argv) > 1 else "var/messages")))
