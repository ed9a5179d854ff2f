"""The drills' settings: netmon's settings file for the namespace lab, the trap address, and the
timings the scenarios are held to.

The file is written with tomli-w (a runtime dependency: ``netmon drill`` works on a plain
install).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomli_w

from .netns import ADDRESSES, COMMUNITY, STREAM, STREAM_URL, WEB, WEB_PORT

NETMON_ADDRESS = "10.77.0.2"
TRAP_PORT = 1162
INTEGRITY_TARGET = "dc-web-1-integrity"  # kind "web" on dc-web-1: the site-injected drill
# With 1 s intervals: two failed probes, the parent check, and Alertmanager's group_wait
# (8 s) that gathers one carrier's alerts into one page: the SNMP agent reports a port down
# only when its interface cache (a few seconds) expires.
TIME_TO_ALERT_GOAL = 20.0
GROUP_WAIT = 8.0


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
    # The livestream: 2 s segments, so its own interval and timeout (a probe watches the
    # playlist for one target duration; the 1 s default could not).
    targets.append(
        {
            "name": STREAM[0],
            "kind": "stream",
            "url": STREAM_URL,
            "group": "datacentre",
            "labels": {"carrier": "dc"},
            "interval": "3s",
            "timeout": "3s",
        }
    )
    # The portal's integrity on dc-web-1 (the site-injected drill); held while dc-web-1 is down.
    targets.append(
        {
            "name": INTEGRITY_TARGET,
            "kind": "web",
            "url": f"http://{WEB['dc-web-1']}:{WEB_PORT}/",
            "group": "website",
            "labels": {"carrier": "dc"},
            "depends_on": ["dc-web-1"],
            "web": {"baseline_fetches": 2},
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
        # The lab's open policy, explicit (the defaults are closed): loopback reads and admins.
        "access": {"anonymous": "auto", "metrics": "loopback"},
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
            # Probes every second here: a level alert settles in 15 s, not the shipped 2 minutes
            # (which a per-test timeout of 120 s cannot wait for).
            "flapping": {"settle": "15s"},
            # The lab's agents start with the lab: their uptime says "restarted" at first.
            "rules": [{"name": "AgentRestarted", "enabled": False}],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path, listen
