"""What the web tests share: two tokens (a noc, a Viettel operator) and settings with a phase
and two targets, one per carrier."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.config import Settings, parse_settings
from monitor.config.access import token_digest

__all__ = ["NOC", "TOKENS", "VIETTEL", "web_settings"]

NOC, VIETTEL = "noc-token-1234", "viettel-token-5678"
TOKENS = [
    {"name": "noc", "role": "noc", "sha256": token_digest(NOC)},
    {
        "name": "viettel",
        "role": "operator",
        "scope": {"carrier": "viettel"},
        "sha256": token_digest(VIETTEL),
    },
]


def web_settings(tmp_path: Path, **access: Any) -> Settings:
    raw: dict[str, Any] = {
        "server": {"state_dir": str(tmp_path / "state")},
        "phases": [
            {
                "name": "dai-hoi-tinh",
                "title": "Đại hội",
                "start": datetime.fromisoformat("2025-10-14T07:00:00+07:00"),
                "end": datetime.fromisoformat("2025-10-16T18:00:00+07:00"),
            }
        ],
        "targets": [
            {"name": "vt", "kind": "icmp", "host": "127.0.2.2", "labels": {"carrier": "viettel"}},
            {"name": "vn", "kind": "icmp", "host": "127.0.2.1", "labels": {"carrier": "vnpt"}},
        ],
        "access": access,
    }
    return parse_settings(raw, tmp_path)
