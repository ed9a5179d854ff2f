"""The base of every settings model: strict types, no unknown keys, frozen.

``defer_build``: a model's validator is built when a settings file is first validated, not when
its module is imported, so what only needs the types (the web layer, the lab, ``--help``) does
not pay for some forty validators, and ``import monitor.config`` stays fast.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["SETTINGS_CONFIG", "SettingsModel"]

SETTINGS_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class SettingsModel(BaseModel):
    model_config = SETTINGS_CONFIG
