"""The namespace lab: links that really go down, lose packets and hang.

Topology (every address exists only inside the lab's namespaces)::

    mon (netmon) 10.77.0.2 ── dc 10.77.0.1  province data centre, web servers 10.77.5.10-11
                               ├─ 10.77.10.0/30 ── vt  Viettel edge router (snmpd 10.77.10.2)
                               │                    └─ 10.77.11.0/30 ── core (venue core switch)
                               └─ 10.77.20.0/30 ── vn  VNPT edge router (snmpd 10.77.20.2)
                                                    └─ 10.77.21.0/30 ── core
    core: hall A LAN 10.77.101.0/24 (reached over Viettel), hall B LAN 10.77.102.0/24 (VNPT)

Faults: a link cut (the far side of the carrier uplink set down, so the router sees its port
lose carrier while it stays administratively up), packet loss (nftables ``numgen random``), delay
(tc netem, when the kernel has sch_netem), an SNMP agent stopped, a web server hung (SIGSTOP).
``teardown()`` kills every process the lab started and deletes its namespaces; ``clean_stale()``
removes what a killed earlier run left behind, and only that.

Ownership: each lab's namespaces are ``nmd-TAG-ROLE`` (TAG random per lab), and before the first
of them is made, ``/run/netmon-drill/TAG`` records the pid of the process that owns them with
that process's start time (so a pid reused by another process does not pass for the owner).
``clean_stale()`` removes a lab's namespaces only when that owner is gone, or when no record
exists (a run of an older netmon, or one killed between its teardown's two steps); a live
drill or test run of anyone else on the host is never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from monitor.lab.portal import portal_page

from .nsenter import request_sync

PREFIX = "nmd-"
# One file per lab, named by its tag: "PID START_TIME" of the process that owns the lab.
OWNERS = Path("/run/netmon-drill")
COMMUNITY = "netmon-drill"
SNMPD_CONF = """\
agentaddress udp:{address}:161
engineId netmondrill{name}
rocommunity {community} 10.77.0.0/16
sysName {name}-edge
sysLocation Hoi truong Tinh uy Dak Lak
sysContact noc@daklak.lab
"""

# link name → (namespace role that is cut, interface in it)
LINKS: dict[str, tuple[str, str]] = {
    "viettel-uplink": ("core", "vt"),
    "vnpt-uplink": ("core", "vn"),
    "viettel-transit": ("dc", "vt"),
    "vnpt-transit": ("dc", "vn"),
}
ROLES = ("mon", "dc", "vt", "vn", "core")
# carrier → its router's namespace role
CARRIERS = {"viettel": "vt", "vnpt": "vn"}
WEB = {"dc-web-1": "10.77.5.10", "dc-web-2": "10.77.5.11"}
WEB_PORT = 8000
# The congress livestream (monitor/lab/stream.py) beside the web servers.
STREAM = ("dc-livestream", "10.77.5.12")
STREAM_URL = f"http://{STREAM[1]}:{WEB_PORT}/live/master.m3u8"
ADDRESSES = {
    "viettel-edge": "10.77.10.2",
    "vnpt-edge": "10.77.20.2",
    "viettel-uplink": "10.77.11.2",
    "vnpt-uplink": "10.77.21.2",
    "hall-a-wifi": "10.77.101.10",
    "hall-a-camera": "10.77.101.11",
    "hall-b-wifi": "10.77.102.10",
    "hall-b-camera": "10.77.102.11",
}


# The Viettel SIP trunk's SBC (issue 16): Debian's kamailio in the Viettel router's namespace,
# on the router's own address, answering OPTIONS (the `sip-trunk-down` drill).
SIP_TRUNK = "viettel-sip-trunk"
SIP_CARRIER = "viettel"
SIP_PORT = 5060
KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
server_header="Server: Viettel SBC (netmon drill)"
listen=udp:{address}:{port}
loadmodule "sl.so"
loadmodule "textops.so"
request_route {{
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


def kamailio_path() -> str | None:
    return shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None
    )


class Unavailable(RuntimeError):
    """A fault the kernel here cannot produce (e.g. no sch_netem)."""


@dataclass
class Event:
    at: float  # wall clock, seconds
    action: str  # "cut", "heal", "loss", ...
    subject: str
    detail: str = ""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def is_root() -> bool:
    return os.geteuid() == 0


def missing_tools() -> list[str]:
    return [
        t for t in ("ip", "nft") if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()
    ]


def snmpd_path() -> str | None:
    found = shutil.which("snmpd")
    if found:
        return found
    return "/usr/sbin/snmpd" if os.access("/usr/sbin/snmpd", os.X_OK) else None


def lab_namespaces() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def _kill_ns_pids(ns: str) -> None:
    pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGCONT)
            os.kill(int(pid), signal.SIGKILL)


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot, /proc/PID/stat field 22); None when
    no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its last ")".
    return stat.rsplit(")", 1)[1].split()[19]


def _tag_of(ns: str) -> str:
    return ns.removeprefix(PREFIX).rsplit("-", 1)[0]


def owner_alive(tag: str) -> bool:
    """Whether the process recorded as the owner of lab ``tag`` still runs."""
    try:
        pid, started = (OWNERS / tag).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return False
    return _start_time(int(pid)) == started


def clean_stale() -> list[str]:
    """Delete the ``nmd-*`` namespaces whose owner is gone (and kill what runs in them), and
    the owners' records; returns the namespaces' names. A live lab's are left alone."""
    gone = [ns for ns in lab_namespaces() if not owner_alive(_tag_of(ns))]
    for ns in gone:
        _kill_ns_pids(ns)
        run("ip", "netns", "del", ns, check=False)
    if OWNERS.is_dir():
        for record in OWNERS.iterdir():
            if not record.name.startswith(".") and not owner_alive(record.name):
                record.unlink(missing_ok=True)
    return gone


@dataclass
class NetnsLab:
    workdir: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    owner: int = field(default_factory=os.getpid)  # the process whose death frees the lab
    events: list[Event] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.tag}-{role}"

    @property
    def mon(self) -> str:
        return self.ns("mon")

    # ------------------------------------------------------------------ building

    def _ip(self, role: str, *argv: str) -> None:
        run("ip", "-n", self.ns(role), *argv)

    def _veth(self, a: str, a_if: str, a_addr: str, b: str, b_if: str, b_addr: str) -> None:
        run("ip", "-n", self.ns(a), "link", "add", a_if, "type", "veth", "peer", "name", b_if,
            "netns", self.ns(b))  # fmt: skip
        for role, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            self._ip(role, "addr", "add", addr, "dev", ifname)
            self._ip(role, "link", "set", ifname, "up")

    def build(self) -> None:
        """Create the namespaces, links, routes, snmpd agents and web servers."""
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise

    def claim(self) -> None:
        """Record the owner, before any namespace exists, so that no other run's clean takes
        this lab's namespaces for a dead run's."""
        started = _start_time(self.owner)
        if started is None:
            raise RuntimeError(f"the lab's owner (pid {self.owner}) does not run")
        OWNERS.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a clean never reads a half-written record as no owner.
        partial = OWNERS / f".{self.tag}.partial"
        partial.write_text(f"{self.owner} {started}\n", encoding="utf-8")
        partial.replace(OWNERS / self.tag)

    def add_namespaces(self) -> None:
        """The five namespaces, claimed first, loopback up, forwarding on."""
        self.claim()
        for role in ROLES:
            run("ip", "netns", "add", self.ns(role))
            self.built.append(self.ns(role))
            self._ip(role, "link", "set", "lo", "up")
            for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                        "net.ipv4.conf.default.rp_filter=0",
                        "net.ipv4.ping_group_range=0 2147483647"):  # fmt: skip
                run("ip", "netns", "exec", self.ns(role), "sysctl", "-qw", key)

    def _build(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.add_namespaces()
        self._veth("mon", "eth0", "10.77.0.2/24", "dc", "mon", "10.77.0.1/24")
        self._veth("dc", "vt", "10.77.10.1/30", "vt", "dc", "10.77.10.2/30")
        self._veth("dc", "vn", "10.77.20.1/30", "vn", "dc", "10.77.20.2/30")
        self._veth("vt", "core", "10.77.11.1/30", "core", "vt", "10.77.11.2/30")
        self._veth("vn", "core", "10.77.21.1/30", "core", "vn", "10.77.21.2/30")
        # Servers and venue hosts are addresses on the namespace's own loopback (no dummy
        # driver needed): they answer for themselves, routed like any LAN behind the router.
        for addr in (*WEB.values(), STREAM[1]):
            self._ip("dc", "addr", "add", f"{addr}/32", "dev", "lo")
        for addr in ("10.77.101.10/32", "10.77.101.11/32", "10.77.102.10/32", "10.77.102.11/32"):
            self._ip("core", "addr", "add", addr, "dev", "lo")
        self._routes()
        for src in ("10.77.102.0/24", "10.77.21.2/32"):
            self._ip("core", "rule", "add", "from", src, "lookup", "102")
        for carrier in CARRIERS:
            self.start_snmpd(carrier)
        for name in WEB:
            self.start_web(name)
        self.start_stream()

    def _routes(self) -> None:
        """Every static route, idempotent: a link set down loses the routes through it, so a
        heal puts them back (as a router's config would)."""
        table = [
            ("mon", "default", "10.77.0.1", ()),
            ("dc", "10.77.11.0/30", "10.77.10.2", ()),
            ("dc", "10.77.101.0/24", "10.77.10.2", ()),
            ("dc", "10.77.21.0/30", "10.77.20.2", ()),
            ("dc", "10.77.102.0/24", "10.77.20.2", ()),
            ("vt", "default", "10.77.10.1", ()),
            ("vt", "10.77.101.0/24", "10.77.11.2", ()),
            ("vn", "default", "10.77.20.1", ()),
            ("vn", "10.77.102.0/24", "10.77.21.2", ()),
            # The venue answers over the carrier its LAN belongs to.
            ("core", "default", "10.77.11.1", ()),
            ("core", "default", "10.77.21.1", ("table", "102")),
        ]
        for role, dest, via, extra in table:
            run("ip", "-n", self.ns(role), "route", "replace", dest, "via", via, *extra,
                check=False)  # fmt: skip

    # ------------------------------------------------------------------ processes

    def popen(self, role: str, argv: list[str], name: str, **kw: object) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc: subprocess.Popen[bytes] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **kw,  # type: ignore[call-overload]
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def _stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_snmpd(self, carrier: str) -> None:
        snmpd = snmpd_path()
        if snmpd is None:
            raise Unavailable("snmpd is not installed (Debian package snmpd)")
        role = CARRIERS[carrier]
        base = self.workdir / f"snmpd-{carrier}"
        (base / "persist").mkdir(parents=True, exist_ok=True)
        conf = base / "snmpd.conf"
        conf.write_text(
            SNMPD_CONF.format(address=ADDRESSES[f"{carrier}-edge"], name=carrier,
                              community=COMMUNITY),
            encoding="utf-8",
        )  # fmt: skip
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(base / "persist"), "MIBS": ""}
        self.popen(role, [snmpd, "-f", "-C", "-c", str(conf), "-Lf", str(base / "snmpd.log"),
                          "-p", str(base / "snmpd.pid")], f"snmpd-{carrier}", env=env)  # fmt: skip

    def start_web(self, name: str) -> None:
        root = self.workdir / f"www-{name}"
        root.mkdir(parents=True, exist_ok=True)
        # The portal's page (the congress banner, menus, news): web integrity learns it.
        (root / "index.html").write_text(portal_page(60), encoding="utf-8")
        argv = [sys.executable, "-m", "http.server", "--bind", WEB[name], "--directory",
                str(root), str(WEB_PORT)]  # fmt: skip
        self.popen("dc", argv, f"web-{name}")

    def start_stream(self) -> None:
        argv = [sys.executable, "-m", "monitor.lab.stream", STREAM[1], str(WEB_PORT)]
        self.popen("dc", argv, STREAM[0])

    def wait_ready(self, within: float = 20.0) -> None:
        """Until every web server answers and every router is reachable from netmon's namespace."""
        deadline = time.monotonic() + within
        pending = [*(f"http://{a}:{WEB_PORT}/" for a in WEB.values()), STREAM_URL]
        while pending:
            url = pending[0]
            try:
                status, _ = request_sync(self.mon, "GET", url, timeout=1)
                if status == 200:
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the lab did not come up: {url} does not answer")
            time.sleep(0.1)
        while True:
            answered = self.ping(*ADDRESSES.values())
            if answered.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the lab did not come up:\n{answered.stdout}")
            time.sleep(0.2)

    def ping(self, *addresses: str, role: str = "mon") -> subprocess.CompletedProcess[str]:
        """netmon's ICMP probe from a namespace (netmon's by default) to ``addresses``."""
        return run("ip", "netns", "exec", self.ns(role), sys.executable, "-m",
                   "monitor.drill.ping", *addresses, check=False)  # fmt: skip

    def exec(self, role: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.ns(role), *argv)

    def if_index(self, role: str, ifname: str) -> int:
        out = run("ip", "-n", self.ns(role), "-o", "link", "show", "dev", ifname).stdout
        return int(out.split(":", 1)[0])

    # ------------------------------------------------------------------ faults

    def _event(self, action: str, subject: str, detail: str = "") -> Event:
        event = Event(time.time(), action, subject, detail)
        self.events.append(event)
        return event

    def cut(self, link: str) -> Event:
        role, ifname = LINKS[link]
        self._ip(role, "link", "set", ifname, "down")
        return self._event("cut", link)

    def heal(self, link: str) -> Event:
        role, ifname = LINKS[link]
        self._ip(role, "link", "set", ifname, "up")
        self._routes()
        return self._event("heal", link)

    def loss(self, carrier: str, percent: int) -> Event:
        """Drop ``percent`` % of the packets a carrier router forwards toward the venue."""
        ns = self.ns(CARRIERS[carrier])
        self.clear_loss(carrier, record=False)
        rules = (
            "table inet netmon_drill {\n chain drill {\n  type filter hook forward priority 0;\n"
            f'  oifname "core" numgen random mod 100 < {int(percent)} drop\n }}\n}}\n'
        )
        proc = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise Unavailable(f"nftables numgen drop: {proc.stderr.strip()}")
        return self._event("loss", carrier, f"{percent}%")

    def blackhole(self, role: str, net: str) -> Event:
        """Drop, silently, every packet ``role``'s namespace receives for ``net``: the
        addresses stop answering at once and probes run into their timeouts."""
        rules = (
            "table inet netmon_blackhole {\n chain drill {\n"
            "  type filter hook input priority 0;\n"
            f"  ip daddr {net} drop\n }}\n}}\n"
        )
        proc = subprocess.run(["ip", "netns", "exec", self.ns(role), "nft", "-f", "-"],
                              input=rules, capture_output=True, text=True, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise Unavailable(f"nftables drop: {proc.stderr.strip()}")
        return self._event("blackhole", net, role)

    def clear_loss(self, carrier: str, *, record: bool = True) -> Event | None:
        ns = self.ns(CARRIERS[carrier])
        run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "netmon_drill",
            check=False)  # fmt: skip
        return self._event("loss-cleared", carrier) if record else None

    def delay(self, carrier: str, ms: int) -> Event:
        ns = self.ns(CARRIERS[carrier])
        proc = run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", "core", "root",
                   "netem", "delay", f"{int(ms)}ms", check=False)  # fmt: skip
        if proc.returncode != 0:
            raise Unavailable(f"tc netem is not available here: {proc.stderr.strip()}")
        return self._event("delay", carrier, f"{ms}ms")

    def clear_delay(self, carrier: str) -> Event:
        ns = self.ns(CARRIERS[carrier])
        run("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "core", "root", check=False)
        return self._event("delay-cleared", carrier)

    def stop_snmpd(self, carrier: str) -> Event:
        self._stop(f"snmpd-{carrier}")
        return self._event("snmpd-stopped", carrier)

    def restart_snmpd(self, carrier: str) -> Event:
        self.start_snmpd(carrier)
        return self._event("snmpd-started", carrier)

    def start_sip(self) -> None:
        """The SIP trunk's SBC: kamailio in the carrier router's namespace."""
        kamailio = kamailio_path()
        if kamailio is None:
            raise Unavailable("kamailio is not installed (Debian package kamailio)")
        base = self.workdir / "kamailio"
        (base / "run").mkdir(parents=True, exist_ok=True)
        cfg = base / "kamailio.cfg"
        cfg.write_text(
            KAMAILIO_CFG.format(address=ADDRESSES[f"{SIP_CARRIER}-edge"], port=SIP_PORT),
            encoding="utf-8",
        )
        argv = [kamailio, "-DD", "-E", "-f", str(cfg), "-Y", str(base / "run"),
                "-P", str(base / "run" / "kamailio.pid"), "-m", "16", "-M", "4"]  # fmt: skip
        proc = self.popen(CARRIERS[SIP_CARRIER], argv, "kamailio")
        log = self.workdir / "kamailio.log"
        deadline = time.monotonic() + 10
        while b"Listening on" not in log.read_bytes():  # kamailio's start-up banner
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-1000:]
                raise RuntimeError(f"kamailio did not start: {tail}")
            time.sleep(0.05)

    def stop_sip(self) -> Event:
        self._stop("kamailio")
        return self._event("sip-stopped", SIP_TRUNK)

    def restart_sip(self) -> Event:
        self.start_sip()
        return self._event("sip-started", SIP_TRUNK)

    def hang_web(self, name: str) -> Event:
        self.procs[f"web-{name}"].send_signal(signal.SIGSTOP)
        return self._event("web-hung", name)

    def inject_web(self, name: str, fault: str) -> Event:
        """The site's page rewritten as an attacker leaves it (monitor/lab/portal.py: a fault
        of FAULTS); http.server serves the file as it is at each request."""
        (self.workdir / f"www-{name}" / "index.html").write_text(
            portal_page(60, fault=fault), encoding="utf-8"
        )
        return self._event("web-injected", name, fault)

    def clean_web(self, name: str) -> Event:
        (self.workdir / f"www-{name}" / "index.html").write_text(portal_page(60), encoding="utf-8")
        return self._event("web-cleaned", name)

    def resume_web(self, name: str) -> Event:
        self.procs[f"web-{name}"].send_signal(signal.SIGCONT)
        return self._event("web-resumed", name)

    def stall_stream(self) -> Event:
        """The livestream's playlists stop moving; its server still answers."""
        self.procs[STREAM[0]].send_signal(signal.SIGUSR1)
        return self._event("stream-stalled", STREAM[0])

    def resume_stream(self) -> Event:
        self.procs[STREAM[0]].send_signal(signal.SIGUSR2)
        return self._event("stream-resumed", STREAM[0])

    # ------------------------------------------------------------------ teardown

    def teardown(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self._stop(name)
        for ns in self.built:
            _kill_ns_pids(ns)
            run("ip", "netns", "del", ns, check=False)
        self.built.clear()
        # The record goes last: a namespace never outlives its owner's record while it runs.
        (OWNERS / self.tag).unlink(missing_ok=True)


@contextlib.contextmanager
def lab(workdir: Path):  # type: ignore[no-untyped-def]
    """A built lab, torn down on the way out whatever happened."""
    the_lab = NetnsLab(workdir)
    the_lab.build()
    try:
        yield the_lab
    finally:
        the_lab.teardown()
