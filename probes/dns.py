"""dns probe: ask one server one question, check the rcode, the answer set and the records.

Over UDP (retried over TCP when the answer comes back truncated) or TCP, with dnspython's async
API. The UDP socket is connected, so an ICMP port unreachable from the server surfaces as
``ConnectionRefusedError`` ("refused") instead of a silent wait. The server's name resolves
through probes/resolve.py (``preferred_ip_protocol``, ``ip_protocol_fallback``).

Samples (blackbox_exporter names): ``probe_dns_lookup_time_seconds`` (the query, connect and
request together), ``probe_dns_duration_seconds{phase="resolve|connect|request"}``,
``probe_dns_query_succeeded``, ``probe_dns_rcode``, ``probe_dns_answer_rrs``,
``probe_dns_authority_rrs``, ``probe_dns_additional_rrs``, ``probe_dns_serial`` (type SOA),
``probe_ip_protocol``, ``probe_ip_addr_hash``, and ``probe_dns_answer_match`` (1/0) when
``expect`` is set. With ``secondaries`` (type SOA) each one is asked too:
``probe_dns_secondary_serial{server}`` and ``probe_dns_serial_difference{server}`` (the
target's serial minus the secondary's, RFC 1982 arithmetic), read by the shipped
DnsSerialMismatch rule.

``validate_answer_rrs``, ``validate_authority_rrs``, ``validate_additional_rrs``: blackbox's
regex checks, searched in each record's text as blackbox (miekg/dns) writes it:
``name<TAB>ttl<TAB>class<TAB>type<TAB>rdata``.

Reasons: "rcode", "answer" (the expected set or a section's regex check), "secondary" (a
secondary did not answer its SOA), "protocol", "refused", "unreachable", "dns" (the server's
own name did not resolve). No timeout is imposed here: the scheduler cuts the probe from
outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

import dns._asyncbackend  # the home of dnspython's DatagramSocket base class
import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import DnsOptions, DnsRecordChecks
from probes.resolve import ResolveError, resolve

__all__ = ["FAMILIES", "probe"]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.DNS

_TEXT_TYPES = frozenset({"TXT", "SPF"})
_DETAIL_ANSWERS = 120  # characters of answer text in a detail sentence


class _Datagram(asyncio.DatagramProtocol):
    """Queue of what a connected UDP socket receives, errors (ICMP) included."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any] | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(exc if exc is not None else EOFError("socket closed"))


class _ConnectedUdp(dns._asyncbackend.DatagramSocket):
    """A dnspython datagram socket over a *connected* asyncio UDP endpoint.

    dnspython's own asyncio backend leaves UDP sockets unconnected, and Linux reports ICMP
    errors only on connected UDP sockets.
    """

    def __init__(
        self, family: int, transport: asyncio.DatagramTransport, protocol: _Datagram
    ) -> None:
        super().__init__(family, socket.SOCK_DGRAM)
        self.transport = transport
        self.protocol = protocol

    # The signatures are dnspython's; it passes timeout=None when the query has none.
    async def sendto(self, what: bytes, destination: Any, timeout: float | None) -> int:  # noqa: ASYNC109
        self.transport.sendto(what)  # connected: the destination is the peer
        return len(what)

    async def recvfrom(self, size: int, timeout: float | None) -> tuple[bytes, Any]:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                item = await self.protocol.queue.get()
        except TimeoutError:
            raise dns.exception.Timeout(timeout=timeout) from None  # type: ignore[no-untyped-call]
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self.transport.close()

    async def getpeername(self) -> Any:
        return self.transport.get_extra_info("peername")

    async def getsockname(self) -> Any:
        return self.transport.get_extra_info("sockname")


@dataclass(slots=True)
class _Timing:
    """blackbox's phases: connect (the socket) and request (the exchange), summed over a
    truncated UDP answer's retry over TCP."""

    connect: float = 0.0
    request: float = 0.0
    via: str = "UDP"


async def _udp(
    query: dns.message.Message,
    family: int,
    address: str,
    port: int,
    source: tuple[str, int] | None,
    timing: _Timing,
) -> dns.message.Message:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    transport, protocol = await loop.create_datagram_endpoint(
        _Datagram, local_addr=source, remote_addr=(address, port), family=family
    )
    sock = _ConnectedUdp(family, transport, protocol)
    timing.connect += time.perf_counter() - start
    start = time.perf_counter()
    try:
        return await dns.asyncquery.udp(
            query, address, port=port, sock=sock, raise_on_truncation=True
        )
    finally:
        timing.request += time.perf_counter() - start
        # Closes the socket on the loop's next turn (connection_lost), cancelled or not.
        transport.close()


async def _tcp(
    query: dns.message.Message,
    family: int,
    address: str,
    port: int,
    source: tuple[str, int] | None,
    timing: _Timing,
) -> dns.message.Message:
    start = time.perf_counter()
    backend = dns.asyncbackend.get_default_backend()
    sock = await backend.make_socket(  # type: ignore[no-untyped-call]
        family, socket.SOCK_STREAM, 0, source, (address, port), None
    )
    timing.connect += time.perf_counter() - start
    start = time.perf_counter()
    try:
        return await dns.asyncquery.tcp(query, address, port=port, sock=sock)
    finally:
        timing.request += time.perf_counter() - start
        await sock.close()


async def _exchange(
    query: dns.message.Message, family: int, address: str, opts: DnsOptions, timing: _Timing
) -> dns.message.Message:
    source = (opts.source_ip_address, 0) if opts.source_ip_address else None
    if opts.transport == "tcp":
        timing.via = "TCP"
        return await _tcp(query, family, address, opts.port, source, timing)
    try:
        return await _udp(query, family, address, opts.port, source, timing)
    except dns.message.Truncated:
        timing.via = "TCP after a truncated UDP answer"
        return await _tcp(query, family, address, opts.port, source, timing)


def record_texts(rrsets: list[dns.rrset.RRset]) -> list[str]:
    """Each record as miekg/dns's ``RR.String()`` writes it, the text blackbox's regexes
    are written against: name, TTL, class, type and rdata, tab-separated."""
    texts: list[str] = []
    for rrset in rrsets:
        head = (
            f"{rrset.name.to_text()}\t{rrset.ttl}\t{dns.rdataclass.to_text(rrset.rdclass)}\t"
            f"{dns.rdatatype.to_text(rrset.rdtype)}\t"
        )
        texts.extend(head + rd.to_text() for rd in rrset)
    return texts


def check_records(texts: list[str], checks: DnsRecordChecks) -> str | None:
    """blackbox's ``validRRs``: None when the records pass, else why not (a phrase)."""
    if checks.empty:
        return None
    if not texts and checks.fail_if_not_matches_regexp:
        return "no records, and fail_if_not_matches_regexp wants each to match"
    if not texts and checks.fail_if_none_matches_regexp:
        return "no records, and fail_if_none_matches_regexp wants one to match"
    for pattern in checks.fail_if_matches_regexp:
        for text in texts:
            if re.search(pattern, text):
                return f"{_record(text)} matches {pattern!r} (fail_if_matches_regexp)"
    for pattern in checks.fail_if_not_matches_regexp:
        for text in texts:
            if not re.search(pattern, text):
                return f"{_record(text)} does not match {pattern!r} (fail_if_not_matches_regexp)"
    # As blackbox's code and tests do, despite the name: fail unless every record matches.
    for pattern in checks.fail_if_all_match_regexp:
        for text in texts:
            if not re.search(pattern, text):
                return f"{_record(text)} does not match {pattern!r} (fail_if_all_match_regexp)"
    if checks.fail_if_none_matches_regexp and not any(
        re.search(pattern, text) for pattern in checks.fail_if_none_matches_regexp for text in texts
    ):
        shown = ", ".join(repr(p) for p in checks.fail_if_none_matches_regexp)
        return f"no record matches {shown} (fail_if_none_matches_regexp)"
    return None


def _record(text: str) -> str:
    shown = text.replace("\t", " ")
    return repr(shown if len(shown) <= _DETAIL_ANSWERS else shown[: _DETAIL_ANSWERS - 1] + "…")


def serial_difference(primary: int, secondary: int) -> int:
    """primary − secondary in RFC 1982 serial arithmetic: positive when the secondary is
    behind, negative when ahead, across the 2^32 wrap."""
    diff = (primary - secondary) % (1 << 32)
    return diff - (1 << 32) if diff >= 1 << 31 else diff


def _soa_serial(response: dns.message.Message) -> int | None:
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            for rd in rrset:
                return int(cast(dns.rdtypes.ANY.SOA.SOA, rd).serial)
    return None


async def _secondary_serial(
    ctx: ProbeContext, host: str, query: dns.message.Message, opts: DnsOptions
) -> int | str:
    """The serial a secondary answers, or why there is none (a phrase)."""
    try:
        resolved = await resolve(ctx, host, opts.preferred_ip_protocol, opts.ip_protocol_fallback)
        response = await _exchange(query, resolved.family, resolved.address, opts, _Timing())
    except ResolveError as exc:
        return str(exc)
    except (dns.exception.Timeout, TimeoutError):
        return "no answer"
    except ConnectionRefusedError:
        return "refused the query"
    except (dns.exception.DNSException, EOFError, OSError) as exc:
        return _why(exc)
    except Exception as exc:  # anything else a hostile reply makes dnspython raise
        return _why(exc)
    if response.rcode() != dns.rcode.NOERROR:
        return f"answered {dns.rcode.to_text(response.rcode())}"
    serial = _soa_serial(response)
    return serial if serial is not None else "answered without an SOA record"


def _canonical(rdtype: str, text: str) -> str:
    """A comparable form of one answer: names lower case without trailing dots."""
    return " ".join(
        part.rstrip(".") if part not in (".", "") else part for part in text.lower().split()
    )


def _text_of(rdata: dns.rdata.Rdata) -> str:
    """The human (and comparable) text of one answer; TXT strings decoded as UTF-8."""
    if dns.rdatatype.to_text(rdata.rdtype) in _TEXT_TYPES:
        strings = cast(tuple[bytes, ...], rdata.strings)  # type: ignore[attr-defined]
        return "".join(s.decode("utf-8", "replace") for s in strings)
    return rdata.to_text()


def _expected_key(rdtype: str, text: str) -> str:
    """The comparable form of one expected answer, as the user wrote it."""
    stripped = text.strip()
    if rdtype in _TEXT_TYPES:
        if stripped.startswith('"'):
            with contextlib.suppress(dns.exception.DNSException, ValueError):
                return _text_of(dns.rdata.from_text(dns.rdataclass.IN, rdtype, stripped))
        return text
    try:
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, stripped, origin=dns.name.root, relativize=False
        )
    except (dns.exception.DNSException, ValueError):
        return _canonical(rdtype, stripped)  # not valid rdata: compared as text, never equal
    return _canonical(rdtype, _text_of(rdata))


def _expected_shown(rdtype: str, text: str) -> str:
    """An expected answer as the detail shows it: TXT without its zone-file quoting."""
    return _expected_key(rdtype, text) if rdtype in _TEXT_TYPES else text.strip()


def _answer_key(rdtype: str, rdata: dns.rdata.Rdata) -> str:
    text = _text_of(rdata)
    return text if rdtype in _TEXT_TYPES else _canonical(rdtype, text)


def _order(text: str) -> tuple[int, Any, str]:
    """Addresses in numeric order, then everything else as text."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return (2, 0, text)
    return (ip.version - 4, int(ip), text)


def _shown(texts: list[str], rdtype: str) -> str:
    if not texts:
        return "no answer"
    ordered = sorted(texts, key=_order)
    shown = ", ".join(f'"{t}"' if rdtype in _TEXT_TYPES else t for t in ordered)
    if len(shown) > _DETAIL_ANSWERS:
        shown = shown[: _DETAIL_ANSWERS - 1] + "…"
    return shown


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def _phases(resolve_s: float, timing: _Timing) -> list[Sample]:
    return [
        Sample("probe_dns_duration_seconds", resolve_s, (("phase", "resolve"),)),
        Sample("probe_dns_duration_seconds", timing.connect, (("phase", "connect"),)),
        Sample("probe_dns_duration_seconds", timing.request, (("phase", "request"),)),
    ]


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, DnsOptions)
    host = target.host or ""
    query = dns.message.make_query(opts.query, opts.type, opts.query_class)
    if not opts.recursion_desired:
        query.flags &= ~dns.flags.RD
    qname = query.question[0].name.to_text()
    asked = f"{opts.type} {qname}" + (f" ({opts.query_class})" if opts.query_class != "IN" else "")
    server = f"{host}:{opts.port}" if ":" not in host else f"[{host}]:{opts.port}"
    timing = _Timing(via=opts.transport.upper())

    start = time.perf_counter()
    try:
        resolved = await resolve(ctx, host, opts.preferred_ip_protocol, opts.ip_protocol_fallback)
    except ResolveError as exc:
        return failure("dns", f"DNS server name {exc}")
    resolve_s = time.perf_counter() - start
    base = [*resolved.samples]

    def query_failure(reason: str, detail: str) -> ProbeResult:
        samples = [*base, Sample("probe_dns_query_succeeded", 0.0), *_phases(resolve_s, timing)]
        return failure(reason, detail, tuple(samples))

    start = time.perf_counter()
    try:
        response = await _exchange(query, resolved.family, resolved.address, opts, timing)
    except (dns.exception.Timeout, TimeoutError):
        return query_failure("timeout", f"{asked}: no answer from {server} over {timing.via}")
    except ConnectionRefusedError:
        return query_failure("refused", f"{asked}: {server} refused the query over {timing.via}")
    except (dns.exception.DNSException, EOFError, ConnectionResetError) as exc:
        return query_failure(
            "protocol",
            f"{asked}: {server} sent a malformed answer over {timing.via} ({_why(exc)})",
        )
    except OSError as exc:
        return query_failure(
            "unreachable", f"{asked}: {server} unreachable over {timing.via} ({_why(exc)})"
        )
    except Exception as exc:  # anything else the reply makes dnspython raise
        return query_failure("protocol", f"{asked}: {server} over {timing.via}: {_why(exc)}")
    elapsed = time.perf_counter() - start
    via = timing.via

    rcode = response.rcode()
    rcode_text = dns.rcode.to_text(rcode)
    rdtype = dns.rdatatype.from_text(opts.type)
    got = [rd for rrset in response.answer if rrset.rdtype == rdtype for rd in rrset]
    samples = [
        Sample("probe_dns_lookup_time_seconds", elapsed),
        *_phases(resolve_s, timing),
        Sample("probe_dns_query_succeeded", 1.0),
        Sample("probe_dns_rcode", float(rcode)),
        Sample("probe_dns_answer_rrs", float(sum(len(r) for r in response.answer))),
        Sample("probe_dns_authority_rrs", float(sum(len(r) for r in response.authority))),
        Sample("probe_dns_additional_rrs", float(sum(len(r) for r in response.additional))),
        *base,
    ]
    serial = _soa_serial(response) if opts.type == "SOA" else None
    if serial is not None:
        samples.append(Sample("probe_dns_serial", float(serial)))
    texts = [_text_of(rd) for rd in got]
    matched = True
    if opts.expect:
        want = {_expected_key(opts.type, e) for e in opts.expect}
        have = {_answer_key(opts.type, rd) for rd in got}
        matched = want == have
        samples.append(Sample("probe_dns_answer_match", 1.0 if matched else 0.0))
    lagging: list[str] = []
    silent: list[str] = []
    if opts.secondaries:
        answers = await asyncio.gather(
            *(_secondary_serial(ctx, other, query, opts) for other in opts.secondaries)
        )
        for other, answer in zip(opts.secondaries, answers, strict=True):
            if isinstance(answer, str):
                silent.append(f"{other} {answer}")
                continue
            by = (("server", other),)
            samples.append(Sample("probe_dns_secondary_serial", float(answer), by))
            if serial is not None:
                diff = serial_difference(serial, answer)
                samples.append(Sample("probe_dns_serial_difference", float(diff), by))
                if diff:
                    lagging.append(f"{other} has {answer}")
    result_samples = tuple(samples)
    timing_text = f"in {_ms(elapsed)}" + (f" over {via}" if via != "UDP" else "")

    if rcode_text != opts.expect_rcode:
        return failure(
            "rcode",
            f"{asked} → {rcode_text} from {server} {timing_text}, expected {opts.expect_rcode}",
            result_samples,
        )
    if not matched:
        expected = _shown([_expected_shown(opts.type, e) for e in opts.expect], opts.type)
        return failure(
            "answer",
            f"{asked} → {_shown(texts, opts.type)} from {server}, expected {expected} "
            f"({rcode_text}, {_ms(elapsed)})",
            result_samples,
        )
    for section, rrsets, checks in (
        ("answer", response.answer, opts.validate_answer_rrs),
        ("authority", response.authority, opts.validate_authority_rrs),
        ("additional", response.additional, opts.validate_additional_rrs),
    ):
        why = check_records(record_texts(rrsets), checks)
        if why is not None:
            return failure(
                "answer", f"{asked} from {server}: {section} section: {why}", result_samples
            )
    if silent:
        return failure(
            "secondary",
            f"{asked}: secondary " + "; ".join(silent) + f" (the target {server} answered)",
            result_samples,
        )
    detail = f"{asked} → {_shown(texts, opts.type)} {timing_text} ({rcode_text})"
    if opts.secondaries:
        detail += (
            f"; secondaries out of step: {', '.join(lagging)}"
            if lagging
            else f"; {len(opts.secondaries)} secondaries in step"
        )
    return ProbeResult(success=True, reason=None, detail=detail, samples=result_samples)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{name}: {text}"[:160] if text else name
