"""The latest result per target and a short history: what metrics, alerts and the web read.

The scheduler is the only writer. Readers subscribe with ``subscribe()``; the store calls them
synchronously on the event loop, so a listener must be quick (render a few lines, queue work).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from monitor.settings import Target
from probes.base import ProbeResult


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe run as the scheduler saw it."""

    result: ProbeResult
    started: float  # unix seconds, UTC
    duration: float  # seconds, monotonic


@dataclass(slots=True)
class TargetState:
    target: Target
    history: deque[Observation]
    since: float | None = None  # when the current up/down state began (unix seconds)
    consecutive: int = 0  # results in a row with the current success value

    @property
    def latest(self) -> Observation | None:
        return self.history[-1] if self.history else None


RecordListener = Callable[[TargetState, Observation], None]
RemoveListener = Callable[[str], None]


@dataclass(eq=False)
class Store:
    history_size: int = 120
    _states: dict[str, TargetState] = field(default_factory=dict)
    _on_record: list[RecordListener] = field(default_factory=list)
    _on_remove: list[RemoveListener] = field(default_factory=list)

    def subscribe(self, on_record: RecordListener, on_remove: RemoveListener | None = None) -> None:
        self._on_record.append(on_record)
        if on_remove is not None:
            self._on_remove.append(on_remove)

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

    def get(self, name: str) -> TargetState | None:
        return self._states.get(name)

    def __iter__(self) -> Iterator[TargetState]:
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)
