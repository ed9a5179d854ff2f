"""Issue 13, findings 6 and 13: no notification can block the ones behind it, and no long
Telegram message is cut inside an entity.

Real servers on loopback: aiosmtpd for e-mail, an aiohttp webhook, and a stand-in for
Telegram's Bot API that checks what the real one checks (length, balanced tags, entities).
The dispatcher sleeps on a FakeClock, so "a day of retries" takes a second; each step waits
(in real time) until the workers are idle: sleeping on the clock or out of work.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import html
import html.parser
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from alerts import db
from alerts.dispatch import ROTATE_AFTER, Announcement, Dispatcher
from alerts.model import AlertSnapshot, Notification
from alerts.notify import NotifyContext
from alerts.notify.email import build_message
from alerts.notify.telegram import TelegramNotifier
from alerts.rules_default import shipped_rules
from alerts.settings import AlertsSettings, EmailReceiver, TelegramReceiver
from alerts.templates import render
from monitor.core.waiting import wait_for
from tests.support.alerts import metric, running, targets_server, write_settings
from tests.support.clock import FakeClock
from tests.support.common import free_port

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
INJECTED = "\r\nBcc: ke-gian@evil.example"
REJECT = "THU-CHET-554"  # the test SMTP server refuses a message whose subject has this


# --------------------------------------------------------------------------- servers


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        if REJECT in str(message["Subject"]):
            self.refused += 1
            return "554 5.6.0 message refused"
        self.envelopes.append(envelope)
        self.messages.append(message)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def email_receiver(port: int, to: str) -> dict[str, Any]:
    return {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "from": "netmon@daklak.lab",
        "to": [to],
    }


# --------------------------------------------------------------------------- alerts


def snapshot(
    key: str,
    summary: tuple[str, str],
    labels: dict[str, str] | None = None,
    *,
    description: str = "",
    generator_url: str = "",
    runbook_url: str = "",
) -> AlertSnapshot:
    all_labels = {"alertname": "InterfaceDown", "target": "olt-ea-kar", "severity": "warning"}
    all_labels.update(labels or {})
    annotations = {"summary": summary[0], "summary_vi": summary[0], "summary_en": summary[1]}
    if description:
        annotations["description_vi"] = annotations["description_en"] = description
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    return AlertSnapshot(
        key=key,
        rule=all_labels["alertname"],
        target="olt-ea-kar",
        status="firing",
        labels=all_labels,
        annotations=annotations,
        starts_at=time.time() - 60,
        ends_at=None,
        value=0.0,
        generator_url=generator_url,
    )


def poison_from_a_label() -> AlertSnapshot:
    site = "Buôn Ma Thuột" + INJECTED
    summary = (f"olt-ea-kar mất kết nối tại {site}", f"olt-ea-kar is down at {site}")
    return snapshot("poison-label", summary, {"site": site})


def poison_from_an_ifname() -> AlertSnapshot:
    """The shipped InterfaceDown rule's summary, filled with an ifName an agent sent."""
    (rule,) = [r for r in shipped_rules() if r["name"] == "InterfaceDown"]
    values = {"target": "olt-ea-kar", "ifName": "Gi0/1" + INJECTED}
    summary = (render(rule["summary"]["vi"], values), render(rule["summary"]["en"], values))
    return snapshot("poison-ifname", summary, {"ifName": values["ifName"]})


def fine(i: int) -> AlertSnapshot:
    summary = (f"cổng Gi0/{i} mất kết nối", f"interface Gi0/{i} is down")
    return snapshot(f"fine-{i}", summary, {"ifName": f"Gi0/{i}"})


def announce(d: Dispatcher, alert: AlertSnapshot, receivers: tuple[str, ...]) -> None:
    d.announce(Announcement(alert, flapping=False, held=False, receivers=receivers))


def notification(receiver: str, alert: AlertSnapshot, created: float) -> Notification:
    return Notification(uuid.uuid4().hex, receiver, "firing", alert, created)


# --------------------------------------------------------------------------- the dispatcher


@contextlib.asynccontextmanager
async def dispatcher(tmp_path: Path, alerts: dict[str, Any]) -> AsyncIterator[Dispatcher]:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    ctx = NotifyContext(zone=ZONE, language="vi", external_url="http://127.0.0.1:8080/")
    d = Dispatcher(AlertsSettings.model_validate(alerts), database, ctx, FakeClock(), list)
    d.start()
    try:
        yield d
    finally:
        await d.aclose()
        await ctx.aclose()
        await database.close()


async def idle(d: Dispatcher) -> None:
    clock = d._clock
    assert isinstance(clock, FakeClock)
    await wait_for(
        "the workers to wait on the clock or for work",
        lambda: d.pending == 0 or clock._sleepers,
        every=0.005,
    )


async def retry_for(d: Dispatcher, seconds: float, step: float = 300.0) -> None:
    """``seconds`` of the clock, in steps no longer than the longest backoff."""
    clock = d._clock
    assert isinstance(clock, FakeClock)
    end = clock.now + seconds
    await idle(d)
    while clock.now < end and d.pending:
        await clock.advance(min(step, end - clock.now))
        await idle(d)


# --------------------------------------------------------------------------- finding 6


@pytest.mark.parametrize("poison", [poison_from_a_label, poison_from_an_ifname])
async def test_a_line_break_in_a_subject_does_not_hold_back_the_mail_behind_it(
    tmp_path: Path, poison: Any
) -> None:
    with smtp_server() as (mailbox, port):
        alerts = {"receivers": {"truc-ca": email_receiver(port, "truc-ca@daklak.lab")}}
        async with dispatcher(tmp_path, alerts) as d:
            announce(d, poison(), ("truc-ca",))
            for i in range(5):
                announce(d, fine(i), ("truc-ca",))
            # Up to the end of delivery.max_age (24 h): on main, 0 of the 5 behind it came.
            await retry_for(d, 24 * 3600.0 - 600)
            behind = [s for s in mailbox.subjects() if "Gi0/" in s and "Bcc" not in s]
            print(f"\ne-mails delivered behind the poison: {len(behind)} of 5")
            assert len(behind) == 5
            assert d.pending == 0 and d.dead["truc-ca"] == 0
    first = mailbox.messages[0]  # the poison itself, on one line
    assert "\r" not in str(first["Subject"]) and "\n" not in str(first["Subject"])
    assert "ke-gian@evil.example" in str(first["Subject"])  # kept as words, not as a header
    assert first["Bcc"] is None
    assert all(e.rcpt_tos == ["truc-ca@daklak.lab"] for e in mailbox.envelopes)
    text = first.get_body(("plain",))
    assert "Mã cảnh báo: InterfaceDown · olt-ea-kar" in text.get_content()  # UTF-8, Vietnamese


def test_header_fields_lose_their_control_characters_the_body_keeps_vietnamese() -> None:
    receiver = EmailReceiver.model_validate(
        {
            **email_receiver(25, "noc@daklak.lab"),
            "from": "NOC Đắk Lắk\r\n\x00\x85Trực ca <netmon@daklak.lab>",
        }
    )
    ctx = NotifyContext(zone=ZONE, language="vi", external_url="")
    msg = build_message(notification("truc-ca", poison_from_an_ifname(), 0.0), receiver, ctx)
    wire = msg.as_bytes()
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["From"].addresses[0].addr_spec == "netmon@daklak.lab"
    assert parsed["From"].addresses[0].display_name == "NOC Đắk Lắk Trực ca"
    for field in ("Subject", "From", "To"):
        assert not re.search("[\x00-\x1f\x7f-\x9f]", str(parsed[field])), field
    assert str(parsed["Subject"]).startswith("[Cảnh báo] olt-ea-kar")
    body = parsed.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert "Cổng Gi0/1" in body.get_content() or "cổng Gi0/1" in body.get_content()


async def test_a_message_that_cannot_be_built_is_a_dead_letter_and_the_rest_flow(
    tmp_path: Path,
) -> None:
    """The general guard: a body that cannot be encoded (a lone surrogate from an agent's
    bytes) fails the same way on every try; it dies at once, the others pass, and the other
    receiver is told."""
    bad = snapshot("unencodable", ("olt-ea-kar mất kết nối", "olt-ea-kar is down"))
    bad.labels["ifAlias"] = "uplink \udcff VNPT"
    with smtp_server() as (mailbox, port), smtp_server() as (noc, noc_port):
        alerts = {
            "receivers": {
                "truc-ca": email_receiver(port, "truc-ca@daklak.lab"),
                "noc": email_receiver(noc_port, "noc@daklak.lab"),
            }
        }
        async with dispatcher(tmp_path, alerts) as d:
            announce(d, bad, ("truc-ca",))
            for i in range(3):
                announce(d, fine(i), ("truc-ca",))
            await retry_for(d, 3600.0)
            assert len(mailbox.messages) == 3
            assert d.dead["truc-ca"] == 1 and d.pending == 0
    (told,) = noc.messages
    assert str(told["Subject"]).startswith("[Cảnh báo] Không gửi được thông báo tới truc-ca")
    text = told.get_body(("plain",)).get_content()
    assert "Mã cảnh báo: NotificationDead" in text and "UnicodeEncodeError" in text


async def test_a_head_that_keeps_failing_steps_aside_and_is_still_retried(
    tmp_path: Path,
) -> None:
    """Retryable errors keep their backoff, but a head that fails for itself (the webhook
    answers 503 to that one alert) lets the ones behind it go first, ROTATE_AFTER tries on."""
    seen: list[str] = []
    healed = False

    async def hook(request: web.Request) -> web.Response:
        payload = await request.json()
        key = payload["alerts"][0]["fingerprint"]
        seen.append(key)
        if key == "stuck" and not healed:
            return web.Response(status=503, text="busy")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    alerts = {"receivers": {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}}}
    try:
        async with dispatcher(tmp_path, alerts) as d:
            announce(d, snapshot("stuck", ("a", "a")), ("hook",))
            for i in range(3):
                announce(d, fine(i), ("hook",))
            await retry_for(d, 3600.0)
            delivered = [k for k in seen if k.startswith("fine-")]
            print(f"\nwebhooks delivered behind a failing head in 1 h: {len(delivered)} of 3")
            assert delivered == ["fine-0", "fine-1", "fine-2"]
            assert seen[:ROTATE_AFTER] == ["stuck"] * ROTATE_AFTER
            tries = seen.count("stuck")
            assert tries <= 3600 / (300 / 2) + 2 * ROTATE_AFTER  # still bounded by the backoff
            assert d.pending == 1 and d.dead["hook"] == 0  # retryable: not dead
            healed = True
            await retry_for(d, 3600.0)
            assert d.pending == 0 and seen[-1] == "stuck"
    finally:
        await runner.cleanup()


def _outbox(path: Path, receiver: str, alerts: list[AlertSnapshot]) -> None:
    """What an earlier netmon left in its outbox."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(db.SCHEMA)
    now = time.time()
    for i, alert in enumerate(alerts):
        db.outbox_add(notification(receiver, alert, now - 30 + i))(conn)
    conn.commit()
    conn.close()


def _settings(tmp_path: Path, target: dict[str, Any], receivers: dict[str, Any]) -> Path:
    alerts = {
        "shipped_rules": False,
        "receivers": receivers,
        "routes": [{"match": {"severity": ["critical"]}, "receivers": list(receivers)}],
    }
    return write_settings(tmp_path / "s.toml", [target], alerts)


async def test_a_poison_left_in_the_outbox_does_not_block_a_restart(tmp_path: Path) -> None:
    _outbox(
        tmp_path / "state" / "alerts.sqlite",
        "truc-ca",
        [poison_from_an_ifname()] + [fine(i) for i in range(5)],
    )
    with smtp_server() as (mailbox, port):
        async with targets_server() as web_:
            receivers = {"truc-ca": email_receiver(port, "truc-ca@daklak.lab")}
            path = _settings(tmp_path, web_.target("olt-ea-kar"), receivers)
            async with running(path) as service:
                await wait_for("the mail behind the poison", lambda: len(mailbox.messages) == 6, 15)
                await wait_for("an empty outbox", lambda: service.alerts.dispatcher.pending == 0)
    assert sum("Gi0/" in s for s in mailbox.subjects()) == 6


async def test_a_dead_letter_is_counted_reported_and_stays_dead_after_a_restart(
    tmp_path: Path,
) -> None:
    refused = snapshot("refused", (f"olt-ea-kar {REJECT}", f"olt-ea-kar {REJECT}"))
    state = tmp_path / "state" / "alerts.sqlite"
    _outbox(state, "truc-ca", [refused] + [fine(i) for i in range(3)])
    with smtp_server() as (mailbox, port), smtp_server() as (noc, noc_port):
        async with targets_server() as web_:
            receivers = {
                "truc-ca": email_receiver(port, "truc-ca@daklak.lab"),
                "noc": email_receiver(noc_port, "noc@daklak.lab"),
            }
            path = _settings(tmp_path, web_.target("olt-ea-kar"), receivers)
            async with running(path) as service:
                await wait_for("the mail behind it", lambda: len(mailbox.messages) == 3)
                await wait_for("the other receiver told", lambda: len(noc.messages) == 1)
                dead = metric(service, "netmon_notifications_dead_total", receiver="truc-ca")
                assert dead == 1
                assert metric(service, "netmon_notifications_dead_total", receiver="noc") == 0
                await wait_for("an empty outbox", lambda: service.alerts.dispatcher.pending == 0)
            assert mailbox.refused == 1
            async with running(path) as service:  # the dead letter stays dead
                await wait_for("an empty outbox", lambda: service.alerts.dispatcher.pending == 0)
                assert metric(service, "netmon_notifications_dead_total", receiver="truc-ca") == 0
    assert mailbox.refused == 1 and len(mailbox.messages) == 3
    (told,) = noc.messages
    assert str(told["Subject"]).startswith("[Cảnh báo] Không gửi được thông báo tới truc-ca")
    assert "thư chết" in str(told["Subject"])
    assert "Mã cảnh báo: NotificationDead" in told.get_body(("plain",)).get_content()
    conn = sqlite3.connect(state)
    rows = conn.execute("SELECT receiver, error FROM dead_letters").fetchall()
    pending = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()
    conn.close()
    assert len(rows) == 1 and rows[0][0] == "truc-ca" and "SMTP 554" in rows[0][1]
    assert pending == (0,)


# --------------------------------------------------------------------------- finding 13

_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}


class _Entities(html.parser.HTMLParser):
    """What Telegram's parse_mode=HTML accepts: known tags, balanced; only the named
    entities lt, gt, amp, quot; no bare <, > or &."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in _TAGS:
            self.errors.append(f"unsupported start tag {tag!r}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected end tag {tag!r}")

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append(f"unsupported entity &{name};")
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data or "&" in data:
            self.errors.append(f"unescaped markup in {data[:40]!r}")
        self.text.append(data)


def telegram_errors(text: str) -> tuple[list[str], str]:
    errors: list[str] = []
    if len(text.encode("utf-16-le")) // 2 > 4096:
        errors.append("message is too long")
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        errors.append("a bare or cut entity")
    parser = _Entities()
    parser.feed(text)
    parser.close()
    errors += parser.errors
    if parser.stack:
        errors.append(f"unclosed tags {parser.stack}")
    return errors, "".join(parser.text)


async def test_a_long_telegram_message_full_of_markup_is_accepted_and_keeps_its_link(
    tmp_path: Path,
) -> None:
    accepted: list[str] = []
    refused: list[list[str]] = []

    async def send_message(request: web.Request) -> web.Response:
        data = await request.json()
        errors, _ = telegram_errors(data["text"])
        if errors:
            refused.append(errors)
            description = "Bad Request: can't parse entities: " + "; ".join(errors)
            return web.json_response(
                {"ok": False, "error_code": 400, "description": description}, status=400
            )
        accepted.append(data["text"])
        return web.json_response({"ok": True, "result": {"message_id": len(accepted)}})

    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", send_message)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    link = "http://127.0.0.1:8080/alerts?target=olt-ea-kar&rule=InterfaceDown"
    runbook = "http://127.0.0.1:8080/runbook/interface-down?a=1&b=2"
    chunk = 'Cổng <Gi0/1> & <b>uplink</b> "VNPT" && >< '
    long_text = (chunk * (10_000 // len(chunk) + 1))[:10_000]
    alert = snapshot(
        "long",
        (f"olt-ea-kar: {chunk * 10}", f"olt-ea-kar: {chunk * 10}"),
        {"ifAlias": chunk},
        description=long_text,
        generator_url=link,
        runbook_url=runbook,
    )
    receiver = TelegramReceiver.model_validate(
        {
            "type": "telegram",
            "base_url": f"http://127.0.0.1:{port}",
            "bot_token": "123:abc",
            "chat_id": -100123,
        }
    )
    ctx = NotifyContext(zone=ZONE, language="vi", external_url="")
    try:
        await TelegramNotifier("nhom", receiver, ctx).send([notification("nhom", alert, 0.0)])
    finally:
        await ctx.aclose()
        await runner.cleanup()
    assert refused == [] and len(accepted) == 1
    (text,) = accepted
    errors, plain = telegram_errors(text)
    print(f"\ntelegram text: {len(text)} characters, {len(plain)} after parsing, {errors}")
    assert errors == []
    assert len(text) <= 4096
    assert plain.startswith("🟠 Cảnh báo · olt-ea-kar: Cổng <Gi0/1>")
    assert "…" in plain
    assert link in plain and runbook in plain
    assert plain.rstrip().endswith(link)


async def test_the_telegram_stand_in_refuses_what_telegram_refuses() -> None:
    """The stand-in's checks can fail: a cut entity, a lost end tag, too many characters."""
    assert telegram_errors("<b>a</b> &lt;b&gt;")[0] == []
    assert telegram_errors("<b>a</b> &l…")[0]
    assert telegram_errors("<b>a &lt;")[0]
    assert telegram_errors("a" * 4097)[0]
    assert telegram_errors("a < b")[0]
