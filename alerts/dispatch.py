"""From alert changes to delivered notifications: a pipeline of small stages.

As in Alertmanager's notify/, each announced alert goes through::

    route    -> which receivers: the rule's (or its phase's) receivers, else every matching
                route; receivers paged before always hear the end
    mute     -> a held alert (parent down, maintenance, flapping) pages no one; an end is
                never muted
    dedup    -> the notification log: page once per episode, again on a new severity (a
                stateful receiver: on any label change) or after the receiver's repeat_interval
    group    -> a first page to a direct receiver whose route has a group_wait waits that
                long for the alerts of the same group key (route's group_by: the target by
                default); they go out as one message. Only in memory: a crash before it goes
                leaves the alerts unpaged in the notification log, so the engine's next
                repeat pages them
    outbox   -> written to SQLite before it is sent
    deliver  -> one worker per receiver, in order, batches of the receiver's size; retry with
                exponential backoff and jitter while the error is retryable and younger than
                delivery.max_age, else dropped, counted and logged
    dead     -> a failure that will not change (NotifyError(retryable=False), or building the
                message raised ValueError, UnicodeError, email.errors.*) moves the
                notification to the dead letters (SQLite): never retried, never ahead of the
                others, also after a restart; netmon_notifications_dead_total{receiver}, and a
                NotificationDead alert to the other receivers
    record   -> netmon_notifications_total{receiver,outcome}, the outbox row finished

No queue has a head that can block it. A batch that fails for good is retried one by one, so
only the bad notification dies. A head that keeps failing with a retryable error steps aside
after ROTATE_AFTER attempts (with the later notifications of its alert, which keep their
order) so the ones behind it are tried; the backoff follows the receiver's run of failures,
not one notification's, so a receiver that is down is not hammered by the rotation.

The dispatcher knows receivers only through the ``Notifier`` protocol and the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.errors
import hashlib
import json
import logging
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alerts import db
from alerts.model import AlertSnapshot, Kind, Notification
from alerts.notify import Notifier, NotifyContext, NotifyError, make_notifier
from alerts.settings import AlertsSettings
from monitor.core.clock import Clock
from monitor.core.i18n import dead_letter_text
from monitor.core.labels import matches

__all__ = ["DEAD_RULE", "ROTATE_AFTER", "Announcement", "Dispatcher", "permanent"]

log = logging.getLogger("netmon.alerts.dispatch")

OUTCOMES = ("delivered", "retry", "dropped")
DEAD_RULE = "NotificationDead"
ROTATE_AFTER = 3  # retryable failures of one head before it lets the others go first
# Raised while a message is built from the alert: the same alert fails the same way again.
_BUILD_ERRORS = (ValueError, UnicodeError, email.errors.MessageError)


def permanent(exc: BaseException) -> bool:
    """A failure that will not change on a retry."""
    if isinstance(exc, NotifyError):
        return not exc.retryable
    return isinstance(exc, _BUILD_ERRORS)


@dataclass(frozen=True, slots=True)
class Announcement:
    """An alert as the engine hands it over: its snapshot and what the engine knows of it."""

    alert: AlertSnapshot
    flapping: bool
    held: bool  # suppressed by a parent, in maintenance, or waiting: pages no one
    receivers: tuple[str, ...] | None  # the rule's or phase's receivers; None: the routes
    fired_at: float | None = None  # when it fired: the escalation steps count from it
    acked: bool = False  # acknowledged: no more repeats, no escalation


@dataclass(slots=True)
class _Group:
    """First pages waiting for their route's group_wait to pass: alert key -> announcement."""

    waiting: dict[str, Announcement]


@dataclass(slots=True)
class _Item:
    notification: Notification
    persisted: asyncio.Future[Any] | None
    attempts: int = 0


class Dispatcher:
    def __init__(
        self,
        settings: AlertsSettings,
        store: db.AlertDB,
        ctx: NotifyContext,
        clock: Clock,
        firing: Callable[[], Iterable[Announcement]],
    ) -> None:
        self._db = store
        self._ctx = ctx
        self._clock = clock
        self._firing = firing  # what still fires, for Alertmanager keepalives
        self._settings = settings
        self.notifiers: dict[str, Notifier] = {}
        self._repeat: dict[str, float] = {}
        # The notification log: alert key -> receiver -> what it was last sent.
        self._nflog: dict[str, dict[str, db.NotifiedRow]] = {}
        self._queues: dict[str, deque[_Item]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._keepalives: dict[str, asyncio.Task[None]] = {}
        # (receiver, group key) -> first pages waiting; (receiver, alert key) -> group key
        self._groups: dict[tuple[str, str], _Group] = {}
        self._grouped: dict[tuple[str, str], str] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.dead: Counter[str] = Counter()  # netmon_notifications_dead_total{receiver}
        self._started = False
        self._build(settings)

    # ------------------------------------------------------------------ setup

    def _build(self, settings: AlertsSettings) -> None:
        self._settings = settings
        self.notifiers = {
            name: make_notifier(name, receiver, self._ctx)
            for name, receiver in settings.receivers.items()
        }
        self._repeat = {n: r.repeat_interval for n, r in settings.receivers.items()}
        for name in self.notifiers:
            self._queues.setdefault(name, deque())
            self._wake.setdefault(name, asyncio.Event())

    def load(self, notified: Iterable[db.NotifiedRow], pending: Iterable[Notification]) -> None:
        """What the database remembers: who was paged for what, and what is not delivered."""
        for row in notified:
            self._nflog.setdefault(row.alert_key, {})[row.receiver] = row
        for notification in pending:
            queue = self._queues.get(notification.receiver)
            if queue is None:
                self._finish([notification], "dropped", "its receiver is no longer configured")
                continue
            queue.append(_Item(notification, None, notification.attempts))

    def start(self) -> None:
        self._started = True
        for name in self.notifiers:
            self._start_receiver(name)

    def _start_receiver(self, name: str) -> None:
        if name not in self._workers or self._workers[name].done():
            self._workers[name] = asyncio.create_task(self._worker(name), name=f"notify:{name}")
        notifier = self.notifiers[name]
        if notifier.stateful and (name not in self._keepalives or self._keepalives[name].done()):
            self._keepalives[name] = asyncio.create_task(
                self._keepalive(name), name=f"keepalive:{name}"
            )
        if self._queues[name]:
            self._wake[name].set()

    async def update(self, settings: AlertsSettings) -> None:
        """A reload: receivers rebuilt; queued notifications of a removed receiver dropped."""
        removed = [n for n in self.notifiers if n not in settings.receivers]
        for name in removed:
            for tasks in (self._workers, self._keepalives):
                task = tasks.pop(name, None)
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            items = self._queues.pop(name, deque())
            self._wake.pop(name, None)
            if items:
                self._finish([i.notification for i in items], "dropped", "receiver removed")
        for task in self._keepalives.values():
            task.cancel()  # restarted below with the new intervals
        self._keepalives.clear()
        self._build(settings)
        if self._started:
            for name in self.notifiers:
                self._start_receiver(name)

    # ------------------------------------------------------------------ the pipeline

    def routes(
        self,
        labels: dict[str, str],
        override: tuple[str, ...] | None,
        *,
        fired_at: float | None = None,
        acked: bool = False,
    ) -> list[str]:
        """The receivers of an alert: the rule's own, else every matching route's, with the
        route's escalation steps that are due (``after`` since ``fired_at``, in the alert's
        phase) unless it was acknowledged."""
        if override is not None:
            return [r for r in override if r in self.notifiers]
        out: list[str] = []
        now = self._clock.time()
        for route in self._settings.routes:
            if not matches(route.match, labels):
                continue
            out.extend(r for r in route.receivers if r not in out and r in self.notifiers)
            if fired_at is None or acked:
                continue
            for step in route.escalate:
                if step.phases is not None and labels.get("phase") not in step.phases:
                    continue
                if now - fired_at >= step.after:
                    out.extend(r for r in step.receivers if r not in out and r in self.notifiers)
        return out

    def announce(self, a: Announcement) -> None:
        """Route, mute and de-duplicate one alert; enqueue what must be sent. On the loop,
        without I/O: the outbox write is handed to the database thread."""
        key = a.alert.key
        receivers = self.routes(a.alert.labels, a.receivers, fired_at=a.fired_at, acked=a.acked)
        paged = [r for r in self._nflog.get(key, {}) if r not in receivers]
        now = self._clock.time()
        for receiver in receivers + paged:
            if self._still_waiting(receiver, a):
                continue
            kind = self._decide(receiver, a, now, routed=receiver in receivers)
            if kind is None:
                continue
            group = self._group_of(receiver, a) if kind == "firing" else None
            if group is not None and self._entry(receiver, key) is None:
                self._wait(receiver, group, a)
            else:
                self._enqueue(receiver, kind, a, now)

    # ------------------------------------------------------------------ grouping

    def _group_of(self, receiver: str, a: Announcement) -> tuple[str, float] | None:
        """(group key, group_wait) of the first route sending ``a`` to ``receiver``; None
        when it pages at once (no wait, Alertmanager, the rule's own receivers)."""
        if a.receivers is not None or self.notifiers[receiver].stateful:
            return None
        labels = a.alert.labels
        for i, route in enumerate(self._settings.routes):
            if (
                route.group_wait > 0
                and receiver in route.receivers
                and matches(route.match, labels)
            ):
                values = [labels.get(k, "") for k in route.group_by]
                return json.dumps([i, values], ensure_ascii=False), route.group_wait
        return None

    def _still_waiting(self, receiver: str, a: Announcement) -> bool:
        """``a`` is in a group not sent yet: a new state replaces it there; an end, a hold or
        flapping takes it out (it was never paged, so it ends without a word)."""
        gkey = self._grouped.get((receiver, a.alert.key))
        if gkey is None:
            return False
        group = self._groups[(receiver, gkey)]
        if a.alert.status == "resolved" or a.held or a.flapping:
            del group.waiting[a.alert.key]
            del self._grouped[(receiver, a.alert.key)]
            return a.alert.status == "resolved" or a.held
        group.waiting[a.alert.key] = a
        return True

    def _wait(self, receiver: str, group: tuple[str, float], a: Announcement) -> None:
        gkey, wait = group
        self._grouped[(receiver, a.alert.key)] = gkey
        waiting = self._groups.get((receiver, gkey))
        if waiting is not None:
            waiting.waiting[a.alert.key] = a
            return
        self._groups[(receiver, gkey)] = _Group({a.alert.key: a})
        deadline = self._clock.time() + wait  # from now, however late the task first runs
        task = asyncio.create_task(self._flush_after(receiver, gkey, deadline))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_after(self, receiver: str, gkey: str, deadline: float) -> None:
        await self._clock.sleep(max(0.0, deadline - self._clock.time()))
        group = self._groups.pop((receiver, gkey), None)
        if group is None:
            return
        for key in group.waiting:
            self._grouped.pop((receiver, key), None)
        if receiver not in self.notifiers or not group.waiting:
            return  # removed by a reload meanwhile; or every alert of it ended
        first, *others = group.waiting.values()
        self._enqueue(
            receiver, "firing", first, self._clock.time(), grouped=[o.alert for o in others]
        )

    def _page_key(self, receiver: str, alert: AlertSnapshot) -> str:
        if self.notifiers[receiver].stateful:
            return json.dumps(alert.labels, sort_keys=True, ensure_ascii=False)
        return alert.labels.get("severity", "")

    def _entry(self, receiver: str, key: str) -> db.NotifiedRow | None:
        return self._nflog.get(key, {}).get(receiver)

    def _decide(self, receiver: str, a: Announcement, now: float, *, routed: bool) -> Kind | None:
        entry = self._entry(receiver, a.alert.key)
        sent = entry is not None and entry.kind in ("firing", "flapping")
        if a.flapping:
            # One notice per flapping episode; pages and ends wait until it settles.
            if not routed or a.held or (entry is not None and entry.kind == "flapping"):
                return None
            return "flapping"
        if a.alert.status == "resolved" or not routed:
            return "resolved" if sent and a.alert.status == "resolved" else None
        if a.held:
            return None
        if entry is None or entry.kind != "firing":
            return "firing"
        if a.acked:
            return None  # someone is on it: no repeat, no new page on a new severity
        if entry.page_key != self._page_key(receiver, a.alert):
            return "firing"  # escalated (a phase switch), or relabelled for Alertmanager
        stateful = self.notifiers[receiver].stateful
        if not stateful and now - entry.at >= self._repeat[receiver]:
            return "firing"
        return None

    def _enqueue(
        self,
        receiver: str,
        kind: Kind,
        a: Announcement,
        now: float,
        *,
        grouped: Sequence[AlertSnapshot] = (),
    ) -> None:
        previous: dict[str, str] | None = None
        entry = self._entry(receiver, a.alert.key)
        notifier = self.notifiers.get(receiver)
        if notifier is None:
            return
        if notifier.stateful and entry is not None and entry.kind != "resolved":
            old = json.loads(entry.page_key)
            if old != a.alert.labels:
                previous = old
        notification = Notification(
            id=uuid.uuid4().hex,
            receiver=receiver,
            kind=kind,
            alert=a.alert,
            created=now,
            previous_labels=previous,
            grouped=tuple(grouped),
        )
        persisted = self._db.submit(db.outbox_add(notification))
        if kind == "resolved":
            per_alert = self._nflog.get(a.alert.key, {})
            per_alert.pop(receiver, None)
            if not per_alert:
                self._nflog.pop(a.alert.key, None)
            self._db.submit(db.forget_notified(receiver, a.alert.key))
        else:
            for alert in (a.alert, *grouped):
                row = db.NotifiedRow(
                    receiver, alert.key, kind, self._page_key(receiver, alert), now
                )
                self._nflog.setdefault(alert.key, {})[receiver] = row
                self._db.submit(db.set_notified(row))
        self._queues[receiver].append(_Item(notification, persisted))
        self._wake[receiver].set()

    # ------------------------------------------------------------------ delivery

    def _backoff(self, attempts: int) -> float:
        d = self._settings.delivery
        ceiling: float = min(d.backoff_max, d.backoff_initial * 2.0 ** max(0, attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def _finish(self, notifications: Sequence[Notification], status: str, why: str = "") -> None:
        now = self._clock.time()
        by_receiver = Counter(n.receiver for n in notifications)
        outcome = "delivered" if status == "delivered" else "dropped"
        for receiver, count in by_receiver.items():
            self.outcomes[(receiver, outcome)] += count
        if status != "delivered":
            for n in notifications:
                log.error(
                    "notification %s to %s dropped (%s %s %s): %s",
                    n.id,
                    n.receiver,
                    n.kind,
                    n.alert.rule,
                    n.alert.target or "",
                    why,
                )
        self._db.submit(db.outbox_finish([n.id for n in notifications], status, now, why or None))

    async def _worker(self, name: str) -> None:
        queue = self._queues[name]
        wake = self._wake[name]
        streak = 0  # failed rounds in a row: the receiver's backoff; a success resets it
        solo = 0  # after a batch failed for good: rounds of one, to find the bad one
        while True:
            while not queue:
                wake.clear()
                await wake.wait()
            # Read each round: a reload may have rebuilt the receiver or changed max_age.
            notifier = self.notifiers[name]
            max_age = self._settings.delivery.max_age
            size = notifier.max_batch
            if solo:
                solo -= 1
                size = 1
            batch = list(queue)[:size]
            for item in batch:
                if item.persisted is not None:
                    # Outbox first. If the database cannot take it, send from memory anyway:
                    # the failure is counted and reported by the database itself.
                    with contextlib.suppress(Exception):
                        await item.persisted
                    item.persisted = None
            now = self._clock.time()
            expired = [i for i in batch if now - i.notification.created > max_age]
            if expired:
                self._pop(queue, expired)
                self._finish(
                    [i.notification for i in expired],
                    "dropped",
                    f"not delivered within delivery.max_age ({max_age:g} s)",
                )
                continue
            notifications = [i.notification for i in batch]
            try:
                await notifier.send(notifications)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                why = str(exc) if isinstance(exc, NotifyError) else f"{type(exc).__name__}: {exc}"
                if permanent(exc):
                    if len(batch) > 1:
                        solo = len(batch)
                        continue
                    self._pop(queue, batch)
                    self._dead(name, batch, why)
                    continue
                retry_after = None
                if isinstance(exc, NotifyError):
                    retry_after = exc.retry_after
                else:  # a notifier bug: keep the notifications, try again
                    log.exception("receiver %s raised", name)
                    why = type(exc).__name__
                streak += 1
                await self._retry(name, batch, why, retry_after, streak)
                if batch[0].attempts >= ROTATE_AFTER:
                    self._step_aside(queue, batch)
            else:
                streak = 0
                self._pop(queue, batch)
                self._finish(notifications, "delivered")

    @staticmethod
    def _step_aside(queue: deque[_Item], batch: Sequence[_Item]) -> None:
        """The failing head goes last, with the later notifications of its alerts (an end
        never overtakes its page)."""
        keys = {a.key for i in batch for a in i.notification.alerts}  # a group's too
        stays = [i for i in queue if i.notification.alert.key not in keys]
        if not stays:
            return
        moves = [i for i in queue if i.notification.alert.key in keys]
        queue.clear()
        queue.extend(stays + moves)

    def _dead(self, name: str, batch: Sequence[_Item], why: str) -> None:
        """Failed for a reason that will not change: out of the outbox, into the dead letters,
        counted, logged, and told to the other receivers."""
        now = self._clock.time()
        notifications = [i.notification for i in batch]
        self.outcomes[(name, "dropped")] += len(batch)
        self.dead[name] += len(batch)
        for n in notifications:
            log.error(
                "notification %s to %s is dead (%s %s %s): %s",
                n.id,
                n.receiver,
                n.kind,
                n.alert.rule,
                n.alert.target or "",
                why,
            )
        self._db.submit(db.outbox_dead([(i.notification, i.attempts) for i in batch], now, why))
        reported = [n for n in notifications if n.alert.rule != DEAD_RULE]
        if reported:  # a dead NotificationDead is not announced again: no echo between two
            self._announce_dead(name, reported[-1], why, now)

    def _announce_dead(self, name: str, last: Notification, why: str, now: float) -> None:
        labels = {"alertname": DEAD_RULE, "severity": "warning", "receiver": name}
        fields = {
            "receiver": name,
            "count": str(self.dead[name]),
            "rule": last.alert.rule,
            "target": last.alert.target or "-",
            "error": why[:300],
        }
        annotations: dict[str, str] = {}
        for lang in ("vi", "en"):
            summary, description = dead_letter_text(lang, fields)
            annotations[f"summary_{lang}"] = summary
            annotations[f"description_{lang}"] = description
        annotations["summary"] = annotations["summary_vi"]
        key = hashlib.blake2b(f"{DEAD_RULE}\0{name}".encode(), digest_size=8).hexdigest()
        alert = AlertSnapshot(
            key=key,
            rule=DEAD_RULE,
            target=None,
            status="firing",
            labels=labels,
            annotations=annotations,
            starts_at=now,
            ends_at=None,
            value=float(self.dead[name]),
        )
        others = [r for r in self.routes(labels, None) if r != name]
        if not others:  # routed nowhere else: every other receiver hears it
            others = [r for r in self.notifiers if r != name]
        if others:
            self.announce(Announcement(alert, flapping=False, held=False, receivers=tuple(others)))

    @staticmethod
    def _pop(queue: deque[_Item], items: Sequence[_Item]) -> None:
        gone = {id(i) for i in items}
        kept = [i for i in queue if id(i) not in gone]
        queue.clear()
        queue.extend(kept)

    async def _retry(
        self,
        name: str,
        batch: Sequence[_Item],
        error: str,
        retry_after: float | None,
        streak: int,
    ) -> None:
        attempts = max(i.attempts for i in batch) + 1
        for item in batch:
            item.attempts = attempts
        self.outcomes[(name, "retry")] += 1
        delay = self._backoff(streak)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._settings.delivery.backoff_max))
        level = logging.WARNING if attempts <= 3 or attempts % 10 == 0 else logging.DEBUG
        log.log(level, "receiver %s: %s; attempt %d, next in %.1f s", name, error, attempts, delay)
        self._db.submit(db.outbox_attempt([i.notification.id for i in batch], error))
        await self._clock.sleep(delay)

    async def _keepalive(self, name: str) -> None:
        notifier = self.notifiers[name]
        receiver = self._settings.receivers[name]
        interval = float(getattr(receiver, "resend_interval", 60.0))
        while True:
            await self._clock.sleep(interval)
            alerts = []
            for a in self._firing():
                entry = self._entry(name, a.alert.key)
                if a.held or entry is None or entry.kind == "resolved":
                    continue
                # Escalation receivers too (acknowledged or not): those paged hear it live on.
                if name not in self.routes(a.alert.labels, a.receivers, fired_at=a.fired_at):
                    continue
                snapshot = a.alert
                if a.flapping:
                    annotations = {**a.alert.annotations, "flapping": "true"}
                    snapshot = dataclasses.replace(a.alert, annotations=annotations)
                alerts.append(snapshot)
            try:
                await notifier.keepalive(alerts)
            except NotifyError as exc:
                log.debug("keepalive to %s failed: %s", name, exc)
            except Exception:
                log.exception("keepalive to %s raised", name)

    # ------------------------------------------------------------------ state

    def resync(self) -> None:
        """The database is writable again: write what it missed (queued notifications and the
        notification log); rows already there are left as they are."""
        for queue in self._queues.values():
            for item in queue:
                self._db.submit(db.outbox_add(item.notification))
        for per_alert in self._nflog.values():
            for row in per_alert.values():
                self._db.submit(db.set_notified(row))

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def pending_by_receiver(self) -> dict[str, int]:
        return {name: len(q) for name, q in self._queues.items()}

    def notified(self, key: str) -> list[str]:
        """Receivers that were paged for alert ``key`` in its current episode."""
        return sorted(self._nflog.get(key, {}))

    async def aclose(self) -> None:
        tasks = [*self._workers.values(), *self._keepalives.values(), *self._flushes]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._keepalives.clear()
