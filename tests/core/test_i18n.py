"""The word tables (monitor/core/i18n.py): every text in Vietnamese and English, the
Vietnamese written as Vietnamese (diacritics, no English left in), the same blanks filled in
both, every reason a probe returns and every hold kind worded, times in Ha Noi's zone.

The tables are found by their shape, not by name, so a table added later is checked too."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.model import HOLD_KINDS, HoldReason
from monitor.core import i18n
from tests.support.common import REPO

LANGS = set(i18n.LANGUAGES)
HA_NOI = ZoneInfo("Asia/Ho_Chi_Minh")

Table = dict[str, dict[str, str]]  # lang -> key -> text


def _shape(value: object) -> Table | None:
    """A module-level dict as lang -> key -> text, or None if it is no word table."""
    if not isinstance(value, Mapping) or not value:
        return None
    if set(value) <= LANGS:
        if all(isinstance(v, str) for v in value.values()):  # one text: {"vi": ..., "en": ...}
            return {lang: {"": text} for lang, text in value.items()}
        if all(isinstance(v, Mapping) for v in value.values()):  # lang -> key -> text
            return {
                lang: {k: t for k, t in texts.items() if isinstance(t, str)}
                for lang, texts in value.items()
            }
        return None
    if all(isinstance(v, Mapping) and v and set(v) <= LANGS for v in value.values()):
        out: Table = {}
        for key, texts in value.items():  # key -> lang -> text
            for lang, text in texts.items():
                if isinstance(text, str):
                    out.setdefault(lang, {})[key] = text
        return out
    return None


def tables() -> dict[str, Table]:
    found = {}
    for name, value in vars(i18n).items():
        shaped = _shape(value)
        if shaped is not None:
            found[name] = shaped
    return found


def vietnamese() -> Iterator[tuple[str, str, str]]:
    for name, table in tables().items():
        for key, text in table.get("vi", {}).items():
            yield name, key, text


def test_the_tables_are_found() -> None:
    """What the checks below walk over: a table missed here would go unchecked."""
    known = {"_GROUPS", "_REASONS", "_UNKNOWN_REASON", "_WORDS", "STATE_WORDS", "_HELD"}
    assert known | {"_HELD_UNNAMED"} <= set(tables())


@pytest.mark.parametrize("name", sorted(tables()))
def test_every_key_in_both_languages(name: str) -> None:
    table = tables()[name]
    assert set(table) == LANGS, name
    vi, en = table["vi"], table["en"]
    assert set(vi) == set(en), (sorted(set(vi) - set(en)), sorted(set(en) - set(vi)))
    for key in vi:
        assert vi[key].strip() and en[key].strip(), (name, key)


def _blanks(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("name", sorted(tables()))
def test_the_same_blanks_in_both_languages(name: str) -> None:
    """A blank ({parent}, {loss}, ...) left out of one language drops a name or a figure."""
    table = tables()[name]
    for key, vi in table["vi"].items():
        assert _blanks(vi) == _blanks(table["en"][key]), (name, key)


# Vietnamese words as they are written without their marks. None of these spellings is a
# Vietnamese word of its own (unlike "ngay", "gian", "theo", "cao", "do"), so meeting one means
# a text lost its diacritics: "mat ket noi" for "mất kết nối".
UNMARKED = {
    "khong", "ket", "noi", "loi", "tri", "thiet", "chua", "phut", "giay", "duoc", "tren",
    "mat", "hoat", "nhom", "tiep", "dia", "nhap", "xuat", "muc", "lich", "hien", "gio",
}  # fmt: skip
# Vietnamese texts allowed to be plain ASCII: the link to the English page is its own name;
# "do" ("because of", before the parent's name) has no marks in Vietnamese either.
# "sau" ("after", before an outage's length) is plain Vietnamese too.
ASCII_VI = {("_WORDS", "lang_other"), ("_WORDS", "suppressed_by"), ("_MESSAGE_WORDS", "lasted")}
# Names and codes that stay as they are in Vietnamese text (protocols, the product, "token"
# and "SNMP trap" given in brackets after the Vietnamese words for staff who know them).
TECHNICAL = {"dns", "tls", "http", "https", "icmp", "snmp", "trap", "token", "netmon", "ok"}


def _words(text: str) -> list[str]:
    without_blanks = re.sub(r"\{[a-z_]*\}", " ", text)
    return re.findall(r"[^\W\d_]+", without_blanks.lower())


def test_vietnamese_carries_its_diacritics() -> None:
    unmarked = []
    plain = []
    for name, key, text in vietnamese():
        words = [w for w in _words(text) if w not in TECHNICAL]
        unmarked += [(name, key, w) for w in words if w in UNMARKED]
        if words and text.isascii() and (name, key) not in ASCII_VI:
            plain.append((name, key, text))
    assert unmarked == [] and plain == []


# English that has no business in a Vietnamese text: the states and words the page and the
# alerts use ("down", "target", "parent", ...), and the glue of an English sentence. Short
# words that are also Vietnamese ("do", "to", "an", "in", "con", "the") are not listed: "do"
# is the Vietnamese "because of" (suppressed_by), and "to" means "big".
ENGLISH = {
    "down", "up", "target", "targets", "parent", "recovering", "recovered", "maintenance",
    "warning", "critical", "suppressed", "held", "waiting", "failed", "error", "timeout",
    "timed", "alert", "alerts", "degraded", "since", "after", "and", "is", "of", "not", "loss",
    "packet", "expires", "days", "status", "result", "phase", "report", "outage", "outages",
    "ongoing", "until", "missing", "unreachable", "refused", "connection", "page", "for",
    "with", "from", "by", "at", "no", "yes", "none", "unknown", "time", "availability",
}  # fmt: skip


def test_no_english_left_in_vietnamese() -> None:
    leaks = [
        (name, key, word)
        for name, key, text in vietnamese()
        for word in _words(text)
        if word in ENGLISH
    ]
    assert leaks == []


def test_the_checks_above_can_fail() -> None:
    """The two checks on Vietnamese catch what they are for."""
    assert "mat" in _words("thiết bị cấp trên {parent} mat ket noi")
    assert "parent" in _words("thiết bị parent {parent} hỏng") and "parent" in ENGLISH
    assert "parent" not in _words("cấp trên {parent} hỏng")  # a blank is not a word


def test_local_time_is_ha_nois() -> None:
    at = datetime(2025, 10, 14, 1, 2, 3, tzinfo=UTC).timestamp()
    assert i18n.local_time(at, HA_NOI) == "14/10/2025 08:02:03"
    assert i18n.local_time(at, HA_NOI, seconds=False) == "14/10/2025 08:02"
    # 17:30 UTC is already the next day in Ha Noi (UTC+7, no summer time).
    evening = datetime(2025, 10, 13, 17, 30, tzinfo=UTC).timestamp()
    assert i18n.local_time(evening, HA_NOI) == "14/10/2025 00:30:00"
    july = datetime(2025, 7, 1, 0, 0, tzinfo=UTC).timestamp()
    assert i18n.local_time(july, HA_NOI) == "01/07/2025 07:00:00"
    assert i18n.local_time(None, HA_NOI) == ""


# Reason codes netmon derives itself (monitor/web/status.py), not returned by a probe.
DERIVED = {"packet_loss", "tls_expiring", "alert", "parent_down", "maintenance", "not_probed"}
# ... and by the ledger, for a circuit and a BGP peer (alerts/ledger.py).
DERIVED |= {"interface_down", "bgp_down"}
# How a probe names its reason: failure("code", ...), an ("code", detail) pair returned or
# kept for later, and an address that cannot be probed at all (ICMP).
REASON_PATTERNS = (
    r'failure\(\s*"([a-z_]+)"',
    r'return "([a-z_]+)", ',
    r'problem = \("([a-z_]+)"',
    r'_Unavailable\("([a-z_]+)"',
    # Web integrity (probes/integrity/probe.py): its fetch faults and its findings.
    r'_Fault\(\s*"([a-z_]+)"',
    r'findings\.append\(\s*\(\s*"([a-z_]+)"',
)


def probe_reasons() -> set[str]:
    sources = [*(REPO / "probes").rglob("*.py"), REPO / "monitor/runtime/scheduler.py"]
    found: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for pattern in REASON_PATTERNS:
            found |= set(re.findall(pattern, text))
    return found


def test_every_reason_a_probe_returns_is_worded() -> None:
    found = probe_reasons()
    # The search itself works: these come from http, tcp, dns, snmp, icmp and the scheduler.
    assert {
        "status", "content", "redirects", "connection", "banner", "rcode", "answer",
        "snmp_auth", "no_such_object", "icmp_not_permitted", "probe_error", "timeout",
    } <= found  # fmt: skip
    codes = set(i18n.reason_codes())
    assert found - codes == set()
    assert not found & DERIVED
    # And no word is kept for a reason nothing returns any more.
    assert codes - found - DERIVED == set()
    for code in codes:
        fields = {"loss": "3 %", "days": "5", "parent": "core", "window": "w", "summary": "s"}
        texts = [i18n.reason_text(code, lang, fields) for lang in i18n.LANGUAGES]
        assert all(t and "{" not in t for t in texts), code
        assert texts[0] != texts[1] or code == "alert", code  # the alert's own summary
    assert i18n.reason_text("brand_new", "en") == "failed: brand_new"
    assert i18n.reason_text("packet_loss", "vi") == "lỗi: packet_loss"  # a blank left empty
    assert i18n.reason_text(None, "vi") == ""


@pytest.mark.parametrize("kind", HOLD_KINDS)
def test_every_hold_kind_is_worded(kind: str) -> None:
    named = HoldReason(kind, "uplink-vnpt", "nang-cap")  # type: ignore[arg-type]
    for reason in (named, named.unnamed()):
        hold = reason.to_json()
        vi, en = (i18n.held_text(hold, lang) for lang in ("vi", "en"))
        assert vi and en and vi != en and not vi.isascii(), (vi, en)
        assert "{" not in vi + en and kind not in vi
        # No gap where an unnamed parent would have stood.
        assert [vi, en] == [" ".join(vi.split()), " ".join(en.split())]
        if kind == "maintenance":
            assert "nang-cap" in vi and "nang-cap" in en
        else:
            # The parent named when it may be, and no trace of it when it may not.
            assert ("uplink-vnpt" in vi) == ("uplink-vnpt" in en) == (reason.parent is not None)
        assert not [w for w in _words(vi) if w in ENGLISH or w in UNMARKED]


def test_held_text_edges() -> None:
    assert i18n.held_text(None, "vi") == i18n.held_text({}, "en") == ""
    assert i18n.held_text({"kind": "brand_new"}, "vi") == "brand_new"
    down = HoldReason("parent_down", "core").to_json()
    assert i18n.held_text(down, "vi") == "bị ẩn do thiết bị cấp trên core mất kết nối"
    assert i18n.held_text(down, "en") == "suppressed: parent core down"


def test_the_small_helpers() -> None:
    assert i18n.language("en", "vi") == "en"
    assert i18n.language("fr", "vi") == i18n.language(None, "vi") == "vi"
    assert i18n.language(None, "en") == "en"
    assert i18n.group_title("carrier", "vi") == "Nhà mạng và đường truyền"
    assert i18n.group_title("so-y-te", "en") == "so-y-te"
    groups = ["other", "zeta", "website", "alpha", "carrier"]
    assert sorted(groups, key=i18n.group_key) == ["carrier", "website", "alpha", "zeta", "other"]
    assert i18n.duration_text(3725, "vi") == "1 giờ 2 phút 5 giây"
    assert i18n.duration_text(90061, "en") == "1 d 1 h 1 min 1 s"
    assert i18n.duration_text(0.4, "vi") == "0 giây" and i18n.duration_text(None, "en") == ""
    assert set(i18n.STATE_WORDS["vi"]) >= {"up", "down", "degraded", "suppressed", "maintenance"}


# --------------------------------------------------------------------------- messages (issue 12)

NOW = datetime(2025, 10, 14, 1, 0, tzinfo=UTC).timestamp()


def _evidence(facts: dict[str, Any], focus: str | None, value: float = math.nan) -> list[str]:
    return [i18n.evidence_text(facts, focus, value, lang, HA_NOI, NOW) for lang in ("vi", "en")]


def test_evidence_is_worded_from_facts_in_each_language() -> None:
    echoes = {"probe_icmp_packets_sent": 5.0, "probe_icmp_packets_received": 0.0}
    assert _evidence({"reason": "timeout", "samples": echoes}, "probe_success") == [
        "không phản hồi (quá thời gian chờ); 0/5 gói tin được trả lời",
        "no answer (timed out); 0/5 echoes answered",
    ]
    lossy = {"probe_icmp_packets_sent": 5.0, "probe_icmp_packets_received": 3.0,
             "probe_icmp_packet_loss_ratio": 0.4}  # fmt: skip
    assert _evidence({"samples": lossy}, "probe_icmp_packet_loss_ratio") == [
        "3/5 gói tin được trả lời (mất 40 %)",
        "3/5 echoes answered (40 % lost)",
    ]
    status = {"reason": "status", "samples": {"probe_http_status_code": 503.0}}
    assert _evidence(status, "probe_success") == [
        "máy chủ trả mã HTTP 503",
        "the server answered HTTP 503",
    ]
    found = {"reason": "content", "found": ["Hacked by"], "excerpt": "Hacked by X", "samples": {}}
    assert _evidence(found, "probe_http_content_forbidden_match") == [
        "tìm thấy nội dung bị cấm: «Hacked by»; trích đoạn trang: «Hacked by X»",
        'forbidden text found: "Hacked by"; on the page: "Hacked by X"',
    ]
    missing = {"reason": "content", "missing": ["Chào mừng Đại hội"], "samples": {}}
    assert _evidence(missing, "probe_http_content_required_match") == [
        "không tìm thấy nội dung bắt buộc: «Chào mừng Đại hội»",
        'required text not found: "Chào mừng Đại hội"',
    ]
    assert _evidence(missing, "probe_success")[0] == (
        "không tìm thấy nội dung bắt buộc: «Chào mừng Đại hội»"
    )
    cert = {"samples": {"probe_ssl_earliest_cert_expiry": NOW + 5 * 86400 + 3 * 3600}}
    assert _evidence(cert, "probe_ssl_earliest_cert_expiry") == [
        "chứng thư số hết hạn lúc 19/10/2025 11:00 (còn 5 ngày 3 giờ)",
        "the certificate expires at 19/10/2025 11:00 (in 5 d 3 h)",
    ]
    assert _evidence({"samples": {"sysUpTime": 200.0}}, "probe_snmp_agent_restarted") == [
        "thiết bị chạy được 3 phút 20 giây kể từ lần khởi động",
        "the device has been up for 3 min 20 s",
    ]
    assert _evidence({"samples": {}}, "ifOperStatus", 7.0) == [
        "trạng thái cổng: lớp dưới ngừng hoạt động",
        "interface state: lower layer down",
    ]
    assert _evidence({"samples": {}}, "bgpPeerState", 1.0)[1] == "BGP session state: Idle"
    assert _evidence({"samples": {}}, "probe_icmp_rtt_seconds", 0.1804)[0] == (
        "độ trễ trung bình 180 ms"
    )
    assert _evidence({"samples": {}}, "sysUpTime") == ["", ""]  # nothing to say: nothing
    assert _evidence({"trap": "linkDown", "samples": {}}, "ifOperStatus") == [
        "thiết bị gửi thông báo linkDown (SNMP trap)",
        "the device sent linkDown (SNMP trap)",
    ]


def test_failures_say_unreachable_only_when_it_is() -> None:
    """The NOC's glossary: "mất kết nối" for reachability, "sự cố"/"không đạt" otherwise."""
    assert i18n.failure_text("timeout", "vi") == "mất kết nối"
    assert i18n.failure_text("refused", "en") == "is unreachable"
    assert i18n.failure_text("status", "vi") == "gặp sự cố: máy chủ trả mã HTTP lỗi"
    assert i18n.failure_text("content", "vi") == "không đạt: nội dung trang sai"
    assert i18n.failure_text("tls", "vi") == "gặp sự cố chứng thư số (TLS)"
    assert i18n.failure_text("snmp_auth", "vi") == "gặp sự cố: lỗi xác thực SNMP"
    assert i18n.failure_text("new_code", "en") == "is failing: failed: new_code"
    assert [i18n.severity_text(s, "vi") for s in ("critical", "warning", "info", "x")] == [
        "Nghiêm trọng", "Cảnh báo", "Thông tin", "x",
    ]  # fmt: skip


def test_display_names_fall_back_on_the_slug() -> None:
    names = i18n.DisplayNames(
        targets={"venue-viettel-uplink": {"vi": "Đường truyền Viettel", "en": "Viettel link"}},
        labels={
            "carrier": {"viettel": {"vi": "Viettel", "en": "Viettel"}},
            "group": {"venue": {"vi": "Hội trường 10-3", "en": "Hall 10-3"}},
        },
    )
    assert names.target("venue-viettel-uplink", "en") == "Viettel link"
    assert names.target("other", "vi") == "other"
    assert names.label("carrier", "viettel", "vi") == "Viettel"
    assert names.label("carrier", "vnpt", "vi") == "vnpt"
    assert names.label("group", "venue", "vi") == "Hội trường 10-3"  # [names.group] first
    assert names.label("group", "website", "vi") == "Trang thông tin điện tử"  # then the words
    assert names.label("direction", "in", "vi") == "chiều vào"  # netmon's own label values
    assert names.label("severity", "critical", "vi") == "Nghiêm trọng"
    assert names.label("phase", "none", "vi") == "ngoài giai đoạn kế hoạch"
    assert i18n.duration_text(3725, "vi", largest=2) == "1 giờ 2 phút"
    assert i18n.duration_text(3725, "en", largest=1) == "1 h"
    assert i18n.duration_text(59.6, "en", largest=2) == "1 min"
