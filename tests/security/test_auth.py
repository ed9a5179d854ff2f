"""Issue 13, findings 4, 5, 7, 8 and 11: who may ask, from where, and how sign-in holds up.

Each test reproduces a finding through aiohttp's test client on loopback (or the guard itself)
and fails on the code before the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

import monitor.web.access
from monitor.cli import check
from monitor.runtime.service import Service
from monitor.web.app import make_app
from monitor.web.guard import COOKIE, GUARD
from tests.support.web import NOC, TOKENS, VIETTEL, web_settings

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Start a service with these [access]/[server] keys and a client of its app."""
    opened: list[tuple[Service, Client]] = []

    async def factory(server: dict[str, Any] | None = None, **access: Any) -> Client:
        settings = web_settings(tmp_path, **{"tokens": TOKENS, **access})
        if server:
            settings = settings.model_copy(
                update={"server": settings.server.model_copy(update=server)}
            )
        service = Service(settings)
        await service.start()
        client: Client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
        await client.start_server()
        opened.append((service, client))
        return client

    yield factory
    for service, client in reversed(opened):
        await client.close()
        await service.aclose()


# ------------------------------------------------------------------ 7: brute-force slow-down


async def test_backoff_stays_bounded_after_2000_wrong_tokens(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 7: after ~1,027 failures 0.1*2**(n-4) overflowed: a 500 and no throttle."""
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    # The delays are recorded, not slept: 2,000 of them at 5 s would take hours.
    monkeypatch.setattr(monitor.web.access, "asyncio", SimpleNamespace(sleep=fake_sleep))
    client = await make_client()
    statuses: set[int] = set()
    for i in range(2000):
        resp = await client.get("/api/v1/targets", headers={"Authorization": f"Bearer wrong{i}"})
        statuses.add(resp.status)
        resp.release()
    assert statuses == {401}
    assert len(delays) == 2000
    assert max(delays) <= 5.0 and delays[-1] == 5.0  # slowed down to the bound, and held there
    resp = await client.get("/api/v1/targets", headers={"Authorization": f"Bearer {NOC}"})
    assert resp.status == 200
    assert len(delays) == 2000  # the right token is never delayed


async def test_backoff_is_global_across_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The general guard: a spray from many addresses is slowed down too, and no count or
    delay grows without bound."""
    settings = web_settings(Path("/nonexistent"), tokens=TOKENS).access
    access = monitor.web.access.Access(settings, max_delay=5.0)
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(monitor.web.access, "asyncio", SimpleNamespace(sleep=fake_sleep))
    for i in range(12000):
        address = f"127.0.{i // 256}.{i % 256}"
        assert await access.authenticate("Bearer nope", address) is None
    assert max(delays) <= 5.0
    assert delays[-1] == 5.0  # each address failed once; all of them together are slowed
    for _ in range(5000):  # one address, far past where 2**n overflowed
        assert await access.authenticate("Bearer nope", "127.0.0.9") is None
    assert max(delays) <= 5.0


# ------------------------------------------------------------------ 8: open redirect


@pytest.mark.parametrize(
    "nxt",
    [
        "/%09/evil.example/phish",
        "/\t/evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "/%5Cevil.example",
        "/%2F/evil.example",
        "/ok\r\nSet-Cookie: x=1",
        "/%0d%0aSet-Cookie:%20x=1",
        "https://evil.example/",
        "http:/evil.example",
        "evil.example",
        "\t//evil.example",
    ],
)
async def test_sign_in_redirect_stays_on_site(make_client: ClientFactory, nxt: str) -> None:
    """Finding 8: next=/%09/evil.example/phish ended as Location: //evil.example/phish."""
    client = await make_client()
    resp = await client.post("/login", data={"token": NOC, "next": nxt}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"


async def test_sign_in_redirect_keeps_a_local_path(make_client: ClientFactory) -> None:
    client = await make_client()
    resp = await client.post(
        "/login", data={"token": NOC, "next": "/targets/vt?lang=en"}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/targets/vt?lang=en"


# ------------------------------------------------------------------ 11: sessions


async def test_operator_login_flood_leaves_the_noc_signed_in(make_client: ClientFactory) -> None:
    """Finding 11: 10,001 logins with an operator token evicted the NOC's session."""
    client = await make_client()
    resp = await client.post("/login", data={"token": NOC}, allow_redirects=False)
    noc_sid = resp.cookies[COOKIE].value
    guard = client.app[GUARD]
    request = make_mocked_request("POST", "/login", app=client.app)
    for _ in range(10001):
        assert await guard.login(request, VIETTEL) is not None
    client.session.cookie_jar.clear()
    resp = await client.get("/api/v1/targets", cookies={COOKIE: noc_sid})
    assert resp.status == 200
    names = {t["name"] for t in (await resp.json())["targets"]}
    assert names == {"vt", "vn"}  # the NOC's, not the operator's view


async def test_sessions_are_capped_per_principal(make_client: ClientFactory) -> None:
    client = await make_client()
    guard = client.app[GUARD]
    request = make_mocked_request("POST", "/login", app=client.app)
    first = await guard.login(request, VIETTEL)
    assert first is not None
    for _ in range(200):
        await guard.login(request, VIETTEL)
    assert guard.sessions.count() <= 50  # the oldest of that principal went
    assert guard.sessions.lookup(first[0]) is None


async def test_session_survives_a_restart(tmp_path: Path) -> None:
    """Finding 11: a wall screen stays signed in across a restart (SQLite in state_dir)."""

    async def run(cookie: str | None) -> str:
        service = Service(web_settings(tmp_path, tokens=TOKENS))
        await service.start()
        try:
            async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
                if cookie is None:
                    resp = await client.post(
                        "/login", data={"token": VIETTEL}, allow_redirects=False
                    )
                    assert resp.status == 303
                    return resp.cookies[COOKIE].value
                resp = await client.get("/api/v1/targets", cookies={COOKIE: cookie})
                assert resp.status == 200, await resp.text()
                assert {t["name"] for t in (await resp.json())["targets"]} == {"vt"}
                return cookie
        finally:
            await service.aclose()

    sid = await run(None)
    assert sid not in (tmp_path / "state" / "sessions.sqlite").read_bytes().decode("latin-1")
    await run(sid)


# ------------------------------------------------------------------ 4: behind a reverse proxy


async def test_defaults_are_closed(make_client: ClientFactory) -> None:
    """Finding 4: no [access] keys made loopback callers admin and /metrics open: through a
    same-host proxy that was everyone."""
    client = await make_client()
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/api/v1/targets")).status == 401
    assert (await client.post("/-/reload")).status == 401
    resp = await client.post(
        "/api/v1/maintenance", json={"name": "m", "match": {"carrier": ["vnpt"]}, "duration": "12h"}
    )
    assert resp.status == 401


async def test_forged_forwarded_for_is_ignored_from_an_untrusted_peer(
    make_client: ClientFactory,
) -> None:
    """Only a trusted proxy names the client: a forged header from elsewhere counts nothing."""
    # The peer (127.0.0.1) is not a trusted proxy: its X-Forwarded-For changes nothing, the
    # peer's own address counts (here loopback, which the lab's "auto" lets in).
    untrusted = await make_client(
        server={"trusted_proxies": ["127.0.0.9"]}, tokens=[], anonymous="auto", metrics="loopback"
    )
    for forged in ("203.0.113.7", "127.0.0.1, 203.0.113.7"):
        headers = {"X-Forwarded-For": forged, "X-Forwarded-Proto": "https"}
        assert (await untrusted.get("/api/v1/targets", headers=headers)).status == 200
    # Through a trusted proxy the client is the rightmost hop the proxy did not add: a forged
    # loopback entry left of it does not make a remote client local.
    trusted = await make_client(
        server={"trusted_proxies": ["127.0.0.1"]}, tokens=[], anonymous="auto", metrics="loopback"
    )
    for path in ("/metrics", "/api/v1/targets"):
        headers = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}
        assert (await trusted.get(path, headers=headers)).status == 401, path
        headers = {"X-Forwarded-For": "203.0.113.7, 127.0.0.5"}
        assert (await trusted.get(path, headers=headers)).status == 200, path
    resp = await trusted.post("/-/reload", headers={"X-Forwarded-For": "203.0.113.7"})
    assert resp.status == 401


async def test_session_cookie_is_secure_behind_tls(make_client: ClientFactory) -> None:
    client = await make_client(server={"trusted_proxies": ["127.0.0.1/32"]})
    resp = await client.post(
        "/login",
        data={"token": NOC},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert resp.status == 303 and "Secure" in resp.headers["Set-Cookie"]
    resp = await client.post("/login", data={"token": NOC}, allow_redirects=False)
    assert "Secure" not in resp.headers["Set-Cookie"]  # plain http on loopback (the lab)
    other = await make_client()
    resp = await other.post(
        "/login", data={"token": NOC}, headers={"X-Forwarded-Proto": "https"}, allow_redirects=False
    )
    assert "Secure" not in resp.headers["Set-Cookie"]  # no trusted proxy: the header is a lie


def test_check_config_warns_about_a_listener_without_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[server]\nlisten = "127.0.0.1:9108"\nstate_dir = "var"\n'
        '[[targets]]\nname = "a"\nkind = "icmp"\nhost = "127.0.2.1"\n',
        encoding="utf-8",
    )
    assert check.main([str(path)]) == 0
    captured = capsys.readouterr()
    assert "no tokens" in captured.err and "OK" in captured.out


# ------------------------------------------------------------------ 5: CSRF, DNS rebinding


@pytest.mark.parametrize("path", ["/api/v1/maintenance", "/-/reload"])
async def test_cross_site_text_plain_post_is_refused(make_client: ClientFactory, path: str) -> None:
    """Finding 5: a cross-site text/plain form created a window and reloaded (anonymous lab)."""
    client = await make_client(tokens=[], anonymous="admin")
    body = '{"name": "m", "match": {"carrier": ["vnpt"]}, "duration": "12h"}'
    resp = await client.post(
        path,
        data=body,
        headers={
            "Content-Type": "text/plain",
            "Origin": "http://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert resp.status in (403, 415)
    assert (await client.get("/api/v1/maintenance")).status == 200
    assert (await (await client.get("/api/v1/maintenance")).json())["maintenance"] == []
    # Without a body, from another origin: refused by Origin alone.
    resp = await client.post(path, headers={"Origin": "http://evil.example"})
    assert resp.status in (403, 415)
    # The same change from this site, as JSON, goes through.
    resp = await client.post(
        "/api/v1/maintenance",
        data=body,
        headers={"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"},
    )
    assert resp.status == 201


async def test_a_body_that_is_not_json_is_refused_even_with_a_token(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    resp = await client.post(
        "/api/v1/maintenance",
        data='{"name": "m", "match": {"carrier": ["vnpt"]}, "duration": "1h"}',
        headers={"Authorization": f"Bearer {NOC}", "Content-Type": "text/plain"},
    )
    assert resp.status == 415


@pytest.mark.parametrize("host", ["evil.example", "evil.example:9108", "rebind.attacker.test."])
async def test_a_foreign_host_is_refused(make_client: ClientFactory, host: str) -> None:
    """Finding 5: DNS rebinding: a page on evil.example resolved to 127.0.0.1."""
    client = await make_client(tokens=[], anonymous="admin")
    resp = await client.get("/api/v1/targets", headers={"Host": host})
    assert resp.status == 421


async def test_known_hosts_are_answered(make_client: ClientFactory) -> None:
    client = await make_client(server={"hostnames": ["netmon.daklak.example.vn"]})
    for host in (
        "netmon.daklak.example.vn",
        "NETMON.daklak.example.vn:443",
        "localhost:9108",
        "127.0.0.1:9108",
        "[::1]:9108",
    ):
        resp = await client.get("/healthz", headers={"Host": host})
        assert resp.status == 200, host
