"""The dashboards, as code (grafana-foundation-sdk, Grafana 11.x models).

Six dashboards, Vietnamese titles and English descriptions, every time shown in
``[server] timezone``; each queries the datasource ``[grafana] datasource_uid`` (push points
the operator's copy at the operator's own datasource, on the label-enforcing proxy):

- ``netmon-noc``: NOC overview, for the wall: every group at a glance, the current phase,
  firing alerts, the worst targets now;
- ``netmon-carriers``: carrier links, Smokeping-like (RTT min/avg/max band and loss per link),
  jitter, and the edge routers over SNMP: traffic in/out, utilization, errors, interface
  status, BGP peers, uptime;
- ``netmon-venue``: the congress venue's network;
- ``netmon-websites``: availability, response phases, TLS days left, banner and defacement
  checks, HTTP status, DNS;
- ``netmon-operator``: one carrier's links only (what an operator sees);
- ``netmon-self``: netmon itself: scheduler lag, probes in flight, notifications, outbox,
  reloads, scrapes.

Template variables: ``location`` (vantage point), ``group``, ``carrier``, ``target``, as each
dashboard needs. Metric names and labels are those of DESIGN.md's table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitor.config import Settings
from monitor.core.i18n import Lang, bgp_state_text, port_state_text, reason_words

__all__ = [
    "DASHBOARDS",
    "build_all",
    "build_json",
    "dashboard_annotations",
    "link_targets",
    "operator_copy",
]

LOC = 'location=~"$location"'
PAGING = 'severity!="none"'  # every severity but the Watchdog's
TAG = "netmon"


def sel(metric: str, *matchers: str) -> str:
    """``metric{m1,m2}`` from the matchers that are not empty."""
    return f"{metric}{{{','.join(m for m in matchers if m)}}}"


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _both(vi: str, en: str) -> str:
    """A description in Vietnamese for the staff, the English under it for the engineers
    (Grafana renders a description as markdown: a blank line parts them)."""
    return f"{vi}\n\n{en}"


@dataclass
class _Ctx:
    """What every panel of one dashboard shares: the datasource and the ids handed out."""

    ds: models.DataSourceRef
    lang: Lang = "vi"
    next_id: int = 1
    panels: list[Builder[models.Panel] | dashboard.Row] = field(default_factory=list)

    def ident(self) -> int:
        self.next_id += 1
        return self.next_id - 1


# --------------------------------------------------------------------------- building blocks


def _query(expr: str, legend: str = "", *, instant: bool = False, table_: bool = False) -> Any:
    """One PromQL query; it uses its panel's datasource."""
    q = prometheus.Dataquery().expr(expr)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if table_:
        q = q.format(PromQueryFormat.TABLE)
    return q


def _by_target(
    agg: str,
    metric: str,
    match: list[str],
    *,
    legend: str = "{{target}}",
    top: str = "",
    instant: bool = False,
) -> Any:
    """``agg by (target) (metric{match})``, one series a target; ``top``: only ten of them."""
    expr = f"{agg} by (target) ({sel(metric, *match)})"
    if top:
        expr = f"{top}(10, {expr})"
    return _query(expr, legend, instant=instant)


def _thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=v, color=c) for v, c in steps])
    )


def _mapping(options: dict[str, tuple[str, str]]) -> list[models.ValueMapping]:
    return [
        models.ValueMap(
            options={
                value: models.ValueMappingResult(text=text, color=color, index=n)
                for n, (value, (text, color)) in enumerate(options.items())
            }
        )
    ]


# "Mất kết nối" only where a 0 means unreachable (ICMP links and devices); a website that
# answers 503 or lost its banner is "Sự cố" (docs/glossary.md).
UP_DOWN = _mapping({"1": ("Hoạt động", "green"), "0": ("Mất kết nối", "red")})
UP_FAILED = _mapping({"1": ("Hoạt động", "green"), "0": ("Sự cố", "red")})
# HTTP status classes: 2xx green, 3xx blue (a redirect is no fault), 4xx orange, 5xx red; 0 is
# no answer at all.
HTTP_STATUS = _thresholds(
    (None, "red"), (200, "green"), (300, "blue"), (400, "orange"), (500, "red")
)
NO_ANSWER = _mapping({"0": ("Không có phản hồi", "red")})
OUTSIDE_PHASES = "Ngoài giai đoạn kế hoạch / Outside plan phases"
# The current phase, else one series titled OUTSIDE_PHASES while netmon reports at all (its
# reload gauge is always there): "or on()" adds the fallback only when no phase is 1.
CURRENT_PHASE = (
    "max by (phase, title) (netmon_phase_info == 1) or on () "
    f'label_replace(0 * group(netmon_config_last_reload_successful), "title", '
    f'"{OUTSIDE_PHASES}", "", "")'
)
HEALTHY = _mapping({"1": ("Bình thường", "green"), "0": ("Có sự cố", "red")})
CONTENT = _mapping(
    {"1": ("Đúng nội dung", "green"), "0": ("Sai nội dung: thiếu băng rôn hoặc bị thay đổi", "red")}
)
DNS_MATCH = _mapping({"1": ("Đúng", "green"), "0": ("Sai bản ghi", "red")})
RELOAD = _mapping({"1": ("Thành công", "green"), "0": ("Bị từ chối", "red")})
# IF-MIB ifOperStatus in the status page's words (a port's state on a device's page), and
# BGP4-MIB bgpPeerState by the protocol's own names.
_IF_COLOURS = {
    "up": "green",
    "down": "red",
    "testing": "blue",
    "unknown": "gray",
    "dormant": "yellow",
    "notPresent": "gray",
    "lowerLayerDown": "orange",
}
IF_STATUS = _mapping(
    {
        str(code): (port_state_text(state, "vi"), colour)
        for code, (state, colour) in enumerate(_IF_COLOURS.items(), start=1)
    }
)
_BGP_COLOURS = ("red", "orange", "orange", "yellow", "yellow", "green")  # idle..established
BGP_STATE = _mapping(
    {str(n): (bgp_state_text(n), colour) for n, colour in enumerate(_BGP_COLOURS, start=1)}
)
# SIP final responses as HTTP's: 2xx green, 3xx blue, 4xx orange, 5xx and 6xx red; 0: none.
SIP_STATUS = HTTP_STATUS
REGISTER = _mapping({"1": ("Đăng ký được", "green"), "0": ("Không đăng ký được", "red")})
# A stream's playlist moved in the window (1) or not (0: a stalled encoder's).
ADVANCING = _mapping({"1": ("Luồng phát bình thường", "green"), "0": ("Luồng bị đứng", "red")})
INJECTED = _mapping({"0": ("Bình thường", "green"), "1": ("Bị chèn mã hoặc liên kết lạ", "red")})
DEFACED = _mapping({"0": ("Giống mẫu", "green"), "1": ("Thay đổi giao diện", "red")})
BASELINE = _mapping({"1": ("Đã có mẫu", "green"), "0": ("Đang học mẫu", "blue")})
AVAILABILITY = _thresholds((None, "red"), (0.95, "orange"), (0.99, "green"))
ONE_IS_GREEN = _thresholds((None, "red"), (1, "green"))  # 1 = up, reloaded, scraped


def _common(
    panel: Any,
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    w: int,
    h: int,
    unit: str | None = None,
) -> Any:
    """What every panel sets: its id, texts, datasource, size, queries (A, B...) and unit."""
    panel = (
        panel.id(ctx.ident())
        .title(title)
        .description(description)
        .datasource(ctx.ds)
        .span(w)
        .height(h)
    )
    if unit is not None:
        panel = panel.unit(unit)
    for n, q in enumerate(queries):
        panel = panel.with_target(q.ref_id(chr(ord("A") + n)))
    return panel


def _bounds(panel: Any, min_: float | None, max_: float | None) -> Any:
    if min_ is not None:
        panel = panel.min(min_)
    if max_ is not None:
        panel = panel.max(max_)
    return panel


def _last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def row(ctx: _Ctx, title: str) -> None:
    ctx.panels.append(dashboard.Row(title).id(ctx.ident()))


def _two_axes(
    left: str, left_unit: str, right: str
) -> list[tuple[str, list[models.DynamicConfigValue]]]:
    """Overrides of a two-axis panel: series named like ``right`` (a regex) on the right axis
    as plain counts, series named like ``left`` in ``left_unit``."""
    return [
        (
            right,
            [
                models.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
                models.DynamicConfigValue(id_val="unit", value="short"),
            ],
        ),
        (left, [models.DynamicConfigValue(id_val="unit", value=left_unit)]),
    ]


def ts(
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    *,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    min_: float | None = None,
    max_: float | None = None,
    repeat: str | None = None,
    overrides: list[tuple[str, list[models.DynamicConfigValue]]] | None = None,
) -> None:
    panel = _common(timeseries.Panel(), ctx, title, description, queries, w, h, unit)
    panel = panel.legend(
        common.VizLegendOptions()
        .display_mode(common_models.LegendDisplayMode.TABLE)
        .placement(common_models.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max", "mean"])
    ).fill_opacity(10 if not stack else 60)
    if stack:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    panel = _bounds(panel, min_, max_)
    if repeat:
        panel = panel.repeat(repeat).repeat_direction("h").max_per_row(2)
    for pattern, properties in overrides or []:
        panel = panel.override_by_regexp(pattern, properties)
    ctx.panels.append(panel)


def st(
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    *,
    unit: str = "short",
    w: int = 6,
    h: int = 5,
    mappings: list[models.ValueMapping] | None = None,
    thresholds: dashboard.ThresholdsConfig | None = None,
    text_name: bool = False,
    no_value: str | None = None,
) -> None:
    panel = _common(stat.Panel(), ctx, title, description, queries, w, h, unit)
    panel = panel.color_mode(common_models.BigValueColorMode.BACKGROUND).graph_mode(
        common_models.BigValueGraphMode.NONE
    )
    panel = panel.reduce_options(_last_value())
    if mappings:
        panel = panel.mappings(mappings)
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    if text_name:
        panel = panel.text_mode(common_models.BigValueTextMode.NAME)
    if no_value is not None:
        panel = panel.no_value(no_value)
    ctx.panels.append(panel)


def timeline(
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    mappings: list[models.ValueMapping],
    *,
    w: int = 24,
    h: int = 8,
) -> None:
    panel = _common(statetimeline.Panel(), ctx, title, description, queries, w, h)
    panel = panel.mappings(mappings).merge_values(True).fill_opacity(80)
    panel = panel.thresholds(_thresholds((None, "green")))
    ctx.panels.append(panel)


def tbl(
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    *,
    w: int = 12,
    h: int = 8,
    columns: dict[str, list[dict[str, Any]]] | None = None,
) -> None:
    """A table; ``columns``: value mappings of some columns, by the column's name."""
    panel = _common(table.Panel(), ctx, title, description, queries, w, h)
    # The table's field config defaults as Grafana (and the SDK's model) fill them in.
    panel = panel.align(common_models.FieldTextAlignment.AUTO).inspect(False)
    panel = panel.with_transformation(
        models.DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": {"Time": True, "__name__": True, "job": True}},
        )
    )
    for name, mappings in (columns or {}).items():
        panel = panel.override_by_name(
            name, [models.DynamicConfigValue(id_val="mappings", value=mappings)]
        )
    ctx.panels.append(panel)


def bars(
    ctx: _Ctx,
    title: str,
    description: str,
    queries: list[Any],
    *,
    unit: str,
    thresholds: dashboard.ThresholdsConfig,
    w: int = 12,
    h: int = 8,
    min_: float | None = None,
    max_: float | None = None,
) -> None:
    panel = _common(bargauge.Panel(), ctx, title, description, queries, w, h, unit)
    panel = panel.thresholds(thresholds)
    panel = panel.display_mode(common_models.BarGaugeDisplayMode.BASIC).orientation(
        common_models.VizOrientation.HORIZONTAL
    )
    panel = _bounds(panel.reduce_options(_last_value()), min_, max_)
    ctx.panels.append(panel)


# --------------------------------------------------------------------------- shared panels


def _up_now(
    ctx: _Ctx,
    title: str,
    description: str,
    match: list[str],
    *,
    w: int = 12,
    h: int = 5,
    mappings: list[models.ValueMapping] = UP_DOWN,
) -> None:
    """Whether each target's last probe succeeded (every location), as up/down."""
    st(
        ctx,
        title,
        description,
        [_by_target("min", "probe_success", match, instant=True)],
        w=w,
        h=h,
        mappings=mappings,
        thresholds=ONE_IS_GREEN,
    )


def _availability(
    ctx: _Ctx, title: str, description: str, query: Any, *, w: int = 12, h: int = 5
) -> None:
    """A share of successful probes, red below 95 %, green from 99 %."""
    st(ctx, title, description, [query], unit="percentunit", w=w, h=h, thresholds=AVAILABILITY)


def _availability_in_range(
    ctx: _Ctx, description: str, match: list[str], *, total: str = "", w: int = 12, h: int = 5
) -> None:
    """Availability over the dashboard's time range: a target each, or one series ``total``."""
    ratio = f"avg_over_time({sel('probe_success', *match)}[$__range])"
    query = (
        _query(f"avg({ratio})", total, instant=True)
        if total
        else _query(f"avg by (target) ({ratio})", "{{target}}", instant=True)
    )
    _availability(ctx, "Khả dụng trong khoảng thời gian", description, query, w=w, h=h)


def _failures(
    ctx: _Ctx,
    title: str,
    description: str,
    labels: str,
    match: list[str],
    *,
    w: int = 12,
    h: int = 8,
) -> None:
    """The targets failing now (probe_failure_info) as a table of ``labels``; the reason
    column in words, the status page's (monitor.core.i18n), its code kept in the query."""
    expr = f"max by ({labels}) ({sel('probe_failure_info', *match)})"
    words = reason_words(ctx.lang)
    reason = {code: {"text": text, "index": n} for n, (code, text) in enumerate(words.items())}
    tbl(
        ctx,
        title,
        description,
        [_query(expr, "", instant=True, table_=True)],
        w=w,
        h=h,
        columns={"reason": [{"type": "value", "options": reason}]},
    )


def _ratios(ctx: _Ctx, title: str, description: str, queries: list[Any]) -> None:
    """Ratios over time, on a 0 to 100 % axis."""
    ts(ctx, title, description, queries, unit="percentunit", min_=0, max_=1)


def _loss(ctx: _Ctx, match: list[str]) -> None:
    _ratios(
        ctx,
        "Tỷ lệ mất gói",
        _both(
            "Tỷ lệ gói tin ICMP của mỗi lần đo không được trả lời.",
            "Share of echo requests of each probe that got no answer.",
        ),
        [_by_target("max", "probe_icmp_packet_loss_ratio", match)],
    )


def _jitter(ctx: _Ctx, match: list[str], *, w: int = 12) -> None:
    ts(
        ctx,
        "Độ dao động trễ (jitter)",
        _both(
            "Chênh lệch trung bình giữa các độ trễ khứ hồi liên tiếp của mỗi lần đo.",
            "Mean absolute difference between consecutive round-trip times of each probe.",
        ),
        [_by_target("max", "probe_icmp_jitter_seconds", match)],
        unit="s",
        w=w,
    )


def _smokeping(ctx: _Ctx, match: list[str]) -> None:
    """RTT min/avg/max as a band with the loss as bars: one panel per link (repeat)."""
    rtt = [
        _by_target(stat_, "probe_icmp_rtt_seconds", [eq("stat", stat_), *match], legend=label)
        for stat_, label in (
            ("min", "RTT tối thiểu"),
            ("avg", "RTT trung bình"),
            ("max", "RTT tối đa"),
        )
    ]
    loss = _by_target("max", "probe_icmp_packet_loss_ratio", match, legend="Tỷ lệ mất gói")
    ts(
        ctx,
        "Độ trễ và mất gói: $target",
        _both(
            "Kiểu Smokeping cho một đường truyền: dải giữa độ trễ khứ hồi thấp nhất và cao "
            "nhất của các gói tin mỗi lần đo, đường trung bình ở giữa, và tỷ lệ mất gói "
            "dạng cột ở trục phải.",
            "Smokeping-like view of one link: the band between the lowest and the highest "
            "round-trip time of each probe's echoes, the mean inside it, and packet loss as"
            " bars on the right axis.",
        ),
        [*rtt, loss],
        unit="s",
        repeat="target",
        overrides=[
            (
                "RTT tối đa",
                [
                    models.DynamicConfigValue(id_val="custom.fillBelowTo", value="RTT tối thiểu"),
                    models.DynamicConfigValue(id_val="custom.fillOpacity", value=25),
                    models.DynamicConfigValue(id_val="custom.lineWidth", value=0),
                ],
            ),
            (
                "RTT tối thiểu",
                [models.DynamicConfigValue(id_val="custom.lineWidth", value=0)],
            ),
            (
                "Tỷ lệ mất gói",
                [
                    models.DynamicConfigValue(id_val="unit", value="percentunit"),
                    models.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
                    models.DynamicConfigValue(id_val="custom.drawStyle", value="bars"),
                    models.DynamicConfigValue(id_val="min", value=0),
                    models.DynamicConfigValue(id_val="max", value=1),
                    models.DynamicConfigValue(
                        id_val="color", value={"mode": "fixed", "fixedColor": "red"}
                    ),
                ],
            ),
        ],
    )


def _snmp(ctx: _Ctx, match: list[str], *, bgp: bool) -> None:
    """The devices' interfaces (and BGP peers) over SNMP, as snmp_exporter names them."""

    def rate(metric: str) -> str:
        return f"max by (target, ifName) (rate({sel(metric, *match)}[$__rate_interval]))"

    ts(
        ctx,
        "Lưu lượng vào/ra",
        _both(
            "Lưu lượng mỗi cổng (bit/giây) từ ifHCInOctets (chiều vào, phía trên) và "
            "ifHCOutOctets (chiều ra, vẽ dưới trục 0).",
            "Traffic of each interface in bits per second from ifHCInOctets (up) and "
            "ifHCOutOctets (down, drawn below zero).",
        ),
        [
            _query(f"{rate('ifHCInOctets')} * 8", "{{target}} {{ifName}} vào"),
            _query(f"{rate('ifHCOutOctets')} * 8", "{{target}} {{ifName}} ra"),
        ],
        unit="bps",
        overrides=[
            (".* ra$", [models.DynamicConfigValue(id_val="custom.transform", value="negative-Y")])
        ],
    )
    _ratios(
        ctx,
        "Mức sử dụng băng thông",
        _both(
            "Tỷ lệ tốc độ cổng (ifHighSpeed) đang được sử dụng, theo từng chiều.",
            "Share of each interface's speed (ifHighSpeed) in use, per direction.",
        ),
        [
            _query(
                "max by (target, ifName, direction) "
                f"({sel('probe_snmp_if_utilization_ratio', *match)})",
                "{{target}} {{ifName}} {{direction}}",
            )
        ],
    )
    ts(
        ctx,
        "Lỗi và gói bị loại trên cổng",
        _both(
            "Số gói lỗi và gói bị loại mỗi giây trên từng cổng (ifIn/OutErrors, "
            "ifIn/OutDiscards): số tăng dần thường do cáp, mô-đun quang hoặc nghẽn.",
            "Errored and discarded packets per second on each interface (ifIn/OutErrors, "
            "ifIn/OutDiscards): a growing count points at cabling, optics or congestion.",
        ),
        [
            _query(rate("ifInErrors"), "{{target}} {{ifName}} lỗi vào"),
            _query(rate("ifOutErrors"), "{{target}} {{ifName}} lỗi ra"),
            _query(rate("ifInDiscards"), "{{target}} {{ifName}} loại vào"),
            _query(rate("ifOutDiscards"), "{{target}} {{ifName}} loại ra"),
        ],
        unit="pps",
    )
    timeline(
        ctx,
        "Trạng thái cổng",
        _both(
            "Trạng thái hoạt động ifOperStatus (IF-MIB) của từng cổng theo thời gian (hoạt "
            "động, ngừng hoạt động, lớp dưới ngừng hoạt động...).",
            "IF-MIB ifOperStatus of each interface over time (up, down, lowerLayerDown...).",
        ),
        [
            _query(
                f"max by (target, ifName) ({sel('ifOperStatus', *match)})",
                "{{target}} {{ifName}}",
            )
        ],
        IF_STATUS,
        w=12 if bgp else 24,
    )
    if bgp:
        timeline(
            ctx,
            "Phiên BGP",
            _both(
                "Trạng thái bgpPeerState (BGP4-MIB) của từng đối tác: khác Established nghĩa là"
                " phiên BGP đã mất.",
                "BGP4-MIB bgpPeerState of each peer: anything but established means the session"
                " is down.",
            ),
            [
                _query(
                    f"max by (target, peer) ({sel('bgpPeerState', *match)})", "{{target}} {{peer}}"
                )
            ],
            BGP_STATE,
            w=12,
        )
        st(
            ctx,
            "Thời gian chạy của thiết bị",
            _both(
                "sysUpTime của từng thiết bị biên: giá trị nhỏ nghĩa là thiết bị vừa khởi động "
                "lại.",
                "sysUpTime of each edge router: a small value means it has just restarted.",
            ),
            [_by_target("max", "sysUpTime", match, instant=True)],
            unit="s",
            w=24,
            h=4,
            thresholds=_thresholds((None, "orange"), (600, "green")),
        )


# --------------------------------------------------------------------------- variables


def _sip(ctx: _Ctx, match: list[str]) -> None:
    """The venue's PBX and the carriers' SIP trunks: the OPTIONS' code, its round trip, and
    whether the test extension registers (issue 16)."""
    st(
        ctx,
        "Mã trạng thái SIP theo trung kế",
        _both(
            "Mã trả lời cuối cùng của bản tin SIP OPTIONS gần nhất cho mỗi tổng đài, trung "
            "kế: 2xx xanh lá, 3xx xanh dương, 4xx cam, 5xx và 6xx đỏ.",
            "Final response code of each PBX's or trunk's last SIP OPTIONS: 2xx green, 3xx "
            "blue, 4xx orange, 5xx and 6xx red.",
        ),
        [_by_target("max", "probe_sip_status_code", match, instant=True)],
        w=8,
        thresholds=SIP_STATUS,
        mappings=NO_ANSWER,
    )
    ts(
        ctx,
        "Thời gian phản hồi SIP OPTIONS",
        _both(
            "Thời gian khứ hồi của bản tin SIP OPTIONS (từ lúc gửi đến trả lời cuối cùng), "
            "mỗi tổng đài, trung kế một đường.",
            "Round trip of the SIP OPTIONS (sent to final response), one line per PBX or trunk.",
        ),
        [_by_target("max", "probe_sip_duration_seconds", [*match, 'phase="options"'])],
        unit="s",
        w=8,
    )
    timeline(
        ctx,
        "Đăng ký máy nhánh SIP",
        _both(
            "Máy nhánh kiểm tra có đăng ký (REGISTER) được với tổng đài không; netmon gỡ "
            "đăng ký ngay sau đó.",
            "Whether the test extension could REGISTER with the PBX; netmon removes the "
            "binding at once.",
        ),
        [_by_target("min", "probe_sip_register_success", match)],
        REGISTER,
        w=8,
    )


def _streams(ctx: _Ctx, match: list[str]) -> None:
    """The congress livestream (HLS) and the commune radios: moving, fresh, at their rate."""
    timeline(
        ctx,
        "Luồng phát có tiến không",
        _both(
            "Số thứ tự đoạn (media sequence) của danh sách phát HLS có tăng trong 5 phút "
            "qua không: không tăng là bộ mã hóa bị đứng.",
            "Whether the HLS playlist's media sequence advanced over the last 5 minutes: "
            "one that does not move is a stalled encoder's.",
        ),
        [
            _query(
                "max by (target) "
                f"(changes({sel('probe_stream_media_sequence', *match)}[5m]) > bool 0)",
                "{{target}}",
            )
        ],
        ADVANCING,
        w=12,
    )
    ts(
        ctx,
        "Tuổi đoạn phát mới nhất",
        _both(
            "Đoạn mới nhất của danh sách phát đã ra đời bao lâu: một luồng trực tiếp khỏe "
            "chỉ chậm vài lần thời lượng đoạn.",
            "How old the playlist's newest segment is: a healthy live stream lags only a few "
            "segment durations.",
        ),
        [_by_target("max", "probe_stream_segment_age_seconds", match)],
        unit="s",
        w=12,
    )
    ts(
        ctx,
        "Tốc độ bit đo được và khai báo",
        _both(
            "Tốc độ bit đo từ đoạn mới nhất (hoặc từ luồng âm thanh) so với tốc độ khai "
            "báo trong danh sách phát (BANDWIDTH) hoặc tiêu đề ICY.",
            "Bitrate measured on the newest segment (or the audio stream) against the one "
            "declared by the playlist (BANDWIDTH) or the ICY header.",
        ),
        [
            _by_target("max", "probe_stream_bitrate_bps", match, legend="{{target}} đo / measured"),
            _by_target(
                "max",
                "probe_stream_declared_bitrate_bps",
                match,
                legend="{{target}} khai báo / declared",
            ),
        ],
        unit="bps",
        w=12,
    )
    ts(
        ctx,
        "Thời gian tải đoạn phát",
        _both(
            "Thời gian tải đoạn mới nhất: lâu hơn thời lượng của đoạn thì người xem bị giật.",
            "How long the newest segment took to download: longer than it plays and viewers "
            "see it stutter.",
        ),
        [_by_target("max", "probe_stream_segment_download_seconds", match)],
        unit="s",
        w=12,
    )


def _integrity(ctx: _Ctx, match: list[str]) -> None:
    """Web integrity (kind web): injected scripts and links, gambling words, defacement."""
    timeline(
        ctx,
        "Bị chèn mã hoặc liên kết lạ",
        _both(
            "Trang có bị chèn mã (script, iframe, biểu mẫu lạ), liên kết ẩn, nhiều liên "
            "kết lạ, từ ngữ cờ bạc hoặc nội dung khác cho máy tìm kiếm không.",
            "Whether the page carries an injected script (script, iframe, foreign form), "
            "hidden links, many unknown links, gambling words, or cloaking.",
        ),
        [_by_target("max", "probe_web_injected", match)],
        INJECTED,
    )
    timeline(
        ctx,
        "Thay đổi giao diện",
        _both(
            "Nội dung chữ của trang có còn giống mẫu đã học không (độ giống dưới ngưỡng "
            "min_similarity là bị thay đổi giao diện).",
            "Whether the page's visible text is still like its learnt baseline (below "
            "min_similarity it is defaced).",
        ),
        [_by_target("max", "probe_web_defaced", match)],
        DEFACED,
        w=12,
    )
    st(
        ctx,
        "Mẫu của trang",
        _both(
            "Đã học xong mẫu của trang chưa (baseline_fetches lần tải tốt đầu tiên; "
            "`netmon baseline accept` học lại).",
            "Whether the site's baseline is learnt (its first baseline_fetches good "
            "fetches; `netmon baseline accept` learns it again).",
        ),
        [_by_target("min", "probe_web_baseline_ready", match, instant=True)],
        w=12,
        h=8,
        mappings=BASELINE,
        thresholds=_thresholds((None, "blue"), (1, "green")),
    )
    ts(
        ctx,
        "Liên kết ẩn và từ ngữ cờ bạc",
        _both(
            "Số liên kết bị CSS giấu tới tên miền lạ, số tên miền script mới và số từ ngữ "
            "cờ bạc, quảng cáo rác tìm thấy trên mỗi trang.",
            "Links hidden by CSS to unknown domains, new script domains and gambling or spam "
            "words found on each site.",
        ),
        [
            _by_target(
                "max", "probe_web_hidden_links", match, legend="{{target}} liên kết ẩn / hidden"
            ),
            _by_target(
                "max",
                "probe_web_new_script_domains",
                match,
                legend="{{target}} script lạ / new scripts",
            ),
            _by_target(
                "max", "probe_web_spam_words", match, legend="{{target}} từ cờ bạc / spam words"
            ),
        ],
        min_=0,
    )
    _ratios(
        ctx,
        "Độ giống nội dung với mẫu",
        _both(
            "Độ giống của phần chữ hiển thị với mẫu đã học (simhash): thấp dưới "
            "min_similarity là dấu hiệu thay đổi giao diện.",
            "Similarity of the visible text to the learnt baseline (simhash): below "
            "min_similarity the page is defaced.",
        ),
        [_by_target("min", "probe_web_text_similarity", match)],
    )


def var(
    name: str,
    label: str,
    query: str,
    ds: models.DataSourceRef,
    *,
    multi: bool = True,
    description: str = "",
) -> dashboard.QueryVariable:
    v = (
        dashboard.QueryVariable(name)
        .label(label)
        .description(description)
        .query(query)
        .datasource(ds)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
    )
    if multi:
        # ".*" also matches series without the label (a Prometheus that adds no location).
        v = (
            v.include_all(True)
            .all_value(".*")
            .current(models.VariableOption(selected=True, text="All", value="$__all"))
        )
    return v


def location_var(ds: models.DataSourceRef) -> dashboard.QueryVariable:
    return var(
        "location",
        "Điểm đo",
        "label_values(probe_success, location)",
        ds,
        description=_both(
            "Điểm đo: netmon (một hoặc nhiều) cung cấp số liệu.",
            "Vantage point: the netmon (or netmons) the data comes from.",
        ),
    )


def carrier_vars(ds: models.DataSourceRef, carrier: str) -> list[dashboard.QueryVariable]:
    """``carrier`` and its links, ``target``, the links scoped by the matcher ``carrier``.

    A regex matcher (``=~``, the carriers dashboard) lets several carriers be picked; an exact
    one (``=``, the operator view) pins one: a multi-value variable needs the regex.
    """
    several = "=~" in carrier
    return [
        var(
            "carrier",
            "Nhà mạng",
            'label_values(probe_success{carrier!=""}, carrier)',
            ds,
            multi=several,
            description=_both(
                "Nhà mạng (nhãn carrier của đối tượng).",
                "Telecom operator (the targets' carrier label).",
            )
            if several
            else _both(
                "Nhà mạng có đường truyền được hiển thị.",
                "The telecom operator whose links are shown.",
            ),
        ),
        var(
            "target",
            "Đường truyền",
            f"label_values(probe_icmp_rtt_seconds{{{carrier}}}, target)",
            ds,
            description=_both(
                "Đường truyền (đối tượng ICMP có nhãn carrier).",
                "Link (an ICMP target with a carrier label).",
            )
            if several
            else _both(
                "Một đường truyền của nhà mạng.",
                "One of the operator's links.",
            ),
        ),
    ]


# --------------------------------------------------------------------------- assembling


def _dashboard(
    settings: Settings,
    ctx: _Ctx,
    uid: str,
    title: str,
    description: str,
    *variables: dashboard.QueryVariable,
) -> dashboard.Dashboard:
    g = settings.grafana
    d = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .timezone(settings.server.timezone)
        .time(g.time_from, "now")
        .refresh(g.refresh)
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .link(
            dashboard.DashboardLink("Bảng giám sát netmon")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )
    for panel in ctx.panels:
        d = d.with_row(panel) if isinstance(panel, dashboard.Row) else d.with_panel(panel)
    for v in variables:
        d = d.with_variable(v)
    return d


def _ctx(settings: Settings) -> _Ctx:
    return _Ctx(
        models.DataSourceRef(type_val="prometheus", uid=settings.grafana.datasource_uid),
        lang="en" if settings.server.language == "en" else "vi",
    )


# --------------------------------------------------------------------------- the dashboards


def noc(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    grp = 'group=~"$group"'
    up = sel("probe_success", grp, LOC)
    row(ctx, "Tình trạng hiện tại")
    _availability(
        ctx,
        "Tỷ lệ đối tượng hoạt động theo nhóm",
        _both(
            "Tỷ lệ đối tượng của mỗi nhóm có lần đo gần nhất đạt (từ mọi điểm đo).",
            "Share of each group's targets whose last probe succeeded (from every location).",
        ),
        _query(f"avg by (group) ({up})", "{{group}}", instant=True),
    )
    st(
        ctx,
        "Đối tượng đang gặp sự cố",
        _both(
            "Số đối tượng có lần đo gần nhất không đạt, mỗi đối tượng tính một lần dù nhìn "
            "từ nhiều điểm đo.",
            "Targets whose last probe failed, counted once per target whatever the locations.",
        ),
        [_query(f"count(max by (target) ({up} == 0)) or vector(0)", "", instant=True)],
        w=4,
        thresholds=_thresholds((None, "green"), (1, "red")),
    )
    st(
        ctx,
        "Giai đoạn hiện tại",
        _both(
            "Giai đoạn của kế hoạch đang diễn ra ([[phases]] trong cấu hình netmon); giữa "
            "các đợt hiển thị «Ngoài giai đoạn kế hoạch».",
            "The plan's phase in force now ([[phases]] in netmon's settings); between waves"
            ' it says "Outside plan phases".',
        ),
        [_query(CURRENT_PHASE, "{{title}}", instant=True)],
        w=8,
        text_name=True,
        no_value="Không có số liệu từ netmon / No data from netmon",
        thresholds=_thresholds((None, "blue")),
    )
    st(
        ctx,
        "Cảnh báo hiện hành",
        _both(
            "Cảnh báo hiện hành theo mức độ: từ bộ cảnh báo của netmon (A) và từ các luật "
            "Prometheus do `netmon prometheus config` sinh ra (B).",
            "Firing alerts by severity: netmon's own alert engine (A) and the Prometheus "
            "rules generated by `netmon prometheus config` (B).",
        ),
        [
            _query(
                f"sum by (severity) ({sel('netmon_alerts_firing', PAGING, LOC)})",
                "netmon {{severity}}",
                instant=True,
            ),
            _query(
                'count by (severity) (ALERTS{alertstate="firing"})',
                "Prometheus {{severity}}",
                instant=True,
            ),
        ],
        w=12,
        thresholds=_thresholds((None, "green"), (1, "orange")),
    )
    tbl(
        ctx,
        "Cảnh báo hiện hành (Prometheus)",
        _both(
            "Cảnh báo hiện hành của các luật Prometheus được sinh ra: tình trạng của chính "
            "netmon và các đối tượng gặp sự cố nhìn từ nhiều điểm đo.",
            "Alerts of the generated Prometheus rules that are firing now: netmon's own "
            "health and targets down from several locations.",
        ),
        [_query('ALERTS{alertstate="firing"}', "", instant=True, table_=True)],
        w=12,
        h=5,
    )
    timeline(
        ctx,
        "Diễn biến theo nhóm",
        _both(
            "Theo thời gian: mọi đối tượng của nhóm đều hoạt động (Bình thường) hay có ít "
            "nhất một đối tượng gặp sự cố (Có sự cố).",
            "Whether every target of the group was up (Bình thường) or at least one was "
            "down (Có sự cố), over time.",
        ),
        [_query(f"min by (group) ({up})", "{{group}}")],
        HEALTHY,
        h=7,
    )
    row(ctx, "Đối tượng tệ nhất")
    _failures(
        ctx,
        "Đối tượng đang lỗi",
        _both(
            "Các đối tượng đang gặp sự cố, với nguyên nhân của lần đo lỗi gần nhất và điểm "
            "đo ghi nhận.",
            "Targets failing now, with the reason of the last failure and where it was seen from.",
        ),
        "target, group, kind, reason, location",
        [grp, LOC],
    )
    bars(
        ctx,
        "Khả dụng thấp nhất trong 1 giờ",
        _both(
            "Mười đối tượng có tỷ lệ khả dụng thấp nhất trong giờ qua (luật ghi "
            "target:probe_success:avg1h).",
            "The ten targets with the lowest availability over the last hour (recording "
            "rule target:probe_success:avg1h).",
        ),
        [_by_target("avg", "target:probe_success:avg1h", [grp, LOC], top="bottomk", instant=True)],
        unit="percentunit",
        thresholds=AVAILABILITY,
        min_=0,
        max_=1,
    )
    bars(
        ctx,
        "Thăm dò chậm nhất",
        _both(
            "Mười đối tượng có lần đo gần nhất kéo dài nhất.",
            "The ten targets whose last probe took longest.",
        ),
        [_by_target("max", "probe_duration_seconds", [grp, LOC], top="topk", instant=True)],
        unit="s",
        thresholds=_thresholds((None, "green"), (1, "orange"), (3, "red")),
    )
    _ratios(
        ctx,
        "Mất gói cao nhất",
        _both(
            "Mười đối tượng ICMP có tỷ lệ mất gói cao nhất, theo thời gian.",
            "The ten ICMP targets with the highest packet loss, over time.",
        ),
        [_by_target("max", "probe_icmp_packet_loss_ratio", [grp, LOC], top="topk")],
    )
    ts(
        ctx,
        "Khả dụng 5 phút theo nhóm",
        _both(
            "Tỷ lệ khả dụng trung bình của các đối tượng mỗi nhóm trong 5 phút qua (luật "
            "ghi target:probe_success:avg5m).",
            "Mean availability of each group's targets over the last 5 minutes (recording "
            "rule target:probe_success:avg5m).",
        ),
        [_query(f"avg by (group) ({sel('target:probe_success:avg5m', grp, LOC)})", "{{group}}")],
        unit="percentunit",
        max_=1,
    )
    row(ctx, "Tổng đài và trung kế SIP")
    sip_match = ['kind="sip"', grp, LOC]
    _sip(ctx, sip_match)
    _failures(
        ctx,
        "Tổng đài, trung kế SIP đang lỗi",
        _both(
            "Các tổng đài, trung kế SIP đang gặp sự cố, với nguyên nhân (không phản hồi, "
            "mã trạng thái, TLS, đăng ký bị từ chối...).",
            "PBXs and SIP trunks failing now, with the reason in words (no answer, status, "
            "TLS, registration refused...).",
        ),
        "target, reason, location",
        sip_match,
        w=24,
        h=5,
    )
    row(ctx, "Truyền hình, phát thanh trực tuyến")
    stream_match = ['kind="stream"', grp, LOC]
    _streams(ctx, stream_match)
    _failures(
        ctx,
        "Luồng phát đang lỗi",
        _both(
            "Các luồng phát đang gặp sự cố, với nguyên nhân (bị đứng, tải chậm, tốc độ bit "
            "ngoài khoảng, danh sách phát không hợp lệ...).",
            "Streams failing now, with the reason in words (stalled, slow, bitrate out of "
            "range, invalid playlist...).",
        ),
        "target, reason, location",
        stream_match,
        w=24,
        h=5,
    )
    return _dashboard(
        settings,
        ctx,
        "netmon-noc",
        "Tổng quan NOC",
        _both(
            "Tổng quan NOC cho màn hình trực: mọi nhóm trong một cái nhìn, giai đoạn hiện "
            "tại, cảnh báo hiện hành, các đối tượng tệ nhất lúc này, tổng đài và trung kế "
            "SIP, truyền hình và phát thanh trực tuyến.",
            "NOC overview for the wall: every group at a glance, the current phase, firing "
            "alerts, the worst targets now, the PBXs and SIP trunks, the livestreams and "
            "radios.",
        ),
        location_var(ctx.ds),
        var(
            "group",
            "Nhóm",
            "label_values(probe_success, group)",
            ctx.ds,
            description=_both(
                "Các nhóm đối tượng: nhà mạng, hội trường, trang thông tin điện tử, thông tin "
                "cơ sở, trung tâm dữ liệu...",
                "Target groups: carrier, venue, website, grassroots, datacenter...",
            ),
        ),
    )


def carriers(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    carrier = 'carrier=~"$carrier"'
    link = [carrier, 'target=~"$target"', LOC]
    row(ctx, "Đường truyền (ICMP)")
    _up_now(
        ctx,
        "Trạng thái đường truyền",
        _both(
            "Mỗi đường truyền có trả lời lúc này không (lần đo ICMP gần nhất, từ mọi điểm đo).",
            "Whether each link answers now (its last ICMP probe, every location).",
        ),
        link,
    )
    _availability_in_range(
        ctx,
        _both(
            "Tỷ lệ lần đo đạt của mỗi đường truyền trong khoảng thời gian của bảng.",
            "Share of successful probes of each link over the dashboard's time range.",
        ),
        link,
    )
    _smokeping(ctx, link)
    _jitter(ctx, link)
    _loss(ctx, link)
    # The carriers' SIP trunks (sip targets with a carrier label).
    row(ctx, "Trung kế SIP của nhà mạng")
    _sip(ctx, [carrier, 'kind="sip"', LOC])
    row(ctx, "Thiết bị biên (SNMP)")
    _snmp(ctx, [carrier, LOC], bgp=True)
    return _dashboard(
        settings,
        ctx,
        "netmon-carriers",
        "Đường truyền nhà mạng",
        _both(
            "Đường truyền của các nhà mạng vào hội trường và trung tâm dữ liệu: mất gói, độ"
            " trễ thấp nhất/trung bình/cao nhất và độ dao động trễ theo thời gian (kiểu "
            "Smokeping), trung kế SIP của các nhà mạng, và các thiết bị biên qua SNMP.",
            "Carriers' links into the venue and the data centre: loss, RTT min/avg/max and "
            "jitter over time (Smokeping-like), the carriers' SIP trunks, and the edge "
            "routers over SNMP.",
        ),
        location_var(ctx.ds),
        *carrier_vars(ctx.ds, carrier),
    )


def venue(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    venue_groups = "|".join(settings.grafana.venue_groups)
    groups = f'group=~"{venue_groups}"'
    dev = [groups, 'target=~"$target"', LOC]
    row(ctx, "Thiết bị hội trường")
    _up_now(
        ctx,
        "Trạng thái thiết bị",
        _both(
            "Mỗi thiết bị của mạng hội trường có trả lời lúc này không.",
            "Whether each device of the venue network answers now.",
        ),
        dev,
        w=16,
        h=6,
    )
    _availability_in_range(
        ctx,
        _both(
            "Tỷ lệ lần đo đạt của các thiết bị hội trường trong khoảng thời gian của bảng.",
            "Share of successful probes of the venue's devices over the dashboard's time range.",
        ),
        dev,
        total="Hội trường",
        w=8,
        h=6,
    )
    timeline(
        ctx,
        "Diễn biến trạng thái",
        _both(
            "Hoạt động và mất kết nối của từng thiết bị theo thời gian: thiết bị phụ thuộc "
            "(depends_on) vào một thiết bị cấp trên mất kết nối sẽ mất theo.",
            "Up and down of each device over time: a device held behind a parent that is "
            "down (depends_on) goes down with it.",
        ),
        [_by_target("min", "probe_success", dev)],
        UP_DOWN,
    )
    ts(
        ctx,
        "Độ trễ trung bình",
        _both(
            "Độ trễ khứ hồi trung bình của các gói tin tới từng thiết bị.",
            "Mean round-trip time of each device's echoes.",
        ),
        [_by_target("max", "probe_icmp_rtt_seconds", [eq("stat", "avg"), *dev])],
        unit="s",
    )
    _loss(ctx, dev)
    row(ctx, "Cổng switch (SNMP)")
    _snmp(ctx, [groups, LOC], bgp=False)
    return _dashboard(
        settings,
        ctx,
        "netmon-venue",
        "Mạng hội trường",
        _both(
            "Mạng hội trường Đại hội: switch lõi, tường lửa, Wi-Fi, phòng báo chí, truyền "
            "hình, điện thoại; khả năng kết nối và, qua SNMP, các cổng của chúng.",
            "The congress venue's network: core switch, firewall, Wi-Fi, press room, video "
            "link, phones; their reachability and, over SNMP, their ports.",
        ),
        location_var(ctx.ds),
        var(
            "target",
            "Thiết bị",
            f"label_values(probe_success{{{groups}}}, target)",
            ctx.ds,
            description=_both(
                "Một thiết bị của mạng hội trường.",
                "A device of the venue network.",
            ),
        ),
    )


def websites(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    site = ['kind="http"', 'group=~"$group"', 'target=~"$target"', LOC]
    dns = ['kind="dns"', 'group=~"$group"', LOC]
    row(ctx, "Trang thông tin điện tử")
    _up_now(
        ctx,
        "Trạng thái trang",
        _both(
            "Mỗi trang có trả lời lần đo gần nhất như mong đợi không (mã trạng thái, nội "
            "dung, chứng thư số).",
            "Whether each site answered its last probe as expected (status, content, TLS).",
        ),
        site,
        mappings=UP_FAILED,
    )
    _availability_in_range(
        ctx,
        _both(
            "Tỷ lệ lần đo đạt của mỗi trang trong khoảng thời gian của bảng.",
            "Share of successful probes of each site over the dashboard's time range.",
        ),
        site,
    )
    ts(
        ctx,
        "Các giai đoạn phản hồi: $target",
        _both(
            "Thời gian của từng bước trong yêu cầu gần nhất: phân giải tên miền, kết nối "
            "TCP, bắt tay TLS, máy chủ xử lý (đến byte đầu tiên) và truyền dữ liệu, xếp "
            "chồng.",
            "How long each phase of the last request took: name resolution, TCP connect, "
            "TLS handshake, server processing (to the first byte) and transfer, stacked.",
        ),
        [
            _query(
                f"max by (phase) ({sel('probe_http_duration_seconds', *site)})",
                "{{phase}}",
            )
        ],
        unit="s",
        stack=True,
        repeat="target",
    )
    ts(
        ctx,
        "Tổng thời gian phản hồi",
        _both(
            "Tổng thời gian mỗi lần đo của từng trang.",
            "Total duration of each site's probe.",
        ),
        [_by_target("max", "probe_duration_seconds", site)],
        unit="s",
    )
    st(
        ctx,
        "Mã trạng thái HTTP",
        _both(
            "Mã trạng thái HTTP của phản hồi cuối cùng trong lần đo gần nhất: 2xx xanh lá, "
            "3xx xanh dương, 4xx cam, 5xx đỏ.",
            "Status code of the last probe's final response: 2xx green, 3xx blue, 4xx "
            "orange, 5xx red.",
        ),
        [_by_target("max", "probe_http_status_code", site, instant=True)],
        w=12,
        thresholds=HTTP_STATUS,
        mappings=NO_ANSWER,
    )
    bars(
        ctx,
        "Số ngày còn lại của chứng thư TLS",
        _both(
            "Số ngày trước khi chứng thư số sớm hết hạn nhất của mỗi trang HTTPS hết hạn: "
            "gia hạn trước 21 ngày.",
            "Days until the earliest certificate of each HTTPS site expires: renew before 21 days.",
        ),
        [
            _query(
                "min by (target) "
                f"(({sel('probe_ssl_earliest_cert_expiry', *site)} - time()) / 86400)",
                "{{target}}",
                instant=True,
            )
        ],
        unit="d",
        thresholds=_thresholds((None, "red"), (7, "orange"), (21, "green")),
    )
    timeline(
        ctx,
        "Băng rôn và dấu hiệu thay đổi giao diện",
        _both(
            "Trang có nội dung bắt buộc (băng rôn Đại hội) và không có nội dung bị cấm (dấu"
            " hiệu thay đổi giao diện) không: probe_http_content_match.",
            "Whether the page carries its required content (the congress banner) and none "
            "of the forbidden content (defacement): probe_http_content_match.",
        ),
        [_by_target("min", "probe_http_content_match", site)],
        CONTENT,
    )
    _failures(
        ctx,
        "Lỗi hiện tại",
        _both(
            "Các trang và tên miền đang gặp sự cố, với nguyên nhân (mã trạng thái, nội "
            "dung, chứng thư số, quá thời gian chờ...).",
            "Sites and DNS names failing now, with the reason in words (status, content, "
            "certificate, timeout...).",
        ),
        "target, kind, reason, location",
        ['kind=~"http|dns"', 'group=~"$group"', LOC],
        w=24,
        h=6,
    )
    row(ctx, "Tên miền (DNS)")
    ts(
        ctx,
        "Thời gian phân giải DNS",
        _both(
            "Thời gian của mỗi truy vấn DNS cho các tên miền được giám sát.",
            "How long each DNS query of the watched names took.",
        ),
        [_by_target("max", "probe_dns_lookup_time_seconds", dns)],
        unit="s",
    )
    timeline(
        ctx,
        "Bản ghi DNS đúng",
        _both(
            "Mỗi tên miền còn phân giải ra đúng các địa chỉ mong đợi không (thay đổi có thể"
            " do bị chiếm quyền hoặc cấu hình nhầm).",
            "Whether each watched name still resolves to the expected addresses (a change "
            "may be a hijack or a mistake).",
        ),
        [_by_target("min", "probe_dns_answer_match", dns)],
        DNS_MATCH,
        w=12,
    )
    row(ctx, "Toàn vẹn trang (chèn mã, thay đổi giao diện)")
    web = ['kind="web"', 'group=~"$group"', LOC]
    _integrity(ctx, web)
    _failures(
        ctx,
        "Trang bị chèn mã hoặc thay đổi giao diện",
        _both(
            "Các trang mà lần kiểm tra toàn vẹn gần nhất không đạt, với phát hiện (mã lạ, "
            "liên kết ẩn, từ ngữ cờ bạc, thay đổi giao diện...); tên miền và từ tìm thấy "
            "có trên trang của đối tượng.",
            "Sites whose last integrity check failed, with the finding (injected script, "
            "hidden links, gambling words, defacement...); the domains and words found are "
            "on the target's page.",
        ),
        "target, reason, location",
        web,
        w=24,
        h=6,
    )
    return _dashboard(
        settings,
        ctx,
        "netmon-websites",
        "Trang thông tin điện tử",
        _both(
            "Trang thông tin điện tử: khả dụng, các bước phản hồi, số ngày còn lại của "
            "chứng thư số, kiểm tra băng rôn và thay đổi giao diện, tên miền của chúng, và "
            "toàn vẹn trang: mã hoặc liên kết bị chèn, từ ngữ cờ bạc, độ giống với mẫu.",
            "Official websites: availability, response phases, TLS certificate days left, "
            "the congress banner and defacement checks, their DNS names, and integrity: "
            "injected scripts or links, gambling words, likeness to the baseline.",
        ),
        location_var(ctx.ds),
        var(
            "group",
            "Nhóm",
            'label_values(probe_success{kind=~"http|dns|web"}, group)',
            ctx.ds,
            description=_both(
                "Nhóm của các trang (website, grassroots...).",
                "Group of the sites (website, grassroots...).",
            ),
        ),
        var(
            "target",
            "Trang",
            'label_values(probe_success{kind="http",group=~"$group"}, target)',
            ctx.ds,
            description=_both(
                "Một trang thông tin điện tử (đối tượng http).",
                "A website (an http target).",
            ),
        ),
    )


def operator(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    carrier = 'carrier="$carrier"'
    link = [carrier, 'target=~"$target"', LOC]
    row(ctx, "Đường truyền")
    _up_now(
        ctx,
        "Trạng thái đường truyền",
        _both(
            "Mỗi đường truyền của nhà mạng có trả lời lúc này không.",
            "Whether each of your links answers now.",
        ),
        link,
    )
    _availability(
        ctx,
        "Khả dụng 24 giờ",
        _both(
            "Tỷ lệ lần đo đạt của mỗi đường truyền trong ngày qua (luật ghi "
            "target:probe_success:avg1d).",
            "Share of successful probes of each link over the last day (recording rule "
            "target:probe_success:avg1d).",
        ),
        _by_target("avg", "target:probe_success:avg1d", link, instant=True),
    )
    _failures(
        ctx,
        "Sự cố hiện tại",
        _both(
            "Các đường truyền của nhà mạng đang gặp sự cố, với nguyên nhân của lần đo lỗi "
            "gần nhất.",
            "Your links failing now, with the reason of the last failure.",
        ),
        "target, reason, location",
        link,
        w=24,
        h=5,
    )
    _smokeping(ctx, link)
    _jitter(ctx, link, w=24)
    # The carrier's own SIP trunks (a sip target with its carrier label): in its scope.
    row(ctx, "Trung kế SIP của nhà mạng")
    _sip(ctx, [carrier, 'kind="sip"', LOC])
    row(ctx, "Thiết bị biên (SNMP)")
    _snmp(ctx, [carrier, LOC], bgp=True)
    return _dashboard(
        settings,
        ctx,
        "netmon-operator",
        "Đường truyền của nhà mạng",
        _both(
            "Chỉ các đường truyền của một nhà mạng: trạng thái, khả dụng, mất gói, độ trễ "
            "và độ dao động trễ, trung kế SIP của nhà mạng, và các thiết bị biên qua SNMP. "
            "Bản của mỗi nhà mạng đọc qua proxy lọc nhãn của netmon.",
            "One carrier's links only: state, availability, loss, RTT and jitter, its SIP "
            "trunks, and its edge routers over SNMP. Each operator's copy reads through "
            "netmon's label-enforcing proxy.",
        ),
        location_var(ctx.ds),
        *carrier_vars(ctx.ds, carrier),
    )


def self_(settings: Settings) -> dashboard.Dashboard:
    ctx = _ctx(settings)
    inst = 'instance=~"$instance"'
    job = f'job="{settings.prometheus.job}"'
    row(ctx, "Tiến trình netmon")
    st(
        ctx,
        "Prometheus đọc được netmon",
        _both(
            "Lần đọc số liệu gần nhất của Prometheus từ mỗi netmon có thành công không.",
            "Whether Prometheus's last scrape of each netmon succeeded.",
        ),
        [_query(sel("up", job, inst), "{{location}} {{instance}}", instant=True)],
        w=8,
        mappings=_mapping({"1": ("Đang chạy", "green"), "0": ("Không trả lời", "red")}),
        thresholds=ONE_IS_GREEN,
    )
    st(
        ctx,
        "Nạp lại cấu hình",
        _both(
            "Lần nạp lại cấu hình gần nhất có thành công không (tệp bị từ chối thì cấu hình"
            " cũ vẫn chạy).",
            "Whether the last configuration reload succeeded (a refused file leaves the old"
            " settings running).",
        ),
        [
            _query(
                sel("netmon_config_last_reload_successful", job, inst),
                "{{location}} {{instance}}",
                instant=True,
            )
        ],
        w=8,
        mappings=RELOAD,
        thresholds=ONE_IS_GREEN,
    )
    st(
        ctx,
        "Lần nạp cấu hình thành công gần nhất",
        _both(
            "Thời điểm mỗi netmon nạp cấu hình thành công gần nhất.",
            "When each netmon last loaded its settings successfully.",
        ),
        [
            _query(
                sel("netmon_config_last_reload_success_timestamp_seconds", job, inst) + " * 1000",
                "{{instance}}",
                instant=True,
            )
        ],
        unit="dateTimeFromNow",
        w=8,
        thresholds=_thresholds((None, "blue")),
    )
    ts(
        ctx,
        "Độ trễ của bộ lập lịch",
        _both(
            "Các lần đo bắt đầu trễ so với lịch bao lâu trong phút qua, theo phân vị: p99 "
            "tăng dần nghĩa là máy chủ hoặc vòng sự kiện không theo kịp.",
            "How late probes started against their schedule over the last minute, by "
            "quantile: a growing p99 means the host or the event loop cannot keep up.",
        ),
        [
            _query(
                sel("netmon_scheduler_lag_seconds", job, inst),
                "{{instance}} p{{quantile}}",
            )
        ],
        unit="s",
    )
    ts(
        ctx,
        "Thăm dò đang chạy",
        _both(
            "Số lần đo đang chạy, theo loại.",
            "Probes in flight now, by kind.",
        ),
        [
            _query(
                f"sum by (kind) ({sel('netmon_probes_in_flight', job, inst)})",
                "{{kind}}",
            )
        ],
    )
    ts(
        ctx,
        "Số lần thăm dò mỗi giây",
        _both(
            "Số lần đo bắt đầu mỗi giây theo loại (A), và số lần bị bỏ qua vì lần đo trước "
            "của cùng đối tượng chưa xong (B).",
            "Probes started per second by kind (A), and runs skipped because the previous "
            "run of the same target was still going (B).",
        ),
        [
            _query(
                f"sum by (kind) (rate({sel('netmon_probes_total', job, inst)}[$__rate_interval]))",
                "{{kind}}",
            ),
            _query(
                "sum by (kind) "
                f"(rate({sel('netmon_probes_skipped_total', job, inst)}[$__rate_interval]))",
                "{{kind}} bỏ qua",
            ),
        ],
        unit="ops",
    )
    ts(
        ctx,
        "Số đối tượng theo loại",
        _both(
            "Số đối tượng được cấu hình, theo loại.",
            "Targets in the settings, counted by kind.",
        ),
        [_query(f"sum by (kind) ({sel('netmon_targets', job, inst)})", "{{kind}}")],
    )
    row(ctx, "Tiến trình")
    ts(
        ctx,
        "Bộ nhớ và tệp đang mở",
        _both(
            "Bộ nhớ thường trú (trục trái) và số tệp đang mở (trục phải) của mỗi tiến trình"
            " netmon. Sau khi khởi động cả hai đi ngang; tăng đều là rò rỉ.",
            "Resident memory (left axis) and open file descriptors (right axis) of each "
            "netmon process. After warm-up both stay flat; steady growth is a leak.",
        ),
        [
            _query(sel("process_resident_memory_bytes", job, inst), "{{instance}} bộ nhớ"),
            _query(sel("process_open_fds", job, inst), "{{instance}} tệp mở"),
        ],
        overrides=_two_axes(".* bộ nhớ$", "bytes", ".* tệp mở$"),
    )
    ts(
        ctx,
        "Dọn bộ nhớ (GC) và tác vụ",
        _both(
            "Lần dừng dọn bộ nhớ (GC) dài nhất trong phút qua (trục trái: việc đo đứng yên "
            "trong lúc đó) và số tác vụ asyncio (trục phải: theo số lần đo đang chạy; tăng "
            "đều là rò rỉ).",
            "The longest garbage-collection pause of the last minute (left axis: probing "
            "stands still while it lasts) and the asyncio tasks alive (right axis: they "
            "follow the probes in flight; steady growth is a leak).",
        ),
        [
            _query(sel("netmon_gc_pause_max_seconds", job, inst), "{{instance}} GC dừng lâu nhất"),
            _query(sel("netmon_asyncio_tasks", job, inst), "{{instance}} tác vụ"),
        ],
        overrides=_two_axes(".* GC dừng lâu nhất$", "s", ".* tác vụ$"),
    )
    row(ctx, "Thông báo")
    ts(
        ctx,
        "Thông báo đã gửi",
        _both(
            "Số thông báo mỗi giây theo nơi nhận và kết quả (đã gửi, lỗi, gửi lại).",
            "Notifications per second by receiver and outcome (sent, failed, retried).",
        ),
        [
            _query(
                "sum by (receiver, outcome) "
                f"(rate({sel('netmon_notifications_total', job, inst)}[$__rate_interval]))",
                "{{receiver}} {{outcome}}",
            )
        ],
        unit="ops",
    )
    ts(
        ctx,
        "Hàng đợi thông báo",
        _both(
            "Số thông báo đã ghi vào hàng đợi mà chưa gửi được: chúng được gửi lại cho tới "
            "khi nơi nhận nhận.",
            "Notifications written to the outbox and not yet delivered: they are retried "
            "until their receiver takes them.",
        ),
        [_query(sel("netmon_outbox_pending", job, inst), "{{instance}}")],
    )
    ts(
        ctx,
        "Cảnh báo hiện hành theo mức độ",
        _both(
            "Cảnh báo hiện hành trong bộ cảnh báo của netmon, theo mức độ (Watchdog có mức none).",
            "Alerts firing in netmon's own engine, by severity (the Watchdog is severity none).",
        ),
        [
            _query(
                f"sum by (severity) ({sel('netmon_alerts_firing', job, inst)})",
                "{{severity}}",
            )
        ],
    )
    ts(
        ctx,
        "Thời gian Prometheus đọc số liệu",
        _both(
            "Thời gian mỗi lần Prometheus đọc /metrics và số mẫu nhận được.",
            "How long each scrape of /metrics took, and how many samples it returned.",
        ),
        [
            _query(sel("scrape_duration_seconds", job, inst), "{{instance}} thời gian"),
            _query(sel("scrape_samples_scraped", job, inst), "{{instance}} số mẫu"),
        ],
        overrides=_two_axes(".* thời gian$", "s", ".* số mẫu$"),
    )
    return _dashboard(
        settings,
        ctx,
        "netmon-self",
        "netmon: tình trạng hệ thống giám sát",
        _both(
            "Chính netmon: độ trễ của bộ lập lịch, số lần đo đang chạy, bộ nhớ, tệp đang "
            "mở, dọn bộ nhớ và tác vụ, thông báo và hàng đợi, nạp lại cấu hình, và các lần "
            "Prometheus đọc số liệu.",
            "netmon itself: scheduler lag, probes in flight, memory, file descriptors, "
            "garbage collection and tasks, notifications and the outbox, configuration "
            "reloads, and Prometheus's scrapes of it.",
        ),
        var(
            "instance",
            "Tiến trình",
            f"label_values(up{{{job}}}, instance)",
            ctx.ds,
            description=_both(
                "Một tiến trình netmon, như Prometheus đọc nó.",
                "A netmon process, as Prometheus scrapes it.",
            ),
        ),
    )


DASHBOARDS = {
    "netmon-noc": noc,
    "netmon-carriers": carriers,
    "netmon-venue": venue,
    "netmon-websites": websites,
    "netmon-operator": operator,
    "netmon-self": self_,
}


# Labels whose values get their display names in legends and tables (issue 12): a target's
# `title`, the settings' [names] and the well-known group words. The operator view is left
# with slugs: one copy serves every operator, and names of other operators' targets must not
# ride in it.
_NAMED_LABELS = ("target", "carrier", "group")
_UNNAMED_DASHBOARDS = frozenset({"netmon-operator"})


def _display_names(settings: Settings) -> dict[str, dict[str, str]]:
    """label -> slug -> display name, in the settings' language, where one differs."""
    names = settings.display_names
    lang: Lang = "en" if settings.server.language == "en" else "vi"
    values: dict[str, set[str]] = {"target": set(), "carrier": set(), "group": set()}
    for target in settings.targets:
        values["target"].add(target.name)
        values["group"].add(target.group)
        if "carrier" in target.labels:
            values["carrier"].add(target.labels["carrier"])
    shown: dict[str, dict[str, str]] = {}
    for key in _NAMED_LABELS:
        for value in sorted(values[key]):
            title = names.target(value, lang) if key == "target" else names.label(key, value, lang)
            if title != value:
                shown.setdefault(key, {})[value] = title
    return shown


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def name_legends(doc: dict[str, Any], shown: dict[str, dict[str, str]]) -> None:
    """Display names instead of slugs where the NOC reads them: a panel whose legends start
    with ``{{target}}`` (or carrier, group) renames each series by a regex (Grafana's
    ``renameByRegex``: "venue-uplink Gi0/1 vào" → "Đường truyền Viettel Gi0/1 vào"); a table
    maps the column's values. The queries and their labels stay slugs."""
    for panel in _panels(doc.get("panels") or []):
        legends = [str(t.get("legendFormat") or "") for t in panel.get("targets") or []]
        moves = []
        for key in _NAMED_LABELS:
            if any(legend.startswith("{{" + key + "}}") for legend in legends):
                for slug, title in shown.get(key, {}).items():
                    moves.append(
                        {
                            "id": "renameByRegex",
                            "options": {
                                "regex": f"^{re.escape(slug)}( .*)?$",
                                "renamePattern": title.replace("$", "$$") + "$1",
                            },
                        }
                    )
        if moves:
            panel["transformations"] = [*(panel.get("transformations") or []), *moves]
        if panel.get("type") == "table" and any(shown.get(key) for key in _NAMED_LABELS):
            # A table's field config as the SDK's table model writes it, then its overrides.
            config = panel.setdefault(
                "fieldConfig", {"defaults": {"custom": {"align": "auto", "inspect": False}}}
            )
            overrides = config.setdefault("overrides", [])
            for key in _NAMED_LABELS:
                if shown.get(key):
                    options = {
                        slug: {"text": title, "index": i}
                        for i, (slug, title) in enumerate(shown[key].items())
                    }
                    overrides.append(
                        {
                            "matcher": {"id": "byName", "options": key},
                            "properties": [
                                {"id": "mappings", "value": [{"type": "value", "options": options}]}
                            ],
                        }
                    )


# --------------------------------------------------------------------------- annotations, links

# What each dashboard's outage annotations are scoped to: the same targets as its panels.
_OUTAGE_SCOPE: dict[str, list[str]] = {
    "netmon-noc": ['group=~"$group"', LOC],
    "netmon-carriers": ['carrier=~"$carrier"', LOC],
    "netmon-venue": [LOC],  # the venue's groups are added from the settings
    "netmon-websites": ['kind=~"http|dns"', 'group=~"$group"', LOC],
    "netmon-operator": ['carrier="$carrier"', LOC],
}
# Keys of a Prometheus annotation that Grafana's Prometheus datasource reads
# (PrometheusAnnotationSupport: the series' labels fill titleFormat, textFormat, tagKeys) and
# grafana-foundation-sdk's AnnotationQuery model does not carry.
PROMETHEUS_ANNOTATION_KEYS = ("step", "titleFormat", "textFormat", "tagKeys", "useValueForTime")


def _annotation(
    ds: models.DataSourceRef,
    name: str,
    color: str,
    expr: str,
    title: str,
    text: str,
    tags: str,
) -> dict[str, Any]:
    base = models.AnnotationQuery(
        name=name, datasource=ds, enable=True, hide=False, icon_color=color, expr=expr
    )
    doc: dict[str, Any] = json.loads(json.dumps(base, cls=JSONEncoder))
    doc.update(
        {
            "step": "60s",
            "titleFormat": title,
            "textFormat": text,
            "tagKeys": tags,
            "useValueForTime": False,
        }
    )
    return doc


def dashboard_annotations(settings: Settings, uid: str) -> list[dict[str, Any]]:
    """The plan's phases (netmon_phase_info, one region a phase), the outages of the
    dashboard's targets (probe_failure_info: from the first failed probe to the first good
    one, with the reason), and the Prometheus alerts (ALERTS, the generated rules: quorum
    and netmon's own health). The operator view shows only its own outages: the phases and
    ALERTS carry no carrier, and its proxy would return none of them."""
    ds = _ctx(settings).ds
    found: list[dict[str, Any]] = []
    if uid != "netmon-operator":
        found.append(
            _annotation(
                ds,
                "Giai đoạn kế hoạch / Plan phases",
                "blue",
                "max by (phase, title) (netmon_phase_info == 1)",
                "{{title}}",
                "Giai đoạn / Phase: {{phase}}",
                "phase",
            )
        )
    scope = list(_OUTAGE_SCOPE.get(uid, []))
    if uid == "netmon-venue":
        scope.insert(0, f'group=~"{"|".join(settings.grafana.venue_groups)}"')
    if uid in _OUTAGE_SCOPE:
        found.append(
            _annotation(
                ds,
                "Sự cố / Outages",
                "red",
                f"max by (target, reason) ({sel('probe_failure_info', *scope)})",
                "Sự cố: {{target}}",
                "{{target}}: {{reason}}",
                "target,reason",
            )
        )
    if uid != "netmon-operator":
        found.append(
            _annotation(
                ds,
                "Cảnh báo Prometheus / Prometheus alerts",
                "orange",
                f'ALERTS{{alertstate="firing",{PAGING}}}',
                "{{alertname}}",
                "{{alertname}} {{target}}{{instance}} ({{severity}})",
                "alertname,severity",
            )
        )
    return found


def _link(title: str, url: str) -> dict[str, Any]:
    link = models.DashboardLink(title=title, url=url, target_blank=True)
    doc: dict[str, Any] = json.loads(json.dumps(link, cls=JSONEncoder))
    return doc


# A query whose series keep the target label: "max by (target, ...) (...)", also inside a
# topk/bottomk (not "count(max by (target) ...)": one number for all).
_BY_TARGET = re.compile(r"(?:(?:topk|bottomk)\(\d+, )?\w+ by \((?:[\w, ]*, )?target\b")
TARGET_LINK_TITLE = "Trang của đối tượng trên netmon / The target's page on netmon"


def link_targets(doc: dict[str, Any], base: str) -> None:
    """Every panel whose series carry a ``target`` label links to netmon's page of that
    target (``{base}targets/NAME``): a graph, stat or bar by the series' label, a table by
    its ``target`` column (the cell's raw value: the slug, whatever display name it shows)."""
    for panel in _panels(doc.get("panels") or []):
        if panel.get("type") == "row":
            continue
        queries = panel.get("targets") or []
        legends = " ".join(str(t.get("legendFormat") or "") for t in queries)
        exprs = [str(t.get("expr") or "") for t in queries]
        config = panel.setdefault("fieldConfig", {"defaults": {}})
        if panel.get("type") == "table":
            if any(_BY_TARGET.match(e) for e in exprs):
                config.setdefault("overrides", []).append(
                    {
                        "matcher": {"id": "byName", "options": "target"},
                        "properties": [
                            {
                                "id": "links",
                                "value": [
                                    _link(TARGET_LINK_TITLE, base + "targets/${__value.raw}")
                                ],
                            }
                        ],
                    }
                )
        elif "{{target}}" in legends or any(_BY_TARGET.match(e) for e in exprs):
            config.setdefault("defaults", {})["links"] = [
                _link(TARGET_LINK_TITLE, base + "targets/${__field.labels.target}")
            ]


def build_json(settings: Settings, uid: str) -> dict[str, Any]:
    """One dashboard as the JSON Grafana stores (plain dicts, lists, str, numbers)."""
    built = DASHBOARDS[uid](settings).build()
    doc: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    if uid not in _UNNAMED_DASHBOARDS:
        name_legends(doc, _display_names(settings))
    link_targets(doc, settings.status_url)
    doc["annotations"] = {"list": dashboard_annotations(settings, uid)}
    return doc


def build_all(settings: Settings) -> dict[str, dict[str, Any]]:
    return {uid: build_json(settings, uid) for uid in DASHBOARDS}


def operator_copy(
    doc: dict[str, Any], *, uid: str, title: str, datasource_uid: str, noc_uid: str
) -> dict[str, Any]:
    """The operator view for one operator: its own uid and title, its own datasource."""
    text = json.dumps(doc, ensure_ascii=False)
    old = json.dumps({"type": "prometheus", "uid": noc_uid})
    new = json.dumps({"type": "prometheus", "uid": datasource_uid})
    copy: dict[str, Any] = json.loads(text.replace(old, new))
    copy["uid"] = uid
    copy["title"] = title
    copy["links"] = []  # the other dashboards are not the operator's
    return copy
