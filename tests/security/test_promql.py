"""Issue 13, finding 1: one operator's query must not freeze netmon.

The PromQL proxy used to parse and walk an operator's query on the event loop, at a cost that
grows much faster than linearly with nesting: 400 nested unary minus signs blocked the loop 6 s.
Each reproduction below is sent through the proxy over HTTP while a ticker task on the same loop
measures the longest stall; the guards (a linear shape check before parsing, parsing in worker
processes with time and memory budgets, concurrency limits) are tested one by one after.
"""

from __future__ import annotations

import asyncio
import glob
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.config import Settings
from monitor.config.access import token_digest
from monitor.web.access import Access
from monitor.web.promproxy import (
    MAX_NESTING,
    MAX_PER_PRINCIPAL,
    MAX_STRUCTURE,
    PROXY,
    CheckPool,
    Refused,
    add_routes,
    check_shape,
    enforce_query,
)
from tests.support.common import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"viettel": "tok-viettel", "vnpt": "tok-vnpt", "noc": "tok-noc"}
STALL = 0.1  # seconds: the longest the loop may stall while a hostile query is handled

HOSTILE = {
    "400 unary minus": "-" * 400 + "up",
    "800 unary minus": "-" * 800 + "up",
    "10 KB of nested brackets": "(" * 5000 + "up" + ")" * 5000,
    "400 nested functions": "abs(" * 400 + "up" + ")" * 400,
    "400 chained additions": "+".join(["up"] * 400),
    "300 chained subqueries": "up" + "[1m:]" * 300,
    "unary minus inside brackets": "-(" * 200 + "up" + ")" * 200,
}


class Ticker:
    """Sleeps 5 ms at a time on the loop and keeps the longest gap: how long the loop stalled."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.005)
            last = now


@asynccontextmanager
async def ticking() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    await asyncio.sleep(0.02)
    try:
        yield ticker
    finally:
        task.cancel()


class Upstream:
    """A fake Prometheus: records the queries it is sent; holds answers while ``gate`` is shut."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.queries.append(str(form.get("query", request.query.get("query", ""))))
        self.waiting += 1
        self.arrived.set()
        await self.gate.wait()
        self.waiting -= 1
        return web.json_response({"status": "success", "data": []})


def _settings(upstream: str) -> Settings:
    tokens: list[dict[str, Any]] = [
        {
            "name": carrier,
            "role": "operator",
            "scope": {"carrier": carrier},
            "sha256": token_digest(TOKENS[carrier]),
        }
        for carrier in ("viettel", "vnpt")
    ]
    tokens.append({"name": "noc", "role": "noc", "sha256": token_digest(TOKENS["noc"])})
    return Settings.model_validate({"prometheus": {"url": upstream}, "access": {"tokens": tokens}})


Proxied = tuple[Upstream, web.Application, str, aiohttp.ClientSession]


async def _serve(app: web.Application, runners: list[web.AppRunner]) -> str:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    runners.append(runner)
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def proxied() -> AsyncIterator[Proxied]:
    upstream = Upstream()
    fake = web.Application()
    fake.router.add_route("*", "/{tail:.*}", upstream.handle)
    runners: list[web.AppRunner] = []
    try:
        settings = _settings(await _serve(fake, runners))
        app = web.Application()
        add_routes(app, settings, Access(settings.access, max_delay=0.01))
        base = await _serve(app, runners) + "/prometheus/api/v1"
        async with aiohttp.ClientSession() as http:
            yield upstream, app, base, http
    finally:
        upstream.gate.set()
        for runner in reversed(runners):
            await runner.cleanup()


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


async def _query(http: aiohttp.ClientSession, base: str, query: str, who: str) -> tuple[int, Any]:
    async with http.post(f"{base}/query", data={"query": query}, headers=_auth(who)) as resp:
        return resp.status, await resp.json()


# --------------------------------------------------------------------------- the reproductions


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_query_does_not_stall_the_loop(proxied: Proxied, query: str) -> None:
    upstream, _, base, http = proxied
    async with ticking() as ticker:
        status, body = await _query(http, base, query, "viettel")
    print(f"{len(query)} characters: the loop stalled at most {ticker.worst * 1000:.1f} ms")
    assert ticker.worst < STALL, f"the loop stalled {ticker.worst:.3f} s"
    assert (status, body["errorType"]) == (400, "bad_data")
    assert "the limit" in body["error"]
    assert upstream.queries == []


async def test_a_costly_query_within_the_bounds_is_checked_off_the_loop(
    proxied: Proxied,
) -> None:
    """The most a query may hold (operators up to the bound): checked in a worker, loop free."""
    upstream, _, base, http = proxied
    # 60 additions: about 0.2 s of walking (many more print longer than MAX_QUERY once scoped).
    query = "+".join(["up"] * 60)
    check_shape(query, "query")
    await _query(http, base, "up", "viettel")  # the worker's start is not what is measured
    async with ticking() as ticker:
        status, _ = await _query(http, base, query, "viettel")
    assert status == 200
    assert upstream.queries[-1] == enforce_query(query, [("carrier", "=", "viettel")])
    assert ticker.worst < STALL, f"the loop stalled {ticker.worst:.3f} s"


# --------------------------------------------------------------------------- the shape check


def test_the_shape_check_counts_what_nests() -> None:
    check_shape("(" * MAX_NESTING + "up" + ")" * MAX_NESTING, "query")
    with pytest.raises(Refused, match=f"deeper than {MAX_NESTING} brackets"):
        check_shape("(" * (MAX_NESTING + 1) + "up" + ")" * (MAX_NESTING + 1), "query")
    with pytest.raises(Refused, match=f"more than {MAX_STRUCTURE} operators"):
        check_shape("-" * (MAX_STRUCTURE + 1) + "up", "query")
    with pytest.raises(Refused, match=f"more than {MAX_STRUCTURE} operators"):
        check_shape(" or ".join(["up"] * (MAX_STRUCTURE + 2)), "query")
    # Brackets and operators in strings, comments and label matchers do not count.
    many = "(" * 200 + "-" * 200
    check_shape(f'up{{a="{many}", b=~"{many}", c!="x"}} # {many}\n', "query")
    check_shape(f"up{{a='{many}'}} + up{{b=`{many}`}}", "query")


# --------------------------------------------------------------------------- the worker budgets


def spin(seconds: float) -> str:
    """Busy for ``seconds`` (runs in a checking worker)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def hog(size: int) -> int:
    """Holds ``size`` bytes (runs in a checking worker)."""
    return len(bytearray(size))


async def test_a_check_that_overruns_its_time_is_killed() -> None:
    pool = CheckPool(workers=1, seconds=0.5)
    try:
        assert await pool.run(spin, 0.0) == "done"
        async with ticking() as ticker:
            with pytest.raises(Refused, match=r"more than 0\.5 s to check") as refused:
                await pool.run(spin, 60.0)
        assert refused.value.status == 400
        assert pool.killed == 1
        assert ticker.worst < STALL, f"the loop stalled {ticker.worst:.3f} s"
        assert await pool.run(spin, 0.0) == "done"  # a new worker took its place
    finally:
        await pool.close()


async def test_a_check_that_overruns_its_memory_is_refused() -> None:
    pool = CheckPool(workers=1, memory=64 * 1024 * 1024)
    try:
        assert await pool.run(hog, 16 * 1024 * 1024) == 16 * 1024 * 1024
        with pytest.raises(Refused, match="memory"):
            await pool.run(hog, 1024 * 1024 * 1024)
        assert await pool.run(hog, 1024) == 1024
    finally:
        await pool.close()


# --------------------------------------------------------------------------- real queries


def _dashboard_queries() -> Iterator[str]:
    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str) and value:
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for path in sorted(glob.glob(str(ROOT / "grafana/build/dashboards/*.json"))):
        yield from walk(json.loads(Path(path).read_text(encoding="utf-8")))


def _as_grafana_sends(expr: str) -> str:
    """Grafana replaces its interval variables before the query leaves it."""
    return re.sub(r"\$__(rate_interval|interval|range)", "5m", expr)


DASHBOARD_QUERIES = sorted({_as_grafana_sends(q) for q in _dashboard_queries()})


def test_there_are_dashboard_queries() -> None:
    assert len(DASHBOARD_QUERIES) > 20


async def test_dashboard_queries_pass_as_before(proxied: Proxied) -> None:
    upstream, _, base, http = proxied
    for query in DASHBOARD_QUERIES:
        status, body = await _query(http, base, query, "viettel")
        assert status == 200, (query, body)
        assert upstream.queries[-1] == enforce_query(query, [("carrier", "=", "viettel")])
        status, _ = await _query(http, base, query, "noc")
        assert status == 200
        assert upstream.queries[-1] == query


# --------------------------------------------------------------------------- concurrency limits


async def test_concurrent_queries_are_limited(proxied: Proxied) -> None:
    upstream, app, base, http = proxied
    upstream.gate.clear()
    held: list[asyncio.Task[tuple[int, Any]]] = []

    async def hold(who: str, count: int) -> None:
        target = upstream.waiting + count
        for _ in range(count):
            held.append(asyncio.create_task(_query(http, base, "up", who)))
        while upstream.waiting < target:
            upstream.arrived.clear()
            await upstream.arrived.wait()

    await hold("viettel", MAX_PER_PRINCIPAL)
    status, body = await _query(http, base, "up", "viettel")
    assert status == 429
    assert f"more than {MAX_PER_PRINCIPAL} queries at once from viettel" in body["error"]
    # Another principal is not held back by viettel's queries, up to the global limit.
    app[PROXY].max_in_flight = MAX_PER_PRINCIPAL + 2
    await hold("vnpt", 2)
    status, body = await _query(http, base, "up", "noc")
    assert status == 429
    assert "queries at once, the limit" in body["error"]
    upstream.gate.set()
    assert [(await task)[0] for task in held] == [200] * (MAX_PER_PRINCIPAL + 2)
    assert app[PROXY].in_flight == {}
    assert (await _query(http, base, "up", "viettel"))[0] == 200
