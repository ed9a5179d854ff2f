"""What tests share that is not a fixture: the repository's root, a free port, the root mark."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

__all__ = ["REPO", "free_port", "root_only"]

REPO = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")
