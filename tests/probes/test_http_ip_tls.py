"""The http probe's address family (preferred_ip_protocol, ip_protocol_fallback, the older
ip_protocol key; probe_ip_protocol, probe_ip_addr_hash), its TLS version bounds
(tls_min_version / tls_max_version) and probe_tls_cipher_info (issue 15).

Names come from a hosts table the test controls (probes/resolve.py's lookup, no DNS); servers
are aiohttp on ::1 and 127.0.111.x, ports from the OS. blackbox's http_test.go has no
IP-protocol scenario of its own (it sets ip_protocol_fallback everywhere); these follow its
chooseProtocol rules.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import trustme
from aiohttp import web

from monitor.config import Target
from probes import http
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.resolve import LOOKUP_KEY, Lookup, hosts_lookup, ip_addr_hash

V4 = "127.0.111.1"
TABLE = {
    "dual.h11.lab": [V4, "::1"],
    "v4.h11.lab": [V4],
    "v6.h11.lab": ["::1"],
}


@pytest.fixture
async def hosts(ctx: ProbeContext) -> AsyncIterator[ProbeContext]:
    async def nothing() -> None:
        return None

    async def install() -> tuple[Lookup, Any]:
        return hosts_lookup(TABLE), nothing

    await ctx.shared(LOOKUP_KEY, install)
    yield ctx


def target(url: str, **options: Any) -> Target:
    return Target.model_validate({"name": "h11", "kind": "http", "url": url, "http": options})


def values(result: ProbeResult) -> dict[str, float]:
    return {s.name: s.value for s in result.samples if not s.labels}


def labelled(result: ProbeResult, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for s in result.samples if s.name == name]


def phase(result: ProbeResult, name: str) -> float:
    return next(
        s.value
        for s in result.samples
        if s.name == "probe_http_duration_seconds" and dict(s.labels)["phase"] == name
    )


async def run(t: Target, ctx: ProbeContext) -> ProbeResult:
    async with asyncio.timeout(5):
        return await http.probe(t, ctx)


async def where(request: web.Request) -> web.Response:
    """Answers with the address it was reached on and the Host header it got."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    local = sockname[0] if sockname else "?"
    return web.Response(text=f"local={local} host={request.host}")


Serve = Callable[..., Awaitable[int]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(hosts, ssl_context=None) -> one port, listened on at every address given."""
    runners: list[web.AppRunner] = []

    async def start(addresses: list[str], ssl_context: ssl.SSLContext | None = None) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", where)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        port = 0
        for address in addresses:  # the first picks the port, the others take the same
            await web.TCPSite(runner, address, port, ssl_context=ssl_context).start()
            port = runner.addresses[0][1]
        return port

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_server(cert: trustme.LeafCert, **context_options: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    for key, value in context_options.items():
        setattr(context, key, value)
    return context


# --------------------------------------------------------------------------- address family


async def test_ip6_preferred_and_present(hosts: ProbeContext, serve: Serve) -> None:
    port = await serve(["::1", V4])
    result = await run(
        target(f"http://dual.h11.lab:{port}/", preferred_ip_protocol="ip6", body_contains=["::1"]),
        hosts,
    )
    assert result.success, result.detail
    got = values(result)
    assert got["probe_ip_protocol"] == 6
    assert got["probe_ip_addr_hash"] == ip_addr_hash("::1")
    assert phase(result, "resolve") > 0
    # the same name, IPv4 preferred (the default): the other listener answers
    result4 = await run(
        target(f"http://dual.h11.lab:{port}/", body_contains=[f"local={V4}"]), hosts
    )
    assert result4.success, result4.detail
    assert values(result4)["probe_ip_protocol"] == 4
    assert values(result4)["probe_ip_addr_hash"] == ip_addr_hash(V4)


async def test_ip6_preferred_absent_falls_back_to_ip4(hosts: ProbeContext, serve: Serve) -> None:
    port = await serve([V4])
    result = await run(
        target(f"http://v4.h11.lab:{port}/", preferred_ip_protocol="ip6", body_contains=[V4]),
        hosts,
    )
    assert result.success, result.detail
    assert values(result)["probe_ip_protocol"] == 4


async def test_ip6_preferred_absent_without_fallback_is_dns(
    hosts: ProbeContext, serve: Serve
) -> None:
    port = await serve([V4])
    result = await run(
        target(
            f"http://v4.h11.lab:{port}/", preferred_ip_protocol="ip6", ip_protocol_fallback=False
        ),
        hosts,
    )
    assert not result.success
    assert result.reason == "dns"
    assert "no IPv6 address" in result.detail and "v4.h11.lab" in result.detail
    assert "probe_ip_protocol" not in values(result)


async def test_old_ip_protocol_key_means_no_fallback(hosts: ProbeContext, serve: Serve) -> None:
    port = await serve(["::1"])
    gone = await run(target(f"http://v4.h11.lab:{port}/", ip_protocol="ip6"), hosts)
    assert not gone.success and gone.reason == "dns", gone.detail
    found = await run(target(f"http://v6.h11.lab:{port}/", ip_protocol="ip6"), hosts)
    assert found.success, found.detail
    assert values(found)["probe_ip_protocol"] == 6
    with pytest.raises(pydantic.ValidationError, match="disagree"):
        target("http://v6.h11.lab/", ip_protocol="ip6", preferred_ip_protocol="ip4")


async def test_unknown_name_is_dns(hosts: ProbeContext) -> None:
    result = await run(target("http://nowhere.h11.lab:1/"), hosts)
    assert not result.success and result.reason == "dns"
    assert "nowhere.h11.lab" in result.detail


async def test_ip6_literal(hosts: ProbeContext, serve: Serve) -> None:
    port = await serve(["::1"])
    result = await run(target(f"http://[::1]:{port}/", body_contains=["local=::1"]), hosts)
    assert result.success, result.detail
    assert values(result)["probe_ip_protocol"] == 6
    assert values(result)["probe_ip_addr_hash"] == ip_addr_hash("::1")
    assert phase(result, "resolve") == 0


async def test_tls_over_ip6_keeps_host_and_sni(
    hosts: ProbeContext, serve: Serve, ca: trustme.CA, ca_file: str
) -> None:
    # The certificate names only the host name: the handshake verifies only if SNI and the
    # hostname check use the URL's name, not the address it resolved to.
    port = await serve(["::1"], tls_server(ca.issue_cert("v6.h11.lab")))
    result = await run(
        target(
            f"https://v6.h11.lab:{port}/",
            ca_file=ca_file,
            preferred_ip_protocol="ip6",
            body_contains=[f"host=v6.h11.lab:{port}"],
        ),
        hosts,
    )
    assert result.success, result.detail
    got = values(result)
    assert got["probe_http_ssl"] == 1 and got["probe_ip_protocol"] == 6
    assert phase(result, "resolve") > 0 and phase(result, "tls") > 0


async def test_certificate_failure_over_ip6_still_reads_expiry(
    hosts: ProbeContext, serve: Serve, ca_file: str
) -> None:
    other = trustme.CA()  # not the CA the probe trusts
    port = await serve(["::1"], tls_server(other.issue_cert("v6.h11.lab")))
    result = await run(target(f"https://v6.h11.lab:{port}/", ca_file=ca_file), hosts)
    assert not result.success and result.reason == "tls", result.detail
    got = values(result)
    assert got["probe_ip_protocol"] == 6
    assert got["probe_ssl_earliest_cert_expiry"] > 0  # read on the unverified second handshake


# --------------------------------------------------------------------------- TLS versions


async def test_min_version_above_server_is_tls(
    hosts: ProbeContext, serve: Serve, ca: trustme.CA, ca_file: str
) -> None:
    only12 = tls_server(
        ca.issue_cert(V4),
        minimum_version=ssl.TLSVersion.TLSv1_2,
        maximum_version=ssl.TLSVersion.TLSv1_2,
    )
    port = await serve([V4], only12)
    url = f"https://{V4}:{port}/"
    refused = await run(target(url, ca_file=ca_file, tls_min_version="TLS 1.3"), hosts)
    assert not refused.success and refused.reason == "tls", refused.detail
    assert values(refused)["probe_http_ssl"] == 0
    allowed = await run(target(url, ca_file=ca_file, tls_min_version="TLS 1.2"), hosts)
    assert allowed.success, allowed.detail
    assert labelled(allowed, "probe_tls_version_info") == [{"version": "TLS 1.2"}]


async def test_max_version_caps_the_handshake(
    hosts: ProbeContext, serve: Serve, ca: trustme.CA, ca_file: str
) -> None:
    port = await serve([V4], tls_server(ca.issue_cert(V4)))  # speaks 1.2 and 1.3
    url = f"https://{V4}:{port}/"
    capped = await run(target(url, ca_file=ca_file, tls_max_version="TLS 1.2"), hosts)
    assert capped.success, capped.detail
    assert labelled(capped, "probe_tls_version_info") == [{"version": "TLS 1.2"}]
    free = await run(target(url, ca_file=ca_file), hosts)
    assert labelled(free, "probe_tls_version_info") == [{"version": "TLS 1.3"}]


def test_tls_version_settings_are_checked() -> None:
    with pytest.raises(pydantic.ValidationError, match="tls_min_version"):
        target("https://v4.h11.lab/", tls_min_version="TLS 1.3", tls_max_version="TLS 1.2")
    with pytest.raises(pydantic.ValidationError, match="tls_max_version"):
        target("https://v4.h11.lab/", tls_max_version="TLSv1.3")


# --------------------------------------------------------------------------- cipher


async def test_cipher_info_is_blackbox_iana_name(
    hosts: ProbeContext, serve: Serve, ca: trustme.CA, ca_file: str
) -> None:
    cert = ca.issue_cert(V4)
    pinned = tls_server(cert, maximum_version=ssl.TLSVersion.TLSv1_2)
    pinned.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")
    port12 = await serve([V4], pinned)
    result = await run(target(f"https://{V4}:{port12}/", ca_file=ca_file), hosts)
    assert result.success, result.detail
    (labels,) = labelled(result, "probe_tls_cipher_info")
    # Go's tls.CipherSuiteName for 0xC02F / 0xC02B (trustme's key type decides which)
    assert labels["cipher"] in (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    )
    port13 = await serve([V4], tls_server(cert, minimum_version=ssl.TLSVersion.TLSv1_3))
    result13 = await run(target(f"https://{V4}:{port13}/", ca_file=ca_file), hosts)
    (labels13,) = labelled(result13, "probe_tls_cipher_info")
    assert labels13["cipher"] in (
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    )
    plain = await run(target(f"http://{V4}:{await serve([V4])}/"), hosts)
    assert plain.success and labelled(plain, "probe_tls_cipher_info") == []
