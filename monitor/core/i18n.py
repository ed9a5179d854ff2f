"""Words of the status page, the API's reason texts and the report, in Vietnamese and English.

Staff read Vietnamese, engineers English: every text here exists in both. Reason codes are the
probes' stable machine codes (probes/base.py) plus netmon's own for the states it derives
(``packet_loss``, ``tls_expiring``, ``alert``, ``parent_down``, ``maintenance``,
``not_probed``). Groups, carriers and targets are names from the settings, never from here:
the few group names below only get a title when the settings use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "GROUP_ORDER",
    "LANGUAGES",
    "NO_NAMES",
    "DisplayNames",
    "Lang",
    "LocalName",
    "dead_letter_text",
    "detail_text",
    "evidence_text",
    "failure_text",
    "group_title",
    "language",
    "local_time",
    "message_words",
    "reason_text",
    "reason_words",
    "severity_text",
    "state_text",
    "words",
]

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
LocalName = Mapping[str, str]  # lang -> text: a display name from the settings

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
    "tls": {"vi": "lỗi TLS hoặc chứng thư số", "en": "TLS or certificate error"},
    "status": {"vi": "mã trạng thái HTTP không đúng", "en": "unexpected HTTP status"},
    "content": {
        "vi": "nội dung trang sai (mất băng rôn hoặc trang bị thay đổi)",
        "en": "wrong page content (banner missing or page defaced)",
    },
    "redirects": {"vi": "chuyển hướng không hợp lệ", "en": "bad redirect"},
    "body_size": {"vi": "nội dung trả về quá lớn", "en": "response body too large"},
    "header": {"vi": "tiêu đề phản hồi HTTP không đúng", "en": "wrong HTTP response header"},
    "ssl": {
        "vi": "kết nối không đúng yêu cầu về HTTPS",
        "en": "HTTPS used or missing against the settings",
    },
    "http_version": {"vi": "phiên bản HTTP không đúng", "en": "unexpected HTTP version"},
    "protocol": {"vi": "phản hồi sai giao thức", "en": "protocol error"},
    "banner": {"vi": "lời chào của dịch vụ không đúng", "en": "wrong service banner"},
    "expect": {
        "vi": "dịch vụ trả lời không như kịch bản kiểm tra",
        "en": "the service did not answer as the dialogue expects",
    },
    "fragmentation_needed": {
        "vi": "gói tin lớn hơn MTU của đường truyền (cần phân mảnh)",
        "en": "packet larger than the path's MTU (fragmentation needed)",
    },
    "secondary": {
        "vi": "máy chủ DNS phụ không trả lời",
        "en": "a secondary DNS server did not answer",
    },
    "rcode": {"vi": "máy chủ DNS trả mã lỗi", "en": "the DNS server answered with an error"},
    "answer": {
        "vi": "bản ghi DNS khác với giá trị mong đợi",
        "en": "the DNS answer differs from the expected one",
    },
    "snmp_auth": {"vi": "lỗi xác thực SNMP", "en": "SNMP authentication failed"},
    "sip_auth": {
        "vi": "tổng đài từ chối đăng ký máy nhánh SIP (sai tài khoản hoặc mật khẩu)",
        "en": "the PBX refused the SIP extension's registration (wrong user or password)",
    },
    "snmp_error": {"vi": "thiết bị báo lỗi SNMP", "en": "the SNMP agent reported an error"},
    "no_such_object": {"vi": "thiếu dữ liệu SNMP cần đọc", "en": "an SNMP object is missing"},
    "icmp_not_permitted": {
        "vi": "netmon không có quyền gửi ICMP",
        "en": "netmon is not permitted to send ICMP",
    },
    # Web integrity (kind "web", probes/integrity/).
    "injected_script": {
        "vi": "bị chèn mã lạ (script, iframe, biểu mẫu hoặc chuyển hướng)",
        "en": "injected script (script, iframe, form or redirect)",
    },
    "cloaked": {
        "vi": "trả nội dung khác cho máy tìm kiếm (che giấu)",
        "en": "serves search engines another page (cloaking)",
    },
    "hidden_links": {"vi": "bị chèn liên kết ẩn", "en": "hidden links injected"},
    "injected_links": {"vi": "xuất hiện nhiều liên kết lạ", "en": "unknown links injected"},
    "spam_words": {
        "vi": "có từ ngữ cờ bạc, quảng cáo rác",
        "en": "gambling or spam words on the page",
    },
    "defaced": {
        "vi": "trang bị thay đổi giao diện, nội dung khác hẳn mẫu (deface)",
        "en": "page content replaced (defaced)",
    },
    "title_changed": {"vi": "tiêu đề trang bị thay đổi", "en": "page title changed"},
    "too_large": {"vi": "trang lớn bất thường", "en": "page abnormally large"},
    "garbage": {"vi": "phản hồi không phải trang HTML", "en": "the answer is not an HTML page"},
    "probe_error": {"vi": "lỗi nội bộ của netmon", "en": "internal netmon error"},
    "config": {"vi": "cấu hình đối tượng không đúng", "en": "target misconfigured"},
    "stalled": {
        "vi": "luồng phát trực tiếp bị đứng (danh sách phát không đổi)",
        "en": "the live stream is stalled (the playlist does not move)",
    },
    "slow": {
        "vi": "tải đoạn phát chậm hơn thời lượng của nó",
        "en": "a segment downloads slower than it plays",
    },
    "bitrate": {
        "vi": "tốc độ bit của luồng ngoài khoảng cho phép",
        "en": "the stream's bitrate is out of range",
    },
    "playlist": {"vi": "danh sách phát HLS không hợp lệ", "en": "invalid HLS playlist"},
    "path_changed": {"vi": "đường đi mạng đã thay đổi", "en": "the network path changed"},
    "max_hops": {
        "vi": "không tới đích trong số chặng tối đa",
        "en": "destination not reached within max_hops",
    },
    # netmon's own
    "packet_loss": {"vi": "mất gói {loss}", "en": "{loss} packet loss"},
    "tls_expiring": {
        "vi": "chứng thư số còn {days} ngày là hết hạn",
        "en": "TLS certificate expires in {days} days",
    },
    "alert": {"vi": "{summary}", "en": "{summary}"},
    "parent_down": {
        "vi": "thiết bị cấp trên {parent} mất kết nối",
        "en": "parent {parent} is down",
    },
    "maintenance": {"vi": "đang bảo trì ({window})", "en": "in maintenance ({window})"},
    "not_probed": {"vi": "chưa đo lần nào", "en": "not probed yet"},
    # The ledger's own, for a circuit and a BGP peer (alerts/ledger.py)
    "interface_down": {"vi": "kênh truyền không hoạt động", "en": "circuit not up"},
    "bgp_down": {"vi": "phiên BGP không thiết lập", "en": "BGP session not established"},
}
_UNKNOWN_REASON: dict[Lang, str] = {"vi": "lỗi: {code}", "en": "failed: {code}"}

_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "title": "Giám sát mạng và đường truyền",
        "lang_other": "English",
        "phase": "Giai đoạn",
        "no_phase": "Ngoài giai đoạn kế hoạch",
        "next_phase": "Giai đoạn tiếp theo",
        "from": "từ",
        "to": "đến",
        "now": "Bây giờ",
        "alerts": "Cảnh báo hiện hành",
        "no_alerts": "Không có cảnh báo hiện hành.",
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
        "outages": "Các lần sự cố",
        "no_outages": "Chưa ghi nhận sự cố nào.",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "duration": "Thời gian",
        "ongoing": "đang diễn ra",
        "result": "Kết quả",
        "detail": "Chi tiết",
        "ok": "đạt",
        "failed": "không đạt",
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
        "ports": "Cổng và kênh truyền",
        "reload_refused": (
            "Cấu hình mới bị từ chối: netmon vẫn chạy theo cấu hình cũ. Sửa tệp cấu hình rồi "
            "nạp lại."
        ),
        "other_ports": "Các cổng khác đang hoạt động",
        "port": "Cổng",
        "alias": "Mô tả (ifAlias)",
        "circuit": "Kênh truyền",
        "port_state": "Trạng thái",
        "util_in": "Tải chiều vào",
        "util_out": "Tải chiều ra",
        "port_errors": "Gói lỗi vào / ra",
        "state_since": "Từ lúc",
        "before_history": "trước",
        "bgp_peers": "Phiên BGP",
        "peer": "Đối tác BGP",
        # The wall, the 24-hour history, the theme (issue 14, the wall).
        "wall": "Màn hình trực",
        "wall_all_up": "Mọi đối tượng đều hoạt động bình thường.",
        "wall_up": "Hoạt động bình thường",
        "wall_by_group": "Số đối tượng hoạt động theo nhóm",
        "wall_sign_in": (
            "Màn hình trực cần mã truy cập: mở địa chỉ /wall#token=… với mã của màn hình "
            "trực, hoặc đăng nhập."
        ),
        "wall_signing_in": "Đang đăng nhập màn hình trực…",
        "wall_token_refused": "Mã truy cập của màn hình trực không đúng.",
        "history_day": "24 giờ qua",
        "legend_up": "hoạt động",
        "legend_down": "sự cố",
        "legend_partial": "có lúc sự cố",
        "legend_gap": "không giám sát (netmon không có kết quả)",
        "legend_mean": "trung bình 5 phút, vạch: thấp nhất đến cao nhất",
        "info_more": "thông tin",
        "theme": "Giao diện",
        "theme_light": "Giao diện sáng",
        "theme_dark": "Giao diện tối",
        # kind-specific figures on the cards (issue 16)
        "stream_live": "luồng phát bình thường",
        "stream_stalled": "luồng bị đứng",
        "stream_slow": "tải đoạn chậm",
        "stream_bitrate": "tốc độ bit ngoài khoảng",
        "bitrate": "tốc độ bit",
        "declared": "khai báo",
        "segment_age": "đoạn mới nhất {age} trước",
        "web_learning": "đang học mẫu",
        "web_like": "giống mẫu",
        "found": "Phát hiện",
        "evidence": "Bằng chứng",
        "excerpt": "Đoạn mã bị chèn",
        "new_title": "Tiêu đề mới",
    },
    "en": {
        "title": "Network and link monitor",
        "lang_other": "Tiếng Việt",
        "phase": "Phase",
        "no_phase": "Outside plan phases",
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
        "ports": "Ports and circuits",
        "reload_refused": (
            "The new settings were refused: netmon runs on the previous ones. Fix the file and "
            "reload."
        ),
        "other_ports": "Other ports, up",
        "port": "Port",
        "alias": "Description (ifAlias)",
        "circuit": "Circuit",
        "port_state": "State",
        "util_in": "In utilisation",
        "util_out": "Out utilisation",
        "port_errors": "Errors in / out",
        "state_since": "Since",
        "before_history": "before",
        "bgp_peers": "BGP sessions",
        "peer": "BGP peer",
        "wall": "Wall display",
        "wall_all_up": "Every target is up.",
        "wall_up": "Up",
        "wall_by_group": "Targets up, by group",
        "wall_sign_in": (
            "The wall needs its access token: open /wall#token=… with the wall's token, or sign in."
        ),
        "wall_signing_in": "Signing the wall in…",
        "wall_token_refused": "The wall's access token is wrong.",
        "history_day": "Last 24 hours",
        "legend_up": "up",
        "legend_down": "down",
        "legend_partial": "partly down",
        "legend_gap": "not watched (netmon has no result)",
        "legend_mean": "5-minute mean, bar: lowest to highest",
        "info_more": "info",
        "theme": "Theme",
        "theme_light": "Light theme",
        "theme_dark": "Dark theme",
        # kind-specific figures on the cards (issue 16)
        "stream_live": "live",
        "stream_stalled": "stalled",
        "stream_slow": "slow segments",
        "stream_bitrate": "bitrate out of range",
        "bitrate": "bitrate",
        "declared": "declared",
        "segment_age": "newest segment {age} old",
        "web_learning": "learning the baseline",
        "web_like": "like the baseline",
        "found": "Found",
        "evidence": "Evidence",
        "excerpt": "Injected snippet",
        "new_title": "New title",
    },
}

STATE_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "up": "Hoạt động",
        "down": "Sự cố",
        "degraded": "Suy giảm",
        "suppressed": "Bị ẩn do thiết bị cấp trên mất kết nối",
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


# A target down for want of reachability is "Mất kết nối"; any other failure (HTTP status,
# content, certificate, DNS answer) is "Sự cố" (docs/glossary.md): STATE_WORDS' "down".
_UNREACHABLE_STATE: dict[Lang, str] = {"vi": "Mất kết nối", "en": "Unreachable"}


def state_text(state: str, reason: str | None, lang: Lang) -> str:
    """A card's state in words; a ``down`` target by its last probe's reason code (none: the
    probe passed and an alert says down, which is no reachability fault)."""
    if state == "down" and reason in _REACHABILITY:
        return _UNREACHABLE_STATE[lang]
    return STATE_WORDS[lang].get(state, state)


def language(value: str | None, default: str) -> Lang:
    """``vi`` or ``en`` from a query parameter, else the settings' language."""
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return "en" if default == "en" else "vi"


def words(lang: Lang) -> dict[str, str]:
    return _WORDS[lang]


# A port's state on a device's page: IF-MIB's ifOperStatus words (``_OPER_STATUS`` below, the
# same words as the messages), and "adminDown" for a port an operator shut.
_STATE_CODES = {
    "up": "1",
    "down": "2",
    "testing": "3",
    "unknown": "4",
    "dormant": "5",
    "notPresent": "6",
    "lowerLayerDown": "7",
}
_ADMIN_DOWN: dict[Lang, str] = {"vi": "tắt bởi quản trị", "en": "shut by an operator"}


def port_state_text(state: str, lang: Lang) -> str:
    """A port's state (``probes.snmp.interfaces.Interface.state``) in words, capitalised."""
    if state == "adminDown":
        text = _ADMIN_DOWN[lang]
    else:
        known = _OPER_STATUS.get(_STATE_CODES.get(state, ""))
        text = known[lang] if known is not None else state
    return text[:1].upper() + text[1:]


def bgp_state_text(state: int) -> str:
    """BGP4-MIB's bgpPeerState: the protocol's own names, the same in both languages."""
    return _BGP_STATES.get(state, str(state))


def group_title(group: str, lang: Lang, names: DisplayNames | None = None) -> str:
    """A group's display name: ``[names.group]`` of the settings, else the words above for
    the well-known groups, else the group's own name."""
    if names is not None:
        given = names.labels.get("group", {}).get(group)
        if given is not None:
            return given[lang]
    known = _GROUPS.get(group)
    return known[lang] if known is not None else group


@dataclass(frozen=True, slots=True)
class DisplayNames:
    """What people read instead of slugs: targets' ``title`` and the settings' ``[names]``
    (label key -> value -> language -> text). Slugs stay the keys everywhere; these are only
    shown. ``monitor.config.Settings.display_names`` builds it."""

    targets: Mapping[str, LocalName] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, LocalName]] = field(default_factory=dict)

    def target(self, name: str, lang: Lang) -> str:
        given = self.targets.get(name)
        return given[lang] if given is not None else name

    def label(self, key: str, value: str, lang: Lang) -> str:
        """A label value's display name (``carrier="viettel"`` → "Viettel"); groups also
        take the well-known group words; any other value is shown as it is."""
        if key == "group":
            return group_title(value, lang, self)
        given = self.labels.get(key, {}).get(value)
        if given is not None:
            return given[lang]
        if key == "severity":
            return severity_text(value, lang)
        if key == "phase" and value == "none":
            return _MESSAGE_WORDS[lang]["no_phase"]
        if key == "direction" and value in _DIRECTIONS:
            return _DIRECTIONS[value][lang]
        return value


NO_NAMES = DisplayNames()

# Label values netmon itself sets, in words (the `direction` of an interface's utilization).
_DIRECTIONS: dict[str, dict[Lang, str]] = {
    "in": {"vi": "chiều vào", "en": "inbound"},
    "out": {"vi": "chiều ra", "en": "outbound"},
}


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


def reason_words(lang: Lang) -> dict[str, str]:
    """Every reason code whose words need no figures, capitalised: what a table of failures
    shows for a bare code (Grafana's value mappings), the same words as the pages'."""
    return {
        code: text[lang][:1].upper() + text[lang][1:]
        for code, text in _REASONS.items()
        if "{" not in text[lang]
    }


def detail_text(reason: str | None, detail: str | None, lang: Lang) -> str:
    """A probe's result as the pages show it: in Vietnamese, a sentence from its reason code
    with the probe's own English ``detail`` beside it (probes speak codes and English; the
    words are the web's); in English, the detail. A code whose words need figures, or no
    code (a success), gives the detail alone."""
    detail = detail or ""
    sentence = reason_words(lang).get(reason or "")
    if sentence is None or (lang == "en" and detail):
        return detail
    sentence += "."
    return f"{sentence} ({detail})" if detail else sentence


def local_time(ts: float | None, zone: ZoneInfo, *, seconds: bool = True) -> str:
    """A time as the NOC reads it: dd/mm/yyyy HH:MM:SS in the settings' time zone."""
    if ts is None:
        return ""
    fmt = "%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M"
    return datetime.fromtimestamp(ts, zone).strftime(fmt)


def duration_text(seconds: float | None, lang: Lang, *, largest: int | None = None) -> str:
    """``2 ngày 3 giờ 4 phút 5 giây`` / ``2 d 3 h 4 min 5 s``: whole seconds, largest units
    first; ``largest``: only that many units (``1 giờ 2 phút``), the rest rounded off."""
    if seconds is None or math.isnan(seconds):
        return ""
    negative = seconds < 0
    total = round(abs(seconds))
    sizes = (86400, 3600, 60, 1)
    if largest is not None:  # round to the smallest unit shown
        first = next((i for i, size in enumerate(sizes) if total >= size), len(sizes) - 1)
        unit = sizes[min(first + largest - 1, len(sizes) - 1)]
        total = round(total / unit) * unit
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("ngày", "giờ", "phút", "giây") if lang == "vi" else ("d", "h", "min", "s")
    parts = [f"{n} {u}" for n, u in zip((days, hours, minutes, secs), units, strict=True) if n]
    if largest is not None:
        parts = parts[:largest]
    text = " ".join(parts) if parts else f"0 {units[3]}"
    return ("-" if negative else "") + text


# Why the alert engine holds an alert (alerts.model.HoldReason: kind, parent, window), named
# and with the parent unnamed (a reader who may not see it, monitor/web/status.py).
_HELD: dict[str, dict[Lang, str]] = {
    "maintenance": {"vi": "bảo trì: {window}", "en": "maintenance: {window}"},
    "inhibited": {
        "vi": "đã gộp vào cảnh báo {by} của {parent}",
        "en": "inhibited by {by} of {parent}",
    },
    "parent_down": {
        "vi": "bị ẩn do thiết bị cấp trên {parent} mất kết nối",
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
_ANOTHER_ALERT: dict[Lang, str] = {"vi": "khác", "en": "another alert"}
_HELD_UNNAMED: dict[str, dict[Lang, str]] = {
    "inhibited": {"vi": "đã gộp vào cảnh báo {by}", "en": "inhibited by {by}"},
    "parent_down": {
        "vi": "bị ẩn do thiết bị cấp trên mất kết nối",
        "en": "suppressed: a parent is down",
    },
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
    by = by or _ANOTHER_ALERT[lang]  # an inhibition whose source rule is not said
    if parent is None and kind in _HELD_UNNAMED:
        return _HELD_UNNAMED[kind][lang].format(by=by)
    if kind not in _HELD:
        return kind
    return _HELD[kind][lang].format(parent=parent or "", window=window or "", by=by)


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
        "outage_list": "Danh sách các lần sự cố",
        "name": "Tên",
        "group": "Nhóm",
        "carrier": "Nhà mạng",
        "n": "Số đối tượng",
        "availability": "Khả dụng",
        "outages": "Số lần sự cố",
        "downtime": "Tổng thời gian sự cố",
        "longest": "Lần lâu nhất",
        "mttr": "Khắc phục trung bình",
        "maintenance": "Bảo trì (loại trừ)",
        "m_down": "Sự cố trong bảo trì",
        "coverage": "Độ phủ giám sát",
        "unwatched": "Không giám sát",
        "legend_unwatched": "không giám sát",
        "sla": "Mục tiêu",
        "sla_result": "Đánh giá",
        "sla_met": "Đạt",
        "sla_missed": "Không đạt",
        "sla_unknown": "Chưa đủ số liệu",
        "nation": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "sign_hint": "(Ký, ghi rõ họ tên)",
        "low_coverage": (
            "* Độ phủ giám sát dưới 90 % thời gian kỳ: tỷ lệ khả dụng chỉ phản ánh phần thời "
            "gian được giám sát."
        ),
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "reason": "Nguyên nhân",
        "counted": "Tính vào kỳ",
        "total": "Tổng cộng",
        "none": "Không có sự cố nào trong kỳ.",
        "chart": "Biểu đồ",
        "legend_down": "sự cố",
        "legend_maint": "bảo trì",
        "method": (
            "Số liệu được tính chính xác từ sổ ghi sự cố (ledger) của netmon: mỗi sự cố tính "
            "từ lần đo lỗi đầu tiên đến lần đo đạt đầu tiên. Chỉ tính thời gian netmon thực "
            "sự giám sát (có kết quả đo); thời gian không giám sát không được coi là hoạt động "
            "tốt và được ghi riêng. Khả dụng = (thời gian được giám sát − bảo trì − sự cố) / "
            "(thời gian được giám sát − bảo trì); độ phủ = thời gian được giám sát / thời "
            "gian kỳ. Thời gian bảo trì được loại trừ và ghi riêng. Một sự cố kéo dài qua hai "
            "giai đoạn được tính vào mỗi giai đoạn phần nằm trong giai đoạn "
            "đó. Số liệu theo nhà mạng và theo nhóm cộng thời gian của các đối tượng. Giờ hiển "
            "thị theo múi giờ"
        ),
        "unknown_windows": (
            "Cửa sổ bảo trì không còn lưu thời gian, tính bằng chính thời gian sự cố"
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
        "coverage": "Coverage",
        "unwatched": "Not watched",
        "legend_unwatched": "not watched",
        "sla": "Goal",
        "sla_result": "Result",
        "sla_met": "Met",
        "sla_missed": "Not met",
        "sla_unknown": "Too little data",
        "nation": "SOCIALIST REPUBLIC OF VIET NAM",
        "motto": "Independence - Freedom - Happiness",
        "sign_hint": "(Signature and full name)",
        "low_coverage": (
            "* Watched for less than 90 % of the period: the availability speaks only for the "
            "time watched."
        ),
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
            "failed probe to the first good one. Only time netmon watched (probe results came) "
            "counts; time not watched is never counted as up and is shown apart. Availability "
            "= (watched − maintenance − downtime) / (watched − maintenance); coverage = watched "
            "/ period. Maintenance time is excluded and shown apart. "
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
        "Từ (giờ địa phương)",
        "Đến (giờ địa phương)",
        "Cấp",
        "Tên",
        "Nhóm",
        "Nhà mạng",
        "Số đối tượng",
        "Khả dụng (%)",
        "Số lần sự cố",
        "Tổng thời gian sự cố (giây)",
        "Sự cố lâu nhất (giây)",
        "Thời gian khắc phục trung bình (giây)",
        "Thời gian bảo trì (giây)",
        "Thời gian sự cố trong bảo trì (giây)",
        "Thời gian tính khả dụng (giây)",
        "Độ dài kỳ (giây)",
        "Thời gian được giám sát (giây)",
        "Thời gian không giám sát (giây)",
        "Độ phủ giám sát (%)",
    ),
    "en": (
        "phase",
        "from_local",
        "to_local",
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
        "watched_seconds",
        "unwatched_seconds",
        "coverage_percent",
    ),
}
# The workbook's sheet names (at most 31 characters, no []:*?/\\) and column heads.
_REPORT_XLSX_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "sheet_summary": "Tổng hợp",
        "sheet_carriers": "Theo nhà mạng",
        "sheet_groups": "Theo nhóm",
        "sheet_targets": "Theo đối tượng",
        "sheet_outages": "Các lần sự cố",
        "section": "Giai đoạn",
        "range": "Toàn kỳ báo cáo",
        "from": "Từ",
        "to": "Đến",
        "targets_n": "Số đối tượng",
        "carrier": "Nhà mạng",
        "group": "Nhóm",
        "name": "Tên",
        "in_settings": "Trong cấu hình",
        "yes": "có",
        "no": "đã bỏ",
        "availability": "Khả dụng",
        "outages": "Số lần sự cố",
        "downtime": "Tổng thời gian sự cố",
        "longest": "Lần lâu nhất",
        "mttr": "Khắc phục trung bình",
        "maintenance": "Bảo trì (loại trừ)",
        "watched": "Thời gian được giám sát",
        "unwatched": "Thời gian không giám sát",
        "coverage": "Độ phủ giám sát",
        "period": "Độ dài kỳ",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "reason": "Nguyên nhân",
        "counted": "Tính vào kỳ",
        "m_down": "Sự cố trong bảo trì",
        "maintenance_window": "Cửa sổ bảo trì",
    },
    "en": {
        "sheet_summary": "Summary",
        "sheet_carriers": "By carrier",
        "sheet_groups": "By group",
        "sheet_targets": "By target",
        "sheet_outages": "Outages",
        "section": "Phase",
        "range": "Whole reporting period",
        "from": "From",
        "to": "To",
        "targets_n": "Targets",
        "carrier": "Carrier",
        "group": "Group",
        "name": "Name",
        "in_settings": "In the settings",
        "yes": "yes",
        "no": "removed",
        "availability": "Availability",
        "outages": "Outages",
        "downtime": "Total downtime",
        "longest": "Longest",
        "mttr": "MTTR",
        "maintenance": "Maintenance (excluded)",
        "watched": "Watched",
        "unwatched": "Not watched",
        "coverage": "Coverage",
        "period": "Period",
        "start": "Start",
        "end": "End",
        "reason": "Reason",
        "counted": "Counted",
        "m_down": "Down in maintenance",
        "maintenance_window": "Maintenance window",
    },
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


def report_xlsx_words(lang: Lang) -> dict[str, str]:
    return _REPORT_XLSX_WORDS[lang]


def report_level(level: str, lang: Lang) -> str:
    """``total``, ``carrier``, ``group`` or ``target`` in the CSV's ``level`` column."""
    return _REPORT_LEVELS[lang][level]


# --------------------------------------------------------------------------- messages
# What an alert's message says (alerts/notify/text.py): one language per receiver, every word
# from here. Severities as the NOC names them.

_SEVERITIES: dict[str, dict[Lang, str]] = {
    "critical": {"vi": "Nghiêm trọng", "en": "Critical"},
    "warning": {"vi": "Cảnh báo", "en": "Warning"},
    "info": {"vi": "Thông tin", "en": "Info"},
    "none": {"vi": "Theo dõi", "en": "Heartbeat"},
}

_MESSAGE_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "ack_button": "✋ Đã nhận, đang xử lý",
        "ack_done": "Đã ghi nhận: bạn đang xử lý cảnh báo này.",
        "ack_refused": "Không ghi nhận được.",
        "ack_ended": "Cảnh báo này đã kết thúc hoặc chưa phát: không cần xác nhận.",
        "ack_unknown": "Không tìm thấy cảnh báo này (có thể đã được xóa sau khi nạp lại cấu hình).",
        "ack_not_allowed": "Bạn không có quyền xác nhận cảnh báo này.",
        "ack_wrong_chat": "Nút này không thuộc nhóm trực của netmon.",
        "resolved": "Đã khôi phục",
        "flapping": "Chập chờn",
        "since": "từ",
        "lasted": "sau",
        "started": "Bắt đầu",
        "ended": "Kết thúc",
        "duration": "Thời gian sự cố",
        "was": "Sự cố",
        "carrier": "Nhà mạng",
        "site": "Địa điểm",
        "group": "Nhóm",
        "circuit": "Kênh truyền",
        "port": "cổng",
        "evidence": "Bằng chứng",
        "phase": "Giai đoạn",
        "no_phase": "ngoài giai đoạn kế hoạch",
        "link": "Xem trên trang giám sát",
        "runbook": "Hướng dẫn xử lý",
        "codes": "Mã cảnh báo",
        "held": "Đang tạm giữ",
        "flapping_note": (
            "Trạng thái thay đổi liên tục; tạm dừng gửi cảnh báo cho đến khi ổn định."
        ),
        "more": "Chi tiết",
    },
    "en": {
        "ack_button": "✋ Acknowledge",
        "ack_done": "Acknowledged: you are on it.",
        "ack_refused": "Not acknowledged.",
        "ack_ended": "This alert has ended or is not firing yet: nothing to acknowledge.",
        "ack_unknown": "No such alert (it may have gone with a reload of the settings).",
        "ack_not_allowed": "You may not acknowledge this alert.",
        "ack_wrong_chat": "This button is not from netmon's on-call chat.",
        "resolved": "Resolved",
        "flapping": "Flapping",
        "since": "since",
        "lasted": "after",
        "started": "Started",
        "ended": "Ended",
        "duration": "Outage lasted",
        "was": "Was",
        "carrier": "Carrier",
        "site": "Site",
        "group": "Group",
        "circuit": "Circuit",
        "port": "port",
        "evidence": "Evidence",
        "phase": "Phase",
        "no_phase": "outside plan phases",
        "link": "On the status page",
        "runbook": "Runbook",
        "codes": "Alert code",
        "held": "Held",
        "flapping_note": "The state keeps changing; further pages are held until it settles.",
        "more": "Details",
    },
}

# The evidence of a message: what the probe saw, from its structured facts (the reason code,
# samples, the words it found), never from its English ``detail``. ``{...}`` are filled with
# figures and quotes already formatted.
_EVIDENCE: dict[str, dict[Lang, str]] = {
    "echoes": {
        "vi": "{received}/{sent} gói tin được trả lời",
        "en": "{received}/{sent} echoes answered",
    },
    "echoes_loss": {
        "vi": "{received}/{sent} gói tin được trả lời (mất {loss})",
        "en": "{received}/{sent} echoes answered ({loss} lost)",
    },
    "http_status": {
        "vi": "máy chủ trả mã HTTP {status}",
        "en": "the server answered HTTP {status}",
    },
    "forbidden": {"vi": "tìm thấy nội dung bị cấm: {words}", "en": "forbidden text found: {words}"},
    "excerpt": {"vi": "trích đoạn trang: {excerpt}", "en": "on the page: {excerpt}"},
    "required": {
        "vi": "không tìm thấy nội dung bắt buộc: {words}",
        "en": "required text not found: {words}",
    },
    "rtt": {"vi": "độ trễ trung bình {value}", "en": "average round trip {value}"},
    "jitter": {"vi": "độ dao động trễ {value}", "en": "jitter {value}"},
    "cert": {
        "vi": "chứng thư số hết hạn lúc {when} (còn {left})",
        "en": "the certificate expires at {when} (in {left})",
    },
    "cert_expired": {
        "vi": "chứng thư số đã hết hạn lúc {when}",
        "en": "the certificate expired at {when}",
    },
    "uptime": {
        "vi": "thiết bị chạy được {uptime} kể từ lần khởi động",
        "en": "the device has been up for {uptime}",
    },
    "oper_status": {"vi": "trạng thái cổng: {status}", "en": "interface state: {status}"},
    "bgp_state": {"vi": "trạng thái phiên BGP: {state}", "en": "BGP session state: {state}"},
    "utilization": {"vi": "dùng {value} băng thông", "en": "{value} of the capacity in use"},
    "errors": {"vi": "{value} gói lỗi mỗi giây", "en": "{value} errored packets a second"},
    "dns": _REASONS["answer"],  # the same words as the failure reason
    "dns_serial": {
        "vi": "máy chủ chính có serial {primary}, máy chủ phụ lệch {behind}",
        "en": "the primary's serial is {primary}, the secondary is {behind} behind",
    },
    "trap": {
        "vi": "thiết bị gửi thông báo {trap} (SNMP trap)",
        "en": "the device sent {trap} (SNMP trap)",
    },
}

# ifOperStatus (IF-MIB) in words.
_OPER_STATUS: dict[str, dict[Lang, str]] = {
    "1": {"vi": "hoạt động", "en": "up"},
    "2": {"vi": "ngừng hoạt động", "en": "down"},
    "3": {"vi": "đang kiểm tra", "en": "testing"},
    "4": {"vi": "không rõ", "en": "unknown"},
    "5": {"vi": "chờ kích hoạt (dormant)", "en": "dormant"},
    "6": {"vi": "không có mô-đun (notPresent)", "en": "not present"},
    "7": {"vi": "lớp dưới ngừng hoạt động", "en": "lower layer down"},
}
_BGP_STATES = {
    1: "Idle",
    2: "Connect",
    3: "Active",
    4: "OpenSent",
    5: "OpenConfirm",
    6: "Established",
}
_EXCERPT_MAX = 120


# What a failed target "does", by reason code: "Mất kết nối" only when it cannot be reached;
# HTTP, content and certificate faults are "sự cố" / "không đạt" (the NOC's glossary).
_REACHABILITY = frozenset({"timeout", "unreachable", "refused", "connection"})
_FAILURES: dict[str, dict[Lang, str]] = {
    "unreachable": {"vi": "mất kết nối", "en": "is unreachable"},
    "dns": {"vi": "lỗi phân giải tên miền (DNS)", "en": "fails to resolve (DNS)"},
    "tls": {"vi": "gặp sự cố chứng thư số (TLS)", "en": "has a TLS certificate problem"},
    "status": {"vi": "gặp sự cố: máy chủ trả mã HTTP lỗi", "en": "answers with an HTTP error"},
    "content": {"vi": "không đạt: nội dung trang sai", "en": "serves wrong content"},
    "other": {"vi": "gặp sự cố: {reason}", "en": "is failing: {reason}"},
}


def failure_text(reason: str | None, lang: Lang) -> str:
    """What a target that fails is, in a few words, from the reason code."""
    if reason is None or reason == "" or reason in _REACHABILITY:
        return _FAILURES["unreachable"][lang]
    if reason in _FAILURES:
        return _FAILURES[reason][lang]
    return _FAILURES["other"][lang].format(reason=reason_text(reason, lang))


def severity_text(severity: str, lang: Lang) -> str:
    known = _SEVERITIES.get(severity)
    return known[lang] if known is not None else severity


def message_words(lang: Lang) -> dict[str, str]:
    return _MESSAGE_WORDS[lang]


def _quote(text: str, lang: Lang) -> str:
    return f"«{text}»" if lang == "vi" else f'"{text}"'


def _ms_text(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def evidence_text(
    facts: Mapping[str, Any],
    focus: str | None,
    value: float,
    lang: Lang,
    zone: ZoneInfo,
    now: float,
) -> str:
    """What the probe saw, in words: ``facts`` are the result's (``reason``, ``samples``: the
    first value of each sample name, ``found``/``missing``: the forbidden words found and the
    required ones missing, ``excerpt``); ``focus`` is the rule's sample (what the alert is
    about), ``value`` its value for the alert's series. Empty when there is nothing to add."""
    samples: Mapping[str, float] = facts.get("samples", {})
    reason = facts.get("reason") or None

    def say(key: str, **fields: str) -> str:
        return _EVIDENCE[key][lang].format_map(fields)

    def echoes() -> str | None:
        sent, received = (
            samples.get("probe_icmp_packets_sent"),
            samples.get("probe_icmp_packets_received"),
        )
        if sent is None or received is None:
            return None
        loss = samples.get("probe_icmp_packet_loss_ratio")
        if 0 < received < sent and loss is not None:
            return say(
                "echoes_loss", received=f"{received:.0f}", sent=f"{sent:.0f}", loss=_percent(loss)
            )
        return say("echoes", received=f"{received:.0f}", sent=f"{sent:.0f}")

    def words_of(key: str) -> str:
        return ", ".join(_quote(w, lang) for w in facts.get(key, ()))

    parts: list[str] = []
    if facts.get("trap"):  # fired by the device's own notification, before any poll
        parts.append(say("trap", trap=str(facts["trap"])))
    elif focus in ("probe_http_content_forbidden_match", "probe_web_injected") and facts.get(
        "found"
    ):  # web integrity's "found": the injected domains and the gambling words
        parts.append(say("forbidden", words=words_of("found")))
        if facts.get("excerpt"):
            excerpt = str(facts["excerpt"])[:_EXCERPT_MAX]
            parts.append(say("excerpt", excerpt=_quote(excerpt, lang)))
    elif focus == "probe_http_content_required_match" and facts.get("missing"):
        parts.append(say("required", words=words_of("missing")))
    elif focus in ("probe_icmp_packet_loss_ratio",):
        found = echoes()
        if found:
            parts.append(found)
    elif focus == "probe_icmp_rtt_seconds" and not math.isnan(value):
        parts.append(say("rtt", value=_ms_text(value)))
    elif focus == "probe_icmp_jitter_seconds" and not math.isnan(value):
        parts.append(say("jitter", value=_ms_text(value)))
    elif focus == "probe_ssl_earliest_cert_expiry":
        expiry = samples.get("probe_ssl_earliest_cert_expiry")
        if expiry is not None:
            when = local_time(expiry, zone, seconds=False)
            if expiry <= now:
                parts.append(say("cert_expired", when=when))
            else:
                left = duration_text(expiry - now, lang, largest=2)
                parts.append(say("cert", when=when, left=left))
    elif focus in ("sysUpTime", "probe_snmp_agent_restarted"):
        uptime = samples.get("sysUpTime")
        if uptime is not None:
            parts.append(say("uptime", uptime=duration_text(uptime, lang, largest=2)))
    elif focus == "ifOperStatus" and not math.isnan(value):
        code = f"{value:.0f}"
        known = _OPER_STATUS.get(code)
        parts.append(say("oper_status", status=known[lang] if known else code))
    elif focus == "bgpPeerState" and not math.isnan(value):
        parts.append(say("bgp_state", state=_BGP_STATES.get(int(value), f"{value:.0f}")))
    elif focus == "probe_snmp_if_utilization_ratio" and not math.isnan(value):
        parts.append(say("utilization", value=_percent(value)))
    elif focus == "ifInErrors" and not math.isnan(value):
        parts.append(say("errors", value=f"{value:.3g}"))
    elif focus == "probe_dns_answer_match":
        parts.append(say("dns"))
    elif focus == "probe_dns_serial_difference" and not math.isnan(value):
        primary = samples.get("probe_dns_serial")
        shown = f"{primary:.0f}" if primary is not None else "?"
        parts.append(say("dns_serial", primary=shown, behind=f"{value:.0f}"))
    else:  # the target failed: the reason in words, with its figures
        status = samples.get("probe_http_status_code")
        said_by_figures = (reason == "status" and status is not None and status > 0) or (
            reason == "content" and (facts.get("missing") or facts.get("found"))
        )
        if reason is not None and not said_by_figures:
            parts.append(reason_text(reason, lang))
        found = echoes()
        if found:
            parts.append(found)
        if status is not None and status > 0:
            parts.append(say("http_status", status=f"{status:.0f}"))
        if reason == "content":
            if facts.get("missing"):
                parts.append(say("required", words=words_of("missing")))
            elif facts.get("found"):
                parts.append(say("forbidden", words=words_of("found")))
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------- notes, maintenance
# The NOC's notes on outages and the maintenance forms (monitor/web/forms.py, the report).
_NOTE_WORDS: dict[Lang, dict[str, str]] = {
    "vi": {
        "note": "Ghi chú",
        "note_by": "Người ghi",
        "note_save": "Lưu ghi chú",
        "note_hint": "Văn bản thường, tối đa {max} ký tự",
        "maintenance_page": "Lịch bảo trì",
        "maintenance_new": "Đặt lịch bảo trì",
        "maintenance_for_target": "Đặt bảo trì cho đối tượng này",
        "maintenance_name": "Tên lịch",
        "maintenance_match": "Áp dụng cho",
        "maintenance_match_hint": (
            "nhãn=giá trị, cách nhau bởi dấu phẩy; ví dụ carrier=viettel hoặc site=hoi-truong"
        ),
        "maintenance_from": "Từ",
        "maintenance_to": "Đến",
        "maintenance_local": "giờ Việt Nam ({zone})",
        "maintenance_comment": "Nội dung",
        "maintenance_author": "Người đặt",
        "maintenance_source": "Nguồn",
        "maintenance_source_settings": "tệp cấu hình",
        "maintenance_source_api": "giao diện/API",
        "maintenance_active": "Đang diễn ra",
        "maintenance_upcoming": "Sắp diễn ra",
        "maintenance_none": "Không có lịch bảo trì nào đang mở.",
        "maintenance_create": "Đặt lịch",
        "maintenance_extend": "Gia hạn đến",
        "maintenance_extend_button": "Gia hạn",
        "maintenance_end": "Kết thúc ngay",
        "maintenance_saved": "Đã lưu lịch bảo trì {name}",
        "maintenance_ended": "Đã kết thúc lịch bảo trì {name}",
        "maintenance_refused": "Không lưu được",
        "maintenance_max": "Dài nhất {max}",
        "maintenance_windows": "Các lịch bảo trì trong kỳ",
        "maintenance_time": "Thời gian bảo trì được trừ",
        "outage_start": "Bắt đầu sự cố",
        "outage_end": "Kết thúc sự cố",
        "level_outage": "sự cố",
        "level_maintenance": "bảo trì",
        "sheet_maintenance": "Lịch bảo trì",
    },
    "en": {
        "note": "Note",
        "note_by": "Written by",
        "note_save": "Save note",
        "note_hint": "Plain text, at most {max} characters",
        "maintenance_page": "Maintenance windows",
        "maintenance_new": "New maintenance window",
        "maintenance_for_target": "Set maintenance for this target",
        "maintenance_name": "Name",
        "maintenance_match": "Applies to",
        "maintenance_match_hint": (
            "label=value, comma separated; e.g. target=so-tt-tt or carrier=viettel"
        ),
        "maintenance_from": "From",
        "maintenance_to": "To",
        "maintenance_local": "Vietnam time ({zone})",
        "maintenance_comment": "Comment",
        "maintenance_author": "Set by",
        "maintenance_source": "Source",
        "maintenance_source_settings": "settings file",
        "maintenance_source_api": "pages/API",
        "maintenance_active": "In progress",
        "maintenance_upcoming": "Upcoming",
        "maintenance_none": "No maintenance window is open.",
        "maintenance_create": "Create",
        "maintenance_extend": "Extend to",
        "maintenance_extend_button": "Extend",
        "maintenance_end": "End now",
        "maintenance_saved": "Maintenance window {name} saved",
        "maintenance_ended": "Maintenance window {name} ended",
        "maintenance_refused": "Not saved",
        "maintenance_max": "At most {max}",
        "maintenance_windows": "Maintenance windows in the period",
        "maintenance_time": "Maintenance time taken out",
        "outage_start": "outage_start",
        "outage_end": "outage_end",
        "level_outage": "outage",
        "level_maintenance": "maintenance",
        "sheet_maintenance": "Maintenance",
    },
}
# The CSV's columns after the figures: an outage's or a window's own (issue 14).
_REPORT_CSV_MORE: dict[Lang, tuple[str, ...]] = {
    "vi": ("Bắt đầu (giờ địa phương)", "Kết thúc (giờ địa phương)", "Ghi chú", "Người ghi"),
    "en": ("start_local", "end_local", "note", "note_by"),
}


def note_words(lang: Lang) -> dict[str, str]:
    """The words of notes on outages and of the maintenance forms and lists."""
    return _NOTE_WORDS[lang]


def report_csv_more(lang: Lang) -> tuple[str, ...]:
    return _REPORT_CSV_MORE[lang]
