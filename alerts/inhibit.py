"""Inhibition: the alert that explains an incident mutes its symptoms (one page per incident).

Alertmanager's inhibit rule in three parts (``[[alerts.inhibit]]``): ``source_match``, the
alert that explains; ``target_match``, the alerts it explains away; ``equal``, the labels both
must share. The shipped rules (``alerts/rules_default.py``) mute a site's TargetDown and
BannerMissing while it answers an HTTP error or is defaced, and its TargetDown while only the
banner is gone (the site answers: it is not down).

``Inhibitor`` is a hold (``alerts/holds.py``), asked as maintenance and parents are. Two
choices differ from Alertmanager, because netmon knows when each condition held:

- a **pending** source mutes as well as a firing one: rules reach their counts at different
  results (TargetDown at one failure in the congress, HttpStatusError at two), and which one
  counts faster must not decide who pages. A pending source either fires (and mutes on) or
  goes back to inactive (and the target is released, and pages).
- a source **on the same target** mutes only while its condition held at the target's latest
  result or later: a BannerMissing left firing because the site then stopped answering (its
  content series are missing from a failed result, so it holds) does not hide the outage.

Evaluated when an alert fires, on each result of a firing alert (a few matcher lookups per
rule) and when a possible source changes state: never per sample.

``check_inhibit`` is the settings loader's pass: rule names and label names an inhibit rule
uses must exist, each issue with its key path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from alerts.model import HoldReason
from alerts.rules import RESERVED_ALERT_LABELS, SERIES_LABELS
from alerts.rules_default import shipped_inhibit_rules, shipped_rules
from alerts.settings import AlertsSettings, InhibitSettings
from monitor.core.labels import Labelled, matches

__all__ = ["InhibitRule", "Inhibitor", "Source", "check_inhibit", "inhibit_rules"]

# Labels every alert may carry besides its target's own and its series' (alerts.engine).
_ALERT_LABELS = RESERVED_ALERT_LABELS | {"location"}


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: dict[str, list[str]]
    target: dict[str, list[str]]
    equal: tuple[str, ...]

    @property
    def same_target(self) -> bool:
        """Source and target alerts are of one target: only its own alerts are looked at."""
        return "target" in self.equal


def _shipped() -> list[InhibitSettings]:
    return [InhibitSettings.model_validate(raw) for raw in shipped_inhibit_rules()]


def _all(alerts: AlertsSettings) -> list[tuple[str, InhibitSettings]]:
    out = [(f"alerts.inhibit[{i}]", rule) for i, rule in enumerate(alerts.inhibit)]
    if alerts.shipped_inhibit:
        out += [(f"shipped inhibit rule {i + 1}", rule) for i, rule in enumerate(_shipped())]
    return out


def inhibit_rules(alerts: AlertsSettings) -> list[InhibitRule]:
    """The rules the engine runs: the settings' first, then the shipped ones (if on)."""
    return [
        InhibitRule(dict(r.source_match), dict(r.target_match), tuple(r.equal))
        for _, r in _all(alerts)
    ]


def check_inhibit(alerts: AlertsSettings, targets: Sequence[Labelled]) -> list[tuple[str, str]]:
    """Inhibit rules naming a rule (``alertname``) or a label no alert can have, as (key path,
    message). A shipped rule naming a rule switched off is no error: it matches nothing."""
    issues: list[tuple[str, str]] = []
    # Names only, nothing parsed: a rule whose expr is wrong is check_rules' to report.
    rule_names = {r.name for r in alerts.rules}
    if alerts.shipped_rules:
        rule_names.update(r["name"] for r in shipped_rules())
    labels = set(_ALERT_LABELS)
    for target in targets:
        labels.update(target.labels)
    for series in SERIES_LABELS.values():
        labels.update(series)
    for path, rule in _all(alerts):
        shipped = path.startswith("shipped")
        for part in ("source_match", "target_match"):
            for key, values in getattr(rule, part).items():
                if key not in labels:
                    issues.append((f"{path}.{part}.{key}", _unknown_label(key, labels)))
                if key == "alertname" and not shipped:
                    for j, value in enumerate(values):
                        if value not in rule_names:
                            known = ", ".join(sorted(rule_names))
                            issues.append(
                                (
                                    f"{path}.{part}.alertname[{j}]",
                                    f"no rule is named {value!r} (rules: {known})",
                                )
                            )
        for j, key in enumerate(rule.equal):
            if key not in labels:
                issues.append((f"{path}.equal[{j}]", _unknown_label(key, labels)))
    return issues


def _unknown_label(key: str, labels: set[str]) -> str:
    base = ", ".join(sorted(_ALERT_LABELS))
    return f"no alert has a label {key!r} (every alert: {base}; then target and series labels)"


class Source(Protocol):
    """What the inhibitor reads of an alert, as a source and as a target."""

    @property
    def key(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def state(self) -> str: ...  # inactive, pending, firing
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def last_held(self) -> float: ...  # start time of the last result its condition held in
    @property
    def rule_name(self) -> str: ...
    @property
    def oks(self) -> int: ...  # good results in a row while firing
    @property
    def hold(self) -> HoldReason | None: ...


class Inhibitor:
    """``peers(alert, same_target)``: the alerts that may mute ``alert`` (those of its own
    target, or every alert), with their labels filled in."""

    def __init__(
        self, rules: Sequence[InhibitRule], peers: Callable[[Source, bool], Iterable[Source]]
    ) -> None:
        self.rules = tuple(rules)
        self._peers = peers

    def is_source(self, labels: dict[str, str]) -> bool:
        """Whether an alert with these labels may mute others (its changes re-hold them)."""
        return any(matches(rule.source, labels) for rule in self.rules)

    def held(self, alert: Source, now: float) -> HoldReason | None:
        if alert.hold is not None and alert.hold.kind == "inhibited" and alert.oks > 0:
            # Recovering with its cause (the source healed on the same result): it ends
            # without a page, as a child recovering after its parent does.
            return alert.hold
        labels = alert.labels
        for rule in self.rules:
            if not matches(rule.target, labels):
                continue
            for source in self._peers(alert, rule.same_target):
                if source.key == alert.key or source.state == "inactive":
                    continue
                theirs = source.labels
                if not matches(rule.source, theirs):
                    continue
                if any(theirs.get(k, "") != labels.get(k, "") for k in rule.equal):
                    continue
                if source.target == alert.target and source.last_held < alert.last_held:
                    continue  # its condition no longer held when this one last did
                return HoldReason("inhibited", source.target, by=source.rule_name)
        return None
