"""Human texts of a notification (e-mail, Telegram, log): Vietnamese first, then English.

Times are shown in the server's zone (Asia/Ho_Chi_Minh) with its offset; stored times are UTC.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from alerts.model import Notification
from alerts.templates import format_since

__all__ = ["body", "one_line", "status_word", "subject"]

# C0 and C1 controls, DEL, and what str.splitlines() also breaks on (U+2028, U+2029): none may
# reach a header (a CR/LF there raises, or forges a header) or a log line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

_WORDS = {
    "vi": {
        "firing": "CẢNH BÁO",
        "resolved": "ĐÃ KHẮC PHỤC",
        "flapping": "CHẬP CHỜN",
        "alert": "Cảnh báo",
        "severity": "mức",
        "phase": "giai đoạn",
        "target": "Đối tượng",
        "group": "nhóm",
        "since": "Từ lúc",
        "until": "Kết thúc lúc",
        "runbook": "Hướng dẫn xử lý",
        "flapping_note": "Trạng thái thay đổi liên tục; tạm dừng gửi cảnh báo cho đến khi ổn định.",
        "none": "không",
    },
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "flapping": "FLAPPING",
        "alert": "Alert",
        "severity": "severity",
        "phase": "phase",
        "target": "Target",
        "group": "group",
        "since": "Since",
        "until": "Ended",
        "runbook": "Runbook",
        "flapping_note": "The state keeps changing; further pages are held until it settles.",
        "none": "none",
    },
}


def one_line(text: str) -> str:
    """``text`` for a header field or a log line: controls become one space."""
    return _CONTROL.sub(" ", text).strip()


def status_word(notification: Notification, language: str) -> str:
    return _WORDS.get(language, _WORDS["vi"])[notification.kind]


def _summary(notification: Notification, language: str) -> str:
    annotations = notification.alert.annotations
    return annotations.get(f"summary_{language}") or annotations.get("summary", "")


def subject(notification: Notification, language: str = "vi") -> str:
    alert = notification.alert
    severity = alert.labels.get("severity", "")
    return (
        f"[{status_word(notification, language)}][{severity}] {alert.rule}: "
        f"{_summary(notification, language)}"
    )


def _section(notification: Notification, language: str, zone: ZoneInfo) -> list[str]:
    words = _WORDS[language]
    alert = notification.alert
    labels = alert.labels
    lines = [
        f"{words['alert']}: {alert.rule} ({words['severity']}: {labels.get('severity', '')}, "
        f"{words['phase']}: {labels.get('phase', words['none'])})",
    ]
    if alert.target is not None:
        lines.append(
            f"{words['target']}: {alert.target} ({words['group']} {labels.get('group', '')})"
        )
    lines.append(f"{words['since']}: {format_since(alert.starts_at, zone)}")
    if notification.kind == "resolved" and alert.ends_at is not None:
        lines.append(f"{words['until']}: {format_since(alert.ends_at, zone)}")
    description = alert.annotations.get(f"description_{language}")
    if description:
        lines.append(description)
    if notification.kind == "flapping":
        lines.append(words["flapping_note"])
    for other in notification.grouped:  # the same incident, grouped by the route (group_wait)
        summary = other.annotations.get(f"summary_{language}") or other.annotations.get(
            "summary", ""
        )
        lines.append(f"+ {other.rule}: {summary}")
    return lines


def body(notification: Notification, zone: ZoneInfo) -> str:
    """Vietnamese, then English, then the labels and the runbook."""
    alert = notification.alert
    lines = [subject(notification, "vi"), ""]
    lines += _section(notification, "vi", zone)
    lines += ["", "— English —", subject(notification, "en"), ""]
    lines += _section(notification, "en", zone)
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        lines += ["", f"{_WORDS['vi']['runbook']} / {_WORDS['en']['runbook']}: {runbook}"]
    if alert.generator_url:
        lines.append(alert.generator_url)
    lines += ["", ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))]
    return "\n".join(lines) + "\n"
