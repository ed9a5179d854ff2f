"""dns probe: ask one server one question, check the rcode and (optionally) the answer set.

Over UDP (retried over TCP when the answer comes back truncated) or TCP, with dnspython's async
API. The UDP socket is connected, so an ICMP port unreachable from the server surfaces as
``ConnectionRefusedError`` ("refused") instead of a silent wait.

Samples (blackbox_exporter names): ``probe_dns_lookup_time_seconds``, ``probe_dns_rcode``,
``probe_dns_answer_rrs``, ``probe_dns_authority_rrs``, ``probe_dns_additional_rrs``, and
``probe_dns_answer_match`` (1/0) when ``expect`` is set.

Reasons: "rcode", "answer", "protocol", "refused", "unreachable", "dns" (the server's own name
did not resolve). No timeout is imposed here: the scheduler cuts the probe from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from typing import Any, cast

import dns._asyncbackend  # the home of dnspython's DatagramSocket base class
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import DnsOptions

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


async def _address(host: str, port: int) -> tuple[int, str]:
    """(family, IP address) of the server; socket.gaierror when the name does not resolve."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _type, _proto, _name, sockaddr = infos[0]
    return int(family), str(sockaddr[0])


async def _udp(
    query: dns.message.Message, family: int, address: str, port: int
) -> dns.message.Message:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _Datagram, remote_addr=(address, port), family=family
    )
    sock = _ConnectedUdp(family, transport, protocol)
    try:
        return await dns.asyncquery.udp(
            query, address, port=port, sock=sock, raise_on_truncation=True
        )
    finally:
        # Closes the socket on the loop's next turn (connection_lost), cancelled or not.
        transport.close()


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


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, DnsOptions)
    host = target.host or ""
    query = dns.message.make_query(opts.query, opts.type)
    if not opts.recursion_desired:
        query.flags &= ~dns.flags.RD
    qname = query.question[0].name.to_text()
    asked = f"{opts.type} {qname}"
    server = f"{host}:{opts.port}" if ":" not in host else f"[{host}]:{opts.port}"
    via = opts.transport.upper()

    start = time.perf_counter()
    try:
        family, address = await _address(host, opts.port)
        if opts.transport == "tcp":
            response = await dns.asyncquery.tcp(query, address, port=opts.port)
        else:
            try:
                response = await _udp(query, family, address, opts.port)
            except dns.message.Truncated:
                via = "TCP after a truncated UDP answer"
                response = await dns.asyncquery.tcp(query, address, port=opts.port)
    except socket.gaierror as exc:
        return failure("dns", f"DNS server name {host} did not resolve: {exc.strerror}")
    except (dns.exception.Timeout, TimeoutError):
        return failure("timeout", f"{asked}: no answer from {server} over {via}")
    except ConnectionRefusedError:
        return failure("refused", f"{asked}: {server} refused the query over {via}")
    except (dns.exception.DNSException, EOFError, ConnectionResetError) as exc:
        return failure(
            "protocol", f"{asked}: {server} sent a malformed answer over {via} ({_why(exc)})"
        )
    except OSError as exc:
        return failure("unreachable", f"{asked}: {server} unreachable over {via} ({_why(exc)})")
    except Exception as exc:  # anything else the reply makes dnspython raise
        return failure("protocol", f"{asked}: {server} over {via}: {_why(exc)}")
    elapsed = time.perf_counter() - start

    rcode = response.rcode()
    rcode_text = dns.rcode.to_text(rcode)
    rdtype = dns.rdatatype.from_text(opts.type)
    got = [rd for rrset in response.answer if rrset.rdtype == rdtype for rd in rrset]
    samples = [
        Sample("probe_dns_lookup_time_seconds", elapsed),
        Sample("probe_dns_rcode", float(rcode)),
        Sample("probe_dns_answer_rrs", float(sum(len(r) for r in response.answer))),
        Sample("probe_dns_authority_rrs", float(sum(len(r) for r in response.authority))),
        Sample("probe_dns_additional_rrs", float(sum(len(r) for r in response.additional))),
    ]
    texts = [_text_of(rd) for rd in got]
    matched = True
    if opts.expect:
        want = {_expected_key(opts.type, e) for e in opts.expect}
        have = {_answer_key(opts.type, rd) for rd in got}
        matched = want == have
        samples.append(Sample("probe_dns_answer_match", 1.0 if matched else 0.0))
    result_samples = tuple(samples)
    timing = f"in {_ms(elapsed)}" + (f" over {via}" if via != "UDP" else "")

    if rcode_text != opts.expect_rcode:
        return failure(
            "rcode",
            f"{asked} → {rcode_text} from {server} {timing}, expected {opts.expect_rcode}",
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
    return ProbeResult(
        success=True,
        reason=None,
        detail=f"{asked} → {_shown(texts, opts.type)} {timing} ({rcode_text})",
        samples=result_samples,
    )


def _why(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{name}: {text}"[:160] if text else name
