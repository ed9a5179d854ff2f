"""The label-enforcing Prometheus proxy without Prometheus: the rewriting, and the HTTP layer
against a fake upstream that records what it is sent.

The real Prometheus with real data for several carriers is in test_prometheus_live.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import promql_parser as pp
import pytest
from aiohttp import web
from multidict import MultiDict

from monitor.config import Settings
from monitor.config.access import Principal, token_digest
from monitor.web.access import Access
from monitor.web.promproxy import (
    MAX_QUERY,
    Refused,
    add_routes,
    enforce_params,
    enforce_query,
    enforce_selector,
    scope_matchers,
)
from tests.support.common import free_port

VIETTEL = [("carrier", "=", "viettel")]
TWO = [("carrier", "=~", "fpt|mobifone"), ("group", "=", "carrier")]


def _selectors(text: str) -> list[pp.VectorSelector]:
    found: list[pp.VectorSelector] = []

    def visit(node: pp.Expr) -> bool:
        if isinstance(node, pp.VectorSelector):
            found.append(node)
        return True

    pp.walk(pp.parse(text), pre_visit=visit)
    return found


def _scoped(selector: pp.VectorSelector, matchers: list[tuple[str, str, str]]) -> bool:
    ops = {"=": pp.MatchOp.Equal, "=~": pp.MatchOp.Re}
    have = selector.matchers.matchers
    return all(
        any(m.name == n and m.op == ops[o] and m.value == v for m in have) for n, o, v in matchers
    )


QUERIES = [
    "probe_success",
    'probe_success{carrier="vnpt"}',
    'probe_success{carrier!="viettel"}',
    'probe_success{carrier=~".*"}',
    '{__name__=~".+"}',
    '{__name__="probe_success"}',
    'probe_success or probe_success{carrier="vnpt"}',
    'probe_success unless probe_success{carrier="viettel"}',
    'label_replace(probe_success, "carrier", "viettel", "carrier", ".*")',
    "count by (carrier) (probe_success)",
    'absent(probe_success{carrier="vnpt"})',
    "absent_over_time(nonexistent[5m])",
    "max_over_time((probe_success == 1)[5m:30s])",
    "max_over_time(probe_success[5m:] offset 1m @ start())",
    "rate(ifHCInOctets[5m] offset -1m)",
    "probe_success @ 1700000000 offset 5m",
    "topk(scalar(count(probe_success)), probe_icmp_rtt_seconds)",
    "quantile(scalar(min(probe_success)), probe_duration_seconds)",
    'count_values("v", probe_success)',
    "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    "probe_success + on() group_left() count(probe_success)",
    "-probe_success",
    "sort_desc(sum without (location) (rate(netmon_probes_total[1m])))",
    'probe_success{target="a\\"b\\\\c"}',
    "probe_success # a comment\n + 0",
    "vector(1)",
    "1 + 1",
    "time()",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("matchers", [VIETTEL, TWO], ids=["one", "two"])
def test_every_selector_gets_the_scope(query: str, matchers: list[tuple[str, str, str]]) -> None:
    scoped = enforce_query(query, matchers)
    before = _selectors(query)
    after = _selectors(scoped)
    assert len(after) == len(before)
    assert all(_scoped(s, matchers) for s in after), scoped
    # What the query says besides the scope is kept.
    for old, new in zip(before, after, strict=True):
        assert old.name == new.name
        kept = {(m.name, str(m.op), m.value) for m in new.matchers.matchers}
        assert {(m.name, str(m.op), m.value) for m in old.matchers.matchers} <= kept
        assert old.offset == new.offset


def test_rewritten_text() -> None:
    assert enforce_query("probe_success", VIETTEL) == 'probe_success{carrier="viettel"}'
    assert (
        enforce_query('rate(foo{a="b"}[5m:30s] offset 1m)', VIETTEL)
        == 'rate(foo{a="b",carrier="viettel"}[5m:30s] offset 1m)'
    )
    assert (
        enforce_query('{__name__=~".+"}', TWO)
        == '{__name__=~".+",carrier=~"fpt|mobifone",group="carrier"}'
    )
    assert enforce_selector('probe_success{carrier="vnpt"}', VIETTEL) == (
        'probe_success{carrier="viettel",carrier="vnpt"}'
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('foo{a="b" or carrier="vnpt"}', "`or` between matchers"),
        ("sum(", "cannot parse the query"),
        ("", "cannot parse the query"),
        ("x" * (MAX_QUERY + 1), "longer than"),
        ("holt_winters(foo[5m], 0.5, 0.5)", "cannot parse"),  # unknown here: refused, not passed
    ],
)
def test_what_cannot_be_scoped_is_refused(query: str, message: str) -> None:
    with pytest.raises(Refused, match=message) as info:
        enforce_query(query, VIETTEL)
    assert info.value.status == 400


@pytest.mark.parametrize("selector", ["rate(x[5m])", "up or down", "sum(up)", "1", '"x"'])
def test_match_must_be_a_selector(selector: str) -> None:
    with pytest.raises(Refused, match="match\\[\\] must be a series selector"):
        enforce_selector(selector, VIETTEL)


def test_scope_matchers() -> None:
    assert scope_matchers(Principal("v", "operator", {"carrier": ("viettel",)})) == VIETTEL
    two = Principal("x", "operator", {"group": ("carrier",), "carrier": ("mobifone", "fpt")})
    assert scope_matchers(two) == TWO
    dotted = Principal("d", "operator", {"site": ("a.b", "c+d")})
    assert scope_matchers(dotted) == [("site", "=~", "a\\.b|c\\+d")]
    # An empty value would match every series without the label: refused, not enforced.
    for scope in ({"carrier": ("",)}, {"carrier": ("viettel", "")}, {"bad-name": ("x",)}, {}):
        with pytest.raises(Refused) as info:
            scope_matchers(Principal("e", "operator", scope))
        assert info.value.status == 403


def test_params_are_whitelisted() -> None:
    params = MultiDict(
        [("query", "up"), ("time", "1"), ("stats", "all"), ("lookback_delta", "1y"), ("x", "y")]
    )
    out = enforce_params("query", params, VIETTEL)
    assert list(out.items()) == [("query", 'up{carrier="viettel"}'), ("time", "1")]
    with pytest.raises(Refused, match="more than once"):
        enforce_params("query", MultiDict([("query", "up"), ("query", "down")]), VIETTEL)
    with pytest.raises(Refused, match="more than once"):
        enforce_params(
            "query_range", MultiDict([("query", "up"), ("step", "1"), ("step", "2")]), VIETTEL
        )
    with pytest.raises(Refused, match="query is missing"):
        enforce_params("query_range", MultiDict([("start", "1")]), VIETTEL)
    with pytest.raises(Refused, match="at least one match"):
        enforce_params("series", MultiDict([("start", "1")]), VIETTEL)
    labels = enforce_params("labels", MultiDict([("start", "1")]), TWO)
    assert labels.getall("match[]") == ['{carrier=~"fpt|mobifone",group="carrier"}']
    values = enforce_params("values", MultiDict([("match[]", "up"), ("match[]", "down")]), VIETTEL)
    assert values.getall("match[]") == ['up{carrier="viettel"}', 'down{carrier="viettel"}']


# --------------------------------------------------------------------------- HTTP


TOKENS = {"viettel": "tok-viettel", "noc": "tok-noc", "empty": "tok-empty", "wall": "tok-wall"}


def _settings(upstream: str) -> Settings:
    return Settings.model_validate(
        {
            "prometheus": {"url": upstream},
            "access": {
                "tokens": [
                    {
                        "name": "viettel",
                        "role": "operator",
                        "scope": {"carrier": "viettel"},
                        "sha256": token_digest(TOKENS["viettel"]),
                    },
                    {"name": "noc", "role": "noc", "sha256": token_digest(TOKENS["noc"])},
                    {"name": "wall", "role": "wall", "sha256": token_digest(TOKENS["wall"])},
                    {
                        "name": "empty",
                        "role": "operator",
                        "scope": {"carrier": ""},
                        "sha256": token_digest(TOKENS["empty"]),
                    },
                ]
            },
        }
    )


class Upstream:
    """A fake Prometheus that records every request and answers a canned body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, list[tuple[str, str]], dict[str, str]]] = []
        self.answer: dict[str, Any] = {"status": "success", "data": []}

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else {}
        params = [(k, str(v)) for k, v in request.query.items()]
        params += [(k, str(v)) for k, v in form.items()]
        self.seen.append((request.method, request.path, params, dict(request.headers)))
        return web.json_response(self.answer)


Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@pytest.fixture
async def proxied(serve: Serve) -> AsyncIterator[tuple[Upstream, str, aiohttp.ClientSession]]:
    upstream = Upstream()
    fake = web.Application()
    fake.router.add_route("*", "/{tail:.*}", upstream.handle)
    upstream_url = await serve(fake)
    settings = _settings(upstream_url)
    app = web.Application()
    add_routes(app, settings, Access(settings.access, max_delay=0.01))
    base = await serve(app)
    async with aiohttp.ClientSession() as http:
        yield upstream, base + "/prometheus/api/v1", http


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


async def test_operator_query_is_rewritten_and_the_token_not_forwarded(
    proxied: tuple[Upstream, str, aiohttp.ClientSession],
) -> None:
    upstream, base, http = proxied
    async with http.post(
        f"{base}/query_range",
        data={
            "query": 'sum(rate(ifHCInOctets{carrier="vnpt"}[5m]))',
            "start": "1",
            "end": "2",
            "step": "1",
            "stats": "all",
        },
        headers=_auth("viettel"),
    ) as resp:
        assert resp.status == 200
    method, path, params, headers = upstream.seen[-1]
    assert (method, path) == ("POST", "/api/v1/query_range")
    assert dict(params) == {
        "query": 'sum(rate(ifHCInOctets{carrier="viettel",carrier="vnpt"}[5m]))',
        "start": "1",
        "end": "2",
        "step": "1",
    }
    assert "Authorization" not in headers
    # GET works too, and label values go upstream as GET (Prometheus takes nothing else).
    async with http.get(
        f"{base}/label/target/values", params={"start": "1"}, headers=_auth("viettel")
    ) as resp:
        assert resp.status == 200
    method, path, params, _ = upstream.seen[-1]
    assert (method, path) == ("GET", "/api/v1/label/target/values")
    assert sorted(params) == [("match[]", '{carrier="viettel"}'), ("start", "1")]


async def test_noc_passes_through_unchanged(
    proxied: tuple[Upstream, str, aiohttp.ClientSession],
) -> None:
    upstream, base, http = proxied
    async with http.get(
        f"{base}/query", params={"query": "up", "stats": "all"}, headers=_auth("noc")
    ) as resp:
        assert resp.status == 200
    assert sorted(upstream.seen[-1][2]) == [("query", "up"), ("stats", "all")]


async def test_refusals(proxied: tuple[Upstream, str, aiohttp.ClientSession]) -> None:
    upstream, base, http = proxied
    cases: list[tuple[str, dict[str, str], dict[str, str], int, str]] = [
        ("query", {"query": "up"}, {}, 401, "unauthorized"),
        ("query", {"query": "up"}, {"Authorization": "Bearer nope"}, 401, "unauthorized"),
        ("query", {"query": "up"}, {"Authorization": "Basic eDp5"}, 401, "unauthorized"),
        ("query", {"query": "sum("}, _auth("viettel"), 400, "bad_data"),
        ("query", {"query": 'up{a="b" or c="d"}'}, _auth("viettel"), 400, "bad_data"),
        ("series", {"match[]": "rate(up[5m])"}, _auth("viettel"), 400, "bad_data"),
        ("query", {"query": "up"}, _auth("empty"), 403, "forbidden"),
        ("query", {"query": "up"}, _auth("wall"), 403, "forbidden"),  # the pages, no metric
        ("label/bad-name/values", {}, _auth("noc"), 400, "bad_data"),
    ]
    for endpoint, params, headers, status, error_type in cases:
        async with http.get(f"{base}/{endpoint}", params=params, headers=headers) as resp:
            body = await resp.json()
            assert (resp.status, body["errorType"]) == (status, error_type), (endpoint, params)
            if status == 401:
                assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert upstream.seen == []  # nothing refused reached Prometheus


async def test_series_answer_is_filtered(
    proxied: tuple[Upstream, str, aiohttp.ClientSession],
) -> None:
    """Second line of defence: a series outside the scope in the answer is dropped."""
    upstream, base, http = proxied
    upstream.answer = {
        "status": "success",
        "data": [
            {"__name__": "probe_success", "carrier": "viettel", "target": "a"},
            {"__name__": "probe_success", "carrier": "vnpt", "target": "b"},
            {"__name__": "up", "job": "netmon"},
        ],
    }
    async with http.get(
        f"{base}/series", params={"match[]": "probe_success"}, headers=_auth("viettel")
    ) as resp:
        body = json.loads(await resp.read())
    assert body["data"] == [{"__name__": "probe_success", "carrier": "viettel", "target": "a"}]
    upstream.answer = {"status": "success", "data": "garbage"}
    async with http.get(
        f"{base}/series", params={"match[]": "probe_success"}, headers=_auth("viettel")
    ) as resp:
        assert resp.status == 502


async def test_upstream_down(serve: Serve) -> None:
    settings = _settings(f"http://127.0.0.1:{free_port()}")
    app = web.Application()
    add_routes(app, settings, Access(settings.access))
    base = await serve(app)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base}/prometheus/api/v1/query", params={"query": "up"}, headers=_auth("noc")
        ) as resp,
    ):
        assert resp.status == 502
        assert (await resp.json())["errorType"] == "unavailable"


async def test_a_reload_is_followed(serve: Serve) -> None:
    upstreams = [Upstream(), Upstream()]
    urls = []
    for upstream in upstreams:
        fake = web.Application()
        fake.router.add_route("*", "/{tail:.*}", upstream.handle)
        urls.append(await serve(fake))
    first = _settings(urls[0])
    second = Settings.model_validate(
        {
            "prometheus": {"url": urls[1]},
            "access": {
                "tokens": [{"name": "noc2", "role": "noc", "sha256": token_digest("tok-noc2")}]
            },
        }
    )
    now = {"settings": first}
    app = web.Application()
    add_routes(app, first, Access(first.access), current=lambda: now["settings"])
    base = await serve(app) + "/prometheus/api/v1/query"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params={"query": "up"}, headers=_auth("noc")) as resp:
            assert resp.status == 200
        now["settings"] = second  # a reload: new Prometheus, new tokens
        async with http.get(base, params={"query": "up"}, headers=_auth("noc")) as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bearer tok-noc2"}
        async with http.get(base, params={"query": "up"}, headers=headers) as resp:
            assert resp.status == 200
    assert [len(u.seen) for u in upstreams] == [1, 1]
