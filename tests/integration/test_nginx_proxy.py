"""Issue 13, finding 4: Debian's nginx in front of netmon on loopback, as the example settings
advise. With ``[server] trusted_proxies`` naming it, an operator's token through the proxy sees
only its carrier, and a client without a token gets nothing (401) from /metrics, the API and
POST /-/reload; the session cookie is Secure when nginx says the client came over TLS."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitor.runtime.service import Service
from monitor.web.app import make_app
from tests.support.common import free_port
from tests.support.web import NOC, TOKENS, VIETTEL, web_settings

NGINX_CONF = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name netmon.daklak.example.vn;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # TLS ends at the proxy in production; here a header plays the part.
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        pytest.skip("nginx is not installed (make debs-test)")
    return found


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[str]:
    """netmon on a loopback port, nginx in front of it; yields nginx's base URL."""
    binary = nginx_binary()
    settings = web_settings(tmp_path, tokens=TOKENS)
    server = settings.server.model_copy(
        update={"trusted_proxies": ["127.0.0.1"], "hostnames": ["netmon.daklak.example.vn"]}
    )
    service = Service(settings.model_copy(update={"server": server}))
    await service.start()
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    upstream = free_port()
    await web.TCPSite(runner, "127.0.0.1", upstream).start()
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, upstream=upstream))
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", str(tmp_path), "-c", str(conf), stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    pytest.fail(f"nginx ended: {(await proc.stderr.read()).decode()}")
                await asyncio.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        await proc.wait()
        await runner.cleanup()
        await service.aclose()


async def test_through_nginx_an_operator_sees_its_carrier_and_nobody_else_anything(
    proxied: str,
) -> None:
    host = {"Host": "netmon.daklak.example.vn"}
    async with aiohttp.ClientSession() as http:
        operator = {**host, "Authorization": f"Bearer {VIETTEL}"}
        async with http.get(f"{proxied}/api/v1/targets", headers=operator) as resp:
            assert resp.status == 200
            assert [t["name"] for t in (await resp.json())["targets"]] == ["vt"]
        async with http.get(f"{proxied}/metrics", headers=operator) as resp:
            assert resp.status == 403
        for method, path in (
            ("GET", "/metrics"),
            ("GET", "/api/v1/targets"),
            ("POST", "/-/reload"),
        ):
            async with http.request(method, f"{proxied}{path}", headers=host) as resp:
                assert resp.status == 401, (method, path)
                assert "probe_success" not in await resp.text()
        # Forged loopback hops left of the proxy's own entry change nothing.
        forged = {**host, "X-Forwarded-For": "127.0.0.1"}
        async with http.get(f"{proxied}/metrics", headers=forged) as resp:
            assert resp.status == 401
        async with http.get(
            f"{proxied}/metrics", headers={**host, "Authorization": f"Bearer {NOC}"}
        ) as resp:
            assert resp.status == 200
        # Another name (DNS rebinding): refused.
        async with http.get(f"{proxied}/healthz", headers={"Host": "evil.example"}) as resp:
            assert resp.status == 421
        # TLS at the proxy: the session cookie is Secure.
        async with http.post(
            f"{proxied}/login", data={"token": NOC}, headers=host, allow_redirects=False
        ) as resp:
            assert resp.status == 303 and "Secure" in resp.headers["Set-Cookie"]
