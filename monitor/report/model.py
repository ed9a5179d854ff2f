"""What the report is made of: its figures, the rows of a section, the sections of a report.

Computed by monitor/report/build.py, rendered by render_json, render_csv and html. Times are
unix seconds (UTC); a renderer chooses how to show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from alerts.model import MaintenanceWindow, Outage
from monitor.config.report import ReportSettings
from monitor.core.i18n import NO_NAMES, DisplayNames, group_key
from monitor.report.intervals import Span

__all__ = [
    "CARRIER_LABEL",
    "FORMATS",
    "LOW_COVERAGE",
    "ZERO",
    "Figures",
    "Format",
    "Piece",
    "Report",
    "ReportError",
    "Row",
    "Section",
    "WindowLine",
    "total_of",
]

CARRIER_LABEL = "carrier"
Format = Literal["json", "csv", "html", "xlsx"]
FORMATS: tuple[Format, ...] = ("json", "csv", "html", "xlsx")


class ReportError(ValueError):
    """A report that cannot be made as asked (unknown phase, empty range, no ledger)."""


# Below this share of its period watched, a figure is marked: it speaks for part of the time
# (the default of ``[report] min_coverage``).
LOW_COVERAGE = 0.9


@dataclass(frozen=True, slots=True)
class Figures:
    """A target's (or an aggregate's, as target-time) seconds in a period:
    period = not watched + watched, and watched = maintenance + up + down."""

    period_seconds: float
    maintenance_seconds: float  # watched time inside maintenance windows
    downtime_seconds: float  # watched time down, outside maintenance
    maintenance_downtime_seconds: float  # outage time left out because it was in maintenance
    outages: int
    longest_seconds: float
    watched_seconds: float  # time some result vouched for (alerts/coverage.py)
    min_coverage: float = LOW_COVERAGE * 100  # percent: under it, the figure is marked

    @property
    def unwatched_seconds(self) -> float:
        return max(0.0, self.period_seconds - self.watched_seconds)

    @property
    def scheduled_seconds(self) -> float:
        """Watched time that counts: outside maintenance."""
        return self.watched_seconds - self.maintenance_seconds

    @property
    def up_seconds(self) -> float:
        return self.scheduled_seconds - self.downtime_seconds

    @property
    def availability(self) -> float | None:
        """Percent of the watched time outside maintenance that was up, to 0.001 %; None when
        nothing was watched outside maintenance (no data is not uptime)."""
        scheduled = self.scheduled_seconds
        if scheduled <= 0:
            return None
        return round(self.up_seconds / scheduled * 100.0, 3)

    @property
    def coverage(self) -> float | None:
        """Percent of the period watched, to 0.001 %."""
        if self.period_seconds <= 0:
            return None
        return round(min(self.watched_seconds, self.period_seconds) / self.period_seconds * 100, 3)

    @property
    def low_coverage(self) -> bool:
        watched_enough = self.min_coverage / 100 * self.period_seconds
        return self.period_seconds > 0 and self.watched_seconds < watched_enough

    def sla_met(self, goal: float | None) -> bool | None:
        """Whether the availability reaches ``goal`` (percent); None without a goal, without
        a figure, or when too little was watched to tell."""
        if goal is None or self.availability is None or self.low_coverage:
            return None
        return self.availability >= goal

    @property
    def mttr_seconds(self) -> float | None:
        return self.downtime_seconds / self.outages if self.outages else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.period_seconds + other.period_seconds,
            self.maintenance_seconds + other.maintenance_seconds,
            self.downtime_seconds + other.downtime_seconds,
            self.maintenance_downtime_seconds + other.maintenance_downtime_seconds,
            self.outages + other.outages,
            max(self.longest_seconds, other.longest_seconds),
            self.watched_seconds + other.watched_seconds,
            other.min_coverage,  # one report, one threshold: ZERO's default never wins
        )


ZERO = Figures(0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0)


def total_of(figures: Iterable[Figures]) -> Figures:
    """The figures added up as target-time."""
    total = ZERO
    for f in figures:
        total = total + f
    return total


@dataclass(frozen=True, slots=True)
class Piece:
    """One outage as a section counts it: its downtime parts inside the period."""

    outage: Outage
    downtime: tuple[Span, ...]  # inside the period, outside maintenance
    maintenance: tuple[Span, ...]  # inside the period, inside maintenance

    @property
    def seconds(self) -> float:
        return sum(b - a for a, b in self.downtime)

    @property
    def maintenance_seconds(self) -> float:
        return sum(b - a for a, b in self.maintenance)


@dataclass(frozen=True, slots=True)
class Row:
    """A target in a section."""

    name: str
    group: str
    kind: str
    labels: Mapping[str, str]
    figures: Figures
    pieces: tuple[Piece, ...]
    maintenance: tuple[Span, ...]
    in_settings: bool
    watched: tuple[Span, ...] = ()  # inside the period

    @property
    def carrier(self) -> str | None:
        return self.labels.get(CARRIER_LABEL)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # "range" or a phase name
    title: str
    start: float
    end: float  # cut at "now" while the period lasts
    planned_end: float
    rows: tuple[Row, ...]

    def by(self, key: str) -> list[tuple[str, Figures, list[Row]]]:
        """Aggregates by ``carrier`` or ``group``: (name, figures, rows), in display order."""
        groups: dict[str, list[Row]] = {}
        for row in self.rows:
            name = row.carrier if key == "carrier" else row.group
            if name is not None:
                groups.setdefault(name, []).append(row)
        order = sorted(groups, key=group_key) if key == "group" else sorted(groups)
        return [(n, total_of(r.figures for r in groups[n]), groups[n]) for n in order]

    @property
    def total(self) -> Figures:
        return total_of(r.figures for r in self.rows)


@dataclass(frozen=True, slots=True)
class WindowLine:
    """A maintenance window the report lists: its comment and author, and the watched
    target-time it took out of the report's first section."""

    window: MaintenanceWindow
    seconds: float


@dataclass(frozen=True, slots=True)
class Report:
    generated: float
    start: float
    end: float
    zone: str
    scope: str | None  # the operator's scope as text, None for noc/admin
    filters: Mapping[str, str]
    sections: tuple[Section, ...]
    unknown_windows: tuple[str, ...] = field(default=())
    windows: tuple[WindowLine, ...] = field(default=())  # overlapping, selecting a row
    # The operator's scope as data (label → values), so a page can name its keys in its words.
    scope_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # [report]: the header, the signature block and the availability goals.
    settings: ReportSettings = field(default_factory=ReportSettings)

    def goal(self, level: str, name: str) -> float | None:
        """The availability goal (percent) of an aggregate (``carrier``, ``group``, ``total``)."""
        return self.settings.sla.for_aggregate(level, name)

    def row_goal(self, row: Row) -> float | None:
        return self.settings.sla.for_target(row.carrier, row.group)

    # Display names (targets' titles, [names]) for the pages that show names to people; the
    # JSON and CSV keep the slugs, which scripts and spreadsheets join on.
    names: DisplayNames = NO_NAMES
