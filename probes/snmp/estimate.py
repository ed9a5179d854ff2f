"""Whether an SNMP poll can fit in its timeout and interval: ``netmon check-config``'s words
(no I/O; it imports no part of the poller).

What it checks, per snmp target, against the shortest interval the target gets (a phase may
shorten it):

- a ``timeout`` above the interval without ``snmp.timeout_over_interval``: the scheduler cuts
  it to the interval, so say so;
- with ``snmp.expected_interfaces`` (the agent's port count, which only the agent knows): the
  requests one poll makes (one GET, the walk of every IF-MIB column at ``max_repetitions``
  rows a request, one more to see the table's end, the BGP walk, the extra OIDs' GETs) times
  ``REQUEST_SECONDS``, an agent's time for one GETBULK of that size, against the poll's
  budget (90 % of the timeout) and the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from probes.options import SnmpOptions

__all__ = ["REQUEST_SECONDS", "Estimate", "estimate", "problems"]

# One GETBULK of 25 rows x 15 IF-MIB columns, as a carrier router's agent answers it (its
# SNMP process is slow beside its forwarding): 0.1 s is on the slow side of what NOCs see.
REQUEST_SECONDS: Final = 0.1
_BUDGET_SHARE: Final = 0.9  # probes.snmp.probe keeps within 90 % of the timeout
_GET_BATCH: Final = 32


@dataclass(frozen=True, slots=True)
class Estimate:
    requests: int
    seconds: float


def estimate(opts: SnmpOptions, interfaces: int) -> Estimate:
    """One poll's requests and time for an agent with ``interfaces`` interfaces."""
    walk = math.ceil((interfaces + 1) / opts.max_repetitions)
    requests = 1 + walk + (1 if opts.bgp else 0) + math.ceil(len(opts.oids) / _GET_BATCH)
    return Estimate(requests, requests * REQUEST_SECONDS)


def problems(opts: SnmpOptions, timeout: float, interval: float) -> list[str]:
    """What does not fit, in words; ``timeout`` as configured, ``interval`` the shortest."""
    found: list[str] = []
    effective = timeout
    if timeout > interval and not opts.timeout_over_interval:
        effective = interval
        found.append(
            f"timeout {timeout:g} s is cut to the interval, {interval:g} s; set "
            "snmp.timeout_over_interval = true to let a long walk finish (the slots it "
            "covers are skipped)"
        )
    if opts.expected_interfaces is None:
        return found
    guess = estimate(opts, opts.expected_interfaces)
    budget = _BUDGET_SHARE * effective
    how = (
        f"a poll of about {opts.expected_interfaces} interfaces takes about {guess.requests} "
        f"requests ({opts.max_repetitions} rows each), {guess.seconds:g} s at "
        f"{REQUEST_SECONDS:g} s a request"
    )
    if guess.seconds > budget:
        found.append(
            f"{how}: more than the poll's {budget:g} s (90 % of its {effective:g} s timeout); "
            "raise timeout (with snmp.timeout_over_interval past the interval), raise "
            "snmp.max_repetitions, or keep fewer interfaces (snmp.interfaces)"
        )
    elif guess.seconds > interval:
        found.append(
            f"{how}: longer than the {interval:g} s interval, so every other slot is skipped"
        )
    return found
