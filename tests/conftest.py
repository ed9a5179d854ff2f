"""Shared fixtures: factories that clean up after themselves."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from probes.base import ProbeContext

REPO = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")
