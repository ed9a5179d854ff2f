"""The probe registry: the only list of kinds.

``PROBES`` maps a kind to its probe coroutine, ``async def probe(target, ctx) -> ProbeResult``.
Each kind's module is imported on first use: reading the kinds (the settings check them) costs
no import of aiohttp, dnspython or cryptography. ``OPTIONS`` (``probes.options``) maps the same
kinds to their options models.

    probes/base.py      the signature (Probe, ProbeTarget), ProbeResult, Sample, Family
    probes/context.py   ProbeContext: the resources all probes share (sockets, sessions)
    probes/options.py   each kind's options model (pydantic, strict, with bounds)
    probes/catalogue.py every metric family each kind emits (the one list /metrics, the
                        rules and the dashboards' tests read)
    probes/icmp.py      one shared raw or ping socket per family; loss, RTT, jitter
    probes/http.py      phases, TLS, content checks (probes/tls.py: the shared TLS context)
    probes/dns.py       one query against the target's resolver; answer match, section
                        regexes, SOA serials of the secondaries
    probes/tcp.py       connect, optional TLS, banner, query_response dialogues, STARTTLS
    probes/resolve.py   a name's address: preferred_ip_protocol, fallback (tcp, dns, icmp)
    probes/snmp/        the SNMP poller: BER, USM, transport, session, the probe
    probes/sip.py       SIP OPTIONS over UDP/TCP/TLS, optional REGISTER with digest auth
    probes/stream.py    live HLS (the sequence moves, segment speed, bitrate); Icecast audio
    probes/integrity/   web integrity: page analysis, spam words, baseline, the probe
    probes/path.py      traceroute over the shared ICMP socket; hops, path hash, path changes
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, cast

from probes.base import (
    KindOptions,
    ProbeResult,
    ProbeTarget,
    Sample,
    failure,
)
from probes.options import OPTIONS

if TYPE_CHECKING:  # asyncio stays out of the settings' import: probes.context is loaded
    from probes.context import Probe  # by the probe modules, when the scheduler needs them

__all__ = [
    "OPTIONS",
    "PROBES",
    "KindOptions",
    "ProbeResult",
    "ProbeTarget",
    "Sample",
    "failure",
]


class _Registry(Mapping[str, "Probe"]):
    """Kind → probe coroutine, importing each kind's module (which exposes ``probe``) the first
    time the kind is looked up."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = modules
        self._loaded: dict[str, Probe] = {}

    def __getitem__(self, kind: str) -> Probe:
        probe = self._loaded.get(kind)
        if probe is None:
            module = importlib.import_module(self._modules[kind])
            probe = self._loaded[kind] = cast("Probe", module.probe)
        return probe

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, kind: object) -> bool:
        return kind in self._modules


PROBES: Mapping[str, Probe] = _Registry(
    {
        "icmp": "probes.icmp",
        "http": "probes.http",
        "dns": "probes.dns",
        "tcp": "probes.tcp",
        "snmp": "probes.snmp.probe",
        "sip": "probes.sip",
        "stream": "probes.stream",
        "web": "probes.integrity.probe",
        "path": "probes.path",
    }
)
