"""The lab agent factory of the SNMP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from monitor.lab.inventory import SnmpDevice
from monitor.lab.snmp import LabAgent
from tests.probes.snmp.agents import ROUTER, AgentFactory, lab_agent


@pytest.fixture
async def make_agent() -> AsyncIterator[AgentFactory]:
    """A lab agent on its own 127.0.0.x address and a free port; closed after the test."""
    async with AsyncExitStack() as stack:

        async def make(
            device: SnmpDevice = ROUTER, host: str = "127.0.0.71", **knobs: Any
        ) -> LabAgent:
            return await stack.enter_async_context(lab_agent(device, host, **knobs))

        yield make
