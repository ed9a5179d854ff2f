"""The lab: every simulated service of the province, its faults, and the control API.

Embed it (tests, benchmarks, drills)::

    async with Lab(Path("var/lab"), control="127.0.0.1:0") as lab:
        await lab.fail("cong-thong-tin-tinh", "503")
        ...

or run it until cancelled with :func:`run_lab`. The control API (loopback only)::

    GET  /lab/targets   {"targets": [{"name", "kind", "group", "title", "address", "fault",
                                      "modes"}, ...]}
    POST /lab/fail      {"name": ..., "mode": ...}   → the target, or {"error": ...}
    POST /lab/heal      {"name": ...}                → the target; {"name": "*"} heals all
    GET  /lab/ready     {"ready": true, ...}

Errors: 404 unknown target, 400 mode not applicable or a bad request, 415 a body that is not
``application/json``, 409 the machine cannot inject that fault (ICMP faults without root or
nft, an address that cannot be listened on again).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aiohttp import web

from monitor.lab.dns import DnsServer, start_dns_server
from monitor.lab.faults import (
    FaultUnavailable,
    IcmpFaults,
    LabError,
    ModeNotApplicable,
    UnknownTarget,
)
from monitor.lab.inventory import (
    DNS_CHANGED_ADDRESS,
    DNS_HOST,
    DNS_MODES,
    DNS_NAME,
    DNS_PORT,
    ICMP_HOSTS,
    ICMP_MODES,
    SIP_HOST,
    SIP_MODES,
    SIP_NAME,
    SIP_PASSWORD,
    SIP_PORT,
    SIP_TITLE,
    SIP_USER,
    SITES,
    SMTP_HOST,
    SMTP_MODES,
    SMTP_NAME,
    SMTP_PORT,
    SNMP_DEVICES,
    SNMP_MODES,
    SNMP_TRAP_ADDRESS,
    STREAM_HOST,
    STREAM_MODES,
    STREAM_NAME,
    STREAM_PORT,
    STREAM_TITLE,
    IcmpHost,
    Site,
    SnmpDevice,
    check_loopback,
    site_modes,
    zone_records,
)
from monitor.lab.inventory import extra_sites as make_extra_sites
from monitor.lab.sip import LabPbx, SipFault
from monitor.lab.smtp import BannerServer, SmtpFault
from monitor.lab.snmp import SnmpAgents
from monitor.lab.stream import LabStream
from monitor.lab.web import SiteFault, Websites

__all__ = ["DEFAULT_CONTROL", "Lab", "LabTarget", "parse_control", "run_lab"]

_log = logging.getLogger("netmon.lab")

DEFAULT_CONTROL = "127.0.0.1:9190"
# The portal's name in the lab zone: what `dns-changed` moves.
PORTAL_NAME = "daklak.lab."


def parse_control(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9190"`` → (host, port), loopback only; ValueError otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. {DEFAULT_CONTROL!r}")
    return check_loopback(host), int(port_text)


@dataclass(frozen=True, slots=True)
class LabTarget:
    """One thing the lab serves and can break, named as in the shipped settings.toml."""

    name: str
    kind: str  # the netmon kind that watches it: http, dns, tcp, icmp, snmp, stream, sip
    group: str
    title: str
    address: str  # a URL for http, host:port for dns, tcp, snmp, stream and sip, the host for icmp
    modes: tuple[str, ...]


class Lab:
    """The simulated province on loopback. ``start()`` / ``close()``, or ``async with``."""

    def __init__(
        self,
        state_dir: Path | str = Path("var/lab"),
        *,
        control: str | None = DEFAULT_CONTROL,
        extra_sites: int = 0,
        sites: Iterable[Site] = SITES,
        icmp_hosts: Iterable[IcmpHost] = ICMP_HOSTS,
        dns_address: tuple[str, int] = (DNS_HOST, DNS_PORT),
        smtp_address: tuple[str, int] = (SMTP_HOST, SMTP_PORT),
        slow_seconds: float = 8.0,
        nft_table: str = "netmon_lab",
        snmp_devices: Iterable[SnmpDevice] = SNMP_DEVICES,
        trap_address: tuple[str, int] | None = SNMP_TRAP_ADDRESS,
        reboot_seconds: float = 3.0,
        stream_address: tuple[str, int] | None = (STREAM_HOST, STREAM_PORT),
        sip_address: tuple[str, int] | None = (SIP_HOST, SIP_PORT),
    ) -> None:
        self.state_dir = Path(state_dir)
        self.control = parse_control(control) if control is not None else None
        all_sites = (*sites, *make_extra_sites(extra_sites))
        self.icmp_hosts = {h.name: h for h in icmp_hosts}
        for host in [s.host for s in all_sites] + [h.host for h in self.icmp_hosts.values()]:
            check_loopback(host)
        self.dns_address = (check_loopback(dns_address[0]), dns_address[1])
        self.smtp_address = (check_loopback(smtp_address[0]), smtp_address[1])
        self.websites = Websites(all_sites, self.state_dir, slow_seconds=slow_seconds)
        self.smtp = BannerServer(*self.smtp_address, slow_seconds=slow_seconds)
        self.icmp = IcmpFaults(nft_table)
        devices = tuple(snmp_devices)
        for device in devices:
            check_loopback(device.host)
        if trap_address is not None:
            check_loopback(trap_address[0])
        self.snmp = SnmpAgents(devices, trap_address=trap_address, reboot_seconds=reboot_seconds)
        self.stream: LabStream | None = None
        if stream_address is not None:
            self.stream = LabStream(check_loopback(stream_address[0]), stream_address[1])
        self.pbx: LabPbx | None = None
        if sip_address is not None:
            self.pbx = LabPbx(
                check_loopback(sip_address[0]), sip_address[1], user=SIP_USER, password=SIP_PASSWORD
            )
        self.records = zone_records(tuple(all_sites))
        self.dns: DnsServer | None = None
        self.faults: dict[str, str] = {}
        self._targets = self._catalogue()
        self._lock = asyncio.Lock()
        self._control_runner: web.AppRunner | None = None
        self._control_port: int | None = None
        self._started = False

    def _catalogue(self) -> dict[str, LabTarget]:
        targets: list[LabTarget] = []
        for site in self.websites.sites.values():
            targets.append(
                LabTarget(site.name, "http", site.group, site.title, site.url, site_modes(site))
            )
        dns_host, dns_port = self.dns_address
        targets.append(
            LabTarget(
                DNS_NAME,
                "dns",
                "website",
                "Máy chủ DNS vùng daklak.lab",
                f"{dns_host}:{dns_port}",
                DNS_MODES,
            )
        )
        smtp_host, smtp_port = self.smtp_address
        targets.append(
            LabTarget(
                SMTP_NAME,
                "tcp",
                "datacenter",
                "Máy chủ thư công vụ (SMTP)",
                f"{smtp_host}:{smtp_port}",
                SMTP_MODES,
            )
        )
        for host in self.icmp_hosts.values():
            targets.append(
                LabTarget(host.name, "icmp", host.group, host.title, host.host, ICMP_MODES)
            )
        for agent in self.snmp.agents.values():
            device = agent.device
            targets.append(
                LabTarget(
                    device.name,
                    "snmp",
                    device.group,
                    device.title,
                    f"{device.host}:{device.port}",
                    SNMP_MODES,
                )
            )
        if self.stream is not None:
            address = f"{self.stream.host}:{self.stream.port}"
            targets.append(
                LabTarget(STREAM_NAME, "stream", "website", STREAM_TITLE, address, STREAM_MODES)
            )
        if self.pbx is not None:
            address = f"{self.pbx.host}:{self.pbx.port}"
            targets.append(LabTarget(SIP_NAME, "sip", "venue", SIP_TITLE, address, SIP_MODES))
        by_name: dict[str, LabTarget] = {}
        for target in targets:
            if target.name in by_name:
                raise ValueError(f"two lab targets are named {target.name!r}")
            by_name[target.name] = target
        return by_name

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("the lab is already started")
        self._started = True
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            await self.websites.start()
            self.dns = await start_dns_server(*self.dns_address, self.records)
            await self.smtp.start()
            await self.snmp.start()
            if self.stream is not None:
                await self.stream.start()
            if self.pbx is not None:
                await self.pbx.start()
            await self.icmp.clear(stale=True)
            if self.control is not None:
                await self._start_control(*self.control)
        except BaseException:
            await self.close()
            raise
        _log.info("%s", self.ready_line)

    async def close(self) -> None:
        """Stop everything and remove every fault (the nftables table included)."""
        steps: list[Any] = []
        if self._control_runner is not None:
            runner, self._control_runner = self._control_runner, None
            steps.append(runner.cleanup())
        steps.append(self.websites.close())
        if self.dns is not None:
            dns, self.dns = self.dns, None
            steps.append(dns.close())
        steps.append(self.smtp.close())
        steps.append(self.snmp.close())
        if self.stream is not None:
            steps.append(self.stream.close())
        if self.pbx is not None:
            steps.append(self.pbx.close())
        steps.append(self.icmp.clear())
        for step in steps:
            try:
                await step
            except Exception:
                _log.exception("error while closing the lab")
        self.faults.clear()

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def control_url(self) -> str | None:
        if self.control is None or self._control_port is None:
            return None
        return f"http://{self.control[0]}:{self._control_port}"

    @property
    def ready_line(self) -> str:
        dns_host, dns_port = self.dns_address
        control = self.control_url or "off"
        return (
            f"netmon lab ready: {len(self.websites.sites)} websites, "
            f"{len(self.icmp_hosts)} icmp hosts, dns {dns_host}:{dns_port}, control {control}"
        )

    # ------------------------------------------------------------------ faults

    def targets(self) -> list[dict[str, Any]]:
        """Every lab target with its current fault (None when healthy)."""
        return [self._describe(t) for t in self._targets.values()]

    def _describe(self, target: LabTarget) -> dict[str, Any]:
        return {
            "name": target.name,
            "kind": target.kind,
            "group": target.group,
            "title": target.title,
            "address": target.address,
            "fault": self.faults.get(target.name),
            "modes": list(target.modes),
        }

    def target(self, name: str) -> LabTarget:
        try:
            return self._targets[name]
        except KeyError:
            raise UnknownTarget(
                f"no lab target is named {name!r} (`netmon lab list` shows them)"
            ) from None

    async def fail(self, name: str, mode: str) -> dict[str, Any]:
        """Inject fault ``mode`` into target ``name`` (replacing any fault it had)."""
        target = self.target(name)
        if mode not in target.modes:
            raise ModeNotApplicable(
                f"mode {mode!r} does not apply to {name} ({target.kind}); "
                f"its modes: {', '.join(target.modes)}"
            )
        if target.kind == "icmp":
            reason = IcmpFaults.unavailable_reason()
            if reason is not None:
                raise FaultUnavailable(reason)
        async with self._lock:
            if self.faults.get(name) == mode:
                return self._describe(target)
            await self._apply(target, None)
            self.faults.pop(name, None)
            await self._apply(target, mode)
            self.faults[name] = mode
        _log.warning("lab fault: %s %s", name, mode)
        return self._describe(target)

    async def heal(self, name: str) -> dict[str, Any]:
        """Remove the fault of target ``name`` (nothing to do when it has none)."""
        target = self.target(name)
        async with self._lock:
            if name in self.faults:
                await self._apply(target, None)
                del self.faults[name]
                _log.warning("lab healed: %s", name)
        return self._describe(target)

    async def heal_all(self) -> list[str]:
        names = list(self.faults)
        for name in names:
            await self.heal(name)
        return names

    async def _apply(self, target: LabTarget, mode: str | None) -> None:
        try:
            await self._apply_kind(target, mode)
        except OSError as exc:  # e.g. the address of a site coming back up is taken
            raise FaultUnavailable(f"{target.name}: {exc}") from exc

    async def _apply_kind(self, target: LabTarget, mode: str | None) -> None:
        if target.kind == "http":
            await self.websites.set_fault(target.name, cast(SiteFault | None, mode))
        elif target.kind == "tcp":
            await self.smtp.set_fault(cast(SmtpFault | None, mode))
        elif target.kind == "dns":
            assert self.dns is not None, "the lab is not started"
            self.dns.set(PORTAL_NAME, "A", self.records[(PORTAL_NAME, "A")])
            self.dns.set_mode("normal")
            if mode == "dns-changed":
                self.dns.set(PORTAL_NAME, "A", [DNS_CHANGED_ADDRESS])
            elif mode in ("servfail", "silent", "garbage"):
                self.dns.set_mode(mode)  # type: ignore[arg-type]
        elif target.kind == "icmp":
            await self.icmp.set(target.name, self.icmp_hosts[target.name].host, mode)
        elif target.kind == "snmp":
            await self.snmp.set_fault(target.name, mode)
        elif target.kind == "stream" and self.stream is not None:
            self.stream.set_fault(mode)
        elif target.kind == "sip" and self.pbx is not None:
            self.pbx.set_fault(cast(SipFault | None, mode))
        else:  # pragma: no cover - the catalogue has no other kind
            raise AssertionError(target.kind)

    # ------------------------------------------------------------------ control API

    async def _start_control(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/lab/targets", self._api_targets)
        app.router.add_get("/lab/ready", self._api_ready)
        app.router.add_post("/lab/fail", self._api_fail)
        app.router.add_post("/lab/heal", self._api_heal)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._control_runner = runner
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses
        self._control_port = int(addresses[0][1]) if addresses else port

    async def _api_targets(self, request: web.Request) -> web.Response:
        return _json({"targets": self.targets()})

    async def _api_ready(self, request: web.Request) -> web.Response:
        return _json(
            {
                "ready": True,
                "websites": len(self.websites.sites),
                "icmp_hosts": len(self.icmp_hosts),
                "snmp_agents": len(self.snmp.agents),
                "dns": "{}:{}".format(*self.dns_address),
                "smtp": "{}:{}".format(*self.smtp_address),
            }
        )

    async def _api_fail(self, request: web.Request) -> web.Response:
        body = await _body(request, ("name", "mode"))
        if isinstance(body, web.Response):
            return body
        try:
            return _json(await self.fail(body["name"], body["mode"]))
        except LabError as exc:
            return _error(exc)

    async def _api_heal(self, request: web.Request) -> web.Response:
        body = await _body(request, ("name",))
        if isinstance(body, web.Response):
            return body
        try:
            if body["name"] == "*":
                return _json({"healed": await self.heal_all()})
            return _json(await self.heal(body["name"]))
        except LabError as exc:
            return _error(exc)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False) + "\n",
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def _error(exc: LabError) -> web.Response:
    status = {UnknownTarget: 404, ModeNotApplicable: 400, FaultUnavailable: 409}.get(type(exc), 400)
    return _json({"error": str(exc)}, status)


async def _body(request: web.Request, keys: tuple[str, ...]) -> dict[str, str] | web.Response:
    # JSON only: a web page cannot send that cross-origin without a preflight we never allow.
    if request.content_type != "application/json":
        return _json({"error": "send the body as application/json"}, 415)
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _json({"error": "the body is not JSON"}, 400)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in keys):
        return _json({"error": f"the body must be a JSON object with {', '.join(keys)}"}, 400)
    return {k: data[k] for k in keys}


async def run_lab(
    state_dir: Path,
    control: str | None = DEFAULT_CONTROL,
    ready: asyncio.Event | None = None,
    *,
    extra_sites: int = 0,
) -> None:
    """Serve the lab until cancelled, then close it; ``ready`` is set once all listens."""
    lab = Lab(state_dir, control=control, extra_sites=extra_sites)
    await lab.start()
    try:
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await lab.close()
