"""What the trap receiver's test rigs share: reading a sample back from the store, and waiting
for the receiver (``wait_for``, failing with the events seen so far)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.core.waiting import wait_for
from monitor.runtime.store import Store

__all__ = ["RigChecks"]


class RigChecks:
    """Mixed into a rig dataclass that has ``store`` and ``events``."""

    store: Store
    events: Sequence[object]

    def sample(self, target: str, name: str, **labels: str) -> float | None:
        state = self.store.get(target)
        assert state is not None and state.latest is not None
        for sample in state.latest.result.samples:
            if sample.name == name and set(labels.items()) <= set(sample.labels):
                return sample.value
        return None

    async def until(self, what: str, check: Callable[[], bool], within: float = 5.0) -> None:
        try:
            await wait_for(what, check, within, every=0.01)
        except TimeoutError:
            raise AssertionError(f"{what}: not within {within} s; events {self.events}") from None
