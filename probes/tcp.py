"""tcp probe: connect, optionally shake hands over TLS, check the first line or hold a dialogue.

Phases are timed apart, as blackbox_exporter does: ``probe_tcp_duration_seconds{phase=...}``
with phase ``resolve`` (only for a host name), ``connect``, ``tls``, ``banner``, and for a
dialogue ``dialogue`` (all its steps) and ``starttls`` (the handshake inside it). Over TLS,
direct or after STARTTLS: ``probe_ssl_earliest_cert_expiry`` (unix seconds; the earliest
notAfter over the verified chain, probes/tls.py ``chain_facts``) and
``probe_tls_version_info{version}`` ("TLS 1.3", as blackbox_exporter labels it). The address
comes from probes/resolve.py (``probe_ip_protocol``, ``probe_ip_addr_hash``).

The dialogue (``query_response``, or the ready ones of ``starttls = "smtp"|"imap"|"pop3"``) is
blackbox's: each step reads lines until one matches ``expect`` (searched, Python's ``re``), sends
``send`` with ``${1}``/``${name}`` replaced by the match's groups, then optionally upgrades the
connection to TLS. Lines are sent with CRLF (the mail protocols' line end; blackbox sends LF,
which strict SMTP servers refuse). ``probe_failed_due_to_regex`` is 1 when an expect found no
line, else 0 (``probe_failed_due_to_bytes`` likewise for ``expect_bytes``: the exact bytes
next); a step's ``labels`` give ``probe_expect_info{step, name, value}``. A line longer
than 64 KiB, or 1 MiB read without a match, ends the probe: a hostile server costs only that.

Reasons: "dns", "refused", "unreachable", "timeout" (the kernel gave up connecting), "tls",
"banner", "expect" (no line matched), "protocol". No timeout is imposed here: the scheduler cuts
the probe from outside, and the connection is closed however the probe ends.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from typing import cast

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import TcpOptions, TcpStep
from probes.resolve import ResolveError, resolve
from probes.tls import chain_facts, cipher_label, client_context, leaf_expiry, version_label

__all__ = ["FAMILIES", "probe"]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.TCP

BANNER_LIMIT = 4096  # bytes read at most while looking for the first line
_SHOWN = 80  # characters of a wrong banner shown in the detail
_CLOSE_GRACE = 1.0  # seconds a polite close (TLS close_notify, FIN) may take
LINE_LIMIT = 64 << 10  # bytes of one line of a dialogue, at most
EXPECT_LIMIT = 1 << 20  # bytes read looking for one expect's line, at most
# Go's regexp.Expand template: $$, ${name}, $name (the longest run of word characters).
_TEMPLATE = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\w+))")


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


def expand(template: str, match: re.Match[str]) -> str:
    """``template`` with ``${1}``, ``$1``, ``${name}`` replaced by the match's groups, as Go's
    ``Regexp.Expand`` does: an unknown or unmatched group is empty, ``$$`` is ``$``."""

    def group(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        key = m.group(2) or m.group(3)
        try:
            value = match.group(int(key) if key.isdigit() else key)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _TEMPLATE.sub(group, template)


class _Dialogue:
    """The line reader of a dialogue, and what it last read (for the failure's detail)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.last = ""

    async def expect(
        self, pattern: re.Pattern[str], refusal: re.Pattern[str] | None = None
    ) -> re.Match[str] | str:
        """The first line that matches, or why none did (a phrase)."""
        read = 0
        while read < EXPECT_LIMIT:
            try:
                raw = await self.reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                raw = exc.partial
                if not raw:
                    return "the server closed the connection"
            except asyncio.LimitOverrunError:
                return f"the server sent a line longer than {LINE_LIMIT // 1024} KiB"
            read += len(raw)
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self.last = line
            match = pattern.search(line)
            if match is not None:
                return match
            if refusal is not None and refusal.search(line):
                return f"the server refused: {_shown(line)}"
            if not raw.endswith(b"\n"):
                return "the server closed the connection"
        return f"no line matched in the first {EXPECT_LIMIT >> 20} MiB"


def _shown(line: str) -> str:
    return repr(line[:_SHOWN]) + ("…" if len(line) > _SHOWN else "")


def _connect_failure(exc: OSError, where: str, samples: tuple[Sample, ...]) -> ProbeResult:
    if isinstance(exc, ConnectionRefusedError):
        return failure("refused", f"{where} refused the connection", samples)
    if isinstance(exc, TimeoutError):
        return failure("timeout", f"connecting to {where} timed out ({_why(exc)})", samples)
    return failure("unreachable", f"{where} is unreachable ({_why(exc)})", samples)


async def close_stream(
    writer: asyncio.StreamWriter, polite: bool, grace: float = _CLOSE_GRACE
) -> None:
    """Close the connection; never leaves a socket open, never waits longer than ``grace``."""
    if not polite:
        writer.transport.abort()
        return
    writer.close()
    try:
        async with asyncio.timeout(grace):
            await writer.wait_closed()
    except (OSError, ssl.SSLError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


async def _handshake(
    writer: asyncio.StreamWriter,
    opts: TcpOptions,
    host: str,
    where: str,
    samples: list[Sample],
    phase: str,
) -> str | ProbeResult:
    """TLS on the open connection: what the detail says of it, or the failure."""
    server_name = opts.server_name or host
    start = time.perf_counter()
    try:
        await writer.start_tls(
            client_context(
                opts.tls_verify,
                opts.ca_file,
                min_version=opts.tls_min_version,
                max_version=opts.tls_max_version,
            ),
            server_hostname=server_name,
        )
    except (ssl.SSLError, OSError, EOFError, ConnectionError) as exc:
        return failure(
            "tls",
            f"TLS handshake with {where} as {server_name} failed: {_tls_why(exc)}",
            tuple(samples),
        )
    handshake = time.perf_counter() - start
    samples.append(_phase(phase, handshake))
    ssl_object = cast("ssl.SSLObject | None", writer.get_extra_info("ssl_object"))
    version = ssl_object.version() if ssl_object is not None else None
    label = version_label(ssl_object) if ssl_object is not None else None
    if label:  # "TLS 1.3", as blackbox_exporter labels it
        samples.append(Sample("probe_tls_version_info", 1.0, (("version", label),)))
    cipher = cipher_label(ssl_object) if ssl_object is not None else None
    if cipher:  # "TLS_AES_256_GCM_SHA384", as blackbox_exporter labels it
        samples.append(Sample("probe_tls_cipher_info", 1.0, (("cipher", cipher),)))
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der:
        if leaf_expiry(der) is None:
            return failure(
                "tls", f"{where} presented a certificate that does not parse", tuple(samples)
            )
        facts = chain_facts(ssl_object)  # the earliest over the verified chain
        if facts is not None and facts.earliest_expiry is not None:
            samples.append(Sample("probe_ssl_earliest_cert_expiry", facts.earliest_expiry))
    return f"{version or 'TLS'} in {handshake * 1000:.1f} ms"


async def _dialogue(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    steps: tuple[TcpStep, ...],
    opts: TcpOptions,
    host: str,
    where: str,
    samples: list[Sample],
) -> str | ProbeResult:
    """blackbox's query_response over the connection: what the detail says, or the failure."""
    talk = _Dialogue(reader)
    start = time.perf_counter()
    said = ""

    def dialogue_failure(
        reason: str, detail: str, regex: bool = False, data: bool = False
    ) -> ProbeResult:
        samples.append(Sample("probe_failed_due_to_regex", 1.0 if regex else 0.0))
        samples.append(Sample("probe_failed_due_to_bytes", 1.0 if data else 0.0))
        return failure(reason, detail, tuple(samples))

    try:
        for number, step in enumerate(steps, 1):
            send = step.send
            if step.expect is not None:
                refusal = re.compile(step.fail_if_matches) if step.fail_if_matches else None
                found = await talk.expect(re.compile(step.expect), refusal)
                if isinstance(found, str):
                    last = (
                        f"; its last line was {_shown(talk.last)}"
                        if talk.last and "refused" not in found
                        else ""
                    )
                    return dialogue_failure(
                        "expect",
                        f"{where}: step {number} expected a line matching {step.expect!r}, "
                        f"but {found}{last}",
                        regex=True,
                    )
                if send is not None:
                    send = expand(send, found)
                for name, template in step.labels.items():
                    value = expand(template, found)
                    samples.append(
                        Sample(
                            "probe_expect_info",
                            1.0,
                            (("step", str(number)), ("name", name), ("value", value)),
                        )
                    )
            if step.expect_bytes is not None:
                want = step.expect_bytes.encode("utf-8")
                try:
                    got = await reader.readexactly(len(want))
                except asyncio.IncompleteReadError as exc:
                    return dialogue_failure(
                        "expect",
                        f"{where}: step {number} expected {len(want)} bytes, the server closed "
                        f"the connection after {len(exc.partial)}",
                    )
                if got != want:
                    return dialogue_failure(
                        "expect",
                        f"{where}: step {number} expected the bytes {want!r}, got {got!r}",
                        data=True,
                    )
            if send is not None:
                writer.write(send.encode("utf-8") + b"\r\n")
                await writer.drain()
            if step.starttls:
                shook = await _handshake(writer, opts, host, where, samples, "starttls")
                if isinstance(shook, ProbeResult):
                    return dialogue_failure(
                        shook.reason or "tls", f"after STARTTLS: {shook.detail}"
                    )
                said = f", STARTTLS {shook}"
    except (OSError, ssl.SSLError) as exc:
        return dialogue_failure(
            "protocol", f"{where} broke the connection in the dialogue: {_why(exc)}"
        )
    samples.append(Sample("probe_failed_due_to_regex", 0.0))
    samples.append(Sample("probe_failed_due_to_bytes", 0.0))
    samples.append(_phase("dialogue", time.perf_counter() - start))
    return f", {len(steps)} dialogue steps{said}"


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, TcpOptions)
    host = target.host or ""
    where = f"[{host}]:{opts.port}" if ":" in host else f"{host}:{opts.port}"
    samples: list[Sample] = []

    start = time.perf_counter()
    try:
        resolved = await resolve(ctx, host, opts.preferred_ip_protocol, opts.ip_protocol_fallback)
    except ResolveError as exc:
        return failure("dns", str(exc))
    if not resolved.literal:
        samples.append(_phase("resolve", time.perf_counter() - start))
    samples.extend(resolved.samples)

    start = time.perf_counter()
    local = (opts.source_ip_address, 0) if opts.source_ip_address else None
    try:
        reader, writer = await asyncio.open_connection(
            resolved.address, opts.port, family=resolved.family, local_addr=local, limit=LINE_LIMIT
        )
    except OSError as exc:
        return _connect_failure(exc, where, tuple(samples))
    connected = time.perf_counter() - start
    samples.append(_phase("connect", connected))
    done = f"connected to {where} in {connected * 1000:.1f} ms"
    if resolved.fell_back:
        done += f" over IPv{resolved.version} ({opts.preferred_ip_protocol} had no address)"

    polite = False
    try:
        if opts.tls:
            shook = await _handshake(writer, opts, host, where, samples, "tls")
            if isinstance(shook, ProbeResult):
                return shook
            done += f", {shook}"

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

        steps = opts.steps
        if steps:
            talked = await _dialogue(reader, writer, steps, opts, host, where, samples)
            if isinstance(talked, ProbeResult):
                return talked
            done += talked
        else:
            samples.append(Sample("probe_failed_due_to_regex", 0.0))
            samples.append(Sample("probe_failed_due_to_bytes", 0.0))
        polite = True
    finally:
        await close_stream(writer, polite)
    return ProbeResult(success=True, reason=None, detail=done, samples=tuple(samples))
