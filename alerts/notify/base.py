"""What every receiver implements, and the errors it may raise.

Errors::

    NotifyError                 a delivery failed; the message never holds a secret or a URL
        .retryable = True       worth another try later (connection refused, timeout, 5xx, 429)
        .retryable = False      will fail the same way again (400, 401, a refused address):
                                a dead letter at once (counted, logged, told to the other
                                receivers), so it does not hold the receiver's queue for a day
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import aiohttp

from alerts.model import AlertSnapshot, Notification
from monitor.core.i18n import NO_NAMES, DisplayNames

__all__ = ["Notifier", "NotifyContext", "NotifyError", "post", "request"]


class NotifyError(Exception):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.body = body  # the receiver's answer, for notifiers that read their API's errors


class Notifier(Protocol):
    """One receiver. ``send`` delivers a batch (at most ``max_batch``) or raises NotifyError.

    ``stateful`` receivers (Alertmanager) are told the state of alerts rather than paged:
    they get every label change and a periodic ``keepalive`` of what still fires.
    """

    max_batch: int
    stateful: bool

    async def send(self, batch: Sequence[Notification]) -> None: ...

    async def keepalive(self, alerts: Sequence[AlertSnapshot]) -> None: ...


@dataclass(eq=False)
class NotifyContext:
    """What notifiers share: one HTTP session, the zone and language texts are written in,
    and the state directory (receivers that keep state of their own, such as Zalo's rotated
    tokens, keep it there; None: in memory only)."""

    zone: ZoneInfo
    language: str
    external_url: str
    state_dir: Path | None = None
    names: DisplayNames = NO_NAMES  # display names of targets and label values (i18n)
    _session: aiohttp.ClientSession | None = field(default=None)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "netmon-alerts/0.1"},
                connector=aiohttp.TCPConnector(limit=64),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _why(exc: BaseException) -> str:
    # Never str(exc) of an aiohttp error: it can carry the URL, and with it a bot token.
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(exc).__name__


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    what: str,
    timeout: float,  # noqa: ASYNC109 - a per-request limit handed to aiohttp
    headers: dict[str, str] | None = None,
) -> str:
    """POST ``body`` as JSON; the response text on 2xx, NotifyError (naming ``what``, never
    the URL) otherwise."""
    _, text = await request(
        session,
        "POST",
        url,
        body,
        what=what,
        timeout=timeout,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return text


def _two_hundreds(status: int) -> bool:
    return 200 <= status < 300


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: bytes | None,
    *,
    what: str,
    timeout: float,  # noqa: ASYNC109 - a per-request limit handed to aiohttp
    headers: dict[str, str] | None = None,
    expect: Callable[[int], bool] = _two_hundreds,
) -> tuple[int, str]:
    """One request; (status, text) when ``expect(status)``, else NotifyError naming ``what``
    (never the URL) with the start of the answer: retryable on 408, 425, 429 and 5xx."""
    try:
        async with session.request(
            method,
            url,
            data=body,
            headers=headers or {},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            text = await resp.text(errors="replace")
            if expect(resp.status):
                return resp.status, text
            retry_after: float | None = None
            header = resp.headers.get("Retry-After", "")
            if header.isdigit():
                retry_after = float(header)
            retryable = resp.status in (408, 425, 429) or resp.status >= 500
            raise NotifyError(
                f"{what}: HTTP {resp.status} {text.strip()[:200]}",
                retryable=retryable,
                retry_after=retry_after,
                body=text,
            )
    except NotifyError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise NotifyError(f"{what}: {_why(exc)}", retryable=True) from None
