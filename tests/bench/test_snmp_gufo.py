"""The benchmark's gufo-snmp client (bench/snmp_gufo.py): it reads what netmon's session reads,
and it hides a tooBig as an empty table, the reason netmon does not poll with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.snmp_gufo import GufoClient
from monitor.lab.inventory import SNMP_COMMUNITY
from probes.snmp.session import BerSession, Credentials
from probes.snmp.transport import UdpTransport
from probes.snmp.usm import UsmUser
from tests.fixtures.snmpd import AUTH_KEY, PRIV_KEY, SNMPD, Snmpd
from tests.probes.snmp.agents import ROUTER, SWITCH, lab_agent

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
LAB_V2C = Credentials("2c", community=SNMP_COMMUNITY.encode())


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    if SNMPD is None:
        pytest.skip("snmpd is not installed (Debian snmpd)")
    agent = Snmpd(tmp_path_factory.mktemp("snmpd"), "127.0.0.62")
    agent.start()
    yield agent
    agent.stop()


async def test_gufo_client_walks_the_lab_agent() -> None:
    async with lab_agent(ROUTER, "127.0.0.83") as agent:
        gufo = GufoClient(agent.address, LAB_V2C)
        walked = await gufo.walk([IF_DESCR], 10)
        assert [v.data for _, v in walked[IF_DESCR]] == [
            i.descr.encode() for i in ROUTER.interfaces
        ]
        await gufo.close()


async def test_gufo_client_hides_too_big() -> None:
    """Why netmon does not poll with gufo-snmp: a tooBig ends its walk as an empty table.
    (If this starts failing, gufo-snmp learnt to report it: measure it again.)"""
    async with lab_agent(SWITCH, "127.0.0.84", max_response_bytes=600) as agent:
        gufo = GufoClient(agent.address, LAB_V2C)
        walked = await gufo.walk([IF_OPER], 50)
        assert walked[IF_OPER] == []
        await gufo.close()


async def test_gufo_client_reads_the_same_agent(snmpd: Snmpd) -> None:
    """The alternative client (bench/bench_snmp.py measures both) agrees with netmon's, v3
    authPriv with SHA-256 and AES-256 on Debian's snmpd."""
    creds = Credentials(
        "3",
        user=UsmUser(b"sha256aes256", "SHA-256", AUTH_KEY.encode(), "AES-256", PRIV_KEY.encode()),
    )
    transport = UdpTransport()
    ours = BerSession(transport, (snmpd.address, snmpd.port), creds, timeout=1.0)
    theirs = GufoClient((snmpd.address, snmpd.port), creds, timeout=1.0)
    try:
        columns = [IF_DESCR, IF_NAME, IF_OPER]
        walked = await ours.walk(columns, 25)
        gufo = await theirs.walk(columns, 25)
        for column in columns:
            assert walked[column], column
            assert [(o, v.data) for o, v in walked[column]] == [
                (o, v.data) for o, v in gufo[column]
            ]
        name = "1.3.6.1.2.1.1.5.0"
        assert (await ours.get([name]))[0][1].data == (await theirs.get([name]))[0][1].data
    finally:
        await ours.close()
        await theirs.close()
        await transport.aclose()
