"""The latest result per target and a short history: what metrics, alerts and the web read.

Two writers, both on the event loop: the scheduler records each probe's result (and sets the
targets on a reload), and the trap receiver (``monitor.runtime.traps``) patches samples of a
target's latest result and publishes its events. Readers subscribe with ``subscribe()`` and
``subscribe_events()``; the store calls them synchronously on the event loop, so a listener must
be quick (render a few lines, queue work).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from monitor.config import Target
from probes.base import ProbeResult, Sample


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe run as the scheduler saw it."""

    result: ProbeResult
    started: float  # unix seconds, UTC
    duration: float  # seconds, monotonic


@dataclass(frozen=True, slots=True)
class TargetEvent:
    """Something a target said between probes (an SNMP trap): immediate, not polled."""

    target: str
    source: str  # "snmp_trap", ...
    name: str  # "linkDown", "linkUp", "coldStart", "warmStart", or the trap OID
    at: float  # unix seconds, UTC
    labels: tuple[tuple[str, str], ...] = ()  # e.g. (("ifIndex", "3"), ("ifName", "ge-0/0/1"))
    detail: str = ""


@dataclass(slots=True)
class TargetState:
    target: Target
    history: deque[Observation]
    since: float | None = None  # when the current up/down state began (unix seconds)
    consecutive: int = 0  # results in a row with the current success value
    events: deque[TargetEvent] = field(default_factory=lambda: deque(maxlen=100))

    @property
    def latest(self) -> Observation | None:
        return self.history[-1] if self.history else None


RecordListener = Callable[[TargetState, Observation], None]
RemoveListener = Callable[[str], None]
EventListener = Callable[[TargetState, TargetEvent], None]


@dataclass(eq=False)
class Store:
    history_size: int = 120
    _states: dict[str, TargetState] = field(default_factory=dict)
    _on_record: list[RecordListener] = field(default_factory=list)
    _on_remove: list[RemoveListener] = field(default_factory=list)
    _on_event: list[EventListener] = field(default_factory=list)

    def subscribe(self, on_record: RecordListener, on_remove: RemoveListener | None = None) -> None:
        self._on_record.append(on_record)
        if on_remove is not None:
            self._on_remove.append(on_remove)

    def subscribe_events(self, on_event: EventListener) -> None:
        self._on_event.append(on_event)

    def set_targets(self, targets: Sequence[Target]) -> None:
        """Adopt a (re)loaded target list: keep history of targets that remain, drop the rest."""
        wanted = {t.name: t for t in targets}
        for name in [n for n in self._states if n not in wanted]:
            del self._states[name]
            self._removed(name)
        for name, target in wanted.items():
            state = self._states.get(name)
            if state is None:
                self._states[name] = TargetState(target, deque(maxlen=self.history_size))
            elif state.target != target:
                if state.target.kind != target.kind:
                    state.history.clear()
                    state.since, state.consecutive = None, 0
                state.target = target
                # Series rendered with the old labels must not linger until the next probe.
                self._removed(name)

    def _removed(self, name: str) -> None:
        for listener in self._on_remove:
            listener(name)

    def record(self, name: str, observation: Observation) -> None:
        state = self._states.get(name)
        if state is None:  # removed by a reload while its probe ran
            return
        previous = state.latest
        if previous is None or previous.result.success != observation.result.success:
            state.since = observation.started
            state.consecutive = 1
        else:
            state.consecutive += 1
        state.history.append(observation)
        for listener in self._on_record:
            listener(state, observation)

    def publish(self, event: TargetEvent) -> None:
        """An event from the target itself (a trap): kept in its state, handed to listeners."""
        state = self._states.get(event.target)
        if state is None:
            return
        state.events.append(event)
        for listener in self._on_event:
            listener(state, event)

    def patch_samples(
        self, name: str, updates: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    ) -> bool:
        """Change sample values of the latest result at once (a linkDown trap sets that
        interface's ifOperStatus to 2 before the next poll confirms it).

        ``updates`` maps (sample name, labels subset) to the new value; every sample of that
        name whose labels include the subset changes. Listeners see a new record. Returns
        whether anything changed.
        """
        state = self._states.get(name)
        latest = state.latest if state is not None else None
        if state is None or latest is None:
            return False
        changed = False
        samples: list[Sample] = []
        for sample in latest.result.samples:
            for (metric, subset), new in updates.items():
                matches = sample.name == metric and set(subset) <= set(sample.labels)
                if matches and sample.value != new:
                    sample = replace(sample, value=new)
                    changed = True
            samples.append(sample)
        if changed:
            patched = replace(latest, result=replace(latest.result, samples=tuple(samples)))
            state.history[-1] = patched
            for listener in self._on_record:
                listener(state, patched)
        return changed

    def get(self, name: str) -> TargetState | None:
        return self._states.get(name)

    def __iter__(self) -> Iterator[TargetState]:
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)
