"""The tcp probe against real asyncio servers on loopback (127.0.0.71..)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

from monitor.config import Target
from probes import tcp as tcp_probe
from probes.base import ProbeResult
from probes.context import ProbeContext

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BANNER = b"220 mail.daklak.lab ESMTP netmon-lab\r\n"


@contextlib.asynccontextmanager
async def serve(
    host: str, handler: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """A TCP server on host:<free port>; on exit every connection and handler is closed."""
    tasks: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await handler(reader, writer)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the probe hung up: that is its right
        finally:
            writer.transport.abort()
            writers.discard(writer)

    server = await asyncio.start_server(run, host, 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in list(writers):
            writer.transport.abort()
        if tasks:  # aborted connections end their handlers; cancelling upsets 3.11's streams
            _, stuck = await asyncio.wait(tasks, timeout=2)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await server.wait_closed()
        await asyncio.sleep(0)


async def until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()


async def smtp_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(BANNER)
    await writer.drain()
    await reader.read()


def sends(data: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        await reader.read()

    return handler


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: Any, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_tls(cert: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def not_after(cert: Any) -> float:
    leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    return leaf.not_valid_after_utc.timestamp()


def target(host: str, port: int, **tcp_options: Any) -> Target:
    return Target.model_validate(
        {"name": "tcp-test", "kind": "tcp", "host": host, "tcp": {"port": port, **tcp_options}}
    )


def samples(result: ProbeResult) -> dict[str, float]:
    named = {}
    for s in result.samples:
        key = s.name + "".join(f"{{{k}={v}}}" for k, v in s.labels)
        named[key] = s.value
    return named


async def run(t: Target, ctx: ProbeContext, limit: float = 5.0) -> ProbeResult:
    async with asyncio.timeout(limit):
        return await tcp_probe.probe(t, ctx)


def open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- plain TCP


async def test_open_port(ctx: ProbeContext) -> None:
    async with serve("127.0.0.71", until_eof) as port:
        result = await run(target("127.0.0.71", port), ctx)
    assert result.success, result.detail
    assert result.reason is None
    got = samples(result)
    assert 0 < got["probe_tcp_duration_seconds{phase=connect}"] < 1
    assert "probe_tcp_duration_seconds{phase=resolve}" not in got  # an IP: nothing resolved
    assert "probe_ssl_earliest_cert_expiry" not in got
    assert result.detail.startswith("connected to 127.0.0.71:")


async def test_closed_port_is_refused(ctx: ProbeContext) -> None:
    port = free_port("127.0.0.72")
    result = await run(target("127.0.0.72", port), ctx)
    assert not result.success
    assert result.reason == "refused"
    assert f"127.0.0.72:{port} refused" in result.detail


async def test_host_name_is_resolved(ctx: ProbeContext) -> None:
    async with serve("127.0.0.1", until_eof) as port:
        result = await run(target("localhost", port), ctx)
    assert result.success, result.detail
    assert "probe_tcp_duration_seconds{phase=resolve}" in samples(result)


async def test_unresolvable_name(ctx: ProbeContext) -> None:
    result = await run(target("no-such-host.invalid", 25), ctx)
    assert not result.success
    assert result.reason == "dns", result.detail


async def test_ipv6(ctx: ProbeContext) -> None:
    async with serve("::1", until_eof) as port:
        result = await run(target("::1", port), ctx)
    assert result.success, result.detail
    assert result.detail.startswith("connected to [::1]:")


# --------------------------------------------------------------------------- TLS


async def test_tls_success_reports_expiry(ca: Any, ca_file: str, ctx: ProbeContext) -> None:
    cert = ca.issue_cert("mail.daklak.lab", "127.0.0.73")
    async with serve("127.0.0.73", until_eof, server_tls(cert)) as port:
        result = await run(target("127.0.0.73", port, tls=True, ca_file=ca_file), ctx)
        by_name = await run(
            target("127.0.0.73", port, tls=True, ca_file=ca_file, server_name="mail.daklak.lab"),
            ctx,
        )
    assert result.success, result.detail
    assert by_name.success, by_name.detail
    got = samples(result)
    assert got["probe_ssl_earliest_cert_expiry"] == not_after(cert)
    assert got["probe_tcp_duration_seconds{phase=tls}"] > 0
    assert got["probe_tls_version_info{version=TLS 1.3}"] == 1
    assert "TLSv1.3" in result.detail
    # blackbox's probe_tls_cipher_info{cipher}: Go's IANA name of a TLS 1.3 suite
    ciphers = [k for k in got if k.startswith("probe_tls_cipher_info{")]
    assert ciphers in (
        ["probe_tls_cipher_info{cipher=TLS_AES_256_GCM_SHA384}"],
        ["probe_tls_cipher_info{cipher=TLS_AES_128_GCM_SHA256}"],
        ["probe_tls_cipher_info{cipher=TLS_CHACHA20_POLY1305_SHA256}"],
    )


async def test_tls_version_bounds(ca: Any, ca_file: str, ctx: ProbeContext) -> None:
    """tls_min_version / tls_max_version (blackbox's tls_config.min_version / max_version)."""
    only12 = server_tls(ca.issue_cert("127.0.0.79"))
    only12.maximum_version = ssl.TLSVersion.TLSv1_2
    async with serve("127.0.0.79", until_eof, only12) as port:
        refused = await run(
            target("127.0.0.79", port, tls=True, ca_file=ca_file, tls_min_version="TLS 1.3"), ctx
        )
        allowed = await run(
            target("127.0.0.79", port, tls=True, ca_file=ca_file, tls_max_version="TLS 1.2"), ctx
        )
    assert not refused.success and refused.reason == "tls", refused.detail
    assert allowed.success, allowed.detail
    assert samples(allowed)["probe_tls_version_info{version=TLS 1.2}"] == 1


async def test_tls_expired(ca: Any, ca_file: str, ctx: ProbeContext) -> None:
    now = dt.datetime.now(dt.UTC)
    cert = ca.issue_cert(
        "127.0.0.74", not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1)
    )
    async with serve("127.0.0.74", until_eof, server_tls(cert)) as port:
        result = await run(target("127.0.0.74", port, tls=True, ca_file=ca_file), ctx)
        unverified = await run(target("127.0.0.74", port, tls=True, tls_verify=False), ctx)
    assert not result.success
    assert result.reason == "tls"
    assert "expired" in result.detail
    assert "probe_tcp_duration_seconds{phase=connect}" in samples(result)
    # Not verifying still shows the (past) expiry, for the dashboards.
    assert unverified.success, unverified.detail
    assert samples(unverified)["probe_ssl_earliest_cert_expiry"] == not_after(cert)


async def test_tls_unknown_ca(ca: Any, ctx: ProbeContext, tmp_path: Path) -> None:
    cert = ca.issue_cert("127.0.0.75")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with serve("127.0.0.75", until_eof, server_tls(cert)) as port:
        result = await run(target("127.0.0.75", port, tls=True, ca_file=str(other)), ctx)
    assert not result.success
    assert result.reason == "tls"
    assert "local issuer" in result.detail or "self-signed" in result.detail, result.detail


async def test_tls_wrong_hostname(ca: Any, ca_file: str, ctx: ProbeContext) -> None:
    cert = ca.issue_cert("mail.daklak.lab")
    async with serve("127.0.0.76", until_eof, server_tls(cert)) as port:
        by_ip = await run(target("127.0.0.76", port, tls=True, ca_file=ca_file), ctx)
        by_name = await run(
            target("127.0.0.76", port, tls=True, ca_file=ca_file, server_name="www.daklak.lab"),
            ctx,
        )
    for result in (by_ip, by_name):
        assert not result.success
        assert result.reason == "tls"
        assert "mismatch" in result.detail.lower(), result.detail


async def test_tls_to_a_plain_server(ctx: ProbeContext) -> None:
    async with serve("127.0.0.77", smtp_like) as port:
        result = await run(target("127.0.0.77", port, tls=True), ctx)
    assert not result.success
    assert result.reason == "tls", result.detail


async def test_tls_then_banner(ca: Any, ca_file: str, ctx: ProbeContext) -> None:
    cert = ca.issue_cert("127.0.0.78")
    async with serve("127.0.0.78", smtp_like, server_tls(cert)) as port:
        t = target("127.0.0.78", port, tls=True, ca_file=ca_file, expect_banner="220")
        result = await run(t, ctx)
    assert result.success, result.detail
    got = samples(result)
    assert {"connect", "tls", "banner"} <= {
        k.split("=")[1].rstrip("}") for k in got if k.startswith("probe_tcp_duration_seconds")
    }


# --------------------------------------------------------------------------- banners


async def test_banner_matches(ctx: ProbeContext) -> None:
    async with serve("127.0.0.79", smtp_like) as port:
        result = await run(target("127.0.0.79", port, expect_banner="220"), ctx)
    assert result.success, result.detail
    assert "probe_tcp_duration_seconds{phase=banner}" in samples(result)
    assert "220 mail.daklak.lab ESMTP netmon-lab" in result.detail


async def test_wrong_banner(ctx: ProbeContext) -> None:
    async with serve("127.0.0.79", smtp_like) as port:
        result = await run(target("127.0.0.79", port, expect_banner="SSH-2.0"), ctx)
    assert not result.success
    assert result.reason == "banner"
    assert "'220 mail.daklak.lab ESMTP netmon-lab'" in result.detail
    assert "'SSH-2.0'" in result.detail


async def test_wrong_banner_shown_safely(ctx: ProbeContext) -> None:
    hostile = b"\x1b[2J\x00\xff" + "Chào mừng ".encode() + b"x" * 5000
    async with serve("127.0.0.80", sends(hostile)) as port:
        result = await run(target("127.0.0.80", port, expect_banner="220"), ctx)
    assert not result.success
    assert result.reason == "banner"
    assert "\x1b" not in result.detail and "\x00" not in result.detail
    assert "\\x1b" in result.detail and "Chào mừng" in result.detail
    assert len(result.detail) < 250


async def test_banner_only_first_line_counts(ctx: ProbeContext) -> None:
    async with serve("127.0.0.80", sends(b"welcome\r\n220 later\r\n")) as port:
        result = await run(target("127.0.0.80", port, expect_banner="220"), ctx)
    assert result.reason == "banner", result.detail


async def test_closed_without_banner(ctx: ProbeContext) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with serve("127.0.0.81", hang_up) as port:
        result = await run(target("127.0.0.81", port, expect_banner="220"), ctx)
    assert not result.success
    assert result.reason == "banner"
    assert "without a banner" in result.detail


async def test_silent_banner_is_cut_by_the_outer_timeout(ctx: ProbeContext) -> None:
    async with serve("127.0.0.82", until_eof) as port:
        before = open_fds()
        with pytest.raises(TimeoutError):
            await run(target("127.0.0.82", port, expect_banner="220"), ctx, limit=0.3)
        await asyncio.sleep(0.01)
        assert open_fds() == before  # the probe's socket is closed


async def test_silent_tls_handshake_is_cut_by_the_outer_timeout(ctx: ProbeContext) -> None:
    async with serve("127.0.0.83", until_eof) as port:
        before = open_fds()
        with pytest.raises(TimeoutError):
            await run(target("127.0.0.83", port, tls=True), ctx, limit=0.3)
        await asyncio.sleep(0.01)
        assert open_fds() == before


async def test_cancelled_probe_propagates(ctx: ProbeContext) -> None:
    async with serve("127.0.0.84", until_eof) as port:
        task = asyncio.create_task(
            tcp_probe.probe(target("127.0.0.84", port, expect_banner="x"), ctx)
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
