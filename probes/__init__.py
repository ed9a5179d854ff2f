"""The probe registry: the only list of kinds.

``PROBES`` maps a kind to its probe coroutine; ``OPTIONS`` maps every kind the settings accept
to its options model. A kind in ``OPTIONS`` but not in ``PROBES`` would be validated at load but
not scheduled.
"""

from __future__ import annotations

from probes import dns, http, icmp, snmp, tcp
from probes.base import KindOptions, Probe, ProbeContext, ProbeResult, Sample, failure
from probes.options import DnsOptions, HttpOptions, IcmpOptions, SnmpOptions, TcpOptions

PROBES: dict[str, Probe] = {
    "icmp": icmp.probe,
    "http": http.probe,
    "dns": dns.probe,
    "tcp": tcp.probe,
    "snmp": snmp.probe,
}

OPTIONS: dict[str, type[KindOptions]] = {
    "icmp": IcmpOptions,
    "http": HttpOptions,
    "dns": DnsOptions,
    "tcp": TcpOptions,
    "snmp": SnmpOptions,
}

__all__ = [
    "OPTIONS",
    "PROBES",
    "KindOptions",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "Sample",
    "failure",
]
