"""Debian's kamailio as a SIP server for the tests (no tests here).

``Kamailio(tmp_path, host).start()`` writes a minimal kamailio.cfg into a temporary directory
and runs kamailio in the foreground on ``host`` (a 127.0.x.y address): UDP and TCP on
``port``, TLS on ``tls_port`` with a trustme certificate. OPTIONS is answered 200 by the
stateless reply module; REGISTER is a registrar in memory (usrloc db_mode 0) with one user,
``USER`` / ``PASSWORD``, checked by the auth module's ``pv_www_authenticate`` against the
fixed password (no database server). ``stop()`` sends SIGTERM and waits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import uuid
from pathlib import Path

import trustme

__all__ = ["PASSWORD", "SERVER", "USER", "Kamailio", "kamailio_missing"]

USER = "101"
PASSWORD = "mật-khẩu-thử-101"  # non-ASCII on purpose: the digest hashes UTF-8
SERVER = "kamailio-netmon-test"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def kamailio_missing() -> str | None:
    """Why the kamailio tests cannot run here, or None."""
    if not os.path.exists(KAMAILIO):
        return "Debian's kamailio is not installed (scripts/ensure-debs kamailio)"
    if not os.path.exists(f"{MODULES}/tls.so"):
        return "kamailio-tls-modules is not installed"
    return None


def _free_port(host: str, kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _free_udp_tcp_port(host: str) -> int:
    """A port free for both UDP and TCP on host (kamailio listens on both)."""
    for _ in range(50):
        port = _free_port(host, socket.SOCK_STREAM)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free for UDP and TCP on {host}")


CONFIG = """#!KAMAILIO
debug=1
log_stderror=yes
memdbg=5
memlog=5
children=1
tcp_children=1
auto_aliases=no
enable_tls=yes
server_header="Server: {server}"
user_agent_header="User-Agent: {server}"
listen=udp:{host}:{port}
listen=tcp:{host}:{port}
listen=tls:{host}:{tls_port}

mpath="{modules}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "tls.so"
loadmodule "ctl.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", {min_expires})
modparam("tls", "config", "{tls_cfg}")
modparam("auth", "algorithm", "{algorithm}")
modparam("ctl", "binrpc", "unix:{ctl}")

request_route {{
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("$td", "{password}", "0")) {{
            www_challenge("$td", "0");
            exit;
        }}
        if ($au != "{user}") {{
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        consume_credentials();
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""

TLS_CONFIG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = {key}
certificate = {cert}

[client:default]
verify_certificate = no
require_certificate = no
"""


class Kamailio:
    """One kamailio process on ``host``; ``ca`` signed its TLS certificate."""

    def __init__(
        self,
        directory: Path,
        host: str,
        ca: trustme.CA | None = None,
        algorithm: str = "MD5",
        min_expires: int = 0,
    ) -> None:
        self.directory = directory
        self.algorithm = algorithm
        self.min_expires = min_expires
        self.ctl = directory / "ctl.sock"
        self.host = host
        self.ca = ca or trustme.CA()
        self.port = 0
        self.tls_port = 0
        self.ca_file = str(directory / "ca.pem")
        self._process: asyncio.subprocess.Process | None = None
        self._log = directory / "kamailio.log"

    def _write(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_udp_tcp_port(self.host)
        self.tls_port = _free_port(self.host, socket.SOCK_STREAM)
        cert = self.ca.issue_cert("pbx.daklak.lab", self.host)
        key, chain = self.directory / "key.pem", self.directory / "cert.pem"
        cert.private_key_pem.write_to_path(str(key))
        cert.cert_chain_pems[0].write_to_path(str(chain))
        self.ca.cert_pem.write_to_path(self.ca_file)
        tls_cfg = self.directory / "tls.cfg"
        tls_cfg.write_text(TLS_CONFIG.format(key=key, cert=chain))
        cfg = self.directory / "kamailio.cfg"
        cfg.write_text(
            CONFIG.format(
                server=SERVER,
                host=self.host,
                port=self.port,
                tls_port=self.tls_port,
                modules=MODULES,
                tls_cfg=tls_cfg,
                password=PASSWORD,
                user=USER,
                algorithm=self.algorithm,
                min_expires=self.min_expires,
                ctl=self.ctl,
            )
        )
        return cfg

    async def start(self) -> None:
        cfg = self._write()
        runtime = self.directory / "run"
        runtime.mkdir(exist_ok=True)
        log = self._log.open("wb")
        try:
            self._process = await asyncio.create_subprocess_exec(
                KAMAILIO,
                "-DD",
                "-E",
                "-f",
                str(cfg),
                "-Y",
                str(runtime),
                "-P",
                str(runtime / "kamailio.pid"),
                "-m",
                "16",
                "-M",
                "4",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            await self._ready()
        except BaseException:
            await self.stop()
            raise

    async def _ready(self, limit: float = 15.0) -> None:
        """Until kamailio answers an OPTIONS over UDP and accepts TLS connections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise RuntimeError(f"kamailio exited: {self.log()[-2000:]}")
            if await self._answers() and await self._accepts_tls():
                return
            if loop.time() > deadline:
                raise RuntimeError(f"kamailio did not start: {self.log()[-2000:]}")
            await asyncio.sleep(0.1)

    async def _answers(self) -> bool:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()

        class Once(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                if not got.done():
                    got.set_result(data)

            def error_received(self, exc: Exception) -> None:
                if not got.done():
                    got.set_exception(exc)

        transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=(self.host, self.port))
        try:
            branch = uuid.uuid4().hex
            local = transport.get_extra_info("sockname")
            transport.sendto(
                (
                    f"OPTIONS sip:{self.host}:{self.port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{branch};rport\r\n"
                    "Max-Forwards: 70\r\n"
                    f"From: <sip:ready@{self.host}>;tag=1\r\n"
                    f"To: <sip:{self.host}>\r\n"
                    f"Call-ID: {branch}\r\n"
                    "CSeq: 1 OPTIONS\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode()
            )
            try:
                async with asyncio.timeout(0.3):
                    return (await got).startswith(b"SIP/2.0 200")
            except (TimeoutError, OSError):
                return False
        finally:
            transport.close()

    async def _accepts_tls(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.host, self.tls_port)
        except OSError:
            return False
        writer.transport.abort()
        return True

    async def bindings(self, aor: str) -> str:
        """What kamailio's location table holds for ``aor`` (``kamcmd ul.lookup``): its
        output, which names each contact, or an error text when there is none."""
        process = await asyncio.create_subprocess_exec(
            KAMCMD,
            "-s",
            f"unix:{self.ctl}",
            "ul.lookup",
            "location",
            f"s:{aor}",  # "s:": a string, even when it looks like a number ("101")
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return out.decode(errors="replace")

    async def add_binding(self, aor: str, contact: str) -> None:
        """Put a binding in the location table by hand (``kamcmd ul.add``)."""
        process = await asyncio.create_subprocess_exec(
            KAMCMD,
            "-s",
            f"unix:{self.ctl}",
            "ul.add",
            "location",
            f"s:{aor}",  # "s:": a string, even when it looks like a number ("101")
            contact,
            "3600",
            "1.0",
            "s:",  # path (none; "s:" makes kamcmd send the empty string)
            "0",  # flags
            "0",  # branch flags
            "255",  # methods
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        if process.returncode or out.startswith(b"error"):
            raise RuntimeError(f"kamcmd ul.add: {out.decode(errors='replace')}")

    def log(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
