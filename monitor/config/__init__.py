"""Settings: the models (``models``), loading and checking (``load``), and the ``[access]`` and
``[traps]`` sections (``access``, ``traps``). ``[alerts]``, ``[grafana]`` and ``[prometheus]``
are modelled beside their owners (``alerts.settings``, ``grafana.settings``).

Importing this package loads no probe implementation: no aiohttp, dnspython or cryptography.
"""

from monitor.config.load import SettingsError, SettingsIssue, load_settings, parse_settings
from monitor.config.models import (
    LABEL_NAME,
    NAME_PATTERN,
    RESERVED_LABELS,
    DefaultsSettings,
    Name,
    Phase,
    SchedulerSettings,
    ServerSettings,
    Settings,
    Target,
    parse_shard,
    shard_of,
    split_listen,
)

__all__ = [
    "LABEL_NAME",
    "NAME_PATTERN",
    "RESERVED_LABELS",
    "DefaultsSettings",
    "Name",
    "Phase",
    "SchedulerSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SettingsIssue",
    "Target",
    "load_settings",
    "parse_settings",
    "parse_shard",
    "shard_of",
    "split_listen",
]
