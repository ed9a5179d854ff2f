"""E-mail over SMTP (STARTTLS by default, or implicit TLS): a UTF-8 subject, a text part and an
HTML part, in the receiver's language (``language``, else ``[server] language``).

smtplib in a worker thread rather than aiosmtplib: it is the standard library (no new runtime
dependency), its STARTTLS and AUTH are long proven, and pages are few, so a thread per message
costs nothing that matters. The socket timeout bounds the thread.
"""

from __future__ import annotations

import asyncio
import base64
import html
import smtplib
import ssl
from collections.abc import Sequence
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerts.model import Notification
from alerts.notify.base import NotifyContext, NotifyError
from alerts.notify.text import Message, build, lang_of, one_line, plain, subject
from alerts.settings import EmailReceiver

__all__ = ["EmailNotifier", "build_message", "html_body"]


_COLOURS = {
    "critical": "#b71c1c",
    "warning": "#e65100",
    "info": "#0d47a1",
    "none": "#546e7a",
    "resolved": "#1b5e20",
    "flapping": "#f9a825",
}


def html_body(message: Message) -> str:
    """The HTML part: one block per message, inline styles (mail clients drop style sheets),
    every text escaped (names, labels and quotes from a defaced page are data)."""
    e = html.escape
    key = message.kind if message.kind != "firing" else message.severity
    colour = _COLOURS.get(key, _COLOURS["none"])
    rows = "".join(
        f'<tr><th style="text-align:left;vertical-align:top;padding:3px 14px 3px 0;'
        f'color:#555;font-weight:normal;white-space:nowrap">{e(label)}</th>'
        f'<td style="padding:3px 0">{e(value)}</td></tr>'
        for label, value in message.facts
    )
    note = "".join(
        f'<p style="margin:12px 0">{e(line)}</p>' for line in message.note.split("\n") if line
    )
    links = " · ".join(
        f'<a href="{e(url, quote=True)}" style="color:#0d47a1">{e(label)}</a>'
        for label, url in message.links
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{message.lang}"><head><meta charset="utf-8">'
        f"<title>{e(subject(message))}</title></head>\n"
        '<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;'
        'font-size:14px;line-height:1.45;color:#212121;background:#ffffff">\n'
        f'<div style="border-left:6px solid {colour};padding:8px 14px;background:#fafafa">'
        f'<div style="color:{colour};font-weight:bold;font-size:13px;letter-spacing:.03em">'
        f"{e(message.status).upper()}</div>"
        f'<div style="font-size:18px;font-weight:bold;margin:2px 0">{e(message.text)}</div>'
        f'<div style="color:#424242">{e(message.when)}</div></div>\n'
        f'<table style="border-collapse:collapse;margin:12px 0">{rows}</table>\n'
        f"{note}\n"
        f'<p style="margin:12px 0">{links}</p>\n'
        f'<p style="margin:12px 0;color:#757575;font-size:12px">{e(message.codes)}</p>\n'
        "</body></html>\n"
    )


def _set_subject(msg: EmailMessage, text: str) -> None:
    """The subject as RFC 2047 encoded words with the spaces inside them. Python 3.11's
    folder drops the space between two encoded words at a fold ("Truyền thông" arrived as
    "Truyềnthông" in a long Vietnamese subject), so a non-ASCII subject is encoded here, in
    lines short enough that the generator keeps them as they are."""
    if text.isascii():
        msg["Subject"] = text
        return
    encoded = Header(text, "utf-8", maxlinelen=76, header_name="Subject").encode()
    msg.set_raw("Subject", encoded)


def build_message(
    notification: Notification, settings: EmailReceiver, ctx: NotifyContext
) -> EmailMessage:
    """The e-mail of one notification in the receiver's language: a text part and an HTML
    part (multipart/alternative). Header fields carry names and labels (an SNMP ifName, a
    title): each is one line, so no CR or LF there can raise for ever or forge a header."""
    message = build(notification, lang_of(settings.language, ctx.language), ctx.zone, ctx.names)
    msg = EmailMessage()  # default policy: RFC 2047 encoded-words for a UTF-8 subject
    _set_subject(msg, subject(message))
    msg["From"] = one_line(settings.from_)
    msg["To"] = ", ".join(one_line(address) for address in settings.to)
    msg["Date"] = formatdate(notification.created, localtime=False)
    msg["Message-ID"] = make_msgid(idstring=notification.id, domain="netmon")
    msg["X-Netmon-Notification-Id"] = notification.id
    msg.set_content(plain(message), charset="utf-8")
    msg.add_alternative(html_body(message), subtype="html", charset="utf-8")
    msg["Content-Language"] = message.lang  # after the parts: Content-* would move into them
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
