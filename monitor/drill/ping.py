"""``python -m monitor.drill.ping ADDR...`` (run inside a namespace): netmon's own ICMP probe on
each address, one line each, with the average RTT in seconds when it answered; exit 0 when every
address answered. The lab has no ping binary."""

from __future__ import annotations

import asyncio
import sys

from monitor.config import Target
from probes.context import ProbeContext
from probes.icmp import probe


async def _ping(addresses: list[str]) -> int:
    ctx = ProbeContext()
    try:
        bad = 0
        for addr in addresses:
            target = Target.model_validate(
                {
                    "name": "ping",
                    "kind": "icmp",
                    "host": addr,
                    "icmp": {"count": 2, "spacing": "50ms"},
                }
            )
            result = await asyncio.wait_for(probe(target, ctx), 3)
            avg = [x.value for x in result.samples if x.labels == (("stat", "avg"),)]
            rtt = f" rtt_avg={avg[0]:.6f}" if avg else ""
            print(addr, f"ok{rtt}" if result.success else f"failed: {result.detail}")
            bad += not result.success
        return 1 if bad else 0
    finally:
        await ctx.aclose()


def main(argv: list[str]) -> int:
    return asyncio.run(_ping(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
