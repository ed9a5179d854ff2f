"""Receivers against real servers on loopback: Debian's Alertmanager (API v2), aiosmtpd with
STARTTLS and AUTH, and a stand-in for Telegram's Bot API.

Telegram's real API (api.telegram.org) is out of reach from these machines, so a local aiohttp
server speaks the shape of ``sendMessage`` (the documented request and answer, including a 429
with ``parameters.retry_after``). That stand-in is the only mock in the alert tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import os
import re
import shutil
import ssl
import subprocess
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from monitor.core.waiting import wait_for
from tests.support.alerts import (
    alert_states,
    metric,
    running,
    sink_server,
    targets_server,
    write_settings,
)
from tests.support.common import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
needs_alertmanager = pytest.mark.skipif(
    not os.access(ALERTMANAGER, os.X_OK),
    reason="Debian prometheus-alertmanager is not installed (make debs-test installs it)",
)


@contextlib.asynccontextmanager
async def alertmanager(tmp_path: Path, hook_url: str) -> AsyncIterator[str]:
    """A real Alertmanager on loopback whose only receiver is the test's webhook."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        textwrap.dedent(
            f"""
            route:
              receiver: hook
              group_by: ['alertname', 'target']
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: hook
                webhook_configs:
                  - url: {hook_url}
                    send_resolved: true
            """
        )
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: a cluster of one on loopback
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                assert proc.returncode is None, "Alertmanager exited"
                try:
                    async with http.get(f"{base}/-/ready") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for("Alertmanager to be ready", ready, 30, 0.1)
        yield base
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def am_alerts(http: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with http.get(f"{base}/api/v2/alerts") as resp:
        assert resp.status == 200
        data: list[dict[str, Any]] = await resp.json()
        return data


@needs_alertmanager
async def test_alertmanager_fire_keepalive_resolve(tmp_path: Path) -> None:
    async with (
        targets_server() as web_,
        sink_server() as hook,
        alertmanager(tmp_path, hook.url) as am,
        aiohttp.ClientSession() as http,
    ):
        dead = f"http://127.0.0.1:{free_port()}"  # a cluster member that is down
        alerts = {
            "receivers": {
                "noc": {
                    "type": "alertmanager",
                    "urls": [am, dead],
                    "resend_interval": "1s",
                    "timeout": "2s",
                }
            },
            "routes": [
                {"match": {"severity": ["critical", "warning", "none"]}, "receivers": ["noc"]}
            ],
            "rules": [
                {"name": "TargetDown", "failures": 1, "recoveries": 1},
                # A 503 pages HttpStatusError (alerts/inhibit.py); here TargetDown is the page.
                {"name": "HttpStatusError", "enabled": False},
            ],
        }
        path = write_settings(
            tmp_path / "s.toml",
            [web_.target("bao-dak-lak", labels={"carrier": "vnpt"})],
            alerts,
        )
        async with running(path) as service:

            async def in_am(name: str) -> dict[str, Any] | None:
                for alert in await am_alerts(http, am):
                    if alert["labels"].get("alertname") == name and (
                        name == "Watchdog" or alert["labels"].get("target") == "bao-dak-lak"
                    ):
                        return alert
                return None

            watchdog = await wait_for("the Watchdog in Alertmanager", lambda: in_am("Watchdog"))
            assert watchdog["labels"]["severity"] == "none"
            web_.modes["bao-dak-lak"] = "fail"
            alert = await wait_for("TargetDown in Alertmanager", lambda: in_am("TargetDown"))
            assert alert["labels"]["carrier"] == "vnpt"
            assert alert["labels"]["phase"] == "none"
            assert alert["annotations"]["summary_vi"] == (
                "bao-dak-lak gặp sự cố: máy chủ trả mã HTTP lỗi"
            )
            assert alert["status"]["state"] == "active"
            await wait_for(
                "Alertmanager's webhook",
                lambda: any(
                    r["status"] == "firing" and r["commonLabels"].get("target")
                    for r in hook.requests
                ),
            )
            # Kept alive past endsAt (4 resend intervals) by the re-sends.
            await asyncio.sleep(5)
            assert await in_am("TargetDown") is not None
            web_.modes["bao-dak-lak"] = "ok"
            await wait_for("resolved in Alertmanager", lambda: _gone(in_am("TargetDown")))
            await wait_for(
                "the resolved webhook",
                lambda: any(
                    r["status"] == "resolved" and r["commonLabels"].get("target")
                    for r in hook.requests
                ),
            )
            # One member down does not stop delivery, and nothing was dropped.
            assert (
                metric(service, "netmon_notifications_total", receiver="noc", outcome="dropped")
                == 0
            )
        # netmon stopped: the Watchdog expires in Alertmanager by itself.
        await wait_for("the Watchdog to expire", lambda: _gone(in_am("Watchdog")), 15)


async def _gone(pending: Any) -> bool:
    return await pending is None


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append(message)
        return "250 OK"


async def test_email_over_starttls_in_vietnamese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == "mật-khẩu".encode())

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    monkeypatch.setenv("NETMON_TEST_SMTP_PASSWORD", "mật-khẩu")
    try:
        async with targets_server() as web_:
            alerts = {
                "receivers": {
                    "truc-ca": {
                        "type": "email",
                        "host": "127.0.0.1",
                        "port": port,
                        "ca_file": str(ca_file),
                        "user": "netmon",
                        "password_env": "NETMON_TEST_SMTP_PASSWORD",
                        "from": "netmon@daklak.lab",
                        "to": ["truc-ca@daklak.lab", "noc@daklak.lab"],
                    }
                },
                "routes": [
                    {"match": {"severity": ["critical", "warning"]}, "receivers": ["truc-ca"]}
                ],
                "rules": [
                    {
                        "name": "TargetDown",
                        "failures": 1,
                        "recoveries": 1,
                        "runbook_url": "http://127.0.0.1/runbook/target-down",
                    },
                    {"name": "HttpStatusError", "enabled": False},  # TargetDown is the page
                ],
            }
            titled = web_.target("so-tt-tt", title="Sở Thông tin và Truyền thông")
            path = write_settings(tmp_path / "s.toml", [titled], alerts)
            async with running(path):
                web_.modes["so-tt-tt"] = "fail"
                await wait_for("the firing e-mail", lambda: len(mailbox.messages) == 1)
                web_.modes["so-tt-tt"] = "ok"
                await wait_for("the resolved e-mail", lambda: len(mailbox.messages) == 2)
    finally:
        controller.stop()
    firing, resolved = mailbox.messages
    title = "Sở Thông tin và Truyền thông"
    assert re.fullmatch(
        rf"\[Cảnh báo\] {title} gặp sự cố: máy chủ trả mã HTTP lỗi"
        r" · từ \d\d:\d\d \d\d/\d\d/\d{4}",
        str(firing["Subject"]),
    ), firing["Subject"]
    assert re.fullmatch(rf"\[Đã khôi phục\] {title} · sau \d+ giây", str(resolved["Subject"])), (
        resolved["Subject"]
    )
    assert "=?utf-8?" in mailbox.envelopes[0].content.decode().lower()  # RFC 2047 on the wire
    text_part = firing.get_body(("plain",))
    assert text_part is not None and text_part.get_content_charset() == "utf-8"
    text = text_part.get_content()
    assert "Bằng chứng: máy chủ trả mã HTTP 503" in text and "(UTC+07:00)" in text
    assert "Nhóm: Trang thông tin điện tử" in text and "English" not in text
    assert "Hướng dẫn xử lý: http://127.0.0.1/runbook/target-down" in text
    assert re.search(r"Xem trên trang giám sát: http://\S+/targets/so-tt-tt\n", text)
    assert mailbox.envelopes[0].rcpt_tos == ["truc-ca@daklak.lab", "noc@daklak.lab"]
    assert logins and logins[0][0] == b"netmon"


class TelegramStandIn:
    """Speaks the shape of the Bot API's sendMessage (POST /bot<token>/sendMessage)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []  # queued non-ok answers
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _send(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        if self.answers:
            status, body = self.answers.pop(0)
            return web.json_response(body, status=status)
        data = await request.json()
        self.messages.append(data)
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": len(self.messages),
                    "date": int(time.time()),
                    "chat": {"id": data["chat_id"]},
                    "text": data["text"],
                },
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._send)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def test_telegram_send_message_retry_after_and_secret_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "123456:AAF-bi-mat-cua-bot"
    token_file = tmp_path / "bot-token"
    token_file.write_text(token + "\n")
    bot = TelegramStandIn(token)
    await bot.start()
    bot.answers.append(
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
    )
    caplog.set_level(logging.DEBUG)
    try:
        async with targets_server() as web_:
            alerts = {
                "receivers": {
                    "nhom": {
                        "type": "telegram",
                        "base_url": f"http://127.0.0.1:{bot.port}",
                        "bot_token_file": str(token_file),
                        "chat_id": -1001234567890,
                    },
                    "sai-token": {
                        "type": "telegram",
                        "base_url": f"http://127.0.0.1:{bot.port}",
                        "bot_token": "999:sai",
                        "chat_id": "@noc",
                    },
                },
                "routes": [
                    {
                        "match": {"severity": ["critical", "warning"]},
                        "receivers": ["nhom", "sai-token"],
                    }
                ],
                "rules": [
                    {"name": "TargetDown", "failures": 1, "recoveries": 1},
                    # A 503 pages HttpStatusError (alerts/inhibit.py); here TargetDown is the page.
                    {"name": "HttpStatusError", "enabled": False},
                ],
                "delivery": {"backoff_initial": "100ms", "backoff_max": "2s"},
            }
            path = write_settings(tmp_path / "s.toml", [web_.target("huyen-krong-pac")], alerts)
            async with running(path) as service:
                web_.modes["huyen-krong-pac"] = "fail"
                # The page first; the bad token's dead letter is then told to "nhom" too.
                await wait_for("the message after the 429", lambda: len(bot.messages) >= 1)
                await wait_for(
                    "the bad token dropped",
                    lambda: (
                        metric(
                            service,
                            "netmon_notifications_total",
                            receiver="sai-token",
                            outcome="dropped",
                        )
                        == 1
                    ),
                )
                assert (
                    metric(service, "netmon_notifications_total", receiver="nhom", outcome="retry")
                    == 1
                )
                api = alert_states(service)
                assert api[("huyen-krong-pac", "TargetDown")]["state"] == "firing"
                await wait_for("the dead letter told to nhom", lambda: len(bot.messages) == 2)
    finally:
        await bot.close()
    assert "NotificationDead" in bot.messages[1]["text"]
    assert "sai-token" in bot.messages[1]["text"]
    message = bot.messages[0]
    assert message["chat_id"] == -1001234567890
    assert message["parse_mode"] == "HTML"
    assert message["text"].startswith(
        "🟠 <b>Cảnh báo · huyen-krong-pac gặp sự cố: máy chủ trả mã HTTP lỗi · từ "
    )
    assert "Bằng chứng: máy chủ trả mã HTTP 503" in message["text"]
    assert "is down" not in message["text"] and "Evidence" not in message["text"]
    logged = caplog.text
    assert "HTTP 401" in logged and "Unauthorized" in logged
    assert token not in logged and "999:sai" not in logged


def test_debian_alertmanager_is_the_one_tested() -> None:
    if shutil.which("prometheus-alertmanager") is None:
        pytest.skip("Debian prometheus-alertmanager is not installed")
    out = subprocess.run(
        [ALERTMANAGER, "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert "alertmanager" in (out.stdout + out.stderr)
