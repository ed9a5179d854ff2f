"""Words of the status page, the API's reason texts and the report, in Vietnamese and English.

Staff read Vietnamese, engineers English: every text here exists in both. Reason codes are the
probes' stable machine codes (probes/base.py) plus netmon's own for the states it derives
(``packet_loss``, ``tls_expiring``, ``alert``, ``parent_down``, ``maintenance``,
``not_probed``). Groups, carriers and targets are names from the settings, never from here:
the few group names below only get a title when the settings use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "GROUP_ORDER",
    "LANGUAGES",
    "Lang",
    "dead_letter_text",
    "group_title",
    "language",
    "local_time",
    "reason_text",
    "words",
]

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")

# Known groups first, in this order; any other group after them, by name, "other" last.
GROUP_ORDER = ("carrier", "venue", "website", "grassroots", "datacenter")

_GROUPS: dict[str, dict[Lang, str]] = {
    "carrier": {"vi": "Nhà mạng và đường truyền", "en": "Carriers and links"},
    "venue": {"vi": "Hội trường", "en": "Congress venue"},
    "website": {"vi": "Trang thông tin điện tử", "en": "Websites"},
    "grassroots": {"vi": "Thông tin cơ sở", "en": "Grassroots information"},
    "datacenter": {"vi": "Trung tâm dữ liệu", "en": "Data centre"},
    "other": {"vi": "Khác", "en": "Other"},
}

# One text per stable reason code; {fields} are filled from the target's figures.
_REASONS: dict[str, dict[Lang, str]] = {
    "timeout": {"vi": "không phản hồi (quá thời gian chờ)", "en": "no answer (timed out)"},
    "dns": {"vi": "lỗi phân giải tên miền (DNS)", "en": "name resolution failed (DNS)"},
    "refused": {"vi": "kết nối bị từ chối", "en": "connection refused"},
    "unreachable": {"vi": "không tới được địa chỉ", "en": "address unreachable"},
    "connection": {"vi": "lỗi kết nối", "en": "connection error"},
    "tls": {"vi": "lỗi TLS hoặc chứng chỉ số", "en": "TLS or certificate error"},
    "status": {"vi": "mã trạng thái HTTP không đúng", "en": "unexpected HTTP status"},
    "content": {
        "vi": "nội dung trang sai (mất băng rôn hoặc trang bị thay đổi)",
        "en": "wrong page content (banner missing or page defaced)",
    },
    "redirects": {"vi": "chuyển hướng không hợp lệ", "en": "bad redirect"},
    "protocol": {"vi": "phản hồi sai giao thức", "en": "protocol error"},
    "banner": {"vi": "lời chào của dịch vụ không đúng", "en": "wrong service banner"},
    "rcode": {"vi": "máy chủ DNS trả mã lỗi", "en": "the DNS server answered with an error"},
    "answer": {
        "vi": "bản ghi DNS khác với giá trị mong đợi",
        "en": "the DNS answer differs from the expected one",
    },
    "snmp_auth": {"vi": "lỗi xác thực SNMP", "en": "SNMP authentication failed"},
    "snmp_error": {"vi": "thiết bị báo lỗi SNMP", "en": "the SNMP agent reported an error"},
    "no_such_object": {"vi": "thiếu dữ liệu SNMP cần đọc", "en": "an SNMP object is missing"},
    "icmp_not_permitted": {
        "vi": "netmon không có quyền gửi ICMP",
        "en": "netmon is not permitted to send ICMP",
    },
    "probe_error": {"vi": "lỗi nội bộ của netmon", "en": "internal netmon error"},
    "config": {"vi": "cấu hình đối tượng không đúng", "en": "target misconfigured"},
    # netmon's own
    "packet_loss": {"vi": "mất gói {loss}", "en": "{loss} packet loss"},
    "tls_expiring": {
        "vi": "chứng chỉ TLS còn {days} ngày là hết hạn",
        "en": "TLS certificate expires in {days} days",
    },
    "alert": {"vi": "{summary}", "en": "{summary}"},
    "parent_down": {
        "vi": "thiết bị cấp trên {parent} mất kết nối",
        "en": "parent {parent} is down",
    },
    "maintenance": {"vi": "đang bảo trì ({window})", "en": "in maintenance ({window})"},
    "not_probed": {"vi": "chưa đo lần nào", "en": "not probed yet"},
}
_UNKNOWN_REASON: dict[Lang, str] = {"vi": "lỗi: {code}", "en": "failed: {code}"}

_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "title": "Giám sát mạng và đường truyền",
        "lang_other": "English",
        "phase": "Giai đoạn",
        "no_phase": "Không trong giai đoạn nào của kế hoạch",
        "next_phase": "Giai đoạn tiếp theo",
        "from": "từ",
        "to": "đến",
        "now": "Bây giờ",
        "alerts": "Cảnh báo đang phát",
        "no_alerts": "Không có cảnh báo nào đang phát.",
        "target": "Đối tượng",
        "state": "Trạng thái",
        "since": "Từ lúc",
        "reason": "Lý do",
        "figures": "Số đo",
        "recent": "Kết quả gần đây",
        "rtt": "Độ trễ",
        "loss": "Mất gói",
        "response": "Thời gian phản hồi",
        "status_code": "Mã HTTP",
        "history": "Lịch sử đo gần đây",
        "outages": "Các lần mất kết nối",
        "no_outages": "Chưa ghi nhận lần mất kết nối nào.",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "duration": "Thời gian",
        "ongoing": "đang diễn ra",
        "result": "Kết quả",
        "detail": "Chi tiết",
        "ok": "đạt",
        "failed": "lỗi",
        "back": "Về trang tổng quan",
        "kind": "Loại",
        "group": "Nhóm",
        "labels": "Nhãn",
        "address": "Địa chỉ",
        "depends_on": "Phụ thuộc",
        "severity": "Mức độ",
        "held": "tạm giữ",
        "flapping": "chập chờn",
        "ack": "Xác nhận",
        "acked": "đã xác nhận",
        "updated": "Cập nhật lúc",
        "stale": "Mất kết nối tới netmon, đang thử lại…",
        "login": "Đăng nhập",
        "logout": "Đăng xuất",
        "token": "Mã truy cập (token)",
        "login_needed": "Cần đăng nhập bằng mã truy cập để xem trang này.",
        "login_failed": "Mã truy cập không đúng.",
        "signed_in_as": "Đăng nhập",
        "report": "Báo cáo khả dụng",
        "timezone": "Giờ",
        "count_targets": "đối tượng",
        "phase_current": "đang diễn ra",
        "maintenance_until": "bảo trì đến",
        "ago": "trước",
        "suppressed_by": "do",
        "not_found": "Không tìm thấy đối tượng này.",
        "events": "Sự kiện từ thiết bị (SNMP trap)",
    },
    "en": {
        "title": "Network and link monitor",
        "lang_other": "Tiếng Việt",
        "phase": "Phase",
        "no_phase": "Not in any phase of the plan",
        "next_phase": "Next phase",
        "from": "from",
        "to": "to",
        "now": "Now",
        "alerts": "Firing alerts",
        "no_alerts": "No alert is firing.",
        "target": "Target",
        "state": "State",
        "since": "Since",
        "reason": "Reason",
        "figures": "Figures",
        "recent": "Recent results",
        "rtt": "RTT",
        "loss": "Loss",
        "response": "Response time",
        "status_code": "HTTP status",
        "history": "Recent probe history",
        "outages": "Outages",
        "no_outages": "No outage recorded.",
        "start": "Start",
        "end": "End",
        "duration": "Duration",
        "ongoing": "ongoing",
        "result": "Result",
        "detail": "Detail",
        "ok": "ok",
        "failed": "failed",
        "back": "Back to the overview",
        "kind": "Kind",
        "group": "Group",
        "labels": "Labels",
        "address": "Address",
        "depends_on": "Depends on",
        "severity": "Severity",
        "held": "held",
        "flapping": "flapping",
        "ack": "Acknowledge",
        "acked": "acknowledged",
        "updated": "Updated at",
        "stale": "Lost contact with netmon, retrying…",
        "login": "Sign in",
        "logout": "Sign out",
        "token": "Access token",
        "login_needed": "Sign in with an access token to see this page.",
        "login_failed": "Wrong access token.",
        "signed_in_as": "Signed in",
        "report": "Availability report",
        "timezone": "Time zone",
        "count_targets": "targets",
        "phase_current": "current",
        "maintenance_until": "maintenance until",
        "ago": "ago",
        "suppressed_by": "by",
        "not_found": "No such target.",
        "events": "Device events (SNMP traps)",
    },
}

STATE_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "up": "Hoạt động",
        "down": "Mất kết nối",
        "degraded": "Suy giảm",
        "suppressed": "Bị che (cấp trên hỏng)",
        "maintenance": "Bảo trì",
        "unknown": "Chưa đo",
    },
    "en": {
        "up": "Up",
        "down": "Down",
        "degraded": "Degraded",
        "suppressed": "Suppressed (parent down)",
        "maintenance": "Maintenance",
        "unknown": "Not probed",
    },
}


def language(value: str | None, default: str) -> Lang:
    """``vi`` or ``en`` from a query parameter, else the settings' language."""
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return "en" if default == "en" else "vi"


def words(lang: Lang) -> dict[str, str]:
    return _WORDS[lang]


def group_title(group: str, lang: Lang) -> str:
    known = _GROUPS.get(group)
    return known[lang] if known is not None else group


def group_key(group: str) -> tuple[int, str]:
    """Sort key: the known groups in GROUP_ORDER, then the others by name, "other" last."""
    if group in GROUP_ORDER:
        return GROUP_ORDER.index(group), ""
    return (len(GROUP_ORDER) + (1 if group == "other" else 0)), group


def reason_text(code: str | None, lang: Lang, fields: Mapping[str, str] | None = None) -> str:
    """The words for a reason code; an unknown code is named as it is."""
    if code is None:
        return ""
    values = dict(fields or {})
    values.setdefault("code", code)
    template = _REASONS.get(code, _UNKNOWN_REASON)[lang]
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError):
        return _UNKNOWN_REASON[lang].format(code=code)


def reason_codes() -> tuple[str, ...]:
    return tuple(_REASONS)


def local_time(ts: float | None, zone: ZoneInfo, *, seconds: bool = True) -> str:
    """A time as the NOC reads it: dd/mm/yyyy HH:MM:SS in the settings' time zone."""
    if ts is None:
        return ""
    fmt = "%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M"
    return datetime.fromtimestamp(ts, zone).strftime(fmt)


def duration_text(seconds: float | None, lang: Lang) -> str:
    """``2 ngày 3 giờ 4 phút 5 giây`` / ``2d 3h 4m 5s``: whole seconds, largest units first."""
    if seconds is None:
        return ""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("ngày", "giờ", "phút", "giây") if lang == "vi" else ("d", "h", "m", "s")
    parts = [
        f"{n} {u}" if lang == "vi" else f"{n}{u}"
        for n, u in zip((days, hours, minutes, secs), units, strict=True)
        if n
    ]
    return " ".join(parts) if parts else ("0 giây" if lang == "vi" else "0s")


# Why the alert engine holds an alert (alerts.model.HoldReason: kind, parent, window), named
# and with the parent unnamed (a reader who may not see it, monitor/web/status.py).
_HELD: dict[str, dict[Lang, str]] = {
    "maintenance": {"vi": "bảo trì: {window}", "en": "maintenance: {window}"},
    "inhibited": {
        "vi": "đã gộp vào cảnh báo {by} của {parent}",
        "en": "inhibited by {by} of {parent}",
    },
    "parent_down": {
        "vi": "bị che: cấp trên {parent} hỏng",
        "en": "suppressed: parent {parent} down",
    },
    "parent_pending": {
        "vi": "chờ kết quả của cấp trên {parent}",
        "en": "waiting for parent {parent}",
    },
    "parent_recovered": {
        "vi": "chờ kết quả mới sau khi cấp trên {parent} phục hồi",
        "en": "waiting for a new result after parent {parent} recovered",
    },
    "recovering": {
        "vi": "đang hồi phục sau khi cấp trên {parent} phục hồi",
        "en": "recovering after parent {parent} recovered",
    },
}
_HELD_UNNAMED: dict[str, dict[Lang, str]] = {
    "inhibited": {"vi": "đã gộp vào cảnh báo {by}", "en": "inhibited by {by}"},
    "parent_down": {"vi": "bị che: thiết bị cấp trên hỏng", "en": "suppressed: a parent is down"},
    "parent_pending": {"vi": "chờ kết quả của cấp trên", "en": "waiting for a parent"},
    "parent_recovered": {
        "vi": "chờ kết quả mới sau khi cấp trên phục hồi",
        "en": "waiting for a new result after a parent recovered",
    },
    "recovering": {
        "vi": "đang hồi phục sau khi cấp trên phục hồi",
        "en": "recovering after a parent recovered",
    },
}


# The NotificationDead alert (alerts/dispatch.py): a notification failed for good.
_DEAD_LETTER: dict[Lang, tuple[str, str]] = {
    "vi": (
        "Không gửi được thông báo tới {receiver}: {count} thông báo đã vào hàng thư chết",
        "Thông báo {rule} ({target}) tới {receiver} bị lỗi không thể khắc phục bằng gửi lại "
        "({error}); đã chuyển vào hàng thư chết, các thông báo sau vẫn được gửi.",
    ),
    "en": (
        "Notifications to {receiver} failed for good: {count} in the dead letters",
        "The {rule} ({target}) notification to {receiver} failed in a way a retry cannot fix "
        "({error}); it was moved to the dead letters, later notifications still go out.",
    ),
}


def dead_letter_text(lang: Lang, fields: Mapping[str, str]) -> tuple[str, str]:
    """Summary and description of a NotificationDead alert; ``fields``: receiver, count,
    rule, target, error."""
    summary, description = _DEAD_LETTER[lang]
    return summary.format_map(fields), description.format_map(fields)


def held_text(hold: Mapping[str, Any] | None, lang: Lang) -> str:
    """Why the alert engine holds an alert, in words, from its reason as data (the ``hold`` of
    an alert in the API: kind, parent, window); an unknown kind is shown as it is."""
    if not hold:
        return ""
    kind = str(hold.get("kind"))
    parent, window, by = hold.get("parent"), hold.get("window"), hold.get("by")
    if parent is None and kind in _HELD_UNNAMED:
        return _HELD_UNNAMED[kind][lang].format(by=by or "")
    if kind not in _HELD:
        return kind
    return _HELD[kind][lang].format(parent=parent or "", window=window or "", by=by or "")


# --------------------------------------------------------------------------- the report
# Words of the availability report (monitor/report/): its HTML page, its CSV head and levels,
# and the names of its filters. Report-only, so the status page's table above stays its own.

_REPORT_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo khả dụng hệ thống mạng và đường truyền",
        "range": "Toàn kỳ báo cáo",
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "scope": "Phạm vi",
        "filters": "Lọc",
        "ongoing": "đang diễn ra, tính đến",
        "not_started": "Giai đoạn chưa bắt đầu.",
        "carriers": "Theo nhà mạng",
        "groups": "Theo nhóm",
        "targets": "Theo đối tượng",
        "outage_list": "Danh sách các lần mất kết nối",
        "name": "Tên",
        "group": "Nhóm",
        "carrier": "Nhà mạng",
        "n": "Số đối tượng",
        "availability": "Khả dụng",
        "outages": "Số lần mất",
        "downtime": "Tổng thời gian mất",
        "longest": "Lần lâu nhất",
        "mttr": "Khắc phục trung bình",
        "maintenance": "Bảo trì (loại trừ)",
        "m_down": "Mất trong bảo trì",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "reason": "Nguyên nhân",
        "counted": "Tính vào kỳ",
        "total": "Tổng cộng",
        "none": "Không có lần mất kết nối nào trong kỳ.",
        "chart": "Biểu đồ",
        "legend_down": "mất kết nối",
        "legend_maint": "bảo trì",
        "method": (
            "Số liệu được tính chính xác từ sổ ghi sự cố (ledger) của netmon: mỗi lần mất kết "
            "nối từ lần đo lỗi đầu tiên đến lần đo đạt đầu tiên. Khả dụng = (thời gian kỳ − "
            "bảo trì − mất kết nối) / (thời gian kỳ − bảo trì). Thời gian bảo trì được loại "
            "trừ và ghi riêng. Một lần mất kết nối kéo dài qua hai giai đoạn được tính vào mỗi "
            "giai đoạn phần nằm trong giai đoạn đó. Số liệu theo nhà mạng và theo nhóm cộng "
            "thời gian của các đối tượng. Giờ hiển thị theo múi giờ"
        ),
        "unknown_windows": (
            "Cửa sổ bảo trì không còn lưu thời gian, tính bằng chính thời gian mất kết nối"
        ),
        "removed": "đã bỏ khỏi cấu hình",
    },
    "en": {
        "title": "Network and link availability report",
        "range": "Whole reporting period",
        "period": "Period",
        "generated": "Generated",
        "scope": "Scope",
        "filters": "Filters",
        "ongoing": "in progress, up to",
        "not_started": "This phase has not started.",
        "carriers": "By carrier",
        "groups": "By group",
        "targets": "By target",
        "outage_list": "Outages",
        "name": "Name",
        "group": "Group",
        "carrier": "Carrier",
        "n": "Targets",
        "availability": "Availability",
        "outages": "Outages",
        "downtime": "Total downtime",
        "longest": "Longest",
        "mttr": "MTTR",
        "maintenance": "Maintenance (excluded)",
        "m_down": "Down in maintenance",
        "start": "Start",
        "end": "End",
        "reason": "Reason",
        "counted": "Counted",
        "total": "Total",
        "none": "No outage in this period.",
        "chart": "Chart",
        "legend_down": "down",
        "legend_maint": "maintenance",
        "method": (
            "Computed exactly from netmon's outage ledger: each outage runs from the first "
            "failed probe to the first good one. Availability = (period − maintenance − "
            "downtime) / (period − maintenance). Maintenance time is excluded and shown apart. "
            "An outage crossing a phase boundary counts in each phase with its own part. "
            "Carriers and groups add up their targets' time. Times are shown in"
        ),
        "unknown_windows": (
            "Maintenance windows whose times are no longer kept, counted as the outage's length"
        ),
        "removed": "removed from the settings",
    },
}

# The names of the report's filters and of the scope's well-known label, as its page shows
# them ("Lọc: Nhóm = ..."); any other label key is shown as the settings spell it.
_REPORT_KEYS: dict[str, dict[Lang, str]] = {
    "target": {"vi": "Đối tượng", "en": "target"},
    "group": {"vi": "Nhóm", "en": "group"},
    "carrier": {"vi": "Nhà mạng", "en": "carrier"},
}

# The CSV's head: Vietnamese for a spreadsheet read by staff, machine names in English.
_REPORT_CSV_HEAD: dict[Lang, tuple[str, ...]] = {
    "vi": (
        "Giai đoạn",
        "Từ (UTC)",
        "Đến (UTC)",
        "Cấp",
        "Tên",
        "Nhóm",
        "Nhà mạng",
        "Số đối tượng",
        "Khả dụng (%)",
        "Số lần mất kết nối",
        "Tổng thời gian mất kết nối (giây)",
        "Lần mất lâu nhất (giây)",
        "Thời gian khắc phục trung bình (giây)",
        "Thời gian bảo trì (giây)",
        "Thời gian mất kết nối trong bảo trì (giây)",
        "Thời gian tính khả dụng (giây)",
        "Độ dài kỳ (giây)",
    ),
    "en": (
        "phase",
        "from_utc",
        "to_utc",
        "level",
        "name",
        "group",
        "carrier",
        "targets",
        "availability_percent",
        "outages",
        "downtime_seconds",
        "longest_outage_seconds",
        "mttr_seconds",
        "maintenance_seconds",
        "maintenance_downtime_seconds",
        "scheduled_seconds",
        "period_seconds",
    ),
}
_REPORT_LEVELS: dict[Lang, dict[str, str]] = {
    "vi": {"total": "tổng", "carrier": "nhà mạng", "group": "nhóm", "target": "đối tượng"},
    "en": {"total": "total", "carrier": "carrier", "group": "group", "target": "target"},
}


def report_words(lang: Lang) -> dict[str, str]:
    return _REPORT_WORDS[lang]


def report_key(key: str, lang: Lang) -> str:
    """A filter's or label's name as the report shows it; an unknown key as it is."""
    known = _REPORT_KEYS.get(key)
    return known[lang] if known is not None else key


def report_csv_head(lang: Lang) -> tuple[str, ...]:
    return _REPORT_CSV_HEAD[lang]


def report_level(level: str, lang: Lang) -> str:
    """``total``, ``carrier``, ``group`` or ``target`` in the CSV's ``level`` column."""
    return _REPORT_LEVELS[lang][level]
