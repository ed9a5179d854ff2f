"""The lab's venue PBX: a SIP responder over UDP (RFC 3261), enough for netmon's sip probe.

It answers OPTIONS with 200 and a ``Server`` header, and is the registrar of one test
extension: a REGISTER without credentials is challenged (401, digest MD5 with qop=auth,
RFC 2617), one with the right ones is answered 200 listing the extension's bindings (kept in
memory, removed by ``Expires: 0`` as RFC 3261 §10.2.2 says), wrong ones 403. Any other method
is 405. Faults: ``sip-down`` (no answer at all, as a PBX that is off or firewalled) and
``sip-503`` (every request answered 503 Service Unavailable, as an overloaded PBX).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from typing import Any, Literal, cast

from probes.sip import SipProtocolError, parse_challenge

__all__ = ["LabPbx", "SipFault"]

_log = logging.getLogger("netmon.lab")

SipFault = Literal["sip-down", "sip-503"]
_MAX_REQUEST = 8192  # a datagram larger than this is not from netmon: ignored
_HEADER = re.compile(r"([A-Za-z-]+)[ \t]*:[ \t]*(.*)")
_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
}
_REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) SIP/2\.0")


class LabPbx(asyncio.DatagramProtocol):
    """The PBX on ``host:port`` (UDP); ``start()`` / ``close()``; ``set_fault(mode)``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str,
        password: str,
        realm: str = "daklak.lab",
        server: str = "netmon-lab PBX",
    ) -> None:
        self.host, self.port = host, port
        self.user, self.password, self.realm, self.server = user, password, realm, server
        self.fault: SipFault | None = None
        self.bindings: dict[str, int] = {}  # the extension's contacts → expires
        self._nonces: set[str] = set()
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))

    async def close(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close()
        self.bindings.clear()

    def set_fault(self, mode: SipFault | None) -> None:
        if mode not in (None, "sip-down", "sip-503"):  # pragma: no cover - the lab checks modes
            raise ValueError(mode)
        self.fault = mode

    # ------------------------------------------------------------------ protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.fault == "sip-down" or len(data) > _MAX_REQUEST or self._transport is None:
            return
        try:
            answer = self.answer(data)
        except (ValueError, SipProtocolError) as exc:  # a malformed request: no answer
            _log.debug("lab PBX: ignored a datagram from %s: %s", addr, exc)
            return
        if answer is not None:
            self._transport.sendto(answer, addr)

    def answer(self, data: bytes) -> bytes | None:
        """The response to one request; None for what is not a request (a response, garbage)."""
        try:
            head = data.decode("utf-8").split("\r\n\r\n", 1)[0]
        except UnicodeDecodeError:
            return None
        lines = head.split("\r\n")
        start = _REQUEST_LINE.fullmatch(lines[0])
        if start is None:
            return None
        method, uri = start.group(1), start.group(2)
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            match = _HEADER.fullmatch(line)
            if match is None:
                raise ValueError(f"a malformed header line {line[:40]!r}")
            name = match.group(1).lower()
            headers.setdefault(_COMPACT.get(name, name), []).append(match.group(2).strip())
        if not all(k in headers for k in ("via", "from", "to", "call-id", "cseq")):
            raise ValueError("a request without Via, From, To, Call-ID or CSeq")
        if self.fault == "sip-503":
            return self._response(headers, "503 Service Unavailable", ["Retry-After: 30"])
        if method == "OPTIONS":
            return self._response(
                headers, "200 OK", ["Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"]
            )
        if method == "REGISTER":
            return self._register(headers, uri)
        if method == "ACK":
            return None
        return self._response(headers, "405 Method Not Allowed", ["Allow: OPTIONS, REGISTER"])

    def _register(self, headers: dict[str, list[str]], uri: str) -> bytes:
        to = headers["to"][0]
        if f"sip:{self.user}@" not in to:
            return self._response(headers, "404 Not Found")
        credentials = headers.get("authorization", [])
        if not credentials:
            return self._challenge(headers)
        params = parse_challenge(credentials[0])
        if params is None or params.get("nonce") not in self._nonces:
            return self._challenge(headers, stale=params is not None)
        if params.get("username") != self.user or not self._digest_ok(params, "REGISTER"):
            return self._response(headers, "403 Forbidden")
        expires = int((headers.get("expires") or ["3600"])[0])
        for contact in headers.get("contact", []):
            address = contact.split(";expires=")[0].strip()
            if expires == 0:
                self.bindings.pop(address, None)
            else:
                self.bindings[address] = expires
        listed = [f"Contact: {c};expires={e}" for c, e in self.bindings.items()]
        return self._response(headers, "200 OK", listed)

    def _challenge(self, headers: dict[str, list[str]], stale: bool = False) -> bytes:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        if len(self._nonces) > 256:  # old ones go: a retry gets a fresh challenge
            self._nonces = {nonce}
        value = f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"' + (
            ", stale=true" if stale else ""
        )
        return self._response(headers, "401 Unauthorized", [f"WWW-Authenticate: {value}"])

    def _digest_ok(self, params: dict[str, str], method: str) -> bool:
        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{params.get('uri', '')}")
        if params.get("qop") == "auth":
            expected = md5(
                f"{ha1}:{params['nonce']}:{params.get('nc', '')}:{params.get('cnonce', '')}"
                f":auth:{ha2}"
            )
        else:
            expected = md5(f"{ha1}:{params['nonce']}:{ha2}")
        return secrets.compare_digest(expected, params.get("response", ""))

    def _response(
        self, headers: dict[str, list[str]], status: str, extra: list[str] | None = None
    ) -> bytes:
        to = headers["to"][0]
        if ";tag=" not in to:
            to += ";tag=" + secrets.token_hex(4)
        lines = [f"SIP/2.0 {status}"]
        lines += [f"Via: {via}" for via in headers["via"]]
        lines += [
            f"From: {headers['from'][0]}",
            f"To: {to}",
            f"Call-ID: {headers['call-id'][0]}",
            f"CSeq: {headers['cseq'][0]}",
            f"Server: {self.server}",
            *(extra or []),
            "Content-Length: 0",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()
