"""The metric catalogue: every family the probes and the scheduler expose, with its type, help
and labels.

/metrics (``monitor.runtime.metrics``), the series labels alert templates may use
(``alerts.rules``) and the dashboards' tests read this one list; each probe module names its own
kind's families as ``FAMILIES`` (``probes.icmp.FAMILIES`` is ``ICMP``), and
tests/probes/test_catalogue.py checks that every sample a probe emits is declared here with
exactly its labels. The families live here rather than in the probe modules because the rules
and the settings sit below the runtime and must not import a probe implementation (aiohttp,
dnspython, the SNMP client) to read them.
"""

from __future__ import annotations

from collections.abc import Mapping

from probes.base import Family

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "DNS",
    "HTTP",
    "ICMP",
    "PATH",
    "SCHEDULER",
    "SIP",
    "SNMP",
    "STREAM",
    "TCP",
    "WEB",
]

# IF-MIB's per-interface labels, as snmp_exporter's if_mib module sets them, then netmon's
# ``circuit``: the name of the target's ``snmp.circuits`` entry the interface is, else "" (which
# Prometheus reads as no label: an interface that is no circuit keeps its series).
_IF = ("ifIndex", "ifName", "ifDescr", "ifAlias", "circuit")


# Every family, in /metrics' exposition order. First DESIGN.md's table, in the order /metrics
# has always had (the scheduler's, ICMP, HTTP, DNS, SNMP); then blackbox_exporter's further
# figures, which /metrics has always put after those.
CATALOGUE: tuple[Family, ...] = (
    # The scheduler's, for every kind: it times the probe and turns its result into these.
    Family("probe_success", "gauge", "Whether the last probe succeeded (1) or not (0)."),
    Family("probe_duration_seconds", "gauge", "How long the last probe took, in seconds."),
    Family(
        "probe_failure_info",
        "gauge",
        "Why the last probe failed (absent when it succeeded).",
        ("reason",),
    ),
    Family("probe_icmp_packets_sent", "gauge", "ICMP echo requests sent by the last probe."),
    Family("probe_icmp_packets_received", "gauge", "ICMP echo replies received by the last probe."),
    Family(
        "probe_icmp_packet_loss_ratio", "gauge", "Share of echoes lost in the last probe (0..1)."
    ),
    Family(
        "probe_icmp_rtt_seconds", "gauge", "Round-trip time of the last probe's echoes.", ("stat",)
    ),
    Family(
        "probe_icmp_jitter_seconds",
        "gauge",
        "Mean absolute difference of consecutive round-trip times.",
    ),
    Family(
        "probe_http_status_code", "gauge", "HTTP status code of the last probe's final response."
    ),
    Family(
        "probe_http_duration_seconds",
        "gauge",
        "Duration of each phase of the last HTTP probe.",
        ("phase",),
    ),
    Family(
        "probe_ssl_earliest_cert_expiry",
        "gauge",
        "Earliest notAfter of the peer's certificate chain, unix seconds.",
    ),
    Family(
        "probe_http_content_match",
        "gauge",
        "Required content present and forbidden content absent (1) or not (0).",
    ),
    Family(
        "probe_http_content_required_match",
        "gauge",
        "Every required text (body_contains, the congress banner) is present (1) or not (0).",
    ),
    Family(
        "probe_http_content_forbidden_match",
        "gauge",
        "No forbidden text (body_absent, defacement words) is present (1) or one is (0).",
    ),
    Family("probe_dns_lookup_time_seconds", "gauge", "How long the DNS query took."),
    Family(
        "probe_dns_answer_match", "gauge", "The DNS answer equals the expected set (1) or not (0)."
    ),
    # SNMP, named as snmp_exporter's if_mib module names them; the octet, error and discard
    # counters are counters, as there.
    Family(
        "ifOperStatus", "gauge", "The current operational state of the interface (IF-MIB).", _IF
    ),
    Family("ifAdminStatus", "gauge", "The desired state of the interface (IF-MIB).", _IF),
    Family("ifHCInOctets", "counter", "Octets received on the interface, 64-bit (IF-MIB).", _IF),
    Family(
        "ifHCOutOctets",
        "counter",
        "Octets transmitted out of the interface, 64-bit (IF-MIB).",
        _IF,
    ),
    Family("ifInOctets", "counter", "Octets received on the interface, 32-bit (IF-MIB).", _IF),
    Family(
        "ifOutOctets", "counter", "Octets transmitted out of the interface, 32-bit (IF-MIB).", _IF
    ),
    Family("ifInErrors", "counter", "Inbound packets with errors (IF-MIB).", _IF),
    Family(
        "ifOutErrors",
        "counter",
        "Outbound packets that could not be sent for errors (IF-MIB).",
        _IF,
    ),
    Family("ifInDiscards", "counter", "Inbound packets discarded without an error (IF-MIB).", _IF),
    Family(
        "ifOutDiscards", "counter", "Outbound packets discarded without an error (IF-MIB).", _IF
    ),
    Family("ifHighSpeed", "gauge", "The interface's current bandwidth in Mbit/s (IF-MIB).", _IF),
    Family("sysUpTime", "gauge", "Seconds since the SNMP agent was (re)initialized (SNMPv2-MIB)."),
    Family(
        "sysName", "gauge", "The agent's sysName, as a label; always 1 (SNMPv2-MIB).", ("sysName",)
    ),
    Family(
        "bgpPeerState",
        "gauge",
        "BGP peer state (BGP4-MIB, or the vendor's peer table: CISCO-BGP4-MIB, "
        "BGP4-V2-MIB-JUNIPER, ARISTA-BGP4V2-MIB, HUAWEI-BGP-VPN-MIB): 1 idle, 2 connect, "
        "3 active, 4 opensent, 5 openconfirm, 6 established.",
        ("peer", "afi", "vrf"),
    ),
    Family(
        "probe_snmp_bgp_table_present",
        "gauge",
        "With bgp = true: whether the agent lists BGP peers in any peer table it has (1) or "
        "none (0).",
    ),
    Family(
        "probe_snmp_bgp_peers",
        "gauge",
        "With bgp = true: the BGP peers the agent lists, and the table read (mib).",
        ("mib",),
    ),
    Family(
        "probe_snmp_if_utilization_ratio",
        "gauge",
        "Interface utilization between the last two polls, by direction (0..1 of its speed).",
        (*_IF, "direction"),
    ),
    Family(
        "probe_snmp_agent_restarted",
        "gauge",
        "1 when the agent restarted since the previous poll (sysUpTime went back, or a "
        "coldStart/warmStart trap), else 0.",
    ),
    Family(
        "probe_snmp_last_restart_timestamp_seconds",
        "gauge",
        "When netmon last saw the agent restart, unix seconds.",
    ),
    Family(
        "probe_snmp_oid_value",
        "gauge",
        "The value of an extra numeric OID of the target.",
        ("oid",),
    ),
    Family(
        "probe_snmp_oid_info",
        "gauge",
        "An extra OID of the target whose value is a string (sysDescr, sysLocation, a serial "
        "number), as a label; always 1.",
        ("oid", "value"),
    ),
    # Blackbox_exporter's further HTTP, DNS and TCP figures (its names and meanings).
    Family("probe_http_redirects", "gauge", "The number of redirects the probe followed."),
    Family("probe_http_content_length", "gauge", "The response's Content-Length (-1: none)."),
    Family(
        "probe_http_uncompressed_body_length",
        "gauge",
        "Bytes of the response body read, after decompression.",
    ),
    Family("probe_http_version", "gauge", "The HTTP version of the response (1.1, 2)."),
    Family("probe_http_ssl", "gauge", "Whether the final request used TLS (1) or not (0)."),
    Family("probe_dns_rcode", "gauge", "The response code of the DNS answer (0: NOERROR)."),
    Family("probe_dns_answer_rrs", "gauge", "Records in the answer section."),
    Family("probe_dns_authority_rrs", "gauge", "Records in the authority section."),
    Family("probe_dns_additional_rrs", "gauge", "Records in the additional section."),
    Family(
        "probe_tcp_duration_seconds",
        "gauge",
        "Seconds of each phase of the TCP probe (resolve, connect, tls, banner, dialogue, "
        "starttls).",
        ("phase",),
    ),
    Family("probe_tls_version_info", "gauge", "The TLS version the connection used.", ("version",)),
    Family(
        "probe_tls_cipher_info",
        "gauge",
        "The TLS cipher suite the connection negotiated (IANA name, as blackbox_exporter).",
        ("cipher",),
    ),
    # Web integrity (kind "web", probes/integrity/): the page against its learnt baseline.
    Family(
        "probe_web_baseline_ready",
        "gauge",
        "The site's integrity baseline is learnt (1) or still learning (0).",
    ),
    Family(
        "probe_web_new_script_domains",
        "gauge",
        "External script, iframe, form or refresh domains the baseline does not know.",
    ),
    Family(
        "probe_web_new_link_domains", "gauge", "Outbound link domains the baseline does not know."
    ),
    Family(
        "probe_web_hidden_links",
        "gauge",
        "Links hidden by CSS (display:none, off-screen, font-size 0) to unknown domains.",
    ),
    Family(
        "probe_web_spam_words",
        "gauge",
        "Distinct gambling/SEO-spam words on the page's visible and hidden text.",
    ),
    Family(
        "probe_web_text_similarity",
        "gauge",
        "Similarity of the page's visible text to the baseline's (simhash, 0..1).",
    ),
    Family("probe_web_title_changed", "gauge", "The page's title is not the baseline's (1)."),
    Family(
        "probe_web_cloaked",
        "gauge",
        "Search engines' crawlers get another page, redirect or links than people (1).",
    ),
    Family(
        "probe_web_injected",
        "gauge",
        "Any injection found: new script domain, cloaking, hidden links, new links, spam (1).",
    ),
    Family(
        "probe_web_defaced",
        "gauge",
        "The visible text is unlike the baseline's, below min_similarity (1).",
    ),
    Family(
        "probe_web_analysis_seconds",
        "gauge",
        "CPU seconds the last probe spent parsing and analysing the page(s).",
    ),
    # SIP (probes/sip.py): an OPTIONS ping, optionally a REGISTER.
    Family(
        "probe_sip_status_code", "gauge", "SIP status code of the last OPTIONS' final response."
    ),
    Family(
        "probe_sip_duration_seconds",
        "gauge",
        "Seconds of each phase of the SIP probe (resolve, connect, tls, options, register).",
        ("phase",),
    ),
    Family(
        "probe_sip_info",
        "gauge",
        "The SIP server's Server (else User-Agent) header, as a label; always 1.",
        ("server",),
    ),
    Family(
        "probe_sip_register_success",
        "gauge",
        "Whether the extension registered (1) or not (0); its binding is removed at once.",
    ),
    # Issue 15: blackbox's dialogue, DNS and address figures (its names and meanings).
    Family(
        "probe_failed_due_to_regex",
        "gauge",
        "Whether the probe failed on a regular expression (a dialogue line, a DNS record, an HTTP"
        " header or body) (1) or not (0).",
    ),
    Family(
        "probe_failed_due_to_bytes",
        "gauge",
        "Whether the probe failed because the expected bytes did not come (1) or not (0).",
    ),
    Family(
        "probe_expect_info",
        "gauge",
        "A label of a tcp.query_response step, filled from its expect's match; always 1.",
        ("step", "name", "value"),
    ),
    Family("probe_ip_protocol", "gauge", "The IP version the probe used (4 or 6)."),
    Family(
        "probe_ip_addr_hash",
        "gauge",
        "FNV-1a hash of the probed IP address: a change of value is a change of address.",
    ),
    Family(
        "probe_dns_duration_seconds",
        "gauge",
        "Seconds of each phase of the DNS probe (resolve, connect, request).",
        ("phase",),
    ),
    Family(
        "probe_dns_query_succeeded",
        "gauge",
        "Whether the DNS server answered the query (1), whatever the rcode, or not (0).",
    ),
    Family("probe_dns_serial", "gauge", "The serial of the zone's SOA record in the answer."),
    Family(
        "probe_dns_secondary_serial",
        "gauge",
        "The SOA serial a secondary server (dns.secondaries) answers.",
        ("server",),
    ),
    Family(
        "probe_dns_serial_difference",
        "gauge",
        "The target's SOA serial minus a secondary's, in serial arithmetic (0: in step).",
        ("server",),
    ),
    # The stream probe's (kind "stream": HLS and Icecast/HTTP audio).
    Family(
        "probe_stream_media_sequence",
        "gauge",
        "EXT-X-MEDIA-SEQUENCE of the HLS media playlist at its last fetch.",
    ),
    Family(
        "probe_stream_segment_age_seconds",
        "gauge",
        "Seconds since the newest HLS segment ended (program date-time, else Last-Modified).",
    ),
    Family("probe_stream_bitrate_bps", "gauge", "Measured bitrate of the stream, bits per second."),
    Family(
        "probe_stream_declared_bitrate_bps",
        "gauge",
        "Bitrate the server declares (HLS BANDWIDTH, icy-br), bits per second.",
    ),
    Family(
        "probe_stream_segment_download_seconds",
        "gauge",
        "Seconds to download the newest HLS segment.",
    ),
    Family(
        "probe_stream_segment_duration_seconds",
        "gauge",
        "Duration of the newest HLS segment (its EXTINF), seconds.",
    ),
    Family(
        "probe_stream_info",
        "gauge",
        "The stream's name (icy-name, variant) and content type.",
        ("name", "content_type"),
    ),
    # The path probe's (kind "path": a traceroute, probes/path.py).
    Family(
        "probe_path_hops",
        "gauge",
        "Hops to the destination, or to the last hop that answered when it is not reached.",
    ),
    Family(
        "probe_path_hash",
        "gauge",
        "CRC-32 of the path's responding addresses in hop order: a change of value is a new path.",
    ),
    Family(
        "probe_path_hop_rtt_seconds",
        "gauge",
        "Mean RTT of the echoes a hop answered (its time-exceeded errors), seconds.",
        ("hop", "address"),
    ),
    Family(
        "probe_path_hop_loss_ratio",
        "gauge",
        "Share of the hop's echoes (one TTL) that no address answered.",
        ("hop", "address"),
    ),
    # blackbox_exporter's further TLS and HTTP figures (issue 15).
    Family(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "gauge",
        "Earliest notAfter over the verified certificate chain, unix seconds.",
    ),
    Family(
        "probe_ssl_last_chain_info",
        "gauge",
        "The leaf certificate of the final TLS connection; always 1.",
        ("fingerprint_sha256", "subject", "issuer", "subjectalternative", "serialnumber"),
    ),
    Family(
        "probe_http_last_modified_timestamp_seconds",
        "gauge",
        "The response's Last-Modified header, unix seconds.",
    ),
    Family(
        "probe_failed_due_to_json",
        "gauge",
        "The probe failed on a body_json check (1) or not (0).",
    ),
)

BY_NAME: Mapping[str, Family] = {family.name: family for family in CATALOGUE}


def _families(*names: str) -> tuple[Family, ...]:
    return tuple(BY_NAME[name] for name in names)


# Each kind's families, in the order its probe emits them; the scheduler's come on top of each.
SCHEDULER = _families("probe_success", "probe_duration_seconds", "probe_failure_info")
ICMP = _families(
    "probe_icmp_packets_sent",
    "probe_icmp_packets_received",
    "probe_icmp_packet_loss_ratio",
    "probe_icmp_rtt_seconds",
    "probe_icmp_jitter_seconds",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
)
HTTP = _families(
    "probe_http_duration_seconds",
    "probe_http_status_code",
    "probe_http_redirects",
    "probe_http_content_length",
    "probe_http_uncompressed_body_length",
    "probe_http_version",
    "probe_http_ssl",
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_ssl_last_chain_info",
    "probe_tls_version_info",
    "probe_tls_cipher_info",
    "probe_http_last_modified_timestamp_seconds",
    "probe_http_content_match",
    "probe_http_content_required_match",
    "probe_http_content_forbidden_match",
    "probe_failed_due_to_json",
    "probe_failed_due_to_regex",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
)
DNS = _families(
    "probe_dns_lookup_time_seconds",
    "probe_dns_rcode",
    "probe_dns_answer_rrs",
    "probe_dns_authority_rrs",
    "probe_dns_additional_rrs",
    "probe_dns_answer_match",
    "probe_dns_duration_seconds",
    "probe_dns_query_succeeded",
    "probe_dns_serial",
    "probe_dns_secondary_serial",
    "probe_dns_serial_difference",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
)
TCP = _families(
    "probe_tcp_duration_seconds",
    "probe_tls_version_info",
    "probe_tls_cipher_info",
    "probe_ssl_earliest_cert_expiry",
    "probe_failed_due_to_regex",
    "probe_failed_due_to_bytes",
    "probe_expect_info",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
)
SNMP = _families(
    "sysUpTime",
    "sysName",
    "probe_snmp_agent_restarted",
    "probe_snmp_last_restart_timestamp_seconds",
    "ifOperStatus",
    "ifAdminStatus",
    "ifInErrors",
    "ifOutErrors",
    "ifInDiscards",
    "ifOutDiscards",
    "ifHighSpeed",
    "ifHCInOctets",
    "ifHCOutOctets",
    "ifInOctets",
    "ifOutOctets",
    "probe_snmp_if_utilization_ratio",
    "bgpPeerState",
    "probe_snmp_bgp_table_present",
    "probe_snmp_bgp_peers",
    "probe_snmp_oid_value",
    "probe_snmp_oid_info",
)
SIP = _families(
    "probe_sip_duration_seconds",
    "probe_sip_status_code",
    "probe_sip_info",
    "probe_sip_register_success",
    "probe_tls_version_info",
    "probe_ssl_earliest_cert_expiry",
)
STREAM = _families(
    "probe_stream_media_sequence",
    "probe_stream_segment_age_seconds",
    "probe_stream_bitrate_bps",
    "probe_stream_declared_bitrate_bps",
    "probe_stream_segment_download_seconds",
    "probe_stream_segment_duration_seconds",
    "probe_stream_info",
)
PATH = _families(
    "probe_path_hops",
    "probe_path_hash",
    "probe_path_hop_rtt_seconds",
    "probe_path_hop_loss_ratio",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
)
WEB = _families(
    "probe_http_status_code",
    "probe_web_baseline_ready",
    "probe_web_new_script_domains",
    "probe_web_new_link_domains",
    "probe_web_hidden_links",
    "probe_web_spam_words",
    "probe_web_cloaked",
    "probe_web_title_changed",
    "probe_web_injected",
    "probe_web_defaced",
    "probe_web_text_similarity",
    "probe_web_analysis_seconds",
)
