"""tcp probe: connect, optionally shake hands over TLS, optionally check the first line sent.

Phases are timed apart, as blackbox_exporter does: ``probe_tcp_duration_seconds{phase=...}``
with phase ``resolve`` (only for a host name), ``connect``, ``tls`` and ``banner``. Over TLS:
``probe_ssl_earliest_cert_expiry`` (unix seconds; the leaf certificate the server presented, as
Python before 3.13 does not expose the verified chain) and ``probe_tls_version_info{version}``.

Reasons: "dns", "refused", "unreachable", "timeout" (the kernel gave up connecting), "tls",
"banner", "protocol". No timeout is imposed here: the scheduler cuts the probe from outside,
and the connection is closed however the probe ends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from typing import cast

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import TcpOptions
from probes.tls import client_context, is_ip_literal, leaf_expiry

__all__ = ["FAMILIES", "probe"]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.TCP

BANNER_LIMIT = 4096  # bytes read at most while looking for the first line
_SHOWN = 80  # characters of a wrong banner shown in the detail
_CLOSE_GRACE = 1.0  # seconds a polite close (TLS close_notify, FIN) may take


def _phase(name: str, seconds: float) -> Sample:
    return Sample("probe_tcp_duration_seconds", seconds, (("phase", name),))


def _tls_why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = exc.verify_message or exc.reason or str(exc)
        return f"certificate not accepted: {message}"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return _why(exc)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().replace("\n", " ")
    return text[:160] if text else type(exc).__name__


def _first_line(data: bytes) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    return line.decode("utf-8", "replace")


async def _read_banner(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    """(bytes up to the first newline or the limit, whether the peer closed first)."""
    data = b""
    while b"\n" not in data and len(data) < BANNER_LIMIT:
        chunk = await reader.read(BANNER_LIMIT - len(data))
        if not chunk:
            return data, True
        data += chunk
    return data, False


async def _resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) to try, in the resolver's order; socket.gaierror when none."""
    if is_ip_literal(host):
        ip = ipaddress.ip_address(host)
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        entry = (int(family), str(sockaddr[0]))
        if entry not in seen:
            seen.append(entry)
    return seen


async def _connect(
    addresses: list[tuple[int, str]], port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address that takes it; the last error when none does."""
    error: OSError | None = None
    for family, address in addresses:
        try:
            return await asyncio.open_connection(address, port, family=family)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


def _connect_failure(exc: OSError, where: str) -> ProbeResult:
    if isinstance(exc, ConnectionRefusedError):
        return failure("refused", f"{where} refused the connection")
    if isinstance(exc, TimeoutError):
        return failure("timeout", f"connecting to {where} timed out ({_why(exc)})")
    return failure("unreachable", f"{where} is unreachable ({_why(exc)})")


async def _close(writer: asyncio.StreamWriter, polite: bool) -> None:
    """Close the connection; never leaves a socket open, never waits long."""
    if not polite:
        writer.transport.abort()
        return
    writer.close()
    try:
        async with asyncio.timeout(_CLOSE_GRACE):
            await writer.wait_closed()
    except (OSError, ssl.SSLError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, TcpOptions)
    host = target.host or ""
    where = f"[{host}]:{opts.port}" if ":" in host else f"{host}:{opts.port}"
    samples: list[Sample] = []

    start = time.perf_counter()
    try:
        addresses = await _resolve(host, opts.port)
    except (socket.gaierror, UnicodeError) as exc:
        return failure("dns", f"{host} did not resolve: {_why(exc)}")
    if not is_ip_literal(host):
        samples.append(_phase("resolve", time.perf_counter() - start))

    start = time.perf_counter()
    try:
        reader, writer = await _connect(addresses, opts.port)
    except OSError as exc:
        return _connect_failure(exc, where)
    connected = time.perf_counter() - start
    samples.append(_phase("connect", connected))
    done = f"connected to {where} in {connected * 1000:.1f} ms"

    polite = False
    try:
        if opts.tls:
            server_name = opts.server_name or host
            start = time.perf_counter()
            try:
                await writer.start_tls(
                    client_context(opts.tls_verify, opts.ca_file), server_hostname=server_name
                )
            except (ssl.SSLError, OSError, EOFError) as exc:
                return failure(
                    "tls",
                    f"TLS handshake with {where} as {server_name} failed: {_tls_why(exc)}",
                    tuple(samples),
                )
            handshake = time.perf_counter() - start
            samples.append(_phase("tls", handshake))
            ssl_object = cast("ssl.SSLObject | None", writer.get_extra_info("ssl_object"))
            version = ssl_object.version() if ssl_object is not None else None
            if version:
                samples.append(Sample("probe_tls_version_info", 1.0, (("version", version),)))
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der:
                expiry = leaf_expiry(der)
                if expiry is None:
                    return failure(
                        "tls",
                        f"{where} presented a certificate that does not parse",
                        tuple(samples),
                    )
                samples.append(Sample("probe_ssl_earliest_cert_expiry", expiry))
            done += f", {version or 'TLS'} in {handshake * 1000:.1f} ms"

        if opts.expect_banner is not None:
            start = time.perf_counter()
            try:
                data, closed = await _read_banner(reader)
            except (OSError, ssl.SSLError) as exc:
                return failure(
                    "protocol",
                    f"{where} broke the connection before its banner: {_why(exc)}",
                    tuple(samples),
                )
            samples.append(_phase("banner", time.perf_counter() - start))
            line = _first_line(data)
            if opts.expect_banner not in line:
                if not data and closed:
                    got = "closed the connection without a banner"
                else:
                    got = f"sent {line[:_SHOWN]!r}{'…' if len(line) > _SHOWN else ''}"
                return failure(
                    "banner",
                    f"{where} {got}; expected a first line containing {opts.expect_banner!r}",
                    tuple(samples),
                )
            shown = line[:_SHOWN] + ("…" if len(line) > _SHOWN else "")
            done += f", banner {shown!r}"
        polite = True
    finally:
        await _close(writer, polite)
    return ProbeResult(success=True, reason=None, detail=done, samples=tuple(samples))
