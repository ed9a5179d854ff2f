"""What the lab simulates: a small province on loopback, as data.

Every address here is in 127.0.0.0/8. The names are the ones the shipped ``settings.toml``
uses for its targets, so ``netmon lab fail NAME`` names what the status page shows.

- websites: aiohttp on 127.0.1.N:8080, one over TLS on 8443; generic extra sites for the
  benchmarks on 127.0.5.x, 127.0.6.x, ... (``extra_sites(n)``);
- the lab zone's DNS server on 127.0.1.53:5353;
- an SMTP-like banner server on 127.0.1.25:2525;
- ICMP hosts on 127.0.2.x: the kernel answers ping on all of 127/8, faults are nftables rules;
- the venue's PBX (SIP over UDP, ``monitor/lab/sip.py``) on 127.0.1.60:5060;
- SNMP agents (pure Python, ``monitor/lab/snmp.py``) for the carriers' edge routers and the
  venue's router and access switch on 127.0.3.x, UDP port 1161 (no root needed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = [
    "BANNER",
    "DNS_CHANGED_ADDRESS",
    "DNS_HOST",
    "DNS_MODES",
    "DNS_NAME",
    "DNS_PORT",
    "ICMP_HOSTS",
    "ICMP_MODES",
    "SIP_HOST",
    "SIP_MODES",
    "SIP_NAME",
    "SIP_PASSWORD",
    "SIP_PORT",
    "SIP_TITLE",
    "SIP_USER",
    "SITES",
    "SMTP_BANNER",
    "SMTP_HOST",
    "SMTP_MODES",
    "SMTP_NAME",
    "SMTP_PORT",
    "SNMP_COMMUNITY",
    "SNMP_DEVICES",
    "SNMP_MODES",
    "SNMP_PORT",
    "SNMP_TRAP_ADDRESS",
    "SNMP_TRAP_COMMUNITY",
    "SNMP_USERS",
    "STREAM_HOST",
    "STREAM_MODES",
    "STREAM_NAME",
    "STREAM_PORT",
    "STREAM_TITLE",
    "TLS_PORT",
    "WEB_PORT",
    "IcmpHost",
    "Site",
    "SnmpDevice",
    "SnmpInterface",
    "SnmpPeer",
    "check_loopback",
    "extra_sites",
    "site_modes",
    "zone_records",
]

WEB_PORT = 8080
TLS_PORT = 8443

BANNER = "Chào mừng Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk lần thứ XVIII"

# Fault modes by target kind (see monitor/lab/faults.py for what each does).
# inject-links, inject-script, cloak: what web integrity (kind "web") catches; see
# monitor/lab/portal.py for the injected markup.
WEB_MODES = (
    "503", "slow", "deface", "banner-gone", "down", "inject-links", "inject-script", "cloak"
)  # fmt: skip
TLS_ONLY_MODES = ("tls-expiring",)
DNS_MODES = ("dns-changed", "servfail", "silent", "garbage")
SMTP_MODES = ("slow", "down")
ICMP_MODES = ("down", "loss")
SNMP_MODES = ("iface-down", "agent-silent", "reboot")
STREAM_MODES = ("stalled",)
SIP_MODES = ("sip-down", "sip-503")

# The venue's IP-PBX (monitor/lab/sip.py): OPTIONS answered, one test extension to register.
SIP_NAME = "tong-dai-hoi-truong"
SIP_TITLE = "Tổng đài IP Hội trường Tỉnh ủy (SIP)"
SIP_HOST = "127.0.1.60"
SIP_PORT = 5060
SIP_USER = "1001"
SIP_PASSWORD = "netmon-lab-1001"  # a lab secret, inline in settings.toml as the SNMP keys are

# The congress livestream (monitor/lab/stream.py): HLS made up on the fly.
STREAM_NAME = "truyen-hinh-truc-tiep"
STREAM_TITLE = "Truyền hình trực tiếp Đại hội"
STREAM_HOST = "127.0.1.70"
STREAM_PORT = 8080


def check_loopback(host: str) -> str:
    """``host`` if it is an IPv4 address in 127.0.0.0/8; ValueError otherwise."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(
            f"{host!r} is not an IPv4 address: the lab only uses 127.0.0.0/8"
        ) from None
    if not address.is_loopback:
        raise ValueError(f"{host} is not in 127.0.0.0/8: the lab only uses loopback")
    return host


@dataclass(frozen=True, slots=True)
class Site:
    """One official website."""

    name: str
    title: str
    host: str  # the IP address it listens on
    hostname: str  # its name in the lab zone (and on its TLS certificate)
    owner: str  # the body that runs it, for the footer
    news: tuple[str, ...] = ()
    banner: bool = False
    tls: bool = False
    group: str = "website"
    port: int = WEB_PORT

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}/"


def site_modes(site: Site) -> tuple[str, ...]:
    """The fault modes that apply to ``site``."""
    modes = [m for m in WEB_MODES if m != "banner-gone" or site.banner]
    if site.tls:
        modes += TLS_ONLY_MODES
    return tuple(modes)


_NEWS_CONGRESS = (
    "Khai mạc trọng thể Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk lần thứ XVIII, nhiệm kỳ 2025-2030",
    "Đắk Lắk sẵn sàng cho Đại hội đại biểu toàn quốc lần thứ XIV của Đảng",
    "Bảo đảm thông tin liên lạc thông suốt phục vụ Đại hội",
)

SITES: tuple[Site, ...] = (
    Site(
        name="cong-thong-tin-tinh",
        title="Cổng thông tin điện tử tỉnh Đắk Lắk",
        host="127.0.1.1",
        hostname="daklak.lab",
        owner="Ủy ban nhân dân tỉnh Đắk Lắk",
        news=_NEWS_CONGRESS,
        banner=True,
    ),
    Site(
        name="bao-dak-lak",
        title="Báo Đắk Lắk điện tử",
        host="127.0.1.2",
        hostname="baodaklak.lab",
        owner="Báo Đắk Lắk",
        news=(
            "Tuyên truyền sâu rộng Đại hội đảng bộ các cấp tiến tới Đại hội XIV của Đảng",
            "Buôn Ma Thuột: không khí phấn khởi chào mừng Đại hội",
            "Cà phê Đắk Lắk vào vụ thu hoạch",
        ),
        banner=True,
    ),
    Site(
        name="so-tt-tt",
        title="Sở Thông tin và Truyền thông tỉnh Đắk Lắk",
        host="127.0.1.3",
        hostname="stttt.daklak.lab",
        owner="Sở Thông tin và Truyền thông tỉnh Đắk Lắk",
        news=(
            "Kế hoạch tuyên truyền Đại hội đảng bộ các cấp, nhiệm kỳ 2025-2030",
            "Bảo đảm an toàn, an ninh mạng trong thời gian diễn ra Đại hội",
        ),
        tls=True,
        port=TLS_PORT,
    ),
    Site(
        name="so-vh-tt-dl",
        title="Sở Văn hóa, Thể thao và Du lịch tỉnh Đắk Lắk",
        host="127.0.1.4",
        hostname="svhttdl.daklak.lab",
        owner="Sở Văn hóa, Thể thao và Du lịch tỉnh Đắk Lắk",
        news=("Trang trí cổ động trực quan chào mừng Đại hội", "Lễ hội Cà phê Buôn Ma Thuột"),
    ),
    Site(
        name="so-khcn",
        title="Sở Khoa học và Công nghệ tỉnh Đắk Lắk",
        host="127.0.1.5",
        hostname="skhcn.daklak.lab",
        owner="Sở Khoa học và Công nghệ tỉnh Đắk Lắk",
        news=("Chuyển đổi số trong các cơ quan đảng, chính quyền",),
    ),
    Site(
        name="tp-buon-ma-thuot",
        title="Trang thông tin điện tử thành phố Buôn Ma Thuột",
        host="127.0.1.6",
        hostname="buonmathuot.daklak.lab",
        owner="Ủy ban nhân dân thành phố Buôn Ma Thuột",
        news=("Đại hội đại biểu Đảng bộ thành phố Buôn Ma Thuột thành công tốt đẹp",),
    ),
    Site(
        name="huyen-krong-pac",
        title="Trang thông tin điện tử huyện Krông Pắc",
        host="127.0.1.7",
        hostname="krongpac.daklak.lab",
        owner="Ủy ban nhân dân huyện Krông Pắc",
        news=("Đại hội Đảng bộ huyện Krông Pắc lần thứ XIII",),
    ),
    Site(
        name="thong-tin-co-so",
        title="Hệ thống thông tin nguồn cơ sở tỉnh Đắk Lắk",
        host="127.0.1.8",
        hostname="ttcs.daklak.lab",
        owner="Sở Thông tin và Truyền thông tỉnh Đắk Lắk",
        news=("Đài truyền thanh cơ sở phát sóng chuyên mục chào mừng Đại hội",),
        group="grassroots",
    ),
)


def extra_sites(count: int, start: int = 5) -> tuple[Site, ...]:
    """``count`` generic sites for benchmarks: 127.0.5.1 ... 127.0.5.254, 127.0.6.1, ..."""
    per_net = 254
    if count < 0 or (count and start + (count - 1) // per_net > 255):
        raise ValueError(f"{count} extra sites do not fit in 127.0.{start}.1 - 127.0.255.254")
    sites = []
    for i in range(count):
        host = f"127.0.{start + i // per_net}.{1 + i % per_net}"
        sites.append(
            Site(
                name=f"site-{i + 1:04d}",
                title=f"Trang thông tin điện tử xã số {i + 1}",
                host=host,
                hostname=f"site-{i + 1:04d}.daklak.lab",
                owner=f"Ủy ban nhân dân xã số {i + 1}",
                news=("Tuyên truyền Đại hội trên hệ thống thông tin cơ sở",),
            )
        )
    return tuple(sites)


@dataclass(frozen=True, slots=True)
class IcmpHost:
    """A device that answers ping (the kernel does, on all of 127/8)."""

    name: str
    host: str
    group: str
    title: str
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()


_VENUE = {"site": "hoi-truong-tinh"}
_DC = {"site": "trung-tam-du-lieu"}


def _uplinks(prefix: str, base: int, site: dict[str, str], where: str) -> list[IcmpHost]:
    carriers = (("vnpt", "VNPT"), ("viettel", "Viettel"), ("mobifone", "MobiFone"), ("fpt", "FPT"))
    return [
        IcmpHost(
            name=f"{prefix}-{key}-uplink",
            host=f"127.0.2.{base + n}",
            group="carrier",
            title=f"Đường truyền {title} vào {where}",
            labels={"carrier": key, **site},
        )
        for n, (key, title) in enumerate(carriers)
    ]


def _venue(name: str, n: int, title: str) -> IcmpHost:
    parent = () if name == "venue-core-switch" else ("venue-core-switch",)
    return IcmpHost(name, f"127.0.2.{n}", "venue", title, dict(_VENUE), parent)


def _dc(name: str, n: int, title: str) -> IcmpHost:
    parent = () if name == "dc-core-router" else ("dc-core-router",)
    return IcmpHost(name, f"127.0.2.{n}", "datacenter", title, dict(_DC), parent)


def _grassroots(name: str, n: int, title: str, commune: str) -> IcmpHost:
    return IcmpHost(name, f"127.0.2.{n}", "grassroots", title, {"commune": commune})


ICMP_HOSTS: tuple[IcmpHost, ...] = (
    *_uplinks("venue", 1, _VENUE, "hội trường Tỉnh ủy"),
    *_uplinks("dc", 11, _DC, "Trung tâm dữ liệu tỉnh"),
    _venue("venue-core-switch", 21, "Switch lõi hội trường"),
    _venue("venue-firewall", 22, "Tường lửa hội trường"),
    _venue("venue-wifi-controller", 23, "Bộ điều khiển Wi-Fi hội trường"),
    _venue("venue-press-room", 24, "Switch phòng báo chí"),
    _venue("venue-video-link", 25, "Thiết bị truyền hình trực tuyến"),
    _venue("venue-sip-gateway", 26, "Cổng thoại SIP hội trường"),
    _venue("venue-led-screen", 27, "Màn hình LED hội trường"),
    _dc("dc-core-router", 31, "Router lõi Trung tâm dữ liệu"),
    _dc("dc-firewall", 32, "Tường lửa Trung tâm dữ liệu"),
    _dc("ioc-video-wall", 33, "Màn hình giám sát IOC"),
    _grassroots("radio-tan-lap", 41, "Đài truyền thanh phường Tân Lập", "tan-lap"),
    _grassroots("radio-ea-kao", 42, "Đài truyền thanh xã Ea Kao", "ea-kao"),
    _grassroots("radio-hoa-phu", 43, "Đài truyền thanh xã Hòa Phú", "hoa-phu"),
    _grassroots("radio-krong-pac", 44, "Đài truyền thanh xã Krông Pắc", "krong-pac"),
    _grassroots("radio-buon-don", 45, "Đài truyền thanh xã Buôn Đôn", "buon-don"),
    _grassroots("board-nga-sau", 51, "Bảng điện tử công cộng Ngã Sáu", "buon-ma-thuot"),
    _grassroots("board-ea-hleo", 52, "Bảng điện tử công cộng Ea H'Leo", "ea-hleo"),
)

DNS_NAME = "dns-cong-thong-tin"
DNS_HOST = "127.0.1.53"
DNS_PORT = 5353
# dns-changed: the portal's A record moves to this (still loopback) address.
DNS_CHANGED_ADDRESS = "127.0.1.66"

SMTP_NAME = "thu-cong-vu-smtp"
SMTP_HOST = "127.0.1.25"
SMTP_PORT = 2525
SMTP_BANNER = "220 mail.daklak.lab ESMTP netmon-lab"


def zone_records(sites: tuple[Site, ...] = SITES) -> dict[tuple[str, str], list[str]]:
    """The lab zone: every site's name, the mail server, a TXT in Vietnamese."""
    records: dict[tuple[str, str], list[str]] = {
        ("lab.", "SOA"): ["ns.lab. hostmaster.daklak.lab. 2025101401 3600 600 86400 60"],
        ("lab.", "NS"): ["ns.lab."],
        ("ns.lab.", "A"): [DNS_HOST],
        ("daklak.lab.", "MX"): ["10 mail.daklak.lab."],
        ("mail.daklak.lab.", "A"): [SMTP_HOST],
        ("daklak.lab.", "TXT"): ['"Cổng thông tin điện tử tỉnh Đắk Lắk"', '"v=spf1 mx -all"'],
        ("www.daklak.lab.", "CNAME"): ["daklak.lab."],
    }
    for site in sites:
        records[(site.hostname.lower() + ".", "A")] = [site.host]
    return records


# --------------------------------------------------------------------------- SNMP agents

SNMP_PORT = 1161
SNMP_COMMUNITY = "netmon-lab"
# v3 users every lab agent knows: (name, auth protocol, auth key, priv protocol, priv key).
SNMP_USERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("noc", "SHA", "netmon-lab-auth", "AES", "netmon-lab-priv"),
    ("noc256", "SHA-256", "netmon-lab-auth", "AES-256", "netmon-lab-priv"),
)
# Where the agents send their traps: netmon's trap receiver by default (traps.listen).
SNMP_TRAP_ADDRESS = ("127.0.0.1", 1162)
SNMP_TRAP_COMMUNITY = "netmon-lab-traps"  # settings.toml: each snmp target's trap_community


@dataclass(frozen=True, slots=True)
class SnmpInterface:
    name: str  # ifName
    descr: str  # ifDescr
    alias: str = ""  # ifAlias: what the NOC wrote on the port
    speed_mbps: int = 1000
    load: float = 0.3  # mean utilization, 0..1; the lab varies it around this
    admin_up: bool = True
    # ifOperStatus at boot: 1 up, else what the port reports while not up (2 down, 5 dormant,
    # 6 notPresent, 7 lowerLayerDown), as the many never-up ports of real gear do.
    oper_status: int = 1
    uplink: bool = False  # what `iface-down` takes down
    loopback: bool = False


@dataclass(frozen=True, slots=True)
class SnmpPeer:
    """A BGP session (BGP4-MIB bgpPeerTable): the carrier's side of an uplink."""

    address: str  # a loopback address: a label in the MIB, never contacted
    remote_as: int


@dataclass(frozen=True, slots=True)
class SnmpDevice:
    """A router or switch the lab simulates as an SNMP agent."""

    name: str
    host: str
    group: str
    title: str
    interfaces: tuple[SnmpInterface, ...]
    peers: tuple[SnmpPeer, ...] = ()
    local_as: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    port: int = SNMP_PORT
    location: str = "Hội trường Tỉnh ủy Đắk Lắk, Buôn Ma Thuột"


_CARRIERS = (
    ("vnpt", "VNPT", 45899, 1),
    ("viettel", "Viettel", 7552, 2),
    ("mobifone", "MobiFone", 131429, 3),
    ("fpt", "FPT", 18403, 4),
)
_PROVINCE_AS = 64512  # a private AS for the province's side


def _edge_router(key: str, title: str, asn: int, n: int) -> SnmpDevice:
    return SnmpDevice(
        name=f"{key}-edge-router",
        host=f"127.0.3.{n}",
        group="carrier",
        title=f"Router biên {title} tại hội trường Tỉnh ủy",
        interfaces=(
            SnmpInterface(
                "ge-0/0/0",
                "GigabitEthernet ge-0/0/0",
                f"Uplink {title} - kênh truyền hội trường",
                1000,
                0.45,
                uplink=True,
            ),
            SnmpInterface("ge-0/0/1", "GigabitEthernet ge-0/0/1", "LAN hội trường", 1000, 0.35),
            SnmpInterface(
                "ge-0/0/2", "GigabitEthernet ge-0/0/2", "Dự phòng", 1000, 0.0, admin_up=False
            ),
            SnmpInterface("lo0", "Loopback lo0", "", 0, 0.0, loopback=True),
        ),
        peers=(SnmpPeer(f"127.0.4.{n}", asn),),
        local_as=_PROVINCE_AS,
        labels={"carrier": key, "site": "hoi-truong-tinh"},
    )


def _access_ports() -> tuple[SnmpInterface, ...]:
    rooms = {1: "Phòng họp Đoàn Chủ tịch", 2: "Bàn thư ký Đại hội", 3: "Phòng báo chí",
             4: "Truyền hình trực tiếp", 5: "Màn hình LED", 6: "Wi-Fi đại biểu"}  # fmt: skip
    ports = [
        SnmpInterface(
            f"Gi1/0/{i}",
            f"GigabitEthernet1/0/{i}",
            rooms.get(i, ""),
            1000,
            0.2 if i in rooms else 0.02,
        )
        for i in range(1, 49)
    ]
    ports += [
        SnmpInterface(
            "Te1/1/1",
            "TenGigabitEthernet1/1/1",
            "Uplink venue-edge-router",
            10000,
            0.25,
            uplink=True,
        ),
        SnmpInterface("Te1/1/2", "TenGigabitEthernet1/1/2", "Uplink dự phòng", 10000, 0.05),
    ]
    return tuple(ports)


def _venue_router_ports() -> tuple[SnmpInterface, ...]:
    ports = [
        SnmpInterface(
            f"ge-0/1/{i}",
            f"GigabitEthernet ge-0/1/{i}",
            f"Tới router biên {title}",
            1000,
            0.3,
            uplink=i == 0,
        )
        for i, (_, title, _, _) in enumerate(_CARRIERS)
    ]
    ports.append(
        SnmpInterface("xe-0/2/0", "10GigabitEthernet xe-0/2/0", "Tới switch truy nhập", 10000, 0.2)
    )
    return tuple(ports)


SNMP_DEVICES: tuple[SnmpDevice, ...] = (
    *(_edge_router(key, title, asn, n) for key, title, asn, n in _CARRIERS),
    SnmpDevice(
        name="venue-edge-router",
        host="127.0.3.10",
        group="venue",
        title="Router biên hội trường (gom 4 nhà mạng)",
        interfaces=_venue_router_ports(),
        labels={"site": "hoi-truong-tinh"},
        depends_on=("venue-core-switch",),
    ),
    SnmpDevice(
        name="venue-access-switch",
        host="127.0.3.11",
        group="venue",
        title="Switch truy nhập hội trường (48 cổng)",
        interfaces=_access_ports(),
        labels={"site": "hoi-truong-tinh"},
        depends_on=("venue-core-switch",),
    ),
)
