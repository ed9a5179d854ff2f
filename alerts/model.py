"""What flows from the engine to the receivers, what the ledger records, why an alert is held,
and the one maintenance-window model.

Plain frozen dataclasses with JSON forms: the outbox stores a notification exactly as a
receiver will get it, so a restart delivers what was decided before the crash.
``MaintenanceWindow`` is a pydantic model because the settings (``[[alerts.maintenance]]``) and
the API (``POST /api/v1/maintenance``) both validate into it; the SQLite table, the API's
answers and the report read the same class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from monitor.core.labels import matches
from monitor.core.settings_model import SettingsModel

__all__ = [
    "HOLD_KINDS",
    "NOTE_MAX",
    "Ack",
    "AlertSnapshot",
    "HoldKind",
    "HoldReason",
    "Kind",
    "MaintenanceWindow",
    "Matcher",
    "Note",
    "Notification",
    "Outage",
    "check_note",
    "iso",
]

Kind = Literal["firing", "resolved", "flapping"]
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def iso(ts: float | None) -> str | None:
    """Unix seconds as RFC 3339 UTC (``2025-10-14T01:03:12.5Z``); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """One alert as a receiver sees it at the moment a notification is made."""

    key: str  # stable: rule + target + series labels
    rule: str
    target: str | None
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float  # when the condition began (unix seconds, UTC)
    ends_at: float | None  # when it resolved
    value: float
    generator_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "target": self.target,
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "value": None if self.value != self.value else self.value,  # NaN is not JSON
            "generator_url": self.generator_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertSnapshot:
        value = data.get("value")
        return cls(
            key=data["key"],
            rule=data["rule"],
            target=data.get("target"),
            status=data["status"],
            labels=dict(data["labels"]),
            annotations=dict(data["annotations"]),
            starts_at=float(data["starts_at"]),
            ends_at=None if data.get("ends_at") is None else float(data["ends_at"]),
            value=float("nan") if value is None else float(value),
            generator_url=data.get("generator_url", ""),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one receiver; written to the outbox before it is sent."""

    id: str  # also sent to webhooks (X-Netmon-Notification-Id) so they can de-duplicate
    receiver: str
    kind: Kind
    alert: AlertSnapshot
    created: float
    # Labels this receiver last got for the same alert, when they changed (a phase switch):
    # Alertmanager is told that the old label set ended.
    previous_labels: dict[str, str] | None = None
    attempts: int = field(default=0, compare=False)
    # Alerts that started within the route's group_wait with the same group key: they go
    # out in this one message (alerts.dispatch), after ``alert``.
    grouped: tuple[AlertSnapshot, ...] = ()

    @property
    def alerts(self) -> tuple[AlertSnapshot, ...]:
        """Every alert this message speaks of, the first one first."""
        return (self.alert, *self.grouped)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "receiver": self.receiver,
                "kind": self.kind,
                "alert": self.alert.to_dict(),
                "created": self.created,
                "previous_labels": self.previous_labels,
                "grouped": [a.to_dict() for a in self.grouped],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, attempts: int = 0) -> Notification:
        data = json.loads(text)
        return cls(
            id=data["id"],
            receiver=data["receiver"],
            kind=data["kind"],
            alert=AlertSnapshot.from_dict(data["alert"]),
            created=float(data["created"]),
            previous_labels=data.get("previous_labels"),
            attempts=attempts,
            grouped=tuple(AlertSnapshot.from_dict(a) for a in data.get("grouped", ())),
        )


@dataclass(frozen=True, slots=True)
class Outage:
    """One period a target was down: from its first failed probe to its first good one."""

    target: str
    group: str
    labels: dict[str, str]
    start: float  # unix seconds, UTC
    end: float | None  # None while it lasts
    reason: str | None
    detail: str
    phase: str | None  # the plan's phase when it began
    maintenance: str | None  # the maintenance window it began in, if any
    ack: dict[str, Any] | None = None  # Ack.to_json() of an alert acknowledged during it
    id: int | None = None  # the ledger's row id (None for one not read back from SQLite)
    note: dict[str, Any] | None = None  # Note.to_json(): the NOC's words on it

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "group": self.group,
            "labels": self.labels,
            "start": iso(self.start),
            "end": iso(self.end),
            "duration_seconds": self.duration,
            "reason": self.reason,
            "detail": self.detail,
            "phase": self.phase,
            "maintenance": self.maintenance,
            "ack": self.ack,
            "id": self.id,
            "note": self.note,
        }


NOTE_MAX = 2000  # characters: a paragraph or two; the report's cells stay readable


@dataclass(frozen=True, slots=True)
class Note:
    """What the NOC wrote on an outage (one per outage; a new one replaces it). Plain text:
    every page and report escapes it, none renders it as HTML."""

    text: str
    by: str  # the principal's name
    at: float  # unix seconds, UTC

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "by": self.by, "at": iso(self.at)}


def check_note(text: str) -> str:
    """The note's text as kept (trimmed), or ValueError with the reason: empty, longer than
    ``NOTE_MAX`` characters, or holding control characters other than line breaks and tabs."""
    text = text.strip()
    if not text:
        raise ValueError("the note is empty")
    if len(text) > NOTE_MAX:
        raise ValueError(f"the note has {len(text)} characters: at most {NOTE_MAX} characters")
    if any((ord(c) < 0x20 and c not in "\n\r\t") or 0x7F <= ord(c) <= 0x9F for c in text):
        raise ValueError("the note holds control characters")
    return text.replace("\r\n", "\n")


@dataclass(frozen=True, slots=True)
class Ack:
    """An engineer acknowledged an alert: it stops repeating and escalating."""

    by: str  # the principal's name
    at: float  # unix seconds, UTC
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "at": iso(self.at), "note": self.note}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ack:
        at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00")).timestamp()
        return cls(str(data["by"]), at, str(data.get("note", "")))


# --------------------------------------------------------------------------- holds

HoldKind = Literal[
    "maintenance", "inhibited", "parent_down", "parent_pending", "parent_recovered", "recovering"
]
HOLD_KINDS: tuple[HoldKind, ...] = (
    "maintenance",  # a maintenance window matches the alert's labels (``window``)
    "inhibited",  # an alert ``by`` (of target ``parent``) explains this one: one page per incident
    "parent_down",  # a depends_on ``parent`` is down: "suppressed"
    "parent_pending",  # the parent has no result since the child failed: wait for one
    "parent_recovered",  # the parent is back; wait for a result of the child's own
    "recovering",  # good again since the parent came back, not yet for ``recoveries`` results
)


@dataclass(frozen=True, slots=True)
class HoldReason:
    """Why an alert is held: data, worded by ``monitor.core.i18n.held_text`` for people.

    ``parent`` is None for a parent the reader may not see (``unnamed``); ``until`` is when
    the hold is looked at again (a wait for a parent's result), not part of its identity.
    ``inhibited``: ``by`` is the rule of the alert that explains this one, ``parent`` its
    target."""

    kind: HoldKind
    parent: str | None = None
    window: str | None = None
    until: float | None = field(default=None, compare=False)
    by: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.kind == "parent_down"

    def unnamed(self) -> HoldReason:
        return HoldReason(self.kind, None, self.window, self.until, self.by)

    def english(self) -> str:
        """The API's ``held`` text (a contract since before holds were data) and the logs'."""
        parent = f"parent {self.parent}" if self.parent is not None else "a parent"
        if self.kind == "maintenance":
            return f"maintenance: {self.window}"
        if self.kind == "inhibited":
            return f"inhibited by {self.by}" + (f" of {self.parent}" if self.parent else "")
        if self.kind == "parent_down":
            return f"suppressed: {parent} down"
        if self.kind == "parent_pending":
            return f"waiting for {parent}"
        if self.kind == "parent_recovered":
            return f"waiting for a new result after {parent} recovered"
        return f"recovering after {parent} recovered"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "parent": self.parent,
            "window": self.window,
            "until": iso(self.until),
            "by": self.by,
        }


# --------------------------------------------------------------------------- maintenance


def _check_matcher(match: dict[str, list[str]]) -> dict[str, list[str]]:
    for key, values in match.items():
        if not _LABEL.match(key):
            raise ValueError(f"{key!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if not values:
            raise ValueError(f"{key}: give at least one value")
    return match


# Label name -> accepted values; a label set matches when every key has one of its values.
Matcher = Annotated[dict[str, list[str]], AfterValidator(_check_matcher)]


class MaintenanceWindow(SettingsModel):
    """A maintenance window, wherever it comes from: ``[[alerts.maintenance]]`` in the
    settings, ``POST /api/v1/maintenance`` (kept in SQLite until it ends), the API's answers
    (``to_json``) and the report (``span``, ``selects``)."""

    name: str = Field(min_length=1, max_length=100)
    match: Matcher  # over the alert's labels (target, group, kind, carrier, alertname, ...)
    start: AwareDatetime
    end: AwareDatetime
    comment: str = Field(default="", max_length=2000)
    author: str = Field(default="", max_length=100)  # who made it (the API sets it)

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError("end is not after start")
        if not self.match:
            raise ValueError(
                "match: give at least one label (a window muting everything is "
                "an accident waiting to happen)"
            )
        return self

    @classmethod
    def at(
        cls,
        name: str,
        match: dict[str, list[str]],
        start: float,
        end: float,
        comment: str = "",
        author: str = "",
    ) -> MaintenanceWindow:
        """A window from unix seconds (the database's form)."""
        return cls(
            name=name,
            match=match,
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            comment=comment,
            author=author,
        )

    @property
    def span(self) -> tuple[float, float]:
        """[start, end) in unix seconds."""
        return self.start.timestamp(), self.end.timestamp()

    def active(self, now: float) -> bool:
        start, end = self.span
        return start <= now < end

    def selects(self, labels: Mapping[str, str]) -> bool:
        return matches(self.match, labels)

    def to_json(self, source: Literal["settings", "api"], now: float) -> dict[str, Any]:
        """The API's answer (openapi.py, ``Maintenance``)."""
        start, end = self.span
        return {
            "name": self.name,
            "match": self.match,
            "start": iso(start),
            "end": iso(end),
            "comment": self.comment,
            "author": self.author,
            "source": source,
            "active": start <= now < end,
        }
