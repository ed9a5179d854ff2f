"""``netmon drill pages``: what reaches the on-call engineer's phone, counted (issue 12).

The shipped lab (loopback, in-process) and ``netmon run`` on the shipped ``settings.toml``,
every target probed every 2 s, with two receivers that count what they get: a webhook
(Alertmanager's JSON, one message a notification) and a Telegram Bot API stand-in (the text
the engineer reads; the real API is out of reach here). Then the faults a new user met, one
after the other, each held, healed and waited out until its alerts resolve:

    start-up          nothing wrong: every page is noise (young SNMP agents paged)
    site-503          a website answering 503
    site-defaced      a website answering 200 with "Hacked by" instead of its banner
    router-down       an edge router's uplink down and its BGP session lost (with traps)
    agent-reboot      an edge router's agent restarting (sysUpTime from zero, coldStart)
    icmp-loss         about 30 % of echoes to a carrier link dropped (root and nftables)
    escalate-unacked  a website down and nobody acknowledges: after 20 s the route's
                      escalation step pages a second receiver
    escalate-acked    the same, but the on-call engineer presses Telegram's button on the
                      first message: no escalation

For each, the messages per receiver, the alerts they name, and the Telegram texts that mix
two languages. Run it on a loopback of its own (``ip netns exec NS netmon drill pages``)
when another lab holds 127.0.1.x here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import tomli_w
from aiohttp import web

from monitor.core.waiting import wait_for
from monitor.lab.faults import LabError
from monitor.lab.server import Lab

from .processes import NetmonProcess, netmon_run

__all__ = ["FAULTS", "Fault", "FaultRecord", "run_pages_drill"]

INTERVAL = "2s"
TOKEN = "drill-bot-token"
CHAT = "-1001000000001"


ESCALATE_AFTER = "20s"


@dataclass(frozen=True)
class Fault:
    name: str
    target: str  # the lab target and netmon target of the same name
    mode: str
    hold: float  # seconds the fault lasts
    root: bool = False  # needs nftables
    ack: bool = False  # press the Telegram button of the fault's first message


FAULTS = (
    Fault("site-503", "cong-thong-tin-tinh", "503", 20.0),
    Fault("site-defaced", "bao-dak-lak", "deface", 20.0),
    Fault("router-down", "viettel-edge-router", "iface-down", 30.0),
    Fault("agent-reboot", "vnpt-edge-router", "reboot", 15.0),
    Fault("icmp-loss", "venue-viettel-uplink", "loss", 90.0, root=True),
    Fault("escalate-unacked", "so-khcn", "down", 40.0),
    Fault("escalate-acked", "so-vh-tt-dl", "down", 40.0, ack=True),
)

# Words only a Vietnamese message has, and words only an English one has.
_VI = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
_EN = re.compile(r"— English —|\b(is down|has failed|since|severity|echoes|answered)\b")


@dataclass
class Message:
    at: float
    receiver: str
    status: str
    alerts: list[tuple[str, str, str]]  # (alertname, target, status)
    text: str = ""

    @property
    def mixed(self) -> bool:
        return bool(self.text and _VI.search(self.text) and _EN.search(self.text))


@dataclass
class FaultRecord:
    name: str
    target: str
    mode: str
    skipped: str = ""
    webhook_messages: int = 0
    webhook_firing: int = 0
    telegram_messages: int = 0
    escalation_messages: int = 0  # escalation messages naming the fault's target
    escalated: list[str] = field(default_factory=list)  # alertname/target of every escalation
    acknowledged: bool = False
    mixed_language: int = 0
    alerts: list[str] = field(default_factory=list)  # alertname/target:status, in order
    examples: list[str] = field(default_factory=list)  # the first Telegram texts, verbatim
    texts: list[str] = field(default_factory=list)  # every Telegram text, verbatim

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Receivers:
    """The webhook and the Telegram stand-in, on 127.0.0.1; every message recorded."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._next_id = 0
        self.buttons: dict[str, str] = {}  # alert key -> the text of the message it came on
        self.updates: list[dict[str, Any]] = []  # presses for getUpdates
        self.started = 0.0
        self.answers: list[str] = []

    async def _webhook(self, request: web.Request) -> web.Response:
        return await self._hook(request, "webhook")

    async def _escalation(self, request: web.Request) -> web.Response:
        return await self._hook(request, "escalation")

    async def _hook(self, request: web.Request, receiver: str) -> web.Response:
        body = await request.json()
        alerts = [
            (
                str(a.get("labels", {}).get("alertname", "")),
                str(a.get("labels", {}).get("target", "")),
                str(a.get("status", "")),
            )
            for a in body.get("alerts", [])
        ]
        self.messages.append(Message(time.time(), receiver, str(body.get("status")), alerts))
        return web.json_response({"ok": True})

    async def _telegram(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        body = await request.json()
        self._next_id += 1
        text = str(body.get("text", ""))
        self.messages.append(Message(time.time(), "telegram", "", [], text=text))
        for row in body.get("reply_markup", {}).get("inline_keyboard", []):
            for key in row:
                data = str(key.get("callback_data", ""))
                if data.startswith("ack:"):
                    self.buttons[data.removeprefix("ack:")] = text
        return web.json_response({"ok": True, "result": {"message_id": self._next_id}})

    def press(self, key: str) -> None:
        """The on-call engineer presses the button of ``key``'s message."""
        self.updates.append(
            {
                "update_id": len(self.updates) + 1,
                "callback_query": {
                    "id": f"press-{len(self.updates) + 1}",
                    "from": {"id": 1001, "username": "ky-su-truc"},
                    "message": {"message_id": 1, "chat": {"id": int(CHAT)}},
                    "data": f"ack:{key}",
                },
            }
        )

    async def start(self) -> None:
        self.started = time.time()
        app = web.Application()
        app.router.add_post("/hook", self._webhook)
        app.router.add_post("/escalation", self._escalation)
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/bot{token}/{method}", self._other)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def _other(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.json() if request.can_read_body else {}
        if method == "getUpdates":
            offset = int(body.get("offset", 0))
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if not ready:  # a short long poll: the drill has presses to make
                await asyncio.sleep(0.5)
            return web.json_response({"ok": True, "result": ready})
        if method == "answerCallbackQuery":
            self.answers.append(str(body.get("text", "")))
        return web.json_response({"ok": True, "result": True})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def since(self, at: float) -> list[Message]:
        return [m for m in self.messages if m.at >= at]


def drill_settings(shipped: Path, workdir: Path, port: int, receivers_port: int) -> Path:
    """The shipped settings, every target every 2 s, alerts to the two counting receivers."""
    doc: dict[str, Any] = tomllib.loads(shipped.read_text(encoding="utf-8"))
    doc.pop("include", None)
    doc["server"] = {
        **doc.get("server", {}),
        "listen": f"127.0.0.1:{port}",
        "state_dir": str(workdir / "var"),
    }
    doc["defaults"] = {**doc.get("defaults", {}), "interval": INTERVAL}
    for target in doc.get("targets", []):
        target["interval"] = INTERVAL
    for phase in doc.get("phases", []):
        phase.pop("interval", None)
    alerts = doc.setdefault("alerts", {})
    base = f"http://127.0.0.1:{receivers_port}"
    alerts["receivers"] = {
        "drill-webhook": {"type": "webhook", "url": f"{base}/hook"},
        "drill-telegram": {
            "type": "telegram",
            "base_url": base,
            "bot_token": TOKEN,
            "chat_id": CHAT,
            "acknowledge": True,
        },
        "drill-escalation": {"type": "webhook", "url": f"{base}/escalation"},
    }
    alerts["routes"] = [
        {
            "match": {"severity": ["critical", "warning", "info"]},
            "receivers": ["drill-webhook", "drill-telegram"],
            "group_wait": "10s",  # a router's uplink and BGP session: one page
            "escalate": [{"after": ESCALATE_AFTER, "receivers": ["drill-escalation"]}],
        }
    ]
    path = workdir / "drill-pages.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _firing(http: aiohttp.ClientSession, base: str, target: str | None) -> list[str]:
    async with http.get(f"{base}/api/v1/alerts") as resp:
        doc = await resp.json()
    items = doc.get("alerts", doc) if isinstance(doc, dict) else doc
    return [
        str(a.get("rule") or a.get("labels", {}).get("alertname"))
        for a in items
        if a.get("state") == "firing"
        and (target is None or a.get("target") == target)
        and a.get("rule") != "Watchdog"
    ]


async def _all_probed(http: aiohttp.ClientSession, base: str) -> bool:
    async with http.get(f"{base}/api/v1/targets") as resp:
        doc = await resp.json()
    items = doc.get("targets", doc) if isinstance(doc, dict) else doc
    return bool(items) and all(t.get("last_probe") or t.get("latest") for t in items)


def _record(fault: Fault, messages: list[Message]) -> FaultRecord:
    rec = FaultRecord(fault.name, fault.target, fault.mode)
    for m in messages:
        if m.receiver == "escalation":
            named = [f"{name}/{target}" for name, target, status in m.alerts if status == "firing"]
            rec.escalated += named
            rec.escalation_messages += any(a.endswith("/" + fault.target) for a in named)
        elif m.receiver == "webhook":
            rec.webhook_messages += 1
            rec.webhook_firing += m.status == "firing"
            rec.alerts += [f"{name}/{target}:{status}" for name, target, status in m.alerts]
        else:
            rec.telegram_messages += 1
            rec.mixed_language += m.mixed
            rec.texts.append(m.text)
            if len(rec.examples) < 2:
                rec.examples.append(m.text)
    return rec


@contextlib.asynccontextmanager
async def _running(workdir: Path, shipped: Path) -> AsyncIterator[tuple[Receivers, str, Lab]]:
    receivers = Receivers()
    await receivers.start()
    # Where the shipped settings look for the lab's CA (http.ca_file = "var/lab/ca.pem",
    # relative to the settings' folder, which netmon runs in).
    lab = Lab(workdir / "var" / "lab", control=None)
    await lab.start()
    port = _free_port()
    config = drill_settings(shipped, workdir, port, receivers.port)
    node: NetmonProcess
    try:
        async with netmon_run(config, log_level="WARNING") as node:
            _ = node
            yield receivers, f"http://127.0.0.1:{port}", lab
    finally:
        await lab.close()
        await receivers.close()


async def run_pages_drill(
    workdir: Path, shipped: Path, *, root: bool, settle: float = 30.0
) -> list[FaultRecord]:
    """The start-up, then each fault in ``FAULTS``; one record each."""
    records: list[FaultRecord] = []
    async with (
        _running(workdir, shipped) as (receivers, base, lab),
        aiohttp.ClientSession() as http,
    ):
        # Everything from netmon's start counts: a page in the first seconds is start-up noise.
        began = receivers.started
        await wait_for("every target probed", lambda: _all_probed(http, base), 60, 0.5)
        await asyncio.sleep(settle)  # the first results of every kind, and what they page
        start_up = _record(Fault("start-up", "", "", settle), receivers.since(began))
        records.append(start_up)
        for fault in FAULTS:
            if fault.root and not root:
                records.append(FaultRecord(fault.name, fault.target, fault.mode, "needs root"))
                continue
            began = time.time()
            try:
                await lab.fail(fault.target, fault.mode)
            except LabError as exc:
                records.append(FaultRecord(fault.name, fault.target, fault.mode, str(exc)))
                continue
            if fault.ack:
                rec_ack = await _press_first(receivers, fault.target, fault.hold)
            else:
                rec_ack = False
                await asyncio.sleep(fault.hold)
            await lab.heal(fault.target)

            async def quiet(target: str = fault.target) -> bool:
                # The fault's own alerts: others may stand for long.
                return not await _firing(http, base, target)

            with contextlib.suppress(TimeoutError):  # still firing: the record shows it
                # A level alert (loss) ends only after it settled 2 minutes: wait for it.
                await wait_for("every alert resolved", quiet, 200, 1.0)
            await asyncio.sleep(6.0)  # the resolved messages' delivery
            record = _record(fault, receivers.since(began))
            record.acknowledged = rec_ack
            records.append(record)
    return records


async def _press_first(receivers: Receivers, target: str, hold: float) -> bool:
    """Press the button of the first message that names ``target``, as soon as it comes;
    then wait out the rest of ``hold``. Whether a button was pressed."""
    began = time.monotonic()

    def button() -> str | None:
        return next((k for k, text in receivers.buttons.items() if target in text), None)

    try:
        key = await wait_for(f"a button for {target}", button, hold, 0.2)
    except TimeoutError:
        return False
    receivers.press(str(key))
    await asyncio.sleep(max(0.0, hold - (time.monotonic() - began)))
    return True


def markdown(records: list[FaultRecord]) -> str:
    lines = [
        "| fault | webhook messages (firing) | Telegram messages | escalations of the fault "
        "| mixed-language texts | alerts |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        if r.skipped:
            lines.append(f"| {r.name} | skipped: {r.skipped} | | | | |")
            continue
        names = sorted({a.rsplit(":", 1)[0] for a in r.alerts if a.endswith(":firing")})
        acked = " (acknowledged)" if r.acknowledged else ""
        lines.append(
            f"| {r.name}{acked} | {r.webhook_messages} ({r.webhook_firing}) "
            f"| {r.telegram_messages} | {r.escalation_messages} | {r.mixed_language} "
            f"| {', '.join(names)} |"
        )
    total = sum(r.webhook_firing for r in records)
    lines.append(f"\nFiring webhook messages in all: {total}.")
    return "\n".join(lines)


def write(records: list[FaultRecord], stem: Path) -> tuple[Path, Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    examples = "\n\n".join(
        f"### {r.name}\n\n" + "\n\n".join(f"```\n{t}\n```" for t in r.examples)
        for r in records
        if r.examples
    )
    md.write_text(
        "# netmon drill pages\n\n" + markdown(records) + "\n\n## Telegram texts\n\n" + examples,
        encoding="utf-8",
    )
    js.write_text(
        json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    return md, js
