"""Alert settings: ``[alerts]`` (rules, receivers, routes, maintenance). Being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from monitor.settings import Settings, SettingsIssue


class AlertsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def semantic_issues(settings: Settings) -> list[SettingsIssue]:
    """Cross-checks that need the whole settings (phase names, receivers, templates)."""
    return []
