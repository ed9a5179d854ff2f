"""The alert engine: rules over probe results, phases, dependencies, flapping, maintenance,
receivers, and an outbox and outage ledger in SQLite.

    alerts/settings.py       [alerts] settings (a contract) and their semantic checks
    alerts/expr.py           the condition parser (no eval)
    alerts/rules_default.py  the shipped rule set; alerts/rules.py merges and compiles rules
    alerts/engine.py         the state machine per alert, fed by the store
    alerts/dispatch.py       route → mute → dedup → outbox → deliver, per receiver
    alerts/notify/           one module per receiver type (alertmanager, webhook, email,
                             telegram, log)
    alerts/db.py             SQLite in one thread: alert state, outbox, ledger, maintenance

``monitor.settings`` imports ``alerts.settings`` while it loads, so this package imports
nothing eagerly; the names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AlertEngine", "AlertsSettings", "MaintenanceError", "Outage"]

_WHERE = {
    "AlertEngine": "alerts.engine",
    "MaintenanceError": "alerts.engine",
    "AlertsSettings": "alerts.settings",
    "Outage": "alerts.model",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
