"""The drills' settings: netmon's settings file for the namespace lab, the trap address, and the
timings the scenarios are held to.

The file is written here without a TOML library (the product only reads TOML, with the
standard tomllib, and ``netmon drill`` must work on a plain install): a few lines of tables,
``[[targets]]`` and inline values, read back with tomllib before it is used, so a value this
writer cannot express is an error here, never a wrong setting in the drill.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from .netns import ADDRESSES, COMMUNITY, WEB, WEB_PORT

NETMON_ADDRESS = "10.77.0.2"
TRAP_PORT = 1162
# With 1 s intervals: two failed probes, the parent check, and Alertmanager's group_wait
# (8 s) that gathers one carrier's alerts into one page: the SNMP agent reports a port down
# only when its interface cache (a few seconds) expires.
TIME_TO_ALERT_GOAL = 20.0
GROUP_WAIT = 8.0

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _value(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's string escapes are TOML's basic-string escapes, but for DEL, which TOML
        # wants escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}: {value!r}")


def to_toml(doc: dict[str, dict[str, Any] | list[dict[str, Any]]]) -> str:
    """``doc``'s top-level tables as ``[name]`` (a list of tables as ``[[name]]``), their
    entries as ``key = inline value``; checked by reading it back."""
    lines: list[str] = []
    for name, table in doc.items():
        tables = table if isinstance(table, list) else [table]
        header = f"[[{_key(name)}]]" if isinstance(table, list) else f"[{_key(name)}]"
        for entries in tables:
            lines += ["", header, *(f"{_key(k)} = {_value(v)}" for k, v in entries.items())]
    text = "\n".join(lines).lstrip("\n") + "\n"
    if tomllib.loads(text) != doc:
        raise ValueError("the drill's settings do not read back as written")
    return text


def drill_settings(
    path: Path,
    am_urls: list[str],
    *,
    location: str = "so-tttt",
    interval: str = "1s",
    extra_targets: list[dict[str, Any]] | None = None,
    snmp_interval: str | None = None,
    listen: str | None = None,
) -> tuple[Path, str]:
    """netmon's settings for the lab; returns (path, listen address inside netmon's namespace)."""
    icmp = {"count": 40, "spacing": "15ms"}
    # 40 echoes 15 ms apart fit the 900 ms deadline (the scheduler hands the probe its
    # effective timeout, which sizes the wait for late replies).
    timeout = "900ms"
    targets: list[dict[str, Any]] = []
    for carrier, hall in (("viettel", "a"), ("vnpt", "b")):
        labels = {"carrier": carrier, "site": "hoi-truong-tinh"}
        targets.append(
            {
                "name": f"{carrier}-edge",
                "kind": "snmp",
                "host": ADDRESSES[f"{carrier}-edge"],
                "group": "carrier",
                "labels": labels,
                **({"interval": snmp_interval} if snmp_interval else {}),
                "snmp": {
                    "version": "2c",
                    "community": COMMUNITY,
                    "interfaces": "^core$",
                    "timeout": "300ms",
                    "retries": 1,
                },
            }
        )
        targets.append(
            {
                "name": f"{carrier}-uplink",
                "kind": "icmp",
                "host": ADDRESSES[f"{carrier}-uplink"],
                "group": "carrier",
                "labels": labels,
                "icmp": icmp,
                "timeout": timeout,
            }
        )
        for host in ("wifi", "camera"):
            name = f"hall-{hall}-{host}"
            targets.append(
                {
                    "name": name,
                    "kind": "icmp",
                    "host": ADDRESSES[name],
                    "group": "venue",
                    "labels": labels,
                    "icmp": icmp,
                    "timeout": timeout,
                    "depends_on": [f"{carrier}-uplink"],
                }
            )
    for name, addr in WEB.items():
        targets.append(
            {
                "name": name,
                "kind": "http",
                "url": f"http://{addr}:{WEB_PORT}/",
                "group": "datacentre",
                "labels": {"carrier": "dc"},
            }
        )
    targets += extra_targets or []
    listen = listen or f"127.0.0.1:{18000 + (os.getpid() + len(str(path))) % 2000}"
    doc: dict[str, Any] = {
        "server": {
            "listen": listen,
            "state_dir": str(path.parent / "state"),
            "location": location,
        },
        "defaults": {"interval": interval, "timeout": "900ms"},
        # The carriers' routers send their traps to netmon's address in the lab.
        "traps": {"listen": f"{NETMON_ADDRESS}:{TRAP_PORT}", "community": COMMUNITY},
        "targets": targets,
        "alerts": {
            "receivers": {
                "am": {
                    "type": "alertmanager",
                    "urls": am_urls,
                    "resend_interval": "5s",
                    "timeout": "2s",
                }
            },
            "routes": [
                {"match": {"severity": ["critical", "warning"]}, "receivers": ["am"]},
                {"match": {"alertname": ["Watchdog"]}, "receivers": ["am"]},
            ],
            "delivery": {"backoff_initial": "200ms", "backoff_max": "1s"},
            # The lab's agents start with the lab: their uptime says "restarted" at first.
            "rules": [{"name": "AgentRestarted", "enabled": False}],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(doc), encoding="utf-8")
    return path, listen
