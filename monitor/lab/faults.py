"""Fault injection: the errors the lab raises, and ICMP faults as nftables rules.

Errors (each message is one sentence for the operator)::

    LabError                   anything the lab refuses to do
    ├── UnknownTarget          no lab target has that name                (CLI exit 2, HTTP 404)
    ├── ModeNotApplicable      that mode does not apply to that target    (CLI exit 2, HTTP 400)
    └── FaultUnavailable       this machine cannot inject it (not root, no nft, nft failed)
                                                                          (CLI exit 1, HTTP 409)

Modes by kind of target:

- website (http): ``503``, ``slow``, ``deface``, ``banner-gone`` (sites with the banner),
  ``down``, and for web integrity ``inject-links``, ``inject-script``, ``cloak`` (another page
  for a crawler's user agent); the TLS site also ``tls-expiring``;
- the DNS server: ``dns-changed``, ``servfail``, ``silent``, ``garbage``;
- the SMTP-like server (tcp): ``slow``, ``down``;
- SNMP agents (routers, switches): ``iface-down`` (the uplink down, its BGP peer idle, and
  linkDown and bgpBackwardTransition traps to the trap receiver), ``agent-silent`` (no answer
  at all), ``reboot`` (silent a few seconds, then sysUpTime and counters from zero and a
  coldStart trap); see ``monitor/lab/snmp.py``;
- the congress livestream (HLS, ``monitor/lab/stream.py``): ``stalled`` (the playlists stop
  moving; the server still answers);
- the venue's PBX (SIP over UDP, ``monitor/lab/sip.py``): ``sip-down`` (no answer at all) and
  ``sip-503`` (every request answered 503 Service Unavailable);
- ICMP hosts: ``down`` (every echo request to the address dropped) and ``loss`` (about 30 %
  dropped), as rules in one nftables table the lab owns (``inet netmon_lab``). The table is made
  when the first ICMP fault is set, rewritten whole (atomically) on every change, and deleted
  when the last fault is healed, when the lab closes, and, left over from a lab that was killed,
  when the next one starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil

__all__ = [
    "LOSS_PERCENT",
    "FaultUnavailable",
    "IcmpFaults",
    "LabError",
    "ModeNotApplicable",
    "UnknownTarget",
]

_log = logging.getLogger("netmon.lab")

LOSS_PERCENT = 30
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class LabError(Exception):
    """The lab refused a request; the message says why."""


class UnknownTarget(LabError):
    pass


class ModeNotApplicable(LabError):
    pass


class FaultUnavailable(LabError):
    pass


class IcmpFaults:
    """ICMP faults on loopback addresses, as rules in the nftables table ``inet <table>``."""

    def __init__(self, table: str = "netmon_lab") -> None:
        if not _TABLE_RE.match(table):
            raise ValueError(f"{table!r} is not a valid nftables table name for the lab")
        self.table = table
        self._faults: dict[str, tuple[str, str]] = {}  # name -> (address, mode)
        self._table_exists = False

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why ICMP faults cannot be injected here, or None when they can."""
        if os.geteuid() != 0:
            return (
                "ICMP faults are nftables rules and need root: run `netmon lab` as root "
                "(website, DNS and SMTP faults work without it)"
            )
        if shutil.which("nft") is None:
            return "ICMP faults need the `nft` command (Debian package nftables), not found"
        return None

    @property
    def faults(self) -> dict[str, tuple[str, str]]:
        return dict(self._faults)

    def ruleset(self, faults: dict[str, tuple[str, str]]) -> str:
        """The nft script that replaces the table with one rule per fault (or deletes it)."""
        t = self.table
        lines = [f"add table inet {t}", f"delete table inet {t}"]
        if faults:
            lines += [
                f"add table inet {t}",
                f"add chain inet {t} input {{ type filter hook input priority -10 ; "
                "policy accept ; }",
            ]
            for name, (address, mode) in sorted(faults.items()):
                match = f"ip daddr {address} icmp type echo-request"
                if mode == "loss":
                    match += f" numgen random mod 100 < {LOSS_PERCENT}"
                comment = f'comment "netmon-lab {name} {mode}"'
                lines.append(f"add rule inet {t} input {match} counter drop {comment}")
        return "\n".join(lines) + "\n"

    async def _nft(self, script: str) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise FaultUnavailable(reason)
        try:
            process = await asyncio.create_subprocess_exec(
                "nft",
                "-f",
                "-",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise FaultUnavailable(f"cannot run nft: {exc}") from None
        _out, err = await process.communicate(script.encode())
        if process.returncode != 0:
            message = err.decode(errors="replace").strip().splitlines()
            raise FaultUnavailable(
                f"nft refused the lab's rules: {message[0] if message else process.returncode}"
            )

    async def set(self, name: str, address: str, mode: str | None) -> None:
        """Set (mode) or clear (None) the fault on ``address``; applied before returning."""
        faults = dict(self._faults)
        if mode is None:
            faults.pop(name, None)
        else:
            faults[name] = (address, mode)
        if faults == self._faults and (faults or not self._table_exists):
            return
        await self._nft(self.ruleset(faults))
        self._faults = faults
        self._table_exists = bool(faults)

    async def clear(self, *, stale: bool = False) -> None:
        """Delete the table: every fault healed. ``stale``: also when this object never made it
        (a table left by a lab that was killed); a no-op where nft cannot run."""
        if not (self._table_exists or self._faults or stale):
            return
        if self.unavailable_reason() is not None:
            return
        try:
            await self._nft(self.ruleset({}))
        except FaultUnavailable as exc:
            _log.error("could not delete nftables table inet %s: %s", self.table, exc)
            return
        self._faults = {}
        self._table_exists = False
