"""netmon's SNMP session: one agent, one set of credentials, SNMP v1/v2c/v3 spoken by
``probes.snmp.ber`` and ``probes.snmp.usm`` over the shared ``probes.snmp.transport``.

``SnmpClient`` is what the probe (and bench/bench_snmp.py) uses: ``get`` (scalars), ``walk``
(table columns, all at once) and ``close``, as snmp_exporter's scraper is one small interface.
``BerSession`` is the implementation netmon polls with:

- ``get``: up to 32 OIDs per GET; a tooBig halves the batch; v1's noSuchName names the missing
  OID, which becomes noSuchObject as v2c would say.
- ``walk``: every column of a table in the same GETBULK (one round trip for a 24-port switch;
  GETNEXT in v1), asking one row more than the table had last time; a tooBig is retried with
  fewer repetitions (and remembered in ``repetitions_ok``), then fewer columns per request.
- v3: the engine ID, boots and time are discovered once (an empty-user report, RFC 3414 §4),
  re-synchronised once on a notInTimeWindow report, rediscovered once on unknownEngineIDs (a
  replaced device); answers are authenticated and decrypted with the localized keys.
- errors (``probes.snmp.errors``): the agent's error-status by name (``SnmpAgentError``), its
  USM report in words (``SnmpAuthError``), an answer that is not a response or does not
  increase (``SnmpProtocolError``); the transport's timeouts and refusals pass through.

The gufo-snmp client measured beside it lives in bench/snmp_gufo.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from probes.snmp.ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    NULL,
    REPORT,
    RESPONSE,
    BerError,
    CommunityMessage,
    Pdu,
    Value,
    decode_community_message,
    encode_community_message,
    oid_tuple,
)
from probes.snmp.errors import SnmpAgentError, SnmpAuthError, SnmpProtocolError
from probes.snmp.transport import Address, UdpTransport, where
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

__all__ = [
    "ERROR_STATUS",
    "BerSession",
    "Credentials",
    "SnmpClient",
    "Varbinds",
    "Version",
]

Varbinds = list[tuple[str, Value]]
Version = Literal["1", "2c", "3"]


class SnmpClient(Protocol):
    async def get(self, oids: Sequence[str]) -> Varbinds:
        """The value of each OID, in order; a missing one as noSuchObject/noSuchInstance."""

    async def walk(self, columns: Sequence[str], max_repetitions: int) -> dict[str, Varbinds]:
        """Every instance under each column OID (not beyond it), in OID order."""

    async def close(self) -> None: ...


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
                    f"{where(self.address)} answered {len(pdu.varbinds)} values "
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
                        f"{where(self.address)} returned {oid} after {cursors[column]}: "
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
                    f"{where(self.address)} answered a walk with no values to continue from"
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
        for_oid = f" for {oid}" if oid else ""
        return SnmpAgentError(
            f"{where(self.address)} answered {name} (error-status {status}){for_oid}", name, oid
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
                f"{where(self.address)} answered with a message that is not a response"
            )
        return message.pdu

    async def _send(self, request_id: int, payload: bytes) -> bytes:
        return await self.transport.request(
            self.address, request_id, payload, per_try=self.timeout, tries=self.retries + 1
        )

    def _garbled(self, exc: BerError) -> SnmpProtocolError:
        return SnmpProtocolError(f"{where(self.address)} answered malformed SNMP: {exc}")

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
                f"{where(self.address)} answered the engine ID discovery without an engine ID"
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
                        f"the answer of {where(self.address)} failed authentication "
                        "(a spoofed answer, or an agent with other keys for this user)",
                        "authentication",
                    )
                if message.flags & FLAG_PRIV:
                    try:
                        message.open(self._keys)
                    except BerError:
                        raise SnmpAuthError(
                            f"the answer of {where(self.address)} does not decrypt with "
                            "the priv key",
                            "decryption",
                        ) from None
            if message.pdu is None:
                raise SnmpProtocolError(
                    f"{where(self.address)} sent an encrypted answer without authentication"
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
                    f"{where(self.address)} answered with a message that is not a response"
                )
            level = FLAG_AUTH | FLAG_PRIV
            if message.flags & level != user.flags & level:
                raise SnmpAuthError(
                    f"{where(self.address)} answered at another security level than asked "
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
        return SnmpAuthError(f"{message} ({report} from {where(self.address)})", report)
