"""Label-set matching, the one rule behind alert rules, routes, maintenance windows, operator
scopes and report filters: ``{"group": ["carrier", "venue"]}`` matches a label set when every
key has one of its values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["Labelled", "matches", "target_labels"]


def matches(match: Mapping[str, Sequence[str]], labels: Mapping[str, str]) -> bool:
    for key, values in match.items():
        value = labels.get(key)
        if value is None or value not in values:
            return False
    return True


class Labelled(Protocol):
    """What label matching needs of a target: its name, kind, group and own labels.
    ``monitor.config.Target`` is one; lower layers name this instead of the settings model."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def group(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


def target_labels(target: Labelled) -> dict[str, str]:
    """A target's label set: its own labels and ``target``, ``kind``, ``group``."""
    return {**target.labels, "target": target.name, "kind": target.kind, "group": target.group}
