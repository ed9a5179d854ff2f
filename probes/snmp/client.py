"""The SNMP transport behind one small interface, as snmp_exporter's scraper is.

``SnmpClient`` is what the probe uses: ``get`` (scalars), ``walk`` (table columns, all at once)
and ``close``. Two implementations:

- ``BerSession``, the one netmon polls with: SNMP v1/v2c/v3 spoken by ``probes.snmp.ber`` and
  ``probes.snmp.usm`` over ONE shared UDP socket per address family (``UdpTransport``, made
  once per process), answers demultiplexed by (agent, request id). It walks every column of a
  table in the same GETBULK (one round trip for a 24-port switch), answers tooBig by retrying
  with fewer repetitions (and remembers it), reports the agent's error-status and its USM
  report (unknown user, wrong digest, ...) by name, and bounds the requests in flight per agent.
- ``GufoClient`` on gufo-snmp (Rust), kept for the side-by-side benchmark: it is fast, but it
  returns an empty walk on a tooBig or any other error-status, cannot walk several columns in
  one request, and says only "authentication failed" for every USM report, so the probe does
  not use it (bench/bench_snmp.py measures both).

Errors (``SnmpError`` and its subclasses; each message is one sentence for the status page)::

    SnmpError
    ├── SnmpTimeout         no answer after every try (the agent is down, or silent because
    │                       of a wrong community, a wrong priv key or an ACL)
    ├── SnmpRefused         ICMP port unreachable: nothing listens there
    ├── SnmpUnreachable     the request could not be sent (no route, ...)
    ├── SnmpAuthError       the agent's USM report (unknown user, wrong digest, ...)
    ├── SnmpAgentError      an error-status in the response (genErr, noAccess, tooBig at 1, ...)
    └── SnmpProtocolError   an answer that is not SNMP, or not an answer to the request
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from probes.snmp.ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    INTEGER,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    NULL,
    OCTET_STRING,
    OID,
    REPORT,
    RESPONSE,
    SEQUENCE,
    BerError,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    decode_int,
    decode_tlv,
    encode_community_message,
    oid_tuple,
)
from probes.snmp.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    REPORT_NAMES,
    UsmKeys,
    UsmUser,
    V3Message,
    decode_v3,
    encode_v3,
    verify,
)

if TYPE_CHECKING:
    from gufo.snmp.aio.client import SnmpSession

__all__ = [
    "ERROR_STATUS",
    "BerSession",
    "Credentials",
    "GufoClient",
    "SnmpAgentError",
    "SnmpAuthError",
    "SnmpClient",
    "SnmpError",
    "SnmpProtocolError",
    "SnmpRefused",
    "SnmpTimeout",
    "SnmpUnreachable",
    "UdpTransport",
    "Varbinds",
]

Varbinds = list[tuple[str, Value]]
Version = Literal["1", "2c", "3"]


class SnmpClient(Protocol):
    async def get(self, oids: Sequence[str]) -> Varbinds:
        """The value of each OID, in order; a missing one as noSuchObject/noSuchInstance."""

    async def walk(self, columns: Sequence[str], max_repetitions: int) -> dict[str, Varbinds]:
        """Every instance under each column OID (not beyond it), in OID order."""

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- errors


class SnmpError(Exception):
    """Reading the agent failed; the message says why in one sentence."""


class SnmpTimeout(SnmpError):
    def __init__(self, message: str, *, tries: int, timeout: float) -> None:
        super().__init__(message)
        self.tries, self.timeout = tries, timeout


class SnmpRefused(SnmpError):
    pass


class SnmpUnreachable(SnmpError):
    pass


class SnmpAuthError(SnmpError):
    def __init__(self, message: str, report: str | None = None) -> None:
        super().__init__(message)
        self.report = report  # e.g. "usmStatsUnknownUserNames"


class SnmpAgentError(SnmpError):
    def __init__(self, message: str, status: str, oid: str | None = None) -> None:
        super().__init__(message)
        self.status, self.oid = status, oid


class SnmpProtocolError(SnmpError):
    pass


ERROR_STATUS: Final = (
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
)


def _status_name(status: int) -> str:
    return ERROR_STATUS[status] if 0 <= status < len(ERROR_STATUS) else f"error-status {status}"


# --------------------------------------------------------------------------- transport

SO_RCVBUFFORCE: Final = 33
IP_RECVERR: Final = 11
IPV6_RECVERR: Final = 25
RCVBUF: Final = 4 << 20
DRAIN_MAX: Final = 1024
_SOCK_EXTENDED_ERR = struct.Struct("=IBBBB")

Address = tuple[str, int]


@dataclass(eq=False, slots=True)
class _Pending:
    future: asyncio.Future[bytes]
    address: Address


def peek_id(data: bytes) -> int:
    """The request id (v1/v2c) or msgID (v3) of a message, without decoding the rest."""
    tag, content, end = decode_tlv(data)
    if tag != SEQUENCE or end != len(data):
        raise BerError("not an SNMP message")
    tag, version, pos = decode_tlv(content)
    if tag != INTEGER:
        raise BerError("no version")
    number = decode_int(version)
    if number == 3:
        tag, global_data, _ = decode_tlv(content, pos)
        tag, msg_id, _ = decode_tlv(global_data)
        if tag != INTEGER:
            raise BerError("no msgID")
        return decode_int(msg_id)
    if number not in (0, 1):
        raise BerError(f"version {number}")
    tag, _community, pos = decode_tlv(content, pos)
    tag, pdu, _ = decode_tlv(content, pos)
    tag, request_id, _ = decode_tlv(pdu)
    if tag != INTEGER:
        raise BerError("no request id")
    return decode_int(request_id)


class UdpTransport:
    """One UDP socket per address family for every SNMP request of the process.

    Answers are matched by (agent address, request id); ids are unique among the requests in
    flight. An answer that does not decode fails the requests in flight to that agent at once
    (a protocol error, not a wait for the timeout); an ICMP port unreachable fails them as
    refused. Requests in flight per agent are bounded: hundreds at once to one agent overflow
    its (or our) receive buffer into false timeouts.
    """

    def __init__(self, *, max_in_flight_per_agent: int = 8) -> None:
        self._sockets: dict[int, socket.socket] = {}
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._by_agent: dict[Address, set[int]] = {}
        self._limits: dict[Address, asyncio.Semaphore] = {}
        self._limit = max_in_flight_per_agent
        self._ids = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self.stats = {"late_or_unknown": 0, "undecodable": 0}
        self.in_flight: dict[Address, int] = {}
        self.peak_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def next_id(self) -> int:
        return next(self._ids) & 0x7FFFFFFF or 1

    def _socket(self, family: int) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is not None:
            return sock
        loop = self._loop = asyncio.get_running_loop()
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:  # not root: capped by net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                sock.bind(("::", 0))
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                sock.bind(("0.0.0.0", 0))
            loop.add_reader(sock.fileno(), self._on_readable, sock)
        except BaseException:
            sock.close()
            raise
        self._sockets[family] = sock
        return sock

    def limit(self, address: Address) -> asyncio.Semaphore:
        sem = self._limits.get(address)
        if sem is None:
            sem = self._limits[address] = asyncio.Semaphore(self._limit)
        return sem

    async def request(
        self, address: Address, request_id: int, payload: bytes, *, per_try: float, tries: int
    ) -> bytes:
        """Send ``payload`` up to ``tries`` times, ``per_try`` seconds apart; the first answer wins
        (a late answer to an earlier try is as good as one to the last)."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        loop = asyncio.get_running_loop()
        key = (address[0], address[1], request_id)
        if key in self._pending:
            raise RuntimeError(f"request id {request_id} already in flight to {address}")
        async with self.limit(address):
            sock = self._socket(family)
            future: asyncio.Future[bytes] = loop.create_future()
            self._pending[key] = _Pending(future, address)
            self._by_agent.setdefault(address, set()).add(request_id)
            count = self.in_flight[address] = self.in_flight.get(address, 0) + 1
            self.peak_in_flight = max(self.peak_in_flight, count)
            try:
                for _ in range(tries):
                    try:
                        sock.sendto(payload, address)
                    except BlockingIOError:
                        pass  # the send buffer is full: counts as a lost try
                    except OSError as exc:
                        raise SnmpUnreachable(
                            f"cannot send to {_where(address)}: {exc.strerror or exc}"
                        ) from None
                    try:
                        async with asyncio.timeout(per_try):
                            return await asyncio.shield(future)
                    except TimeoutError:
                        if future.done():  # settled as the timer fired
                            return future.result()
                        continue
                raise SnmpTimeout(
                    f"no answer from {_where(address)} to {tries} "
                    f"{'try' if tries == 1 else 'tries'} {per_try:g} s apart",
                    tries=tries,
                    timeout=per_try,
                )
            finally:
                self._forget(key)
                remaining = self.in_flight[address] - 1
                if remaining:
                    self.in_flight[address] = remaining
                else:
                    del self.in_flight[address]

    def _forget(self, key: tuple[str, int, int]) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if not pending.future.done():
            pending.future.cancel()
        ids = self._by_agent.get(pending.address)
        if ids is not None:
            ids.discard(key[2])
            if not ids:
                del self._by_agent[pending.address]

    def _fail_agent(self, address: Address, exc: SnmpError) -> None:
        for request_id in list(self._by_agent.get(address, ())):
            pending = self._pending.get((address[0], address[1], request_id))
            if pending is not None and not pending.future.done():
                pending.future.set_exception(exc)

    def _on_readable(self, sock: socket.socket) -> None:
        for _ in range(DRAIN_MAX):
            try:
                data, source = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:  # an ICMP error queued by IP_RECVERR: read it from the queue
                self._drain_errors(sock)
                continue
            address = (str(source[0]), int(source[1]))
            try:
                request_id = peek_id(data)
            except BerError:
                self.stats["undecodable"] += 1
                if address in self._by_agent:
                    self._fail_agent(
                        address,
                        SnmpProtocolError(
                            f"{_where(address)} answered {len(data)} bytes that are not SNMP"
                        ),
                    )
                continue
            pending = self._pending.get((address[0], address[1], request_id))
            if pending is None or pending.future.done():
                self.stats["late_or_unknown"] += 1
                continue
            pending.future.set_result(data)
        self._drain_errors(sock)

    def _drain_errors(self, sock: socket.socket) -> None:
        for _ in range(DRAIN_MAX):
            try:
                _data, ancillary, _flags, dest = sock.recvmsg(0, 512, socket.MSG_ERRQUEUE)
            except OSError:
                return
            error = 0
            for _level, _kind, cdata in ancillary:
                if len(cdata) >= _SOCK_EXTENDED_ERR.size:
                    error = _SOCK_EXTENDED_ERR.unpack_from(cdata)[0]
            address = (str(dest[0]), int(dest[1]))
            if error == errno.ECONNREFUSED:
                self._fail_agent(
                    address,
                    SnmpRefused(
                        f"nothing listens on udp {_where(address)} (ICMP port unreachable): "
                        "the agent is not running or listens elsewhere"
                    ),
                )
            elif error:
                self._fail_agent(
                    address, SnmpUnreachable(f"{_where(address)}: {os.strerror(error)}")
                )

    async def aclose(self) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        self._by_agent.clear()
        for sock in self._sockets.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()


def _where(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- BER session


@dataclass(frozen=True, slots=True)
class Credentials:
    version: Version
    community: bytes = b""
    user: UsmUser | None = None
    context: bytes = b""

    def __repr__(self) -> str:  # never the community
        who = self.user.name.decode(errors="replace") if self.user else "community"
        return f"Credentials(v{self.version}, {who})"


_REPORT_TEXT: Final = {
    "usmStatsUnknownUserNames": "the agent does not know the user {user!r}",
    "usmStatsWrongDigests": (
        "the agent rejected the authentication of user {user!r}: wrong auth key or auth protocol"
    ),
    "usmStatsUnsupportedSecLevels": (
        "user {user!r} may not use security level {level} on this agent"
    ),
    "usmStatsDecryptionErrors": (
        "the agent could not decrypt the request of user {user!r}: wrong priv key or protocol"
    ),
    "usmStatsUnknownEngineIDs": "the agent does not accept the engine ID it announced",
    "usmStatsNotInTimeWindows": "the agent keeps saying the request is outside its time window",
}


class BerSession:
    """One agent, one set of credentials: the ``SnmpClient`` netmon polls with.

    It keeps what it learnt between polls: the v3 engine ID, boots and time (discovered once,
    re-synchronised on a notInTimeWindow report) and the largest max-repetitions the agent
    answered without tooBig.
    """

    def __init__(
        self,
        transport: UdpTransport,
        address: Address,
        credentials: Credentials,
        *,
        timeout: float = 1.0,
        retries: int = 1,
    ) -> None:
        self.transport = transport
        self.address = address
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.repetitions_ok: int | None = None  # capped after a tooBig
        self._rows: dict[tuple[str, ...], int] = {}  # rows each walk found last time
        self.engine_id: bytes | None = None
        self._boots = 0
        self._time = 0
        self._synced_at = 0.0
        self._keys: UsmKeys | None = None
        self._v1 = credentials.version == "1"

    # ---------------------------------------------------------------- SnmpClient

    async def get(self, oids: Sequence[str]) -> Varbinds:
        found: dict[str, Value] = {}
        batches = [list(oids[i : i + 32]) for i in range(0, len(oids), 32)]
        while batches:
            batch = batches.pop()
            pdu = await self._request(Pdu(GET, 0, 0, 0, [(o, Value(NULL)) for o in batch]))
            status = pdu.error_status
            if status == 1 and len(batch) > 1:  # tooBig: halve the batch
                half = len(batch) // 2
                batches += [batch[:half], batch[half:]]
                continue
            if status == 2 and self._v1 and 0 < pdu.error_index <= len(batch):
                gone = batch.pop(pdu.error_index - 1)  # v1: noSuchName names the one missing
                found[gone] = Value(NO_SUCH_OBJECT)
                if batch:
                    batches.append(batch)
                continue
            if status:
                raise self._agent_error(status, pdu.error_index, batch)
            if len(pdu.varbinds) != len(batch):
                raise SnmpProtocolError(
                    f"{_where(self.address)} answered {len(pdu.varbinds)} values "
                    f"to a GET of {len(batch)}"
                )
            for asked, (oid, value) in zip(batch, pdu.varbinds, strict=True):
                found[asked] = value if oid == asked else Value(NO_SUCH_INSTANCE)
        return [(oid, found[oid]) for oid in oids]

    async def walk(self, columns: Sequence[str], max_repetitions: int) -> dict[str, Varbinds]:
        results: dict[str, Varbinds] = {c: [] for c in columns}
        cursors = {c: c for c in columns}
        cursor_keys = {c: oid_tuple(c) for c in columns}
        active = list(dict.fromkeys(columns))
        shape = tuple(active)
        # One row more than last time: the whole table and its end in one answer, without
        # max_repetitions rows of the following columns that the agent would add.
        full = min(max_repetitions, self.repetitions_ok or max_repetitions)
        expected = self._rows.get(shape)
        reps = max(1, min(full, expected + 1)) if expected is not None else full
        seen = 0
        chunk = len(active)
        while active:
            batch = active[:chunk]
            request = [(cursors[c], Value(NULL)) for c in batch]
            if self._v1:
                pdu = await self._request(Pdu(GETNEXT, 0, 0, 0, request))
            else:
                pdu = await self._request(Pdu(GETBULK, 0, 0, reps, request))
            status = pdu.error_status
            if status == 1:  # tooBig: fewer repetitions, then fewer columns per request
                if reps > 1 and not self._v1:
                    reps = full = max(1, reps // 2)
                    self.repetitions_ok = reps
                    continue
                if chunk > 1:
                    chunk = max(1, chunk // 2)
                    continue
                raise self._agent_error(status, pdu.error_index, [c for c, _ in request])
            if status == 2 and self._v1 and 0 < pdu.error_index <= len(batch):
                active.remove(batch[pdu.error_index - 1])  # v1: that column has ended
                continue
            if status:
                raise self._agent_error(status, pdu.error_index, [c for c, _ in request])
            finished: set[str] = set()
            progressed = False
            width = len(batch)
            for i, (oid, value) in enumerate(pdu.varbinds):
                column = batch[i % width]
                if column in finished:
                    continue
                if value.tag == END_OF_MIB_VIEW or not oid.startswith(column + "."):
                    finished.add(column)
                    continue
                key = oid_tuple(oid)
                if key <= cursor_keys[column]:
                    raise SnmpProtocolError(
                        f"{_where(self.address)} returned {oid} after {cursors[column]}: "
                        "OIDs that do not increase (a broken agent)"
                    )
                results[column].append((oid, value))
                cursors[column], cursor_keys[column] = oid, key
                progressed = True
            active = [c for c in active if c not in finished]
            seen = max((len(results[c]) for c in active), default=seen)
            # The rest of the table as last seen and one row to see its end; a table that
            # grew beyond that gets full answers.
            if expected is not None and seen > expected:
                expected = None
            reps = max(1, min(full, expected - seen + 1)) if expected is not None else full
            if not progressed and not finished:
                raise SnmpProtocolError(
                    f"{_where(self.address)} answered a walk with no values to continue from"
                )
        self._rows[shape] = max((len(v) for v in results.values()), default=0)
        return results

    async def close(self) -> None:
        self.engine_id = None
        self._keys = None

    # ---------------------------------------------------------------- messages

    def _agent_error(self, status: int, index: int, oids: Sequence[str]) -> SnmpAgentError:
        name = _status_name(status)
        oid = oids[index - 1] if 0 < index <= len(oids) else None
        where = f" for {oid}" if oid else ""
        return SnmpAgentError(
            f"{_where(self.address)} answered {name} (error-status {status}){where}", name, oid
        )

    async def _request(self, pdu: Pdu) -> Pdu:
        if self.credentials.version == "3":
            return await self._request_v3(pdu)
        request_id = pdu.request_id = self.transport.next_id()
        version = 0 if self._v1 else 1
        payload = encode_community_message(
            CommunityMessage(version, self.credentials.community, pdu)
        )
        data = await self._send(request_id, payload)
        try:
            message = decode_community_message(data)
        except BerError as exc:
            raise self._garbled(exc) from None
        if message.version != version or message.pdu.tag != RESPONSE:
            raise SnmpProtocolError(
                f"{_where(self.address)} answered with a message that is not a response"
            )
        return message.pdu

    async def _send(self, request_id: int, payload: bytes) -> bytes:
        return await self.transport.request(
            self.address, request_id, payload, per_try=self.timeout, tries=self.retries + 1
        )

    def _garbled(self, exc: BerError) -> SnmpProtocolError:
        return SnmpProtocolError(f"{_where(self.address)} answered malformed SNMP: {exc}")

    # ---------------------------------------------------------------- v3

    def _engine_time(self) -> int:
        return min(0x7FFFFFFF, self._time + int(time.monotonic() - self._synced_at))

    def _sync(self, message: V3Message) -> None:
        self._boots, self._time, self._synced_at = message.boots, message.time, time.monotonic()

    async def _discover(self) -> None:
        request_id = self.transport.next_id()
        payload = encode_v3(
            msg_id=request_id,
            flags=FLAG_REPORTABLE,
            engine_id=b"",
            boots=0,
            time=0,
            user=b"",
            pdu=Pdu(GET, request_id, 0, 0, []),
        )
        message = self._decode_v3(await self._send(request_id, payload))
        if not message.engine_id:
            raise SnmpProtocolError(
                f"{_where(self.address)} answered the engine ID discovery without an engine ID"
            )
        self.engine_id = message.engine_id
        self._sync(message)
        assert self.credentials.user is not None
        self._keys = self.credentials.user.keys(message.engine_id)

    def _decode_v3(self, data: bytes) -> V3Message:
        try:
            return decode_v3(data)
        except BerError as exc:
            raise self._garbled(exc) from None

    async def _request_v3(self, pdu: Pdu) -> Pdu:
        user = self.credentials.user
        assert user is not None, "v3 credentials need a user"
        resynced = rediscovered = False
        while True:
            if self.engine_id is None or self._keys is None:
                await self._discover()
                rediscovered = True
            assert self.engine_id is not None and self._keys is not None
            request_id = pdu.request_id = self.transport.next_id()
            payload = encode_v3(
                msg_id=request_id,
                flags=user.flags | FLAG_REPORTABLE,
                engine_id=self.engine_id,
                boots=self._boots,
                time=self._engine_time(),
                user=user.name,
                pdu=pdu,
                keys=self._keys,
                context_name=self.credentials.context,
            )
            message = self._decode_v3(await self._send(request_id, payload))
            if message.flags & FLAG_AUTH:
                if not verify(self._keys, message):
                    raise SnmpAuthError(
                        f"the answer of {_where(self.address)} failed authentication "
                        "(a spoofed answer, or an agent with other keys for this user)",
                        "authentication",
                    )
                if message.flags & FLAG_PRIV:
                    try:
                        message.open(self._keys)
                    except BerError:
                        raise SnmpAuthError(
                            f"the answer of {_where(self.address)} does not decrypt with "
                            "the priv key",
                            "decryption",
                        ) from None
            if message.pdu is None:
                raise SnmpProtocolError(
                    f"{_where(self.address)} sent an encrypted answer without authentication"
                )
            if message.pdu.tag == REPORT:
                report = self._report_name(message.pdu)
                if report == "usmStatsNotInTimeWindows" and not resynced:
                    self._sync(message)
                    resynced = True
                    continue
                if report == "usmStatsUnknownEngineIDs" and not rediscovered:
                    self.engine_id = None
                    continue
                raise self._auth_error(report)
            if message.pdu.tag != RESPONSE:
                raise SnmpProtocolError(
                    f"{_where(self.address)} answered with a message that is not a response"
                )
            level = FLAG_AUTH | FLAG_PRIV
            if message.flags & level != user.flags & level:
                raise SnmpAuthError(
                    f"{_where(self.address)} answered at another security level than asked "
                    "(a spoofed or broken answer)",
                    "security level",
                )
            if message.flags & FLAG_AUTH:
                self._sync(message)
            return message.pdu

    def _report_name(self, pdu: Pdu) -> str:
        for oid, _value in pdu.varbinds:
            if oid in REPORT_NAMES:
                return REPORT_NAMES[oid]
        first = pdu.varbinds[0][0] if pdu.varbinds else "nothing"
        return f"report {first}"

    def _auth_error(self, report: str) -> SnmpAuthError:
        user = self.credentials.user
        assert user is not None
        level = {0: "noAuthNoPriv", FLAG_AUTH: "authNoPriv"}.get(user.flags, "authPriv")
        text = _REPORT_TEXT.get(report, "the agent answered with {report}")
        message = text.format(user=user.name.decode(errors="replace"), level=level, report=report)
        return SnmpAuthError(f"{message} ({report} from {_where(self.address)})", report)


# --------------------------------------------------------------------------- gufo-snmp


class GufoClient:
    """``SnmpClient`` on gufo-snmp: one socket per client, one column per GETBULK.

    What it cannot tell (measured in bench/bench_snmp.py): a tooBig or any error-status ends a
    walk as if the table were empty; every USM report is "authentication failed".
    """

    def __init__(self, address: Address, credentials: Credentials, *, timeout: float = 1.0) -> None:
        self.address = address
        self.credentials = credentials
        self.timeout = timeout
        self._session: SnmpSession | None = None

    async def _open(self) -> SnmpSession:
        if self._session is not None:
            return self._session
        from gufo.snmp import SnmpVersion
        from gufo.snmp.aio.client import SnmpSession

        creds = self.credentials
        kwargs: dict[str, Any] = {"timeout": self.timeout}
        if creds.version == "3":
            assert creds.user is not None
            kwargs["user"] = _gufo_user(creds.user)
        else:
            kwargs["community"] = creds.community.decode()
            kwargs["version"] = SnmpVersion.v1 if creds.version == "1" else SnmpVersion.v2c
        session = SnmpSession(self.address[0], self.address[1], **kwargs)
        await self._call(session.refresh())
        self._session = session
        return session

    async def _call(self, awaitable: Any) -> Any:
        from gufo.snmp import SnmpAuthError as GufoAuthError
        from gufo.snmp import SnmpDecodeError

        try:
            return await awaitable
        except TimeoutError:
            raise SnmpTimeout(
                f"no answer from {_where(self.address)} within {self.timeout:g} s",
                tries=1,
                timeout=self.timeout,
            ) from None
        except GufoAuthError:
            raise SnmpAuthError(
                f"{_where(self.address)}: authentication failed", "authentication"
            ) from None
        except SnmpDecodeError as exc:
            raise SnmpProtocolError(f"{_where(self.address)}: {exc}") from None

    async def get(self, oids: Sequence[str]) -> Varbinds:
        session = await self._open()
        values = await self._call(session.get_many(list(oids)))
        return [
            (oid, _gufo_value(values[oid]) if oid in values else Value(NO_SUCH_OBJECT))
            for oid in oids
        ]

    async def walk(self, columns: Sequence[str], max_repetitions: int) -> dict[str, Varbinds]:
        session = await self._open()
        results: dict[str, Varbinds] = {}
        for column in columns:

            async def one(column: str = column) -> Varbinds:
                if self.credentials.version == "1":
                    it = session.getnext(column)
                else:
                    it = session.getbulk(column, max_repetitions=max_repetitions)
                return [(oid, _gufo_value(value)) async for oid, value in it]

            results[column] = await self._call(one())
        return results

    async def close(self) -> None:
        self._session = None  # gufo closes the socket when the session is collected


def _gufo_value(value: object) -> Value:
    if isinstance(value, bool):
        return Value(INTEGER, int(value))
    if isinstance(value, int):
        return Value(INTEGER, value)
    if isinstance(value, float):
        return Value(INTEGER, int(value))
    if isinstance(value, bytes):
        return Value(OCTET_STRING, value)
    if isinstance(value, str):
        return Value(OID, value)
    return Value(NULL)


def _gufo_user(user: UsmUser) -> Any:
    from gufo.snmp import (
        Aes128Key,
        Aes192Key,
        Aes256Key,
        DesKey,
        KeyExpansion,
        Md5Key,
        Sha1Key,
        Sha224Key,
        Sha256Key,
        Sha384Key,
        Sha512Key,
        User,
    )

    auth_keys = {
        "MD5": Md5Key,
        "SHA": Sha1Key,
        "SHA-224": Sha224Key,
        "SHA-256": Sha256Key,
        "SHA-384": Sha384Key,
        "SHA-512": Sha512Key,
    }
    priv_keys = {
        "DES": DesKey,
        "AES": Aes128Key,
        "AES-128": Aes128Key,
        "AES-192": Aes192Key,
        "AES-256": Aes256Key,
        "AES-192-C": Aes192Key,
        "AES-256-C": Aes256Key,
    }
    auth = priv = None
    if user.auth_protocol and user.auth_password:
        auth = auth_keys[user.auth_protocol](user.auth_password)
    if user.priv_protocol and user.priv_password:
        priv = priv_keys[user.priv_protocol](user.priv_password)
    expansion = (
        KeyExpansion.Cisco
        if user.priv_protocol and user.priv_protocol.endswith("-C")
        else KeyExpansion.Blumenthal
    )
    return User(user.name.decode(), auth_key=auth, priv_key=priv, key_expansion=expansion)
