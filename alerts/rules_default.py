"""The shipped rule set, written in the same TOML as ``[[alerts.rules]]`` in settings.

Any rule can be switched off (``enabled = false``) or changed key by key from settings by
naming it; copying one into settings.toml and editing it is the way to write a new one.
Severities are the calm defaults between congresses; the shipped settings.toml raises them for
the congress phases.
"""

from __future__ import annotations

import tomllib
from typing import Any

SHIPPED_RULES_TOML = r"""
[[rules]]
name = "TargetDown"
expr = "probe_success == 0"
failures = 2
recoveries = 2
severity = "warning"
[rules.summary]
vi = "{target} mất kết nối"
en = "{target} is down"
[rules.description]
vi = "{target} ({group}) không đạt từ {since}: {detail}"
en = "{target} ({group}) has failed since {since}: {detail}"

[[rules]]
name = "HighPacketLoss"
match = { kind = ["icmp"] }
expr = "probe_icmp_packet_loss_ratio > 0.2"
unless = "probe_success == 0"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{target} mất gói {value}"
en = "{target} loses {value} of packets"
[rules.description]
vi = "Tỷ lệ mất gói tới {target} là {value} từ {since}."
en = "Packet loss to {target} has been {value} since {since}."

[[rules]]
name = "HighLatency"
match = { kind = ["icmp"] }
expr = 'probe_icmp_rtt_seconds{stat="avg"} > 150ms'
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{target} trễ cao: {value}"
en = "{target} latency is high: {value}"
[rules.description]
vi = "Độ trễ trung bình tới {target} là {value} từ {since}."
en = "Average round-trip time to {target} has been {value} since {since}."

[[rules]]
name = "HighJitter"
match = { kind = ["icmp"] }
expr = "probe_icmp_jitter_seconds > 30ms"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{target} dao động trễ cao: {value}"
en = "{target} jitter is high: {value}"
[rules.description]
vi = "Độ dao động trễ tới {target} là {value}: thoại, truyền hình trực tuyến bị ảnh hưởng."
en = "Jitter to {target} is {value}: voice and video links will suffer."

[[rules]]
name = "CertificateExpiringSoon"
expr = "probe_ssl_earliest_cert_expiry - time() < 21d"
failures = 1
recoveries = 1
severity = "warning"
[rules.summary]
vi = "Chứng thư số của {target} sắp hết hạn (còn {value})"
en = "{target}'s certificate expires in {value}"
[rules.description]
vi = "Chứng thư TLS của {target} hết hạn sau {value}: cần gia hạn trước khi trình duyệt báo lỗi."
en = "The TLS certificate of {target} expires in {value}: renew it before browsers refuse the site."

[[rules]]
name = "BannerMissing"
match = { kind = ["http"] }
expr = "probe_http_content_required_match == 0"
failures = 2
recoveries = 1
severity = "warning"
[rules.summary]
vi = "{target} không còn băng rôn chào mừng Đại hội"
en = "{target} no longer shows the congress banner"
[rules.description]
vi = "Trang {target} thiếu nội dung bắt buộc: {detail}"
en = "{target} lacks required content: {detail}"

[[rules]]
name = "PageDefaced"
match = { kind = ["http"] }
expr = "probe_http_content_forbidden_match == 0"
failures = 1
recoveries = 1
severity = "critical"
[rules.summary]
vi = "{target} có dấu hiệu bị thay đổi giao diện (deface)"
en = "{target} looks defaced"
[rules.description]
vi = "Trang {target} chứa nội dung bị cấm: {detail}. Kiểm tra ngay và báo cơ quan chủ quản."
en = "{target} serves forbidden content: {detail}. Check it now and tell its owner."

[[rules]]
name = "DnsAnswerChanged"
match = { kind = ["dns"] }
expr = "probe_dns_answer_match == 0"
failures = 2
recoveries = 1
severity = "critical"
[rules.summary]
vi = "Bản ghi DNS của {target} đã thay đổi"
en = "DNS answer for {target} changed"
[rules.description]
vi = "{detail}. Có thể tên miền bị chiếm quyền hoặc cấu hình sai."
en = "{detail}. The name may be hijacked or misconfigured."

[[rules]]
name = "InterfaceDown"
match = { kind = ["snmp"] }
expr = "ifOperStatus != 1"
unless = "ifAdminStatus != 1"
failures = 1
recoveries = 1
severity = "warning"
traps = { fire = ["linkDown"], resolve = ["linkUp"] }
[rules.summary]
vi = "{target}: cổng {ifName} mất kết nối"
en = "{target}: interface {ifName} is down"
[rules.description]
vi = "Cổng {ifName} ({ifAlias}) của {target} không hoạt động từ {since}."
en = "Interface {ifName} ({ifAlias}) of {target} has been down since {since}."

[[rules]]
name = "InterfaceErrors"
match = { kind = ["snmp"] }
expr = "rate(ifInErrors[5m]) > 1"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{target}: cổng {ifName} nhận lỗi {value}"
en = "{target}: interface {ifName} receives {value} errors"
[rules.description]
vi = "Cổng {ifName} của {target} nhận gói lỗi ({value}): kiểm tra cáp, module quang."
en = "Interface {ifName} of {target} receives errored packets ({value}): check cabling and optics."

[[rules]]
name = "LinkSaturated"
match = { kind = ["snmp"] }
expr = "probe_snmp_if_utilization_ratio > 0.9"
for = "5m"
recoveries = 2
severity = "warning"
[rules.summary]
vi = "{target}: cổng {ifName} quá tải ({direction}, {value})"
en = "{target}: interface {ifName} saturated ({direction}, {value})"
[rules.description]
vi = "Cổng {ifName} của {target} dùng {value} băng thông chiều {direction} từ {since}."
en = "Interface {ifName} of {target} has used {value} of its {direction} capacity since {since}."

[[rules]]
name = "AgentRestarted"
match = { kind = ["snmp"] }
expr = "sysUpTime < 10m"
failures = 1
recoveries = 1
severity = "info"
traps = { fire = ["coldStart", "warmStart"] }
[rules.summary]
vi = "{target} vừa khởi động lại"
en = "{target} restarted"
[rules.description]
vi = "{target} đã khởi động lại (thời gian chạy {value})."
en = "{target} has restarted (up for {value})."

[[rules]]
name = "BgpPeerDown"
match = { kind = ["snmp"] }
expr = "bgpPeerState != 6"
failures = 2
recoveries = 1
severity = "critical"
traps = { fire = ["bgpBackwardTransition"], resolve = ["bgpEstablished"] }
[rules.summary]
vi = "{target}: phiên BGP với {peer} bị mất"
en = "{target}: BGP session with {peer} is down"
[rules.description]
vi = "Phiên BGP từ {target} tới {peer} không ở trạng thái Established từ {since}."
en = "The BGP session from {target} to {peer} has not been Established since {since}."

[[rules]]
name = "Watchdog"
expr = "time() > 0"
failures = 1
recoveries = 1
severity = "none"
[rules.summary]
vi = "netmon đang hoạt động"
en = "netmon is alive"
[rules.description]
vi = "Cảnh báo luôn bật: khi Alertmanager không còn nhận được nó, netmon đã ngừng."
en = "Always firing: when Alertmanager stops receiving it, netmon has stopped."
"""


def shipped_rules() -> list[dict[str, Any]]:
    """The shipped rules as settings tables (fresh copies)."""
    rules: list[dict[str, Any]] = tomllib.loads(SHIPPED_RULES_TOML)["rules"]
    return rules + shipped_incident_rules()


# --------------------------------------------------------------------------- incidents
# One incident, one page (issue 12). ``HttpStatusError`` says what a site answering the wrong
# HTTP status does (TargetDown fires on any failed probe, so alone it would call a 503 "down");
# the inhibit rules below let the alert that explains an incident mute its symptoms on the
# same target. Written as [[alerts.inhibit]] in settings; ``shipped_inhibit = false`` drops them.

SHIPPED_INCIDENT_RULES_TOML = r"""
[[rules]]
name = "HttpStatusError"
match = { kind = ["http"] }
expr = 'probe_failure_info{reason="status"} == 1'
failures = 2
recoveries = 1
severity = "warning"
[rules.summary]
vi = "{target} trả lời mã lỗi HTTP"
en = "{target} answers with an HTTP error"
[rules.description]
vi = "{target} ({group}) trả lời sai mã trạng thái từ {since}: {detail}"
en = "{target} ({group}) has answered with a wrong status since {since}: {detail}"
"""

SHIPPED_INHIBIT_TOML = r"""
# A site that answers with an error status: that is the page, not "down" nor "banner missing".
[[inhibit]]
source_match = { alertname = ["HttpStatusError"] }
target_match = { alertname = ["TargetDown", "BannerMissing"] }
equal = ["target"]

# A defaced page: the banner is gone and the probe fails because of it; one page says so.
[[inhibit]]
source_match = { alertname = ["PageDefaced"] }
target_match = { alertname = ["TargetDown", "BannerMissing"] }
equal = ["target"]

# The banner is gone from a page that answers: the site is not down.
[[inhibit]]
source_match = { alertname = ["BannerMissing"] }
target_match = { alertname = ["TargetDown"] }
equal = ["target"]
"""


def shipped_incident_rules() -> list[dict[str, Any]]:
    """The shipped rules that name an incident's cause (fresh copies)."""
    rules: list[dict[str, Any]] = tomllib.loads(SHIPPED_INCIDENT_RULES_TOML)["rules"]
    return rules


def shipped_inhibit_rules() -> list[dict[str, Any]]:
    """The shipped inhibit rules as ``[[alerts.inhibit]]`` tables (fresh copies)."""
    rules: list[dict[str, Any]] = tomllib.loads(SHIPPED_INHIBIT_TOML)["inhibit"]
    return rules
