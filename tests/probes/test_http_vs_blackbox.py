"""netmon's http probe and Debian's blackbox_exporter on the same servers, side by side (issue 15).

Each scenario is one of the differences issue 15 found, or one of blackbox's own test scenarios:
an aiohttp server (or Debian's nginx, with its brotli module) on 127.0.6.x answers both tools; a
blackbox module and netmon's ``http = {...}`` say the same thing; the test compares
``probe_success`` and the figures both have. Skipped only when blackbox_exporter or nginx is not
installed (``make debs-test`` installs them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import shutil
import ssl
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
import trustme
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Target
from probes import http
from probes.base import ProbeResult
from probes.context import ProbeContext
from tests.support.common import free_port

HOST = "127.0.6.1"
PAGE = ("<html><body><h1>Đại hội Đảng bộ tỉnh</h1>" + "nội dung " * 300 + "</body></html>").encode()
BLACKBOX = shutil.which("prometheus-blackbox-exporter") or "/usr/bin/prometheus-blackbox-exporter"
NGINX_BROTLI = Path("/usr/share/nginx/modules/ngx_http_brotli_filter_module.so")


@dataclass
class Scenario:
    path: str
    module: dict[str, Any]  # blackbox's http: section
    netmon: dict[str, Any]  # netmon's http = {...}
    compare: tuple[str, ...] = (
        "probe_http_status_code",
        "probe_http_content_length",
        "probe_http_uncompressed_body_length",
        "probe_http_redirects",
        "probe_http_ssl",
    )
    tls: bool = False
    success: bool | None = None  # what both must say (None: just agree)


def site() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def gz(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(PAGE), headers={"Content-Encoding": "gzip"})

    async def br(request: web.Request) -> web.Response:
        return web.Response(body=brotli.compress(PAGE), headers={"Content-Encoding": "br"})

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 2 << 30
        await resp.prepare(request)
        for _ in range(4096):  # 256 MiB at most, then the server gives up
            await resp.write(b"e" * 65536)
        return resp

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect-{n + 1}")

    async def cookie(request: web.Request) -> web.Response:
        resp = web.HTTPFound("/cookie-check")
        resp.set_cookie("somecookie", "cookie", max_age=86400)
        raise resp

    async def cookie_check(request: web.Request) -> web.Response:
        ok = request.cookies.get("somecookie") == "cookie"
        return web.Response(status=200 if ok else 400, text="cookie" if ok else "no cookie")

    async def headers(request: web.Request) -> web.Response:
        return web.Response(text="x", headers={"X-Powered-By": "PHP/5.4", "Server": "netmon-lab"})

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/gzip", gz)
    app.router.add_get("/br", br)
    app.router.add_get("/endless", endless)
    app.router.add_get("/redirect-{n}", redirect)
    app.router.add_get("/cookie", cookie)
    app.router.add_get("/cookie-check", cookie_check)
    app.router.add_get("/headers", headers)
    return app


SCENARIOS: dict[str, Scenario] = {
    "plain page": Scenario("/page", {}, {}, success=True),
    "gzip sent, no compression setting": Scenario("/gzip", {}, {}, success=True),
    "brotli sent, no compression setting": Scenario("/br", {}, {}, success=True),
    "gzip decoded": Scenario(
        "/gzip", {"compression": "gzip"}, {"compression": "gzip"}, success=True
    ),
    "brotli decoded": Scenario("/br", {"compression": "br"}, {"compression": "br"}, success=True),
    "gzip sent, deflate expected": Scenario(
        "/gzip", {"compression": "deflate"}, {"compression": "deflate"}, success=False
    ),
    "body over the limit": Scenario(
        "/page", {"body_size_limit": "1KiB"}, {"max_body_bytes": 1024}, success=False
    ),
    "gzip body over the limit once decoded": Scenario(
        "/gzip",
        {"body_size_limit": "1KiB", "compression": "gzip"},
        {"max_body_bytes": 1024, "compression": "gzip"},
        success=False,
    ),
    "endless body": Scenario(
        "/endless",
        {"body_size_limit": "1MiB"},
        {"max_body_bytes": 1 << 20},
        ("probe_http_status_code", "probe_http_uncompressed_body_length"),
        success=False,
    ),
    "redirect limit exceeded": Scenario("/redirect-1", {}, {"max_redirects": 10}, success=False),
    "redirect not followed": Scenario(
        "/redirect-1",
        {"follow_redirects": False, "valid_status_codes": [302]},
        {"max_redirects": 0, "expect_status": [302]},
        success=True,
    ),
    "cookie across a redirect": Scenario("/cookie", {}, {}, success=True),
    "body regex matches": Scenario(
        "/page",
        {"fail_if_body_matches_regexp": ["Đại hội"]},
        {"fail_if_body_matches": ["Đại hội"]},
        (*Scenario("", {}, {}).compare, "probe_failed_due_to_regex"),
        success=False,
    ),
    "body regex does not match": Scenario(
        "/page",
        {"fail_if_body_not_matches_regexp": ["hacked by"]},
        {"fail_if_body_not_matches": ["hacked by"]},
        (*Scenario("", {}, {}).compare, "probe_failed_due_to_regex"),
        success=False,
    ),
    "header regex": Scenario(
        "/headers",
        {"fail_if_header_matches": [{"header": "X-Powered-By", "regexp": "PHP/5"}]},
        {"fail_if_header_matches": [{"header": "X-Powered-By", "regexp": "PHP/5"}]},
        (*Scenario("", {}, {}).compare, "probe_failed_due_to_regex"),
        success=False,
    ),
    "header missing allowed": Scenario(
        "/page",
        {
            "fail_if_header_not_matches": [
                {"header": "X-Frame", "regexp": "x", "allow_missing": True}
            ]
        },
        {
            "fail_if_header_not_matches": [
                {"header": "X-Frame", "regexp": "x", "allow_missing": True}
            ]
        },
        (*Scenario("", {}, {}).compare, "probe_failed_due_to_regex"),
        success=True,
    ),
    "plain http with fail_if_not_ssl": Scenario(
        "/page", {"fail_if_not_ssl": True}, {"fail_if_not_ssl": True}, success=False
    ),
    "self-signed CA": Scenario("/page", {}, {}, ("probe_http_ssl",), tls=True, success=False),
    "self-signed CA, not verified": Scenario(
        "/page",
        {"tls_config": {"insecure_skip_verify": True}},
        {"tls_verify": False},
        (*Scenario("", {}, {}).compare, "probe_ssl_earliest_cert_expiry"),
        tls=True,
        success=True,
    ),
}


def installed(path: str) -> bool:
    return Path(path).exists()


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


async def probe_blackbox(port: int, module: str, url: str) -> dict[str, dict[str, Any]]:
    """blackbox's answer for one probe: metric name -> {"value", "labels"} (last sample)."""
    query = {"module": module, "target": url}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/probe", params=query) as resp,
    ):
        text = await resp.text()
    found: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name] = {"value": sample.value, "labels": sample.labels}
    return found


def netmon_target(url: str, options: dict[str, Any]) -> Target:
    return Target.model_validate({"name": "side", "kind": "http", "url": url, "http": options})


def netmon_values(result: ProbeResult) -> dict[str, float]:
    return {s.name: s.value for s in result.samples if not s.labels}


def yaml_module(name: str, http_options: dict[str, Any]) -> str:
    body = {
        "prober": "http",
        "timeout": "4s",
        "http": {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False, **http_options},
    }
    return textwrap.indent(yaml.safe_dump({name: body}, allow_unicode=True), "  ")


@pytest.fixture
async def blackbox(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """blackbox_exporter on a loopback port; yields (port, its config file) and restarts on
    demand by rewriting that file (SIGHUP)."""
    if not installed(BLACKBOX):
        pytest.skip("prometheus-blackbox-exporter is not installed (make debs-test)")
    config = tmp_path / "blackbox.yml"
    config.write_text("modules:\n  none:\n    prober: http\n")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        BLACKBOX,
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    pytest.fail(f"blackbox_exporter ended: {(await proc.stderr.read()).decode()}")
                await asyncio.sleep(0.05)
        yield port, config
    finally:
        proc.terminate()
        await proc.wait()


async def reload_blackbox(port: int, config: Path, modules: str) -> None:
    write(config, "modules:\n" + modules)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/-/reload") as resp,
    ):
        assert resp.status == 200, await resp.text()


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The scenarios' site over plain http and over https (a CA nobody trusts)."""
    runners = []
    urls = []
    own = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    own.issue_cert(HOST).configure_cert(context)
    for tls in (None, context):
        runner = web.AppRunner(site(), access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, HOST, 0, ssl_context=tls).start()
        urls.append(f"{'https' if tls else 'http'}://{HOST}:{runner.addresses[0][1]}")
    try:
        yield urls[0], urls[1]
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_netmon_agrees_with_blackbox_on_every_scenario(
    blackbox: tuple[int, Path], servers: tuple[str, str], ctx: ProbeContext
) -> None:
    port, config = blackbox
    names = {title: f"s{i}" for i, title in enumerate(SCENARIOS)}
    await reload_blackbox(
        port, config, "".join(yaml_module(names[t], s.module) for t, s in SCENARIOS.items())
    )
    plain, secure = servers
    disagreements: list[str] = []
    for title, scenario in SCENARIOS.items():
        url = (secure if scenario.tls else plain) + scenario.path
        theirs = await probe_blackbox(port, names[title], url)
        async with asyncio.timeout(10):
            result = await http.probe(netmon_target(url, scenario.netmon), ctx)
        ours = netmon_values(result)
        their_success = bool(theirs["probe_success"]["value"])
        if their_success != result.success:
            disagreements.append(
                f"{title}: success blackbox {their_success}, netmon {result.success}"
                f" ({result.detail})"
            )
        if scenario.success is not None and result.success is not scenario.success:
            disagreements.append(
                f"{title}: netmon success {result.success}, expected {scenario.success}"
            )
        for name in scenario.compare:
            want = theirs.get(name, {}).get("value")
            if want != ours.get(name):
                disagreements.append(f"{title}: {name} blackbox {want}, netmon {ours.get(name)}")
    assert disagreements == [], "\n".join(disagreements)


async def test_tls_chain_figures_agree_with_blackbox(
    blackbox: tuple[int, Path], ctx: ProbeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An intermediate expiring before the leaf, TLS 1.2 pinned: earliest expiry, the verified
    chain's expiry, the version label and the leaf's info labels are blackbox's."""
    port, config = blackbox
    ca = trustme.CA()
    with monkeypatch.context() as patch:
        patch.setattr(trustme, "DEFAULT_EXPIRY", dt.datetime(2031, 5, 1))
        intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert(HOST, "cong.netmon.test", not_after=dt.datetime(2033, 1, 1))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    leaf.configure_cert(context)
    runner = web.AppRunner(site(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, 0, ssl_context=context).start()
        url = f"https://{HOST}:{runner.addresses[0][1]}/page"
        await reload_blackbox(
            port, config, yaml_module("chain", {"tls_config": {"ca_file": str(ca_file)}})
        )
        theirs = await probe_blackbox(port, "chain", url)
        async with asyncio.timeout(10):
            result = await http.probe(netmon_target(url, {"ca_file": str(ca_file)}), ctx)
    finally:
        await runner.cleanup()
    assert result.success and theirs["probe_success"]["value"] == 1, result.detail
    ours = netmon_values(result)
    for name in ("probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds"):
        assert ours[name] == theirs[name]["value"], name
    labels = {s.name: dict(s.labels) for s in result.samples if s.labels}
    assert labels["probe_tls_version_info"] == theirs["probe_tls_version_info"]["labels"]
    assert labels["probe_tls_version_info"] == {"version": "TLS 1.2"}
    # The cipher as blackbox names it (Go's IANA name, not OpenSSL's); blackbox has the
    # metric from 0.26 (Debian's 0.23 has not), so compare when it is there.
    assert labels["probe_tls_cipher_info"]["cipher"].startswith("TLS_ECDHE_")
    if "probe_tls_cipher_info" in theirs:
        assert labels["probe_tls_cipher_info"] == theirs["probe_tls_cipher_info"]["labels"]
    their_info = theirs["probe_ssl_last_chain_info"]["labels"]
    for key, value in their_info.items():  # 0.23 has fewer labels than blackbox's main
        assert labels["probe_ssl_last_chain_info"][key] == value, key


NGINX_CONF = """
{load}
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; }}
    gzip on;
    gzip_types text/html;
    {brotli}
    server {{
        listen {host}:{port};
        root {tmp}/www;
    }}
}}
"""


@pytest.fixture
async def nginx(tmp_path: Path) -> AsyncIterator[tuple[str, bool]]:
    """Debian's nginx serving PAGE as index.html, gzip on, brotli on where Debian's module is;
    yields (base URL, brotli available)."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        pytest.skip("nginx is not installed (make debs-test)")
    has_brotli = installed(str(NGINX_BROTLI))
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_bytes(PAGE)
    port = free_port("127.0.6.2")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            tmp=tmp_path,
            host="127.0.6.2",
            port=port,
            load=f"load_module {NGINX_BROTLI};" if has_brotli else "",
            brotli="brotli on; brotli_types text/html;" if has_brotli else "",
        )
    )
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", str(tmp_path), "-c", str(conf), stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.6.2", port)
                writer.close()
                break
            except OSError:
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    pytest.fail(f"nginx ended: {(await proc.stderr.read()).decode()}")
                await asyncio.sleep(0.05)
        yield f"http://127.0.6.2:{port}", has_brotli
    finally:
        proc.terminate()
        await proc.wait()


async def test_nginx_compression(nginx: tuple[str, bool], ctx: ProbeContext) -> None:
    """Debian's nginx compresses on request: netmon decodes gzip and (with Debian's module)
    brotli to the page's size; without a compression setting it asks for nothing and gets the
    page as it is."""
    base, has_brotli = nginx
    codings = ["gzip", "br"] if has_brotli else ["gzip"]
    for coding in codings:
        t = netmon_target(base + "/", {"compression": coding, "body_contains": ["Đại hội"]})
        async with asyncio.timeout(5):
            result = await http.probe(t, ctx)
        assert result.success, (coding, result.detail)
        got = netmon_values(result)
        assert got["probe_http_uncompressed_body_length"] == len(PAGE), coding
        assert got["probe_http_content_length"] == -1  # nginx streams what it compresses
    async with asyncio.timeout(5):
        plain = await http.probe(netmon_target(base + "/", {}), ctx)
    got = netmon_values(plain)
    assert (
        got["probe_http_content_length"] == got["probe_http_uncompressed_body_length"] == len(PAGE)
    )
    if not has_brotli:
        pytest.skip("libnginx-mod-http-brotli-filter is not installed: gzip checked only")


async def test_nginx_compression_agrees_with_blackbox(
    nginx: tuple[str, bool], blackbox: tuple[int, Path], ctx: ProbeContext
) -> None:
    base, has_brotli = nginx
    port, config = blackbox
    codings = ["gzip", "br"] if has_brotli else ["gzip"]
    modules = "".join(
        yaml_module(coding, {"compression": coding, "headers": {"Accept-Encoding": coding}})
        for coding in codings
    )
    await reload_blackbox(port, config, modules)
    for coding in codings:
        theirs = await probe_blackbox(port, coding, base + "/")
        async with asyncio.timeout(5):
            result = await http.probe(netmon_target(base + "/", {"compression": coding}), ctx)
        ours = netmon_values(result)
        assert result.success and theirs["probe_success"]["value"] == 1, result.detail
        for name in ("probe_http_content_length", "probe_http_uncompressed_body_length"):
            assert ours[name] == theirs[name]["value"], (coding, name)
