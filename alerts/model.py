"""What flows from the engine to the receivers, and what the ledger records.

Plain frozen dataclasses with JSON forms: the outbox stores a notification exactly as a
receiver will get it, so a restart delivers what was decided before the crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["AlertSnapshot", "Kind", "Notification", "Outage", "iso"]

Kind = Literal["firing", "resolved", "flapping"]


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

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "receiver": self.receiver,
                "kind": self.kind,
                "alert": self.alert.to_dict(),
                "created": self.created,
                "previous_labels": self.previous_labels,
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
        }
