"""Serve recorded MIB tables from Debian's snmpd: its ``pass_persist`` runs this file.

    pass_persist .1.3.6.1.4.1 /usr/bin/python3 recording.py huawei-bgp.snmprec

A recording (``tests/probes/snmp/recordings/*.snmprec``) has one value a line,
``OID|TYPE|VALUE``, TYPE being the BER tag in decimal as snmpsim's recordings write it: 2
INTEGER, 4 OCTET STRING (the text as UTF-8), 4x OCTET STRING in hex (any bytes: GBK text), 6
OBJECT IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64. ``#``
starts a comment. The recordings here were written from the MIBs' text (OIDs and index
encodings), shaped as the vendors' agents answer.

The pass_persist protocol (snmpd.conf(5)): snmpd writes ``PING``, ``get`` or ``getnext`` and an
OID, one a line; this answers ``PONG``, or the OID, its type and its value on three lines, or
``NONE``. Standard library only: snmpd starts it with the tests' interpreter.
"""

from __future__ import annotations

import bisect
import sys
from pathlib import Path

__all__ = ["load", "main"]

_TYPES = {
    "2": "integer",
    "4": "string",
    "4x": "octet",
    "6": "objectid",
    "64": "ipaddress",
    "65": "counter",
    "66": "gauge",
    "67": "timeticks",
    "70": "counter64",
}


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.strip(".").split("."))


def load(paths: list[Path]) -> dict[tuple[int, ...], tuple[str, str]]:
    """OID → (pass_persist type, value) of every line of the recordings."""
    values: dict[tuple[int, ...], tuple[str, str]] = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            oid, tag, value = line.split("|", 2)
            kind = _TYPES.get(tag)
            if kind is None:
                raise ValueError(f"{path}:{number}: unknown type {tag!r}")
            if kind == "octet":  # pass_persist's octet: hex pairs, space separated
                raw = bytes.fromhex(value)
                value = " ".join(f"{b:02X}" for b in raw)
            values[_key(oid)] = (kind, value)
    return values


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent / "recordings"
    values = load([here / name for name in argv])
    keys = sorted(values)
    lines = iter(sys.stdin.readline, "")
    out = sys.stdout
    for command in lines:
        command = command.strip()
        if command == "PING":
            out.write("PONG\n")
        elif command in ("get", "getnext"):
            oid = next(lines, "").strip()
            try:
                key = _key(oid)
            except ValueError:
                out.write("NONE\n")
                out.flush()
                continue
            if command == "get":
                found = key if key in values else None
            else:
                at = bisect.bisect_right(keys, key)
                found = keys[at] if at < len(keys) else None
            if found is None:
                out.write("NONE\n")
            else:
                kind, value = values[found]
                out.write("." + ".".join(map(str, found)) + f"\n{kind}\n{value}\n")
        elif command == "set":
            next(lines, "")
            next(lines, "")
            out.write("not-writable\n")
        else:
            out.write("NONE\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
