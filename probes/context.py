"""The probe signature, ``Probe``, and the ``ProbeContext`` it takes: the resources every
probe of a process shares (the ICMP sockets, the aiohttp session, the SNMP transport), made
once on first use and closed at shutdown.

Apart from ``probes.base`` (results, samples, options' base) so that the settings, which read
the options models, do not import asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from probes.base import ProbeResult, ProbeTarget

__all__ = ["Closer", "Probe", "ProbeContext"]

_R = TypeVar("_R")
Closer = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class ProbeContext:
    """Resources shared by all probes, made once per process and closed at shutdown.

    Each resource is created lazily by the probe module that owns it, through ``shared``:
    ``await ctx.shared("icmp", factory)`` returns the one instance for the process. A factory
    returns the resource and an async closer.

    ``state_dir`` is where probes keep what they learn and must remember across restarts
    (``[server] state_dir``; None: nothing is kept, as in tests and benchmarks): the web
    integrity baseline (probes/integrity/baseline.py) and the path probe's learnt paths
    (probes/path.py, ``paths.json``). It is probe state, what the probe needs to judge its next
    run, so it is the probe's, reached from here, and neither the store's nor the alert
    engine's, which know nothing of pages or routes.
    """

    state_dir: Path | None = None
    _resources: dict[str, Any] = field(default_factory=dict)
    _closers: list[Closer] = field(default_factory=list)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def shared(self, key: str, factory: Callable[[], Awaitable[tuple[_R, Closer]]]) -> _R:
        if key in self._resources:
            return cast(_R, self._resources[key])
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._resources:
                resource, closer = await factory()
                self._resources[key] = resource
                self._closers.append(closer)
        return cast(_R, self._resources[key])

    def existing(self, key: str) -> Any:
        """The resource already made under ``key``, else None: a probe's fast path to it,
        without a coroutine per call (``shared`` makes it the first time)."""
        return self._resources.get(key)

    async def aclose(self) -> None:
        closers, self._closers = self._closers, []
        self._resources.clear()
        for closer in reversed(closers):
            await closer()


class Probe(Protocol):
    """``async def probe(target, ctx) -> ProbeResult``: every kind's one entry point."""

    async def __call__(self, target: ProbeTarget, ctx: ProbeContext) -> ProbeResult: ...
