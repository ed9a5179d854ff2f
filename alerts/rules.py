"""Rules as the engine runs them: the shipped set merged with settings, conditions parsed.

``compile_rules(alerts)`` is what the engine uses; ``check_rules(alerts, phases, targets)`` is
the semantic pass of the settings loader, reporting every problem with its key path. Targets are
anything ``Labelled`` (``monitor.config.Target`` is): this module sits below the settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from alerts import templates
from alerts.expr import Condition, ExprError, parse
from alerts.rules_default import shipped_rules
from alerts.settings import AlertsSettings, LocalText, PhaseOverride, RuleSettings, TrapSettings
from monitor.core.labels import Labelled, matches, target_labels
from probes.catalogue import CATALOGUE
from probes.options import OPTIONS

__all__ = [
    "RESERVED_ALERT_LABELS",
    "SERIES_LABELS",
    "Effective",
    "Rule",
    "check_rules",
    "compile_rules",
    "series_label_name",
]

# Alert labels netmon sets itself; a series label of the same name is renamed exported_<name>
# (as Prometheus does with honor_labels = false).
RESERVED_ALERT_LABELS = frozenset({"alertname", "severity", "phase", "target", "kind", "group"})


def series_label_name(name: str) -> str:
    return f"exported_{name}" if name in RESERVED_ALERT_LABELS else name


# Labels each series of a family carries besides the target's (the metric catalogue), as the
# alert sees them: what a template may use beyond the base fields.
SERIES_LABELS: dict[str, frozenset[str]] = {
    family.name: frozenset(series_label_name(label) for label in family.labels)
    for family in CATALOGUE
    if family.labels
}


@dataclass(frozen=True, slots=True)
class Effective:
    """A rule's settings under one phase."""

    severity: str
    failures: int | None
    for_: float | None
    receivers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    condition: Condition
    unless: Condition | None
    match: dict[str, list[str]] | None
    failures: int | None
    for_: float | None
    recoveries: int
    severity: str
    summary: LocalText
    description: LocalText | None
    runbook_url: str | None
    phases: dict[str, PhaseOverride] = field(default_factory=dict)
    receivers: tuple[str, ...] | None = None
    traps: TrapSettings = field(default_factory=TrapSettings)
    # Once pending or firing, the alert lasts until this holds (``expr`` alone no longer
    # decides): an edge such as ``prev(ifOperStatus) == 1`` starts it, ``ifOperStatus == 1``
    # ends it. None: it ends when ``expr`` stops holding.
    recover: Condition | None = None

    @property
    def is_global(self) -> bool:
        return self.condition.is_global

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """expr, unless and recover, those given."""
        return tuple(c for c in (self.condition, self.unless, self.recover) if c is not None)

    def effective(self, phase: str | None) -> Effective:
        failures, for_ = self.failures, self.for_
        severity, receivers = self.severity, self.receivers
        override = self.phases.get(phase) if phase is not None else None
        if override is not None:
            severity = override.severity or severity
            if override.failures is not None:
                failures, for_ = override.failures, None
            elif override.for_ is not None:
                failures, for_ = None, override.for_
            if override.receivers is not None:
                receivers = tuple(override.receivers)
        return Effective(severity, failures, for_, receivers)

    def applies_to(self, target: Labelled) -> bool:
        if self.is_global:
            return False
        if self.match is None:
            return True
        return matches(self.match, target_labels(target))


def _merged(alerts: AlertsSettings) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """(index in settings or None for an untouched shipped rule, merged keys by field name)."""
    overrides = {r.name: (i, r) for i, r in enumerate(alerts.rules)}
    shipped: dict[str, dict[str, Any]] = {}
    if alerts.shipped_rules:
        for raw in shipped_rules():
            shipped[raw["name"]] = RuleSettings.model_validate(raw).given()
    for name, keys in shipped.items():
        if name not in overrides:
            yield None, keys
    for i, rule in enumerate(alerts.rules):
        if overrides[rule.name][0] != i:
            continue  # a duplicate name, reported by check_rules
        keys = dict(shipped.get(rule.name, {}))
        given = rule.given()
        if "failures" in given:
            keys.pop("for_", None)
        if "for_" in given:
            keys.pop("failures", None)
        keys.update(given)
        yield i, keys


def _build(keys: dict[str, Any]) -> Rule:
    """A Rule from merged keys whose conditions parse (check_rules made sure of it)."""
    unless = keys.get("unless")
    recover = keys.get("recover")
    failures, for_ = keys.get("failures"), keys.get("for_")
    if failures is None and for_ is None:
        failures = 1
    traps = keys.get("traps") or TrapSettings()
    receivers = keys.get("receivers")
    summary = keys.get("summary") or LocalText(
        vi="{alertname}: {target}", en="{alertname}: {target}"
    )
    return Rule(
        name=keys["name"],
        condition=parse(keys["expr"]),
        unless=parse(unless) if unless else None,
        match=keys.get("match"),
        failures=failures,
        for_=for_,
        recoveries=keys.get("recoveries") or 1,
        severity=keys.get("severity") or "warning",
        summary=summary,
        description=keys.get("description"),
        runbook_url=keys.get("runbook_url"),
        phases=dict(keys.get("phases") or {}),
        receivers=tuple(receivers) if receivers is not None else None,
        traps=traps,
        recover=parse(recover) if recover else None,
    )


def compile_rules(alerts: AlertsSettings) -> list[Rule]:
    """The enabled rules, shipped and from settings, in a stable order."""
    rules: list[Rule] = []
    for _, keys in _merged(alerts):
        if keys.get("enabled", True):
            rules.append(_build(keys))
    return rules


def _template_fields(
    rule: Rule, targets: Sequence[Labelled]
) -> tuple[set[str], dict[str, list[str]]]:
    """Fields a rule's templates may use, and target label names only some targets carry."""
    allowed = set(templates.BASE_FIELDS)
    selector = rule.condition.selector
    if selector is not None:
        allowed |= set(SERIES_LABELS.get(selector.name, frozenset()))
        allowed |= {series_label_name(n) for n in selector.label_names}
    matching = [t for t in targets if rule.applies_to(t)]
    partial: dict[str, list[str]] = {}
    if matching:
        common = set.intersection(*(set(t.labels) for t in matching))
        allowed |= common
        for target in matching:
            for name in set(target.labels) - common:
                partial.setdefault(name, [])
        for name in partial:
            partial[name] = [t.name for t in matching if name not in t.labels]
    return allowed, partial


def _check_texts(
    rule: Rule, path: str, given: dict[str, Any], targets: Sequence[Labelled]
) -> Iterable[tuple[str, str]]:
    allowed, partial = _template_fields(rule, targets)
    for key in ("summary", "description"):
        text: LocalText | None = getattr(rule, key)
        if text is None:
            continue
        for lang in ("vi", "en"):
            template = getattr(text, lang)
            if template is None:
                continue
            where = f"{path}.{key}.{lang}" if key in given else f"{path} ({key}.{lang})"
            try:
                used = templates.fields(template)
            except templates.TemplateError as exc:
                yield where, f'rule "{rule.name}": {exc}'
                continue
            for name in sorted(used - allowed):
                if name in partial:
                    missing = ", ".join(partial[name][:5])
                    yield (
                        where,
                        f'rule "{rule.name}": {{{name}}} is a label of only some matching '
                        f"targets (not of {missing}); narrow the rule's match or give every "
                        "target that label",
                    )
                else:
                    known = ", ".join(f"{{{f}}}" for f in sorted(allowed))
                    yield where, f'rule "{rule.name}": unknown field {{{name}}}; known: {known}'


def check_rules(
    alerts: AlertsSettings, phase_names: Iterable[str], targets: Sequence[Labelled]
) -> list[tuple[str, str]]:
    """Every problem of ``[alerts]`` that needs the whole settings (the phases' names, the
    targets), as (key path, message)."""
    issues: list[tuple[str, str]] = []
    phases = set(phase_names)
    receivers = set(alerts.receivers)
    target_names = {t.name for t in targets}
    shipped = {r["name"] for r in shipped_rules()} if alerts.shipped_rules else set()
    seen: dict[str, int] = {}
    for i, given_rule in enumerate(alerts.rules):
        name = given_rule.name
        if name in seen:
            issues.append(
                (
                    f"alerts.rules[{i}].name",
                    f"duplicate rule name {name!r} (first at alerts.rules[{seen[name]}])",
                )
            )
        else:
            seen[name] = i

    def check_receivers(names: Iterable[str], path: str) -> None:
        for j, name in enumerate(names):
            if name not in receivers:
                known = ", ".join(sorted(receivers)) or "none is defined"
                issues.append((f"{path}[{j}]", f"no receiver is named {name!r} ({known})"))

    for index, keys in _merged(alerts):
        path = f"alerts.rules[{index}]" if index is not None else f"shipped rule {keys['name']}"
        name = keys["name"]
        given = alerts.rules[index].given() if index is not None else keys
        if "expr" not in keys:
            hint = (
                "shipped rules: " + ", ".join(sorted(shipped))
                if shipped
                else "shipped rules are off (alerts.shipped_rules = false)"
            )
            issues.append(
                (f"{path}.expr", f'rule "{name}" is not a shipped rule, so it needs expr ({hint})')
            )
            continue
        bad = False
        for key in ("expr", "unless", "recover"):
            if keys.get(key) is None:
                continue
            try:
                condition = parse(keys[key])
            except ExprError as exc:
                issues.append(
                    (f"{path}.{key}", f'rule "{name}": cannot parse {keys[key]!r}: {exc}')
                )
                bad = True
                continue
            if key in ("unless", "recover") and condition.is_global:
                issues.append((f"{path}.{key}", f'rule "{name}": {key} needs a sample'))
                bad = True
        if bad:
            continue
        try:
            rule = _build(keys)
        except (ExprError, ValidationError) as exc:  # pragma: no cover - checked above
            issues.append((path, f'rule "{name}": {exc}'))
            continue
        if rule.is_global and rule.match:
            issues.append(
                (f"{path}.match", f'rule "{name}": a condition without a sample has no target')
            )
        for key, values in (rule.match or {}).items():
            if key == "target":
                for j, value in enumerate(values):
                    if value not in target_names:
                        issues.append(
                            (f"{path}.match.target[{j}]", f"no target is named {value!r}")
                        )
            elif key == "kind":
                for j, value in enumerate(values):
                    if value not in OPTIONS:
                        issues.append(
                            (
                                f"{path}.match.kind[{j}]",
                                f"unknown kind {value!r}; known kinds: "
                                + ", ".join(sorted(OPTIONS)),
                            )
                        )
        for phase_name, override in rule.phases.items():
            if phase_name not in phases:
                known = ", ".join(sorted(phases)) or "none is defined"
                issues.append(
                    (f"{path}.phases.{phase_name}", f"no phase is named {phase_name!r} ({known})")
                )
            if override.receivers is not None:
                check_receivers(override.receivers, f"{path}.phases.{phase_name}.receivers")
        if rule.receivers is not None:
            check_receivers(rule.receivers, f"{path}.receivers")
        issues.extend(_check_texts(rule, path, given, targets))
    for i, route in enumerate(alerts.routes):
        check_receivers(route.receivers, f"alerts.routes[{i}].receivers")
    names: dict[str, int] = {}
    for i, window in enumerate(alerts.maintenance):
        if window.name in names:
            issues.append(
                (f"alerts.maintenance[{i}].name", f"duplicate maintenance name {window.name!r}")
            )
        names.setdefault(window.name, i)
        for j, value in enumerate(window.match.get("target", [])):
            if value not in target_names:
                issues.append(
                    (f"alerts.maintenance[{i}].match.target[{j}]", f"no target is named {value!r}")
                )
    return issues
