"""E-mail over SMTP (STARTTLS by default, or implicit TLS), UTF-8 Vietnamese subject and body.

smtplib in a worker thread rather than aiosmtplib: it is the standard library (no new runtime
dependency), its STARTTLS and AUTH are long proven, and pages are few, so a thread per message
costs nothing that matters. The socket timeout bounds the thread.
"""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerts.model import Notification
from alerts.notify.base import NotifyContext, NotifyError
from alerts.notify.text import body, one_line, subject
from alerts.settings import EmailReceiver

__all__ = ["EmailNotifier", "build_message"]


def build_message(
    notification: Notification, settings: EmailReceiver, ctx: NotifyContext
) -> EmailMessage:
    msg = EmailMessage()  # default policy: RFC 2047 encoded-words for a UTF-8 subject
    # Header fields carry labels (an SNMP ifName): a CR or LF there would raise for ever.
    msg["Subject"] = one_line(subject(notification, ctx.language))
    msg["From"] = one_line(settings.from_)
    msg["To"] = ", ".join(one_line(address) for address in settings.to)
    msg["Date"] = formatdate(notification.created, localtime=False)
    msg["Message-ID"] = make_msgid(idstring=notification.id, domain="netmon")
    msg["X-Netmon-Notification-Id"] = notification.id
    msg.set_content(body(notification, ctx.zone), charset="utf-8")
    return msg


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN in UTF-8 (RFC 4616) when offered: smtplib's own login encodes ASCII only,
    and a Vietnamese password is not rare. Other mechanisms go through smtplib."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        smtp.login(user, password)
        return
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, answer = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


class EmailNotifier:
    max_batch = 1
    stateful = False

    def __init__(self, name: str, settings: EmailReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.ca_file)
        if not self.settings.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _deliver(self, msg: EmailMessage) -> None:
        s = self.settings
        smtp: smtplib.SMTP
        if s.tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with smtp:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            password = s.password_secret
            if s.user is not None and password is not None:
                _login(smtp, s.user, password.get_secret_value())
            smtp.send_message(msg)

    async def send(self, batch: Sequence[Notification]) -> None:
        for notification in batch:
            msg = build_message(notification, self.settings, self.ctx)
            try:
                await asyncio.to_thread(self._deliver, msg)
            except smtplib.SMTPResponseException as exc:
                # 4xx: try again later; 5xx (auth refused, mailbox unknown): it will not pass.
                raise NotifyError(
                    f"email {self.name}: SMTP {exc.smtp_code}", retryable=exc.smtp_code < 500
                ) from None
            except smtplib.SMTPRecipientsRefused:
                raise NotifyError(
                    f"email {self.name}: every recipient refused", retryable=False
                ) from None
            except ssl.SSLCertVerificationError as exc:
                raise NotifyError(
                    f"email {self.name}: TLS certificate not trusted ({exc.verify_message})",
                    retryable=False,
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise NotifyError(
                    f"email {self.name}: the server does not offer STARTTLS", retryable=False
                ) from None
            except (smtplib.SMTPException, OSError) as exc:
                why = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                if isinstance(exc, OSError) and exc.strerror:
                    why = exc.strerror
                raise NotifyError(f"email {self.name}: {why}", retryable=True) from None

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None
