"""A realistic provincial portal page (menus, news list, the congress banner, an analytics
script from a known domain) and the injected variants that web integrity must catch.

The variants follow public descriptions of attacks on Vietnamese government sites: a hidden
``div`` of gambling links (``display:none`` or pushed off-screen), footer links with
``font-size:0``, a script from an unknown CDN, a page swapped for "Hacked by ...", and cloaking:
search engines get the spam page or a meta refresh to the casino while people get the portal.
Used by the lab, the tests (tests/probes/test_web_integrity.py) and bench/bench_integrity.py.
"""

from __future__ import annotations

import random

__all__ = ["CRAWLER_MARKERS", "FAULTS", "is_crawler", "portal_page"]

FAULTS = ("inject-links", "inject-script", "cloak", "deface")
CRAWLER_MARKERS = ("googlebot", "bingbot", "coccocbot", "yandex", "baiduspider")

_MENU = [
    "Trang chủ",
    "Giới thiệu",
    "Tin tức - Sự kiện",
    "Chỉ đạo điều hành",
    "Văn bản pháp luật",
    "Dịch vụ công trực tuyến",
    "Thủ tục hành chính",
    "Đầu tư - Phát triển",
    "Du lịch Đắk Lắk",
    "Liên hệ",
]
_TOPICS = [
    "Ủy ban nhân dân tỉnh họp phiên thường kỳ tháng {n}",
    "Hội nghị triển khai nhiệm vụ chuyển đổi số năm {y}",
    "Đắk Lắk đẩy mạnh cải cách thủ tục hành chính, phục vụ người dân và doanh nghiệp",
    "Kiểm tra công tác chuẩn bị Đại hội Đảng bộ tỉnh lần thứ XVIII",
    "Thu hoạch cà phê niên vụ {y}: sản lượng tăng, giá ổn định",
    "Tăng cường phòng chống thiên tai, tìm kiếm cứu nạn mùa mưa bão",
    "Huyện Krông Pắc ra mắt mô hình xã nông thôn mới kiểu mẫu",
    "Sở Thông tin và Truyền thông hướng dẫn bảo đảm an toàn thông tin mạng",
    "Buôn Ma Thuột chuẩn bị Lễ hội cà phê lần thứ {n}",
    "Khánh thành công trình giao thông nối các xã vùng sâu, vùng xa",
]
_WORDS = (  # noqa: SIM905 (words of a sentence read better than a list of them)
    "tỉnh huyện xã người dân doanh nghiệp phát triển kinh tế xã hội chương trình kế hoạch "
    "triển khai nhiệm vụ năm đồng chí chủ tịch ủy ban nhân dân hội nghị đánh giá kết quả "
    "công tác thực hiện chỉ đạo các sở ban ngành địa phương đơn vị tăng cường quản lý "
    "đầu tư xây dựng nông thôn mới giáo dục y tế văn hóa du lịch an ninh quốc phòng"
).split()

BANNER = "Chào mừng Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk lần thứ XVIII, nhiệm kỳ 2025 - 2030"

# What the attacks leave, written from public descriptions of them.
HIDDEN_DIV = (
    '<div style="display:none">'
    '<a href="https://nohu-club.win/">nổ hũ</a> <a href="https://taixiu88.bet/">tài xỉu</a> '
    '<a href="https://casino-vip.top/">casino trực tuyến</a> '
    '<a href="https://bancaonline.club/">bắn cá đổi thưởng</a></div>'
)
OFFSCREEN_DIV = (
    '<div style="position:absolute; left:-9999px; top:-9999px">'
    '<a href="https://xocdia.fun/">xóc đĩa online</a> <a href="https://lode88.vip/">lô đề</a>'
    "</div>"
)
FONT_ZERO_FOOTER = (
    '<p style="font-size:0px;line-height:0">'
    '<a href="https://nhacai-uytin.pro/">nhà cái uy tín</a> '
    '<a href="https://cacuoc-bongda.live/">cá cược bóng đá</a></p>'
)
UNKNOWN_CDN_SCRIPT = '<script src="https://cdn.jsdelivr-static.xyz/js/jquery.min.js"></script>'
BOT_META_REFRESH = '<meta http-equiv="refresh" content="0;url=https://nohu-club.win/">'


def is_crawler(user_agent: str) -> bool:
    agent = user_agent.lower()
    return any(marker in agent for marker in CRAWLER_MARKERS)


def _paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def portal_page(
    target_kb: int = 60,
    *,
    fault: str | None = None,
    crawler: bool = False,
    seed: int = 16,
    host: str = "daklak.gov.vn",
) -> str:
    """The portal's front page of about ``target_kb`` KB of HTML, with ``fault`` (one of
    ``FAULTS``) applied; ``crawler`` is the page served to a search engine's user agent."""
    rng = random.Random(seed)
    if fault == "deface":
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Hacked by VN-Shadow</title>"
            "</head><body style='background:#000;color:#0f0'><h1>Hacked by VN-Shadow</h1>"
            "<p>Your security is zero. Greetz to all members.</p>"
            "<p><a href='https://t.me/vnshadowteam'>contact</a></p></body></html>"
        )
    head = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        "<title>Cổng thông tin điện tử tỉnh Đắk Lắk</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<link rel="stylesheet" href="https://{host}/static/css/portal.css">',
        '<link rel="icon" href="/favicon.ico">',
        '<script src="/static/js/jquery-3.7.1.min.js"></script>',
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-DAKLAK"></script>',
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        "arguments);}gtag('js',new Date());gtag('config','G-DAKLAK');</script>",
        "<style>.menu li{display:inline-block}.hidden-xs{display:none}</style>",
    ]
    if fault == "cloak" and crawler:
        head.append(BOT_META_REFRESH)
    if fault == "inject-script":
        head.append(UNKNOWN_CDN_SCRIPT)
    head.append("</head>")
    body = [
        "<body>",
        '<div class="header"><a href="/"><img src="/static/img/logo.png" alt="Logo"></a>',
        '<div class="banner-daihoi">' + BANNER + "</div></div>",
        '<ul class="menu">'
        + "".join(f'<li><a href="/{i}/">{name}</a></li>' for i, name in enumerate(_MENU))
        + "</ul>",
        '<div class="hidden-xs">Phiên bản di động</div>',
        '<div class="news"><h2>Tin tức - Sự kiện</h2><ul>',
    ]
    size = sum(len(p.encode()) for p in head + body)
    n = 0
    while size < target_kb * 1024 - 3000:
        n += 1
        title = rng.choice(_TOPICS).format(n=n % 12 + 1, y=2020 + n % 6)
        # A news item as portals' CMSes write one: nested blocks, classes, responsive image,
        # category, date, share links; a summary of a sentence or two.
        item = (
            f'<div class="col-md-6 col-sm-12 news-item item-{n}"><div class="news-inner clearfix">'
            f'<div class="news-thumb"><a href="/tin-tuc/{n}.html" title="{title}">'
            f'<img class="img-responsive lazyload" src="/uploads/thumb/{n}.jpg" '
            f'srcset="/uploads/thumb/{n}-320.jpg 320w, /uploads/thumb/{n}-640.jpg 640w" '
            f'sizes="(max-width: 768px) 100vw, 50vw" alt="{title}" loading="lazy"></a></div>'
            f'<div class="news-body"><div class="news-meta"><span class="category">'
            f'<a href="/chuyen-muc/{n % 7}/">{_MENU[n % 7 + 2]}</a></span> '
            f'<span class="date"><i class="fa fa-clock-o"></i> {n % 28 + 1:02d}/10/2025</span>'
            f'</div><h3 class="news-title"><a href="/tin-tuc/{n}.html">{title}</a></h3>'
            f'<p class="news-summary">{_paragraph(rng, rng.randint(18, 40))}</p>'
            f'<div class="news-share"><a class="share-fb" href="/share?u=/tin-tuc/{n}.html&amp;'
            f's=fb" rel="nofollow"><i class="fa fa-facebook"></i></a><a class="share-zalo" '
            f'href="/share?u=/tin-tuc/{n}.html&amp;s=zalo" rel="nofollow">'
            f'<i class="fa fa-zalo"></i></a></div></div></div></div>'
        )
        body.append(item)
        size += len(item.encode())
    body.append("</ul></div>")
    if fault == "cloak" and crawler:
        body.append(HIDDEN_DIV)
    if fault == "inject-links":
        body += [HIDDEN_DIV, OFFSCREEN_DIV]
    footer = (
        '<div class="footer"><p>Cơ quan chủ quản: Ủy ban nhân dân tỉnh Đắk Lắk</p>'
        "<p>Địa chỉ: số 09 Lê Duẩn, TP. Buôn Ma Thuột, tỉnh Đắk Lắk</p>"
        '<p><a href="https://chinhphu.vn/">Cổng TTĐT Chính phủ</a> · '
        '<a href="https://dichvucong.gov.vn/">Cổng Dịch vụ công quốc gia</a> · '
        '<a href="https://www.facebook.com/daklak.gov">Facebook</a></p>'
    )
    if fault == "inject-links":
        footer += FONT_ZERO_FOOTER
    body += [footer, "</div></body></html>"]
    return "\n".join(head + body)
