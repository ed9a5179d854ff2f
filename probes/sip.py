"""sip probe: an OPTIONS ping (RFC 3261 §11) over UDP, TCP or TLS, optionally a REGISTER.

The OPTIONS' final response must be one of ``sip.expect_status`` (200 by default); 1xx
provisional responses are waited past. Over UDP the request is retransmitted as RFC 3261
§17.1.2.2 says (T1 = 500 ms, doubling up to T2 = 4 s, T2 after a provisional response).
With ``sip.register``, the extension is registered (answering a 401/407 digest challenge:
MD5, SHA-256, SHA-512-256 and their -sess forms, qop auth or auth-int, RFC 2617/7616/8760)
and its binding removed at once by a second REGISTER of the same contact with ``Expires: 0``
(RFC 3261 §10.2.2): netmon keeps no registration; if the removal is lost, the binding lapses
after ``register.expires`` seconds.

Samples: ``probe_sip_status_code`` (the OPTIONS' final code), ``probe_sip_duration_seconds
{phase}`` (resolve, connect, tls, options, register), ``probe_sip_info{server}`` (the
response's Server, else User-Agent header), ``probe_sip_register_success``; over TLS
``probe_ssl_earliest_cert_expiry`` and ``probe_tls_version_info``.

Reasons: "dns", "refused" (TCP refused, or an ICMP port unreachable over UDP), "unreachable",
"timeout", "tls", "status" (a final code not expected), "protocol" (not SIP, larger than
``MAX_MESSAGE``, a framing error, or only answers to another request), "sip_auth" (the
registrar refused the credentials). The response is parsed strictly; a response whose Via
branch, Call-ID or CSeq is not the request's is ignored. Each probe has its own socket
(connected UDP: the kernel drops datagrams from elsewhere and reports ICMP errors; SIP
targets are dozens, not the thousands a shared socket is for). The probe keeps within 90 % of
the target's timeout, so its own reason beats the scheduler's.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import SipOptions, SipRegister
from probes.tcp import close_stream
from probes.tls import client_context, is_ip_literal, leaf_expiry

__all__ = [
    "FAMILIES",
    "MAX_MESSAGE",
    "SipProtocolError",
    "SipResponse",
    "digest_authorization",
    "parse_challenge",
    "parse_response",
    "probe",
]

FAMILIES = catalogue.SIP

MAX_MESSAGE = 65535  # bytes of one response at most (UDP's own bound); more is "protocol"
MAX_HEADERS = 256
MAX_IGNORED = 20  # responses to another request tolerated before it is "protocol"
T1, T2 = 0.5, 4.0  # RFC 3261 §17.1.2.2 timers
BUDGET = 0.9  # share of the target's timeout the probe gives itself
DEFAULT_TIMEOUT = 5.0
_SERVER_SHOWN = 128  # characters of a Server header kept as a label
_CLOSE_GRACE = 0.5
_UDP_QUEUE = 64  # datagrams waiting at most; a flood beyond is dropped

# RFC 3261 §7.3.3 compact header names.
_COMPACT = {
    "v": "via",
    "i": "call-id",
    "f": "from",
    "t": "to",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "e": "content-encoding",
    "k": "supported",
    "s": "subject",
}
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9]{2}) ([^\x00-\x08\x0a-\x1f\x7f]*)")
_REQUEST_LINE = re.compile(r"[A-Za-z]+ \S+ SIP/2\.0")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_BRANCH = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)


class SipProtocolError(ValueError):
    """The bytes are not a SIP response netmon accepts; the text says why."""


@dataclass(frozen=True, slots=True)
class SipResponse:
    code: int
    phrase: str
    headers: dict[str, list[str]]  # lower-case full names, in order of appearance
    body: bytes = b""

    def first(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def _split_header_values(name: str, value: str) -> list[str]:
    """Via and Contact may hold several comma-separated values (RFC 3261 §7.3.1)."""
    if name not in ("via", "contact"):
        return [value]
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def parse_head(head: bytes) -> SipResponse | None:
    """A response's start line and headers (without the blank line); None for a request.

    Raises SipProtocolError for anything else."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipProtocolError("the message is not UTF-8 text") from None
    lines = re.split(r"\r?\n", text)
    start = lines[0]
    status = _STATUS_LINE.fullmatch(start)
    if status is None:
        if _REQUEST_LINE.match(start):
            return None
        raise SipProtocolError(f"not a SIP status line: {start[:60]!r}")
    headers: dict[str, list[str]] = {}
    last: tuple[str, int] | None = None
    count = 0
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # folded onto the previous header (RFC 3261 §7.3.1)
            if last is None:
                raise SipProtocolError("a continuation line before any header")
            name, index = last
            headers[name][index] += " " + line.strip()
            continue
        raw_name, colon, value = line.partition(":")
        raw_name = raw_name.strip()
        if not colon or not _TOKEN.fullmatch(raw_name):
            raise SipProtocolError(f"not a header line: {line[:60]!r}")
        count += 1
        if count > MAX_HEADERS:
            raise SipProtocolError(f"more than {MAX_HEADERS} headers")
        name = raw_name.lower()
        name = _COMPACT.get(name, name)
        values = headers.setdefault(name, [])
        values.append(value.strip())
        last = (name, len(values) - 1)
    for name in ("via", "contact"):
        if name in headers:
            headers[name] = [v for raw in headers[name] for v in _split_header_values(name, raw)]
    return SipResponse(int(status.group(1)), status.group(2).strip(), headers)


def content_length(response: SipResponse, required: bool) -> int:
    values = response.headers.get("content-length")
    if not values:
        if required:  # RFC 3261 §18.3: mandatory over stream transports
            raise SipProtocolError("no Content-Length over a stream transport")
        return -1
    if len(set(values)) != 1 or not values[0].isdigit() or len(values[0]) > 9:
        raise SipProtocolError(f"a bad Content-Length: {', '.join(values)[:40]!r}")
    length = int(values[0])
    if length > MAX_MESSAGE:
        raise SipProtocolError(f"a body of {length} bytes, more than {MAX_MESSAGE}")
    return length


def parse_response(datagram: bytes) -> SipResponse | None:
    """One SIP message in a datagram: the response, None for a request (or keepalive CRLFs);
    SipProtocolError otherwise."""
    if len(datagram) > MAX_MESSAGE:
        raise SipProtocolError(f"a message of {len(datagram)} bytes, more than {MAX_MESSAGE}")
    data = datagram.lstrip(b"\r\n")
    if not data:
        return None  # RFC 5626 keepalive
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            raise SipProtocolError("no blank line ends the headers")
    response = parse_head(head)
    if response is None:
        return None
    length = content_length(response, required=False)
    if length > len(body):
        raise SipProtocolError(f"Content-Length {length} but {len(body)} bytes of body")
    body = body if length < 0 else body[:length]
    return SipResponse(response.code, response.phrase, response.headers, body)


# --------------------------------------------------------------------------- digest


@dataclass(frozen=True, slots=True)
class Challenge:
    header: str  # "www-authenticate" or "proxy-authenticate"
    params: dict[str, str]

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm", "MD5").upper()


_PARAM = re.compile(
    r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)', re.DOTALL
)
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512-256": lambda b: hashlib.new("sha512_256", b).hexdigest(),
}
# The strongest an answer offers is taken (RFC 8760 §2.4: in the server's order of preference,
# but a client picks what it supports; netmon prefers the stronger).
_STRENGTH = ("SHA-512-256", "SHA-512-256-SESS", "SHA-256", "SHA-256-SESS", "MD5", "MD5-SESS")


def parse_challenge(value: str) -> dict[str, str] | None:
    """A ``Digest`` challenge's parameters (lower-case names); None for another scheme."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None or match.end() == pos:
            raise SipProtocolError(f"a malformed digest challenge: {rest[pos : pos + 40]!r}")
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        )
        pos = match.end()
    if "nonce" not in params or "realm" not in params:
        raise SipProtocolError("a digest challenge without realm or nonce")
    return params


def pick_challenge(response: SipResponse) -> Challenge | None:
    """The strongest digest challenge of a 401/407 that netmon can answer."""
    header = "www-authenticate" if response.code == 401 else "proxy-authenticate"
    offered = []
    for value in response.headers.get(header, []):
        params = parse_challenge(value)
        if params is None:
            continue
        challenge = Challenge(header, params)
        if challenge.algorithm in _STRENGTH:
            offered.append(challenge)
    if not offered:
        return None
    return min(offered, key=lambda c: _STRENGTH.index(c.algorithm))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_authorization(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    body: bytes = b"",
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The Authorization (or Proxy-Authorization) value answering ``challenge``."""
    params = challenge.params
    algorithm = challenge.algorithm
    session = algorithm.endswith("-SESS")
    digest = _HASHES[algorithm.removesuffix("-SESS")]
    realm, nonce = params["realm"], params["nonce"]
    qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in qops else "auth-int" if "auth-int" in qops else None
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = digest(f"{username}:{realm}:{password}".encode())
    if session:
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + digest(body)
    ha2 = digest(a2.encode())
    count = f"{nc:08x}"
    if qop is None:
        response = digest(f"{ha1}:{nonce}:{ha2}".encode())
    else:
        response = digest(f"{ha1}:{nonce}:{count}:{cnonce}:{qop}:{ha2}".encode())
    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={params.get('algorithm', 'MD5')}",
    ]
    if qop is not None:
        parts += [f"cnonce={_quote(cnonce)}", f"qop={qop}", f"nc={count}"]
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    return "Digest " + ", ".join(parts)


# --------------------------------------------------------------------------- transports


class _Timeout(Exception):
    pass


class _Channel:
    """One connection (or connected UDP socket) to the target, message by message."""

    reliable: bool
    local: tuple[str, int]

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def receive(self) -> SipResponse | None:
        """The next message (None: a request or keepalive to ignore); SipProtocolError,
        OSError."""
        raise NotImplementedError

    async def close(self, polite: bool) -> None:
        raise NotImplementedError


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | OSError] = asyncio.Queue(_UDP_QUEUE)

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.queue.full():
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and not self.queue.full():
            self.queue.put_nowait(exc)


class _UdpChannel(_Channel):
    reliable = False

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpProtocol) -> None:
        self.transport, self.protocol = transport, protocol
        sockname = transport.get_extra_info("sockname")
        self.local = (str(sockname[0]), int(sockname[1]))

    def send(self, data: bytes) -> None:
        self.transport.sendto(data)

    async def receive(self) -> SipResponse | None:
        item = await self.protocol.queue.get()
        if isinstance(item, OSError):
            raise item
        return parse_response(item)

    async def close(self, polite: bool) -> None:
        self.transport.close()


class _StreamChannel(_Channel):
    reliable = True

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        sockname = writer.get_extra_info("sockname")
        self.local = (str(sockname[0]), int(sockname[1]))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def receive(self) -> SipResponse | None:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise SipProtocolError(f"headers longer than {MAX_MESSAGE} bytes") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                raise ConnectionResetError("the server closed the connection") from None
            raise SipProtocolError(
                f"the connection closed within a message ({len(exc.partial)} bytes)"
            ) from None
        head = head.lstrip(b"\r\n")  # RFC 5626 keepalives before the message
        if not head:
            return None
        response = parse_head(head[:-4])
        if response is None:
            # A request from the server: skip its body too, to keep the framing.
            length = _request_length(head)
            if length:
                try:
                    await self.reader.readexactly(length)
                except asyncio.IncompleteReadError:
                    raise SipProtocolError("the connection closed within a request") from None
            return None
        length = content_length(response, required=True)
        try:
            body = await self.reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError as exc:
            raise SipProtocolError(
                f"the connection closed within the body ({len(exc.partial)} of {length} bytes)"
            ) from None
        return SipResponse(response.code, response.phrase, response.headers, body)

    async def close(self, polite: bool) -> None:
        await close_stream(self.writer, polite, _CLOSE_GRACE)


def _request_length(head: bytes) -> int:
    match = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,9})", head, re.IGNORECASE)
    length = int(match.group(1)) if match else 0
    if length > MAX_MESSAGE:
        raise SipProtocolError(f"a request of {length} bytes from the server")
    return length


async def _resolve(host: str, port: int, kind: int) -> list[tuple[int, str]]:
    if is_ip_literal(host):
        ip = ipaddress.ip_address(host)
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=kind)
    seen: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        entry = (int(family), str(sockaddr[0]))
        if entry not in seen:
            seen.append(entry)
    return seen


def _hostport(host: str, port: int | None = None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not accepted: {exc.verify_message or exc.reason or exc}"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().replace("\n", " ")
    return text[:160] if text else type(exc).__name__


def _printable(text: str, limit: int) -> str:
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    return clean[:limit] + ("…" if len(clean) > limit else "")


# --------------------------------------------------------------------------- transactions


@dataclass(slots=True)
class _Dialog:
    """What one probe's requests share: the Call-ID, the From tag, the next CSeq."""

    channel: _Channel
    transport: str  # "UDP", "TCP", "TLS"
    call_id: str = field(default_factory=lambda: secrets.token_hex(12))
    tag: str = field(default_factory=lambda: secrets.token_hex(6))
    cseq: int = 0
    ignored: int = 0  # responses to another request, over the probe

    def request(
        self,
        method: str,
        uri: str,
        to: str,
        extra: list[str],
        sender: str | None = None,
    ) -> tuple[bytes, str, str]:
        """(the request, its branch, its CSeq header). ``sender``: the From address (a
        REGISTER's is the address of record, RFC 3261 §10.2); netmon's own by default."""
        self.cseq += 1
        branch = "z9hG4bK" + secrets.token_hex(10)
        local_host, local_port = self.channel.local
        cseq = f"{self.cseq} {method}"
        sender = sender or f"<sip:netmon@{_hostport(local_host)}>"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/{self.transport} {_hostport(local_host, local_port)}"
            f";branch={branch};rport",
            "Max-Forwards: 70",
            f"From: {sender};tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq}",
            *extra,
            "User-Agent: netmon",
            "Content-Length: 0",
            "",
            "",
        ]
        return "\r\n".join(lines).encode(), branch, cseq

    async def transact(
        self, request: bytes, branch: str, cseq: str, deadline: float
    ) -> SipResponse:
        """Send and wait for the request's final response; retransmit over UDP.

        Raises _Timeout, SipProtocolError, OSError."""
        loop = asyncio.get_running_loop()
        channel = self.channel
        channel.send(request)
        interval = T1
        resend_at = loop.time() + interval
        while True:
            now = loop.time()
            if now >= deadline:
                raise _Timeout
            wait = deadline - now if channel.reliable else min(resend_at, deadline) - now
            try:
                async with asyncio.timeout(wait):
                    response = await channel.receive()
            except TimeoutError:
                if not channel.reliable and loop.time() >= resend_at:
                    channel.send(request)
                    interval = min(interval * 2, T2)
                    resend_at = loop.time() + interval
                continue
            if response is None:
                continue
            via = response.first("via") or ""
            got_branch = _BRANCH.search(via)
            if (
                got_branch is None
                or got_branch.group(1) != branch
                or response.first("call-id") != self.call_id
                or " ".join((response.first("cseq") or "").split()) != cseq
            ):
                self.ignored += 1
                if self.ignored > MAX_IGNORED:
                    raise SipProtocolError(
                        f"{self.ignored} responses, none to netmon's request (Via branch, "
                        "Call-ID or CSeq differ)"
                    )
                continue
            if response.code < 200:
                # Proceeding (§17.1.2.2): retransmit at T2 until the final response.
                interval = T2
                resend_at = loop.time() + interval
                continue
            return response


def _timeout_text(dialog: _Dialog) -> str:
    if dialog.ignored:
        return f" ({dialog.ignored} responses to another request ignored)"
    return ""


def _server_of(response: SipResponse) -> str | None:
    value = response.first("server") or response.first("user-agent")
    return _printable(value, _SERVER_SHOWN) if value else None


# --------------------------------------------------------------------------- the probe


async def _open(
    opts: SipOptions, host: str, port: int, family: int, address: str, deadline: float
) -> tuple[_Channel, list[Sample], str]:
    """The channel to the target, the connect/tls samples, and what the detail says of them.

    Raises OSError, ssl.SSLError (marked by _TlsFailure), TimeoutError."""
    loop = asyncio.get_running_loop()
    if opts.transport == "udp":
        transport, protocol = await loop.create_datagram_endpoint(
            _UdpProtocol, remote_addr=(address, port), family=family
        )
        return _UdpChannel(transport, protocol), [], ""
    samples = []
    start = time.perf_counter()
    async with asyncio.timeout_at(deadline):
        reader, writer = await asyncio.open_connection(
            address, port, family=family, limit=MAX_MESSAGE
        )
    connected = time.perf_counter() - start
    samples.append(_phase("connect", connected))
    said = f" connected in {connected * 1000:.1f} ms"
    if opts.transport == "tls":
        server_name = opts.server_name or opts.domain or host
        start = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                await writer.start_tls(
                    client_context(opts.tls_verify, opts.ca_file), server_hostname=server_name
                )
        except TimeoutError:
            writer.transport.abort()
            raise
        except (ssl.SSLError, OSError, EOFError) as exc:
            writer.transport.abort()
            raise _TlsFailure(f"TLS handshake as {server_name} failed: {_why(exc)}") from exc
        except BaseException:
            writer.transport.abort()
            raise
        handshake = time.perf_counter() - start
        samples.append(_phase("tls", handshake))
        ssl_object = cast("ssl.SSLObject | None", writer.get_extra_info("ssl_object"))
        version = ssl_object.version() if ssl_object is not None else None
        if version:
            samples.append(Sample("probe_tls_version_info", 1.0, (("version", version),)))
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        expiry = leaf_expiry(der) if der else None
        if expiry is not None:
            samples.append(Sample("probe_ssl_earliest_cert_expiry", expiry))
        said += f", {version or 'TLS'} in {handshake * 1000:.1f} ms"
    return _StreamChannel(reader, writer), samples, said


class _TlsFailure(Exception):
    pass


def _phase(name: str, seconds: float) -> Sample:
    return Sample("probe_sip_duration_seconds", seconds, (("phase", name),))


def _register_uri(reg: SipRegister, host: str) -> str:
    return f"sip:{_hostport(reg.domain or host)}"


async def _register(
    dialog: _Dialog, reg: SipRegister, host: str, deadline: float
) -> tuple[str | None, str]:
    """Register and unregister the extension: (failure reason or None, what to say)."""
    uri = _register_uri(reg, host)
    aor = f"<sip:{reg.user}@{_hostport(reg.domain or host)}>"
    local_host, local_port = dialog.channel.local
    transport = dialog.transport.lower()
    contact = f"<sip:{reg.user}@{_hostport(local_host, local_port)};transport={transport}>"
    username = reg.auth_user or reg.user
    password = reg.password_secret.get_secret_value()
    challenge: Challenge | None = None
    uses = 0  # nonce count of the current challenge

    async def send(expires: int) -> SipResponse:
        """One REGISTER of the contact, answering the challenges it meets (at most three
        sends: a first challenge, then a stale nonce once)."""
        nonlocal challenge, uses
        fresh_here = False  # the credentials sent answer a challenge met in this call
        response: SipResponse | None = None
        for _ in range(3):
            extra = [f"Contact: {contact}", f"Expires: {expires}"]
            if challenge is not None:
                uses += 1
                name = (
                    "Authorization"
                    if challenge.header == "www-authenticate"
                    else "Proxy-Authorization"
                )
                value = digest_authorization(
                    challenge,
                    username=username,
                    password=password,
                    method="REGISTER",
                    uri=uri,
                    nc=uses,
                )
                extra.append(f"{name}: {value}")
            request, branch, cseq = dialog.request("REGISTER", uri, aor, extra, sender=aor)
            response = await dialog.transact(request, branch, cseq, deadline)
            if response.code not in (401, 407):
                return response
            fresh = pick_challenge(response)
            if fresh is None:
                return response  # nothing netmon can answer: the caller says so
            stale = fresh.params.get("stale", "").lower() == "true"
            if challenge is not None and fresh_here and not stale:
                return response  # the credentials were refused
            challenge, uses, fresh_here = fresh, 0, True
        assert response is not None
        return response

    start = time.perf_counter()
    expires = reg.expires
    response = await send(expires)
    brief = _min_expires(response)
    if brief is not None:  # 423 Interval Too Brief: once more with the registrar's minimum
        expires = brief
        response = await send(expires)
    took = time.perf_counter() - start
    who = f"{reg.user}@{reg.domain or host}"
    if response.code in (401, 407, 403):
        if response.code != 403 and pick_challenge(response) is None:
            return "sip_auth", (
                f"REGISTER of {who} was challenged with no digest netmon can answer "
                f"({response.code} {_printable(response.phrase, 60)})"
            )
        return "sip_auth", (
            f"the registrar refused the credentials of {who} "
            f"({response.code} {_printable(response.phrase, 60)})"
        )
    if not 200 <= response.code < 300:
        return "status", (
            f"REGISTER of {who} answered {response.code} {_printable(response.phrase, 60)}"
        )
    said = f"{who} registered in {took * 1000:.1f} ms"
    try:
        removed = await send(0)
    except (_Timeout, SipProtocolError, OSError) as exc:
        why = "no answer" if isinstance(exc, _Timeout) else _why(exc)
        return None, f"{said}; its removal failed ({why}): it lapses in {expires} s"
    if not 200 <= removed.code < 300:
        return None, f"{said}; its removal was answered {removed.code}: it lapses in {expires} s"
    # The 200 lists the bindings that remain (RFC 3261 §10.3 step 8): ours must be gone.
    if _binds(removed, contact):
        return None, f"{said}; the registrar kept its binding: it lapses in {expires} s"
    return None, f"{said} and unregistered"


def _min_expires(response: SipResponse) -> int | None:
    """A 423's Min-Expires, when netmon may use it (at most an hour)."""
    if response.code != 423:
        return None
    value = (response.first("min-expires") or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= 3600 else None


def _contact_key(value: str) -> str:
    """A Contact's URI without its parameters, lower-cased: what two bindings share."""
    inner = value.partition("<")[2].partition(">")[0] if "<" in value else value
    return inner.split(";", 1)[0].strip().lower()


def _binds(response: SipResponse, contact: str) -> bool:
    """Whether a REGISTER's 200 lists ``contact`` among the address's bindings."""
    ours = _contact_key(contact)
    return any(_contact_key(value) == ours for value in response.headers.get("contact", []))


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, SipOptions)
    host = target.host or ""
    port = opts.effective_port
    where = f"{_hostport(host, port)} over {opts.transport.upper()}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUDGET * (target.timeout or DEFAULT_TIMEOUT)
    samples: list[Sample] = []

    start = time.perf_counter()
    kind = socket.SOCK_DGRAM if opts.transport == "udp" else socket.SOCK_STREAM
    try:
        async with asyncio.timeout_at(deadline):
            addresses = await _resolve(host, port, kind)
    except (socket.gaierror, UnicodeError) as exc:
        return failure("dns", f"{host} did not resolve: {_why(exc)}")
    except TimeoutError:
        return failure("timeout", f"resolving {host} timed out")
    if not is_ip_literal(host):
        samples.append(_phase("resolve", time.perf_counter() - start))

    # Over TCP/TLS each address in turn until one takes the connection (as the tcp probe);
    # over UDP nothing tells at this point: the first address.
    candidates = addresses[:1] if opts.transport == "udp" else addresses
    opened_channel: tuple[_Channel, list[Sample], str] | None = None
    error: OSError | None = None
    for family, address in candidates:
        try:
            opened_channel = await _open(opts, host, port, family, address, deadline)
            break
        except _TlsFailure as exc:
            return failure("tls", f"{where}: {exc}", tuple(samples))
        except TimeoutError:
            shake = " (and the TLS handshake)" if opts.transport == "tls" else ""
            return failure("timeout", f"connecting to {where}{shake} timed out", tuple(samples))
        except OSError as exc:
            error = exc
    if opened_channel is None:
        error = error or OSError("no address to connect to")
        if isinstance(error, ConnectionRefusedError):
            return failure("refused", f"{where} refused the connection", tuple(samples))
        return failure("unreachable", f"{where} is unreachable ({_why(error)})", tuple(samples))
    channel, opened, said = opened_channel
    samples += opened

    transport = opts.transport.upper()
    uri_host = _hostport(opts.domain or host, port)
    params = "" if opts.transport == "udp" else f";transport={opts.transport}"
    user = f"{opts.user}@" if opts.user else ""
    dialog = _Dialog(channel, transport)
    polite = False
    try:
        uri = f"sip:{user}{uri_host}{params}"
        local_host, local_port = channel.local
        request, branch, cseq = dialog.request(
            "OPTIONS",
            uri,
            f"<sip:{user}{_hostport(opts.domain or host)}>",
            [
                f"Contact: <sip:netmon@{_hostport(local_host, local_port)}{params}>",
                "Accept: application/sdp",
            ],
        )
        start = time.perf_counter()
        try:
            response = await dialog.transact(request, branch, cseq, deadline)
        except _Timeout:
            if dialog.ignored:
                return failure(
                    "protocol",
                    f"{where} answered only other requests than netmon's OPTIONS"
                    f"{_timeout_text(dialog)}",
                    tuple(samples),
                )
            return failure("timeout", f"{where} did not answer OPTIONS in time", tuple(samples))
        except SipProtocolError as exc:
            return failure("protocol", f"{where} answered OPTIONS with {exc}", tuple(samples))
        except ConnectionRefusedError:
            return failure("refused", f"{where} refused OPTIONS (port unreachable)", tuple(samples))
        except OSError as exc:
            return failure(
                "protocol",
                f"{where} broke the connection during OPTIONS: {_why(exc)}",
                tuple(samples),
            )
        rtt = time.perf_counter() - start
        samples.append(_phase("options", rtt))
        samples.append(Sample("probe_sip_status_code", float(response.code)))
        server = _server_of(response)
        if server:
            samples.append(Sample("probe_sip_info", 1.0, (("server", server),)))
        answered = (
            f"{where}{said}: OPTIONS answered {response.code} "
            f"{_printable(response.phrase, 60)} in {rtt * 1000:.1f} ms"
            + (f" by {server!r}" if server else "")
        )
        if response.code not in opts.expect_status:
            expected = ", ".join(str(c) for c in opts.expect_status)
            return failure("status", f"{answered}; expected {expected}", tuple(samples))

        if opts.registration is not None:
            start = time.perf_counter()
            try:
                reason, text = await _register(dialog, opts.registration, host, deadline)
            except _Timeout:
                reason, text = "timeout", "REGISTER was not answered in time"
            except SipProtocolError as exc:
                reason, text = "protocol", f"REGISTER was answered with {exc}"
            except OSError as exc:
                reason, text = "protocol", f"REGISTER failed: {_why(exc)}"
            samples.append(_phase("register", time.perf_counter() - start))
            samples.append(Sample("probe_sip_register_success", 0.0 if reason else 1.0))
            if reason is not None:
                return failure(reason, f"{answered}; {text}", tuple(samples))
            answered += f"; {text}"
        polite = True
    finally:
        await channel.close(polite)
    return ProbeResult(success=True, reason=None, detail=answered, samples=tuple(samples))
