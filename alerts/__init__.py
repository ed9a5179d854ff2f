"""The alert engine: rules over probe results, phases, dependencies, flapping, maintenance,
receivers, and an outbox and outage ledger in SQLite.

    alerts/settings.py       [alerts] settings (a contract) and their semantic checks
    alerts/expr.py           the condition parser (no eval): prev(), rate(), and/or
    alerts/rules_default.py  the shipped rule set; alerts/rules.py merges and compiles rules
    alerts/engine.py         the state machine per alert, fed by the store
    alerts/holds.py          whether a firing alert may page: maintenance, depends_on parents
    alerts/maintenance.py    the maintenance windows of the settings and of the API
    alerts/ledger.py         the outage ledger: every up/down change of a target
    alerts/memory.py         what prev() reads: each series' last polled value, in SQLite
    alerts/model.py          what flows out: notifications, outages, hold reasons, windows
    alerts/dispatch.py       route → mute → dedup → outbox → deliver, per receiver
    alerts/notify/           one module per receiver type (alertmanager, webhook, email,
                             telegram, log)
    alerts/db.py             SQLite in one thread: alert state, outbox, ledger, maintenance

This package's ``__init__`` imports nothing: ``monitor.config`` loads ``alerts.settings``
alone, and the engine's dependencies stay out of the settings' import time. Import what you
need from its module.
"""

__all__: list[str] = []
