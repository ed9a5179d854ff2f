"""The sip probe against Debian's kamailio on loopback (127.0.8.1, 127.0.8.2: OPTIONS, a
registrar with a test user, TLS with a trustme certificate) and against hostile servers of
the test's own (127.0.8.10..): silence, garbage, a 100 KB answer, a drip, answers to
another request, a provisional answer before the final one."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from monitor.config import Target
from probes import sip
from probes.base import ProbeResult
from probes.context import ProbeContext
from probes.sip import Challenge, SipProtocolError, digest_authorization, parse_response
from tests.probes.test_catalogue import check
from tests.support.common import REPO
from tests.support.kamailio import PASSWORD, SERVER, USER, Kamailio, kamailio_missing
from tests.support.sip import header, port_of_udp, reply, udp_server

KAMAILIO_HOST = "127.0.8.1"
SHA256_HOST = "127.0.8.2"
needs_kamailio = pytest.mark.skipif(kamailio_missing() is not None, reason=str(kamailio_missing()))


def target(host: str, timeout: str = "3s", **options: Any) -> Target:
    return Target.model_validate(
        {"name": "pbx-test", "kind": "sip", "host": host, "timeout": timeout, "sip": options}
    )


def samples(result: ProbeResult) -> dict[str, float]:
    return {s.name + "".join(f"{{{k}={v}}}" for k, v in s.labels): s.value for s in result.samples}


async def run(t: Target, ctx: ProbeContext, limit: float = 10.0) -> ProbeResult:
    async with asyncio.timeout(limit):
        return await sip.probe(t, ctx)


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def pbx(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Kamailio]:
    if kamailio_missing():
        pytest.skip(str(kamailio_missing()))
    server = Kamailio(tmp_path / "kamailio", KAMAILIO_HOST, ca)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def port_of(pbx: Kamailio, transport: str) -> int:
    return pbx.tls_port if transport == "tls" else pbx.port


# --------------------------------------------------------------------------- kamailio


@needs_kamailio
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_options_answered_by_kamailio(
    pbx: Kamailio, ctx: ProbeContext, transport: str
) -> None:
    t = target(
        KAMAILIO_HOST, transport=transport, port=port_of(pbx, transport), ca_file=pbx.ca_file
    )
    result = await run(t, ctx)
    assert result.success, result.detail
    got = samples(result)
    assert got["probe_sip_status_code"] == 200
    assert got[f"probe_sip_info{{server={SERVER}}}"] == 1
    assert 0 < got["probe_sip_duration_seconds{phase=options}"] < 1
    assert "probe_sip_register_success" not in got
    assert f"over {transport.upper()}" in result.detail and "200 OK" in result.detail
    if transport == "tls":
        assert got["probe_tls_version_info{version=TLSv1.3}"] == 1
        assert got["probe_ssl_earliest_cert_expiry"] > 0
        assert got["probe_sip_duration_seconds{phase=tls}"] > 0
    if transport != "udp":
        assert got["probe_sip_duration_seconds{phase=connect}"] > 0


@needs_kamailio
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_register_leaves_no_binding(
    pbx: Kamailio, ctx: ProbeContext, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extension registers (digest MD5) and its binding is removed; another binding of
    the same user (a phone's, put there by hand) stays."""
    monkeypatch.setenv("NETMON_TEST_SIP_PASSWORD", PASSWORD)
    phone = "sip:101@127.0.8.9:5060"
    await pbx.add_binding(USER, phone)
    assert phone in await pbx.bindings(USER)
    t = target(
        KAMAILIO_HOST,
        transport=transport,
        port=port_of(pbx, transport),
        ca_file=pbx.ca_file,
        register={"user": USER, "password_env": "NETMON_TEST_SIP_PASSWORD"},
    )
    result = await run(t, ctx)
    assert result.success, result.detail
    got = samples(result)
    assert got["probe_sip_register_success"] == 1
    assert got["probe_sip_duration_seconds{phase=register}"] > 0
    assert f"{USER}@{KAMAILIO_HOST} registered" in result.detail
    assert result.detail.endswith("and unregistered"), result.detail
    left = await pbx.bindings(USER)
    assert re.findall(r"Address: (\S+)", left) == [phone], left
    assert PASSWORD not in result.detail


def test_a_binding_that_stays_is_seen() -> None:
    """The probe reads the removal's 200, which lists the bindings left (RFC 3261 §10.3):
    netmon's contact among them means the removal was not applied."""
    response = parse_response(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKx\r\n"
        b"Contact: <sip:101@127.0.0.1:4000;transport=udp>;expires=60, <sip:101@127.0.8.9>\r\n"
        b"Call-ID: a\r\nCSeq: 3 REGISTER\r\nContent-Length: 0\r\n\r\n"
    )
    assert response is not None
    assert sip._binds(response, "<sip:101@127.0.0.1:4000;transport=udp>")
    assert not sip._binds(response, "<sip:101@127.0.0.1:4001;transport=udp>")


@needs_kamailio
async def test_register_from_a_password_file(
    pbx: Kamailio, ctx: ProbeContext, tmp_path: Path
) -> None:
    secret = tmp_path / "sip-101.secret"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    t = target(KAMAILIO_HOST, port=pbx.port, register={"user": USER, "password_file": str(secret)})
    result = await run(t, ctx)
    assert result.success, result.detail
    assert samples(result)["probe_sip_register_success"] == 1


@needs_kamailio
async def test_a_wrong_password_is_sip_auth(pbx: Kamailio, ctx: ProbeContext) -> None:
    t = target(KAMAILIO_HOST, port=pbx.port, register={"user": USER, "password": "sai-mật-khẩu"})
    result = await run(t, ctx)
    assert not result.success
    assert result.reason == "sip_auth", result.detail
    assert "refused the credentials of 101@" in result.detail
    got = samples(result)
    assert got["probe_sip_register_success"] == 0
    assert got["probe_sip_status_code"] == 200  # the OPTIONS still answered
    assert "sai-mật-khẩu" not in result.detail
    assert "Address:" not in await pbx.bindings(USER)


@needs_kamailio
async def test_another_user_is_forbidden(pbx: Kamailio, ctx: ProbeContext) -> None:
    """kamailio checks the password, then that the user is 101: 102 gets a 403."""
    t = target(KAMAILIO_HOST, port=pbx.port, register={"user": "102", "password": PASSWORD})
    result = await run(t, ctx)
    assert result.reason == "sip_auth", result.detail
    assert "(403 Forbidden)" in result.detail


@needs_kamailio
async def test_register_with_sha256_digest(tmp_path: Path, ctx: ProbeContext) -> None:
    """RFC 8760: a registrar that challenges with SHA-256 only."""
    server = Kamailio(tmp_path / "kamailio-sha256", SHA256_HOST, algorithm="SHA-256")
    await server.start()
    try:
        t = target(SHA256_HOST, port=server.port, register={"user": USER, "password": PASSWORD})
        result = await run(t, ctx)
        wrong = await run(
            target(SHA256_HOST, port=server.port, register={"user": USER, "password": "x"}), ctx
        )
    finally:
        await server.stop()
    assert result.success, result.detail
    assert "unregistered" in result.detail
    assert wrong.reason == "sip_auth", wrong.detail


@needs_kamailio
async def test_interval_too_brief_is_retried_with_the_minimum(
    tmp_path: Path, ctx: ProbeContext
) -> None:
    """A registrar whose minimum is 120 s answers the 60 s REGISTER 423 (Min-Expires: 120):
    the probe registers again for 120 s, and still removes the binding."""
    server = Kamailio(tmp_path / "kamailio-423", "127.0.8.3", min_expires=120)
    await server.start()
    try:
        t = target("127.0.8.3", port=server.port, register={"user": USER, "password": PASSWORD})
        result = await run(t, ctx)
        left = await server.bindings(USER)
    finally:
        await server.stop()
    assert result.success, result.detail
    assert result.detail.endswith("and unregistered"), result.detail
    assert "Address:" not in left, left


async def test_register_headers(ctx: ProbeContext) -> None:
    """The REGISTER's From and To are the address of record, its Contact netmon's socket
    with the extension's user, Expires as set then 0; a registrar that lists the binding
    still after the removal is said to have kept it."""
    requests: list[str] = []

    def answer(req: bytes) -> list[bytes]:
        text = req.decode()
        requests.append(text)
        if text.startswith("REGISTER"):
            contact = header(req, "Contact")
            return [reply(req, extra=f"Contact: {contact};expires=60\r\n")]
        return [reply(req)]

    async with udp_server("127.0.8.18", answer) as server:
        t = target(
            "127.0.8.18",
            port=port_of_udp(server),
            register={"user": "1080", "password": "p", "domain": "pbx.daklak.lab"},
        )
        result = await run(t, ctx)
    assert result.success, result.detail
    assert "the registrar kept its binding: it lapses in 60 s" in result.detail
    register, removal = requests[1], requests[2]
    assert register.startswith("REGISTER sip:pbx.daklak.lab SIP/2.0\r\n")
    assert "\r\nFrom: <sip:1080@pbx.daklak.lab>;tag=" in register
    assert "\r\nTo: <sip:1080@pbx.daklak.lab>\r\n" in register
    assert re.search(r"\r\nContact: <sip:1080@127\.[0-9.]+:\d+;transport=udp>\r\n", register)
    assert "\r\nExpires: 60\r\n" in register and "\r\nExpires: 0\r\n" in removal
    assert header(register.encode(), "Call-ID") == header(removal.encode(), "Call-ID")
    assert header(register.encode(), "CSeq") == "2 REGISTER"
    assert header(removal.encode(), "CSeq") == "3 REGISTER"


@needs_kamailio
async def test_an_unexpected_status_is_status(pbx: Kamailio, ctx: ProbeContext) -> None:
    result = await run(target(KAMAILIO_HOST, port=pbx.port, expect_status=[404]), ctx)
    assert result.reason == "status", result.detail
    assert "expected 404" in result.detail
    assert samples(result)["probe_sip_status_code"] == 200


@needs_kamailio
async def test_tls_with_an_unknown_ca_is_tls(pbx: Kamailio, ctx: ProbeContext) -> None:
    result = await run(target(KAMAILIO_HOST, transport="tls", port=pbx.tls_port), ctx)
    assert result.reason == "tls", result.detail
    assert "certificate not accepted" in result.detail
    wrong_name = await run(
        target(
            KAMAILIO_HOST,
            transport="tls",
            port=pbx.tls_port,
            ca_file=pbx.ca_file,
            server_name="sip.other.lab",
        ),
        ctx,
    )
    assert wrong_name.reason == "tls", wrong_name.detail
    unverified = await run(
        target(KAMAILIO_HOST, transport="tls", port=pbx.tls_port, tls_verify=False), ctx
    )
    assert unverified.success, unverified.detail


@needs_kamailio
async def test_kamailio_samples_are_declared(
    pbx: Kamailio, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """probes/catalogue.py's SIP families, each emitted, none undeclared (as test_catalogue)."""
    results = [
        await run(
            target(
                KAMAILIO_HOST,
                transport="tls",
                port=pbx.tls_port,
                ca_file=pbx.ca_file,
                register={"user": USER, "password": PASSWORD},
            ),
            ctx,
        ),
    ]
    assert results[0].success, results[0].detail
    check("sip", results)


# --------------------------------------------------------------------------- hostile servers


async def test_udp_silence_is_a_timeout_after_retransmissions(ctx: ProbeContext) -> None:
    async with udp_server("127.0.8.10", lambda _: []) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await run(target("127.0.8.10", timeout="3s", port=port_of_udp(server)), ctx)
        took = loop.time() - started
    assert result.reason == "timeout", result.detail
    assert 2.6 < took < 3.0  # 90 % of the target's timeout: the probe's own reason
    # Sent at 0, 0.5 and 1.5 s (T1 doubling; the next would be at 3.5 s): the same request.
    assert len(server.received) == 3
    assert len(set(server.received)) == 1


async def test_ipv6_literal(ctx: ProbeContext) -> None:
    async with udp_server("::1", lambda req: [reply(req)]) as server:
        port = port_of_udp(server)
        result = await run(target("::1", port=port, user="1080"), ctx)
    assert result.success, result.detail
    assert result.detail.startswith("[::1]:")
    request = server.received[0].decode()
    assert request.startswith(f"OPTIONS sip:1080@[::1]:{port} SIP/2.0\r\n")
    assert "\r\nVia: SIP/2.0/UDP [::1]:" in request


async def test_unresolvable_name_is_dns(ctx: ProbeContext) -> None:
    result = await run(target("pbx.invalid"), ctx)
    assert result.reason == "dns", result.detail


async def test_udp_closed_port_is_refused(ctx: ProbeContext) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.8.11", 0))
        port = s.getsockname()[1]
    result = await run(target("127.0.8.11", port=port), ctx)
    assert result.reason == "refused", result.detail


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"\x00\xff" * 40,
        b"SIP/2.0 200 OK\r\nthis is no header\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        b"X" * 65_000,  # as large as a loopback datagram gets
    ],
)
async def test_udp_garbage_is_protocol(ctx: ProbeContext, garbage: bytes) -> None:
    async with udp_server("127.0.8.12", lambda _: [garbage]) as server:
        result = await run(target("127.0.8.12", port=port_of_udp(server)), ctx)
    assert result.reason == "protocol", result.detail
    assert len(result.detail) < 400


@pytest.mark.parametrize(
    "change",
    [
        {"via": "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKother;rport"},
        {"call_id": "not-the-probes"},
        {"cseq": "7 OPTIONS"},
    ],
)
async def test_an_answer_to_another_request_is_ignored(
    ctx: ProbeContext, change: dict[str, str]
) -> None:
    async with udp_server("127.0.8.13", lambda req: [reply(req, **change)]) as server:
        result = await run(target("127.0.8.13", timeout="1.5s", port=port_of_udp(server)), ctx)
    assert result.reason == "protocol", result.detail
    assert "responses to another request ignored" in result.detail


async def test_a_flood_of_answers_to_another_request_is_protocol(ctx: ProbeContext) -> None:
    def answer(req: bytes) -> list[bytes]:
        return [reply(req, call_id=f"flood-{n}") for n in range(30)]

    async with udp_server("127.0.8.19", answer) as server:
        result = await run(target("127.0.8.19", timeout="3s", port=port_of_udp(server)), ctx)
    assert result.reason == "protocol", result.detail
    assert "21 responses, none to netmon's request" in result.detail
    assert len(server.received) == 1  # ended at once, not at the deadline


async def test_a_host_name_is_resolved(ctx: ProbeContext) -> None:
    async with tcp_server("127.0.0.1", tcp_answer(lambda req: reply(req))) as port:
        result = await run(target("localhost", transport="tcp", port=port), ctx)
    assert result.success, result.detail
    assert "probe_sip_duration_seconds{phase=resolve}" in samples(result)


async def test_a_wrong_answer_then_the_right_one_succeeds(ctx: ProbeContext) -> None:
    def answer(req: bytes) -> list[bytes]:
        return [reply(req, call_id="stale"), reply(req, extra="User-Agent: FPBX-16\r\n")]

    async with udp_server("127.0.8.14", answer) as server:
        result = await run(target("127.0.8.14", port=port_of_udp(server)), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_sip_info{server=FPBX-16}"] == 1


async def test_provisional_answers_are_waited_past(ctx: ProbeContext) -> None:
    def answer(req: bytes) -> list[bytes]:
        return [reply(req, "100 Trying"), reply(req, "183 Session Progress"), reply(req)]

    async with udp_server("127.0.8.15", answer, delay=0.3) as server:
        result = await run(target("127.0.8.15", port=port_of_udp(server)), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_sip_status_code"] == 200
    assert samples(result)["probe_sip_duration_seconds{phase=options}"] >= 0.8


async def test_only_provisional_is_a_timeout(ctx: ProbeContext) -> None:
    async with udp_server("127.0.8.16", lambda req: [reply(req, "100 Trying")]) as server:
        result = await run(target("127.0.8.16", timeout="1s", port=port_of_udp(server)), ctx)
    assert result.reason == "timeout", result.detail


async def test_an_accepted_final_code(ctx: ProbeContext) -> None:
    """A PBX that answers OPTIONS 405: up when the target lists 405."""
    async with udp_server("127.0.8.17", lambda req: [reply(req, "405 Method Not Allowed")]) as s:
        refused = await run(target("127.0.8.17", port=port_of_udp(s)), ctx)
        accepted = await run(target("127.0.8.17", port=port_of_udp(s), expect_status=[405]), ctx)
    assert refused.reason == "status" and "expected 200" in refused.detail
    assert accepted.success, accepted.detail
    assert samples(accepted)["probe_sip_status_code"] == 405


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(host: str, handler: Handler) -> AsyncIterator[int]:
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[Any]] = set()

    async def run_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(run_one, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        if tasks:  # aborted connections end their handlers (as tests/probes/test_tcp.py)
            _, stuck = await asyncio.wait(tasks, timeout=2)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await server.wait_closed()


def tcp_answer(make: Callable[[bytes], bytes], drip: float = 0.0) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        data = make(request)
        if drip:
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(drip)
        else:
            writer.write(data)
            await writer.drain()
        await reader.read()

    return handler


def huge_headers(req: bytes) -> bytes:
    return reply(req, extra="X-Filler: " + "a" * 100_000 + "\r\n")


def huge_body(req: bytes) -> bytes:
    return reply(req).replace(b"Content-Length: 0", b"Content-Length: 100000") + b"b" * 100_000


def no_length(req: bytes) -> bytes:
    return reply(req).replace(b"Content-Length: 0\r\n", b"")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (huge_headers, "headers longer than 65535 bytes"),
        (huge_body, "a body of 100000 bytes"),
        (no_length, "no Content-Length over a stream transport"),
        (lambda req: b"\x16\x03\x01garbage\r\n\r\n", "not a SIP status line"),
    ],
)
async def test_tcp_hostile_answers_are_protocol(
    ctx: ProbeContext, make: Callable[[bytes], bytes], why: str
) -> None:
    async with tcp_server("127.0.8.20", tcp_answer(make)) as port:
        result = await run(target("127.0.8.20", transport="tcp", port=port), ctx)
    assert result.reason == "protocol", result.detail
    assert why in result.detail
    assert len(result.detail) < 400


def short_body(req: bytes) -> bytes:
    return reply(req).replace(b"Content-Length: 0", b"Content-Length: 100") + b"ten bytes."


async def test_tcp_closed_within_the_body_is_protocol(ctx: ProbeContext) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(short_body(await reader.readuntil(b"\r\n\r\n")))
        await writer.drain()
        writer.close()

    async with tcp_server("127.0.8.24", handler) as port:
        result = await run(target("127.0.8.24", transport="tcp", port=port), ctx)
    assert result.reason == "protocol", result.detail
    assert "closed within the body (10 of 100 bytes)" in result.detail


async def test_tls_to_a_server_that_does_not_speak_tls(ctx: ProbeContext) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SIP/2.0 200 OK\r\n\r\n" * 20)
        await writer.drain()
        await reader.read()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with tcp_server("127.0.8.25", plain) as port:
        garbage = await run(target("127.0.8.25", transport="tls", port=port), ctx)
    async with tcp_server("127.0.8.25", silent) as port:
        hung = await run(target("127.0.8.25", timeout="1s", transport="tls", port=port), ctx)
    assert garbage.reason == "tls", garbage.detail
    assert hung.reason == "timeout", hung.detail
    assert "(and the TLS handshake) timed out" in hung.detail


async def test_tcp_drip_is_a_timeout_within_the_budget(ctx: ProbeContext) -> None:
    async with tcp_server("127.0.8.21", tcp_answer(lambda req: reply(req), drip=0.05)) as port:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await run(target("127.0.8.21", timeout="1s", transport="tcp", port=port), ctx)
        took = loop.time() - started
    assert result.reason == "timeout", result.detail
    assert took < 1.0


async def test_tcp_closed_at_once_and_refused(ctx: ProbeContext) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with tcp_server("127.0.8.22", hang_up) as port:
        closed = await run(target("127.0.8.22", transport="tcp", port=port), ctx)
    refused = await run(target("127.0.8.22", transport="tcp", port=port), ctx)
    assert closed.reason == "protocol", closed.detail
    assert "broke the connection during OPTIONS" in closed.detail
    assert refused.reason == "refused", refused.detail


async def test_tcp_answer_split_and_preceded_by_keepalives(ctx: ProbeContext) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        data = b"\r\n\r\n" + reply(request, "100 Trying") + reply(request)
        for part in (data[:7], data[7:90], data[90:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.02)
        await reader.read()

    async with tcp_server("127.0.8.23", handler) as port:
        result = await run(target("127.0.8.23", transport="tcp", port=port), ctx)
    assert result.success, result.detail


# --------------------------------------------------------------------------- the parser, digest


def valid_response() -> bytes:
    return (
        b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport=5060\r\n"
        b"i: call-1\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 20.5\r\n"
        b"Allow: INVITE, ACK,\r\n OPTIONS\r\nl: 4\r\n\r\nv=0\r\n"
    )


def test_parser_reads_compact_folded_headers() -> None:
    response = parse_response(valid_response())
    assert response is not None
    assert response.code == 200 and response.phrase == "OK"
    assert response.first("call-id") == "call-1"
    assert response.first("allow") == "INVITE, ACK, OPTIONS"
    assert response.body == b"v=0\r"[:4]
    assert parse_response(b"OPTIONS sip:x SIP/2.0\r\n\r\n") is None  # a request: ignored
    assert parse_response(b"\r\n\r\n") is None  # a keepalive


def test_parser_survives_random_and_mutated_input() -> None:
    """Whatever the bytes, the parser returns or raises SipProtocolError: nothing else."""
    rng = random.Random(16)
    base = valid_response()
    for _ in range(3000):
        if rng.random() < 0.3:
            data = rng.randbytes(rng.randint(0, 300))
        else:
            mutated = bytearray(base)
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(mutated))
                mutated[i : i + rng.randint(0, 3)] = rng.randbytes(rng.randint(0, 3))
            data = bytes(mutated)
        with contextlib.suppress(SipProtocolError):
            parse_response(data)


def test_digest_rfc2617_md5_example() -> None:
    """RFC 2617 §3.5's example (the same arithmetic SIP uses)."""
    challenge = Challenge(
        "www-authenticate",
        {
            "realm": "testrealm@host.com",
            "qop": "auth,auth-int",
            "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
        },
    )
    value = digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "qop=auth, nc=00000001" in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


def test_digest_rfc7616_sha256_example() -> None:
    params = sip.parse_challenge(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    assert params is not None
    value = digest_authorization(
        Challenge("www-authenticate", params),
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in value


def test_the_strongest_challenge_is_answered() -> None:
    response = parse_response(
        b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
        b'WWW-Authenticate: Digest realm="pbx", nonce="n1", algorithm=MD5\r\n'
        b'WWW-Authenticate: Digest realm="pbx", nonce="n2", algorithm=SHA-256\r\n'
        b'WWW-Authenticate: Digest realm="pbx", nonce="n3", algorithm=SHA-1024\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    assert response is not None
    picked = sip.pick_challenge(response)
    assert picked is not None and picked.params["nonce"] == "n2"
    with pytest.raises(SipProtocolError):
        sip.parse_challenge('Digest realm="pbx", nonce')


# --------------------------------------------------------------------------- settings


def check_config(tmp_path: Path, sip_table: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[[targets]]\nname = "venue-pbx"\nkind = "sip"\nhost = "127.0.8.30"\nsip = {sip_table}\n',
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ("{ expect_status = [180] }", "targets[0].sip.expect_status"),
        ('{ transport = "sctp" }', "targets[0].sip.transport"),
        ("{ port = 0 }", "targets[0].sip.port"),
        ('{ register = { user = "101" } }', "targets[0].sip.register"),
        (
            '{ register = { user = "101", password_env = "NETMON_NO_SUCH_VAR" } }',
            "targets[0].sip.register.password_env",
        ),
        ('{ register = { user = "1 01", password = "p" } }', "targets[0].sip.register.user"),
        ('{ user = "a@b" }', "targets[0].sip.user"),
        ("{ timeout = 3 }", "targets[0].sip.timeout"),
    ],
)
def test_bad_settings_name_their_key(tmp_path: Path, table: str, said: str) -> None:
    done = check_config(tmp_path, table)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_good_settings_pass(tmp_path: Path) -> None:
    done = check_config(
        tmp_path,
        '{ transport = "tls", expect_status = [200, 403], register = { user = "101", '
        'password = "bí-mật" } }',
    )
    assert done.returncode == 0, done.stderr
    assert "bí-mật" not in done.stdout + done.stderr


def test_the_secret_is_not_in_a_type_error(tmp_path: Path) -> None:
    done = check_config(tmp_path, '{ register = { user = "101", password = 12345678 } }')
    assert done.returncode == 2
    assert "targets[0].sip.register.password" in done.stderr
    assert "12345678" not in done.stderr
