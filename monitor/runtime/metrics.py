"""/metrics: the store rendered in Prometheus text format.

Rendering 100k series at every scrape costs too much CPU for one event loop
(prometheus_client's generate_latest: 891.5 ms CPU, median, for 100,008 series in
bench/results/metrics.json), so each target's lines are rendered when its result arrives (a
store listener), kept per metric family, and only joined at scrape time (7.1 ms there).
The families' HELP, TYPE and order come from the metric catalogue (probes/catalogue.py).
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
from probes.catalogue import BY_NAME, CATALOGUE


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


# A target's line heads kept at most: label values that change every result (none of the
# catalogue's do) cannot grow the cache without bound.
_PREFIXES_MAX = 4096


class _Prefixes:
    """One target's line heads (``name{labels} ``), escaped once and reused for every result:
    the same bytes as ``render_target`` (tests/runtime/test_metrics.py pins it), a third of
    its cost."""

    __slots__ = ("base", "heads", "target")

    def __init__(self, target: Target) -> None:
        self.target = target
        self.base = target_labels(target)
        self.heads: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def head(self, name: str, extra: tuple[tuple[str, str], ...]) -> str:
        key = (name, extra)
        head = self.heads.get(key)
        if head is None:
            if len(self.heads) >= _PREFIXES_MAX:
                self.heads.clear()
            more = "".join(f',{k}="{escape_label_value(v)}"' for k, v in extra)
            head = self.heads[key] = f"{name}{{{self.base}{more}}} "
        return head

    def render(self, observation: Observation) -> dict[str, str]:
        result = observation.result
        head = self.head
        out: dict[str, str] = {
            "probe_success": head("probe_success", ()) + ("1\n" if result.success else "0\n"),
            "probe_duration_seconds": head("probe_duration_seconds", ())
            + format_value(observation.duration)
            + "\n",
        }
        if not result.success:
            out["probe_failure_info"] = (
                head("probe_failure_info", (("reason", result.reason or "unknown"),)) + "1\n"
            )
        for sample in result.samples:
            line = head(sample.name, sample.labels) + format_value(sample.value) + "\n"
            previous = out.get(sample.name)
            out[sample.name] = line if previous is None else previous + line
        return out


class MetricsRenderer:
    """Keeps each target's rendered lines; joins them per family at scrape time."""

    def __init__(self, store: Store) -> None:
        self._fragments: dict[str, dict[str, str]] = {}  # family -> target -> lines
        self._prefixes: dict[str, _Prefixes] = {}  # target -> its line heads
        self._families_of: dict[str, tuple[str, ...]] = {}  # target -> families it has lines in
        # The catalogue's order, then any family a probe emits undeclared (a defect
        # tests/probes/test_catalogue.py catches; its series are still exposed).
        self._order: list[str] = [family.name for family in CATALOGUE]
        store.subscribe(self._on_record, self._on_remove)
        for state in store:
            if state.latest is not None:
                self._on_record(state, state.latest)

    def _on_record(self, state: TargetState, observation: Observation) -> None:
        target = state.target
        name = target.name
        prefixes = self._prefixes.get(name)
        if prefixes is None or prefixes.target is not target:  # new, or reloaded
            prefixes = self._prefixes[name] = _Prefixes(target)
        rendered = prefixes.render(observation)
        for family, lines in rendered.items():
            per_target = self._fragments.get(family)
            if per_target is None:
                per_target = self._fragments[family] = {}
                if family not in BY_NAME:
                    self._order.append(family)
            per_target[name] = lines
        for family in self._families_of.get(name, ()):
            if family not in rendered:
                self._fragments[family].pop(name, None)
        self._families_of[name] = tuple(rendered)

    def _on_remove(self, name: str) -> None:
        self._prefixes.pop(name, None)
        for family in self._families_of.pop(name, ()):
            self._fragments[family].pop(name, None)

    def render_probes(self) -> str:
        parts: list[str] = []
        for family in self._order:
            per_target = self._fragments.get(family)
            if not per_target:
                continue
            declared = BY_NAME.get(family)
            if declared is None:
                kind, text = "gauge", f"{family} as measured by the probe."
            else:
                kind, text = declared.type, declared.help
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
