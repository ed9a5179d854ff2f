"""Name resolution shared by every kind that resolves a host: the address family to use.

As blackbox_exporter's ``chooseProtocol``: ``preferred_ip_protocol`` ("ip4" or "ip6") picks the
family; with ``ip_protocol_fallback`` the other family is used when the name has no address of
the preferred one, without it such a name fails. An IP literal is taken as it is (its own
family, whatever is preferred). Samples: ``probe_ip_protocol`` (4 or 6) and
``probe_ip_addr_hash`` (FNV-1a 32 of the address's 4 or 16 bytes, blackbox's ``ipHash``: a
change of address shows as a change of value).

Names are looked up through ``ctx.shared(LOOKUP_KEY, ...)``: the system resolver
(``getaddrinfo`` in the loop's executor) unless something put another ``Lookup`` there first
(the tests put a hosts table). ``probes/http.py`` calls ``resolve`` the same way for its
resolution step.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from probes.base import Sample
from probes.context import Closer, ProbeContext

__all__ = [
    "LOOKUP_KEY",
    "Lookup",
    "ResolveError",
    "Resolved",
    "hosts_lookup",
    "ip_addr_hash",
    "literal",
    "resolve",
    "system_lookup",
]

# (host) → every address of the name, IPv4 and IPv6, in the resolver's order.
Lookup = Callable[[str], Awaitable[list[str]]]
LOOKUP_KEY = "resolve.lookup"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


class ResolveError(Exception):
    """The name has no usable address; the message is a sentence for the probe's detail."""


@dataclass(frozen=True, slots=True)
class Resolved:
    family: int  # socket.AF_INET or socket.AF_INET6
    address: str
    version: int  # 4 or 6
    literal: bool  # the host was an IP literal: nothing was looked up
    fell_back: bool  # the preferred family had no address; this is the other one
    samples: tuple[Sample, ...]  # probe_ip_protocol, probe_ip_addr_hash


def ip_addr_hash(address: str) -> float:
    """blackbox_exporter's ``ipHash``: FNV-1a 32 of the 4 (IPv4) or 16 (IPv6) address bytes."""
    h = _FNV_OFFSET
    for byte in ipaddress.ip_address(address).packed:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return float(h)


@functools.lru_cache(maxsize=16384)
def _resolved(address: str, literal: bool, fell_back: bool) -> Resolved:
    ip = ipaddress.ip_address(address)
    # An IPv4-mapped or scoped form is kept as written; the family follows the version.
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    samples = (
        Sample("probe_ip_protocol", float(ip.version)),
        Sample("probe_ip_addr_hash", ip_addr_hash(address)),
    )
    return Resolved(family, str(ip), ip.version, literal, fell_back, samples)


@functools.lru_cache(maxsize=16384)
def literal(host: str) -> Resolved | None:
    """The host as an IP literal (brackets allowed for IPv6), or None for a name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return None
    return _resolved(text, True, False)


async def system_lookup(host: str) -> list[str]:
    """Every address of ``host`` from the system resolver (getaddrinfo, in a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


def hosts_lookup(table: dict[str, list[str]]) -> Lookup:
    """A resolver from a table (name → addresses), as /etc/hosts: unknown names fail."""
    folded = {name.lower().rstrip("."): list(addresses) for name, addresses in table.items()}

    async def lookup(host: str) -> list[str]:
        addresses = folded.get(host.lower().rstrip("."))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return addresses

    return lookup


async def _nothing() -> None:
    return None


async def _system() -> tuple[Lookup, Closer]:
    return system_lookup, _nothing


async def resolve(
    ctx: ProbeContext, host: str, preferred: str = "ip4", fallback: bool = True
) -> Resolved:
    """The address to probe ``host`` at; ResolveError when there is none."""
    found = literal(host)
    if found is not None:
        return found
    lookup = await ctx.shared(LOOKUP_KEY, _system)
    try:
        addresses = await lookup(host)
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ResolveError(f"{host} did not resolve: {why}") from None
    want = 6 if preferred == "ip6" else 4
    other: str | None = None
    for address in addresses:
        version = ipaddress.ip_address(address.split("%", 1)[0]).version
        if version == want:
            return _resolved(address, False, False)
        if other is None:
            other = address
    if other is not None and fallback:
        return _resolved(other, False, True)
    family = f"IPv{want}"
    if other is None:
        raise ResolveError(f"{host} did not resolve: no address")
    raise ResolveError(
        f"{host} has no {family} address (only IPv{10 - want}; ip_protocol_fallback is off)"
    )
