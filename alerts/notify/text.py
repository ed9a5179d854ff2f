"""What people read of a notification (e-mail, Telegram, webhook annotations, log): one
language per receiver, every word from ``monitor.core.i18n``.

A message is built once as data (``Message``) and rendered per receiver: plain text
(e-mail, log), HTML (e-mail), Telegram's HTML subset. Its first line says the severity, the
target's display name and what failed (the rule's summary), and since when, in the server's
zone (Asia/Ho_Chi_Minh); then the facts: carrier, site, group, the circuit (``ifAlias``) of an
interface alert, the evidence (what the probe saw, worded from its structured facts by the
engine: ``evidence_vi``/``evidence_en``), the phase in words; then the rule's description, and
the links: the runbook and the target's page (``/targets/NAME`` under ``external_url``).
A resolved message says "Đã khôi phục" and how long the outage lasted.

Labels stay slugs; display names come from the settings (``NotifyContext.names``), looked up
when the message is made, so a title fixed by a reload shows in the next message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.model import Notification
from monitor.core.i18n import (
    NO_NAMES,
    DisplayNames,
    Lang,
    duration_text,
    message_words,
    severity_text,
)

__all__ = ["Message", "build", "lang_of", "one_line", "plain", "subject"]

# C0 and C1 controls, DEL, and what str.splitlines() also breaks on (U+2028, U+2029): none may
# reach a header (a CR/LF there raises, or forges a header) or a log line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Labels a message names in words (the rest are the engine's or the series' own).
_SHOWN_LABELS = ("carrier", "site")


def one_line(text: str) -> str:
    """``text`` for a header field or a log line: controls become one space."""
    return _CONTROL.sub(" ", text).strip()


def lang_of(language: str | None, default: str) -> Lang:
    """A receiver's language: its own, else the server's; "vi" unless "en" is said."""
    chosen = language or default
    return "en" if chosen == "en" else "vi"


@dataclass(frozen=True, slots=True)
class Message:
    """One notification in one language, before rendering."""

    lang: Lang
    kind: str  # firing | resolved | flapping
    severity: str  # the label (critical, warning, ...): colours and icons
    status: str  # "Nghiêm trọng", "Đã khôi phục", "Chập chờn"
    text: str  # what failed: the summary, with the display name
    when: str  # "từ 10:03 08/12/2026" | "sau 4 phút 12 giây"
    facts: tuple[tuple[str, str], ...]  # (label, value) lines
    note: str  # the rule's description (and the flapping note)
    links: tuple[tuple[str, str], ...]  # (label, URL): the runbook, the target's page
    codes: str  # "Mã cảnh báo: TargetDown · venue-viettel-uplink": for engineers

    @property
    def head(self) -> str:
        """The first line: ``Nghiêm trọng · Báo Đắk Lắk mất kết nối · từ 10:03 08/12/2026``."""
        return " · ".join(part for part in (self.status, self.text, self.when) if part)


def _clock(ts: float, zone: ZoneInfo, *, seconds: bool) -> str:
    return datetime.fromtimestamp(ts, zone).strftime(
        "%H:%M:%S %d/%m/%Y" if seconds else "%H:%M %d/%m/%Y"
    )


def _offset(ts: float, zone: ZoneInfo) -> str:
    text = datetime.fromtimestamp(ts, zone).strftime("%z")  # +0700
    return f"UTC{text[:3]}:{text[3:]}" if text else "UTC"


def _summary(notification: Notification, lang: Lang, title: str) -> str:
    annotations = notification.alert.annotations
    summary = (
        annotations.get(f"summary_{lang}") or annotations.get("summary") or notification.alert.rule
    )
    if title and title not in summary:  # a rule of the settings that names no {title}
        summary = f"{title}: {summary}"
    return summary


def build(
    notification: Notification,
    lang: Lang,
    zone: ZoneInfo,
    names: DisplayNames = NO_NAMES,
) -> Message:
    alert = notification.alert
    labels = alert.labels
    annotations = alert.annotations
    w = message_words(lang)
    severity = labels.get("severity", "")
    target = alert.target
    title = names.target(target, lang) if target else ""
    summary = _summary(notification, lang, title)
    start = alert.starts_at
    facts: list[tuple[str, str]] = []
    if notification.kind == "resolved":
        status = w["resolved"]
        end = alert.ends_at if alert.ends_at is not None else notification.created
        lasted = duration_text(max(0.0, end - start), lang, largest=2)
        text = title or summary
        when = f"{w['lasted']} {lasted}"
        facts.append((w["was"], summary))
        facts.append((w["started"], f"{_clock(start, zone, seconds=True)}"))
        facts.append((w["ended"], f"{_clock(end, zone, seconds=True)} ({_offset(end, zone)})"))
        facts.append((w["duration"], duration_text(max(0.0, end - start), lang)))
    else:
        status = w["flapping"] if notification.kind == "flapping" else severity_text(severity, lang)
        text = summary
        when = f"{w['since']} {_clock(start, zone, seconds=False)}"
        facts.append(
            (w["started"], f"{_clock(start, zone, seconds=True)} ({_offset(start, zone)})")
        )
    for key in _SHOWN_LABELS:
        if labels.get(key):
            facts.append((w[key], names.label(key, labels[key], lang)))
    if labels.get("group"):
        facts.append((w["group"], names.label("group", labels["group"], lang)))
    circuit, port = labels.get("ifAlias", ""), labels.get("ifName") or labels.get("ifDescr", "")
    if circuit or port:
        where = f"{w['port']} {port}" if port else ""
        facts.append(
            (w["circuit"], f"{circuit} ({where})" if circuit and where else circuit or where)
        )
    evidence = annotations.get(f"evidence_{lang}")
    if evidence and notification.kind != "resolved":
        facts.append((w["evidence"], evidence))
    phase = labels.get("phase")
    if phase is not None:
        shown = w["no_phase"] if phase == "none" else names.label("phase", phase, lang)
        facts.append((w["phase"], shown))
    notes = []
    description = annotations.get(f"description_{lang}")
    if description and notification.kind != "resolved":
        notes.append(description)
    if notification.kind == "flapping":
        notes.append(w["flapping_note"])
    for other in notification.grouped:  # the same incident, grouped by the route (group_wait)
        also = other.annotations.get(f"summary_{lang}") or other.annotations.get("summary", "")
        notes.append(f"+ {also}")
    links = []
    if annotations.get("runbook_url"):
        links.append((w["runbook"], annotations["runbook_url"]))
    if alert.generator_url:
        links.append((w["link"], alert.generator_url))
    codes = " · ".join(part for part in (alert.rule, target) if part)
    return Message(
        lang=lang,
        kind=notification.kind,
        severity=severity,
        status=status,
        text=text,
        when=when,
        facts=tuple(facts),
        note="\n".join(notes),
        links=tuple(links),
        codes=f"{w['codes']}: {codes}",
    )


def subject(message: Message) -> str:
    """The e-mail subject and the log line: ``[Nghiêm trọng] ... · từ 10:03 08/12/2026``,
    on one line whatever a name or a label holds."""
    rest = " · ".join(part for part in (message.text, message.when) if part)
    return one_line(f"[{message.status}] {rest}")


def plain(message: Message) -> str:
    """The message as plain text (e-mail's text part)."""
    lines = [message.head, ""]
    lines += [f"{label}: {value}" for label, value in message.facts]
    if message.note:
        lines += ["", message.note]
    lines.append("")
    lines += [f"{label}: {url}" for label, url in message.links]
    lines.append(message.codes)
    return "\n".join(lines) + "\n"
