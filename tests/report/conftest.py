from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.config import Settings
from tests.support.report import write_ledger


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[tuple[Settings, Path]]:
    """The test settings and their path, with a real ledger under their state_dir."""
    yield await write_ledger(tmp_path)
