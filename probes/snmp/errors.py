"""What can go wrong reading an agent, one exception per cause; each message is one sentence
for the status page. Raised by the transport (``probes.snmp.transport``: no answer, refused,
unreachable, not SNMP) and by the session (``probes.snmp.session``: the agent's error-status
and USM reports)::

    SnmpError
    ├── SnmpTimeout         no answer after every try (the agent is down, or silent because
    │                       of a wrong community, a wrong priv key or an ACL)
    ├── SnmpRefused         ICMP port unreachable: nothing listens there
    ├── SnmpUnreachable     the request could not be sent (no route, ...)
    ├── SnmpAuthError       the agent's USM report (unknown user, wrong digest, ...)
    ├── SnmpAgentError      an error-status in the response (genErr, noAccess, tooBig at 1, ...)
    └── SnmpProtocolError   an answer that is not SNMP, or not an answer to the request
"""

from __future__ import annotations

__all__ = [
    "SnmpAgentError",
    "SnmpAuthError",
    "SnmpError",
    "SnmpProtocolError",
    "SnmpRefused",
    "SnmpTimeout",
    "SnmpUnreachable",
]


class SnmpError(Exception):
    """Reading the agent failed; the message says why in one sentence."""


class SnmpTimeout(SnmpError):
    def __init__(self, message: str, *, tries: int, timeout: float) -> None:
        super().__init__(message)
        self.tries, self.timeout = tries, timeout


class SnmpRefused(SnmpError):
    pass


class SnmpUnreachable(SnmpError):
    pass


class SnmpAuthError(SnmpError):
    def __init__(self, message: str, report: str | None = None) -> None:
        super().__init__(message)
        self.report = report  # e.g. "usmStatsUnknownUserNames"


class SnmpAgentError(SnmpError):
    def __init__(self, message: str, status: str, oid: str | None = None) -> None:
        super().__init__(message)
        self.status, self.oid = status, oid


class SnmpProtocolError(SnmpError):
    pass
