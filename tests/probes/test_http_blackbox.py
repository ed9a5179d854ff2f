"""blackbox_exporter's own http prober scenarios (prober/http_test.go), replayed against netmon's
http probe with aiohttp servers that answer as the Go test servers do (issue 15).

Each test names the Go test it replays. Where netmon differs on purpose, the test says so and
pins netmon's behaviour (README, "blackbox option → netmon setting"). Servers on 127.0.5.x,
ports from the OS.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import ssl
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import brotli
import pydantic
import pytest
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from monitor.config import Target
from probes import http
from probes.base import ProbeResult
from probes.context import ProbeContext
from tests.support.common import REPO

HOST = "127.0.5.1"
TEST_MSG = b"hello world" * 10


def target(url: str, **options: Any) -> Target:
    return Target.model_validate({"name": "bb-http", "kind": "http", "url": url, "http": options})


def values(result: ProbeResult) -> dict[str, float]:
    return {s.name: s.value for s in result.samples if not s.labels}


def labelled(result: ProbeResult, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for s in result.samples if s.name == name]


async def run(t: Target, ctx: ProbeContext, limit: float = 5.0) -> ProbeResult:
    async with asyncio.timeout(limit):
        return await http.probe(t, ctx)


Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(handler_or_app, host=HOST, ssl_context=None) -> the server's base URL."""
    runners: list[web.AppRunner] = []

    async def start(
        what: web.Application | Callable[[web.Request], Awaitable[web.StreamResponse]],
        host: str = HOST,
        ssl_context: ssl.SSLContext | None = None,
    ) -> str:
        if isinstance(what, web.Application):
            app = what
        else:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", what)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0, ssl_context=ssl_context).start()
        port = runner.addresses[0][1]
        return f"{'https' if ssl_context else 'http'}://{host}:{port}"

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_server(cert: trustme.LeafCert, **context_options: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    for key, value in context_options.items():
        setattr(context, key, value)
    return context


def encoded(coding: str, data: bytes = TEST_MSG) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "br":
        return bytes(brotli.compress(data))
    if coding == "deflate":  # Go's flate writer: raw DEFLATE, no zlib header
        raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return raw.compress(data) + raw.flush()
    if coding == "zlib":
        return zlib.compress(data)
    return data


def sends(body: bytes, status: int = 200, **headers: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    return handler


# --------------------------------------------------------------------------- status, version


@pytest.mark.parametrize(
    ("code", "valid", "ok"),
    [
        (200, [], True),
        (201, [], True),
        (299, [], True),
        (300, [], False),
        (404, [], False),
        (404, [200, 404], True),
        (200, [200, 404], True),
        (201, [200, 404], False),
        (404, [404], True),
        (200, [404], False),
    ],
)
async def test_http_status_codes(  # TestHTTPStatusCodes
    serve: Serve, ctx: ProbeContext, code: int, valid: list[int], ok: bool
) -> None:
    base = await serve(sends(b"", status=code))
    result = await run(target(base, expect_status=valid), ctx)
    assert result.success is ok, result.detail
    assert values(result)["probe_http_status_code"] == code


async def test_valid_http_version(serve: Serve, ctx: ProbeContext) -> None:  # TestValidHTTPVersion
    base = await serve(sends(b""))
    for versions, ok in (([], True), (["HTTP/1.1"], True), (["HTTP/1.0"], False)):
        result = await run(target(base, expect_http_versions=versions), ctx)
        assert result.success is ok, (versions, result.detail)
        if not ok:
            assert result.reason == "http_version"
            assert "HTTP/1.1, expected HTTP/1.0" in result.detail
    # Deliberate difference: netmon's client speaks HTTP/1.x only, so a list that could only
    # pass on HTTP/2 or 3 is refused at load instead of failing every probe.
    with pytest.raises(pydantic.ValidationError, match="expect_http_versions"):
        target(base, expect_http_versions=["HTTP/2.0"])


# --------------------------------------------------------------------------- body and encodings


@pytest.mark.parametrize(
    ("name", "status", "coding", "header"),
    [
        ("identity", 200, "identity", "identity"),
        ("no content-encoding", 200, "identity", None),
        ("unknown content-encoding", 200, "identity", "xxx"),
        ("401", 404, "identity", None),
        ("brotli", 200, "br", "br"),
        ("deflate", 200, "deflate", "deflate"),
        ("gzip", 200, "gzip", "gzip"),
    ],
)
async def test_content_length(  # TestContentLength: without `compression`, nothing is decoded
    serve: Serve, ctx: ProbeContext, name: str, status: int, coding: str, header: str | None
) -> None:
    body = b"x" * len(TEST_MSG) if header == "xxx" else encoded(coding)
    headers = {"Content-Encoding": header} if header else {}
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return web.Response(status=status, body=body, headers=headers)

    result = await run(target(await serve(handler)), ctx)
    assert result.success is (status == 200), result.detail
    got = values(result)
    assert got["probe_http_content_length"] == len(body)
    assert got["probe_http_uncompressed_body_length"] == len(body)
    assert seen == [None]  # nothing asked for: the server's own choice is measured


COMPRESSION_CASES = [
    # name, what the server sends, compression, Accept-Encoding header, ok, decoded length
    ("gzip", "gzip", "gzip", None, True, len(TEST_MSG)),
    ("brotli", "br", "br", None, True, len(TEST_MSG)),
    ("deflate", "deflate", "deflate", None, True, len(TEST_MSG)),
    ("deflate, zlib-wrapped", "zlib", "deflate", None, True, len(TEST_MSG)),
    ("identity", "identity", "identity", None, True, len(TEST_MSG)),
    ("compression encoding mismatch", "gzip", "deflate", None, False, 0),
    ("accept gzip", "gzip", "gzip", "gzip", True, len(TEST_MSG)),
    ("accept br, gzip", "gzip", "gzip", "br, gzip", True, len(TEST_MSG)),
    ("accept anything", "gzip", "gzip", "*", True, len(TEST_MSG)),
    ("compressed content without compression setting", "gzip", None, None, True, None),
]


@pytest.mark.parametrize(
    ("name", "sent", "compression", "accept", "ok", "decoded"), COMPRESSION_CASES
)
async def test_handling_of_compression_setting(  # TestHandlingOfCompressionSetting
    serve: Serve,
    ctx: ProbeContext,
    name: str,
    sent: str,
    compression: str | None,
    accept: str | None,
    ok: bool,
    decoded: int | None,
) -> None:
    body = encoded(sent)
    header = {"zlib": "deflate"}.get(sent, sent)
    asked: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Accept-Encoding"))
        return web.Response(body=body, headers={"Content-Encoding": header})

    options: dict[str, Any] = {}
    if compression is not None:
        options["compression"] = compression
    if accept is not None:
        options["headers"] = {"Accept-Encoding": accept}
    result = await run(target(await serve(handler), **options), ctx)
    assert result.success is ok, result.detail
    got = values(result)
    assert got["probe_http_content_length"] == len(body)
    assert got["probe_http_uncompressed_body_length"] == (len(body) if decoded is None else decoded)
    # netmon asks for the encoding it is told to decode when no header says otherwise.
    assert asked == [accept or compression]
    if not ok:
        assert result.reason == "protocol"
        assert "cannot decode the deflate body" in result.detail


def test_compression_and_a_contrary_accept_encoding_is_a_settings_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="does not accept compression 'gzip'"):
        target(f"http://{HOST}/", compression="gzip", headers={"Accept-Encoding": "br"})
    with pytest.raises(pydantic.ValidationError, match="compression"):
        target(f"http://{HOST}/", compression="zstd")


LIMIT = 1024


@pytest.mark.parametrize(
    ("path", "compression", "ok", "content_length", "body_length"),
    [
        ("short", None, True, LIMIT - 1, LIMIT - 1),
        ("long", None, False, LIMIT + 1, LIMIT),
        ("short-compressed", "gzip", True, len(gzip.compress(b"A" * (LIMIT - 1))), LIMIT - 1),
        ("long-compressed", "gzip", False, len(gzip.compress(b"A" * (LIMIT + 1))), LIMIT),
    ],
)
async def test_max_response_length(  # TestMaxResponseLength (limit 1024: netmon's least)
    serve: Serve,
    ctx: ProbeContext,
    path: str,
    compression: str | None,
    ok: bool,
    content_length: int,
    body_length: int,
) -> None:
    size = LIMIT - 1 if path.startswith("short") else LIMIT + 1
    data = b"A" * size
    body = gzip.compress(data) if compression else data
    headers = {"Content-Encoding": "gzip"} if compression else {}
    base = await serve(sends(body, **headers))
    options: dict[str, Any] = {"max_body_bytes": LIMIT}
    if compression:
        options["compression"] = compression
    result = await run(target(f"{base}/{path}", **options), ctx)
    assert result.success is ok, result.detail
    got = values(result)
    assert got["probe_http_content_length"] == content_length
    assert got["probe_http_uncompressed_body_length"] == body_length
    if not ok:
        assert result.reason == "body_size"


async def test_an_endless_body_fails_at_the_limit(serve: Serve, ctx: ProbeContext) -> None:
    """2 GB announced and streamed: the probe fails once max_body_bytes is passed, in well under
    a second, instead of reading for a minute and calling it a success."""
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse()
        resp.content_length = 2 << 30
        await resp.prepare(request)
        chunk = b"z" * 65536
        while sent < 2 << 30:
            await resp.write(chunk)
            sent += len(chunk)
        return resp

    base = await serve(endless)
    started = asyncio.get_running_loop().time()
    result = await run(target(base, max_body_bytes=1 << 20), ctx, limit=10)
    assert asyncio.get_running_loop().time() - started < 3
    assert not result.success and result.reason == "body_size", result.detail
    assert values(result)["probe_http_uncompressed_body_length"] == 1 << 20
    assert sent < 64 << 20  # dropped, not drained


async def test_a_gzip_bomb_costs_no_more_than_the_limit(serve: Serve, ctx: ProbeContext) -> None:
    bomb = gzip.compress(b"\0" * (256 << 20))  # 256 MiB of zeros in ~250 KiB
    base = await serve(sends(bomb, **{"Content-Encoding": "gzip"}))
    result = await run(target(base, compression="gzip", max_body_bytes=1 << 20), ctx)
    assert result.reason == "body_size", result.detail
    assert values(result)["probe_http_uncompressed_body_length"] == 1 << 20


# --------------------------------------------------------------------------- redirects, cookies


def redirecting() -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        path = request.path
        if path == "/redirect-12":  # the client should never get here (TestRedirectionLimit)
            return web.Response(status=429)
        if path.startswith("/redirect-"):
            n = int(path.removeprefix("/redirect-"))
            raise web.HTTPFound(f"/redirect-{n + 1}")
        if path == "/noredirect":
            return web.Response(text="done")
        if path == "/once":
            raise web.HTTPFound("/noredirect")
        raise web.HTTPFound("/redirect-1")

    app = web.Application()
    app.router.add_get("/{tail:.*}", redirect)
    return app


async def test_redirect_followed(serve: Serve, ctx: ProbeContext) -> None:  # TestRedirectFollowed
    result = await run(target(await serve(redirecting()) + "/once"), ctx)
    assert result.success, result.detail
    assert values(result)["probe_http_redirects"] == 1


async def test_redirect_not_followed(serve: Serve, ctx: ProbeContext) -> None:
    # TestRedirectNotFollowed: follow_redirects false is max_redirects = 0; the redirect not
    # followed counts as one, as blackbox counts it.
    t = target(await serve(redirecting()) + "/once", max_redirects=0, expect_status=[302])
    result = await run(t, ctx)
    assert result.success, result.detail
    got = values(result)
    assert got["probe_http_status_code"] == 302
    assert got["probe_http_redirects"] == 1


async def test_redirection_limit(serve: Serve, ctx: ProbeContext) -> None:  # TestRedirectionLimit
    # blackbox follows at most 10; netmon's max_redirects = 10 is the same limit.
    result = await run(target(await serve(redirecting()), max_redirects=10), ctx)
    assert not result.success
    assert result.reason == "redirects"
    got = values(result)
    assert got["probe_http_redirects"] == 11
    assert got["probe_http_status_code"] == 302
    assert "/redirect-11" in result.detail and "/redirect-12" not in result.detail.split("→")[-2]


async def test_cookie_jar(serve: Serve, ctx: ProbeContext) -> None:  # TestCookieJar
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/":
            resp = web.HTTPFound("/noredirect")
            resp.set_cookie("somecookie", "cookie", max_age=365 * 86400)
            raise resp
        if request.cookies.get("somecookie") != "cookie":
            return web.Response(status=400, text="no cookie")
        return web.Response(text="with cookie")

    base = await serve(handler)
    result = await run(target(base), ctx)
    assert result.success, result.detail
    # And the jar is the probe's own: the next probe starts without the cookie.
    again = await run(target(base + "/noredirect"), ctx)
    assert again.reason == "status" and values(again)["probe_http_status_code"] == 400


# --------------------------------------------------------------------------- requests


async def test_post(serve: Serve, ctx: ProbeContext) -> None:  # TestPost
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.method == "POST" else 400)

    result = await run(target(await serve(handler), method="POST"), ctx)
    assert result.success, result.detail


def authorization_echo() -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth == "Basic " + base64.b64encode(b"username:password").decode():
            return web.Response(text="basic")
        if auth == "Bearer mysecret":
            return web.Response(text="bearer")
        return web.Response(status=401)

    return handler


async def test_basic_auth(  # TestBasicAuth, with the password inline, from env and from a file
    serve: Serve, ctx: ProbeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = await serve(authorization_echo())
    monkeypatch.setenv("NETMON_TEST_HTTP_PASSWORD", "password")
    secret = tmp_path / "password"
    secret.write_text("password\n")
    for auth in (
        {"username": "username", "password": "password"},
        {"username": "username", "password_env": "NETMON_TEST_HTTP_PASSWORD"},
        {"username": "username", "password_file": str(secret)},
    ):
        result = await run(target(base, basic_auth=auth, body_contains=["basic"]), ctx)
        assert result.success, (auth, result.detail)
    wrong = await run(target(base, basic_auth={"username": "username", "password": "x"}), ctx)
    assert wrong.reason == "status"
    assert "'pw'" not in repr(target(base, basic_auth={"username": "u", "password": "pw"}))


async def test_bearer_token(  # TestBearerToken
    serve: Serve, ctx: ProbeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = await serve(authorization_echo())
    monkeypatch.setenv("NETMON_TEST_HTTP_TOKEN", "mysecret")
    token = tmp_path / "token"
    token.write_text("mysecret\n")
    for given in (
        {"bearer_token": "mysecret"},
        {"bearer_token_env": "NETMON_TEST_HTTP_TOKEN"},
        {"bearer_token_file": str(token)},
    ):
        result = await run(target(base, body_contains=["bearer"], **given), ctx)
        assert result.success, (given, result.detail)


def test_secret_settings_errors_name_their_key(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="bearer_token_env"):
        target(f"http://{HOST}/", bearer_token_env="NETMON_TEST_UNSET_VARIABLE")
    with pytest.raises(pydantic.ValidationError, match=r"basic_auth\.password_file"):
        target(f"http://{HOST}/", basic_auth={"username": "u", "password_file": "/nonexistent"})
    with pytest.raises(pydantic.ValidationError, match="not both"):
        target(f"http://{HOST}/", basic_auth={"username": "u", "password": "p"}, bearer_token="t")


async def test_http_headers(serve: Serve, ctx: ProbeContext) -> None:  # TestHTTPHeaders
    headers = {
        "Host": "my-secret-vhost.netmon.test",
        "User-Agent": "unsuspicious-user",
        "Accept-Language": "en-US",
    }

    async def handler(request: web.Request) -> web.Response:
        ok = all(request.headers.get(k) == v for k, v in headers.items())
        return web.Response(status=200 if ok else 400, text=repr(dict(request.headers)))

    result = await run(target(await serve(handler), headers=headers), ctx)
    assert result.success, result.detail


async def test_body_and_body_file(  # TestBody
    serve: Serve, ctx: ProbeContext, tmp_path: Path
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200 if await request.read() == b"Test Body" else 400)

    base = await serve(handler)
    body_file = tmp_path / "body.txt"
    body_file.write_bytes(b"Test Body")
    for given in ({"body": "Test Body"}, {"body_file": str(body_file)}):
        result = await run(target(base, method="POST", **given), ctx)
        assert result.success, (given, result.detail)
    with pytest.raises(pydantic.ValidationError, match="body or body_file"):
        target(base, body="x", body_file=str(body_file))
    with pytest.raises(pydantic.ValidationError, match="body_file"):
        target(base, body_file=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    ("written", "tls", "ok"),
    [
        ("http://{addr}", False, True),
        ("https://{addr}", True, True),
        ("HTTP://{addr}", False, True),
        ("HtTpS://{addr}", True, True),
        ("{addr}", False, True),  # missing scheme: http://, as blackbox
    ],
)
async def test_http_parsing_scheme(  # TestHTTPParsingScheme
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, written: str, tls: bool, ok: bool
) -> None:
    context = tls_server(ca.issue_cert(HOST)) if tls else None
    base = await serve(sends(b"ok"), ssl_context=context)
    addr = base.split("://", 1)[1]
    t = target(written.format(addr=addr), tls_verify=False)
    assert t.url is not None and t.url.startswith("https://" if tls else "http://")
    result = await run(t, ctx)
    assert result.success is ok, result.detail
    assert values(result)["probe_http_ssl"] == float(tls)


def test_invalid_scheme_is_a_settings_error() -> None:  # TestHTTPParsingScheme "invalid scheme"
    # blackbox fails the probe; netmon refuses the settings, naming the key.
    for url in (f"invalid://{HOST}:80", f"htps//{HOST}/", f"https:/{HOST}/"):
        with pytest.raises(pydantic.ValidationError, match="not an http:// or https:// URL"):
            target(url)  # the last two: a mistyped scheme, not a bare host


async def test_proxy_url(serve: Serve, ctx: ProbeContext) -> None:
    """proxy_url: the request goes to the proxy in absolute form (an aiohttp server plays it)."""
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url) if request.url.is_absolute() else request.path_qs)
        seen.append(request.raw_path)
        return web.Response(text="via proxy")

    proxy_base = await serve(proxy, host="127.0.5.2")
    result = await run(
        target("http://127.0.5.3:8080/page", proxy_url=proxy_base, body_contains=["via proxy"]),
        ctx,
    )
    assert result.success, result.detail
    assert seen[-1] == "http://127.0.5.3:8080/page"  # absolute-form request line
    with pytest.raises(pydantic.ValidationError, match="proxy_url"):
        target("http://127.0.5.3/", proxy_url="socks5://127.0.5.2:1080")


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("body", "regexps", "ok"),
    [
        (
            "Bad news: could not connect to database server",
            ["could not connect to database"],
            False,
        ),
        ("Download the latest version here", ["could not connect to database"], True),
        ("internal error", ["could not connect to database", "internal error"], False),
        ("hello world", ["could not connect to database", "internal error"], True),
    ],
)
async def test_fail_if_body_matches_regexp(  # TestFailIfBodyMatchesRegexp
    serve: Serve, ctx: ProbeContext, body: str, regexps: list[str], ok: bool
) -> None:
    result = await run(target(await serve(sends(body.encode())), fail_if_body_matches=regexps), ctx)
    assert result.success is ok, result.detail
    got = values(result)
    assert got["probe_failed_due_to_regex"] == float(not ok)
    assert got["probe_http_content_length"] == len(body)  # blackbox issue #673
    assert got["probe_http_uncompressed_body_length"] == len(body)


@pytest.mark.parametrize(
    ("body", "regexps", "ok"),
    [
        ("Bad news: could not connect to database server", ["Download the latest version"], False),
        ("Download the latest version here", ["Download the latest version here"], True),
        ("Download the latest version here", ["Download the latest", "Copyright 2015"], False),
        ("Download the latest version here. Copyright 2015 Test Inc.", ["Download", "2015"], True),
    ],
)
async def test_fail_if_body_not_matches_regexp(  # TestFailIfBodyNotMatchesRegexp
    serve: Serve, ctx: ProbeContext, body: str, regexps: list[str], ok: bool
) -> None:
    t = target(await serve(sends(body.encode())), fail_if_body_not_matches=regexps)
    result = await run(t, ctx)
    assert result.success is ok, result.detail
    assert values(result)["probe_failed_due_to_regex"] == float(not ok)
    if not ok:
        assert result.reason == "content" and "does not match" in result.detail


COOKIE_A = "zz=4; expires=Mon, 01-Jan-1990 00:00:00 GMT; Domain=www.netmon.test; Path=/"
COOKIE_B = "gid=1; Expires=Tue, 19-Mar-2019 20:08:29 GMT; Domain=.netmon.test; Path=/"
DOMAIN = r".*Domain=\.netmon\.test.*"


@pytest.mark.parametrize(
    ("header", "regexp", "allow_missing", "sent", "ok"),
    [
        ("Content-Type", "text/javascript", False, ["text/javascript"], False),
        ("Content-Type", "text/javascript", False, ["application/octet-stream"], True),
        ("content-type", "text/javascript", False, ["application/octet-stream"], True),
        ("Content-Type", ".*", False, [""], False),
        ("Content-Type", ".*", False, [], False),
        ("Content-Type", ".*", True, [""], False),
        ("Content-Type", ".*", True, [], True),
        ("Set-Cookie", DOMAIN, False, [COOKIE_B], False),
        ("Set-Cookie", DOMAIN, False, [COOKIE_A, COOKIE_B], False),
    ],
)
async def test_fail_if_header_matches_regexp(  # TestFailIfHeaderMatchesRegexp
    serve: Serve,
    ctx: ProbeContext,
    header: str,
    regexp: str,
    allow_missing: bool,
    sent: list[str],
    ok: bool,
) -> None:
    result = await run(
        header_target(
            await serve(header_server(header, sent)),
            "fail_if_header_matches",
            header,
            regexp,
            allow_missing,
        ),
        ctx,
    )
    assert result.success is ok, result.detail
    assert values(result)["probe_failed_due_to_regex"] == float(not ok)
    if not ok:
        assert result.reason == "header"


@pytest.mark.parametrize(
    ("header", "regexp", "allow_missing", "sent", "ok"),
    [
        ("Content-Type", "text/javascript", False, ["text/javascript"], True),
        ("content-type", "text/javascript", False, ["text/javascript"], True),
        ("Content-Type", "text/javascript", False, ["application/octet-stream"], False),
        ("Content-Type", ".*", False, [""], True),
        ("Content-Type", ".*", False, [], False),
        ("Content-Type", ".*", True, [], True),
        ("Set-Cookie", DOMAIN, False, [COOKIE_A], False),
        ("Set-Cookie", DOMAIN, False, [COOKIE_A, COOKIE_B], True),
    ],
)
async def test_fail_if_header_not_matches_regexp(  # TestFailIfHeaderNotMatchesRegexp
    serve: Serve,
    ctx: ProbeContext,
    header: str,
    regexp: str,
    allow_missing: bool,
    sent: list[str],
    ok: bool,
) -> None:
    result = await run(
        header_target(
            await serve(header_server(header, sent)),
            "fail_if_header_not_matches",
            header,
            regexp,
            allow_missing,
        ),
        ctx,
    )
    assert result.success is ok, result.detail
    assert values(result)["probe_failed_due_to_regex"] == float(not ok)


def header_server(header: str, sent: list[str]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        for value in sent:
            resp.headers.add(header, value)
        if header.lower() == "content-type" and not sent:
            # aiohttp would add application/octet-stream: a raw header-less answer instead
            resp.headers["Content-Type"] = ""
            del resp.headers["Content-Type"]
        resp.content_length = 0
        await resp.prepare(request)
        await resp.write_eof()
        return resp

    return handler


def header_target(base: str, key: str, header: str, regexp: str, allow_missing: bool) -> Target:
    rule = {"header": header, "regexp": regexp, "allow_missing": allow_missing}
    return target(base, **{key: [rule]})


def test_bad_regular_expressions_are_settings_errors() -> None:
    with pytest.raises(pydantic.ValidationError, match="fail_if_body_matches"):
        target(f"http://{HOST}/", fail_if_body_matches=["(unclosed"])
    with pytest.raises(pydantic.ValidationError, match=r"fail_if_header_matches\.0\.regexp"):
        target(f"http://{HOST}/", fail_if_header_matches=[{"header": "X", "regexp": "*"}])


HEALTH = {
    "status": "ok",
    "version": "2.4.1",
    "checks": {"db": {"up": True, "latency_ms": 12.5}, "cache": {"up": False}},
    "items": [{"state": "running"}, {"state": "stopped"}],
    "a.b": {"c": 1},
}


@pytest.mark.parametrize(
    ("check", "ok"),
    [
        ({"path": "status", "equals": "ok"}, True),
        ({"path": "status", "equals": "degraded"}, False),
        ({"path": "status", "not_equals": "degraded"}, True),
        ({"path": "checks.db.up", "equals": True}, True),
        ({"path": "checks.cache.up", "equals": True}, False),
        ({"path": "checks.db.latency_ms", "lt": 200}, True),
        ({"path": "checks.db.latency_ms", "gt": 200}, False),
        ({"path": "checks.db.latency_ms", "le": 12.5}, True),
        ({"path": "items[0].state", "equals": "running"}, True),
        ({"path": "items[1].state", "matches": "^run"}, False),
        ({"path": "items[5].state", "exists": False}, True),
        ({"path": "checks.queue", "exists": True}, False),
        ({"path": '["a.b"].c', "equals": 1}, True),
        ({"path": "version", "matches": r"^2\.\d+"}, True),
        ({"path": "status", "gt": 1}, False),  # not a number
        ({"path": "checks.db.up", "equals": 1}, False),  # true is not 1
    ],
)
async def test_body_json(serve: Serve, ctx: ProbeContext, check: dict[str, Any], ok: bool) -> None:
    """JSON body checks (blackbox: fail_if_body_json_matches_cel; netmon: a path and a test)."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(HEALTH)

    result = await run(target(await serve(handler), body_json=[check]), ctx)
    assert result.success is ok, result.detail
    assert values(result)["probe_failed_due_to_json"] == float(not ok)
    if not ok:
        assert result.reason == "content" and f"JSON {check['path']} is" in result.detail


async def test_body_json_on_a_body_that_is_not_json(serve: Serve, ctx: ProbeContext) -> None:
    result = await run(
        target(await serve(sends(b"<html>")), body_json=[{"path": "a", "exists": True}]), ctx
    )
    assert result.reason == "content" and "body is not JSON" in result.detail


def test_body_json_settings_errors() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of"):
        target(f"http://{HOST}/", body_json=[{"path": "a", "equals": 1, "lt": 2}])
    with pytest.raises(pydantic.ValidationError, match=r"body_json\.0\.path"):
        target(f"http://{HOST}/", body_json=[{"path": "a..b", "equals": 1}])


async def test_last_modified(serve: Serve, ctx: ProbeContext) -> None:
    base = await serve(sends(b"x", **{"Last-Modified": "Tue, 08 Dec 2026 01:02:03 GMT"}))
    got = values(await run(target(base), ctx))
    stamp = dt.datetime(2026, 12, 8, 1, 2, 3, tzinfo=dt.UTC).timestamp()
    assert got["probe_http_last_modified_timestamp_seconds"] == stamp


# --------------------------------------------------------------------------- TLS


async def test_fail_if_not_ssl(serve: Serve, ctx: ProbeContext) -> None:  # TestFailIfNotSSL
    result = await run(target(await serve(sends(b"")), fail_if_not_ssl=True), ctx)
    assert not result.success and result.reason == "ssl", result.detail
    assert values(result)["probe_http_ssl"] == 0


async def test_fail_if_ssl_and_a_downgrade(
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str
) -> None:
    plain = await serve(sends(b"plain"), host="127.0.5.4")

    async def downgrade(request: web.Request) -> web.Response:
        raise web.HTTPFound(plain + "/")

    tls_base = await serve(downgrade, ssl_context=tls_server(ca.issue_cert(HOST)))
    # An HTTPS site that sends its visitors to plain HTTP: fail_if_not_ssl catches it.
    result = await run(target(tls_base, ca_file=ca_file, fail_if_not_ssl=True), ctx)
    assert result.reason == "ssl" and "not over TLS" in result.detail
    assert values(result)["probe_http_ssl"] == 0
    direct = await run(
        target(
            tls_base + "/", ca_file=ca_file, max_redirects=0, fail_if_ssl=True, expect_status=[302]
        ),
        ctx,
    )
    assert direct.reason == "ssl" and "over TLS (fail_if_ssl)" in direct.detail
    with pytest.raises(pydantic.ValidationError, match="fail_if_ssl and fail_if_not_ssl"):
        target(tls_base, fail_if_ssl=True, fail_if_not_ssl=True)


async def test_fail_if_self_signed_ca(  # TestFailIfSelfSignedCA, TestSucceedIfSelfSignedCA
    serve: Serve, ctx: ProbeContext
) -> None:
    own = trustme.CA()  # trusted by nobody
    base = await serve(sends(b""), ssl_context=tls_server(own.issue_cert(HOST)))
    result = await run(target(base), ctx)
    assert not result.success and result.reason == "tls"
    assert values(result)["probe_http_ssl"] == 0
    # netmon's addition: the expiry of the certificate that was refused is still reported.
    assert "probe_ssl_earliest_cert_expiry" in values(result)
    insecure = await run(target(base, tls_verify=False), ctx)
    assert insecure.success, insecure.detail
    assert values(insecure)["probe_http_ssl"] == 1


async def test_tls_config_is_ignored_for_plain_http(  # TestTLSConfigIsIgnoredForPlainHTTP
    serve: Serve, ctx: ProbeContext
) -> None:
    result = await run(target(await serve(sends(b"")), tls_verify=True), ctx)
    assert result.success, result.detail
    assert values(result)["probe_http_ssl"] == 0


async def test_target_as_tls_server_name(  # TestHTTPUsesTargetAsTLSServerName
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str
) -> None:
    base = await serve(sends(b""), ssl_context=tls_server(ca.issue_cert("cong.netmon.test")))
    wrong = await run(target(base, ca_file=ca_file), ctx)
    assert wrong.reason == "tls"
    named = await run(target(base, ca_file=ca_file, server_name="cong.netmon.test"), ctx)
    assert named.success, named.detail
    by_host = await run(target(base, ca_file=ca_file, headers={"Host": "cong.netmon.test"}), ctx)
    assert by_host.success, by_host.detail


async def test_redirect_to_tls_host_works(  # TestRedirectToTLSHostWorks
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str
) -> None:
    tls_base = await serve(sends(b"secure"), ssl_context=tls_server(ca.issue_cert(HOST)))

    async def upgrade(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(tls_base + "/")

    result = await run(target(await serve(upgrade, host="127.0.5.5"), ca_file=ca_file), ctx)
    assert result.success, result.detail
    got = values(result)
    assert got["probe_http_ssl"] == 1 and got["probe_http_redirects"] == 1


async def test_tls_version_label_as_blackbox(
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str
) -> None:
    cert = ca.issue_cert(HOST)
    for version, label in (
        (ssl.TLSVersion.TLSv1_2, "TLS 1.2"),
        (ssl.TLSVersion.TLSv1_3, "TLS 1.3"),
    ):
        context = tls_server(cert, maximum_version=version, minimum_version=version)
        base = await serve(sends(b""), ssl_context=context)
        result = await run(target(base, ca_file=ca_file), ctx)
        assert result.success, result.detail
        assert labelled(result, "probe_tls_version_info") == [{"version": label}]


def not_after(pem: bytes) -> float:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


async def test_chain_expiry_and_last_chain_info(
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An intermediate that expires before the leaf: earliest expiry and the chain's expiry are
    the intermediate's (netmon used to report the leaf's); the info labels are the leaf's."""
    with monkeypatch.context() as patch:
        patch.setattr(trustme, "DEFAULT_EXPIRY", dt.datetime(2031, 5, 1))
        intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert(HOST, "cong.netmon.test", not_after=dt.datetime(2032, 1, 1))
    base = await serve(sends(b""), ssl_context=tls_server(leaf))
    result = await run(target(base, ca_file=ca_file), ctx)
    assert result.success, result.detail
    got = values(result)
    soonest = not_after(intermediate.cert_pem.bytes())
    assert soonest < not_after(leaf.cert_chain_pems[0].bytes())
    assert got["probe_ssl_earliest_cert_expiry"] == soonest
    assert got["probe_ssl_last_chain_expiry_timestamp_seconds"] == soonest
    (info,) = labelled(result, "probe_ssl_last_chain_info")
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    assert info["fingerprint_sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    assert info["subject"] == cert.subject.rfc4514_string()
    assert info["issuer"] == cert.issuer.rfc4514_string()
    assert info["subjectalternative"] == "cong.netmon.test"  # DNS names only, as blackbox
    assert int(info["serialnumber"], 16) == cert.serial_number
    # Unverified (tls_verify = false), there is no verified chain: no chain expiry, the
    # earliest expiry is over what the server presented.
    loose = values(await run(target(base, tls_verify=False), ctx))
    assert "probe_ssl_last_chain_expiry_timestamp_seconds" not in loose
    assert loose["probe_ssl_earliest_cert_expiry"] == soonest


async def test_client_certificate(
    serve: Serve, ctx: ProbeContext, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    context = tls_server(ca.issue_cert(HOST), verify_mode=ssl.CERT_REQUIRED)
    ca.configure_trust(context)
    base = await serve(sends(b"hello client"), ssl_context=context)
    client = ca.issue_cert("noc@netmon.test")
    both = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(both))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    without = await run(target(base, ca_file=ca_file), ctx)
    assert not without.success  # the server wants a certificate
    for given in ({"cert_file": str(both)}, {"cert_file": str(cert), "key_file": str(key)}):
        result = await run(target(base, ca_file=ca_file, **given), ctx)
        assert result.success, (given, result.detail)
    missing = await run(target(base, ca_file=ca_file, cert_file=str(tmp_path / "none.pem")), ctx)
    assert missing.reason == "tls" and "cannot load the TLS files" in missing.detail
    with pytest.raises(pydantic.ValidationError, match="key_file needs cert_file"):
        target(base, key_file=str(key))


BAD_HTTP_SETTINGS = """
[[targets]]
name = "cong-thong-tin"
kind = "http"
url = "https://127.0.5.9/"
[targets.http]
body_json = [{ path = "status" }]
fail_if_header_matches = [{ header = "X", regexp = "(" }]
compression = "zstd"
bearer_token_env = "NETMON_TEST_UNSET_VARIABLE"
"""


def test_bad_http_settings_exit_2_naming_each_key(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(BAD_HTTP_SETTINGS, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", str(settings)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    for key in (
        "targets[0].http.body_json[0]",
        "targets[0].http.fail_if_header_matches[0].regexp",
        "targets[0].http.compression",
        "targets[0].http.bearer_token_env",
    ):
        assert key in proc.stderr, (key, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
