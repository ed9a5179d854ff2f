"""``SnmpClient`` on gufo-snmp (Rust), measured beside netmon's ``BerSession`` by
bench/bench_snmp.py: it is fast, but it returns an empty walk on a tooBig or any other
error-status, cannot walk several columns in one request, and says only "authentication
failed" for every USM report, so the probe does not use it. gufo-snmp is the ``bench`` extra
(``pip install -e .[test,bench]``; ``make bench`` does it), not a runtime dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    SnmpDecodeError,
    SnmpVersion,
    User,
)
from gufo.snmp import SnmpAuthError as GufoAuthError
from gufo.snmp.aio.client import SnmpSession

from probes.snmp.ber import INTEGER, NO_SUCH_OBJECT, NULL, OCTET_STRING, OID, Value
from probes.snmp.errors import SnmpAuthError, SnmpProtocolError, SnmpTimeout
from probes.snmp.session import Credentials, Varbinds
from probes.snmp.transport import Address, where
from probes.snmp.usm import UsmUser

__all__ = ["GufoClient"]


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
        try:
            return await awaitable
        except TimeoutError:
            raise SnmpTimeout(
                f"no answer from {where(self.address)} within {self.timeout:g} s",
                tries=1,
                timeout=self.timeout,
            ) from None
        except GufoAuthError:
            raise SnmpAuthError(
                f"{where(self.address)}: authentication failed", "authentication"
            ) from None
        except SnmpDecodeError as exc:
            raise SnmpProtocolError(f"{where(self.address)}: {exc}") from None

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


def _gufo_user(user: UsmUser) -> User:
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
