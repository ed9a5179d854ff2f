"""tcp.query_response and STARTTLS: blackbox_exporter's TCP scenarios (prober/tcp_test.go)
replayed against asyncio servers that answer as its Go ones do; then real mail servers on
loopback: aiosmtpd with STARTTLS (a trustme certificate) and Debian's dovecot (IMAP and POP3
STARTTLS), started here with a minimal configuration in a temporary directory.

Addresses: 127.0.15.5 (asyncio servers), 127.0.15.6 (dovecot), 127.0.15.7 (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from probes import tcp as tcp_probe
from probes.context import ProbeContext
from probes.resolve import LOOKUP_KEY, Lookup, hosts_lookup
from tests.probes.test_tcp import (
    Handler,
    not_after,
    run,
    samples,
    serve,
    server_tls,
    target,
    until_eof,
)
from tests.support.common import free_port

HOST = "127.0.15.5"
DOVECOT_HOST = "127.0.15.6"
SMTP_HOST = "127.0.15.7"
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def lines(reader: asyncio.StreamReader) -> str:
    return (await reader.readline()).decode().rstrip("\r\n")


# --------------------------------------------------------------------------- blackbox's cases


def starttls_pseudo_server(context: ssl.SSLContext, seen: list[str]) -> Handler:
    """TestTCPConnectionQueryResponseStartTLS's server, line for line."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ESMTP StartTLS pseudo-server\n")
        seen.append(await lines(reader))  # EHLO
        writer.write(b"250-pseudo-server.bbx.lab\n250-STARTTLS\n250 DSN\n")
        seen.append(await lines(reader))  # STARTTLS
        writer.write(b"220 2.0.0 Ready to start TLS\n")
        await writer.drain()
        raw = writer.transport
        try:
            await writer.start_tls(context)
        except AttributeError:
            # Python 3.11's server-side start_tls when the client refuses the certificate:
            # the loop hands back no transport and the writer keeps None (then fails in
            # __del__). Give it back the closed one.
            writer._transport = raw  # type: ignore[attr-defined]
            return
        seen.append(await lines(reader))  # EHLO over TLS
        writer.write(b"250-AUTH\n250 DSN\n")
        await writer.drain()
        seen.append(await lines(reader))  # QUIT
        await reader.read()

    return handler


BLACKBOX_STARTTLS = [
    {"expect": "^220.*ESMTP.*$"},
    {"send": "EHLO tls.prober"},
    {"expect": "^250-STARTTLS"},
    {"send": "STARTTLS"},
    {"expect": "^220"},
    {"starttls": True},
    {"send": "EHLO tls.prober"},
    {"expect": "^250-AUTH"},
    {"send": "QUIT"},
]


async def test_blackbox_query_response_starttls(
    ca: trustme.CA, ca_file: str, ctx: ProbeContext
) -> None:
    cert = ca.issue_cert(HOST)
    seen: list[str] = []
    async with serve(HOST, starttls_pseudo_server(server_tls(cert), seen)) as port:
        t = target(HOST, port, query_response=BLACKBOX_STARTTLS, ca_file=ca_file)
        result = await run(t, ctx)
    assert result.success, result.detail
    got = samples(result)
    assert got["probe_ssl_earliest_cert_expiry"] == not_after(cert)
    assert any(k.startswith("probe_tls_version_info{version=TLS 1.") for k in got)
    assert got["probe_failed_due_to_regex"] == 0
    assert "probe_tcp_duration_seconds{phase=starttls}" in got
    assert seen == ["EHLO tls.prober", "STARTTLS", "EHLO tls.prober", "QUIT"]
    assert "STARTTLS TLSv1." in result.detail


async def test_starttls_with_an_untrusted_certificate_fails_tls(
    ca: trustme.CA, ctx: ProbeContext
) -> None:
    cert = ca.issue_cert(HOST)
    async with serve(HOST, starttls_pseudo_server(server_tls(cert), [])) as port:
        result = await run(target(HOST, port, query_response=BLACKBOX_STARTTLS), ctx)
    assert result.reason == "tls", result.detail
    assert result.detail.startswith("after STARTTLS: TLS handshake with")
    assert "certificate" in result.detail
    got = samples(result)
    assert got["probe_failed_due_to_regex"] == 0 and got["probe_failed_due_to_bytes"] == 0
    assert "probe_ssl_earliest_cert_expiry" not in got


def irc_server(blacklisted: bool) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b":ircd.localhost NOTICE AUTH :*** Looking up your hostname...\n")
        nick = (await lines(reader)).split(" ", 1)[1]
        await lines(reader)  # USER
        if blacklisted:
            writer.write(b"ERROR: Your IP address has been blacklisted.\n")
        else:
            writer.write(f":ircd.localhost 001 {nick} :Welcome to IRC!\n".encode())
        await writer.drain()
        writer.close()

    return handler


IRC = [
    {"send": "NICK prober"},
    {"send": "USER prober prober prober :prober"},
    {"expect": "^:[^ ]+ 001"},
]


async def test_blackbox_query_response_irc(ctx: ProbeContext) -> None:
    async with serve(HOST, irc_server(False)) as port:
        result = await run(target(HOST, port, query_response=IRC), ctx)
    assert result.success, result.detail
    assert samples(result)["probe_failed_due_to_regex"] == 0
    async with serve(HOST, irc_server(True)) as port:
        result = await run(target(HOST, port, query_response=IRC), ctx)
    assert result.reason == "expect"
    assert samples(result)["probe_failed_due_to_regex"] == 1
    assert "step 3 expected a line matching '^:[^ ]+ 001'" in result.detail
    assert "blacklisted" in result.detail  # the last line read is shown


async def test_blackbox_query_response_matching(ctx: ProbeContext) -> None:
    confirmed: list[str] = []

    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_6.9p1 Debian-2\n")
        confirmed.append(await lines(reader))
        writer.close()

    steps = [
        {
            "expect": "^SSH-2.0-([^ -]+)(?: (.*))?$",
            "send": "CONFIRM ${1}",
            "labels": {"ssh_version": "${1}", "ssh_comments": "${2}"},
        }
    ]
    async with serve(HOST, ssh) as port:
        result = await run(target(HOST, port, query_response=steps), ctx)
    assert result.success, result.detail
    assert confirmed == ["CONFIRM OpenSSH_6.9p1"]
    got = samples(result)
    assert got["probe_failed_due_to_regex"] == 0
    assert got["probe_expect_info{step=1}{name=ssh_version}{value=OpenSSH_6.9p1}"] == 1
    assert got["probe_expect_info{step=1}{name=ssh_comments}{value=Debian-2}"] == 1


async def test_blackbox_query_response_byte_mode(ctx: ProbeContext) -> None:
    """TestTCPConnectionQueryResponseByteMode and ...ByteModeFail."""
    for sent, should in ((b"not-a-line", True), (b"something-else", False)):
        async with serve(HOST, sends_and_closes(sent)) as port:
            steps = [{"expect_bytes": "not-a-line"}]
            result = await run(target(HOST, port, query_response=steps), ctx)
        assert result.success is should, result.detail
        got = samples(result)
        assert got["probe_failed_due_to_regex"] == 0
        assert got["probe_failed_due_to_bytes"] == (0 if should else 1)
    async with serve(HOST, sends_and_closes(b"not-a")) as port:
        result = await run(target(HOST, port, query_response=steps), ctx)
    assert result.reason == "expect" and "after 5" in result.detail
    assert samples(result)["probe_failed_due_to_bytes"] == 0  # too short, as blackbox's


async def test_blackbox_timeout_tcp_server_closes_before_the_line(ctx: ProbeContext) -> None:
    """TestPrometheusTimeoutTCP: the server hangs up before the expected line."""
    async with serve(HOST, sends_and_closes(b"")) as port:
        steps = [{"expect": "SSH-2.0-(OpenSSH_6.9p1) Debian-2"}]
        result = await run(target(HOST, port, query_response=steps), ctx)
    assert result.reason == "expect"
    assert "the server closed the connection" in result.detail
    assert samples(result)["probe_failed_due_to_regex"] == 1


def sends_and_closes(data: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        writer.close()

    return handler


def test_blackbox_probe_expect_info_templates() -> None:
    """TestProbeExpectInfo: label templates filled from the match."""
    match = re.search(r"^SSH-2.0-([^ -]+)(?: (.*))?$", "SSH-2.0-OpenSSH_6.9p1 Debian-2")
    assert match is not None
    assert tcp_probe.expand("got ${1} here", match) == "got OpenSSH_6.9p1 here"
    assert tcp_probe.expand("${1} on ${2}", match) == "OpenSSH_6.9p1 on Debian-2"


def test_expand_follows_go() -> None:
    match = re.search(r"(?P<user>\w+)@(\w+)", "noc@daklak")
    assert match is not None
    expand = tcp_probe.expand
    assert expand("${1} at ${2}", match) == "noc at daklak"
    assert expand("$user/${user}/$$1/$9/${nope}", match) == "noc/noc/$1//"
    assert expand("$1x", match) == ""  # Go reads the name "1x": no such group


@pytest.fixture
async def hosts(ctx: ProbeContext) -> AsyncIterator[dict[str, list[str]]]:
    """A hosts table the probes of ``ctx`` resolve names with (probes/resolve.py)."""
    table: dict[str, list[str]] = {}

    async def lookup(host: str) -> list[str]:  # reads the table as the test changes it
        return await hosts_lookup(table)(host)

    async def nothing() -> None:
        return None

    async def install() -> tuple[Lookup, Any]:
        return lookup, nothing

    await ctx.shared(LOOKUP_KEY, install)
    yield table


async def test_blackbox_ip_protocol_and_fallback(
    ctx: ProbeContext, hosts: dict[str, list[str]]
) -> None:
    """TestTCPIPProtocol: a name with both families; then each family alone."""
    hosts["dual.lab"] = ["127.0.15.5", "::1"]
    hosts["v6only.lab"] = ["::1"]
    hosts["v4only.lab"] = ["127.0.15.5"]

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        await writer.wait_closed()

    server4 = await asyncio.start_server(hang_up, HOST, 0)
    port = server4.sockets[0].getsockname()[1]
    server6 = await asyncio.start_server(hang_up, "::1", port)
    try:
        for name, preferred, fallback, protocol in [
            ("dual.lab", "ip4", True, 4),
            ("dual.lab", "ip6", True, 6),
            ("dual.lab", "ip4", False, 4),
            ("v6only.lab", "ip4", True, 6),
            ("v4only.lab", "ip6", True, 4),
        ]:
            t = target(name, port, preferred_ip_protocol=preferred, ip_protocol_fallback=fallback)
            result = await run(t, ctx)
            assert result.success, (name, preferred, result.detail)
            got = samples(result)
            assert got["probe_ip_protocol"] == protocol, (name, preferred)
            assert "probe_tcp_duration_seconds{phase=resolve}" in got
            if name != "dual.lab":
                assert f"over IPv{protocol}" in result.detail
        result = await run(
            target("v6only.lab", port, preferred_ip_protocol="ip4", ip_protocol_fallback=False),
            ctx,
        )
        assert result.reason == "dns"
        assert "no IPv4 address" in result.detail
        result = await run(target("nowhere.lab", port), ctx)
        assert result.reason == "dns"
        # The hash follows the address: a changed record shows as a changed value.
        first = samples(await run(target("v4only.lab", port), ctx))["probe_ip_addr_hash"]
        hosts["v4only.lab"] = ["::1"]
        second = samples(await run(target("v4only.lab", port), ctx))["probe_ip_addr_hash"]
        assert first != second
    finally:
        for server in (server4, server6):
            server.close()
            await server.wait_closed()


async def test_source_ip_address(ctx: ProbeContext) -> None:
    peers: list[str] = []

    async def who(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        writer.close()

    async with serve(HOST, who) as port:
        result = await run(target(HOST, port, source_ip_address="127.0.15.9"), ctx)
    assert result.success, result.detail
    assert peers == ["127.0.15.9"]


async def test_a_hostile_dialogue_costs_only_its_probe(ctx: ProbeContext) -> None:
    async def endless_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async def endless_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"250-noise\r\n" * 4096)
            await writer.drain()

    steps = [{"expect": "^220 "}]
    async with serve(HOST, endless_line) as port:
        result = await run(target(HOST, port, query_response=steps), ctx)
    assert result.reason == "expect" and "longer than 64 KiB" in result.detail
    async with serve(HOST, endless_lines) as port:
        result = await run(target(HOST, port, query_response=steps), ctx)
    assert result.reason == "expect" and "first 1 MiB" in result.detail
    # A server that says nothing: the scheduler's timeout cuts the probe from outside.
    async with serve(HOST, until_eof) as port:
        with pytest.raises(TimeoutError):
            await run(target(HOST, port, query_response=steps), ctx, limit=0.3)


# --------------------------------------------------------------------------- aiosmtpd


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@contextlib.contextmanager
def smtp_server(context: ssl.SSLContext | None) -> Iterator[int]:
    port = free_port(SMTP_HOST)
    extra: dict[str, Any] = {"tls_context": context} if context is not None else {}
    controller = Controller(_Accept(), hostname=SMTP_HOST, port=port, **extra)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_aiosmtpd_starttls(ca: trustme.CA, ca_file: str, ctx: ProbeContext) -> None:
    cert = ca.issue_cert("mail.daklak.lab")
    with smtp_server(server_tls(cert)) as port:
        t = target(SMTP_HOST, port, starttls="smtp", ca_file=ca_file, server_name="mail.daklak.lab")
        result = await run(t, ctx)
    assert result.success, result.detail
    got = samples(result)
    assert got["probe_ssl_earliest_cert_expiry"] == not_after(cert)
    assert "probe_tcp_duration_seconds{phase=starttls}" in got
    assert "5 dialogue steps, STARTTLS TLSv1." in result.detail


async def test_aiosmtpd_without_starttls_fails_expect(ctx: ProbeContext) -> None:
    with smtp_server(None) as port:
        result = await run(target(SMTP_HOST, port, starttls="smtp"), ctx)
    assert result.reason == "expect", result.detail
    assert "step 3" in result.detail  # the answer to STARTTLS is no 220
    assert samples(result)["probe_failed_due_to_regex"] == 1
    assert "probe_ssl_earliest_cert_expiry" not in samples(result)


# --------------------------------------------------------------------------- dovecot

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap pop3
listen = {host}
ssl = required
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
auth_mechanisms = plain
mail_location = maildir:{dir}/mail
passdb {{
  driver = static
  args = password=unused-by-the-probe
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={dir}/home
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@pytest.fixture
def dovecot(ca: trustme.CA) -> Iterator[tuple[int, int, float]]:
    if not IS_ROOT:
        pytest.skip("dovecot is started as root (its login processes drop to dovenull)")
    if not os.path.exists(DOVECOT):
        pytest.skip("Debian's dovecot-imapd/dovecot-pop3d are not installed (make debs-test)")
    # Not under pytest's tmp_path (mode 700): dovecot's unprivileged login processes must
    # reach their sockets in base_dir.
    workdir = Path(tempfile.mkdtemp(prefix="netmon-dovecot-"))
    workdir.chmod(0o755)
    cert = ca.issue_cert("imap.daklak.lab")
    cert.private_key_pem.write_to_path(str(workdir / "key.pem"))
    (workdir / "cert.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    imap, pop3 = free_port(DOVECOT_HOST), free_port(DOVECOT_HOST)
    conf = workdir / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(dir=workdir, host=DOVECOT_HOST, imap=imap, pop3=pop3))
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((DOVECOT_HOST, pop3), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = workdir / "dovecot.log"
                    said = log.read_text() if log.exists() else ""
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"dovecot did not start: {out} {said}")
                time.sleep(0.1)
        yield imap, pop3, not_after(cert)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_dovecot_imap_and_pop3_starttls(
    dovecot: tuple[int, int, float], ca_file: str, ctx: ProbeContext
) -> None:
    imap, pop3, expiry = dovecot
    for protocol, port in (("imap", imap), ("pop3", pop3)):
        t = target(
            DOVECOT_HOST, port, starttls=protocol, ca_file=ca_file, server_name="imap.daklak.lab"
        )
        result = await run(t, ctx)
        assert result.success, (protocol, result.detail)
        got = samples(result)
        assert got["probe_ssl_earliest_cert_expiry"] == expiry, protocol
        assert got["probe_failed_due_to_regex"] == 0
        assert "STARTTLS TLSv1." in result.detail
    # The wrong name: the certificate is refused after the upgrade.
    t = target(DOVECOT_HOST, imap, starttls="imap", ca_file=ca_file, server_name="other.lab")
    result = await run(t, ctx)
    assert result.reason == "tls", result.detail
    assert "after STARTTLS" in result.detail
    # IMAP's dialogue against the POP3 port: the greeting does not match, and the expect
    # waits for its line (as blackbox's) until the scheduler's timeout cuts the probe.
    with pytest.raises(TimeoutError):
        await run(target(DOVECOT_HOST, pop3, starttls="imap", ca_file=ca_file), ctx, limit=0.5)


async def test_dialogue_figures_on_metrics(ctx: ProbeContext) -> None:
    """What /metrics shows of a dialogue: the catalogue's HELP and TYPE, the step's labels."""
    from prometheus_client.parser import text_string_to_metric_families

    from monitor.config import Settings
    from monitor.runtime.metrics import MetricsRenderer
    from monitor.runtime.store import Observation, Store

    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        await writer.drain()
        writer.close()

    step = {"expect": "^SSH-2.0-([^ -]+)", "labels": {"ssh_version": "${1}"}}
    async with serve(HOST, ssh) as port:
        doc: dict[str, Any] = {"name": "ssh-bastion", "kind": "tcp", "host": HOST}
        doc["group"] = "datacenter"
        doc["tcp"] = {"port": port, "query_response": [step]}
        settings = Settings.model_validate({"targets": [doc]})
        result = await run(settings.targets[0], ctx)
    assert result.success, result.detail
    store = Store()
    renderer = MetricsRenderer(store)
    store.set_targets(settings.targets)
    store.record("ssh-bastion", Observation(result, 1.0, 0.01))
    text = renderer.render_probes()
    assert "# TYPE probe_expect_info gauge" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (info,) = families["probe_expect_info"].samples
    assert info.labels == {
        "target": "ssh-bastion",
        "kind": "tcp",
        "group": "datacenter",
        "step": "1",
        "name": "ssh_version",
        "value": "OpenSSH_9.2p1",
    }
    assert families["probe_failed_due_to_regex"].samples[0].value == 0
    assert families["probe_ip_protocol"].samples[0].value == 4
