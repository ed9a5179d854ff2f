"""A label-enforcing Prometheus query proxy: operators query Prometheus, and see only their scope.

A Grafana OSS Viewer can send any query through any datasource of its organisation, so folder
permissions alone would show every carrier's data to every operator. Each operator's Grafana
datasource therefore points here, with the operator's netmon token; this proxy serves

    /prometheus/api/v1/query, query_range, series, labels, label/<name>/values  (GET and POST)

and, for a principal with role ``operator``, adds the matchers of its scope (``carrier="viettel"``;
several values become ``carrier=~"a|b"``) to every vector and matrix selector of the expression,
wherever it stands: inside functions, aggregations, binary operations, subqueries, ``absent``,
the parameter of ``topk`` ... Prometheus ANDs matchers on the same label, so no matcher of the
query (``or``, regex, negative, ``{__name__=~".+"}``) can widen the scope; everything a query
computes is computed from in-scope series only. The ``series`` endpoint gets every ``match[]``
scoped; ``labels`` and label values get theirs scoped, or one added.

How a query is made safe:

1. promql-parser parses it (refused when it does not parse, or uses what cannot be scoped:
   ``or`` between matchers inside one selector's braces);
2. every selector is replaced by itself plus the scope matchers, and the expression is printed
   back to PromQL: that text, never the original, is what Prometheus receives;
3. the printed text is parsed again, and every selector in it is checked to carry the scope
   matchers (the selectors are counted in the parser's own tree dump too, so a selector that
   the Python walk missed cannot slip through). Anything else is refused.

Before any of this, and on the event loop, one linear pass over the raw text refuses a query
that nests deeper than ``MAX_NESTING`` brackets or has more than ``MAX_STRUCTURE`` operators,
parentheses and square brackets in all (``check_shape``): the cost of parsing and walking grows
much faster than linearly with the depth of the tree, and each of those is a level of it. The
dashboards' own queries nest 3 deep and have at most 8 of them: the bounds are far above any
real query. What passes is parsed and scoped in a worker process (``CheckPool``), never on the
event loop, within a time budget (``MAX_CHECK_SECONDS``, then the worker is killed) and an
address-space limit (``CHECK_MEMORY``, RLIMIT_AS on the worker). A process, not a thread: the
walk is Python code called back from the parser, under the GIL, and a thread cannot be stopped
at its deadline. At most ``MAX_PER_PRINCIPAL`` requests of one principal, and ``MAX_IN_FLIGHT``
in all, are served at once; more get 429.

Only the parameters each endpoint needs are forwarded (a repeated one is refused: no parameter
pollution); the operator's token is not. ``admin`` and ``noc`` pass through unchanged. A missing
or wrong token gets 401; the guessing delay is ``Access``'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import re
import resource
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any
from urllib.parse import quote

import aiohttp
import promql_parser as pp
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from monitor.config import Settings
from monitor.config.access import Principal
from monitor.web.access import Access

__all__ = [
    "CHECK_MEMORY",
    "MAX_CHECK_SECONDS",
    "MAX_IN_FLIGHT",
    "MAX_NESTING",
    "MAX_PER_PRINCIPAL",
    "MAX_STRUCTURE",
    "PROXY",
    "CheckPool",
    "PromProxy",
    "Refused",
    "add_routes",
    "check_shape",
    "enforce_params",
    "enforce_query",
    "enforce_selector",
    "scope_matchers",
]

log = logging.getLogger(__name__)

PREFIX = "/prometheus/api/v1"
MAX_QUERY = 16 * 1024  # characters of one expression or selector from an operator
MAX_NESTING = 32  # brackets inside brackets; the dashboards' queries nest 3 deep
MAX_STRUCTURE = 128  # operators, ( and [ in all; the dashboards' queries have at most 8
MAX_CHECK_SECONDS = 2.0  # to parse and scope one request in a worker; a real one takes ~1 ms
CHECK_MEMORY = 512 * 1024 * 1024  # bytes of address space a worker may add to what it starts with
MAX_CHECK_WAIT = 10.0  # for a free worker (a worker's start, a queue bounded by MAX_IN_FLIGHT)
CHECK_WORKERS = 2  # worker processes (this runs on small machines; checking is ~1 ms a query)
MAX_PER_PRINCIPAL = 16  # requests of one principal served at once (a dashboard's panels)
MAX_IN_FLIGHT = 64  # requests served at once, all principals
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_REGEX_SPECIAL = set("\\.+*?()|[]{}^$")

# Parameters forwarded for an operator, per endpoint; "query"/"match[]" are rewritten.
_SINGLE = {
    "query": ("query", "time", "timeout"),
    "query_range": ("query", "start", "end", "step", "timeout"),
    "series": ("start", "end", "limit"),
    "labels": ("start", "end", "limit"),
    "values": ("start", "end", "limit"),
}


class Refused(Exception):
    """A request the proxy will not forward; ``status`` and a message safe to show."""

    def __init__(self, message: str, status: int = 400, error_type: str = "bad_data") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


Matcher = tuple[str, str, str]  # (label, "=" or "=~", value)


def _quote(value: str) -> str:
    """A PromQL double-quoted string (JSON escapes are a subset of PromQL's Go escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _regex_escape(value: str) -> str:
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in value)


def scope_matchers(principal: Principal) -> list[Matcher]:
    """The matchers that confine a query to ``principal``'s scope (refused when none can)."""
    if not principal.scope:
        raise Refused("this token has no scope", 403, "forbidden")
    out: list[Matcher] = []
    for key, values in sorted(principal.scope.items()):
        # An empty value would match every series *without* the label: refuse rather than leak.
        if not _LABEL_NAME.match(key) or not values or any(v == "" for v in values):
            raise Refused("this token's scope cannot be enforced on queries", 403, "forbidden")
        if len(values) == 1:
            out.append((key, "=", values[0]))
        else:
            out.append((key, "=~", "|".join(_regex_escape(v) for v in sorted(values))))
    return out


def _render(matchers: list[Matcher]) -> str:
    return ",".join(f"{name}{op}{_quote(value)}" for name, op, value in matchers)


# One token of PromQL, as far as nesting goes: strings and comments are skipped whole (a bracket
# in them is not one); unterminated ones run to the end, the parser refuses them later.
_TOKEN = re.compile(
    r"""(?P<skip>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?|\#[^\n]*)
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<word>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=])""",
    re.VERBOSE | re.DOTALL,
)
_WORD_OPS = frozenset({"and", "or", "unless", "atan2"})


def check_shape(text: str, what: str) -> None:
    """Refuse ``text`` if it is too long, nests too deep, or has too many operators and brackets.

    One linear pass over the raw text, cheap enough for the event loop: it runs before any
    parsing, so the parser never sees a tree deep enough to be costly. Unary signs count as
    operators (``----x`` nests four deep), so do binary ones (a chain ``a+b+c...`` nests too).
    """
    if len(text) > MAX_QUERY:
        raise Refused(f"{what} is longer than {MAX_QUERY} characters")
    depth = braces = structure = 0
    for token in _TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
            if depth > MAX_NESTING:
                raise Refused(f"{what} nests deeper than {MAX_NESTING} brackets, the limit")
            if token.group() == "{":
                braces += 1  # a selector's braces: one leaf of the tree, however many matchers
            else:
                structure += 1
        elif kind == "close":
            depth = max(depth - 1, 0)
            if token.group() == "}":
                braces = max(braces - 1, 0)
        elif braces == 0 and (
            kind == "op" or (kind == "word" and token.group().lower() in _WORD_OPS)
        ):
            structure += 1  # inside braces, = != =~ !~ are label matchers, not operators
        if structure > MAX_STRUCTURE:
            raise Refused(f"{what} has more than {MAX_STRUCTURE} operators and brackets, the limit")


def _parse(text: str, what: str) -> pp.Expr:
    check_shape(text, what)
    try:
        return pp.parse(text)
    except (ValueError, TypeError) as exc:
        raise Refused(f"cannot parse {what}: {exc}") from None


def _scoped_selector(node: pp.VectorSelector, matchers: list[Matcher]) -> pp.Expr:
    """``node`` with the scope matchers added, as a new parsed selector."""
    if node.matchers.or_matchers:
        raise Refused("`or` between matchers inside a selector cannot be scoped")
    text = node.prettify()
    name = node.name or ""
    injected = _render(matchers)
    if text.startswith("{") or (name and text.startswith(name + "{")):
        cut = text.index("{") + 1
        scoped = text[:cut] + injected + ("" if text[cut] == "}" else ",") + text[cut:]
    elif name and (text == name or text.startswith(name + " ")):
        scoped = name + "{" + injected + "}" + text[len(name) :]
    else:
        raise Refused("a selector could not be scoped")
    replacement = _parse(scoped, "the scoped selector")
    if not isinstance(replacement, pp.VectorSelector):
        raise Refused("a selector could not be scoped")
    return replacement


_OPS = {"=": pp.MatchOp.Equal, "=~": pp.MatchOp.Re}


def _verify(text: str, matchers: list[Matcher]) -> pp.Expr:
    """Parse ``text`` again and check that every selector in it carries every scope matcher."""
    expr = _parse(text, "the scoped query")
    selectors: list[pp.VectorSelector] = []

    def visit(node: pp.Expr) -> bool:
        if isinstance(node, pp.VectorSelector):
            selectors.append(node)
        return True

    pp.walk(expr, pre_visit=visit)
    # The parser's own dump of the tree names every selector, wherever the walk went.
    if repr(expr).count("VectorSelector {") != len(selectors):
        raise Refused("the query could not be checked")
    for selector in selectors:
        if selector.matchers.or_matchers:
            raise Refused("`or` between matchers inside a selector cannot be scoped")
        have = selector.matchers.matchers
        for name, op, value in matchers:
            if not any(m.name == name and m.op == _OPS[op] and m.value == value for m in have):
                raise Refused("the query could not be scoped")
    return expr


def enforce_query(query: str, matchers: list[Matcher]) -> str:
    """The PromQL text to send for ``query`` so that it reads only series matching ``matchers``."""
    expr = _parse(query, "the query")

    def scope(node: pp.Expr) -> pp.Expr | None:
        if isinstance(node, pp.VectorSelector):
            return _scoped_selector(node, matchers)
        return None

    text = pp.transform(expr, post_visit=scope).prettify()
    _verify(text, matchers)
    return text


def enforce_selector(selector: str, matchers: list[Matcher]) -> str:
    """A series selector (``match[]``) confined to ``matchers``."""
    expr = _parse(selector, "match[]")
    if not isinstance(expr, pp.VectorSelector):
        raise Refused('match[] must be a series selector such as probe_success{group="x"}')
    text = _scoped_selector(expr, matchers).prettify()
    if not isinstance(_verify(text, matchers), pp.VectorSelector):
        raise Refused("match[] could not be scoped")
    return text


def enforce_params(
    endpoint: str, params: MultiDict[str], matchers: list[Matcher]
) -> MultiDict[str]:
    """The parameters to forward for an operator's request to ``endpoint``."""
    out: MultiDict[str] = MultiDict()
    for key in _SINGLE[endpoint]:
        values = params.getall(key, [])
        if len(values) > 1:
            raise Refused(f"parameter {key} is given more than once")
        if values:
            out[key] = values[0]
    if endpoint in ("query", "query_range"):
        if "query" not in out:
            raise Refused("parameter query is missing")
        out["query"] = enforce_query(out["query"], matchers)
        return out
    selectors = params.getall("match[]", [])
    if len(selectors) > 20:
        raise Refused("at most 20 match[] parameters")
    if endpoint == "series" and not selectors:
        raise Refused("at least one match[] is needed")
    for selector in selectors:
        out.add("match[]", enforce_selector(selector, matchers))
    if not selectors:
        out.add("match[]", "{" + _render(matchers) + "}")
    return out


def _enforce_items(
    endpoint: str, items: list[tuple[str, str]], matchers: list[Matcher]
) -> list[tuple[str, str]]:
    """``enforce_params`` on plain lists: what a checking worker is sent and sends back."""
    return list(enforce_params(endpoint, MultiDict(items), matchers).items())


# --------------------------------------------------------------------------- checking workers


def _address_space() -> int:
    """Bytes of address space this process has mapped (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _serve(conn: Connection, memory: int) -> None:
    """A checking worker: run each ``(function, args)`` received, answer with its outcome."""
    if memory:
        # What the worker needs to run, plus the budget: a query cannot take the machine's memory.
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory, hard))
    conn.send(("ready", None))
    while True:
        try:
            function, args = conn.recv()
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", function(*args))
        except Refused as exc:
            answer = ("refused", (str(exc), exc.status, exc.error_type))
        except MemoryError:
            answer = (
                "refused",
                ("the query needs more memory to check than allowed", 400, "bad_data"),
            )
        except RecursionError:
            answer = ("refused", ("the query nests too deep to check", 400, "bad_data"))
        except Exception as exc:  # any failure of a check is a refusal, not a 500
            answer = (
                "refused",
                (f"the query could not be checked: {type(exc).__name__}", 400, "bad_data"),
            )
        conn.send(answer)


async def _readable(conn: Connection, seconds: float) -> None:
    """Wait, without blocking the loop, until ``conn`` has something to read (or EOF)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, seconds)
    finally:
        loop.remove_reader(fd)


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    def kill(self) -> None:
        """Stop the worker now (a signal; the process is reaped in ``reap``)."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()

    def reap(self) -> None:
        """Blocking: wait for the process to end (call in a thread)."""
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process.close()


@dataclass
class CheckPool:
    """Worker processes that parse and scope queries off the event loop, within budgets.

    Workers start when first needed and are reused; one that overruns ``seconds`` or dies
    (out of its ``memory`` budget: Rust aborts where Python raises) is killed and replaced.
    ``killed`` counts them (for tests and the log).
    """

    workers: int = CHECK_WORKERS
    seconds: float = MAX_CHECK_SECONDS
    memory: int = CHECK_MEMORY
    killed: int = 0
    _idle: list[_Worker] = field(default_factory=list)
    _slots: asyncio.Semaphore | None = None
    _closed: bool = False

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker; ``Refused`` when it refuses or overruns a budget."""
        if self._closed:
            raise Refused("the proxy is stopping", 503, "unavailable")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        try:
            await asyncio.wait_for(self._slots.acquire(), MAX_CHECK_WAIT)
        except TimeoutError:
            raise Refused(
                "too many queries are being checked; try again", 503, "unavailable"
            ) from None
        try:
            worker = self._idle.pop() if self._idle else await self._start()
            outcome, value = await self._call(worker, function, args)
        finally:
            self._slots.release()
        if outcome == "refused":
            message, status, error_type = value
            raise Refused(message, status, error_type)
        return value

    async def _call(
        self, worker: _Worker, function: Callable[..., Any], args: tuple[Any, ...]
    ) -> tuple[str, Any]:
        try:
            worker.conn.send((function, args))
            await _readable(worker.conn, self.seconds)
            answer: tuple[str, Any] = worker.conn.recv()
        except TimeoutError:
            await self._discard(worker, "overran its time budget")
            raise Refused(
                f"the query took more than {self.seconds:g} s to check, the limit", 400, "bad_data"
            ) from None
        except (EOFError, OSError):
            await self._discard(worker, "died (out of its memory budget?)")
            raise Refused("the query could not be checked within the memory allowed") from None
        except BaseException:
            worker.kill()  # cancelled mid-check: its answer would go to the next caller
            self.killed += 1
            raise
        self._idle.append(worker)
        return answer

    async def _discard(self, worker: _Worker, why: str) -> None:
        log.warning("prometheus proxy: a query checking worker %s; replaced", why)
        worker.kill()
        self.killed += 1
        await asyncio.to_thread(worker.reap)

    async def _start(self) -> _Worker:
        # spawn, not fork: the parent is a threaded asyncio process.
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self.memory), name="netmon-promql-check", daemon=True
        )
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent)
        try:
            await _readable(parent, 60)  # the interpreter and imports: not the query's budget
            parent.recv()
        except BaseException:
            worker.kill()
            await asyncio.to_thread(worker.reap)
            raise
        return worker

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.conn.close()  # EOF: the worker returns
            await asyncio.to_thread(worker.reap)


# --------------------------------------------------------------------------- HTTP


@dataclass
class PromProxy:
    """What the routes need: the settings and tokens in force, and one client session.

    With ``current`` (a function returning the settings in force), a reload that changes them
    is followed at the next request: new [prometheus] url and timeout, new tokens.
    """

    settings: Settings
    access: Access
    current: Callable[[], Settings] | None = None
    session: aiohttp.ClientSession | None = None
    checker: CheckPool = field(default_factory=CheckPool)
    max_per_principal: int = MAX_PER_PRINCIPAL
    max_in_flight: int = MAX_IN_FLIGHT
    in_flight: dict[str, int] = field(default_factory=dict)

    def admit(self, name: str) -> str | None:
        """Count one more request of ``name``, or say why not (then nothing is counted)."""
        if sum(self.in_flight.values()) >= self.max_in_flight:
            return f"more than {self.max_in_flight} queries at once, the limit; try again"
        if self.in_flight.get(name, 0) >= self.max_per_principal:
            return f"more than {self.max_per_principal} queries at once from {name}, the limit"
        self.in_flight[name] = self.in_flight.get(name, 0) + 1
        return None

    def done(self, name: str) -> None:
        left = self.in_flight[name] - 1
        if left:
            self.in_flight[name] = left
        else:
            del self.in_flight[name]

    def update(self, settings: Settings, access: Access) -> None:
        self.settings = settings
        self.access = access

    def refresh(self) -> None:
        if self.current is None:
            return
        settings = self.current()
        if settings is not self.settings:
            access = self.access
            if settings.access is not self.settings.access:
                access = Access(settings.access)
            self.update(settings, access)

    async def session_ctx(self, app: web.Application) -> AsyncIterator[None]:
        self.session = aiohttp.ClientSession(auto_decompress=True)
        try:
            yield
        finally:
            await self.session.close()
            self.session = None
            await self.checker.close()


PROXY: web.AppKey[PromProxy] = web.AppKey("promproxy", PromProxy)


def add_routes(
    app: web.Application,
    settings: Settings,
    access: Access,
    *,
    current: Callable[[], Settings] | None = None,
) -> None:
    """Serve the proxy under /prometheus/api/v1 on ``app`` (call before the app starts).

    ``current``: where to read the settings in force after a reload (see ``PromProxy``).
    """
    proxy = PromProxy(settings, access, current)
    app[PROXY] = proxy
    app.cleanup_ctx.append(proxy.session_ctx)
    routes: list[tuple[str, Callable[[web.Request], Any]]] = [
        (f"{PREFIX}/query", _endpoint("query")),
        (f"{PREFIX}/query_range", _endpoint("query_range")),
        (f"{PREFIX}/series", _endpoint("series")),
        (f"{PREFIX}/labels", _endpoint("labels")),
        (f"{PREFIX}/label/{{name}}/values", _endpoint("values")),
    ]
    for path, handler in routes:
        app.router.add_get(path, handler, allow_head=False)
        app.router.add_post(path, handler)


def _error(status: int, error_type: str, message: str, **headers: str) -> web.Response:
    body = {"status": "error", "errorType": error_type, "error": message}
    return web.json_response(body, status=status, headers=headers)


def _endpoint(endpoint: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await _handle(request, endpoint)

    handler.__name__ = f"prometheus_{endpoint}"
    return handler


async def _params(request: web.Request) -> MultiDict[str]:
    params: MultiDict[str] = MultiDict(request.query)
    if request.method == "POST":
        form: MultiDictProxy[Any] = await request.post()
        for key, value in form.items():
            if not isinstance(value, str):
                raise Refused("file uploads are not accepted")
            params.add(key, value)
    return params


async def _handle(request: web.Request, endpoint: str) -> web.StreamResponse:
    proxy = request.app[PROXY]
    proxy.refresh()
    principal = await proxy.access.authenticate(
        request.headers.get("Authorization"), request.remote
    )
    if principal is None:
        return _error(
            401, "unauthorized", "a valid bearer token is needed", **{"WWW-Authenticate": "Bearer"}
        )
    if not principal.at_least("operator"):  # a wall token reads the pages, nothing else
        return _error(403, "forbidden", f"the {principal.role} role reads no metrics")
    refusal = proxy.admit(principal.name)
    if refusal is not None:
        log.info("prometheus proxy: refused %s for %s: %s", endpoint, principal.name, refusal)
        return _error(429, "unavailable", refusal, **{"Retry-After": "1"})
    try:
        return await _admitted(request, proxy, principal, endpoint)
    finally:
        proxy.done(principal.name)


async def _admitted(
    request: web.Request, proxy: PromProxy, principal: Principal, endpoint: str
) -> web.StreamResponse:
    path = endpoint
    if endpoint == "values":
        name = request.match_info["name"]
        if not _LABEL_NAME.match(name):
            return _error(400, "bad_data", "invalid label name")
        path = f"label/{quote(name)}/values"
    try:
        params = await _params(request)
        if principal.role == "operator":
            matchers = scope_matchers(principal)
            # The cheap linear check on the loop; the parsing off it, within budgets.
            for key in ("query", "match[]"):
                for text in params.getall(key, []):
                    check_shape(text, key)
            items = await proxy.checker.run(
                _enforce_items, endpoint, list(params.items()), matchers
            )
            params = MultiDict(items)
    except Refused as exc:
        log.info("prometheus proxy: refused %s for %s: %s", endpoint, principal.name, exc)
        return _error(exc.status, exc.error_type, str(exc))
    return await _forward(request, proxy, path, params, principal)


async def _forward(
    request: web.Request,
    proxy: PromProxy,
    path: str,
    params: MultiDict[str],
    principal: Principal,
) -> web.StreamResponse:
    if proxy.session is None:
        return _error(503, "unavailable", "the proxy is not started")
    url = f"{proxy.settings.prometheus.url}/api/v1/{path}"
    timeout = aiohttp.ClientTimeout(total=proxy.settings.prometheus.timeout)
    # Prometheus takes a form for all of these but label values, which is GET only.
    if path.startswith("label/"):
        call = proxy.session.get(url, params=params, timeout=timeout)
    else:
        call = proxy.session.post(url, data=params, timeout=timeout)
    try:
        async with call as upstream:
            body = await upstream.read()
            status = upstream.status
            content_type = upstream.headers.get("Content-Type", "application/json")
    except TimeoutError:
        return _error(504, "timeout", "Prometheus did not answer in time")
    except aiohttp.ClientError:
        return _error(502, "unavailable", "Prometheus is unreachable")
    if principal.role == "operator" and path == "series" and status == 200:
        filtered = _filter_series(body, principal)
        if filtered is None:
            return _error(502, "internal", "Prometheus gave an unexpected answer")
        body = filtered
    response = web.Response(body=body, status=status, headers={"Content-Type": content_type})
    if len(body) > 4096:
        response.enable_compression()
    return response


def _filter_series(body: bytes, principal: Principal) -> bytes | None:
    """Second line of defence: drop any series outside the scope from a series answer."""
    try:
        doc = json.loads(body)
        series = doc["data"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(series, list):
        return None
    doc["data"] = [s for s in series if isinstance(s, dict) and principal.sees_labels(s)]
    return json.dumps(doc, ensure_ascii=False).encode()
