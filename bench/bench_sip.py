"""SIP: CPU per probe against the floor, a plain UDP round trip of the same size.

Run by hand: ``.venv/bin/python bench/bench_sip.py [--probes 500] [--rounds 5]`` (under a
minute; needs Debian's kamailio and kamailio-tls-modules, ``make debs-test``). Loopback only
(127.0.8.50, 127.0.8.51).

- **sip**: ``probes.sip.probe`` against kamailio (OPTIONS answered 200 by sl_send_reply, the
  registrar of tests/support/kamailio.py), ``--probes`` probes a round, 50 in flight; over
  UDP, TCP, TLS, and UDP with the REGISTER (digest MD5: OPTIONS, REGISTER, 401, REGISTER with
  credentials, 200, the removal and its 200). Each probe opens its own socket (or connection,
  or TLS session: no resumption), as it does in service.
- **floor**: the same number of plain UDP round trips 50 at a time, each on its own connected
  datagram endpoint (what the probe's UDP transport costs before any SIP), sending as many
  bytes as the probe's OPTIONS and answered with as many bytes as kamailio's 200, by an echo
  server in another process.

CPU is this process's ``time.process_time()`` over a round, divided by the probes; the
servers run in other processes and are not counted. Medians of ``--rounds`` rounds (at least
3). Results: a table, and bench/results/sip.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import Target  # noqa: E402
from probes import sip  # noqa: E402
from probes.context import ProbeContext  # noqa: E402
from tests.support.kamailio import PASSWORD, USER, Kamailio, kamailio_missing  # noqa: E402

HOST = "127.0.8.50"
ECHO_HOST = "127.0.8.51"
IN_FLIGHT = 50

ECHO_SERVER = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 0))
print(sock.getsockname()[1], flush=True)
answer = b"x" * int(sys.argv[2])
while True:
    data, addr = sock.recvfrom(65535)
    sock.sendto(answer, addr)
"""


def target(port: int, transport: str, ca_file: str, register: bool) -> Target:
    options: dict[str, Any] = {"transport": transport, "port": port, "ca_file": ca_file}
    if register:
        options["register"] = {"user": USER, "password": PASSWORD}
    return Target.model_validate(
        {"name": "bench-pbx", "kind": "sip", "host": HOST, "timeout": "5s", "sip": options}
    )


async def cpu_per_call(call: Callable[[], Awaitable[bool]], count: int) -> tuple[float, int]:
    """(CPU µs per call, failures), ``count`` calls IN_FLIGHT at a time."""
    failed = 0
    start = time.process_time()
    for first in range(0, count, IN_FLIGHT):
        results = await asyncio.gather(*(call() for _ in range(min(IN_FLIGHT, count - first))))
        failed += results.count(False)
    return (time.process_time() - start) / count * 1e6, failed


async def udp_round_trip(port: int, size: int) -> bool:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=(ECHO_HOST, port))
    try:
        transport.sendto(b"o" * size)
        async with asyncio.timeout(2):
            await got
        return True
    except TimeoutError:
        return False
    finally:
        transport.close()


async def sizes(t: Target, ctx: ProbeContext) -> tuple[int, int]:
    """The bytes of the probe's OPTIONS and of kamailio's 200, seen on the probe's socket."""
    sent: list[int] = []
    received: list[int] = []
    send, receive = sip._UdpChannel.send, sip._UdpProtocol.datagram_received

    def counting_send(self: sip._UdpChannel, data: bytes) -> None:
        sent.append(len(data))
        send(self, data)

    def counting_receive(self: sip._UdpProtocol, data: bytes, addr: object) -> None:
        received.append(len(data))
        receive(self, data, addr)

    sip._UdpChannel.send = counting_send  # type: ignore[method-assign]
    sip._UdpProtocol.datagram_received = counting_receive  # type: ignore[method-assign]
    try:
        result = await sip.probe(t, ctx)
    finally:
        sip._UdpChannel.send = send  # type: ignore[method-assign]
        sip._UdpProtocol.datagram_received = receive  # type: ignore[method-assign]
    assert result.success and len(sent) == len(received) == 1, result.detail
    return sent[0], received[0]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "sip.json")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds: at least 3 (the figures are medians)")
    missing = kamailio_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="netmon-bench-sip-") as tmp:
        pbx = Kamailio(Path(tmp), HOST)
        await pbx.start()
        echo: asyncio.subprocess.Process | None = None
        ctx = ProbeContext()
        try:
            request_size, answer_size = await sizes(target(pbx.port, "udp", "", False), ctx)
            echo = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                ECHO_SERVER,
                ECHO_HOST,
                str(answer_size),
                stdout=asyncio.subprocess.PIPE,
            )
            assert echo.stdout is not None
            echo_port = int(await echo.stdout.readline())

            cases: dict[str, Callable[[], Awaitable[bool]]] = {}
            for name, transport, register in (
                ("sip udp", "udp", False),
                ("sip tcp", "tcp", False),
                ("sip tls", "tls", False),
                ("sip udp + register", "udp", True),
            ):
                port = pbx.tls_port if transport == "tls" else pbx.port
                t = target(port, transport, pbx.ca_file, register)

                async def one(t: Target = t) -> bool:
                    return (await sip.probe(t, ctx)).success

                cases[name] = one

            async def floor() -> bool:
                return await udp_round_trip(echo_port, request_size)

            cases = {"floor: udp round trip": floor, **cases}
            for call in cases.values():  # warm up: imports, the TLS context, caches
                await cpu_per_call(call, IN_FLIGHT)
            runs: dict[str, list[float]] = {name: [] for name in cases}
            failures: dict[str, int] = dict.fromkeys(cases, 0)
            for _ in range(args.rounds):
                for name, call in cases.items():
                    cpu, failed = await cpu_per_call(call, args.probes)
                    runs[name].append(cpu)
                    failures[name] += failed
        finally:
            await ctx.aclose()
            if echo is not None:
                echo.kill()
                await echo.wait()
            await pbx.stop()

    floor_cpu = statistics.median(runs["floor: udp round trip"])
    print(
        f"SIP probe CPU, {args.probes} probes a round, {IN_FLIGHT} in flight, "
        f"median of {args.rounds} rounds (OPTIONS {request_size} B, 200 {answer_size} B)"
    )
    print(f"{'case':24} {'CPU/probe µs':>13} {'× floor':>8} {'failed':>7}  rounds µs")
    table: dict[str, Any] = {}
    for name, values in runs.items():
        median = statistics.median(values)
        table[name] = {
            "cpu_us_median": round(median, 1),
            "cpu_us_rounds": [round(v, 1) for v in values],
            "x_floor": round(median / floor_cpu, 2),
            "failed": failures[name],
        }
        shown = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:24} {median:13.1f} {median / floor_cpu:8.2f} {failures[name]:7d}  {shown}")
    version_of = await asyncio.create_subprocess_exec(
        "kamailio", "-v", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    version = (await version_of.communicate())[0].decode().split("\n")[0]
    result = {
        "probes_per_round": args.probes,
        "rounds": args.rounds,
        "in_flight": IN_FLIGHT,
        "request_bytes": request_size,
        "answer_bytes": answer_size,
        "cases": table,
        "machine": {"python": platform.python_version(), "kernel": platform.release()},
        "kamailio": version,
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
