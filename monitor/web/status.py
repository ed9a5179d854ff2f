"""What each target is doing now, as the status page and the API tell it.

The web layer reads the store (latest result and short history), the alert engine (firing
alerts, maintenance windows) and nothing else. One state per target, the first that holds:

- ``maintenance``: an active maintenance window matches the target's labels;
- ``suppressed``: it is down and a ``depends_on`` parent is down too (the engine holds its
  alerts: hold kind ``parent_down``);
- ``down``: its last probe failed;
- ``degraded``: its last probe succeeded, but with ICMP loss, a TLS certificate inside its
  ``tls_expiry_warn``, or an alert of its own firing (latency, an interface down, ...);
- ``up``; ``unknown`` before the first probe.

Everything here is already scoped: callers pass the principal, and a target, alert or parent
the principal may not see is left out (a parent out of scope is not named).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alerts.model import HoldReason, iso
from monitor.config import Phase, Target
from monitor.config.access import Principal
from monitor.core.i18n import LANGUAGES, NO_NAMES, DisplayNames, Lang, reason_text
from monitor.core.labels import matches, target_labels
from monitor.runtime.service import Service
from monitor.runtime.store import Observation, TargetState

__all__ = [
    "STATES",
    "Board",
    "Figures",
    "TargetView",
    "board",
    "figures",
    "observation_json",
    "public_address",
    "target_json",
    "view_target",
    "visible_alerts",
]

STATES = ("up", "down", "degraded", "suppressed", "maintenance", "unknown")
_TLS_WARN_DEFAULT = 21 * 86400.0  # tcp has no tls_expiry_warn of its own: http's default
SPARK_POINTS = 40


@dataclass(frozen=True, slots=True)
class Figures:
    """The last result's figures, as the page shows them."""

    rtt: float | None = None  # ICMP average round trip, seconds
    loss: float | None = None  # ICMP loss, 0..1
    response: float | None = None  # the probe's own duration (http, tcp, dns, snmp), seconds
    http_status: int | None = None
    cert_expiry: float | None = None  # unix seconds
    sip_status: int | None = None  # the SIP OPTIONS' final code
    sip_server: str | None = None  # its Server (or User-Agent) header
    stream_bitrate: float | None = None  # the measured bitrate, bits per second
    stream_declared: float | None = None  # the playlist's (or ICY header's) bitrate
    stream_segment_age: float | None = None  # how old the newest HLS segment is, seconds
    web_similarity: float | None = None  # the visible text's likeness to the baseline, 0..1
    web_learning: tuple[int, int] | None = None  # (fetches, needed) while the baseline learns


# The integrity probe says how far the baseline has learnt only in its detail (probes/integrity/
# probe.py: "learning the baseline (2/3)"); probe_web_baseline_ready says whether it is.
_LEARNING = re.compile(r"learning the baseline \((\d+)/(\d+)\)")


def _learning(obs: Observation, ready: float | None) -> tuple[int, int] | None:
    """(fetches, needed) while the baseline learns; (0, 0) when the detail does not say."""
    if ready is None or ready >= 1:
        return None
    found = _LEARNING.search(obs.result.detail)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def figures(target: Target, obs: Observation | None) -> Figures:
    if obs is None:
        return Figures()
    values: dict[str, float] = {}
    rtt: float | None = None
    sip_server: str | None = None
    for sample in obs.result.samples:
        if sample.name == "probe_icmp_rtt_seconds":
            if ("stat", "avg") in sample.labels:
                rtt = sample.value
        elif sample.name == "probe_sip_info":
            sip_server = dict(sample.labels).get("server")
        elif sample.name == "probe_sip_duration_seconds" and ("phase", "options") in sample.labels:
            values["sip_options"] = sample.value  # the OPTIONS' round trip: its response time
        else:
            values.setdefault(sample.name, sample.value)
    loss = values.get("probe_icmp_packet_loss_ratio")
    status = values.get("probe_http_status_code")
    response = None if target.kind == "icmp" else obs.duration
    if target.kind == "dns" and "probe_dns_lookup_time_seconds" in values:
        response = values["probe_dns_lookup_time_seconds"]
    if target.kind == "sip" and "sip_options" in values:
        response = values["sip_options"]
    if target.kind == "stream":  # its run watches the playlist a segment long: no response time
        response = None
    return Figures(
        rtt=rtt,
        loss=loss,
        response=response,
        http_status=int(status) if status is not None and status > 0 else None,
        cert_expiry=values.get("probe_ssl_earliest_cert_expiry"),
        sip_status=int(sip_status) if (sip_status := values.get("probe_sip_status_code")) else None,
        sip_server=sip_server,
        stream_bitrate=values.get("probe_stream_bitrate_bps"),
        stream_declared=values.get("probe_stream_declared_bitrate_bps"),
        stream_segment_age=values.get("probe_stream_segment_age_seconds"),
        web_similarity=values.get("probe_web_text_similarity"),
        web_learning=_learning(obs, values.get("probe_web_baseline_ready")),
    )


def _tls_warn(target: Target) -> float:
    opts = target.http
    return opts.tls_expiry_warn if opts is not None else _TLS_WARN_DEFAULT


def _degraded(target: Target, obs: Observation) -> tuple[str, dict[str, str]] | None:
    """Why a good result is not quite good: ICMP loss, a certificate about to expire."""
    if not obs.result.success:
        return None
    fig = figures(target, obs)
    if fig.loss is not None and fig.loss > 0:
        return "packet_loss", {"loss": f"{fig.loss * 100:.0f} %"}
    if fig.cert_expiry is not None and fig.cert_expiry - obs.started < _tls_warn(target):
        days = max(0, int((fig.cert_expiry - obs.started) // 86400))
        return "tls_expiring", {"days": str(days)}
    return None


@dataclass(frozen=True, slots=True)
class TargetView:
    target: Target
    state: str
    probe_state: str  # up | down | unknown: the last probe itself
    since: float | None
    reason: str | None  # a stable code (i18n.py)
    fields: Mapping[str, str]  # what the reason's words are filled with
    detail: str | None
    last_probe: float | None
    duration: float | None
    figures: Figures
    maintenance: str | None
    maintenance_end: float | None
    suppressed_by: str | None  # None also when the parent is out of the principal's scope
    depends_on: tuple[str, ...]  # the parents the principal may see
    alerts: tuple[Mapping[str, Any], ...]  # this target's firing alerts
    history: tuple[Observation, ...]
    names: DisplayNames = NO_NAMES  # the settings' display names (targets' titles, [names])
    # The most severe alert paging for it ("critical", "warning"; "" when none): the card's
    # colour, so a critical fault is red whatever else is firing.
    severity: str = ""
    # The active window's comment, and the NOC's note on its open outage (issue 14).
    maintenance_comment: str = ""
    note: Mapping[str, Any] | None = None

    def title(self, lang: Lang) -> str:
        """The target's display name (its ``title``, else its name)."""
        return self.names.target(self.target.name, lang)

    def label(self, key: str, lang: Lang) -> str:
        """A label's value as people read it (``carrier``: "Viettel"); "" when unset."""
        value = self.target.labels.get(key, "")
        return self.names.label(key, value, lang) if value else ""

    def reason_text(self, lang: str) -> str:
        fields = dict(self.fields)
        if self.reason == "alert":  # the alert's own summary, in that language
            fields["summary"] = fields.get(f"summary_{lang}", "")
        if self.reason == "parent_down" and self.suppressed_by is not None:
            fields["parent"] = self.names.target(self.suppressed_by, "en" if lang == "en" else "vi")
        return reason_text(self.reason, "en" if lang == "en" else "vi", fields)


def _parse(ts: str | None) -> float | None:
    if ts is None:
        return None
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


# The severities a card shows, most severe first; "info" and "none" never colour a card.
_CARD_SEVERITY = {"critical": 0, "warning": 1}


def view_target(
    state: TargetState,
    *,
    parents: Mapping[str, TargetState],
    windows: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    principal: Principal,
    names: DisplayNames = NO_NAMES,
    note: Mapping[str, Any] | None = None,
) -> TargetView:
    """One target's state. ``parents``: the store's states by name; ``windows``: the engine's
    maintenance list; ``alerts``: firing alerts already in the principal's scope."""
    target = state.target
    latest = state.latest
    history = tuple(state.history)
    mine = tuple(a for a in alerts if a.get("target") == target.name and a["state"] == "firing")
    visible_parents = tuple(
        p for p in target.depends_on if p in parents and principal.sees(parents[p].target)
    )
    labels = target_labels(target)
    window = next(
        (w for w in windows if w.get("active") and matches(w["match"], labels)),
        None,
    )
    probe_state = "unknown" if latest is None else ("up" if latest.result.success else "down")
    fig = figures(target, latest)
    state_name, reason, fields = probe_state, None, {}
    since = state.since
    suppressed_by = None
    if latest is None:
        reason = "not_probed"
    elif not latest.result.success:
        reason = latest.result.reason or "unknown"
        for parent in target.depends_on:
            pstate = parents.get(parent)
            plast = pstate.latest if pstate is not None else None
            if plast is not None and not plast.result.success:
                state_name = "suppressed"
                suppressed_by = parent if parent in visible_parents else None
                fields = {"parent": suppressed_by or "-"}
                reason = "parent_down"
                break
    else:
        degraded = _degraded(target, latest)
        paging = [a for a in mine if not a.get("held")]
        if degraded is not None:
            state_name = "degraded"
            reason, fields = degraded
            # Since the first of the trailing results that were degraded the same way.
            for obs in reversed(history):
                found = _degraded(target, obs)
                if found is None or found[0] != reason:
                    break
                since = obs.started
        elif serious := [a for a in paging if a.get("severity") in _CARD_SEVERITY]:
            state_name = "degraded"
            reason = "alert"
            # The most severe first, then the oldest of those: what the card says and shows.
            first = min(
                serious,
                key=lambda a: (_CARD_SEVERITY[str(a["severity"])], str(a.get("since") or "")),
            )
            annotations = first.get("annotations") or {}
            fields = {
                f"summary_{lang}": str(annotations.get(f"summary_{lang}") or first["rule"])
                for lang in LANGUAGES
            }
            fields["summary"] = fields["summary_vi"]
            since = _parse(first.get("since")) or since
    if window is not None:
        state_name = "maintenance"
        reason = "maintenance"
        fields = {"window": str(window["name"])}
        since = _parse(window.get("start"))
    worst = min(
        (
            str(a["severity"])
            for a in mine
            if not a.get("held") and a.get("severity") in _CARD_SEVERITY
        ),
        key=_CARD_SEVERITY.__getitem__,
        default="",
    )
    return TargetView(
        target=target,
        state=state_name,
        severity=worst,
        probe_state=probe_state,
        since=since,
        reason=reason,
        fields=fields,
        detail=latest.result.detail if latest is not None else None,
        last_probe=latest.started if latest is not None else None,
        duration=latest.duration if latest is not None else None,
        figures=fig,
        maintenance=str(window["name"]) if window is not None else None,
        maintenance_end=_parse(window.get("end")) if window is not None else None,
        suppressed_by=suppressed_by,
        depends_on=visible_parents,
        alerts=mine,
        history=history,
        names=names,
        maintenance_comment=str(window.get("comment") or "") if window is not None else "",
        note=note,
    )


def _reason_texts(view: TargetView) -> dict[str, str]:
    return {lang: view.reason_text(lang) for lang in LANGUAGES}


def public_address(target: Target) -> str:
    """What the probe reaches, without what must not be shown: a URL's user, password,
    query and fragment (a key may ride in either)."""
    if target.url is None:
        return target.host or ""
    parts = urlsplit(target.url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def target_json(view: TargetView) -> dict[str, Any]:
    """A target in the API: stable field names (openapi.py, ``Target``); times UTC."""
    target = view.target
    fig = view.figures
    return {
        "name": target.name,
        "kind": target.kind,
        "group": target.group,
        "labels": dict(target.labels),
        "address": public_address(target),
        "depends_on": list(view.depends_on),
        "state": view.state,
        "probe_state": view.probe_state,
        "since": iso(view.since),
        "reason": view.reason,
        "reason_text": _reason_texts(view),
        "detail": view.detail,
        "last_probe": iso(view.last_probe),
        "duration_seconds": _round(view.duration),
        "rtt_seconds": _round(fig.rtt),
        "loss_ratio": _round(fig.loss, 4),
        "http_status": fig.http_status,
        "cert_expiry": iso(fig.cert_expiry),
        "maintenance": view.maintenance,
        "suppressed_by": view.suppressed_by,
        "alerts": sorted({str(a["rule"]) for a in view.alerts}),
    }


def observation_json(target: Target, obs: Observation) -> dict[str, Any]:
    fig = figures(target, obs)
    return {
        "started": iso(obs.started),
        "success": obs.result.success,
        "reason": obs.result.reason,
        "detail": obs.result.detail,
        "duration_seconds": _round(obs.duration),
        "rtt_seconds": _round(fig.rtt),
        "loss_ratio": _round(fig.loss, 4),
        "http_status": fig.http_status,
    }


def visible_alerts(
    alerts: Iterable[Mapping[str, Any]],
    principal: Principal,
    visible_targets: set[str],
) -> list[dict[str, Any]]:
    """The engine's alerts a principal may see. An operator sees only those of its own
    targets (not even the Watchdog), without the receivers paged, and a hold naming a parent
    out of its scope names none (``hold.parent`` None, ``held`` "a parent")."""
    out: list[dict[str, Any]] = []
    for alert in alerts:
        if principal.role != "operator":
            out.append(dict(alert))
            continue
        target = alert.get("target")
        if not target or target not in visible_targets:
            continue
        if not principal.sees_labels(alert.get("labels") or {}):
            continue
        shown = dict(alert)
        shown["notified"] = []
        hold = shown.get("hold")
        parent = hold.get("parent") if isinstance(hold, Mapping) else None
        if isinstance(hold, Mapping) and parent is not None and parent not in visible_targets:
            unnamed = HoldReason(hold["kind"], None, hold.get("window"), by=hold.get("by"))
            shown["hold"] = {**hold, "parent": None}
            shown["held"] = unnamed.english()
        out.append(shown)
    return out


@dataclass(frozen=True, slots=True)
class Board:
    """Everything one principal may see now: its targets and their firing alerts."""

    views: tuple[TargetView, ...]
    alerts: tuple[dict[str, Any], ...]  # every alert state the engine reports, in scope
    phase: Phase | None
    now: float
    names: DisplayNames = NO_NAMES

    def view(self, name: str) -> TargetView | None:
        return next((v for v in self.views if v.target.name == name), None)


def board(service: Service, principal: Principal, now: float) -> Board:
    states = {s.target.name: s for s in service.store}
    visible = [s for s in states.values() if principal.sees(s.target)]
    names = {s.target.name for s in visible}
    alerts = visible_alerts(service.alerts.alerts_json(), principal, names)
    windows = service.alerts.maintenance()
    notes = service.alerts.open_notes()
    display = service.settings.display_names
    # Each target is handed only its own alerts: scanning all of them per target was
    # quadratic (800 targets down: 0.7 s on the loop per render).
    by_target: dict[object, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        by_target.setdefault(alert.get("target"), []).append(alert)
    views = tuple(
        view_target(
            s,
            parents=states,
            windows=windows,
            alerts=by_target.get(s.target.name, ()),
            principal=principal,
            names=display,
            note=notes.get(s.target.name),
        )
        for s in visible
    )
    return Board(views, tuple(alerts), service.scheduler.phase, now, display)
