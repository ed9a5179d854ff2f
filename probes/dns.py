"""dns probe: being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.base import ProbeContext, ProbeResult, failure

if TYPE_CHECKING:
    from monitor.settings import Target


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    return failure("not_implemented", "the dns probe is being written")
