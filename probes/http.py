"""http probe: one request (following redirects), timed by phase like blackbox_exporter.

Every probe opens a fresh connection (no keep-alive, no DNS cache), so the phases are honest:

- ``resolve``: name resolution (0 for an IP literal), through probes/resolve.py with the
  target's ``preferred_ip_protocol`` / ``ip_protocol_fallback`` (``_Resolver``, aiohttp's
  resolver interface, so the URL's host stays the Host header and the TLS server name);
- ``connect``: the TCP handshake;
- ``tls``: the TLS handshake (0 for plain http);
- ``processing``: from the connection being ready to the response headers;
- ``transfer``: reading the body (at most ``max_body_bytes``).

With redirects each phase but transfer is the sum over the hops, as blackbox_exporter does
(only the final body is read). The certificates are read in the handshake itself, so
``probe_ssl_earliest_cert_expiry`` (the earliest notAfter over each hop's verified chain) is
there on every TLS probe, and a verification failure names its cause (expired, unknown CA,
hostname); the chain that failed is then read on a second, unverified handshake for its expiry.

The body is taken as sent (no Accept-Encoding) unless ``compression`` names a coding, which is
then asked for and decoded here (blackbox_exporter's meaning). A body longer than
``max_body_bytes`` after decoding fails the probe and the connection is dropped there.
aiohttp's silent retry of idempotent requests is turned off (a probe reports the first
failure). Cookies live for one probe (``_ProbeJar``), across its redirects.

The probe applies no timeout of its own: the scheduler cancels it from outside.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import contextvars
import errno
import functools
import html
import json
import logging
import re
import socket
import ssl
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookies import BaseCookie, Morsel, SimpleCookie
from types import MappingProxyType
from typing import Any

import aiohttp
import aiohttp.abc
import brotli
from aiohttp import hdrs, http_exceptions
from yarl import URL

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.options import HttpOptions, HttpRequest, json_path
from probes.resolve import Resolved, ResolveError, literal, resolve
from probes.tls import (
    ChainFacts,
    chain_facts,
    cipher_label,
    client_context,
    is_ip_literal,
    version_label,
)

__all__ = ["FAMILIES", "USER_AGENT", "probe"]

# The metric families this probe emits (declared in probes/catalogue.py).
FAMILIES = catalogue.HTTP

log = logging.getLogger(__name__)

USER_AGENT = "netmon/0.1"
_CHUNK = 64 * 1024
_PHASES = ("resolve", "connect", "tls", "processing", "transfer")


# --------------------------------------------------------------------------- per-probe record


@dataclass(slots=True)
class _Record:
    """What one probe measured; filled in by the connector and the middleware below."""

    resolve: float = 0.0
    connect: float = 0.0
    tls: float = 0.0
    processing: float = 0.0
    transfer: float = 0.0
    conn_ready: float = 0.0  # perf_counter when the latest connection was ready
    headers_at: float = 0.0  # perf_counter when the latest response headers were in
    tls_used: bool = False  # the latest connection is TLS (its handshake succeeded)
    expiry: float | None = None  # earliest notAfter over the hops' chains, unix seconds
    chain: ChainFacts | None = None  # the latest TLS connection's certificates
    tls_version: str | None = None  # the latest TLS connection's, as blackbox labels it
    tls_cipher: str | None = None  # the latest TLS connection's suite, as blackbox labels it
    tls_broke: bool = False  # the latest connection's TCP was up, its TLS handshake failed
    body_read: int = 0  # bytes of the body after decoding (all of it when not compressed)
    content_length: int | None = None
    jar: aiohttp.CookieJar | None = None  # made when a response sets a cookie
    # For _Resolver: where names are looked up, and the target's family choice.
    ctx: ProbeContext | None = None
    preferred: str = "ip4"
    fallback: bool = True
    resolved: Resolved | None = None  # the latest hop's address (probe_ip_protocol, hash)

    def phase_samples(self) -> list[Sample]:
        values = (self.resolve, self.connect, self.tls, self.processing, self.transfer)
        return [
            Sample("probe_http_duration_seconds", max(v, 0.0), (("phase", p),))
            for p, v in zip(_PHASES, values, strict=True)
        ]


# The probe sets this; the connection is made inside the request's own task, so the shared
# connector finds the record of the probe it is working for.
_CURRENT: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "netmon_http_record", default=None
)


def _note_certificate(rec: _Record, transport: asyncio.BaseTransport) -> None:
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return
    rec.tls_used = True
    rec.tls_version = version_label(ssl_object)
    rec.tls_cipher = cipher_label(ssl_object)
    rec.chain = facts = chain_facts(ssl_object)
    earliest = facts.earliest_expiry if facts is not None else None
    if earliest is not None and (rec.expiry is None or earliest < rec.expiry):
        rec.expiry = earliest


# --------------------------------------------------------------------------- aiohttp glue

# PRIVATE aiohttp API, isolated here (checked against aiohttp 3.10 to 3.14). aiohttp's trace
# hooks report one "connection create" span covering TCP and TLS together, and the peer
# certificate is gone from most responses by the time the caller sees them. So we override two
# private TCPConnector methods:
#
# - ``_resolve_host(host, port, traces=...)``: timed as the resolve phase;
# - ``_wrap_create_connection(protocol_factory, *, addr_infos, req, timeout, ...)``: it connects
#   a socket (aiohappyeyeballs), then calls ``loop.create_connection(protocol_factory, sock=,
#   ssl=)``, which calls the protocol factory as soon as the TCP connection is up and then does
#   the TLS handshake. Wrapping the factory splits connect from TLS; the returned transport
#   gives the certificate right after the handshake.
#
# tests/test_http.py checks both (phases > 0, expiry on every probe, PRIVATE_API_OK), so an
# aiohttp upgrade that changes them fails the tests rather than silently losing figures.
_PRIVATE_METHODS = ("_resolve_host", "_wrap_create_connection")
PRIVATE_API_OK = all(callable(getattr(aiohttp.TCPConnector, m, None)) for m in _PRIVATE_METHODS)


class _NoAddress(OSError):
    """probes/resolve.py's ResolveError through aiohttp (which wraps an OSError as a DNS
    error); the message is the whole sentence."""


class _Resolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver interface over probes/resolve.py: one address, of the family the
    probe's target prefers (or the other with fallback), from the shared lookup (the system
    resolver, or the tests' hosts table). aiohttp connects to it and keeps the URL's host for
    the Host header and SNI."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        rec = _CURRENT.get()
        if rec is None or rec.ctx is None:  # not from a probe: nothing to look up with
            raise _NoAddress(errno.ENOENT, f"{host}: no probe to resolve it for")
        try:
            found = await resolve(rec.ctx, host, rec.preferred, rec.fallback)
        except ResolveError as exc:
            raise _NoAddress(errno.ENOENT, str(exc)) from None
        rec.resolved = found
        return [
            {
                "hostname": host,
                "host": found.address,
                "port": port,
                "family": found.family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


class _TimedConnector(aiohttp.TCPConnector):
    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> Any:
        rec = _CURRENT.get()
        if rec is None:
            return await super()._resolve_host(host, port, traces=traces)
        if is_ip_literal(host):
            rec.resolved = literal(host)
            return await super()._resolve_host(host, port, traces=traces)
        start = time.perf_counter()
        try:
            return await super()._resolve_host(host, port, traces=traces)
        finally:
            rec.resolve += time.perf_counter() - start

    async def _wrap_create_connection(
        self, *args: Any, **kwargs: Any
    ) -> tuple[asyncio.Transport, Any]:
        rec = _CURRENT.get()
        if rec is None or not args or not callable(args[0]):
            transport, proto = await super()._wrap_create_connection(*args, **kwargs)
            if rec is not None:
                _note_certificate(rec, transport)
            return transport, proto
        factory: Callable[[], Any] = args[0]
        tcp_up = 0.0

        def timed_factory() -> Any:
            nonlocal tcp_up
            tcp_up = time.perf_counter()
            return factory()

        start = time.perf_counter()
        tls = bool(kwargs.get("ssl"))
        # Of the latest connection (the final hop's, as blackbox), once its handshake is done.
        rec.tls_used, rec.chain, rec.tls_version, rec.tls_cipher = False, None, None, None
        rec.tls_broke = False
        try:
            transport, proto = await super()._wrap_create_connection(
                timed_factory, *args[1:], **kwargs
            )
        except Exception:
            # A server that resets or closes mid-handshake (one refusing the version bounds
            # does) is a TLS failure, not a connection one.
            rec.tls_broke = tls and bool(tcp_up)
            raise
        finally:
            end = time.perf_counter()
            if tcp_up and tls:
                rec.connect += tcp_up - start
                rec.tls += end - tcp_up
            else:
                rec.connect += end - start
            rec.conn_ready = end
        _note_certificate(rec, transport)
        return transport, proto


class _NotRetried(aiohttp.ClientError):
    """Carries a disconnect past aiohttp's automatic retry (see ``_middleware``)."""

    def __init__(self, original: aiohttp.ClientError) -> None:
        super().__init__(str(original))
        self.original = original


async def _middleware(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Times each hop's headers and turns off aiohttp's silent retry of idempotent requests.

    aiohttp repeats a GET once on a fresh connection when the server disconnects or resets;
    a probe must report the first failure, not hide it behind a second attempt.
    """
    try:
        resp = await handler(req)
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise _NotRetried(exc) from exc
    rec = _CURRENT.get()
    if rec is not None:
        now = time.perf_counter()
        rec.processing += now - rec.conn_ready if rec.conn_ready else 0.0
        rec.headers_at = now
    return resp


_NO_URL = URL()


class _Request(aiohttp.ClientRequest):
    """aiohttp's request without its automatic ``Accept-Encoding`` (cheaper per request than
    ``skip_auto_headers``, which copies the headers every time)."""

    DEFAULT_HEADERS = {  # noqa: RUF012 (aiohttp's own attribute, read-only)
        key: value
        for key, value in aiohttp.ClientRequest.DEFAULT_HEADERS.items()
        if key != hdrs.ACCEPT_ENCODING
    }


class _ProbeJar(aiohttp.abc.AbstractCookieJar):
    """The session's cookie jar, one real jar per probe: cookies a response sets are sent on
    the redirects that follow (as blackbox_exporter's jar does), never to another probe.

    The probe's jar lives in its record (``_CURRENT``) and is made only when a response sets
    a cookie; it takes cookies from IP-address hosts too (``unsafe``), as Go's jar does.
    """

    @property
    def unsafe(self) -> bool:
        return True

    @property
    def quote_cookie(self) -> bool:
        return True

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        jar = self._jar(create=False)
        return jar.cookies if jar is not None else MappingProxyType({})

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        jar = self._jar(create=False)
        return jar.host_only_cookies if jar is not None else frozenset()

    def _jar(self, create: bool) -> aiohttp.CookieJar | None:
        rec = _CURRENT.get()
        if rec is None:
            return None
        if rec.jar is None and create:
            rec.jar = aiohttp.CookieJar(unsafe=True)
        return rec.jar

    def __iter__(self) -> Iterator[Morsel[str]]:
        jar = self._jar(create=False)
        return iter(jar) if jar is not None else iter(())

    def __len__(self) -> int:
        jar = self._jar(create=False)
        return len(jar) if jar is not None else 0

    def clear(self, predicate: Any = None) -> None:
        jar = self._jar(create=False)
        if jar is not None:
            jar.clear(predicate)

    def clear_domain(self, domain: str) -> None:
        jar = self._jar(create=False)
        if jar is not None:
            jar.clear_domain(domain)

    def update_cookies(self, cookies: Any, response_url: URL = _NO_URL) -> None:
        jar = self._jar(create=bool(cookies))
        if jar is not None:
            jar.update_cookies(cookies, response_url)

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        jar = self._jar(create=False)
        return jar.filter_cookies(request_url) if jar is not None else SimpleCookie()


class _Client:
    """The process's HTTP client: one session for every target (the family is chosen per
    probe by ``_Resolver``), cached TLS contexts."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            connector = _TimedConnector(
                force_close=True,  # a fresh connection per probe: honest timings
                use_dns_cache=False,
                family=socket.AF_UNSPEC,  # _Resolver gives one address of the chosen family
                resolver=_Resolver(),
                limit=0,  # the scheduler bounds probes in flight
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
                headers={"User-Agent": USER_AGENT},
                cookie_jar=_ProbeJar(),
                trust_env=False,
                # The body as sent: no Accept-Encoding unless the settings ask for one
                # (_Request), decoded only by the probe with the target's ``compression``, as
                # blackbox does.
                request_class=_Request,
                auto_decompress=False,
                middlewares=(_middleware,),
            )
            self._session = session
        return session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _make_client() -> tuple[_Client, Callable[[], Any]]:
    if not PRIVATE_API_OK:
        log.warning(
            "aiohttp %s lacks TCPConnector.%s: http phases and certificate expiry are degraded",
            aiohttp.__version__,
            " / ".join(_PRIVATE_METHODS),
        )
    client = _Client()
    return client, client.aclose


# --------------------------------------------------------------------------- the probe


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def _days(seconds: float) -> str:
    days = abs(seconds) / 86400
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}" if days >= 1 else "less than a day"


@functools.lru_cache(maxsize=4096)
def _parse(url: str) -> URL:
    """The target's URL, parsed once."""
    return URL(url)


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _decode(body: bytes, charset: str | None) -> str:
    encoding = "utf-8"
    if charset:
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(charset).name
    text = body.decode(encoding, errors="replace")
    if "&" in text:  # pages often spell Vietnamese with entities: &#7841; is ạ
        text = text + "\n" + html.unescape(text)
    return _normalize(text)


@dataclass(slots=True)
class _Outcome:
    status: int
    version: str
    redirects: int
    text: str | None
    headers: Any = None  # the final response's CIMultiDictProxy
    body_problem: tuple[str, str] | None = None  # (reason, detail) of a body that failed


_REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))


class _Decoder:
    """Decodes a body compressed with ``compression``, never past a bound (a zip bomb costs
    no more than its limit). Raises ValueError when the body is not what it claims."""

    __slots__ = ("_brotli", "_coding", "_zlib")

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._zlib: Any = None
        self._brotli: Any = None
        if coding == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "br":
            self._brotli = brotli.Decompressor()

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Up to ``room`` decoded bytes of ``chunk``; ``room`` of them means there is more."""
        try:
            if self._brotli is not None:
                out: bytes = self._brotli.process(chunk, output_buffer_limit=room)
                return out
            if self._zlib is None:  # deflate: zlib-wrapped as RFC 9110 says, or raw as Go's
                wrapped = (
                    len(chunk) >= 2
                    and (chunk[0] & 0x0F) == 8
                    and ((chunk[0] << 8) | chunk[1]) % 31 == 0
                )
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            out = self._zlib.decompress(chunk, room)
            return out
        except (zlib.error, brotli.error) as exc:
            raise ValueError(f"not a valid {self._coding} stream: {exc}") from None

    def finished(self) -> bool:
        if self._brotli is not None:
            return bool(self._brotli.is_finished())
        return self._zlib is None or bool(self._zlib.eof)


async def _read_body(
    resp: aiohttp.ClientResponse, rec: _Record, opts: HttpOptions, keep: bool
) -> tuple[bytes, tuple[str, str] | None]:
    """The body (decoded with ``compression``), at most ``max_body_bytes`` of it, and what was
    wrong with it: ("body_size", ...) past the limit, ("protocol", ...) a body that does not
    decode. The caller drops the connection when the body was not read to its end."""
    cap = opts.max_body_bytes
    coding = opts.compression
    decoder = _Decoder(coding) if coding is not None and coding != "identity" else None
    parts: list[bytes] = []
    content = resp.content
    try:
        while True:
            room = cap + 1 - rec.body_read  # one byte past the limit tells a longer body
            chunk = await content.read(_CHUNK if decoder is not None else min(_CHUNK, room))
            if not chunk:
                break
            if decoder is not None:
                chunk = decoder.feed(chunk, room)
            rec.body_read += len(chunk)
            if rec.body_read > cap:
                rec.body_read = cap
                problem = ("body_size", f"body longer than max_body_bytes ({cap:,} bytes)")
                return b"", problem
            if keep:
                parts.append(chunk)
    except ValueError as exc:
        problem = ("protocol", f"cannot decode the {coding} body: {exc}")
        return b"", problem
    except aiohttp.ClientPayloadError:
        # What arrived before the error, read or still buffered, for the detail.
        rec.body_read = max(rec.body_read, content.total_bytes)
        raise
    if decoder is not None and not decoder.finished():
        problem = ("protocol", f"the {coding} body ends before its compressed stream does")
        return b"", problem
    return b"".join(parts), None


# Each options object's request, by id (the object is kept, so its id is not reused): reading
# a pydantic private attribute costs more than the dict look-up.
_REQUESTS: dict[int, tuple[HttpOptions, HttpRequest]] = {}


def _request_of(opts: HttpOptions) -> HttpRequest:
    known = _REQUESTS.get(id(opts))
    if known is not None and known[0] is opts:
        return known[1]
    if len(_REQUESTS) >= 8192:  # settings reloaded many times: forget the old ones
        _REQUESTS.clear()
    request = opts.request
    _REQUESTS[id(opts)] = (opts, request)
    return request


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, HttpOptions)
    if target.url is None:  # settings validation makes this unreachable
        return failure("config", "http target without url or http options")
    client = await ctx.shared("http", _make_client)
    try:
        sslcontext = client_context(
            opts.tls_verify,
            opts.ca_file,
            opts.cert_file,
            opts.key_file,
            opts.tls_min_version,
            opts.tls_max_version,
        )
    except (OSError, ssl.SSLError) as exc:
        which = opts.ca_file if opts.cert_file is None else f"{opts.ca_file}, {opts.cert_file}"
        return failure("tls", f"cannot load the TLS files ({which}): {exc}")
    url = _parse(target.url)
    session = client.session()
    plan = _request_of(opts)
    keep = plan.keep_text
    extra: dict[str, Any] = {}
    if plan.server_name is not None:
        extra["server_hostname"] = plan.server_name
    if opts.proxy_url is not None:
        extra["proxy"] = opts.proxy_url
    rec = _Record(ctx=ctx)
    rec.preferred, rec.fallback = opts.family_choice
    token = _CURRENT.set(rec)
    start = time.perf_counter()
    try:
        async with session.request(
            opts.method,
            url,
            headers=plan.headers,
            data=plan.body,
            ssl=sslcontext,
            allow_redirects=opts.max_redirects > 0,
            # aiohttp fails on the n-th redirect response; we follow max_redirects of them.
            max_redirects=opts.max_redirects + 1,
            **extra,
        ) as resp:
            rec.content_length = resp.content_length
            body = b""
            problem = None
            # A redirect not followed (max_redirects = 0) counts as one, as blackbox; its body
            # is not read, as there.
            unfollowed = resp.status in _REDIRECT_CODES and "Location" in resp.headers
            if opts.method != "HEAD" and not unfollowed:
                body, problem = await _read_body(resp, rec, opts, keep)
                if problem is not None:
                    resp.close()  # a huge, endless or broken body: drop the connection
            end = time.perf_counter()
            rec.transfer = end - rec.headers_at if rec.headers_at else 0.0
            outcome = _Outcome(
                status=resp.status,
                version=f"{resp.version.major}.{resp.version.minor}" if resp.version else "",
                redirects=len(resp.history) + unfollowed,
                text=_decode(body, resp.charset) if keep and problem is None else None,
                headers=resp.headers,
                body_problem=problem,
            )
    except aiohttp.ClientConnectorCertificateError as exc:
        # Read the certificate that failed verification on a second, unverified handshake:
        # its expiry is what the NOC needs to know (an expired certificate says when).
        budget = min(2.0, max(0.25, 3 * (rec.connect + rec.tls)))
        address = rec.resolved.address if rec.resolved is not None else exc.host
        expiry = await _peek_expiry(address, exc.host, exc.port, budget)
        if expiry is not None:
            rec.expiry = expiry
        return _failed(exc, rec, opts, url)
    except Exception as exc:  # whatever a hostile server provokes: never raise out
        if not isinstance(exc, aiohttp.ClientError | OSError):
            log.warning("http probe of %s: unexpected %r", target.name, exc, exc_info=True)
        return _failed(exc, rec, opts, url)
    finally:
        _CURRENT.reset(token)
    return _judge(outcome, rec, opts, end - start)


async def _peek_expiry(address: str, host: str, port: int | None, budget: float) -> float | None:
    """Earliest notAfter of the chain the server presents, unverified; None if unreachable."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(budget):
            transport, _ = await loop.create_connection(
                asyncio.Protocol,
                address,
                port or 443,
                ssl=client_context(False, None),
                server_hostname=host,
            )
    except (OSError, TimeoutError):
        return None
    try:
        ssl_object = transport.get_extra_info("ssl_object")
        facts = chain_facts(ssl_object) if ssl_object is not None else None
    finally:
        transport.abort()
    return facts.earliest_expiry if facts is not None else None


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else value


def _expect_text(opts: HttpOptions) -> str:
    if not opts.expect_status:
        return "2xx"
    codes = [str(c) for c in opts.expect_status]
    return codes[0] if len(codes) == 1 else ", ".join(codes[:-1]) + " or " + codes[-1]


def _tls_samples(rec: _Record) -> list[Sample]:
    samples = [Sample("probe_http_ssl", 1.0 if rec.tls_used else 0.0)]
    if rec.expiry is not None:
        samples.append(Sample("probe_ssl_earliest_cert_expiry", rec.expiry))
    if rec.tls_used:
        chain = rec.chain
        if chain is not None and chain.chain_expiry is not None:
            samples.append(
                Sample("probe_ssl_last_chain_expiry_timestamp_seconds", chain.chain_expiry)
            )
        if chain is not None and chain.info:
            samples.append(Sample("probe_ssl_last_chain_info", 1.0, chain.info))
        if rec.tls_version is not None:
            samples.append(Sample("probe_tls_version_info", 1.0, (("version", rec.tls_version),)))
        if rec.tls_cipher is not None:
            samples.append(Sample("probe_tls_cipher_info", 1.0, (("cipher", rec.tls_cipher),)))
    return samples


def _header_problem(opts: HttpOptions, headers: Any) -> str | None:
    """The first failed fail_if_header_matches / fail_if_header_not_matches rule, in words."""
    rules = [(r, True) for r in opts.fail_if_header_matches]
    rules += [(r, False) for r in opts.fail_if_header_not_matches]
    for rule, fails_on_match in rules:
        values = headers.getall(rule.header, ())
        if not values:
            if not rule.allow_missing:
                return f"header {rule.header} missing"
            continue
        pattern = re.compile(rule.regexp)
        if any(pattern.search(v) for v in values) == fails_on_match:
            verb = "matches" if fails_on_match else "does not match"
            return f"header {rule.header} {verb} {rule.regexp!r}"
    return None


def _regex_problem(opts: HttpOptions, text: str) -> str | None:
    for expression in opts.fail_if_body_matches:
        if re.search(expression, text):
            return f"body matches {expression!r}"
    for expression in opts.fail_if_body_not_matches:
        if not re.search(expression, text):
            return f"body does not match {expression!r}"
    return None


_MISSING = object()


def _json_at(document: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(document, list) and -len(document) <= step:
            if step >= len(document):
                return _MISSING
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return _MISSING
    return document


def _json_equal(value: Any, want: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(value, bool) or isinstance(want, bool):
        return value is want
    return bool(value == want)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _json_problem(opts: HttpOptions, body: str) -> str | None:
    """The first failed body_json check, in words; the body must be JSON."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        return f"body is not JSON ({exc})"
    for check in opts.body_json:
        value = _json_at(document, json_path(check.path))
        test = check.test
        want = getattr(check, test)
        shown = "missing" if value is _MISSING else json.dumps(value, ensure_ascii=False)[:80]
        if test == "exists":
            ok = (value is not _MISSING) == want
        elif value is _MISSING:
            ok = False
        elif test in ("equals", "not_equals"):
            same = _json_equal(value, want)
            ok = same if test == "equals" else not same
        elif test == "matches":
            ok = isinstance(value, str) and re.search(want, value) is not None
        else:
            number = _number(value)
            ok = number is not None and _COMPARE[test](number, want)
        if not ok:
            return f"JSON {check.path} is {shown}, expected {test.replace('_', ' ')} {want!r}"
    return None


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def last_modified(headers: Any) -> float | None:
    value = headers.get("Last-Modified")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _judge(out: _Outcome, rec: _Record, opts: HttpOptions, elapsed: float) -> ProbeResult:
    samples = rec.phase_samples()
    samples += [
        Sample("probe_http_status_code", float(out.status)),
        Sample("probe_http_redirects", float(out.redirects)),
        Sample("probe_http_content_length", float(_or_minus_one(rec.content_length))),
        Sample("probe_http_uncompressed_body_length", float(rec.body_read)),
    ]
    if out.version:
        samples.append(Sample("probe_http_version", float(out.version)))
    samples += _tls_samples(rec)
    if rec.resolved is not None:
        samples += rec.resolved.samples
    if out.headers is not None and "Last-Modified" in out.headers:
        modified = last_modified(out.headers)
        if modified is not None:
            samples.append(Sample("probe_http_last_modified_timestamp_seconds", modified))

    head = f"HTTP {out.status} in {_ms(elapsed)}"
    notes: list[str] = []
    if out.redirects:
        notes.append(f"after {out.redirects} redirect{'s' if out.redirects > 1 else ''}")

    problem: tuple[str, str] | None = None
    facts: list[tuple[str, str]] = []
    status_ok = out.status in opts.expect_status if opts.expect_status else 200 <= out.status < 300
    if not status_ok:
        problem = ("status", f"{head}, expected {_expect_text(opts)}")

    regex_failed = False
    if problem is None and (opts.fail_if_header_matches or opts.fail_if_header_not_matches):
        why = _header_problem(opts, out.headers)
        if why is not None:
            problem = ("header", f"{head}, but {why}")
            regex_failed = True
    if problem is None and out.body_problem is not None:
        reason, why = out.body_problem
        problem = (reason, f"{head}, but {why}")

    if out.text is not None:
        missing = [s for s in opts.body_contains if _normalize(s) not in out.text]
        present = [s for s in opts.body_absent if _normalize(s) in out.text]
        if opts.body_contains or opts.body_absent:
            samples.append(Sample("probe_http_content_match", 0.0 if missing or present else 1.0))
        facts += [("required", s) for s in missing] + [("forbidden", s) for s in present]
        if present:  # the page's words around the first forbidden text it shows
            text = out.text
            first = min((_normalize(p) for p in present), key=text.find)
            facts.append(("excerpt", _excerpt(text, first)))
        # Apart, so "banner missing" and "page defaced" are told from each other.
        if opts.body_contains:
            samples.append(Sample("probe_http_content_required_match", 0.0 if missing else 1.0))
        if opts.body_absent:
            samples.append(Sample("probe_http_content_forbidden_match", 0.0 if present else 1.0))
        if problem is None and missing:
            problem = ("content", f'{head}, but required text "{missing[0]}" missing')
        elif problem is None and present:
            problem = ("content", f'{head}, but forbidden text "{present[0]}" present')
        elif (opts.body_contains or opts.body_absent) and not missing and not present:
            notes.append("content matched" if opts.body_contains else "no forbidden text")
        if problem is None and (opts.fail_if_body_matches or opts.fail_if_body_not_matches):
            why = _regex_problem(opts, out.text)
            if why is not None:
                problem = ("content", f"{head}, but {why}")
                regex_failed = True
        if opts.body_json:
            why = _json_problem(opts, out.text) if problem is None else None
            samples.append(Sample("probe_failed_due_to_json", 1.0 if why else 0.0))
            if why is not None:
                problem = ("content", f"{head}, but {why}")
    samples.append(Sample("probe_failed_due_to_regex", 1.0 if regex_failed else 0.0))

    if problem is None and opts.expect_http_versions and out.version:
        seen = f"HTTP/{out.version}"
        if seen not in opts.expect_http_versions:
            wanted = " or ".join(opts.expect_http_versions)
            problem = ("http_version", f"{head}, but {seen}, expected {wanted}")
    if problem is None and opts.fail_if_ssl and rec.tls_used:
        problem = ("ssl", f"{head}, but the final request was over TLS (fail_if_ssl)")
    if problem is None and opts.fail_if_not_ssl and not rec.tls_used:
        problem = ("ssl", f"{head}, but the final request was not over TLS (fail_if_not_ssl)")

    if rec.expiry is not None:
        left = rec.expiry - time.time()
        if left < 0:
            notes.append(f"certificate expired {_days(left)} ago")
        elif left < opts.tls_expiry_warn:
            notes.append(f"certificate expires in {_days(left)}")

    samples_t = tuple(samples)
    if problem is not None:
        return failure(problem[0], problem[1], samples_t, tuple(facts))
    detail = head + "".join(", " + n for n in notes)
    return ProbeResult(
        success=True, reason=None, detail=detail, samples=samples_t, facts=tuple(facts)
    )


_TAG = re.compile(r"<[^>]*>?")
_SPACE = re.compile(r"\s+")
_EXCERPT_BEFORE, _EXCERPT_AFTER = 40, 100


def _excerpt(text: str, found: str) -> str:
    """The page's words around the first ``found`` (markup and line breaks taken out), for
    the message that quotes what a defaced page says ("Hacked by ...")."""
    at = text.find(found)
    if at < 0:
        return found
    start = max(0, at - _EXCERPT_BEFORE)
    if start > 0 and text[start - 1].isalnum():  # not from the middle of a word
        space = text.find(" ", start, at)
        start = space + 1 if space >= 0 else at
    stretch = text[start : at + len(found) + _EXCERPT_AFTER]
    close, opening = stretch.find(">"), stretch.find("<")
    if close >= 0 and (opening < 0 or close < opening):  # began inside a tag: drop its end
        stretch = stretch[close + 1 :]
    words = _SPACE.sub(" ", _TAG.sub(" ", stretch)).strip()
    limit = len(found) + _EXCERPT_BEFORE + 40
    if len(words) <= limit:
        return words
    cut = words.rfind(" ", 0, limit)
    return words[: cut if cut > 0 else limit] + " …"


# What a verification error means for the NOC, by OpenSSL's X509_V_ERR code, when OpenSSL's
# own message does not say it plainly.
_VERIFY_HINTS = {
    19: "untrusted CA",
    20: "unknown or untrusted CA",
    21: "unknown or untrusted CA",
    62: "hostname mismatch",
}


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _tls_detail(error: Exception, host: str, expiry: float | None) -> str:
    if not isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected for {host}: {error}"
    code = error.verify_code
    detail = f"TLS certificate rejected: {error.verify_message or error}"
    notes = [_VERIFY_HINTS[code]] if code in _VERIFY_HINTS else []
    if code in (62, 64) and host not in detail:
        notes.append(f"asked for {host}")
    if code == 10 and expiry is not None:  # expired
        notes.append(f"notAfter {_utc(expiry)}, {_days(time.time() - expiry)} ago")
    return detail + (f" ({'; '.join(notes)})" if notes else "")


def _ssl_reason(error: OSError) -> str:
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.replace("_", " ").lower()
    return str(error)


_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def _failed(exc: BaseException, rec: _Record, opts: HttpOptions, url: URL) -> ProbeResult:
    reason, detail = _classify(exc, rec, opts, url)
    samples = rec.phase_samples()
    inner = exc.original if isinstance(exc, _NotRetried) else exc
    if isinstance(inner, aiohttp.TooManyRedirects) and inner.history:
        # The last redirect answered, as blackbox reports it past its limit.
        last = inner.history[-1]
        samples += [
            Sample("probe_http_status_code", float(last.status)),
            Sample("probe_http_redirects", float(len(inner.history))),
            Sample("probe_http_content_length", float(_or_minus_one(last.content_length))),
            Sample("probe_http_uncompressed_body_length", 0.0),
        ]
        if last.version:
            samples.append(
                Sample("probe_http_version", float(f"{last.version.major}.{last.version.minor}"))
            )
    samples += _tls_samples(rec)
    if rec.resolved is not None:
        samples += rec.resolved.samples
    samples.append(Sample("probe_failed_due_to_regex", 0.0))
    return failure(reason, detail, tuple(samples))


def _redirect_detail(exc: aiohttp.TooManyRedirects, opts: HttpOptions) -> str:
    urls = [r.url for r in exc.history]
    location = exc.history[-1].headers.get("Location") if exc.history else None
    if location:
        with contextlib.suppress(ValueError):
            urls.append(urls[-1].join(URL(location)))
    loop = next((i for i, u in enumerate(urls) if u in urls[:i]), None)
    if loop is not None:
        urls = urls[urls.index(urls[loop]) : loop + 1]  # just the cycle
    one_origin = len({u.origin() for u in urls}) == 1
    shown = [u.path_qs if one_origin else str(u) for u in urls]
    if len(shown) > 5:
        shown = [*shown[:4], "…", shown[-1]]
    what = "redirect loop" if loop is not None else "too many redirects"
    return f"{what}: {' → '.join(shown)} (more than {opts.max_redirects} redirects)"


def _one_line(text: object, limit: int = 160) -> str:
    """aiohttp's parser errors span lines with a caret marker: make them one short phrase."""
    lines = [line.strip() for line in str(text).splitlines()]
    flat = " ".join(line for line in lines if line and set(line) != {"^"})
    flat = flat.replace(": b'", " b'").rstrip(":")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _payload_detail(exc: aiohttp.ClientPayloadError, rec: _Record) -> str:
    got = rec.body_read
    cause = exc.__cause__
    if isinstance(cause, http_exceptions.ContentLengthError) or (
        isinstance(cause, http_exceptions.TransferEncodingError) and "Not enough data" in str(cause)
    ):
        of = f" of {rec.content_length:,}" if rec.content_length is not None else ""
        return f"server closed the connection mid-response after {got:,}{of} bytes"
    if isinstance(
        cause, http_exceptions.ContentEncodingError | http_exceptions.DecompressSizeError
    ):
        return f"cannot decode the compressed body: {_one_line(cause.message)}"
    if isinstance(cause, http_exceptions.TransferEncodingError):
        return f"invalid chunked body after {got:,} bytes: {_one_line(cause.message)}"
    return f"invalid response body after {got:,} bytes: {_one_line(cause or exc)}"


def _version_bounds(opts: HttpOptions) -> str:
    low, high = opts.tls_min_version, opts.tls_max_version
    if low is not None and high is not None:
        return f"{low} to {high}" if low != high else low
    if low is not None:
        return f"{low} or above"
    return f"{high} or below" if high is not None else ""


def _classify(exc: BaseException, rec: _Record, opts: HttpOptions, url: URL) -> tuple[str, str]:
    if isinstance(exc, _NotRetried):
        exc = exc.original
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "redirects", _redirect_detail(exc, opts)
    if isinstance(
        exc, aiohttp.InvalidUrlRedirectClientError | aiohttp.NonHttpUrlRedirectClientError
    ):
        return "redirects", f"redirect to an unusable location: {_one_line(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "tls", _tls_detail(exc.certificate_error, exc.host, rec.expiry)
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        where = f"{exc.host}:{exc.port}"
        return "tls", f"TLS handshake with {where} failed: {_ssl_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, _NoAddress):
            return "dns", str(exc.os_error.strerror)
        return "dns", f"cannot resolve {exc.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError) and rec.tls_broke:
        where = f"{exc.host}:{exc.port}"
        if isinstance(exc.os_error, ConnectionResetError):
            why = "the server reset the connection"
        else:
            why = exc.os_error.strerror or "the server closed the connection"
        bounds = _version_bounds(opts)
        return "tls", f"TLS handshake with {where} failed: {why}" + (
            f" (the server may not speak {bounds})" if bounds else ""
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = f"{exc.host}:{exc.port}"
        code = exc.os_error.errno
        if code in _REFUSED:
            return "refused", f"connection to {where} refused"
        if code in _UNREACHABLE:
            return "unreachable", f"{where} unreachable: {exc.os_error.strerror}"
        return "connection", f"cannot connect to {where}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        if rec.headers_at:
            return "protocol", (
                f"server closed the connection mid-response after {rec.body_read:,} bytes"
            )
        return "protocol", "server closed the connection without an HTTP response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "protocol", _payload_detail(exc, rec)
    if isinstance(exc, aiohttp.ClientResponseError):
        return "protocol", f"invalid HTTP response from {url.host}: {_one_line(exc.message or exc)}"
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        if exc.errno == errno.ECONNRESET:
            return "connection", "connection reset by the server"
        return "connection", f"connection error: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, aiohttp.ClientError):
        return "protocol", f"HTTP error: {_one_line(exc)}"
    if isinstance(exc, OSError):
        return "connection", f"connection error: {exc.strerror or exc}"
    return "protocol", f"unexpected error: {type(exc).__name__}: {_one_line(exc)}"
