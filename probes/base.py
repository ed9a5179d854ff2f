"""The one probe signature, its result, and the shared context.

A probe is ``async def probe(target, ctx) -> ProbeResult``. It never raises for a fault of the
target (it returns ``success=False`` with a stable ``reason``), never swallows
``CancelledError``, and knows nothing of Prometheus or alerts. The scheduler owns the timeout
and records ``probe_success`` and ``probe_duration_seconds`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Family",
    "KindOptions",
    "ProbeResult",
    "ProbeTarget",
    "Sample",
    "failure",
    "options_of",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One figure a probe measured: ``name`` is a metric name from DESIGN.md."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family as /metrics exposes it: every ``Sample`` of that ``name`` carries exactly
    ``labels``, in this order, besides the target's own (probes/catalogue.py holds them all)."""

    name: str
    type: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeResult:
    success: bool
    # Stable machine code when failed: "timeout", "dns", "refused", "unreachable", "tls",
    # "status", "content", "icmp_not_permitted", ...; None on success.
    reason: str | None
    detail: str  # one human sentence for the status page and alerts
    samples: tuple[Sample, ...] = ()
    # What people's messages quote, as data (key, text), never shown in /metrics: the
    # forbidden texts found ("forbidden"), the required ones missing ("required"), a short
    # stretch of the page around the first forbidden text ("excerpt"). Keys may repeat.
    facts: tuple[tuple[str, str], ...] = ()


def failure(
    reason: str,
    detail: str,
    samples: tuple[Sample, ...] = (),
    facts: tuple[tuple[str, str], ...] = (),
) -> ProbeResult:
    return ProbeResult(success=False, reason=reason, detail=detail, samples=samples, facts=facts)


class KindOptions(BaseModel):
    """Base of each kind's options (``icmp = {...}``, ``http = {...}``): strict, no unknown keys.

    ``address`` names the target field the kind needs: "host" or "url".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    address: ClassVar[str] = "host"


class ProbeTarget(Protocol):
    """What a probe reads of its target. ``monitor.config.Target`` is one; probes name this
    protocol so that they import nothing of the settings (the layer above them)."""

    @property
    def name(self) -> str: ...

    @property
    def host(self) -> str | None: ...

    @property
    def url(self) -> str | None: ...

    @property
    def timeout(self) -> float | None:
        """The effective timeout the scheduler hands the probe (None: the kind's default)."""

    @property
    def options(self) -> KindOptions: ...


_O = TypeVar("_O", bound=KindOptions)


def options_of(target: ProbeTarget, model: type[_O]) -> _O:
    """The target's options as its kind's model; the settings guarantee the match."""
    opts = target.options
    if not isinstance(opts, model):
        raise TypeError(f"{target.name}: {type(opts).__name__} options, not {model.__name__}")
    return opts
