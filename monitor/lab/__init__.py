"""The lab: a small simulated province on loopback that the shipped settings.toml watches.

Websites (aiohttp on 127.0.1.x, one over TLS), the lab zone's DNS server, an SMTP-like banner
server, the congress livestream (HLS), the venue's PBX (SIP), SNMP agents and ICMP hosts on
127.0.2.x, with fault injection (``netmon lab fail NAME --mode M``).
See ``monitor/lab/server.py`` for the API and ``monitor/lab/faults.py`` for the modes.
"""

from __future__ import annotations

from monitor.lab.faults import FaultUnavailable, LabError, ModeNotApplicable, UnknownTarget
from monitor.lab.inventory import BANNER, ICMP_HOSTS, SITES, IcmpHost, Site
from monitor.lab.server import Lab, LabTarget, run_lab

__all__ = [
    "BANNER",
    "ICMP_HOSTS",
    "SITES",
    "FaultUnavailable",
    "IcmpHost",
    "Lab",
    "LabError",
    "LabTarget",
    "ModeNotApplicable",
    "Site",
    "UnknownTarget",
    "run_lab",
]
