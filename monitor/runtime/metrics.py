"""/metrics: the store rendered in Prometheus text format.

Rendering 100k series at every scrape costs too much CPU for one event loop
(prometheus_client's generate_latest: 891.5 ms CPU, median, for 100,008 series in
bench/results/metrics.json), so each target's lines are rendered when its result arrives (a
store listener), kept per metric family, and only joined at scrape time (7.1 ms there).
netmon's own health metrics are few and go through prometheus_client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.config import Target
from monitor.runtime.store import Observation, Store, TargetState

# HELP and TYPE of the families DESIGN.md names; a probe may add others (typed gauge).
FAMILIES: dict[str, tuple[str, str]] = {
    "probe_success": ("gauge", "Whether the last probe succeeded (1) or not (0)."),
    "probe_duration_seconds": ("gauge", "How long the last probe took, in seconds."),
    "probe_failure_info": ("gauge", "Why the last probe failed (absent when it succeeded)."),
    "probe_icmp_packets_sent": ("gauge", "ICMP echo requests sent by the last probe."),
    "probe_icmp_packets_received": ("gauge", "ICMP echo replies received by the last probe."),
    "probe_icmp_packet_loss_ratio": ("gauge", "Share of echoes lost in the last probe (0..1)."),
    "probe_icmp_rtt_seconds": ("gauge", "Round-trip time of the last probe's echoes."),
    "probe_icmp_jitter_seconds": (
        "gauge",
        "Mean absolute difference of consecutive round-trip times.",
    ),
    "probe_http_status_code": ("gauge", "HTTP status code of the last probe's final response."),
    "probe_http_duration_seconds": ("gauge", "Duration of each phase of the last HTTP probe."),
    "probe_ssl_earliest_cert_expiry": ("gauge", "Expiry of the peer certificate, unix seconds."),
    "probe_http_content_match": (
        "gauge",
        "Required content present and forbidden content absent (1) or not (0).",
    ),
    "probe_http_content_required_match": (
        "gauge",
        "Every required text (body_contains, the congress banner) is present (1) or not (0).",
    ),
    "probe_http_content_forbidden_match": (
        "gauge",
        "No forbidden text (body_absent, defacement words) is present (1) or one is (0).",
    ),
    "probe_dns_lookup_time_seconds": ("gauge", "How long the DNS query took."),
    "probe_dns_answer_match": ("gauge", "The DNS answer equals the expected set (1) or not (0)."),
    # SNMP, named as snmp_exporter's if_mib module names them (labels ifIndex, ifName, ifDescr,
    # ifAlias); the octet, error and discard counters are counters, as there.
    "ifOperStatus": ("gauge", "The current operational state of the interface (IF-MIB)."),
    "ifAdminStatus": ("gauge", "The desired state of the interface (IF-MIB)."),
    "ifHCInOctets": ("counter", "Octets received on the interface, 64-bit (IF-MIB)."),
    "ifHCOutOctets": ("counter", "Octets transmitted out of the interface, 64-bit (IF-MIB)."),
    "ifInOctets": ("counter", "Octets received on the interface, 32-bit (IF-MIB)."),
    "ifOutOctets": ("counter", "Octets transmitted out of the interface, 32-bit (IF-MIB)."),
    "ifInErrors": ("counter", "Inbound packets with errors (IF-MIB)."),
    "ifOutErrors": ("counter", "Outbound packets that could not be sent for errors (IF-MIB)."),
    "ifInDiscards": ("counter", "Inbound packets discarded without an error (IF-MIB)."),
    "ifOutDiscards": ("counter", "Outbound packets discarded without an error (IF-MIB)."),
    "ifHighSpeed": ("gauge", "The interface's current bandwidth in Mbit/s (IF-MIB)."),
    "sysUpTime": ("gauge", "Seconds since the SNMP agent was (re)initialized (SNMPv2-MIB)."),
    "sysName": ("gauge", "The agent's sysName, as a label; always 1 (SNMPv2-MIB)."),
    "bgpPeerState": (
        "gauge",
        "BGP peer state (BGP4-MIB): 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, "
        "6 established.",
    ),
    "probe_snmp_if_utilization_ratio": (
        "gauge",
        "Interface utilization between the last two polls, by direction (0..1 of its speed).",
    ),
    "probe_snmp_agent_restarted": (
        "gauge",
        "1 when the agent restarted since the previous poll (sysUpTime went back, or a "
        "coldStart/warmStart trap), else 0.",
    ),
    "probe_snmp_last_restart_timestamp_seconds": (
        "gauge",
        "When netmon last saw the agent restart, unix seconds.",
    ),
    "probe_snmp_oid_value": ("gauge", "The value of an extra numeric OID of the target."),
}

OWN_FAMILIES = ("probe_success", "probe_duration_seconds", "probe_failure_info")


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def target_labels(target: Target) -> str:
    """The label pairs every series of ``target`` carries, rendered once per target."""
    pairs = [("target", target.name), ("kind", target.kind), ("group", target.group)]
    pairs += sorted(target.labels.items())
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs)


def _line(name: str, base: str, extra: Iterable[tuple[str, str]], value: float) -> str:
    more = "".join(f',{k}="{escape_label_value(v)}"' for k, v in extra)
    return f"{name}{{{base}{more}}} {format_value(value)}\n"


def render_target(target: Target, observation: Observation) -> dict[str, str]:
    """Every series of one target's latest result, grouped by metric family."""
    base = target_labels(target)
    result = observation.result
    out: dict[str, str] = {
        "probe_success": _line("probe_success", base, (), 1.0 if result.success else 0.0),
        "probe_duration_seconds": _line("probe_duration_seconds", base, (), observation.duration),
    }
    if not result.success:
        out["probe_failure_info"] = _line(
            "probe_failure_info", base, (("reason", result.reason or "unknown"),), 1.0
        )
    for sample in result.samples:
        out[sample.name] = out.get(sample.name, "") + _line(
            sample.name, base, sample.labels, sample.value
        )
    return out


class MetricsRenderer:
    """Keeps each target's rendered lines; joins them per family at scrape time."""

    def __init__(self, store: Store) -> None:
        self._fragments: dict[str, dict[str, str]] = {}  # family -> target -> lines
        self._order: list[str] = list(FAMILIES)
        store.subscribe(self._on_record, self._on_remove)
        for state in store:
            if state.latest is not None:
                self._on_record(state, state.latest)

    def _on_record(self, state: TargetState, observation: Observation) -> None:
        name = state.target.name
        rendered = render_target(state.target, observation)
        for family, lines in rendered.items():
            per_target = self._fragments.get(family)
            if per_target is None:
                per_target = self._fragments[family] = {}
                if family not in FAMILIES:
                    self._order.append(family)
            per_target[name] = lines
        for family, per_target in self._fragments.items():
            if family not in rendered:
                per_target.pop(name, None)

    def _on_remove(self, name: str) -> None:
        for per_target in self._fragments.values():
            per_target.pop(name, None)

    def render_probes(self) -> str:
        parts: list[str] = []
        for family in self._order:
            per_target = self._fragments.get(family)
            if not per_target:
                continue
            kind, text = FAMILIES.get(family, ("gauge", f"{family} as measured by the probe."))
            parts.append(f"# HELP {family} {text}\n# TYPE {family} {kind}\n")
            parts.append("".join(per_target.values()))
        return "".join(parts)


class ServiceCollector(Collector):
    """netmon's own health, read at scrape time from the objects that keep it."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._read()


def service_registry(read: Callable[[], Iterable[Metric]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(read))
    # process_resident_memory_bytes, process_open_fds, ...: what a soak and an operator watch.
    ProcessCollector(registry=registry)
    return registry


def render_service(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))
