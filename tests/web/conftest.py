"""The web app in process, on loopback: a started service (tests/support/web.py's settings,
``vt`` up and ``vn`` down) and a client of its app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.runtime.service import Service
from monitor.runtime.store import Observation
from monitor.web.app import make_app
from probes.base import ProbeResult
from tests.support.web import TOKENS, web_settings


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    service = Service(web_settings(tmp_path, tokens=TOKENS))
    await service.start()
    now = time.time()
    service.store.record("vt", Observation(ProbeResult(True, None, "fine"), now, 0.01))
    service.store.record("vn", Observation(ProbeResult(False, "timeout", "no answer"), now, 0.01))
    try:
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as c:
            yield c
    finally:
        await service.aclose()
