"""The lab, for real: its websites, DNS, SMTP banner, ICMP faults (nftables), control API, CLI,
and the shipped settings.toml that watches it.

The lab runs on its own addresses (127.0.1.x, 127.0.2.x); only the control port is a free one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import pytest
from cryptography import x509

import monitor.lab
from monitor.config import SettingsError, load_settings
from monitor.lab import BANNER, ICMP_HOSTS, SITES, Lab
from monitor.lab.cli import main
from monitor.lab.faults import FaultUnavailable, IcmpFaults, ModeNotApplicable, UnknownTarget
from monitor.lab.inventory import (
    DNS_HOST,
    DNS_NAME,
    DNS_PORT,
    SMTP_BANNER,
    SMTP_HOST,
    SMTP_NAME,
    SMTP_PORT,
    SNMP_DEVICES,
    check_loopback,
)
from monitor.lab.web import load_or_create_ca
from tests.support.common import REPO, free_port, root_only

LabFactory = Callable[..., Awaitable[Lab]]
PORTAL = next(s for s in SITES if s.name == "cong-thong-tin-tinh")
TLS_SITE = next(s for s in SITES if s.tls)
PLAIN = next(s for s in SITES if not s.tls and not s.banner)
TABLE = "netmon_lab"


@pytest.fixture
async def make_lab(tmp_path: Path) -> AsyncIterator[LabFactory]:
    """Start a Lab (state in tmp_path, control on a free port); every one is closed after."""
    labs: list[Lab] = []

    async def make(**kwargs: Any) -> Lab:
        kwargs.setdefault("control", f"127.0.0.1:{free_port()}")
        lab = Lab(tmp_path / "lab", **kwargs)
        await lab.start()
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        await lab.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=5), trust_env=False
    ) as session:
        yield session


def ca_context(lab: Lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.state_dir / "ca.pem"))


async def get(
    session: aiohttp.ClientSession, lab: Lab, url: str, **kwargs: Any
) -> tuple[int, str, aiohttp.ClientResponse]:
    ssl_arg: ssl.SSLContext | bool = ca_context(lab) if url.startswith("https") else True
    async with session.get(url, ssl=ssl_arg, **kwargs) as response:
        return response.status, await response.text(), response


# --------------------------------------------------------------------------- websites


async def test_every_website_answers_in_vietnamese(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab()
    assert len(lab.websites.sites) >= 6
    for site in SITES:
        status, text, response = await get(http, lab, site.url)
        assert status == 200, site.name
        assert response.charset == "utf-8"
        assert '<html lang="vi">' in text
        assert f"<title>{site.title}</title>" in text
        assert unicodedata.is_normalized("NFC", text)
        assert "Đắk Lắk" in text
        assert (BANNER in text) == site.banner, site.name
        assert "hacked" not in text.lower()
    assert BANNER in (await get(http, lab, PORTAL.url))[1]
    assert TLS_SITE.url.startswith("https://127.0.1.3:8443/")


@pytest.mark.parametrize(
    ("mode", "status", "present", "absent"),
    [
        ("503", 503, "Hệ thống đang bảo trì", BANNER),
        ("deface", 200, "Hacked by", BANNER),
        ("banner-gone", 200, PORTAL.title, BANNER),
    ],
)
async def test_website_faults_and_heal(
    make_lab: LabFactory,
    http: aiohttp.ClientSession,
    mode: str,
    status: int,
    present: str,
    absent: str,
) -> None:
    lab = await make_lab()
    described = await lab.fail(PORTAL.name, mode)
    assert described["fault"] == mode
    got, text, _ = await get(http, lab, PORTAL.url)
    assert got == status
    assert present in text and absent not in text
    # Other sites are untouched.
    assert (await get(http, lab, PLAIN.url))[0] == 200
    await lab.heal(PORTAL.name)
    got, text, _ = await get(http, lab, PORTAL.url)
    assert got == 200 and BANNER in text and "Hacked" not in text


async def test_slow_website_does_not_answer_within_a_second(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab()
    await lab.fail(PLAIN.name, "slow")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(get(http, lab, PLAIN.url), 1.0)
    await lab.heal(PLAIN.name)
    assert (await get(http, lab, PLAIN.url))[0] == 200


async def test_down_website_refuses_and_drops_kept_alive_connections(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab()
    assert (await get(http, lab, PLAIN.url))[0] == 200  # leaves a kept-alive connection
    await lab.fail(PLAIN.name, "down")
    with pytest.raises(aiohttp.ClientError):
        await get(http, lab, PLAIN.url)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(PLAIN.host, PLAIN.port)
    await lab.heal(PLAIN.name)
    assert (await get(http, lab, PLAIN.url))[0] == 200


async def test_down_tls_site_heals_with_tls(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab()
    await lab.fail(TLS_SITE.name, "down")
    with pytest.raises(aiohttp.ClientError):
        await get(http, lab, TLS_SITE.url)
    await lab.heal(TLS_SITE.name)
    assert (await get(http, lab, TLS_SITE.url))[0] == 200


async def peer_certificate(lab: Lab, server_hostname: str) -> x509.Certificate:
    """The certificate the TLS site presents now, verified against the lab CA."""
    _reader, writer = await asyncio.open_connection(
        TLS_SITE.host, TLS_SITE.port, ssl=ca_context(lab), server_hostname=server_hostname
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def test_tls_site_certificate_and_tls_expiring(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab()
    # Valid for the IP address and for the lab host name, for about a year.
    for name in (TLS_SITE.host, TLS_SITE.hostname):
        cert = await peer_certificate(lab, name)
        left = cert.not_valid_after_utc - datetime.now(UTC)
        assert timedelta(days=360) < left < timedelta(days=366)
    await lab.fail(TLS_SITE.name, "tls-expiring")
    cert = await peer_certificate(lab, TLS_SITE.host)
    left = cert.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=4, hours=23) < left <= timedelta(days=5)
    assert (await get(http, lab, TLS_SITE.url))[0] == 200  # still valid, still served
    await lab.heal(TLS_SITE.name)
    cert = await peer_certificate(lab, TLS_SITE.host)
    assert cert.not_valid_after_utc - datetime.now(UTC) > timedelta(days=360)


async def test_lab_ca_is_kept_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    async with Lab(tmp_path / "lab", control=f"127.0.0.1:{port}"):
        first = (tmp_path / "lab" / "ca.pem").read_bytes()
    key = tmp_path / "lab" / "ca-key.pem"
    assert key.stat().st_mode & 0o077 == 0
    async with Lab(tmp_path / "lab", control=None):
        assert (tmp_path / "lab" / "ca.pem").read_bytes() == first


async def test_extra_sites_for_benchmarks(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    lab = await make_lab(extra_sites=300)
    assert len(lab.websites.sites) == len(SITES) + 300
    last = lab.websites.sites["site-0300"]
    assert last.host == "127.0.6.46"
    status, text, _ = await get(http, lab, last.url)
    assert status == 200 and "Trang thông tin điện tử xã số 300" in text
    assert "extra" not in lab.ready_line and f"{len(SITES) + 300} websites" in lab.ready_line


# --------------------------------------------------------------------------- DNS, SMTP


async def dns_query(name: str, rdtype: str, wait: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(query, DNS_HOST, port=DNS_PORT, timeout=wait)


def answers(response: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in response.answer for rd in rrset)


async def test_dns_zone_and_faults(make_lab: LabFactory) -> None:
    lab = await make_lab()
    assert answers(await dns_query("daklak.lab", "A")) == ["127.0.1.1"]
    assert answers(await dns_query("baodaklak.lab", "A")) == ["127.0.1.2"]
    assert answers(await dns_query("daklak.lab", "MX")) == ["10 mail.daklak.lab."]
    txt = [
        b"".join(rd.strings).decode()
        for rrset in (await dns_query("daklak.lab", "TXT")).answer
        for rd in rrset
    ]
    assert "Cổng thông tin điện tử tỉnh Đắk Lắk" in txt

    await lab.fail(DNS_NAME, "dns-changed")
    assert answers(await dns_query("daklak.lab", "A")) == ["127.0.1.66"]
    await lab.fail(DNS_NAME, "servfail")  # replaces dns-changed
    assert (await dns_query("daklak.lab", "A")).rcode() == dns.rcode.SERVFAIL
    await lab.fail(DNS_NAME, "silent")
    with pytest.raises(dns.exception.Timeout):
        await dns_query("daklak.lab", "A", wait=0.5)
    await lab.heal(DNS_NAME)
    response = await dns_query("daklak.lab", "A")
    assert response.rcode() == dns.rcode.NOERROR and answers(response) == ["127.0.1.1"]


async def smtp_greeting(wait: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection(SMTP_HOST, SMTP_PORT)
    try:
        return await asyncio.wait_for(reader.readline(), wait)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_smtp_banner_and_faults(make_lab: LabFactory) -> None:
    lab = await make_lab()
    reader, writer = await asyncio.open_connection(SMTP_HOST, SMTP_PORT)
    assert await reader.readline() == SMTP_BANNER.encode() + b"\r\n"
    writer.write(b"EHLO noc.daklak.lab\r\n")
    assert (await reader.readline()).startswith(b"250 ")
    writer.write(b"QUIT\r\n")
    assert (await reader.readline()).startswith(b"221 ")
    assert await reader.read() == b""  # the server closed the session
    writer.close()
    await writer.wait_closed()

    await lab.fail(SMTP_NAME, "down")
    with pytest.raises(ConnectionRefusedError):
        await smtp_greeting()
    await lab.fail(SMTP_NAME, "slow")
    with pytest.raises(TimeoutError):
        await smtp_greeting(wait=1.0)
    await lab.heal(SMTP_NAME)
    assert (await smtp_greeting()).startswith(b"220 mail.daklak.lab")


# --------------------------------------------------------------------------- faults, API, CLI


async def test_unknown_target_and_inapplicable_mode(make_lab: LabFactory) -> None:
    lab = await make_lab()
    with pytest.raises(UnknownTarget, match="no lab target is named 'nope'"):
        await lab.fail("nope", "503")
    with pytest.raises(UnknownTarget):
        await lab.heal("nope")
    with pytest.raises(ModeNotApplicable, match="tls-expiring"):
        await lab.fail(PLAIN.name, "tls-expiring")
    with pytest.raises(ModeNotApplicable):
        await lab.fail(PLAIN.name, "banner-gone")  # it carries no banner
    with pytest.raises(ModeNotApplicable):
        await lab.fail(DNS_NAME, "503")
    with pytest.raises(ModeNotApplicable):
        await lab.fail("venue-core-switch", "deface")
    assert all(t["fault"] is None for t in lab.targets())


async def test_second_lab_on_the_same_addresses_fails_cleanly(
    make_lab: LabFactory, http: aiohttp.ClientSession
) -> None:
    first = await make_lab()
    with pytest.raises(OSError):
        await make_lab()
    assert (await get(http, first, PORTAL.url))[0] == 200
    assert (await smtp_greeting()).startswith(b"220 ")


def test_lab_refuses_addresses_outside_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Lab(tmp_path, control="192.0.2.1:9190")
    with pytest.raises(ValueError, match="loopback"):
        Lab(tmp_path, control=None, dns_address=("0.0.0.0", 5353))
    with pytest.raises(ValueError):
        check_loopback("localhost")


async def test_control_api(make_lab: LabFactory, http: aiohttp.ClientSession) -> None:
    lab = await make_lab()
    base = lab.control_url
    assert base is not None and base.startswith("http://127.0.0.1:")
    async with http.get(f"{base}/lab/ready") as response:
        assert response.status == 200 and (await response.json())["ready"] is True
    async with http.get(f"{base}/lab/targets") as response:
        targets = (await response.json())["targets"]
    names = {t["name"]: t for t in targets}
    assert set(names) >= {s.name for s in SITES} | {h.name for h in ICMP_HOSTS}
    assert names[DNS_NAME]["kind"] == "dns" and names[DNS_NAME]["address"] == "127.0.1.53:5353"
    assert names[SMTP_NAME]["address"] == "127.0.1.25:2525"
    assert names[PORTAL.name] == {
        "name": PORTAL.name,
        "kind": "http",
        "group": "website",
        "title": PORTAL.title,
        "address": "http://127.0.1.1:8080/",
        "fault": None,
        "modes": [
            "503", "slow", "deface", "banner-gone", "down", "inject-links", "inject-script",
            "cloak",
        ],
    }  # fmt: skip
    async with http.post(f"{base}/lab/fail", json={"name": PORTAL.name, "mode": "503"}) as r:
        assert r.status == 200 and (await r.json())["fault"] == "503"
    assert (await get(http, lab, PORTAL.url))[0] == 503
    async with http.get(f"{base}/lab/targets") as response:
        listed = {t["name"]: t["fault"] for t in (await response.json())["targets"]}
    assert listed[PORTAL.name] == "503"
    for body, status in [
        ({"name": "nope", "mode": "503"}, 404),
        ({"name": PORTAL.name, "mode": "loss"}, 400),
        ({"name": PORTAL.name}, 400),
    ]:
        async with http.post(f"{base}/lab/fail", json=body) as r:
            assert r.status == status and "error" in await r.json()
    async with http.post(f"{base}/lab/fail", data=b'{"name": "x"}') as r:
        assert r.status == 415  # not application/json: no cross-origin form posts
    headers = {"Content-Type": "application/json"}
    async with http.post(f"{base}/lab/fail", data=b"not json", headers=headers) as r:
        assert r.status == 400
    async with http.post(f"{base}/lab/heal", json={"name": PORTAL.name}) as r:
        assert r.status == 200 and (await r.json())["fault"] is None
    assert (await get(http, lab, PORTAL.url))[0] == 200
    await lab.fail(PLAIN.name, "deface")
    async with http.post(f"{base}/lab/heal", json={"name": "*"}) as r:
        assert (await r.json())["healed"] == [PLAIN.name]


async def test_cli_against_in_process_lab(
    make_lab: LabFactory, http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = await make_lab()
    assert lab.control is not None
    control = f"{lab.control[0]}:{lab.control[1]}"

    async def cli(*args: str) -> int:
        return await asyncio.to_thread(main, [*args, "--control", control])

    assert await cli("fail", PORTAL.name, "--mode", "deface") == 0
    assert capsys.readouterr().out == f"{PORTAL.name}: deface\n"
    assert "Hacked by" in (await get(http, lab, PORTAL.url))[1]
    assert await cli("list") == 0
    out = capsys.readouterr().out
    assert re.search(
        rf"^{PORTAL.name}\s+http\s+website\s+http://127.0.1.1:8080/\s+deface", out, re.M
    )
    assert re.search(r"^venue-core-switch\s+icmp\s+venue\s+127.0.2.21\s+-\s+down,loss$", out, re.M)
    assert await cli("list", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["targets"]) == len(lab.targets())
    assert await cli("heal", PORTAL.name) == 0
    assert capsys.readouterr().out == f"{PORTAL.name}: ok\n"
    assert BANNER in (await get(http, lab, PORTAL.url))[1]

    assert await cli("fail", "nope", "--mode", "503") == 2
    assert "no lab target is named 'nope'" in capsys.readouterr().err
    assert await cli("fail", PORTAL.name, "--mode", "loss") == 2
    assert "does not apply" in capsys.readouterr().err
    assert await cli("heal") == 2
    assert await cli("fail", PORTAL.name) == 2  # --mode is required
    capsys.readouterr()
    unused = f"127.0.0.1:{free_port()}"
    assert await asyncio.to_thread(main, ["list", "--control", unused]) == 1
    assert "not reachable" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["list", "--control", "10.0.0.1:9190"]) == 2


def nft_tables() -> str:
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout


async def ping(address: str, count: int, interval_ms: int = 100) -> int:
    """Echo replies received from ``address`` (fping, or ping when fping is missing)."""
    if shutil.which("fping"):
        args = ["fping", "-c", str(count), "-p", str(interval_ms), "-t", "500", "-q", address]
    else:
        args = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval_ms / 1000), "-W", "1"]
        args.append(address)
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    text = (out + err).decode()
    found = re.search(r"xmt/rcv/%loss = \d+/(\d+)/", text) or re.search(
        r"(\d+) (?:packets )?received", text
    )
    assert found, text
    return int(found.group(1))


needs_nft_and_ping = pytest.mark.skipif(
    IcmpFaults.unavailable_reason() is not None
    or not (shutil.which("fping") or shutil.which("ping")),
    reason="ICMP faults need root, nft, and fping or ping",
)


@root_only
@needs_nft_and_ping
async def test_icmp_faults_drop_pings_and_the_table_goes_with_the_lab(
    make_lab: LabFactory,
) -> None:
    switch = next(h for h in ICMP_HOSTS if h.name == "venue-core-switch")
    firewall = next(h for h in ICMP_HOSTS if h.name == "venue-firewall")
    lab = await make_lab()
    assert TABLE not in nft_tables()  # created lazily
    assert await ping(switch.host, 3) == 3

    await lab.fail(switch.name, "down")
    assert f"inet {TABLE}" in nft_tables()
    assert await ping(switch.host, 3) == 0
    assert await ping(firewall.host, 3) == 3  # only that address

    await lab.fail(firewall.name, "loss")
    received = await ping(firewall.host, 300, interval_ms=2)
    assert 300 * 0.45 < received < 300 * 0.9  # about 30 % lost

    await lab.heal(switch.name)
    assert await ping(switch.host, 3) == 3
    assert f"inet {TABLE}" in nft_tables()  # the firewall's loss is still there
    await lab.heal(firewall.name)
    assert TABLE not in nft_tables()  # the last fault healed: the table is gone

    await lab.fail(switch.name, "loss")
    await lab.close()
    assert TABLE not in nft_tables()
    assert await ping(switch.host, 3) == 3


@root_only
@needs_nft_and_ping
async def test_lab_removes_a_table_left_by_a_killed_lab(make_lab: LabFactory) -> None:
    stale = IcmpFaults(TABLE)
    await stale.set("venue-core-switch", "127.0.2.21", "down")  # and never cleared
    assert TABLE in nft_tables()
    await make_lab()
    assert TABLE not in nft_tables()
    assert await ping("127.0.2.21", 3) == 3


@pytest.mark.skipif(IcmpFaults.unavailable_reason() is None, reason="runs where nft cannot")
async def test_icmp_faults_refused_clearly_without_root(make_lab: LabFactory) -> None:
    lab = await make_lab()
    with pytest.raises(FaultUnavailable, match=r"root|nft"):
        await lab.fail("venue-core-switch", "down")


async def test_serve_in_a_subprocess_until_sigterm(tmp_path: Path) -> None:
    control = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "lab.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.lab.cli", "serve",
        "--state-dir", str(tmp_path / "lab"), "--control", control,
        stdout=asyncio.subprocess.PIPE, stderr=log, cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line == (
            f"netmon lab ready: {len(SITES)} websites, {len(ICMP_HOSTS)} icmp hosts, "
            f"dns 127.0.1.53:5353, control http://{control}\n"
        )
        assert (tmp_path / "lab" / "ca.pem").is_file()

        async def cli(*args: str) -> int:
            return await asyncio.to_thread(main, [*args, "--control", control])

        assert await cli("fail", "bao-dak-lak", "--mode", "503") == 0
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.get("http://127.0.1.2:8080/") as response,
        ):
            assert response.status == 503
        if IcmpFaults.unavailable_reason() is None:
            assert await cli("fail", "radio-ea-kao", "--mode", "loss") == 0
            assert f"inet {TABLE}" in nft_tables()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
    if IcmpFaults.unavailable_reason() is None:
        assert TABLE not in nft_tables()
    log_text = (tmp_path / "lab.log").read_text()
    assert "lab fault: bao-dak-lak 503" in log_text
    assert "Traceback" not in log_text


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fail", "x"]) == 2
    assert main(["serve", "--control", "8.8.8.8:53"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "fail" in capsys.readouterr().out


def test_exported_names() -> None:
    assert set(monitor.lab.__all__) == {
        "BANNER", "ICMP_HOSTS", "SITES", "FaultUnavailable", "IcmpHost", "Lab", "LabError",
        "LabTarget", "ModeNotApplicable", "Site", "UnknownTarget", "run_lab",
    }  # fmt: skip


async def test_run_lab_sets_ready_and_closes_on_cancel(tmp_path: Path) -> None:
    ready = asyncio.Event()
    task = asyncio.create_task(
        monitor.lab.run_lab(tmp_path / "lab", f"127.0.0.1:{free_port()}", ready)
    )
    await asyncio.wait_for(ready.wait(), 10)
    assert (await smtp_greeting()).startswith(b"220 ")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ConnectionRefusedError):
        await smtp_greeting()


# --------------------------------------------------------------------------- settings files


def in_loopback(target_address: str) -> bool:
    host = urlsplit(target_address).hostname if "://" in target_address else target_address
    assert host is not None
    return ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")


def test_shipped_settings_watch_the_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # http.ca_file must exist at load: the lab writes it when it starts.
    monkeypatch.chdir(tmp_path)
    load_or_create_ca(tmp_path / "var" / "lab")
    settings = load_settings(REPO / "settings.toml")
    assert settings.server.listen == "127.0.0.1:9108"
    assert settings.server.timezone == "Asia/Ho_Chi_Minh" and settings.server.language == "vi"
    assert settings.defaults.interval == 15 and settings.defaults.timeout == 5
    phases = {p.name: p for p in settings.phases}
    assert {"dot-1-dai-hoi-cap-huyen", "dai-hoi-tinh", "dai-hoi-toan-quoc"} <= set(phases)
    assert phases["dai-hoi-tinh"].interval == 5
    assert set(phases["dai-hoi-tinh"].groups) == {"venue", "carrier"}

    targets = {t.name: t for t in settings.targets}
    for target in settings.targets:
        assert in_loopback(target.address), target.name
    assert {t.group for t in settings.targets} >= {
        "carrier", "venue", "website", "grassroots", "datacenter"
    }  # fmt: skip
    assert {t.name for t in settings.targets if t.kind == "snmp"} == {d.name for d in SNMP_DEVICES}

    # Every lab target is watched, by the same name, at the lab's address.
    for site in SITES:
        target = targets[site.name]
        assert target.kind == "http" and target.url == site.url
        assert target.http is not None
        assert {"hacked", "Hacked by"} <= set(target.http.body_absent)
        assert (BANNER in target.http.body_contains) == site.banner
        if site.tls:
            assert target.http.ca_file == "var/lab/ca.pem"
    for host in ICMP_HOSTS:
        target = targets[host.name]
        assert target.kind == "icmp" and target.host == host.host
        assert target.labels == host.labels
        assert tuple(target.depends_on) == host.depends_on
    assert len([t for t in settings.targets if t.kind == "icmp"]) >= 20
    venue = [t for t in settings.targets if t.group == "venue" and t.name != "venue-core-switch"]
    assert venue and all(t.depends_on == ["venue-core-switch"] for t in venue)
    carriers = [t for t in settings.targets if t.group == "carrier"]
    assert all(not t.depends_on and t.labels["carrier"] for t in carriers)
    assert {t.labels["carrier"] for t in carriers} == {"vnpt", "viettel", "mobifone", "fpt"}
    assert {t.labels.get("site") for t in carriers} == {"hoi-truong-tinh", "trung-tam-du-lieu"}

    dns_target = targets[DNS_NAME]
    assert dns_target.host == DNS_HOST and dns_target.dns is not None
    assert dns_target.dns.port == DNS_PORT and dns_target.dns.expect == ["127.0.1.1"]
    smtp_target = targets[SMTP_NAME]
    assert smtp_target.host == SMTP_HOST and smtp_target.tcp is not None
    assert smtp_target.tcp.port == SMTP_PORT and smtp_target.tcp.expect_banner == "220"


EXAMPLE_ENV = {
    "NETMON_SNMP_COMMUNITY": "lab-community",
    "NETMON_V3_AUTH": "lab-auth-key-123",
    "NETMON_V3_PRIV": "lab-priv-key-456",
    "NETMON_SIP_HOTLINE_PASSWORD": "lab-sip-password-789",
}
DOCUMENTATION = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]


def test_example_inventory_loads_with_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    path = REPO / "examples" / "daklak.toml"
    for var in EXAMPLE_ENV:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SettingsError, match="NETMON_SNMP_COMMUNITY is not set"):
        load_settings(path)
    for var, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(var, value)
    settings = load_settings(path)
    kinds = {t.kind for t in settings.targets}
    assert kinds == {"http", "dns", "tcp", "icmp", "snmp", "sip", "stream", "web"}
    assert {t.labels.get("carrier") for t in settings.targets} >= {
        "vnpt", "viettel", "mobifone", "fpt"
    }  # fmt: skip
    assert len(settings.phases) >= 5
    text = path.read_text(encoding="utf-8")
    assert settings.server.listen == "127.0.0.1:9108"  # netmon's own port, not a target
    own = ('listen = "127.0.0.1:9108"', 'trusted_proxies = ["127.0.0.1", "::1"]')  # not targets
    assert "127." not in text.replace(own[0], "").replace(own[1], "")
    for value in EXAMPLE_ENV.values():
        assert value not in text
    for target in settings.targets:
        host = urlsplit(target.url).hostname if target.url else target.host
        assert host is not None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            assert host.endswith((".gov.vn", ".vn")), host  # the public sites' names
            continue
        assert any(address in net for net in DOCUMENTATION), (target.name, host)
