"""The availability report computed: per carrier, per group and per target, for each phase.

Computed exactly from the outage ledger (alerts/db.py, table ``outages``), never from samples:

- the **period** of a section is a phase ``[start, end)`` or the range asked for, cut at "now"
  while it lasts;
- **watched** time is the union of the target's coverage spans (alerts/coverage.py: when some
  result vouched for it) inside the period; the rest is **not watched** (netmon stopped, the
  target not yet in the settings) and counts neither as up nor as down;
- **maintenance** of a target is the union of the maintenance windows whose match selects its
  labels (``target``, ``group``, ``kind`` and its own), from the settings and from the API; an
  outage the ledger marks as begun in a window that is no longer known (an API window, gone
  once it ended) counts as maintenance for its own length. Watched maintenance time is taken
  out and shown apart;
- **downtime** is the union of the target's outages (an open one lasts until the period's
  end) inside the watched time, less maintenance. An outage that crosses a phase boundary
  counts in each phase with its own part;
- **availability** = (watched - maintenance - downtime) / (watched - maintenance), to
  0.001 %, none when nothing was watched; **coverage** = watched / period, marked when under
  ``LOW_COVERAGE``; **outages** counts those with downtime left in the period; **longest** is
  the longest such part; **MTTR** (mean time to recover) = downtime / outages;
- a carrier (label ``carrier``), a group and the total add their targets' seconds up
  (target-time), so a carrier with two links down half the time each is 50 % available;
- a device's named circuits (``DEVICE/CIRCUIT``) and, with ``snmp.bgp = true``, its BGP peers
  (``DEVICE/bgp:PEER``, each from the moment the ledger first saw it: ``ledger_subjects``)
  are rows of their own, watched when their device is, in the carrier of the circuit or of
  the device;
- the **maintenance windows** listed are those overlapping the period that select one of the
  report's rows, from the settings and the API (ended ones too, with comment and author), each
  with the watched target-time it took out in the first section.

This module computes a ``Report`` (monitor/report/model.py) and renders nothing: render_json,
render_csv and html show it; cli.py is ``netmon report``, monitor/web/api.py ``/api/v1/report``.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from alerts import db
from alerts.coverage import read_coverage
from alerts.ledger import bgp_device, bgp_subject, circuit_subject
from alerts.model import MaintenanceWindow, Outage
from monitor.config import Settings
from monitor.config.access import ANONYMOUS_ADMIN, Principal
from monitor.core.i18n import DisplayNames, LocalName, group_key
from monitor.report.intervals import Span, clip, intersect, measure, subtract, union
from monitor.report.model import (
    CARRIER_LABEL,
    Figures,
    Piece,
    Report,
    ReportError,
    Row,
    Section,
    WindowLine,
)
from probes.options import SnmpOptions

__all__ = [
    "Subject",
    "build",
    "periods",
    "read_ledger",
    "read_subjects",
    "settings_windows",
]

Subject = tuple[str, str, str, float]  # (name, device, kind, first seen): db.load_subjects

_LAST = 32503680000.0  # 3000-01-01T00:00:00Z
DEFAULT_DAYS = 7  # the period of a report asked for outside and after every phase


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    group: str
    kind: str
    labels: Mapping[str, str]
    in_settings: bool
    watched_as: str = ""  # whose coverage counts: a circuit is watched when its device is
    watched_from: float = -math.inf  # a BGP peer: from when the ledger first saw it

    @property
    def match_labels(self) -> dict[str, str]:
        return {**self.labels, "target": self.name, "group": self.group, "kind": self.kind}

    def selected_by(self, window: MaintenanceWindow) -> bool:
        """Whether ``window`` covers this row: its own labels, or (a circuit, a BGP peer)
        its device's, as the engine and the ledger match them (``target`` = the device)."""
        if window.selects(self.match_labels):
            return True
        if not self.watched_as:
            return False
        device = {**self.labels, "target": self.watched_as, "group": self.group, "kind": "snmp"}
        return window.selects(device)


def _target_figures(
    target: _Target,
    outages: Sequence[Outage],
    windows: Sequence[MaintenanceWindow],
    known: set[str],
    start: float,
    end: float,
    now: float,
    coverage: Sequence[Span],
    min_coverage: float,
) -> Row:
    watched = union(clip(coverage, start, end))
    maint = union(
        [w.span for w in windows if target.selected_by(w)]
        + [
            (o.start, o.end if o.end is not None else now)
            for o in outages
            if o.maintenance is not None and o.maintenance not in known
        ]
    )
    maint_in = intersect(union(clip(maint, start, end)), watched)
    pieces: list[Piece] = []
    for outage in outages:
        stop = outage.end if outage.end is not None else now
        seen = intersect(clip([(outage.start, stop)], start, end), watched)
        if not seen:
            continue
        down = subtract(seen, maint_in)
        muted = intersect(seen, maint_in)
        pieces.append(Piece(outage, tuple(down), tuple(muted)))
    down_all = union(s for p in pieces for s in p.downtime)
    muted_all = union(s for p in pieces for s in p.maintenance)
    counted = [p for p in pieces if p.seconds > 0]
    figures = Figures(
        period_seconds=end - start,
        maintenance_seconds=measure(maint_in),
        downtime_seconds=measure(down_all),
        maintenance_downtime_seconds=measure(muted_all),
        outages=len(counted),
        longest_seconds=max((p.seconds for p in counted), default=0.0),
        watched_seconds=measure(watched),
        min_coverage=min_coverage,
    )
    return Row(
        name=target.name,
        group=target.group,
        kind=target.kind,
        labels=dict(target.labels),
        figures=figures,
        pieces=tuple(pieces),
        maintenance=tuple(maint_in),
        in_settings=target.in_settings,
        watched=tuple(watched),
    )


def periods(
    settings: Settings, phase: str | None, since: float | None, until: float | None, now: float
) -> list[tuple[str, str, float, float]]:
    """(key, title, start, planned end) of each section. Neither phase nor range: the current
    phase, else the last one that ended, else the last ``DEFAULT_DAYS`` days to now."""
    phases = sorted(settings.phases, key=lambda p: p.start)
    if phase is not None:
        found = next((p for p in phases if p.name == phase), None)
        if found is None:
            names = ", ".join(p.name for p in phases) or "none"
            raise ReportError(f"no phase is named {phase!r} (phases: {names})")
        start = max(found.start.timestamp(), since if since is not None else -math.inf)
        end = min(found.end.timestamp(), until if until is not None else math.inf)
        if end <= start:
            raise ReportError(f"the range asked for does not overlap phase {phase!r}")
        return [(found.name, found.title, start, end)]
    if since is None and until is None:
        # The current phase, else the last that ended, else the last week.
        current = next((p for p in phases if p.start.timestamp() <= now < p.end.timestamp()), None)
        ended = [p for p in phases if p.end.timestamp() <= now]
        chosen = current or (max(ended, key=lambda p: p.end) if ended else None)
        if chosen is not None:
            return [(chosen.name, chosen.title, chosen.start.timestamp(), chosen.end.timestamp())]
        since, until = now - DEFAULT_DAYS * 86400.0, now
    if since is None:
        raise ReportError("give the start of the range (from)")
    if until is None:
        until = now
    if until <= since:
        raise ReportError("the range ends before it starts")
    if since < 0 or until > _LAST:
        raise ReportError("the range must lie between 1970 and 3000")
    out = [("range", "", since, until)]
    for p in phases:
        a, b = max(p.start.timestamp(), since), min(p.end.timestamp(), until)
        if b > a:
            out.append((p.name, p.title, a, b))
    return out


def build(
    settings: Settings,
    outages: Sequence[Outage],
    windows: Sequence[MaintenanceWindow],
    *,
    coverage: Mapping[str, Sequence[Span]],
    subjects: Sequence[Subject] = (),
    principal: Principal = ANONYMOUS_ADMIN,
    phase: str | None = None,
    since: float | None = None,
    until: float | None = None,
    target: str | None = None,
    group: str | None = None,
    carrier: str | None = None,
    now: float | None = None,
) -> Report:
    """The report over ``outages`` (those of the ledger overlapping the periods, any order),
    ``windows`` (every maintenance window known), ``coverage`` (each target's watched
    spans: a target without any was not watched) and ``subjects`` (the BGP peers the ledger
    has seen), scoped to ``principal``."""
    now = time.time() if now is None else now
    spans = periods(settings, phase, since, until, now)
    known_targets: dict[str, _Target] = {
        t.name: _Target(t.name, t.group, t.kind, dict(t.labels), True) for t in settings.targets
    }
    names = settings.display_names
    circuit_titles: dict[str, LocalName] = {}
    for t in settings.targets:  # a carrier's availability is its circuits'
        opts = t.options
        for c in opts.circuits if isinstance(opts, SnmpOptions) else ():
            subject = circuit_subject(t.name, c.name)
            labels = {**t.labels, "circuit": c.name, "device": t.name}
            if c.carrier:
                labels["carrier"] = c.carrier
            known_targets[subject] = _Target(subject, t.group, "circuit", labels, True, t.name)
            if c.title:
                circuit_titles[subject] = {"vi": c.title, "en": c.title}
    bgp_devices = {
        t.name: t for t in settings.targets if isinstance(t.options, SnmpOptions) and t.options.bgp
    }
    # A peer with an outage is a peer the ledger saw, should ledger_subjects lack it.
    named = {name for name, *_ in subjects}
    extra: list[Subject] = []
    for o in outages:
        device = bgp_device(o.target)
        if device is not None and device in bgp_devices and o.target not in named:
            named.add(o.target)
            extra.append((o.target, device, "bgp", -math.inf))
    for subject, device, kind, first_seen in [*subjects, *extra]:
        dev = bgp_devices.get(device)
        if kind != "bgp" or dev is None or not subject.startswith(bgp_subject(device, "")):
            continue
        peer = subject[len(bgp_subject(device, "")) :]  # with its @VRF, #AFI if any
        labels = {**dev.labels, "peer": peer.split("@")[0].split("#")[0], "device": dev.name}
        known_targets[subject] = _Target(
            subject, dev.group, "bgp", labels, True, dev.name, watched_from=first_seen
        )
        circuit_titles[subject] = {
            lang: f"{names.target(dev.name, lang)} · BGP {peer}" for lang in ("vi", "en")
        }
    if circuit_titles:
        names = DisplayNames({**names.targets, **circuit_titles}, names.labels)
    for o in outages:  # a target since removed from the settings still counts
        known_targets.setdefault(o.target, _Target(o.target, o.group, "", dict(o.labels), False))
    chosen = [
        t
        for t in known_targets.values()
        if principal.sees_labels(t.match_labels)
        and (target is None or t.name == target)
        and (group is None or t.group == group)
        and (carrier is None or t.labels.get(CARRIER_LABEL) == carrier)
    ]
    chosen.sort(key=lambda t: (group_key(t.group), t.labels.get(CARRIER_LABEL, ""), t.name))
    by_target: dict[str, list[Outage]] = {}
    for o in sorted(outages, key=lambda o: o.start):
        by_target.setdefault(o.target, []).append(o)
    known_windows = {w.name for w in windows}
    sections = []
    for key, title, start, planned in spans:
        end = min(planned, now)
        if end <= start:
            sections.append(Section(key, title, start, start, planned, ()))
            continue
        rows = tuple(
            _target_figures(
                t,
                by_target.get(t.name, []),
                windows,
                known_windows,
                start,
                end,
                now,
                _from(coverage.get(t.watched_as or t.name, ()), t.watched_from),
                settings.report.min_coverage,
            )
            for t in chosen
        )
        sections.append(Section(key, title, start, end, planned, rows))
    unknown = sorted(
        {
            o.maintenance
            for t in chosen
            for o in by_target.get(t.name, [])
            if o.maintenance is not None and o.maintenance not in known_windows
        }
    )
    listed = _window_lines(windows, chosen, sections)
    scope = None
    scope_labels: dict[str, tuple[str, ...]] = {}
    if principal.role == "operator":
        scope_labels = {k: tuple(v) for k, v in sorted(principal.scope.items())}
        scope = ", ".join(f"{k} = {' | '.join(v)}" for k, v in scope_labels.items())
    filters = {
        k: v
        for k, v in (("target", target), ("group", group), ("carrier", carrier))
        if v is not None
    }
    return Report(
        generated=now,
        start=min(s.start for s in sections),
        end=max(s.planned_end for s in sections),
        zone=settings.server.timezone,
        scope=scope,
        filters=filters,
        sections=tuple(sections),
        unknown_windows=tuple(unknown),
        windows=listed,
        scope_labels=scope_labels,
        settings=settings.report,
        names=names,
    )


def _from(spans: Sequence[Span], start: float) -> list[Span]:
    """``spans`` from ``start`` on."""
    return [(max(a, start), b) for a, b in spans if b > start]


def _window_lines(
    windows: Sequence[MaintenanceWindow], chosen: Sequence[_Target], sections: Sequence[Section]
) -> tuple[WindowLine, ...]:
    """The windows overlapping the report that select one of its rows, oldest first, each
    with the watched target-time it took out of the first section."""
    if not sections:
        return ()
    first = sections[0]
    start, end = min(s.start for s in sections), max(s.end for s in sections)
    rows = {r.name: r for r in first.rows}
    out = []
    for window in sorted(windows, key=lambda w: (w.span[0], w.name)):
        a, b = window.span
        if b <= start or a >= end:
            continue
        selected = [t for t in chosen if t.selected_by(window)]
        if not selected:
            continue
        seconds = 0.0
        for t in selected:
            row = rows.get(t.name)
            if row is not None:
                seconds += measure(intersect(clip([(a, b)], first.start, first.end), row.watched))
        out.append(WindowLine(window, seconds))
    return tuple(out)


def settings_windows(settings: Settings) -> list[MaintenanceWindow]:
    return list(settings.alerts.maintenance)


def read_ledger(
    path: Path, since: float, until: float
) -> tuple[list[Outage], list[MaintenanceWindow], dict[str, list[Span]]]:
    """Outages and coverage spans overlapping [since, until) and the API's maintenance
    windows, read-only."""
    if not path.exists():
        raise ReportError(f"no outage ledger at {path}: is [server] state_dir right?")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        outages: list[Outage] = db.query_outages(None, None, since, until)(conn)
        windows = db.load_windows(conn, since, until)
        watched = read_coverage(conn, since, until)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read the outage ledger {path}: {exc}") from None
    finally:
        conn.close()
    return outages, windows, watched


def read_subjects(path: Path) -> list[Subject]:
    """The BGP peers the ledger has seen, read-only (none in a ledger older than them)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        return db.load_subjects(conn)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read the outage ledger {path}: {exc}") from None
    finally:
        conn.close()
