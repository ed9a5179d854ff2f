"""Zalo: a text from an Official Account (OA) to each follower in ``user_ids``.

The real API (developers.zalo.me) is out of reach from these machines; the tests run this
module against a local stand-in of the two documented endpoints it uses::

    POST {api_url}/v3.0/oa/message/cs     header access_token; JSON
         {"recipient": {"user_id": "..."}, "message": {"text": "..."}}
         -> {"error": 0, "message": "Success", "data": {"message_id": "..."}}
            Zalo answers its refusals with HTTP 200 too, and a non-zero ``error``:
            {"error": -216, "message": "Access token is invalid"}
    POST {oauth_url}/v4/oa/access_token   header secret_key (the app secret); a form
         app_id, grant_type=refresh_token, refresh_token
         -> {"access_token": "...", "refresh_token": "...", "expires_in": "90000"}
            or {"error": -14014, "error_name": "...", "error_description": "..."}

Tokens. The access token lives about 25 hours; the refresh token is single-use: each refresh
returns the next one. netmon refreshes before the known expiry and when Zalo refuses the access
token (-216, -124), at most once per notification; then a refusal is reported (a dead letter
with Zalo's message). The newest pair is written to ``<state_dir>/zalo-<receiver>.json``
(mode 0600, atomically, before it is used), so a restart goes on with it. That file belongs to
the tokens the settings gave: it records a digest of them, and new tokens in the settings (an
operator's fresh authorisation) take over from it.

Errors: HTTP 5xx, 408, 429, timeouts and Zalo's rate limit (-32) are retried; any other
non-zero ``error`` is a refusal. A follower that refuses (not following the OA, say) does not
keep the others from their message; the followers already served are not sent it again when
the notification is retried. No message here ever holds a token or the app secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from alerts.model import Notification
from alerts.notify.base import NotifyContext, NotifyError, post, request
from alerts.notify.text import build, lang_of, plain
from alerts.settings import ZaloReceiver

__all__ = ["LIMIT", "ZaloNotifier", "message"]

log = logging.getLogger("netmon.alerts.notify.zalo")

LIMIT = 2000  # Zalo's length limit of a text message
_MORE = "…"
_TOKEN_ERRORS = frozenset({-216, -124})  # the access token is invalid or has expired
_RETRYABLE = frozenset({-32})  # the rate limit
_EARLY = 300.0  # refresh this long before the known expiry
_REMEMBER = 1000  # notifications whose served followers are remembered between tries


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # counted as Java and JavaScript count


def message(notification: Notification, ctx: NotifyContext, language: str | None = None) -> str:
    """The notification's text in the receiver's language, shortened on a line boundary to
    Zalo's limit."""
    built = build(notification, lang_of(language, ctx.language), ctx.zone, ctx.names)
    text = plain(built).rstrip("\n")
    if _units(text) <= LIMIT:
        return text
    room = LIMIT - _units("\n" + _MORE)
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = _units(line) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.append(line)
        used += cost
    if not kept:  # a first line longer than the limit: cut inside it
        first = text.split("\n", 1)[0]
        while _units(first) > LIMIT - _units(_MORE):
            first = first[: -max(1, (_units(first) - LIMIT) // 2)]
        return first + _MORE
    return "\n".join(kept) + "\n" + _MORE


class _Refused(NotifyError):
    """One follower refused (not following the OA, say): the others still get the message."""


@dataclass(frozen=True, slots=True)
class _Tokens:
    access: str | None
    refresh: str | None
    expires_at: float | None  # unix seconds; None: not known


def _seed(settings: ZaloReceiver) -> str:
    """A digest of the tokens the settings give: the state file belongs to them."""
    given = [
        s.get_secret_value() if s is not None else "" for s in (settings.access, settings.refresh)
    ]
    return hashlib.sha256("\0".join(given).encode()).hexdigest()[:32]


def _write_private(path: Path, data: bytes) -> None:
    """``data`` into ``path``, mode 0600, atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _error_of(answer: dict[str, Any]) -> tuple[int, str]:
    code = answer.get("error", 0)
    if not isinstance(code, int) or isinstance(code, bool):
        code = -1
    words = [
        str(answer[k])[:200]
        for k in ("message", "error_name", "error_description")
        if isinstance(answer.get(k), str) and answer[k]
    ]
    return code, "; ".join(dict.fromkeys(words)) or "no message"


class ZaloNotifier:
    max_batch = 1
    stateful = False

    def __init__(self, name: str, settings: ZaloReceiver, ctx: NotifyContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self.refreshes = 0  # done by this notifier, for the tests and the log
        self._seed = _seed(settings)
        self._path = ctx.state_dir / f"zalo-{name}.json" if ctx.state_dir is not None else None
        self._tokens = self._stored() or _Tokens(
            settings.access.get_secret_value() if settings.access else None,
            settings.refresh.get_secret_value() if settings.refresh else None,
            None,
        )
        self._lock = asyncio.Lock()
        self._served: dict[str, set[str]] = {}  # notification id -> followers that got it

    # ------------------------------------------------------------------ tokens

    def _stored(self) -> _Tokens | None:
        """The pair last written for the settings' tokens, if any."""
        if self._path is None:
            return None
        try:
            data = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning(
                "zalo %s: %s unreadable (%s); using the settings' tokens",
                self.name,
                self._path,
                type(exc).__name__,
            )
            return None
        if not isinstance(data, dict) or data.get("seed") != self._seed:
            return None  # tokens of other settings: the operator gave new ones
        access, refresh, expires = (
            data.get(k) for k in ("access_token", "refresh_token", "expires_at")
        )
        return _Tokens(
            access if isinstance(access, str) else None,
            refresh if isinstance(refresh, str) else None,
            float(expires) if isinstance(expires, int | float) else None,
        )

    async def _keep(self, tokens: _Tokens) -> None:
        self._tokens = tokens
        if self._path is None:
            return
        data = json.dumps(
            {
                "seed": self._seed,
                "access_token": tokens.access,
                "refresh_token": tokens.refresh,
                "expires_at": tokens.expires_at,
            }
        ).encode()
        try:
            await asyncio.to_thread(_write_private, self._path, data)
        except OSError as exc:
            log.error(
                "zalo %s: cannot keep the rotated tokens in %s (%s): after a restart this "
                "receiver needs a new refresh token",
                self.name,
                self._path,
                exc.strerror or type(exc).__name__,
            )

    def _can_refresh(self) -> bool:
        return self._tokens.refresh is not None and self.settings.secret_key is not None

    async def _access_token(self) -> str:
        tokens = self._tokens
        expiring = tokens.expires_at is not None and time.time() > tokens.expires_at - _EARLY
        if tokens.access is None or (expiring and self._can_refresh()):
            return await self._refresh(tokens.access)
        return tokens.access

    async def _refresh(self, failed: str | None) -> str:
        async with self._lock:
            if self._tokens.access is not None and self._tokens.access != failed:
                return self._tokens.access  # refreshed meanwhile
            stored = self._stored()
            if stored is not None and stored.access is not None and stored.access != failed:
                self._tokens = stored  # refreshed by the notifier before a reload
                return stored.access
            refresh, secret = self._tokens.refresh, self.settings.secret_key
            if refresh is None or secret is None or self.settings.app_id is None:
                raise NotifyError(
                    f"zalo {self.name}: no access token and no refresh token", retryable=False
                )
            form = {
                "app_id": self.settings.app_id,
                "grant_type": "refresh_token",
                "refresh_token": refresh,
            }
            _, text = await request(
                self.ctx.session,
                "POST",
                f"{self.settings.oauth_url.rstrip('/')}/v4/oa/access_token",
                urlencode(form).encode(),
                what=f"zalo {self.name}: token refresh",
                timeout=self.settings.timeout,
                headers={
                    "secret_key": secret.get_secret_value(),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            self.refreshes += 1
            answer = _json(text, f"zalo {self.name}: token refresh")
            access = answer.get("access_token")
            if not isinstance(access, str) or not access:
                code, words = _error_of(answer)
                raise NotifyError(
                    f"zalo {self.name}: token refresh refused (error {code}: {words}); "
                    "give a new refresh token in the settings",
                    retryable=False,
                )
            rotated = answer.get("refresh_token")
            lifetime: float | None = None
            expires_in = answer.get("expires_in")  # a string in Zalo's answers
            if isinstance(expires_in, str | int | float) and not isinstance(expires_in, bool):
                with contextlib.suppress(ValueError):
                    lifetime = float(expires_in)
            await self._keep(
                _Tokens(
                    access,
                    rotated if isinstance(rotated, str) and rotated else refresh,
                    time.time() + lifetime if lifetime is not None else None,
                )
            )
            log.info("zalo %s: access token refreshed", self.name)
            return access

    # ------------------------------------------------------------------ delivery

    async def _post(self, token: str, user_id: str, text: str) -> tuple[int, str]:
        payload = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        answer = _json(
            await post(
                self.ctx.session,
                f"{self.settings.api_url.rstrip('/')}/v3.0/oa/message/cs",
                json.dumps(payload, ensure_ascii=False).encode(),
                what=f"zalo {self.name}",
                timeout=self.settings.timeout,
                headers={"access_token": token},
            ),
            f"zalo {self.name}",
        )
        return _error_of(answer)

    async def _send_one(self, user_id: str, text: str, refreshed: bool) -> bool:
        """Send to one follower; True once a refresh was spent on this notification."""
        token = await self._access_token()
        code, words = await self._post(token, user_id, text)
        if code in _TOKEN_ERRORS:
            if refreshed or not self._can_refresh():
                why = "even after a refresh" if refreshed else "and no refresh token is given"
                raise NotifyError(
                    f"zalo {self.name}: access token refused {why} (error {code}: {words})",
                    retryable=False,
                )
            token = await self._refresh(token)
            refreshed = True
            code, words = await self._post(token, user_id, text)
            if code in _TOKEN_ERRORS:
                raise NotifyError(
                    f"zalo {self.name}: access token refused even after a refresh "
                    f"(error {code}: {words})",
                    retryable=False,
                )
        if code in _RETRYABLE:
            raise NotifyError(f"zalo {self.name}: error {code}: {words}", retryable=True)
        if code != 0:
            raise _Refused(
                f"zalo {self.name}: user {user_id}: error {code}: {words}", retryable=False
            )
        return refreshed

    async def send(self, batch: Sequence[Notification]) -> None:
        for notification in batch:
            try:
                await self._send(notification)
            except NotifyError as exc:
                raise self._scrubbed(exc) from None

    async def _send(self, notification: Notification) -> None:
        text = message(notification, self.ctx, self.settings.language)
        served = self._served.pop(notification.id, set())
        while len(self._served) >= _REMEMBER:
            del self._served[next(iter(self._served))]
        self._served[notification.id] = served  # the newest: the last one evicted
        refused: list[str] = []
        refreshed = False
        for user_id in self.settings.user_ids:
            if user_id in served:
                continue
            try:
                refreshed = await self._send_one(user_id, text, refreshed)
            except _Refused as exc:
                refused.append(str(exc))
            else:
                served.add(user_id)
        self._served.pop(notification.id, None)
        if refused:
            raise NotifyError("; ".join(refused), retryable=False)

    def _scrubbed(self, exc: NotifyError) -> NotifyError:
        text = str(exc)
        key = self.settings.secret_key
        secrets = [
            self._tokens.access,
            self._tokens.refresh,
            key.get_secret_value() if key else None,
        ]
        for value in secrets:
            if value is not None and len(value) >= 4:
                text = text.replace(value, "***")
        if text == str(exc):
            return exc
        return NotifyError(text, retryable=exc.retryable, retry_after=exc.retry_after)

    async def keepalive(self, alerts: Sequence[Any]) -> None:
        return None


def _json(text: str, what: str) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        answer = json.loads(text)
        if isinstance(answer, dict):
            return answer
    raise NotifyError(f"{what}: the answer is not a JSON object", retryable=True)
