"""The ``web`` probe: fetch the page (and once more as a search engine's crawler), analyse it
in a thread, compare it with the site's baseline, and say what was injected.

Reasons, the first that applies: ``injected_script`` (a new external script, iframe, form or
meta-refresh domain: how skimmers and redirectors arrive), ``cloaked`` (search engines get
another page, a redirect or other links), ``hidden_links`` (links hidden by CSS to domains the
baseline does not know), ``injected_links`` (more than ``max_new_link_domains`` new outbound
link domains), ``spam_words`` (the gambling/spam list on the visible or hidden text),
``defaced`` (the visible text's similarity to the baseline below ``min_similarity``),
``title_changed``. Fetch faults: ``status``, ``too_large`` (more than ``max_body_bytes``),
``garbage`` (not text), ``timeout`` (a body dripping past the budget), and http's
``refused``, ``dns``, ``tls``, ``connection``, ``protocol``.

Until the baseline has ``baseline_fetches`` good fetches (no spam words, not cloaked) the probe
learns: it succeeds saying so, and ``probe_web_baseline_ready`` is 0.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from probes import catalogue
from probes.base import ProbeResult, ProbeTarget, Sample, failure, options_of
from probes.context import ProbeContext
from probes.integrity.baseline import FILE_NAME, Baseline, BaselineStore
from probes.integrity.page import Page, analyse, domain_of, similarity
from probes.integrity.words import find_spam
from probes.options import WebOptions
from probes.tls import client_context

__all__ = ["FAMILIES", "USER_AGENT", "Verdict", "judge", "probe"]

FAMILIES = catalogue.WEB

log = logging.getLogger(__name__)

# A browser's: some CMSes answer robots and unknown agents differently from people.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36 netmon/0.1"
)
_CHUNK = 64 * 1024
_DEFAULT_TIMEOUT = 10.0
_LIST = 5  # domains or words named in a detail


@dataclass(slots=True)
class _Fetched:
    status: int
    final_host: str
    html: str | bytes  # what the parser gets: a UTF-8 body as it came, any other decoded
    size: int


class _Fault(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class _Client:
    """One session per address family; a fresh connection per fetch, no cookies."""

    def __init__(self) -> None:
        self._sessions: dict[int, aiohttp.ClientSession] = {}

    def session(self, family: socket.AddressFamily) -> aiohttp.ClientSession:
        session = self._sessions.get(family)
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    force_close=True, use_dns_cache=False, family=family, limit=0
                ),
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
            self._sessions[family] = session
        return session

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


async def _make_client() -> tuple[_Client, Callable[[], Any]]:
    client = _Client()
    return client, client.aclose


def _store_factory(ctx: ProbeContext) -> Callable[[], Any]:
    async def make() -> tuple[BaselineStore, Callable[[], Any]]:
        path = ctx.state_dir / FILE_NAME if ctx.state_dir is not None else None
        store = await asyncio.to_thread(BaselineStore, path)

        async def close() -> None:
            await asyncio.to_thread(store.close)

        return store, close

    return make


def _decode(body: bytes, charset: str | None) -> tuple[str | bytes, str]:
    """What the parser gets, and the text of the body's start (for ``_garbage``). A UTF-8 body
    (the charset said, or none) goes to Lexbor as bytes: it reads UTF-8 itself, and decoding
    300 KB only for Lexbor to encode it again costs half a millisecond."""
    encoding = "utf-8"
    if charset:
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(charset).name
    if encoding == "utf-8":
        return body, body[:4096].decode(encoding, errors="replace")
    text = body.decode(encoding, errors="replace")
    return text, text[:4096]


def _garbage(body: bytes, head: str) -> str | None:
    """Why this body is no HTML page, or None: NUL bytes or mostly undecodable bytes (``head``:
    the text of its start)."""
    sample = body[:4096]
    if b"\x00" in sample:
        return "the body has NUL bytes: binary, not an HTML page"
    if head and head.count("\ufffd") > len(head) // 10:
        return "the body is mostly undecodable bytes, not an HTML page"
    return None


async def _fetch(
    client: _Client,
    url: URL,
    family: socket.AddressFamily,
    opts: WebOptions,
    sslcontext: ssl.SSLContext | bool,
    user_agent: str,
    deadline: float,
) -> _Fetched:
    headers = {"User-Agent": user_agent, **opts.headers}
    loop = asyncio.get_running_loop()
    began = loop.time()
    read = 0
    try:
        async with asyncio.timeout_at(deadline):
            async with client.session(family).get(
                url,
                headers=headers,
                ssl=sslcontext,
                allow_redirects=opts.max_redirects > 0,
                max_redirects=opts.max_redirects + 1,
            ) as resp:
                parts: list[bytes] = []
                cap = opts.max_body_bytes
                while True:
                    chunk = await resp.content.read(_CHUNK)
                    if not chunk:
                        break
                    read += len(chunk)
                    if read > cap:
                        resp.close()  # a huge or endless body: stop here, drop the connection
                        raise _Fault(
                            "too_large", f"the page is larger than max_body_bytes ({cap:,} bytes)"
                        )
                    parts.append(chunk)
                body = b"".join(parts)
                html, head = _decode(body, resp.charset)
                why = _garbage(body, head)
                if why is not None:
                    raise _Fault("garbage", why)
                return _Fetched(resp.status, resp.url.host or "", html, read)
    except TimeoutError:
        if read:
            spent = loop.time() - began
            raise _Fault(
                "timeout", f"the page came too slowly: {read:,} bytes in {spent:.1f} s"
            ) from None
        raise _Fault("timeout", "no answer in time") from None
    except aiohttp.TooManyRedirects:
        raise _Fault("redirects", f"more than {opts.max_redirects} redirects") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise _Fault("tls", f"TLS certificate rejected: {exc.certificate_error}") from None
    except aiohttp.ClientConnectorSSLError as exc:
        raise _Fault("tls", f"TLS handshake failed: {exc.os_error}") from None
    except aiohttp.ClientConnectorDNSError as exc:
        raise _Fault("dns", f"cannot resolve {exc.host}") from None
    except aiohttp.ClientConnectorError as exc:
        where = f"{exc.host}:{exc.port}"
        if exc.os_error.errno == errno.ECONNREFUSED:
            raise _Fault("refused", f"connection to {where} refused") from None
        raise _Fault("connection", f"cannot connect to {where}: {exc.os_error}") from None
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        raise _Fault("protocol", f"broken response after {read:,} bytes: {exc}") from None
    except aiohttp.ClientResponseError as exc:
        raise _Fault("protocol", f"invalid HTTP response: {exc.message}") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise _Fault("connection", f"connection error: {exc}") from None


@dataclass(slots=True)
class Verdict:
    """What ``judge`` concluded: the result, and whether the fetch teaches the baseline."""

    result: ProbeResult
    learn: bool


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST])
    return shown + (f" (+{len(items) - _LIST})" if len(items) > _LIST else "")


def _cloaking(user: Page, crawler: Page, user_host: str, crawler_host: str) -> list[str]:
    """How the crawler's page differs in a way people would not see: empty when it doesn't."""
    found = []
    if crawler_host and user_host and crawler_host != user_host:
        found.append(f"crawlers are redirected to {crawler_host}")
    new_scripts = sorted(set(crawler.scripts) - set(user.scripts))
    if new_scripts:
        found.append(f"crawlers get scripts or refresh to {_names(new_scripts)}")
    new_links = sorted(set(crawler.links) - set(user.links))
    crawler_spam = set(find_spam(crawler.visible_text + " " + crawler.hidden_text))
    user_spam = set(find_spam(user.visible_text + " " + user.hidden_text))
    if crawler_spam - user_spam:
        found.append(f"crawlers see {_names(sorted(crawler_spam - user_spam))}")
    if new_links and (crawler_spam - user_spam or crawler.hidden_links):
        found.append(f"crawlers get links to {_names(new_links)}")
    return found


def judge(
    page: Page,
    status: int,
    baseline: Baseline,
    opts: WebOptions,
    crawler: tuple[Page, str, str] | None = None,
) -> Verdict:
    """Compare ``page`` with ``baseline`` (``crawler``: the crawler's page, the final hosts of
    the people's and the crawler's fetch). Pure: the probe stores what it should learn."""
    allowed = set(opts.allowed_domains)
    ready = baseline.ready(opts.baseline_fetches)
    spam = find_spam(page.visible_text + " " + page.hidden_text, opts.spam_words, opts.allow_words)
    cloak = _cloaking(page, crawler[0], crawler[1], crawler[2]) if crawler is not None else []
    scripts = {**page.forms, **page.scripts}
    new_scripts = sorted(set(scripts) - baseline.scripts - allowed) if ready else []
    new_links = sorted(set(page.links) - baseline.links - allowed) if ready else []
    known = baseline.links | allowed
    hidden = [h for h in page.hidden_links if h.domain not in known]
    if not ready:  # learning: hidden links to a domain with spam text still count below
        hidden = [h for h in hidden if find_spam(h.text, opts.spam_words, opts.allow_words)]
    hidden_domains = sorted({h.domain for h in hidden})
    best = max((similarity(page.simhash, h) for h in baseline.simhashes), default=1.0)
    defaced = ready and best < opts.min_similarity
    title_changed = ready and page.title not in baseline.titles
    too_many_links = len(new_links) > opts.max_new_link_domains

    facts: list[tuple[str, str]] = []
    facts += [("forbidden", d) for d in new_scripts]
    facts += [("forbidden", d) for d in hidden_domains]
    facts += [("forbidden", w) for w in sorted(spam)]
    if new_scripts:
        facts.append(("excerpt", scripts[new_scripts[0]]))
    elif hidden:
        facts.append(("excerpt", hidden[0].snippet))
    if title_changed:
        facts.append(("title", page.title))

    findings: list[tuple[str, str]] = []
    if new_scripts:
        findings.append(("injected_script", f"new external script source {_names(new_scripts)}"))
    if cloak:
        findings.append(("cloaked", "cloaking: " + "; ".join(cloak)))
    if hidden_domains:
        findings.append(("hidden_links", f"links hidden by CSS to {_names(hidden_domains)}"))
    if too_many_links:
        findings.append(
            ("injected_links", f"{len(new_links)} new link domains: {_names(new_links)}")
        )
    if spam:
        findings.append(("spam_words", f"gambling/spam words {_names(sorted(spam))}"))
    if defaced:
        findings.append(("defaced", f"the text is {best:.0%} like the baseline's"))
    if title_changed:
        findings.append(("title_changed", f'the title changed to "{page.title[:80]}"'))
    injected = bool(new_scripts or cloak or hidden_domains or too_many_links or spam)

    samples = [
        Sample("probe_http_status_code", float(status)),
        Sample("probe_web_baseline_ready", 1.0 if ready else 0.0),
        Sample("probe_web_new_script_domains", float(len(new_scripts))),
        Sample("probe_web_new_link_domains", float(len(new_links))),
        Sample("probe_web_hidden_links", float(len(hidden))),
        Sample("probe_web_spam_words", float(len(spam))),
        Sample("probe_web_cloaked", 1.0 if cloak else 0.0),
        Sample("probe_web_title_changed", 1.0 if title_changed else 0.0),
        Sample("probe_web_injected", 1.0 if injected else 0.0),
        Sample("probe_web_defaced", 1.0 if defaced else 0.0),
    ]
    if ready:
        samples.append(Sample("probe_web_text_similarity", best))
    head = f"HTTP {status}"
    if findings:
        reason, detail = findings[0]
        more = [d for _, d in findings[1:]]
        sentence = f"{head}: {detail}" + "".join(f"; {d}" for d in more)
        return Verdict(failure(reason, sentence, tuple(samples), tuple(facts)), learn=False)
    if not ready:
        detail = f"{head}, learning the baseline ({baseline.fetches + 1}/{opts.baseline_fetches})"
    else:
        detail = f"{head}, as the baseline ({best:.0%} alike)"
        if new_links:
            detail += f", {len(new_links)} new link domain(s): {_names(new_links)}"
    result = ProbeResult(True, None, detail, tuple(samples), tuple(facts))
    return Verdict(result, learn=not ready)


def _family(url: URL, ip_protocol: str) -> socket.AddressFamily:
    host = (url.raw_host or "").strip("[]")
    if ":" in host or (ip_protocol == "ip6" and not host.replace(".", "").isdigit()):
        return socket.AF_INET6
    return socket.AF_INET


async def probe(target: ProbeTarget, ctx: ProbeContext) -> ProbeResult:
    opts = options_of(target, WebOptions)
    if target.url is None:  # the settings make this unreachable
        return failure("config", "web target without url")
    client = await ctx.shared("web", _make_client)
    store = await ctx.shared("web-baselines", _store_factory(ctx))
    try:
        sslcontext = client_context(opts.tls_verify, opts.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return failure("tls", f"cannot load ca_file {opts.ca_file}: {exc}")
    url = URL(target.url)
    family = _family(url, opts.ip_protocol)
    loop = asyncio.get_running_loop()
    # The scheduler cancels at the target's timeout; our own budget ends a little before, so
    # a dripping page is reported as such, and the crawler's fetch shares what is left.
    budget = 0.9 * (target.timeout or _DEFAULT_TIMEOUT)
    deadline = loop.time() + budget
    try:
        fetched = await _fetch(client, url, family, opts, sslcontext, USER_AGENT, deadline)
    except _Fault as fault:
        return failure(fault.reason, fault.detail)
    if not 200 <= fetched.status < 300:
        return failure(
            "status",
            f"HTTP {fetched.status}, expected 2xx",
            (Sample("probe_http_status_code", float(fetched.status)),),
        )
    own = tuple(opts.own_domains)
    page, cpu = await asyncio.to_thread(_analyse, fetched.html, url.host or "", own)
    crawler: tuple[Page, str, str] | None = None
    if opts.check_cloaking:
        try:
            as_bot = await _fetch(
                client, url, family, opts, sslcontext, opts.crawler_user_agent, deadline
            )
            bot_page, bot_cpu = await asyncio.to_thread(_analyse, as_bot.html, url.host or "", own)
            cpu += bot_cpu
            crawler = (bot_page, _site(fetched.final_host), _site(as_bot.final_host))
        except _Fault as fault:  # the crawler's fetch failing is no cloaking; said in the log
            log.info("web %s: the crawler's fetch failed: %s", target.name, fault.detail)
    baseline = await asyncio.to_thread(store.get, target.name)
    # The word list runs over the whole text (a few ms on a 300 KB page): off the loop too.
    verdict, judged = await asyncio.to_thread(
        _timed, judge, page, fetched.status, baseline, opts, crawler
    )
    cpu += judged
    if verdict.learn:
        baseline.learn(
            set({**page.forms, **page.scripts}), set(page.links), page.title, page.simhash
        )
        await asyncio.to_thread(store.put, target.name, baseline)
    elif verdict.result.success and baseline.track(page.simhash):
        # A clean fetch of a learnt page: its fingerprint joins the baseline's (daily news).
        await asyncio.to_thread(store.put, target.name, baseline)
    result = verdict.result
    samples = (*result.samples, Sample("probe_web_analysis_seconds", cpu))
    return ProbeResult(result.success, result.reason, result.detail, samples, result.facts)


def _analyse(html: str | bytes, host: str, own: tuple[str, ...]) -> tuple[Page, float]:
    return _timed(analyse, html, host, own)


_T = TypeVar("_T")


def _timed(fn: Callable[..., _T], *args: Any) -> tuple[_T, float]:
    """``fn(*args)`` and the CPU seconds it took, of its own thread (other probes run
    meanwhile, so the process's CPU time would count theirs)."""
    start = time.thread_time()
    value = fn(*args)
    return value, time.thread_time() - start


def _site(host: str) -> str:
    return domain_of(f"http://{host}/") or host
