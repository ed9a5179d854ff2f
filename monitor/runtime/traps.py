"""The SNMP trap receiver: v1, v2c and v3 traps and informs, turned into store events at once.

A trap is matched to its snmp target(s) by the source address of the datagram only: the
target's ``host`` or one of its ``snmp.trap_sources`` (an agent behind NAT). An address the trap
claims inside itself (a v1 agent-addr, a ``snmpTrapAddress.0`` varbind) is anyone's to forge
and is never believed. A v1/v2c trap must carry the community of the target it is credited to
(``snmp.trap_community``, else ``[traps] community``; with neither, it is refused); a v3 trap
one of the ``[[traps.users]]``. Then:

- linkDown / linkUp: that interface's ``ifOperStatus`` sample (and ``ifAdminStatus`` when the
  trap carries it: a port an operator shut is no outage) changes in the store now
  (``Store.patch_samples``; the next poll confirms it) and a ``TargetEvent`` is published with
  labels ``ifIndex`` and ``ifName``;
- coldStart / warmStart: ``probe_snmp_agent_restarted`` becomes 1 and ``sysUpTime`` the
  trap's own sysUpTime.0 (0 when it has none: the agent just started), so that a rule reading
  ``sysUpTime < prev(sysUpTime)`` sees the restart at once; an event is published;
- BGP4-MIB bgpBackwardTransition / bgpEstablished: ``bgpPeerState{peer}`` is patched, an
  event is published with label ``peer``;
- anything else: an event named after the trap OID.

Events (``source = "snmp_trap"``) are what the alert engine consumes as immediate signals.
Counted: ``netmon_snmp_traps_total{target,trap}``, ``netmon_snmp_traps_unknown_total`` (no
target has that address, dropped) and ``netmon_snmp_traps_dropped_total{reason}`` (what pysnmp
threw away: malformed datagrams, unknown communities, USM failures; and what this receiver did:
``undecodable`` when pysnmp itself fails on a datagram, ``wrong_community`` when a community is
not the one of the target the source address names). Nothing a sender does can stop the
receiver or flood the log: every failure is counted, never raised into the loop, and its log
lines are rate-limited per reason (``LogLimiter``).

pysnmp (v7) does the protocol work: one engine per receiver, made at ``start()`` and again only
when the ``[traps]`` settings change; numeric OIDs only, no MIB lookups. It acknowledges
informs itself. v3 *traps* are authenticated with keys localized to the sending agent's engine
ID, so each USM user lists the engine IDs of the agents that send it traps; v3 *informs* use
this receiver's engine ID and need none.

Settings: ``[traps]``, in ``monitor.config.traps``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitor.config import Settings, Target
from monitor.config.traps import TrapSettings, TrapUser
from monitor.runtime.store import Store, TargetEvent
from probes.options import SnmpOptions

__all__ = ["TRAP_NAMES", "LogLimiter", "TrapReceiver"]

log = logging.getLogger(__name__)

SYS_UPTIME: Final = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID: Final = "1.3.6.1.6.3.1.1.4.1.0"
TRAP_NAMES: Final = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
    "1.3.6.1.6.3.1.1.5.5": "authenticationFailure",
    "1.3.6.1.2.1.15.0.1": "bgpEstablished",
    "1.3.6.1.2.1.15.0.2": "bgpBackwardTransition",
    "1.3.6.1.2.1.15.7.1": "bgpEstablished",  # BGP4-MIB v1 (RFC 1657) OIDs
    "1.3.6.1.2.1.15.7.2": "bgpBackwardTransition",
}
_IF_ENTRY: Final = "1.3.6.1.2.1.2.2.1."
_SYS_UPTIME: Final = "1.3.6.1.2.1.1.3.0"
_IF_INDEX: Final = _IF_ENTRY + "1."
_IF_OPER: Final = _IF_ENTRY + "8."
_BGP_PEER_STATE: Final = "1.3.6.1.2.1.15.3.1.2."
# Distinct trap labels kept per target; more (a sender making up OIDs) count as "other".
_MAX_TRAPS_PER_TARGET: Final = 64
# Log lines per reason let through per interval; the rest are counted and told in the next one.
_LOG_BURST: Final = 5
_LOG_INTERVAL: Final = 60.0
_REQUEST_CONTEXT: Final = "rfc3412.receiveMessage:request"
_COMMUNITY_MODELS: Final = (1, 2)  # pysnmp's security models for v1 and v2c
_DROP_COUNTERS: Final = {
    "malformed": ("__SNMPv2-MIB", "snmpInASNParseErrs"),
    "bad_version": ("__SNMPv2-MIB", "snmpInBadVersions"),
    "unknown_community": ("__SNMPv2-MIB", "snmpInBadCommunityNames"),
    "unknown_user": ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"),
    "wrong_digest": ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"),
    "unknown_engine_id": ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs"),
    "not_in_time_window": ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows"),
    "decryption_error": ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"),
    "unsupported_security_level": ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels"),
}


def _normal(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class LogLimiter:
    """At most ``burst`` lines per ``interval`` seconds for each reason; the lines held back are
    counted, and the next line let through for that reason says how many there were."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = _LOG_BURST,
        interval: float = _LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._burst = burst
        self._interval = interval
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # reason: (window start, lines)
        self.suppressed: Counter[str] = Counter()  # held back since the last line let through

    def log(self, level: int, reason: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``reason`` had its lines this interval."""
        now = self._clock()
        start, lines = self._windows.get(reason, (now, 0))
        if now - start >= self._interval:
            start, lines = now, 0
        if lines >= self._burst:
            self._windows[reason] = (start, lines)
            self.suppressed[reason] += 1
            return False
        self._windows[reason] = (start, lines + 1)
        held = self.suppressed.pop(reason, 0)
        if held:
            message += " (%d more like it not logged)"
            args = (*args, held)
        self._logger.log(level, message, *args)
        return True


# --------------------------------------------------------------------------- receiver


class TrapReceiver:
    """Receives traps for the targets of ``settings`` and reports them to ``store``.

    ``start()`` binds and returns (a bind failure is logged, kept in ``error`` and shown as
    ``netmon_snmp_trap_receiver_up 0``: the rest of netmon runs on); ``update(settings)``
    adopts a reload (targets at once; a changed ``[traps]`` table re-binds in a task);
    ``aclose()`` stops. ``metrics()`` yields the counters for /metrics.
    """

    def __init__(self, settings: Settings, store: Store, traps: TrapSettings | None = None) -> None:
        self._store = store
        self._traps = traps if traps is not None else _traps_of(settings)
        self._by_address: dict[str, list[str]] = {}
        # The v1/v2c community each target's traps must carry, when it sets its own.
        self._target_communities: dict[str, str] = {}
        self._communities: dict[str, str] = {}  # pysnmp security name: community in the engine
        self._serial = itertools.count(1)
        self._names: list[tuple[str, str]] = []  # (host name, target) still to resolve
        self._engine: Any = None
        self._receiver: Any = None
        self._resolver: asyncio.Task[None] | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        self.unknown = 0
        self.errors = 0
        self._dropped_before: Counter[str] = Counter()  # from engines already closed
        self._dropped_here: Counter[str] = Counter()  # what this receiver itself refused
        self._log = LogLimiter(log)
        self.error: str | None = None
        self.restarting: asyncio.Future[None] | None = None
        self.bound: tuple[str, int] | None = None
        self._started = False
        self._targets(settings.targets)

    @property
    def settings(self) -> TrapSettings:
        return self._traps

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._started = True
        self._schedule_resolve()
        if not self._traps.enabled:
            return
        host, port = self._traps.address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((host, port))
            sock.setblocking(False)
            await self._open_engine(sock, family)
        except OSError as exc:
            sock.close()
            self.error = f"cannot listen for traps on udp {self._traps.listen}: {exc.strerror}"
            log.error("%s (traps.listen)", self.error)
            return
        except BaseException:
            sock.close()
            raise
        self.error = None
        bound = sock.getsockname()
        self.bound = (str(bound[0]), int(bound[1]))
        log.info("receiving SNMP traps on udp %s", self._traps.listen)

    async def _open_engine(self, sock: socket.socket, family: int) -> None:
        from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
        from pysnmp.entity import config, engine  # type: ignore[import-untyped]
        from pysnmp.entity.rfc3413 import ntfrcv  # type: ignore[import-untyped]
        from pysnmp.proto.api import v2c  # type: ignore[import-untyped]

        snmp_engine = engine.SnmpEngine()
        module = udp6 if family == socket.AF_INET6 else udp
        transport = module.UdpTransport().open_server_mode(sock=sock)
        config.add_transport(snmp_engine, module.DOMAIN_NAME, transport)
        # pysnmp raises out of its datagram callback on some input (``a0 00``): that would
        # go uncounted to asyncio's handler, a traceback per datagram. Decode under a guard.
        dispatcher = snmp_engine.transport_dispatcher
        dispatcher.unregister_recv_callback()
        dispatcher.register_recv_callback(self._guarded_receive(snmp_engine))
        await transport._lport  # the endpoint exists before start() returns
        self._communities = {}
        self._sync_communities(snmp_engine)
        for user in self._traps.users:
            auth_proto, auth_key, priv_proto, priv_key = _usm(config, user)
            for engine_id in [None, *user.engine_id_bytes()]:
                config.add_v3_user(
                    snmp_engine,
                    user.name,
                    auth_proto,
                    auth_key,
                    priv_proto,
                    priv_key,
                    securityEngineId=None if engine_id is None else v2c.OctetString(engine_id),
                )
        self._receiver = ntfrcv.NotificationReceiver(snmp_engine, self._on_notification)
        self._engine = snmp_engine

    def _guarded_receive(self, snmp_engine: Any) -> Callable[[Any, Any, Any, bytes], None]:
        message_dispatcher = snmp_engine.message_dispatcher

        def receive(_dispatcher: Any, domain: Any, address: Any, datagram: bytes) -> None:
            try:
                message_dispatcher.receive_message(snmp_engine, domain, address, datagram)
            except Exception as exc:  # a datagram must never reach asyncio's handler
                self._dropped_here["undecodable"] += 1
                self._log.log(
                    logging.WARNING,
                    "undecodable",
                    "traps: dropped an undecodable datagram of %d bytes from %s (%s)",
                    len(datagram),
                    _normal(str(address[0])) if address else "?",
                    type(exc).__name__,
                )

        return receive

    def _wanted_communities(self) -> set[str]:
        wanted = set(self._target_communities.values())
        default = self._traps.community_secret
        if default is not None:
            wanted.add(default.get_secret_value())
        return wanted

    def _sync_communities(self, snmp_engine: Any) -> None:
        """Make the engine accept exactly the communities some target's traps may carry."""
        from pysnmp.entity import config

        wanted = self._wanted_communities()
        for security_name, community in list(self._communities.items()):
            if community not in wanted:
                config.delete_v1_system(snmp_engine, security_name)
                del self._communities[security_name]
        known = set(self._communities.values())
        for community in sorted(wanted - known):
            # The index names the community in the engine; no secret in it.
            security_name = f"netmon-community-{next(self._serial)}"
            config.add_v1_system(snmp_engine, security_name, community)
            self._communities[security_name] = community

    async def aclose(self) -> None:
        self._started = False
        if self.restarting is not None and not self.restarting.done():
            self.restarting.cancel()
            await asyncio.gather(self.restarting, return_exceptions=True)
        if self._resolver is not None:
            self._resolver.cancel()
            self._resolver = None
        self._close_engine()

    def _close_engine(self) -> None:
        snmp_engine, self._engine = self._engine, None
        if snmp_engine is None:
            return
        self._dropped_before.update(self._dropped_now(snmp_engine))
        try:
            if self._receiver is not None:
                self._receiver.close(snmp_engine)
            snmp_engine.close_dispatcher()
        except Exception:  # pysnmp internals: never let closing fail the service
            log.exception("error while closing the trap receiver")
        self._receiver = None
        self.bound = None

    def update(self, settings: Settings, traps: TrapSettings | None = None) -> None:
        """Adopt reloaded settings: the target map at once; a changed ``[traps]`` table
        re-binds in the background (``restarting`` is that task)."""
        new = traps if traps is not None else _traps_of(settings)
        self._targets(settings.targets)
        if new == self._traps and self._engine is not None:
            self._sync_communities(self._engine)
        if new != self._traps:
            self._traps = new
            if self._started:
                self._close_engine()
                self.restarting = asyncio.ensure_future(self.start())
                return
        if self._started:
            self._schedule_resolve()

    # ---------------------------------------------------------------- targets

    def _targets(self, targets: Sequence[Target]) -> None:
        by_address: dict[str, list[str]] = {}
        names: list[tuple[str, str]] = []
        communities: dict[str, str] = {}
        for target in targets:
            if target.kind != "snmp" or not target.host:
                continue
            options = target.options
            if isinstance(options, SnmpOptions):
                own = options.trap_community_secret
                if own is not None:
                    communities[target.name] = own.get_secret_value()
                for source in options.trap_sources:
                    listed = by_address.setdefault(_normal(source), [])
                    if target.name not in listed:
                        listed.append(target.name)
            try:
                address = str(ipaddress.ip_address(target.host))
            except ValueError:
                names.append((target.host, target.name))
                continue
            listed = by_address.setdefault(_normal(address), [])
            if target.name not in listed:
                listed.append(target.name)
        self._by_address = by_address
        self._names = names
        self._target_communities = communities

    def _schedule_resolve(self) -> None:
        if not self._names:
            return
        if self._resolver is not None:
            self._resolver.cancel()
        self._resolver = asyncio.create_task(self._resolve(list(self._names)))

    async def _resolve(self, names: list[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()
        for host, target in names:
            try:
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
            except (OSError, UnicodeError) as exc:
                log.warning("traps: cannot resolve %s (target %s): %s", host, target, exc)
                continue
            for info in infos:
                address = _normal(str(info[4][0]))
                listed = self._by_address.setdefault(address, [])
                if target not in listed:
                    listed.append(target)

    # ---------------------------------------------------------------- traps

    def _on_notification(
        self,
        snmp_engine: Any,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        varbinds: Any,
        cb_ctx: Any,
    ) -> None:
        try:
            _domain, source = snmp_engine.message_dispatcher.get_transport_info(state_reference)
            request = snmp_engine.observer.get_execution_context(_REQUEST_CONTEXT)
            community = None
            if int(request["securityModel"]) in _COMMUNITY_MODELS:
                community = self._communities.get(str(request["securityName"]))
                if community is None:  # no longer wanted (a reload); not in the engine for long
                    self._dropped_here["wrong_community"] += 1
                    return
            values = {str(oid): value for oid, value in varbinds}
            self.handle(str(source[0]), values, community=community)
        except Exception as exc:  # a trap we cannot make sense of must not stop the next one
            self.errors += 1
            self._log.log(logging.ERROR, "error", "traps: could not handle a notification: %r", exc)

    def handle(
        self,
        source: str,
        values: dict[str, Any],
        now: float | None = None,
        *,
        community: str | None = None,
    ) -> list[str]:
        """Report one notification (varbinds by OID) from ``source``, the datagram's source
        address; the targets it is credited to. ``community``: the v1/v2c community it carried,
        None for a v3 notification (which pysnmp authenticated with a [traps] user)."""
        at = time.time() if now is None else now
        source = _normal(source)
        targets = self._by_address.get(source)
        if not targets:
            self.unknown += 1
            self._log.log(
                logging.DEBUG,
                "unknown",
                "traps: dropped a notification from %s, which is no snmp target's address",
                source,
            )
            return []
        if community is not None:
            default = self._traps.community_secret
            fallback = default.get_secret_value() if default is not None else None
            targets = [
                name
                for name in targets
                if self._target_communities.get(name, fallback) == community
            ]
            if not targets:
                self._dropped_here["wrong_community"] += 1
                self._log.log(
                    logging.INFO,
                    "wrong_community",
                    "traps: dropped a trap from %s: not the community of its target",
                    source,
                )
                return []
        trap_oid = str(values.get(SNMP_TRAP_OID, "")).strip(".")
        trap = TRAP_NAMES.get(trap_oid, trap_oid or "unknown")
        for name in targets:
            label = trap
            if (name, trap) not in self.counts and (
                sum(1 for t, _ in self.counts if t == name) >= _MAX_TRAPS_PER_TARGET
            ):
                label = "other"
            self.counts[(name, label)] += 1
            self._apply(name, trap, source, values, at)
        return list(targets)

    def _apply(self, name: str, trap: str, source: str, values: dict[str, Any], at: float) -> None:

        store = self._store
        labels: tuple[tuple[str, str], ...] = ()
        detail = f"{trap} from {source}"
        if trap in ("linkDown", "linkUp"):
            index = _if_index(values)
            if index is not None:
                status = _int(values.get(_IF_OPER + index))
                if status is None:
                    status = 2 if trap == "linkDown" else 1
                updates: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
                    ("ifOperStatus", (("ifIndex", index),)): float(status)
                }
                admin = _int(values.get(_IF_ENTRY + "7." + index))
                if admin is not None:
                    updates[("ifAdminStatus", (("ifIndex", index),))] = float(admin)
                store.patch_samples(name, updates)
                if_name = _if_name(store, name, index)
                labels = (("ifIndex", index), ("ifName", if_name))
                detail += f": ifIndex {index}" + (f" ({if_name})" if if_name else "")
        elif trap in ("coldStart", "warmStart"):
            ticks = _int(values.get(_SYS_UPTIME))
            store.patch_samples(
                name,
                {
                    ("probe_snmp_agent_restarted", ()): 1.0,
                    ("sysUpTime", ()): (ticks or 0) / 100,
                },
            )
        elif trap.startswith("bgp"):
            for oid, value in values.items():
                if oid.startswith(_BGP_PEER_STATE):
                    peer = oid[len(_BGP_PEER_STATE) :]
                    state = _int(value)
                    if state is not None:
                        store.patch_samples(name, {("bgpPeerState", (("peer", peer),)): state})
                    labels = (("peer", peer),)
                    detail += f": peer {peer}"
        store.publish(TargetEvent(name, "snmp_trap", trap, at, labels, detail))

    # ---------------------------------------------------------------- metrics

    def _dropped_now(self, snmp_engine: Any) -> Counter[str]:
        counts: Counter[str] = Counter()
        builder = snmp_engine.get_mib_builder()
        for reason, (module, symbol) in _DROP_COUNTERS.items():
            try:
                counts[reason] = int(builder.import_symbols(module, symbol)[0].syntax)
            except Exception:  # a pysnmp without that counter
                continue
        return counts

    def dropped(self) -> Counter[str]:
        counts = Counter(self._dropped_before)
        counts.update(self._dropped_here)
        for reason in ("undecodable", "wrong_community"):
            counts[reason] += 0
        if self._engine is not None:
            counts.update(self._dropped_now(self._engine))
        return counts

    def metrics(self) -> Iterable[Metric]:
        traps = CounterMetricFamily(
            "netmon_snmp_traps",
            "SNMP traps and informs received from snmp targets, by target and trap.",
            labels=["target", "trap"],
        )
        for (target, trap), count in sorted(self.counts.items()):
            traps.add_metric([target, trap], count)
        yield traps
        unknown = CounterMetricFamily(
            "netmon_snmp_traps_unknown",
            "SNMP traps and informs from addresses that are no snmp target's.",
        )
        unknown.add_metric([], self.unknown)
        yield unknown
        dropped = CounterMetricFamily(
            "netmon_snmp_traps_dropped",
            "Datagrams the trap receiver dropped, by reason: malformed or undecodable, unknown"
            " or wrong community, USM failures.",
            labels=["reason"],
        )
        for reason, count in sorted(self.dropped().items()):
            dropped.add_metric([reason], count)
        yield dropped
        up = GaugeMetricFamily(
            "netmon_snmp_trap_receiver_up",
            "Whether the trap receiver listens (1) or could not bind its address (0).",
        )
        up.add_metric([], 1.0 if self._engine is not None else 0.0)
        yield up


def _traps_of(settings: Settings) -> TrapSettings:
    return settings.traps


def _usm(config: Any, user: TrapUser) -> tuple[Any, str | None, Any, str | None]:
    auth_protocols = {
        None: config.USM_AUTH_NONE,
        "MD5": config.USM_AUTH_HMAC96_MD5,
        "SHA": config.USM_AUTH_HMAC96_SHA,
        "SHA-224": config.USM_AUTH_HMAC128_SHA224,
        "SHA-256": config.USM_AUTH_HMAC192_SHA256,
        "SHA-384": config.USM_AUTH_HMAC256_SHA384,
        "SHA-512": config.USM_AUTH_HMAC384_SHA512,
    }
    priv_protocols = {
        None: config.USM_PRIV_NONE,
        "DES": config.USM_PRIV_CBC56_DES,
        "AES": config.USM_PRIV_CFB128_AES,
        "AES-128": config.USM_PRIV_CFB128_AES,
        "AES-192": config.USM_PRIV_CFB192_AES_BLUMENTHAL,
        "AES-256": config.USM_PRIV_CFB256_AES_BLUMENTHAL,
        "AES-192-C": config.USM_PRIV_CFB192_AES,
        "AES-256-C": config.USM_PRIV_CFB256_AES,
    }
    auth = user.auth_key_secret
    priv = user.priv_key_secret
    return (
        auth_protocols[user.auth_protocol],
        auth.get_secret_value() if auth is not None else None,
        priv_protocols[user.priv_protocol],
        priv.get_secret_value() if priv is not None else None,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _if_index(values: dict[str, Any]) -> str | None:
    for oid, value in values.items():
        if oid.startswith(_IF_INDEX):
            number = _int(value)
            return str(number) if number is not None else oid[len(_IF_INDEX) :]
    for oid in values:  # ifAdminStatus.N, ifOperStatus.N, ifDescr.N: the index is N
        if oid.startswith(_IF_ENTRY):
            rest = oid[len(_IF_ENTRY) :].split(".", 1)
            if len(rest) == 2 and rest[1].isdigit():
                return rest[1]
    return None


def _if_name(store: Store, target: str, index: str) -> str:
    state = store.get(target)
    latest = state.latest if state is not None else None
    if latest is None:
        return ""
    for sample in latest.result.samples:
        if sample.name == "ifOperStatus":
            labels = dict(sample.labels)
            if labels.get("ifIndex") == index:
                return labels.get("ifName") or labels.get("ifDescr", "")
    return ""
