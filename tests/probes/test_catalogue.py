"""The metric catalogue (probes/catalogue.py) against what the probes emit and what reads it.

Each probe runs against real servers on loopback (as the probes' own tests run them): every
sample it emits must be declared in its kind's ``FAMILIES`` with exactly its labels, in order,
and every family declared must be emitted by some run, so the list cannot rot either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from alerts.rules import compile_rules
from alerts.settings import AlertsSettings
from monitor.config import Target
from monitor.lab.dns import start_dns_server
from monitor.lab.inventory import SNMP_COMMUNITY, SNMP_DEVICES
from monitor.lab.snmp import LabAgent
from probes import PROBES
from probes.base import Family, ProbeResult, Sample
from probes.catalogue import BY_NAME, CATALOGUE, SCHEDULER
from probes.context import ProbeContext

HOST = "127.0.0.1"
BANNER = "Chào mừng Đại hội đại biểu Đảng bộ tỉnh Đắk Lắk"
ROUTER = next(d for d in SNMP_DEVICES if d.name == "vnpt-edge-router")  # it has a BGP peer
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Every series carries these (monitor.runtime.metrics.target_labels); a family must not.
TARGET_LABELS = {"target", "kind", "group"}


def families_of(kind: str) -> tuple[Family, ...]:
    """The kind's ``FAMILIES``, from the module its probe lives in."""
    families: tuple[Family, ...] = importlib.import_module(PROBES[kind].__module__).FAMILIES
    return families


def undeclared(families: Iterable[Family], samples: Iterable[Sample]) -> list[str]:
    """Each sample not declared in ``families`` with exactly its label names, said once."""
    declared = {f.name: f.labels for f in families}
    problems: set[str] = set()
    for sample in samples:
        labels = tuple(name for name, _ in sample.labels)
        if sample.name not in declared:
            problems.add(f"{sample.name}{labels} is not declared")
        elif labels != declared[sample.name]:
            problems.add(f"{sample.name}{labels}: declared with {declared[sample.name]}")
    return sorted(problems)


# --------------------------------------------------------------------------- the list itself


def test_catalogue_is_the_kinds_families_and_the_schedulers_once_each() -> None:
    names = [f.name for f in CATALOGUE]
    assert len(names) == len(set(names))
    assert set(BY_NAME) == set(names)
    per_kind = {kind: families_of(kind) for kind in PROBES}
    for kind, families in per_kind.items():
        assert len(families) == len(set(families)), kind
        assert families, kind
    used = set(SCHEDULER).union(*per_kind.values())
    assert used == set(CATALOGUE), {f.name for f in set(CATALOGUE) ^ used}


def test_every_family_is_well_formed() -> None:
    for family in CATALOGUE:
        assert METRIC_NAME.fullmatch(family.name), family.name
        assert family.type in {"gauge", "counter"}, family
        # One line of HELP text: no newline, no trailing space.
        assert family.help and family.help == family.help.strip(), family
        assert "\n" not in family.help, family
        assert all(LABEL_NAME.fullmatch(label) for label in family.labels), family
        assert len(set(family.labels)) == len(family.labels), family
        assert not TARGET_LABELS & set(family.labels), family


def test_the_check_sees_an_undeclared_family_and_wrong_labels() -> None:
    families = (Family("probe_x", "gauge", "x", ("stat",)),)
    assert not undeclared(families, [Sample("probe_x", 1.0, (("stat", "min"),))])
    assert undeclared(families, [Sample("probe_y", 1.0)]) == ["probe_y() is not declared"]
    assert undeclared(families, [Sample("probe_x", 1.0)]) == ["probe_x(): declared with ('stat',)"]
    assert undeclared(families, [Sample("probe_x", 1.0, (("stat", "a"), ("peer", "b")))])


def test_shipped_rules_read_declared_families_and_labels() -> None:
    """The rule engine sees the probes' samples and the scheduler's, nothing else."""
    rules = compile_rules(AlertsSettings())
    assert len(rules) > 10
    read = 0
    for rule in rules:
        for condition in (rule.condition, rule.unless):
            if condition is None or condition.selector is None:
                continue
            selector = condition.selector
            assert selector.name in BY_NAME, (rule.name, selector.name)
            assert selector.label_names <= set(BY_NAME[selector.name].labels), rule.name
            read += 1
    assert read > 10


# --------------------------------------------------------------------------- what probes emit


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext()
    yield context
    await context.aclose()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    return context


def target(kind: str, **fields: Any) -> Target:
    return Target.model_validate({"name": f"{kind}-catalogue", "kind": kind, **fields})


async def run(t: Target, ctx: ProbeContext) -> ProbeResult:
    async with asyncio.timeout(10):
        return await PROBES[t.kind](t, ctx)


def check(kind: str, results: list[ProbeResult]) -> None:
    samples = [s for r in results for s in r.samples]
    families = families_of(kind)
    assert undeclared(families, samples) == []
    # Every family of the kind came out of some run: none is declared for nothing.
    assert {f.name for f in families} == {s.name for s in samples}


async def test_icmp_samples_are_declared(ctx: ProbeContext) -> None:
    result = await run(target("icmp", host=HOST, icmp={"count": 3, "spacing": "10ms"}), ctx)
    if result.reason == "icmp_not_permitted":
        pytest.skip("needs root or ping sockets (net.ipv4.ping_group_range)")
    assert result.success, result.detail
    check("icmp", [result])


async def test_path_samples_are_declared(ctx: ProbeContext) -> None:
    result = await run(target("path", host=HOST, path={"wait": "300ms"}), ctx)
    if result.reason == "icmp_not_permitted":
        pytest.skip("needs root or ping sockets (net.ipv4.ping_group_range)")
    assert result.success, result.detail
    check("path", [result])


async def test_http_samples_are_declared(ctx: ProbeContext, ca: trustme.CA, ca_file: str) -> None:
    async def page(request: web.Request) -> web.Response:
        modified = {"Last-Modified": "Tue, 08 Dec 2026 01:02:03 GMT"}
        return web.Response(text=f"<h1>{BANNER}</h1>", content_type="text/html", headers=modified)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, 0, ssl_context=server_context(ca))
        await site.start()
        port = runner.addresses[0][1]
        http = {"ca_file": ca_file, "body_contains": [BANNER], "body_absent": ["hacked by"]}
        result = await run(target("http", url=f"https://{HOST}:{port}/", http=http), ctx)
        http = {"ca_file": ca_file, "body_json": [{"path": "status", "equals": "ok"}]}
        health = await run(target("http", url=f"https://{HOST}:{port}/health", http=http), ctx)
    finally:
        await runner.cleanup()
    assert result.success, result.detail
    assert health.success, health.detail
    check("http", [result, health])


async def test_dns_samples_are_declared(ctx: ProbeContext) -> None:
    zone = {
        ("daklak.lab.", "A"): ["127.0.1.1"],
        ("daklak.lab.", "SOA"): ["ns.daklak.lab. noc.daklak.lab. 2025101401 3600 600 86400 60"],
    }
    server = await start_dns_server(HOST, 0, zone)
    try:
        dns = {"port": server.port, "query": "daklak.lab", "expect": ["127.0.1.1"]}
        result = await run(target("dns", host=HOST, dns=dns), ctx)
        # SOA with a secondary (the same server: in step): the serial families
        soa = {"port": server.port, "query": "daklak.lab", "type": "SOA", "secondaries": [HOST]}
        serials = await run(target("dns", host=HOST, dns=soa), ctx)
    finally:
        await server.close()
    assert result.success, result.detail
    assert serials.success, serials.detail
    check("dns", [result, serials])


async def test_tcp_samples_are_declared(ctx: ProbeContext, ca: trustme.CA, ca_file: str) -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.daklak.lab ESMTP\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, HOST, 0, ssl=server_context(ca))
    try:
        port = server.sockets[0].getsockname()[1]
        tcp = {"port": port, "tls": True, "ca_file": ca_file, "expect_banner": "220"}
        result = await run(target("tcp", host=HOST, tcp=tcp), ctx)
    finally:
        server.close()
        await server.wait_closed()
    plain = await asyncio.start_server(greet, HOST, 0)
    try:
        port = plain.sockets[0].getsockname()[1]
        step = {"expect": "^220 (\\S+)", "labels": {"server": "${1}"}}
        tcp = {"port": port, "query_response": [step]}
        talked = await run(target("tcp", host=HOST, tcp=tcp), ctx)
    finally:
        plain.close()
        await plain.wait_closed()
    assert result.success, result.detail
    assert talked.success, talked.detail
    check("tcp", [result, talked])


async def test_snmp_samples_are_declared(ctx: ProbeContext) -> None:
    """A router with a BGP peer and an extra OID, polled twice (utilization), then after a
    restart (the restart's timestamp); and one with 32-bit counters only (ifInOctets)."""
    results: list[ProbeResult] = []
    agents = [
        LabAgent(dataclasses.replace(ROUTER, host=HOST, port=0), trap_address=None),
        LabAgent(
            dataclasses.replace(ROUTER, host=HOST, port=0),
            trap_address=None,
            counter32_only=True,
        ),
    ]
    try:
        for agent in agents:
            await agent.start()
        router, counter32 = (
            target(
                "snmp",
                name=f"snmp-catalogue-{n}",
                host=HOST,
                timeout="3s",
                snmp={
                    "port": agent.address[1],
                    "community": SNMP_COMMUNITY,
                    "timeout": "300ms",
                    "retries": 0,
                    "bgp": True,
                    "oids": ["1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.1.5.0"],  # ifNumber, sysName
                },
            )
            for n, agent in enumerate(agents)
        )
        results.append(await run(router, ctx))
        await asyncio.sleep(0.3)
        results.append(await run(router, ctx))
        agents[0].reboot_now()
        results.append(await run(router, ctx))
        results.append(await run(counter32, ctx))
    finally:
        for agent in agents:
            await agent.close()
    assert all(r.success for r in results), [r.detail for r in results]
    check("snmp", results)
