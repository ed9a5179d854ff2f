"""The lab's pure-Python agents for the SNMP tests (made hostile on purpose by their knobs:
tooBig, garbage, late answers, silence, a reboot), and the helpers that poll them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from monitor.config import Target
from monitor.lab.inventory import SNMP_COMMUNITY, SNMP_DEVICES, SnmpDevice
from monitor.lab.snmp import LabAgent
from probes import PROBES
from probes.base import ProbeResult, Sample
from probes.context import ProbeContext
from probes.snmp.session import BerSession, Credentials
from probes.snmp.transport import UdpTransport

__all__ = [
    "ROUTER",
    "SWITCH",
    "AgentFactory",
    "lab_agent",
    "poll",
    "session",
    "shared_transport",
    "target",
    "v3",
    "values",
]

ROUTER = next(d for d in SNMP_DEVICES if d.name == "vnpt-edge-router")
SWITCH = next(d for d in SNMP_DEVICES if d.name == "venue-access-switch")
AgentFactory = Callable[..., Awaitable[LabAgent]]


@contextlib.asynccontextmanager
async def lab_agent(
    device: SnmpDevice = ROUTER, host: str = "127.0.0.71", **knobs: Any
) -> AsyncIterator[LabAgent]:
    """A lab agent on ``host`` and a port the kernel picks; closed on the way out."""
    knobs.setdefault("trap_address", None)
    agent = LabAgent(dataclasses.replace(device, host=host, port=0), **knobs)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.close()


def target(agent: LabAgent, name: str = "lab", **snmp: Any) -> Target:
    options: dict[str, Any] = {"port": agent.address[1], "timeout": "300ms", "retries": 0}
    if snmp.get("version") != "3":
        options["community"] = SNMP_COMMUNITY
    options.update(snmp)
    return Target.model_validate(
        {"name": name, "kind": "snmp", "host": agent.address[0], "timeout": "3s", "snmp": options}
    )


def v3(agent: LabAgent, name: str = "lab-v3", **snmp: Any) -> Target:
    options: dict[str, Any] = {
        "version": "3",
        "user": "noc",
        "level": "authPriv",
        "auth_protocol": "SHA",
        "auth_key": "netmon-lab-auth",
        "priv_protocol": "AES",
        "priv_key": "netmon-lab-priv",
    }
    return target(agent, name, **(options | snmp))


async def poll(t: Target, ctx: ProbeContext) -> ProbeResult:
    return await PROBES["snmp"](t, ctx)


def values(result: ProbeResult, name: str) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    for sample in result.samples:
        if sample.name == name:
            labels = dict(sample.labels)
            out[labels.get("ifIndex", "") + labels.get("direction", "")] = sample
    return out


def session(agent: LabAgent, **kwargs: Any) -> tuple[UdpTransport, BerSession]:
    transport = UdpTransport()
    creds = Credentials("2c", community=SNMP_COMMUNITY.encode())
    return transport, BerSession(transport, agent.address, creds, **kwargs)


async def shared_transport(ctx: ProbeContext) -> UdpTransport:
    """The transport the snmp probe made in ``ctx`` (after a poll)."""

    async def unreachable() -> Any:
        raise AssertionError("the snmp probe made its shared state already")

    shared = await ctx.shared("snmp", unreachable)
    transport: UdpTransport = shared.transport
    return transport
