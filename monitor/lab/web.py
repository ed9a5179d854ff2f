"""The lab's official websites: one aiohttp application listening on every site's address.

A request is routed to its site by the local address it arrived on. Each site has at most one
fault at a time (see ``SiteFault``); the TLS site's certificate comes from a lab CA that is kept
in ``<state_dir>/ca.pem`` (and ``ca-key.pem``, mode 0600), so that netmon can verify it with
``http.ca_file`` and keeps verifying it across lab restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import trustme
from aiohttp import web

from monitor.lab import portal
from monitor.lab.inventory import BANNER, Site

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "SiteFault",
    "Websites",
    "load_or_create_ca",
    "render_page",
]

_log = logging.getLogger("netmon.lab")

SiteFault = Literal[
    "503",
    "slow",
    "deface",
    "banner-gone",
    "tls-expiring",
    "down",
    "inject-links",
    "inject-script",
    "cloak",
]

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
DEFACER = "Gh0st-Squad"
VALID_DAYS = 365
EXPIRING_DAYS = 5


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    """The lab CA from ``state_dir``, made (and written there) when absent or unreadable."""
    state_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = state_dir / CA_CERT_FILE, state_dir / CA_KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        try:
            return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
        except (ValueError, TypeError, OSError) as exc:
            _log.warning("lab CA in %s is unusable (%s); making a new one", state_dir, exc)
    ca = trustme.CA(organization_name="netmon lab", organization_unit_name="Đắk Lắk lab CA")
    _write_atomic(key_path, ca.private_key_pem.bytes(), 0o600)
    _write_atomic(cert_path, ca.cert_pem.bytes(), 0o644)
    return ca


def _issue(ca: trustme.CA, site: Site, days: float) -> trustme.LeafCert:
    now = dt.datetime.now(dt.UTC)
    return ca.issue_cert(
        site.host,
        site.hostname,
        common_name=site.hostname,
        organization_name=site.owner,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=days),
    )


def render_page(site: Site, *, banner: bool = True) -> str:
    """The site's home page: Vietnamese, UTF-8, the congress banner when the site carries it."""
    esc = html.escape
    items = "\n".join(
        f'      <li><a href="/tin-tuc/{n}">{esc(t)}</a></li>' for n, t in enumerate(site.news, 1)
    )
    banner_html = (
        f'  <div class="banner" role="banner">{esc(BANNER)}</div>\n'
        if site.banner and banner
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi">\n'
        "<head>\n"
        '  <meta charset="utf-8">\n'
        f"  <title>{esc(site.title)}</title>\n"
        "</head>\n"
        "<body>\n"
        f"  <header><h1>{esc(site.title)}</h1></header>\n"
        f"{banner_html}"
        "  <main>\n"
        "    <h2>Tin tức - Sự kiện</h2>\n"
        "    <ul>\n"
        f"{items}\n"
        "    </ul>\n"
        "  </main>\n"
        f"  <footer>© 2025 {esc(site.owner)}. Địa chỉ: Buôn Ma Thuột, tỉnh Đắk Lắk.</footer>\n"
        "</body>\n"
        "</html>\n"
    )


_DEFACED = (
    "<!DOCTYPE html>\n<html>\n<head><title>Hacked by {who}</title></head>\n"
    '<body style="background:#000;color:#0f0">\n'
    "  <h1>Hacked by {who}</h1>\n"
    "  <p>Your security is zero. This site has been hacked.</p>\n"
    "</body>\n</html>\n"
)

_UNAVAILABLE = (
    '<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8">'
    "<title>503 Service Unavailable</title></head>\n"
    "<body><h1>Hệ thống đang bảo trì</h1><p>Xin vui lòng quay lại sau.</p></body>\n</html>\n"
)

_NOT_FOUND = (
    '<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8">'
    "<title>404 Not Found</title></head>\n"
    "<body><h1>Không tìm thấy trang</h1></body>\n</html>\n"
)


class Websites:
    """Every lab website, served by one aiohttp application; faults set per site."""

    def __init__(
        self,
        sites: Iterable[Site],
        state_dir: Path,
        *,
        slow_seconds: float = 8.0,
        shutdown_timeout: float = 0.5,
    ) -> None:
        self.sites: dict[str, Site] = {}
        self._by_address: dict[tuple[str, int], Site] = {}
        for site in sites:
            if site.name in self.sites or (site.host, site.port) in self._by_address:
                raise ValueError(f"site {site.name} ({site.host}:{site.port}) is given twice")
            self.sites[site.name] = site
            self._by_address[(site.host, site.port)] = site
        self.faults: dict[str, SiteFault] = {}
        self.state_dir = state_dir
        self.slow_seconds = slow_seconds
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._listeners: dict[str, web.TCPSite] = {}
        self._ssl: dict[str, ssl.SSLContext] = {}
        self._ca: trustme.CA | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await self._runner.setup()
        if any(site.tls for site in self.sites.values()):
            self._ca = load_or_create_ca(self.state_dir)
            for site in self.sites.values():
                if site.tls:
                    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    _issue(self._ca, site, VALID_DAYS).configure_cert(context)
                    self._ssl[site.name] = context
        for site in self.sites.values():
            await self._listen(site)

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._listeners.clear()

    async def _listen(self, site: Site) -> None:
        assert self._runner is not None, "start() first"
        listener = web.TCPSite(
            self._runner, site.host, site.port, ssl_context=self._ssl.get(site.name)
        )
        await listener.start()
        self._listeners[site.name] = listener

    # ------------------------------------------------------------------ faults

    def ca_pem(self) -> bytes | None:
        return self._ca.cert_pem.bytes() if self._ca is not None else None

    async def set_fault(self, name: str, mode: SiteFault | None) -> None:
        """Put site ``name`` in fault ``mode``, or heal it with None (callers check modes)."""
        site = self.sites[name]
        previous = self.faults.pop(name, None)
        if previous == "down":
            await self._listen(site)
        elif previous == "tls-expiring":
            assert self._ca is not None
            _issue(self._ca, site, VALID_DAYS).configure_cert(self._ssl[name])
        if mode is None:
            return
        if mode == "down":
            listener = self._listeners.pop(name, None)
            if listener is not None:
                await listener.stop()
        elif mode == "tls-expiring":
            if name not in self._ssl:
                raise ValueError(f"{name} is not served over TLS")
            assert self._ca is not None
            # New handshakes on the same context present the new chain.
            _issue(self._ca, site, EXPIRING_DAYS).configure_cert(self._ssl[name])
        self.faults[name] = mode

    # ------------------------------------------------------------------ serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        site = self._by_address.get((sockname[0], sockname[1])) if sockname else None
        if site is None:
            raise web.HTTPMisdirectedRequest(text="no lab site on this address\n")
        fault = self.faults.get(site.name)
        if fault == "down":
            # A kept-alive connection from before the fault: the site is gone, drop it.
            if transport is not None:
                transport.abort()
            raise web.HTTPServiceUnavailable()
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            fault = self.faults.get(site.name)
        if fault == "503":
            return web.Response(
                status=503,
                text=_UNAVAILABLE,
                content_type="text/html",
                charset="utf-8",
                headers={"Retry-After": "60"},
            )
        if request.path not in ("/", "/index.html"):
            return web.Response(
                status=404, text=_NOT_FOUND, content_type="text/html", charset="utf-8"
            )
        if fault == "deface":
            text = _DEFACED.format(who=DEFACER)
        else:
            text = render_page(site, banner=fault != "banner-gone")
            crawler = portal.is_crawler(request.headers.get("User-Agent", ""))
            text = _injected(text, fault, crawler)
        return web.Response(text=text, content_type="text/html", charset="utf-8")


def _injected(page: str, fault: SiteFault | None, crawler: bool) -> str:
    """The page with what an attacker leaves for web integrity to find (portal.py's markup):
    gambling links hidden by CSS, a script from an unknown CDN, or, for crawlers only, a meta
    refresh to a casino and its links (cloaking)."""
    if fault == "inject-links":
        hidden = portal.HIDDEN_DIV + portal.OFFSCREEN_DIV + portal.FONT_ZERO_FOOTER
        return page.replace("</body>", hidden + "\n</body>", 1)
    if fault == "inject-script":
        return page.replace("</head>", portal.UNKNOWN_CDN_SCRIPT + "\n</head>", 1)
    if fault == "cloak" and crawler:
        page = page.replace("</head>", portal.BOT_META_REFRESH + "\n</head>", 1)
        return page.replace("</body>", portal.HIDDEN_DIV + "\n</body>", 1)
    return page
