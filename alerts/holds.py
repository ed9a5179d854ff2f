"""Holds: whether an alert that fires may page now, and if not, why.

One protocol, ``Hold``, as Alertmanager's ``Muter`` serves both silences and inhibition; the
engine asks its holds in order and takes the first answer, not knowing which kind it asked:

- ``MaintenanceHold``: an active maintenance window matches the alert's labels.
- ``ParentHold``: a ``depends_on`` parent of the alert's target is down ("suppressed"); or has
  not been probed since the child failed, so it may be what failed (wait one parent interval
  at most); or came back after the child's last result (wait for one of the child's own); or
  came back and the child is good again but not yet for ``recoveries`` results ("recovering":
  the heal of one uplink pages no child).

A hold answers a ``HoldReason`` (data: kind, parent, window, until), never a sentence; i18n
words it. Held alerts still run their state machine; ends are never held.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from alerts.maintenance import Maintenance
from alerts.model import HoldReason
from monitor.config import Target
from monitor.runtime.store import Store

__all__ = ["Hold", "Holdable", "MaintenanceHold", "ParentHold"]


class Holdable(Protocol):
    """What a hold reads of an alert."""

    @property
    def target(self) -> str | None: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def active_since(self) -> float: ...
    @property
    def oks(self) -> int: ...  # good results in a row while firing
    @property
    def hold(self) -> HoldReason | None: ...  # the hold it is under now


class Hold(Protocol):
    def held(self, alert: Holdable, now: float) -> HoldReason | None:
        """Whether ``alert`` is held at ``now``, and why; None: not by this hold."""


class MaintenanceHold:
    def __init__(self, maintenance: Maintenance) -> None:
        self._maintenance = maintenance

    def held(self, alert: Holdable, now: float) -> HoldReason | None:
        window = self._maintenance.matching(alert.labels)
        return HoldReason("maintenance", window=window) if window is not None else None


class ParentHold:
    """``cycle(target)``: how long one result of ``target`` may take to come (its interval in
    the current phase, its timeout and a second)."""

    def __init__(self, store: Store, cycle: Callable[[Target], float]) -> None:
        self._store = store
        self._cycle = cycle
        self.started_at = 0.0  # when the engine started: parents have no result before
        self._recovered: dict[str, float] = {}

    def parent_recovered(self, name: str, at: float) -> None:
        """``name`` is up again since ``at`` (its outage closed)."""
        self._recovered[name] = at

    def held(self, alert: Holdable, now: float) -> HoldReason | None:
        own = self._store.get(alert.target) if alert.target is not None else None
        if own is None:
            return None
        target = own.target
        for parent in target.depends_on:
            pstate = self._store.get(parent)
            if pstate is None:
                continue  # not watched by this netmon (another shard): nothing to wait for
            latest = pstate.latest
            if latest is None:
                # Not probed yet (netmon just restarted): the parent may be what failed, so a
                # restored child alert waits for the parent's first result, one interval at most.
                deadline = self.started_at + self._cycle(pstate.target)
                if now < deadline:
                    return HoldReason("parent_pending", parent, until=deadline)
                continue
            if not latest.result.success:
                return HoldReason("parent_down", parent)
            if latest.started < alert.active_since:
                # The parent has not been probed since this alert's condition began: the
                # parent may be what failed. Wait for it, one parent interval at most.
                deadline = alert.active_since + self._cycle(pstate.target)
                if now < deadline:
                    return HoldReason("parent_pending", parent, until=deadline)
            recovered = self._recovered.get(parent)
            own_latest = own.latest
            if recovered is not None and own_latest is not None and own_latest.started < recovered:
                # The parent is back; this target's last result predates that: wait for a
                # result of its own before paging.
                deadline = recovered + self._cycle(target)
                if now < deadline:
                    return HoldReason("parent_recovered", parent, until=deadline)
            if recovered is not None and alert.hold is not None and alert.oks > 0:
                # Good again since the parent came back, but not yet for `recoveries` results:
                # stay held until it resolves (a new failure lifts the hold and pages).
                return HoldReason("recovering", parent)
        return None
