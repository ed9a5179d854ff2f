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
vi = "{title} {failure}"
en = "{title} {failure}"
[rules.description]
vi = "Kiểm tra nguồn điện, đường truyền và thiết bị cấp trên của đối tượng."
en = "Check the power, the link and the devices upstream of it."

[[rules]]
name = "HighPacketLoss"
match = { kind = ["icmp"] }
expr = "probe_icmp_packet_loss_ratio > 0.2"
unless = "probe_success == 0"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{title}: mất gói {value}"
en = "{title}: {value} packet loss"
[rules.description]
vi = "Đường truyền chập chờn: kiểm tra chất lượng kênh với nhà mạng."
en = "The link is lossy: check its quality with the carrier."

[[rules]]
name = "HighLatency"
match = { kind = ["icmp"] }
expr = 'probe_icmp_rtt_seconds{stat="avg"} > 150ms'
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{title}: độ trễ cao ({value})"
en = "{title}: high latency ({value})"
[rules.description]
vi = "Độ trễ trung bình vượt 150 ms: kiểm tra tải và tuyến của đường truyền."
en = "The average round trip is above 150 ms: check the link's load and route."

[[rules]]
name = "HighJitter"
match = { kind = ["icmp"] }
expr = "probe_icmp_jitter_seconds > 30ms"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{title}: độ dao động trễ cao ({value})"
en = "{title}: high jitter ({value})"
[rules.description]
vi = "Thoại và truyền hình trực tuyến sẽ bị ảnh hưởng."
en = "Voice and video links will suffer."

[[rules]]
name = "CertificateExpiringSoon"
expr = "probe_ssl_earliest_cert_expiry - time() < 21d"
failures = 1
recoveries = 1
severity = "warning"
[rules.summary]
vi = "Chứng thư số của {title} sắp hết hạn (còn {value})"
en = "The certificate of {title} expires in {value}"
[rules.description]
vi = "Cần gia hạn chứng thư số trước khi trình duyệt báo lỗi."
en = "Renew the certificate before browsers refuse the site."

[[rules]]
name = "BannerMissing"
match = { kind = ["http"] }
expr = "probe_http_content_required_match == 0"
failures = 2
recoveries = 1
severity = "warning"
[rules.summary]
vi = "{title} không còn băng rôn chào mừng Đại hội"
en = "{title} no longer shows the congress banner"
[rules.description]
vi = "Trang thiếu nội dung bắt buộc: báo bộ phận quản trị nội dung của trang."
en = "The page lacks required content: tell the site's editors."

[[rules]]
name = "PageDefaced"
match = { kind = ["http"] }
expr = "probe_http_content_forbidden_match == 0"
failures = 1
recoveries = 1
severity = "critical"
[rules.summary]
vi = "{title} có dấu hiệu bị thay đổi giao diện (deface)"
en = "{title} looks defaced"
[rules.description]
vi = "Trang chứa nội dung bị cấm. Kiểm tra ngay và báo cơ quan chủ quản."
en = "The page serves forbidden content. Check it now and tell its owner."

[[rules]]
name = "SiteInjected"
match = { kind = ["web"] }
expr = "probe_web_injected == 1"
failures = 1
recoveries = 2
severity = "critical"
[rules.summary]
vi = "{title} bị chèn mã hoặc liên kết lạ (cờ bạc, chuyển hướng)"
en = "{title} has injected scripts or links (gambling, redirects)"
[rules.description]
vi = "Trang có mã, liên kết ẩn hoặc từ ngữ cờ bạc lạ: {detail}. Gỡ ngay, báo cơ quan chủ quản."
en = "Scripts, hidden links or gambling words not in its baseline: {detail}. Remove them now."

[[rules]]
name = "SiteDefaced"
match = { kind = ["web"] }
expr = "probe_web_defaced == 1"
failures = 2
recoveries = 2
severity = "critical"
[rules.summary]
vi = "{title} có dấu hiệu bị thay đổi giao diện (deface)"
en = "{title} looks defaced"
[rules.description]
vi = "Nội dung khác hẳn mẫu chuẩn: {detail}. Thay đổi hợp lệ: netmon baseline accept {target}."
en = "The text is unlike its baseline: {detail}. If legitimate: netmon baseline accept {target}."

[[rules]]
name = "DnsAnswerChanged"
match = { kind = ["dns"] }
expr = "probe_dns_answer_match == 0"
failures = 2
recoveries = 1
severity = "critical"
[rules.summary]
vi = "Bản ghi DNS của {title} đã thay đổi"
en = "The DNS answer for {title} changed"
[rules.description]
vi = "Có thể tên miền bị chiếm quyền hoặc cấu hình sai."
en = "The name may be hijacked or misconfigured."

# A secondary whose SOA serial is not the primary's for 30 minutes has missed the zone's last
# update (NOTIFY or the transfer failed); a shorter gap is the transfer under way.
[[rules]]
name = "DnsSerialMismatch"
match = { kind = ["dns"] }
expr = "probe_dns_serial_difference != 0"
for = "30m"
recoveries = 1
severity = "warning"
[rules.summary]
vi = "{title}: máy chủ DNS phụ {server} lệch số serial với máy chủ chính ({value})"
en = "{title}: secondary DNS server {server} is out of step with the primary ({value} serials)"
[rules.description]
vi = "Máy chủ phụ chưa nhận bản cập nhật vùng: kiểm tra NOTIFY và chuyển vùng (AXFR/IXFR)."
en = "The secondary has not taken the zone's last update: check NOTIFY and zone transfers."

# A port pages when it goes from up to down (not for every port that is not up: ports never
# seen up, notPresent, dormant, lowerLayerDown), and a circuit the settings name
# (snmp.circuits) from the first poll; either lasts until the port is up again.
[[rules]]
name = "InterfaceDown"
match = { kind = ["snmp"] }
expr = 'ifOperStatus{circuit!=""} != 1 or (ifOperStatus == 2 and prev(ifOperStatus) == 1)'
recover = "ifOperStatus == 1"
unless = "ifAdminStatus != 1"
failures = 1
recoveries = 1
severity = "warning"
traps = { fire = ["linkDown"], resolve = ["linkUp"] }
[rules.summary]
vi = "{title}: cổng {ifName} mất kết nối"
en = "{title}: interface {ifName} is down"
[rules.description]
vi = "Kiểm tra cáp, module quang và phía nhà mạng của kênh truyền."
en = "Check the cabling, the optics and the carrier's side of the circuit."

[[rules]]
name = "InterfaceErrors"
match = { kind = ["snmp"] }
expr = "rate(ifInErrors[5m]) > 1"
failures = 3
recoveries = 3
severity = "warning"
[rules.summary]
vi = "{title}: cổng {ifName} nhận gói lỗi ({value})"
en = "{title}: interface {ifName} receives errored packets ({value})"
[rules.description]
vi = "Kiểm tra cáp và module quang."
en = "Check the cabling and the optics."

[[rules]]
name = "LinkSaturated"
match = { kind = ["snmp"] }
expr = "probe_snmp_if_utilization_ratio > 0.9"
for = "5m"
recoveries = 2
severity = "warning"
[rules.summary]
vi = "{title}: cổng {ifName} quá tải ({direction}, {value})"
en = "{title}: interface {ifName} saturated ({direction}, {value})"
[rules.description]
vi = "Băng thông gần hết: xem lưu lượng và báo nhà mạng nếu cần nâng cấp kênh."
en = "The capacity is nearly used up: look at the traffic, ask the carrier for more."

# A restart seen happening: sysUpTime went back since the last poll (not a TimeTicks wrap
# after 497 days), or a coldStart/warmStart trap; shown until the agent has run 10 minutes.
# An agent that is young when netmon first meets it is not a restart.
[[rules]]
name = "AgentRestarted"
match = { kind = ["snmp"] }
expr = "sysUpTime < prev(sysUpTime) and prev(sysUpTime) < 497d"
recover = "sysUpTime >= 10m"
failures = 1
recoveries = 1
severity = "info"
traps = { fire = ["coldStart", "warmStart"] }
[rules.summary]
vi = "{title} vừa khởi động lại"
en = "{title} restarted"
[rules.description]
vi = "Thiết bị đã khởi động lại: kiểm tra nguồn điện và nhật ký của thiết bị."
en = "The device restarted: check its power and its log."

[[rules]]
name = "BgpPeerDown"
match = { kind = ["snmp"] }
expr = "bgpPeerState != 6"
failures = 2
recoveries = 1
severity = "critical"
traps = { fire = ["bgpBackwardTransition"], resolve = ["bgpEstablished"] }
[rules.summary]
vi = "{title}: phiên BGP với {peer} bị mất"
en = "{title}: the BGP session with {peer} is down"
[rules.description]
vi = "Phiên BGP không ở trạng thái Established: kiểm tra kênh truyền và phía nhà mạng."
en = "The BGP session is not Established: check the circuit and the carrier's side."

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

# A PBX or a carrier's SIP trunk that does not answer OPTIONS as it should, or an extension
# that cannot register (issue 16): the venue's phones and hotlines are cut. The summary does
# not use {failure}, whose words for "status" are HTTP's; the description quotes the probe.
[[rules]]
name = "SipTrunkDown"
match = { kind = ["sip"] }
expr = "probe_success == 0"
failures = 2
recoveries = 2
severity = "critical"
[rules.summary]
vi = "Tổng đài / trung kế SIP {title} không hoạt động"
en = "SIP trunk or PBX {title} is down"
[rules.description]
vi = "Điện thoại và đường dây nóng qua {title} có thể không gọi được: {detail}"
en = "Phones and hotlines through {title} may be cut: {detail}"

# A livestream whose playlist stopped moving still answers: the encoder or its feed stalled,
# not the server (kind "stream"; an ended audio stream says the same).
[[rules]]
name = "StreamStalled"
match = { kind = ["stream"] }
expr = 'probe_failure_info{reason="stalled"} == 1'
failures = 2
recoveries = 1
severity = "critical"
[rules.summary]
vi = "{title}: luồng phát trực tiếp bị đứng"
en = "{title}: the live stream is stalled"
[rules.description]
vi = "Luồng không chạy từ {since}: kiểm tra bộ mã hóa và nguồn tín hiệu. {detail}"
en = "The stream has not moved since {since}: check the encoder and its feed. {detail}"

# The route to a target moved (kind "path", issue 18): against the learnt paths or the
# settings' expected_path. The description quotes the probe: the old and new first differing
# hop with their display names, and the path now. The target still answers: not "down".
[[rules]]
name = "PathChanged"
match = { kind = ["path"] }
expr = 'probe_failure_info{reason="path_changed"} == 1'
failures = 1
recoveries = 1
severity = "warning"
[rules.summary]
vi = "Đường đi tới {title} đã thay đổi"
en = "The path to {title} changed"
[rules.description]
vi = "Tuyến mạng tới {title} đổi lúc {since}: {detail}"
en = "The route to {title} changed at {since}: {detail}"
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

# An injected or defaced site (kind "web") answers: its probe fails because of what it serves.
[[inhibit]]
source_match = { alertname = ["SiteInjected", "SiteDefaced"] }
target_match = { alertname = ["TargetDown"] }
equal = ["target"]

# A SIP trunk or PBX that fails: SipTrunkDown says so, not a generic "down" as well.
[[inhibit]]
source_match = { alertname = ["SipTrunkDown"] }
target_match = { alertname = ["TargetDown"] }
equal = ["target"]

# A stalled stream answers: one page says it is stalled, not down.
[[inhibit]]
source_match = { alertname = ["StreamStalled"] }
target_match = { alertname = ["TargetDown"] }
equal = ["target"]

# A changed path still reaches its target: one page says the route moved, not down.
[[inhibit]]
source_match = { alertname = ["PathChanged"] }
target_match = { alertname = ["TargetDown"] }
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
