"""The alert engine: probe results in, alert state changes out.

It listens to the store (every result, every trap) and runs on the event loop without I/O:
SQLite goes through the database thread (alerts/db.py), delivery through the dispatcher
(alerts/dispatch.py). It knows nothing of sockets.

Per alert (one per rule, target and series: one per interface of a router):

- **states**: inactive → pending (the condition holds) → firing (``failures`` results in a row,
  or ``for`` seconds) → resolved (``recoveries`` results in a row without it), then inactive.
  A series that disappears while its target answers counts as a recovery; while the target is
  down, its series are missing for that reason and the alert holds.
- **phases**: the current phase (re-read every second) picks the rule's severity, failures or
  ``for`` and receivers, and is the ``phase`` label of every alert.
- **flapping**: the share of changes among the last ``window`` results of the condition; above
  ``high`` one "flapping" notice goes out and pages wait, below ``low`` and without a change
  for ``settle`` the alert is announced as it then is (as Icinga, with a quiet time so that
  noise about the thresholds is one episode, not several).
- **hysteresis**: a firing alert on a level (``> >= < <=``) counts a result as good only
  once its value is ``flapping.recovery_margin`` of the threshold past it (loss > 0.2: at 0.18
  or less), and only after it has stayed so for ``flapping.settle``; a value wavering about
  the threshold (random 20-30 % loss) keeps one alert firing instead of firing, ending and
  firing again, and is shown as flapping meanwhile (it went good and came back). States
  (``== !=``: TargetDown, InterfaceDown) end as before.
- **held**: the engine asks its holds (``alerts/holds.py``: maintenance windows, ``depends_on``
  parents; then ``alerts/inhibit.py``: an alert that explains this one) whether a firing
  alert may page, and keeps the answer as data (``HoldReason``). Held alerts still run their
  state machine; ends are never held (an alert that never paged ends silently).
- **one result at a time**: alerts that fire on one result are announced after every rule has
  seen it, so an inhibiting alert that reaches its count on the same result is known first.
- **traps**: a target event named in the rule's ``traps.fire`` fires the matching series at
  once; ``traps.resolve`` (or the next poll) resolves it.

Beside it: the outage ledger (``alerts/ledger.py``) and the maintenance windows
(``alerts/maintenance.py``), fed by the same results and ticks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from prometheus_client.core import Metric

from alerts import db, templates
from alerts.dispatch import OUTCOMES, Announcement, Dispatcher
from alerts.expr import Comparison, Condition, Point, parse
from alerts.holds import Hold, MaintenanceHold, ParentHold
from alerts.inhibit import Inhibitor, Source, inhibit_rules
from alerts.ledger import Ledger
from alerts.maintenance import Maintenance, MaintenanceError
from alerts.memory import SeriesMemory
from alerts.model import (
    Ack,
    AlertSnapshot,
    HoldReason,
    MaintenanceWindow,
    Note,
    Outage,
    check_note,
    iso,
)
from alerts.notify import NotifyContext
from alerts.rules import SERIES_LABELS, Rule, compile_rules, series_label_name
from alerts.settings import LocalText
from monitor.config import Phase, Settings, Target
from monitor.core.clock import Clock, SystemClock
from monitor.core.i18n import Lang, evidence_text, failure_text
from monitor.core.labels import target_labels
from monitor.core.tasks import stop_task
from monitor.runtime import metrics
from monitor.runtime.store import Observation, Store, TargetEvent, TargetState

__all__ = ["AckError", "AlertEngine", "MaintenanceError"]

log = logging.getLogger("netmon.alerts")

Labels = tuple[tuple[str, str], ...]
_TICK = 1.0
_REPEAT_CHECK = 10.0  # how often firing alerts are re-offered to the dispatcher (repeats)
_PRUNE_EVERY = 3600.0
_KEEP_FINISHED = 7 * 86400.0  # delivered or dropped outbox rows kept this long
_DB_FILE = "alerts.sqlite"
_ENDED_KEPT = 10_000  # resolved alert keys remembered, so an ack of one answers 409, not 404


class AckError(Exception):
    """An acknowledgement refused: ``status`` 404 (no such alert) or 409 (not firing)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Alert:
    key: str
    rule: Rule
    target: str | None
    series: Labels
    state: Literal["inactive", "pending", "firing"] = "inactive"
    value: float = math.nan
    active_since: float = 0.0
    fired_at: float | None = None
    fails: int = 0
    oks: int = 0
    ring: deque[bool] = field(default_factory=deque)
    flapping: bool = False
    hold: HoldReason | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # templates.facts_of: the evidence
    last_held: float = 0.0  # start time of the last result (or trap) its condition held in
    ack: Ack | None = None
    clear_since: float | None = None  # firing on a level: good (by the margin) since then
    changed_at: float = 0.0  # when its condition last changed (a flapping episode ends quiet)
    dipped: bool = False  # firing on a level: its own condition went false since it fired
    wavering: bool = False  # ... and came back: shown as flapping

    @property
    def rule_name(self) -> str:
        return self.rule.name


@functools.lru_cache(maxsize=65536)
def alert_key(rule: str, target: str | None, series: Labels) -> str:
    """Stable across restarts and hosts (it names the alert in SQLite and the API); cached,
    as the engine asks it for every series of every result."""
    text = json.dumps([rule, target, sorted(series)], ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _compatible(a: Labels, b: Labels) -> bool:
    """Two series of one target speak of the same thing: their common labels agree (a series
    without labels, such as probe_success, agrees with every series)."""
    if not a or not b:
        return True
    da, db_ = dict(a), dict(b)
    common = da.keys() & db_.keys()
    return bool(common) and all(da[k] == db_[k] for k in common)


def _level(condition: Condition) -> tuple[str, float] | None:
    """A level condition's operator and threshold (``loss > 0.2``: one comparison of a
    reading against a number), the kind a recovery margin applies to; None for a state
    (``==``, ``!=``), a compound (``and``/``or``) or a comparison of two readings."""
    root = condition.root
    if not isinstance(root, Comparison) or root.op in ("==", "!="):
        return None
    if len(root.right) != 1 or root.right[0].kind != "number":
        return None
    return root.op, root.right[0].sign * root.right[0].number


def _recovered(recovered: dict[Labels, bool | None], labels: Labels) -> bool | None:
    """The recovery condition's verdict for a series: its own, else a compatible one's."""
    if labels in recovered:
        return recovered[labels]
    for other, verdict in recovered.items():
        if _compatible(labels, other):
            return verdict
    return None


class AlertEngine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self._store = store
        self._clock: Clock = clock or SystemClock()
        directory = state_dir if state_dir is not None else Path(settings.server.state_dir)
        self.db = db.AlertDB(directory / _DB_FILE, on_recover=self._resync)
        self.ctx = NotifyContext(
            zone=ZoneInfo(settings.server.timezone),
            language=settings.server.language,
            external_url=settings.status_url,
            state_dir=directory,
        )
        self.dispatcher = Dispatcher(
            settings.alerts, self.db, self.ctx, self._clock, self._firing_announcements
        )
        self._settings = settings
        self._alerts: dict[str, _Alert] = {}
        # target -> rule name -> key -> alert: what one result touches, found without a scan
        self._by_target: dict[str | None, dict[str, dict[str, _Alert]]] = {}
        self._rules: list[Rule] = []
        self._target_rules: dict[str, list[Rule]] = {}
        self._global_rules: list[Rule] = []
        self._children: dict[str, list[str]] = {}
        self._phase: Phase | None = None
        self._maintenance = Maintenance(self.db)
        self._ledger = Ledger(self.db, self._maintenance)
        self._memory = SeriesMemory(self.db)  # what prev() reads
        self._parent_hold = ParentHold(store, self._cycle)
        # Asked in order, the first answer wins: a maintenance window before a parent.
        self._holds: tuple[Hold, ...] = (MaintenanceHold(self._maintenance), self._parent_hold)
        self._inhibitor = Inhibitor((), self._peers)
        # While one result is evaluated: the alerts it fired (announced once every rule has
        # seen it), and the targets whose inhibiting alerts changed (their alerts re-held).
        self._deferred: list[_Alert] | None = None
        self._sources_changed: set[str | None] = set()
        self._last_started: dict[str, float] = {}
        self._ended: dict[str, float] = {}  # recently resolved keys (insertion order)
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._last_repeat = 0.0
        self._last_prune = 0.0
        self._apply(settings)

    # ------------------------------------------------------------------ lifecycle

    def _apply(self, settings: Settings) -> None:
        self._settings = settings
        self._rules = compile_rules(settings.alerts)
        self._global_rules = [r for r in self._rules if r.is_global]
        self._target_rules = {
            t.name: [r for r in self._rules if r.applies_to(t)] for t in settings.targets
        }
        self._memory.configure(
            (s.name for r in self._rules for c in r.conditions if c.uses_prev for s in c.selectors),
            (t.name for t in settings.targets),
        )
        self._children = {}
        for target in settings.targets:
            for parent in target.depends_on:
                self._children.setdefault(parent, []).append(target.name)
        self._inhibitor = Inhibitor(inhibit_rules(settings.alerts), self._peers)
        self._phase = settings.current_phase(datetime.fromtimestamp(self._clock.time(), UTC))
        self._maintenance.apply(settings.alerts.maintenance)
        self.ctx.zone = ZoneInfo(settings.server.timezone)
        self.ctx.language = settings.server.language
        self.ctx.external_url = settings.status_url
        self.ctx.names = settings.display_names

    async def start(self) -> None:
        """Open the database, take back what it remembers, then listen to the store."""
        self.db.start()
        try:
            rows = await self.db.run(db.load_alerts, write=False)
            notified = await self.db.run(db.load_notified, write=False)
            pending = await self.db.run(db.outbox_pending, write=False)
            outages = await self.db.run(db.open_outages, write=False)
            at = self._clock.time()
            windows = await self.db.run(lambda c: db.load_windows(c, since=at), write=False)
        except Exception as exc:  # unreadable state: run from memory, and say so
            log.error("cannot read the alert state (%s); starting with none", exc)
            rows, notified, pending, outages, windows = [], [], [], [], []
        self.dispatcher.load(notified, pending)
        now = self._clock.time()
        self._maintenance.load(windows, now)
        self._ledger.load(outages)
        await self._memory.load()
        self._parent_hold.started_at = now
        gone = self._restore(rows)
        gone_keys = {a.key for a in gone}
        for alert in self._alerts.values():
            # A child that was held before the restart must not page before its parent's
            # first result says whether the parent is still down.
            if alert.key not in gone_keys:
                self._rehold(alert, now, announce=False)
        self._store.subscribe(self._on_record, self._on_remove)
        self._store.subscribe_events(self._on_event)
        self._started = True
        self.dispatcher.start()
        for alert in gone:
            self._resolve(alert, now, why="its rule or target is gone")
        for alert in list(self._alerts.values()):
            # The phase (or the settings) may have changed while netmon was down.
            if alert.key not in gone_keys and self._labels(alert) != alert.labels:
                self._relabel(alert, announce=True)
        self._ledger.close_removed(self._settings.targets, now)
        self._tick_now(now)
        self._task = asyncio.create_task(self._run(), name="alerts")
        if pending:
            log.info("%d undelivered notification(s) from before the restart", len(pending))

    def _restore(self, rows: Iterable[db.AlertRow]) -> list[_Alert]:
        """Firing alerts from the database fire on, without a new page."""
        rules = {r.name: r for r in self._rules}
        targets = {t.name for t in self._settings.targets}
        gone: list[_Alert] = []
        for row in rows:
            rule = rules.get(row.rule)
            alert = _Alert(
                key=row.key,
                rule=rule or self._placeholder(row),
                target=row.target,
                series=row.series,
                state="firing",
                value=row.value,
                active_since=row.active_since,
                fired_at=row.fired_at,
                labels=row.labels,
                annotations=row.annotations,
                ack=Ack.from_json(row.ack) if row.ack is not None else None,
            )
            alert.fails = 1 << 30  # confirmed already: no failures count to wait for again
            alert.ring = deque(maxlen=self._settings.alerts.flapping.window + 1)
            self._index(alert)
            if rule is None or (row.target is not None and row.target not in targets):
                gone.append(alert)
        return gone

    @staticmethod
    def _placeholder(row: db.AlertRow) -> Rule:
        return Rule(
            name=row.rule,
            condition=parse("time() < 0"),
            unless=None,
            match=None,
            failures=1,
            for_=None,
            recoveries=1,
            severity=row.labels.get("severity", "warning"),
            summary=LocalText(vi=row.annotations.get("summary", row.rule)),
            description=None,
            runbook_url=None,
        )

    async def update(self, settings: Settings) -> None:
        """A reload: new rules, receivers, windows; alerts of removed rules or targets end."""
        self._apply(settings)
        await self.dispatcher.update(settings.alerts)
        rules = {r.name: r for r in self._rules}
        targets = {t.name for t in settings.targets}
        now = self._clock.time()
        for alert in list(self._alerts.values()):
            rule = rules.get(alert.rule.name)
            applies = rule is not None and (
                (alert.target is None and rule.is_global)
                or (alert.target in targets and rule in self._target_rules[alert.target or ""])
            )
            if rule is None or not applies:
                if alert.state == "firing":
                    self._resolve(alert, now, why="its rule or target is gone")
                self._drop(alert)
                continue
            alert.rule = rule
            if alert.state == "firing":
                self._relabel(alert, announce=True)
        self._ledger.close_removed(self._settings.targets, now)
        self._tick_now(now)

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._started:
            self._memory.flush(self._clock.time())
        await self.dispatcher.aclose()
        await self.ctx.aclose()
        await self.db.close()

    # ------------------------------------------------------------------ the index

    def _index(self, alert: _Alert) -> None:
        self._alerts[alert.key] = alert
        self._by_target.setdefault(alert.target, {}).setdefault(alert.rule.name, {})[alert.key] = (
            alert
        )

    def _drop(self, alert: _Alert) -> None:
        self._alerts.pop(alert.key, None)
        per_rule = self._by_target.get(alert.target, {}).get(alert.rule.name)
        if per_rule is not None:
            per_rule.pop(alert.key, None)

    def _new(self, rule: Rule, target: str | None, series: Labels) -> _Alert:
        alert = _Alert(alert_key(rule.name, target, series), rule, target, series)
        alert.ring = deque(maxlen=self._settings.alerts.flapping.window + 1)
        self._index(alert)
        return alert

    # ------------------------------------------------------------------ store listeners

    def _on_remove(self, name: str) -> None:
        # A reload that relabels a target also lands here; update() does the real work.
        return None

    def _on_record(self, state: TargetState, obs: Observation) -> None:
        name = state.target.name
        patched = self._last_started.get(name) == obs.started
        self._last_started[name] = obs.started
        if patched:
            return  # a trap patched the last result: the trap event itself acts
        if self._ledger.record(state, obs, self._phase_name) and name in self._children:
            self._parent_hold.parent_recovered(name, obs.started)
        rules = self._target_rules.get(name)
        if rules:
            index = self._sample_index(obs)
            self._deferred = []
            alerts = self._by_target.get(name)
            try:
                for rule in rules:
                    if (not alerts or not alerts.get(rule.name)) and self._none_holds(
                        rule, state, obs, index
                    ):
                        continue  # no alert to step and none to make
                    self._eval(rule, state, obs, index)
            finally:
                fired, self._deferred = self._deferred, None
            self._memory.remember(name, index, obs.started)
            now = self._clock.time()
            for alert in fired:
                if alert.state != "firing":
                    continue
                if alert.fired_at == obs.started:
                    self._announce_fired(alert)
                else:
                    self._rehold(alert, now)
            self._reinhibit()
        children = self._children.get(name)
        if children:
            now = self._clock.time()
            for child in children:
                for per_rule in self._by_target.get(child, {}).values():
                    for alert in list(per_rule.values()):
                        self._rehold(alert, now)

    def _on_event(self, state: TargetState, event: TargetEvent) -> None:
        name = state.target.name
        for rule in self._target_rules.get(name, []):
            fire = event.name in rule.traps.fire
            if not fire and event.name not in rule.traps.resolve:
                continue
            for series in self._trap_series(rule, state, event):
                if fire and not self._trap_may_fire(rule, state, series):
                    continue
                alert = (
                    self._by_target.get(name, {})
                    .get(rule.name, {})
                    .get(alert_key(rule.name, name, series))
                )
                if fire:
                    if alert is None:
                        alert = self._new(rule, name, series)
                    alert.detail = event.detail or f"{event.source} {event.name}"
                    alert.reason = event.name
                    alert.facts = {"trap": event.name, "samples": {}}
                    alert.last_held = event.at
                    alert.ring.append(True)
                    if alert.state != "firing":
                        if alert.state == "inactive":
                            alert.active_since = event.at
                        self._fire(alert, event.at)
                elif alert is not None:
                    alert.ring.append(False)
                    if alert.state == "firing":
                        self._resolve(alert, event.at)
                    elif alert.state == "pending":
                        alert.state = "inactive"
                        alert.fails = 0
                        self._source_changed(alert)
                if alert is not None:
                    self._flap(alert, event.at)
        self._reinhibit()

    def _trap_series(self, rule: Rule, state: TargetState, event: TargetEvent) -> list[Labels]:
        """The series of ``rule`` a trap speaks of: those it agrees with, known from the alerts
        and the last poll; the trap's own labels when nothing was polled yet."""
        selector = rule.condition.selector
        assert selector is not None
        candidates = {
            a.series for a in self._by_target.get(state.target.name, {}).get(rule.name, {}).values()
        }
        latest = state.latest
        if latest is not None:
            for sample in latest.result.samples:
                if sample.name == selector.name and rule.condition.matches(sample.labels):
                    candidates.add(sample.labels)
        said = tuple((k, v) for k, v in event.labels if v)  # an unknown ifName says nothing
        found = [s for s in candidates if _compatible(s, said)]
        if found:
            return found
        wanted = SERIES_LABELS.get(selector.name, frozenset())
        own = tuple(sorted((k, v) for k, v in said if k in wanted))
        return [own] if own or not wanted else []

    def _trap_may_fire(self, rule: Rule, state: TargetState, series: Labels) -> bool:
        """A trap fires a series unless the rule's condition is known false (or its unless
        true) on the latest result as the trap left it (``prev()``: the last polled value): a
        linkDown for a port never seen up and named in no circuit does not page."""
        latest = state.latest
        if latest is None:
            return True
        index = self._sample_index(latest)
        now = latest.started
        if rule.unless is not None:
            for point in self._values(rule.unless, state, latest, index):
                if rule.unless.test(point, now) is True and _compatible(point.labels, series):
                    return False
        for point in self._values(rule.condition, state, latest, index):
            if point.labels == series:
                return rule.condition.test(point, now) is not False
        return True  # not polled yet: the trap's word stands

    # ------------------------------------------------------------------ evaluation

    @staticmethod
    def _sample_index(obs: Observation) -> dict[str, list[tuple[Labels, float]]]:
        result = obs.result
        index: dict[str, list[tuple[Labels, float]]] = {
            "probe_success": [((), 1.0 if result.success else 0.0)],
            "probe_duration_seconds": [((), obs.duration)],
        }
        if not result.success:
            index["probe_failure_info"] = [((("reason", result.reason or "unknown"),), 1.0)]
        for sample in result.samples:
            index.setdefault(sample.name, []).append((sample.labels, sample.value))
        return index

    def _values(
        self,
        condition: Condition,
        state: TargetState,
        obs: Observation,
        index: dict[str, list[tuple[Labels, float]]],
    ) -> list[Point]:
        """The series a condition reads in this result, each with its ``prev()`` (the last
        polled value, from the series memory) and its ``rate()`` windows."""
        selector = condition.selector
        assert selector is not None
        target = state.target.name
        current = [(lab, v) for lab, v in index.get(selector.name, []) if condition.matches(lab)]
        prev = condition.uses_prev
        # rate(): against the oldest result inside the window that has the series.
        rates: dict[Labels, dict[float, float]] = {lab: {} for lab, _ in current}
        for window in condition.rate_windows if current else ():
            oldest: dict[Labels, tuple[float, float]] = {}
            horizon = obs.started - window
            missing = len(rates)  # series of this result not yet found in the history
            for past in state.history:  # oldest first
                if past.started < horizon or past.started >= obs.started:
                    continue
                for sample in past.result.samples:
                    if sample.name == selector.name and sample.labels not in oldest:
                        oldest[sample.labels] = (past.started, sample.value)
                        if sample.labels in rates:
                            missing -= 1
                if missing <= 0:
                    break  # every series has its oldest point: later results cannot change it
            for labels, value in current:
                then = oldest.get(labels)
                if then is None or value < then[1] or obs.started <= then[0]:
                    continue  # no earlier point, or a counter reset: no rate this time
                rates[labels][window] = (value - then[1]) / (obs.started - then[0])
        return [
            Point(
                lab,
                v,
                self._memory.previous(target, selector.name, lab) if prev else None,
                rates[lab],
            )
            for lab, v in current
        ]

    def _none_holds(
        self,
        rule: Rule,
        state: TargetState,
        obs: Observation,
        index: dict[str, list[tuple[Labels, float]]],
    ) -> bool:
        """Whether no series of ``rule`` holds in this result. For a rule with no alert on the
        target, that means the result changes nothing (the steady state of almost every
        result), so it is asked first, cheaply, before unless and recover are read."""
        condition = rule.condition
        selector = condition.selector
        if selector is not None and selector.name not in index:
            return True  # no series it reads in this result
        quick = condition.quick
        if quick is not None:
            for labels, value in index.get(quick.name, ()):
                if quick.holds(value) and quick.selects(labels):
                    return False
            return True
        now = obs.started
        return not any(
            condition.test(p, now) is True for p in self._values(condition, state, obs, index)
        )

    def _eval(
        self,
        rule: Rule,
        state: TargetState,
        obs: Observation,
        index: dict[str, list[tuple[Labels, float]]],
    ) -> None:
        name = state.target.name
        condition = rule.condition
        existing = self._by_target.get(name, {}).get(rule.name, {})
        now = obs.started
        excluded: list[Labels] = []
        if rule.unless is not None:
            unless = rule.unless
            excluded = [
                p.labels for p in self._values(unless, state, obs, index) if unless.test(p, now)
            ]
        recovered: dict[Labels, bool | None] = {}
        if rule.recover is not None:
            recover = rule.recover
            recovered = {
                p.labels: recover.test(p, now) for p in self._values(recover, state, obs, index)
            }
        seen: set[str] = set()
        for point in self._values(condition, state, obs, index):
            labels = point.labels
            holds = condition.test(point, now) is True
            if not holds and not existing:
                continue  # no alert to step, none to make (below: the same, dearer)
            key = alert_key(rule.name, name, labels)
            alert = existing.get(key)
            if alert is None and not holds:
                continue
            value = condition.shown(point, now)
            if rule.recover is not None and alert is not None and alert.state != "inactive":
                # Active: it lasts until the recovery condition holds, whatever expr says now.
                holds = holds or _recovered(recovered, labels) is not True
            elif alert is not None and alert.state == "firing":
                holds = self._hysteresis(alert, condition, value, holds, now)
            holds = holds and not any(_compatible(labels, e) for e in excluded)
            if alert is None:
                if not holds:
                    continue
                alert = self._new(rule, name, labels)
                existing = self._by_target[name][rule.name]
            seen.add(key)
            alert.detail = obs.result.detail
            alert.reason = obs.result.reason or ""
            alert.facts = templates.facts_of(obs.result)
            self._step(alert, holds, value, now)
        for key, alert in list(existing.items()):
            if key in seen:
                continue
            if obs.result.success:
                self._step(alert, False, math.nan, now)  # the series is gone
            # else: the target is down, so its series are missing; TargetDown speaks for it

    def _hysteresis(
        self, alert: _Alert, condition: Condition, value: float, bare: bool, now: float
    ) -> bool:
        """Whether a firing alert's condition still counts as holding: its own, or a level
        not yet the recovery margin past the threshold, or not yet for ``settle`` seconds."""
        level = _level(condition)
        if math.isnan(value) or level is None:
            return bare  # a state (ifOperStatus != 1) or a compound: no margin to keep
        op, threshold = level
        if not bare:
            alert.dipped = True
        elif alert.dipped:
            alert.wavering = True  # back and forth about the threshold: shown as flapping
        knobs = self._settings.alerts.flapping
        margin = knobs.recovery_margin * abs(threshold)
        if op in (">", ">="):
            bad = bare or value > threshold - margin
        else:
            bad = bare or value < threshold + margin
        if bad:
            alert.clear_since = None
            return True
        if alert.clear_since is None:
            alert.clear_since = now
        return now - alert.clear_since < knobs.settle

    def _step(self, alert: _Alert, holds: bool, value: float, now: float) -> None:
        alert.ring.append(holds)
        if holds:
            alert.value = value
            alert.last_held = now
            if alert.state == "inactive":
                alert.state = "pending"
                alert.active_since = now
                alert.fails = 0
                self._source_changed(alert)
            alert.fails += 1
            alert.oks = 0
            if alert.state == "pending" and self._ready(alert, now):
                self._fire(alert, now)
            elif alert.state == "firing":
                if self._deferred is not None:
                    self._deferred.append(alert)  # looked at once every rule saw the result
                else:
                    self._rehold(alert, self._clock.time())
        else:
            alert.fails = 0
            if alert.state == "pending":
                alert.state = "inactive"
                self._source_changed(alert)
                if self.dispatcher.notified(alert.key):  # told it was flapping: tell the end
                    self._announce(alert, resolved_at=now)
            elif alert.state == "firing":
                alert.oks += 1
                if alert.oks >= alert.rule.recoveries:
                    self._resolve(alert, now)
        self._flap(alert, now)
        if alert.state == "inactive" and not alert.flapping and not any(alert.ring):
            self._drop(alert)

    def _ready(self, alert: _Alert, now: float) -> bool:
        effective = alert.rule.effective(self._phase_name)
        if effective.failures is not None:
            return alert.fails >= effective.failures
        return now - alert.active_since >= (effective.for_ or 0.0)

    def _flap(self, alert: _Alert, now: float) -> None:
        knobs = self._settings.alerts.flapping
        ring = list(alert.ring)
        changes = sum(1 for a, b in itertools.pairwise(ring) if a != b)
        ratio = changes / knobs.window
        if len(ring) >= 2 and ring[-1] != ring[-2]:
            alert.changed_at = now
        if not alert.flapping and ratio > knobs.high:
            alert.flapping = True
            log.warning(
                "%s %s is flapping (%d changes in %d results)",
                alert.rule.name,
                alert.target or "",
                changes,
                len(ring),
            )
            if not alert.labels:
                self._relabel(alert, announce=False)
            self._announce(alert)
        elif alert.flapping and ratio < knobs.low and now - alert.changed_at >= knobs.settle:
            # Under `low`, and quiet for `settle`: a flapping episode does not end and begin
            # again while the noise goes on (one notice, one end).
            alert.flapping = False
            log.info("%s %s stopped flapping", alert.rule.name, alert.target or "")
            if alert.state == "firing":
                self._announce(alert)
            elif alert.state == "inactive" and self.dispatcher.notified(alert.key):
                self._announce(alert, resolved_at=now)

    # ------------------------------------------------------------------ transitions

    @property
    def _phase_name(self) -> str | None:
        return self._phase.name if self._phase is not None else None

    def _fire(self, alert: _Alert, now: float) -> None:
        alert.state = "firing"
        alert.fired_at = now
        alert.oks = 0
        self._relabel(alert, announce=False)
        self._source_changed(alert)
        if self._deferred is not None:
            self._deferred.append(alert)  # announced once the whole result is evaluated
            return
        self._announce_fired(alert)
        self._reinhibit()

    def _announce_fired(self, alert: _Alert) -> None:
        self._rehold(alert, self._clock.time(), announce=False)
        log.info(
            "alert firing: %s %s%s",
            alert.rule.name,
            alert.target or "",
            f" (held: {alert.hold.english()})" if alert.hold else "",
        )
        self._persist(alert)
        self._announce(alert)

    def _resolve(self, alert: _Alert, now: float, *, why: str = "") -> None:
        alert.state = "inactive"
        alert.fails = 0
        alert.oks = 0
        alert.hold = None
        alert.clear_since = None
        alert.dipped = alert.wavering = False
        alert.ack = None
        self._ended[alert.key] = now
        if len(self._ended) > _ENDED_KEPT:
            del self._ended[next(iter(self._ended))]
        log.info(
            "alert resolved: %s %s%s",
            alert.rule.name,
            alert.target or "",
            f" ({why})" if why else "",
        )
        self.db.submit(db.delete_alert(alert.key))
        self._announce(alert, resolved_at=now)
        self._source_changed(alert)
        self._reinhibit()

    def _labels(self, alert: _Alert) -> dict[str, str]:
        effective = alert.rule.effective(self._phase_name)
        phase = self._phase
        labels = {
            "alertname": alert.rule.name,
            "severity": effective.severity,
            "phase": phase.name if phase is not None else "none",
        }
        target = self._target(alert.target)
        if target is not None:
            labels.update(target_labels(target))
        elif alert.target is not None:
            labels["target"] = alert.target
        elif self._settings.server.location:
            # netmon's own alerts (the Watchdog) name their vantage point, so a dead one is told
            # from a live one; target alerts stay the same from every vantage point, so the
            # Alertmanager cluster de-duplicates them into one page.
            labels["location"] = self._settings.server.location
        labels.update((series_label_name(k), v) for k, v in alert.series)
        return labels

    def _relabel(self, alert: _Alert, *, announce: bool) -> None:
        """Labels and texts for the current phase; a change of a firing alert is persisted
        and, when asked, announced (the dispatcher decides who hears of it)."""
        phase = self._phase
        labels = self._labels(alert)
        values = dict(labels)
        values.update(
            reason=alert.reason,
            detail=alert.detail,
            since=templates.format_since(alert.active_since or self._clock.time(), self.ctx.zone),
            phase_title=phase.title if phase is not None else "",
        )
        language = self._settings.server.language
        annotations: dict[str, str] = {}
        rule = alert.rule
        selector = rule.condition.selector
        names = self._settings.display_names
        langs: tuple[Lang, ...] = ("vi", "en")
        for lang in langs:
            # Label fields by their display names ({carrier}: "Viettel"; {target} stays the
            # slug), the target's title, the value with its unit and the evidence.
            values.update((key, names.label(key, value, lang)) for key, value in labels.items())
            values["title"] = names.target(alert.target, lang) if alert.target else ""
            values["value"] = self._format_value(alert, lang)
            values["failure"] = failure_text(alert.reason or None, lang)
            values["evidence"] = evidence_text(
                alert.facts,
                selector.name if selector is not None else None,
                alert.value,
                lang,
                self.ctx.zone,
                self._clock.time(),
            )
            if values["evidence"]:
                annotations[f"evidence_{lang}"] = values["evidence"]
            if alert.target:
                annotations[f"title_{lang}"] = values["title"]
            annotations[f"summary_{lang}"] = templates.render(rule.summary.get(lang), values)
            if rule.description is not None:
                annotations[f"description_{lang}"] = templates.render(
                    rule.description.get(lang), values
                )
        annotations["summary"] = annotations[f"summary_{language}"]
        if alert.target:
            annotations["title"] = annotations[f"title_{language}"]
        if rule.description is not None:
            annotations["description"] = annotations[f"description_{language}"]
        if rule.runbook_url:
            annotations["runbook_url"] = rule.runbook_url
        changed = labels != alert.labels
        alert.labels = labels
        alert.annotations = annotations
        if changed and alert.state == "firing" and announce:
            self._persist(alert)
            self._announce(alert)

    def _format_value(self, alert: _Alert, lang: Lang = "vi") -> str:
        condition = alert.rule.condition
        if alert.reason and math.isnan(alert.value):
            return alert.reason  # fired by a trap: no polled value yet
        selector = condition.selector
        return templates.format_value(
            alert.value,
            selector.name if selector is not None else None,
            duration=condition.uses_time,
            rate=condition.rate_window is not None,
            lang=lang,
        )

    def _target(self, name: str | None) -> Target | None:
        if name is None:
            return None
        state = self._store.get(name)
        return state.target if state is not None else None

    def _persist(self, alert: _Alert) -> asyncio.Future[Any]:
        return self.db.submit(
            db.save_alert(
                db.AlertRow(
                    key=alert.key,
                    rule=alert.rule.name,
                    target=alert.target,
                    series=alert.series,
                    state=alert.state,
                    value=alert.value,
                    active_since=alert.active_since,
                    fired_at=alert.fired_at,
                    labels=alert.labels,
                    annotations=alert.annotations,
                    ack=alert.ack.to_json() if alert.ack is not None else None,
                ),
                self._clock.time(),
            )
        )

    def _snapshot(self, alert: _Alert, resolved_at: float | None = None) -> AlertSnapshot:
        return AlertSnapshot(
            key=alert.key,
            rule=alert.rule.name,
            target=alert.target,
            status="resolved" if resolved_at is not None else "firing",
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.active_since,
            ends_at=resolved_at,
            value=alert.value,
            # The target's own page, not the status page's root (issue 12).
            generator_url=self.ctx.external_url
            + ("targets/" + quote(alert.target, safe="") if alert.target else ""),
        )

    def _announcement(self, alert: _Alert, resolved_at: float | None = None) -> Announcement:
        return Announcement(
            alert=self._snapshot(alert, resolved_at),
            flapping=alert.flapping,
            held=alert.hold is not None,
            receivers=alert.rule.effective(self._phase_name).receivers,
            fired_at=alert.fired_at,
            acked=alert.ack is not None,
        )

    def _announce(self, alert: _Alert, resolved_at: float | None = None) -> None:
        if not self._started:
            return
        self.dispatcher.announce(self._announcement(alert, resolved_at))

    def _firing_announcements(self) -> Iterator[Announcement]:
        for alert in self._alerts.values():
            if alert.state == "firing" or alert.flapping:
                yield self._announcement(alert)

    # ------------------------------------------------------------------ holds

    def _cycle(self, target: Target) -> float:
        interval = self._settings.interval_for(target, self._phase)
        return interval + self._settings.timeout_for(target, interval) + 1.0

    def _hold_for(self, alert: _Alert, now: float) -> HoldReason | None:
        for hold in self._holds:
            reason = hold.held(alert, now)
            if reason is not None:
                return reason
        if self._inhibitor.rules:
            if not alert.labels:
                self._relabel(alert, announce=False)
            return self._inhibitor.held(alert, now)
        return None

    # ------------------------------------------------------------------ inhibition

    def _peers(self, alert: Source, same_target: bool) -> Iterator[Source]:
        """The alerts that may inhibit ``alert``, with their labels."""
        if same_target:
            pool: Iterable[_Alert] = (
                a
                for per_rule in self._by_target.get(alert.target, {}).values()
                for a in per_rule.values()
            )
        else:
            pool = list(self._alerts.values())
        for other in pool:
            if other.state == "inactive":
                continue
            if not other.labels:
                other.labels = self._labels(other)  # a pending alert: labels without texts
            yield other

    def _source_changed(self, alert: _Alert) -> None:
        """``alert`` began, fired or ended: if it may inhibit others, they are looked at again
        (after the result being evaluated, if any)."""
        if not self._inhibitor.rules:
            return
        labels = alert.labels or self._labels(alert)
        if self._inhibitor.is_source(labels):
            self._sources_changed.add(alert.target)

    def _reinhibit(self) -> None:
        if not self._sources_changed or self._deferred is not None:
            return
        targets, self._sources_changed = self._sources_changed, set()
        now = self._clock.time()
        if all(rule.same_target for rule in self._inhibitor.rules):
            pool: list[_Alert] = [
                a
                for target in targets
                for per_rule in self._by_target.get(target, {}).values()
                for a in per_rule.values()
            ]
        else:
            pool = list(self._alerts.values())
        for alert in pool:
            self._rehold(alert, now)

    def _rehold(self, alert: _Alert, now: float, *, announce: bool = True) -> None:
        if alert.state != "firing" and not alert.flapping:
            return
        hold = self._hold_for(alert, now)
        before = alert.hold
        alert.hold = hold  # the same hold with a new ``until`` is no change
        if hold != before:
            if hold is not None:
                log.info(
                    "alert %s %s held: %s", alert.rule.name, alert.target or "", hold.english()
                )
            if announce and hold is None:
                self._announce(alert)  # released: pages now if it still needs to

    # ------------------------------------------------------------------ acknowledgement

    async def ack(self, alert_id: str, who: str, note: str = "") -> dict[str, Any]:
        """``who`` acknowledges the firing alert ``alert_id`` (its key): it stops repeating
        and escalating; the acknowledgement is kept with the alert and with the target's open
        outage in the ledger, and is committed to SQLite before this returns (an answer means
        it survives a kill -9; a database that fails is counted and reported by the database).
        The alert as ``alerts_json`` shows it; AckError 404 (unknown) or 409 (resolved, or not
        firing yet). The entry point of the API and of any other channel (a Telegram button)."""
        alert = self._alerts.get(alert_id)
        if alert is None or alert.state != "firing":
            if alert_id in self._ended or alert is not None:
                raise AckError(409, f"alert {alert_id} is not firing (resolved or pending)")
            raise AckError(404, f"no alert is {alert_id!r}")
        alert.ack = Ack(who, self._clock.time(), note)
        log.info("alert %s %s acknowledged by %s", alert.rule.name, alert.target or "", who)
        writes = [self._persist(alert)]
        if alert.target is not None:
            kept = self._ledger.ack(alert.target, alert.ack.to_json())
            if kept is not None:
                writes.append(kept)
        for write in writes:
            with contextlib.suppress(Exception):
                await write
        return self._alert_json(alert)

    # ------------------------------------------------------------------ maintenance

    def maintenance(self) -> list[dict[str, Any]]:
        """Every window, as the API answers it (``MaintenanceWindow.to_json``)."""
        return self._maintenance.listed(self._clock.time())

    def windows(self) -> list[MaintenanceWindow]:
        """Every window known (settings and API), for the availability report."""
        return self._maintenance.windows()

    async def add_maintenance(self, window: MaintenanceWindow) -> dict[str, Any]:
        """A new window or a new version of an open one (extended); MaintenanceError with
        the reason when it is refused (in settings, ended, longer than max_maintenance)."""
        longest = self._settings.alerts.max_maintenance
        await self._maintenance.add(window, self._clock.time(), longest)
        self._tick_now(self._clock.time())
        return window.to_json("api", self._clock.time())

    def check_maintenance(self, window: MaintenanceWindow) -> None:
        """MaintenanceError unless ``add_maintenance`` would take ``window`` (the forms ask
        before they change anything)."""
        self._maintenance.check(window, self._clock.time(), self._settings.alerts.max_maintenance)

    async def end_maintenance(self, name: str) -> dict[str, Any] | None:
        """End the API's window ``name`` now (kept for the report): the window as it ended,
        or None when no window of that name is open."""
        now = self._clock.time()
        ended = await self._maintenance.end(name, now)
        if ended is None:
            return None
        self._tick_now(now)
        return ended.to_json("api", now)

    async def delete_maintenance(self, name: str) -> bool:
        return await self.end_maintenance(name) is not None

    async def maintenance_history(self, since: float, until: float) -> list[MaintenanceWindow]:
        """Every window overlapping ``[since, until)`` for the report: the settings', and
        the API's from SQLite, those that ended too (with those in memory, should the
        database fail)."""
        found: dict[tuple[str, float], MaintenanceWindow] = {}
        for window in self._maintenance.windows():
            start, end = window.span
            if start < until and end > since:
                found[(window.name, start)] = window
        try:
            kept = await self.db.run(lambda c: db.load_windows(c, since, until), write=False)
        except Exception as exc:  # counted by the database; memory still has the open ones
            log.warning("maintenance history not read: %s", exc)
            kept = []
        for window in kept:
            found.setdefault((window.name, window.span[0]), window)
        return sorted(found.values(), key=lambda w: (w.span[0], w.name))

    # ------------------------------------------------------------------ notes

    async def note(self, outage_id: int, who: str, text: str) -> Outage | None:
        """``who``'s note on the outage ``outage_id`` (one per outage; a new one replaces it),
        committed before this returns: the outage as it reads now, or None when the ledger
        has no such outage. ValueError when the text is refused (``alerts.model.check_note``)."""
        note = Note(check_note(text), who, self._clock.time())
        outage: Outage | None = await self.db.run(db.outage_note(outage_id, note.to_json()))
        if outage is not None:
            self._ledger.note(outage)
            log.info("note on outage %d of %s by %s", outage_id, outage.target, who)
        return outage

    async def outage(self, outage_id: int) -> Outage | None:
        result: Outage | None = await self.db.run(db.outage_by_id(outage_id), write=False)
        return result

    def open_notes(self) -> dict[str, dict[str, Any]]:
        """The notes on open outages, by target (a circuit's or a peer's: its device's)."""
        return self._ledger.open_notes()

    def open_outage(self, name: str) -> Outage | None:
        """The open outage of ``name`` (a target, a circuit, a peer), as the ledger holds it."""
        return self._ledger.open(name)

    async def subjects_seen(self) -> list[tuple[str, str, str, float]]:
        """The BGP peers the ledger has seen: (subject, device, kind, first seen)."""
        rows: list[tuple[str, str, str, float]] = await self.db.run(db.load_subjects, write=False)
        return rows

    # ------------------------------------------------------------------ ledger

    async def outages(
        self,
        target: str | None = None,
        group: str | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        device: str | None = None,
    ) -> list[Outage]:
        """Every recorded outage overlapping [since, until), oldest first (for reports);
        ``device``: those of its circuits and BGP peers."""
        return await self._ledger.query(target, group, since, until, device=device)

    # ------------------------------------------------------------------ the tick

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(_TICK)
            try:
                self._tick_now(self._clock.time())
            except Exception:  # a bug here must not stop alerting for good
                log.exception("alert engine tick failed")

    def _tick_now(self, now: float) -> None:
        phase = self._settings.current_phase(datetime.fromtimestamp(now, UTC))
        phase_changed = (phase.name if phase else None) != self._phase_name
        if phase_changed:
            log.info("alerts: phase now %s", phase.name if phase else "none")
            self._phase = phase
        windows_changed = self._maintenance.tick(now)
        self._memory.flush(now)
        for rule in self._global_rules:
            self._eval_global(rule, now)
        for alert in list(self._alerts.values()):
            if phase_changed:
                if alert.state == "firing":
                    self._relabel(alert, announce=True)
                elif alert.state == "pending" and self._ready(alert, now):
                    self._fire(alert, now)
                elif alert.labels:  # pending: the phase label the inhibit rules read
                    self._relabel(alert, announce=False)
            timed = alert.rule.effective(self._phase_name).for_
            if alert.state == "pending" and timed and self._ready(alert, now):
                self._fire(alert, now)
            until = alert.hold.until if alert.hold is not None else None
            if windows_changed or (until is not None and until <= now):
                self._rehold(alert, now)
        if now - self._last_repeat >= _REPEAT_CHECK:
            self._last_repeat = now
            for alert in self._alerts.values():
                if alert.state == "firing" and alert.hold is None and not alert.flapping:
                    # The dispatcher pages again after repeat_interval, and climbs the
                    # escalation steps that are due (neither once acknowledged).
                    self._announce(alert)
        self._reinhibit()
        if now - self._last_prune >= _PRUNE_EVERY:
            self._last_prune = now
            self.db.submit(db.outbox_prune(now - _KEEP_FINISHED))

    def _eval_global(self, rule: Rule, now: float) -> None:
        key = alert_key(rule.name, None, ())
        alert = self._alerts.get(key)
        holds = rule.condition.test(None, now) is True
        if alert is None:
            if not holds:
                return
            alert = self._new(rule, None, ())
        alert.value = rule.condition.shown(None, now)
        if alert.state == "firing" and holds:
            return  # the Watchdog: firing on, nothing to count
        self._step(alert, holds, alert.value, now)

    def _resync(self) -> None:
        """The database took a write again after failing: write what it missed."""
        for alert in self._alerts.values():
            if alert.state == "firing":
                self._persist(alert)
        self._ledger.resync()
        self._memory.resync()
        self._maintenance.resync(self._clock.time())
        self.dispatcher.resync()

    # ------------------------------------------------------------------ reading

    def alerts_json(self) -> list[dict[str, Any]]:
        out = []
        for alert in sorted(
            self._alerts.values(), key=lambda a: (a.target or "", a.rule.name, a.series)
        ):
            if alert.state == "inactive" and not alert.flapping:
                continue
            out.append(self._alert_json(alert))
        return out

    def _alert_json(self, alert: _Alert) -> dict[str, Any]:
        if not alert.annotations:  # pending: labels maybe (inhibition's), texts not yet
            self._relabel(alert, announce=False)
        return {
            "key": alert.key,
            "rule": alert.rule.name,
            "target": alert.target,
            "state": alert.state,
            "severity": alert.labels.get("severity"),
            "phase": alert.labels.get("phase"),
            "labels": alert.labels,
            "annotations": alert.annotations,
            "value": None if math.isnan(alert.value) else alert.value,
            "since": iso(alert.active_since),
            "fired_at": iso(alert.fired_at),
            "held": alert.hold.english() if alert.hold is not None else None,
            "hold": alert.hold.to_json() if alert.hold is not None else None,
            "suppressed": alert.hold is not None and alert.hold.suppressed,
            "flapping": alert.flapping or alert.wavering,
            "ack": alert.ack.to_json() if alert.ack is not None else None,
            "notified": self.dispatcher.notified(alert.key),
        }

    def health(self) -> dict[str, Any]:
        return {
            "db_ok": self.db.ok,
            "db_error": self.db.last_error,
            "db_errors_total": self.db.errors_total,
            "outbox_pending": self.dispatcher.pending,
            "firing": sum(1 for a in self._alerts.values() if a.state == "firing"),
        }

    def metrics(self) -> Iterable[Metric]:
        firing = metrics.gauge(
            "netmon_alerts_firing",
            "Alerts firing and paging (not held), by severity.",
            ["severity"],
        )
        counts: Counter[str] = Counter()
        suppressed = maintenance = flapping = inhibited = 0
        for alert in self._alerts.values():
            if alert.flapping:
                flapping += 1
            if alert.state != "firing":
                continue
            if alert.hold is None:
                if not alert.flapping:
                    counts[alert.labels.get("severity", "")] += 1
            elif alert.hold.kind == "parent_down":
                suppressed += 1
            elif alert.hold.kind == "maintenance":
                maintenance += 1
            elif alert.hold.kind == "inhibited":
                inhibited += 1
        for severity in ("critical", "warning", "info", "none"):
            firing.add_metric([severity], counts[severity])
        yield firing
        for name, doc, value in (
            (
                "netmon_alerts_suppressed",
                "Firing alerts held because a depends_on parent is down.",
                suppressed,
            ),
            (
                "netmon_alerts_in_maintenance",
                "Firing alerts muted by a maintenance window.",
                maintenance,
            ),
            (
                "netmon_alerts_inhibited",
                "Firing alerts muted by an alert that explains them (inhibit rules).",
                inhibited,
            ),
            (
                "netmon_alerts_flapping",
                "Alerts flapping now (one notice sent, pages held).",
                flapping,
            ),
            (
                "netmon_outbox_pending",
                "Notifications waiting for delivery.",
                self.dispatcher.pending,
            ),
            (
                "netmon_alerts_db_ok",
                "Whether the alert state database took the last write.",
                1.0 if self.db.ok else 0.0,
            ),
        ):
            gauge = metrics.gauge(name, doc)
            gauge.add_metric([], value)
            yield gauge
        sent = metrics.counter(
            "netmon_notifications",
            "Notification deliveries by receiver and outcome (delivered, retry: an attempt "
            "failed and will be retried, dropped: not retryable or past delivery.max_age).",
            ["receiver", "outcome"],
        )
        for receiver in sorted(self.dispatcher.notifiers):
            for outcome in OUTCOMES:
                sent.add_metric([receiver, outcome], self.dispatcher.outcomes[(receiver, outcome)])
        yield sent
        dead = metrics.counter(
            "netmon_notifications_dead",
            "Notifications that failed for a reason a retry cannot fix, moved to the dead "
            "letters (a NotificationDead alert tells the other receivers).",
            ["receiver"],
        )
        for receiver in sorted(self.dispatcher.notifiers):
            dead.add_metric([receiver], self.dispatcher.dead[receiver])
        yield dead
        errors = metrics.counter(
            "netmon_alerts_db_errors", "Alert state database jobs that failed."
        )
        errors.add_metric([], self.db.errors_total)
        yield errors
