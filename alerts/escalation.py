"""Escalation steps of the routes (``[[alerts.routes.escalate]]``): the settings loader's
check. The steps themselves are climbed by the dispatcher (``Dispatcher.routes``): a step is
due ``after`` the alert fired (``alerts.fired_at`` in SQLite), in the phases it names, and
done once its receivers are in the notification log (SQLite too), so a netmon killed and
restarted climbs on where it was; an acknowledged or resolved alert climbs no more.
"""

from __future__ import annotations

from collections.abc import Iterable

from alerts.settings import AlertsSettings

__all__ = ["check_escalation"]


def check_escalation(alerts: AlertsSettings, phase_names: Iterable[str]) -> list[tuple[str, str]]:
    """Steps naming a receiver or a phase that does not exist, as (key path, message)."""
    issues: list[tuple[str, str]] = []
    phases = set(phase_names)
    receivers = set(alerts.receivers)
    for i, route in enumerate(alerts.routes):
        for j, step in enumerate(route.escalate):
            path = f"alerts.routes[{i}].escalate[{j}]"
            for k, name in enumerate(step.receivers):
                if name not in receivers:
                    known = ", ".join(sorted(receivers)) or "none is defined"
                    issues.append(
                        (f"{path}.receivers[{k}]", f"no receiver is named {name!r} ({known})")
                    )
            for k, name in enumerate(step.phases or ()):
                if name not in phases:
                    known = ", ".join(sorted(phases)) or "none is defined"
                    issues.append((f"{path}.phases[{k}]", f"no phase is named {name!r} ({known})"))
    return issues
