"""Shared fixtures: factories that clean up after themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from probes.context import ProbeContext
from tests.support.common import REPO, free_port, root_only

__all__ = ["REPO", "free_port", "root_only"]


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[..., Path]:
    """Write a settings file (and optional extra files) under tmp_path; returns its path."""

    def write(text: str, name: str = "settings.toml", **extra: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for rel, body in extra.items():
            other = tmp_path / rel.replace("__", "/")
            other.parent.mkdir(parents=True, exist_ok=True)
            other.write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    """A ProbeContext for direct probe calls, closed after the test."""
    context = ProbeContext()
    try:
        yield context
    finally:
        await context.aclose()
