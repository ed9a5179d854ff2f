"""The outage ledger: an outage per down period, with its phase and maintenance window; open
ones survive a restart; a removed target's outage ends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alerts import db
from alerts.ledger import Ledger
from alerts.maintenance import Maintenance
from alerts.model import MaintenanceWindow
from monitor.config import Target
from monitor.runtime.store import Observation, Store
from probes.base import ProbeResult, Sample

T0 = datetime(2025, 10, 14, tzinfo=UTC).timestamp()


def make_store() -> Store:
    store = Store()
    store.set_targets(
        [
            Target.model_validate(
                {"name": n, "kind": "icmp", "host": "127.0.2.1", "labels": {"carrier": c}}
            )
            for n, c in (("viettel-uplink", "viettel"), ("vnpt-uplink", "vnpt"))
        ]
    )
    return store


def feed(store: Store, ledger: Ledger, name: str, success: bool, at: float) -> bool:
    obs = Observation(ProbeResult(success, None if success else "timeout", "no answer"), at, 0.1)
    store.record(name, obs)
    state = store.get(name)
    assert state is not None
    return ledger.record(state, obs, "dai-hoi-tinh")


async def test_outages_open_close_and_outlive_a_restart(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    try:
        maintenance = Maintenance(database)
        maintenance.apply(
            [MaintenanceWindow.at("viettel-work", {"carrier": ["viettel"]}, T0 - 60, T0 + 3600)]
        )
        maintenance.tick(T0)
        store, ledger = make_store(), Ledger(database, maintenance)
        assert feed(store, ledger, "viettel-uplink", True, T0) is False
        assert feed(store, ledger, "viettel-uplink", False, T0 + 10) is False
        assert feed(store, ledger, "viettel-uplink", False, T0 + 20) is False  # the same one
        assert feed(store, ledger, "vnpt-uplink", False, T0 + 15) is False
        assert feed(store, ledger, "viettel-uplink", True, T0 + 30) is True  # back: closed
        outages = await ledger.query()
        assert [(o.target, o.start, o.end) for o in outages] == [
            ("viettel-uplink", T0 + 10, T0 + 30),
            ("vnpt-uplink", T0 + 15, None),
        ]
        assert outages[0].maintenance == "viettel-work" and outages[1].maintenance is None
        assert {o.phase for o in outages} == {"dai-hoi-tinh"}
        assert outages[0].reason == "timeout" and outages[0].labels == {"carrier": "viettel"}
        assert await ledger.query(target="vnpt-uplink", since=T0 + 40) != []
        assert await ledger.query(until=T0 + 5) == []

        again = Ledger(database, maintenance)  # a restart while VNPT is down
        again.load(await database.run(db.open_outages, write=False))
        assert again.open("vnpt-uplink") is not None
        assert feed(store, again, "vnpt-uplink", False, T0 + 50) is False  # still the same one
        again.close_removed(["viettel-uplink"], T0 + 60)  # VNPT left the settings
        assert again.open("vnpt-uplink") is None
        outages = await again.query(target="vnpt-uplink")
        assert [(o.start, o.end) for o in outages] == [(T0 + 15, T0 + 60)]
    finally:
        await database.close()


ROUTER = {
    "name": "viettel-edge-router",
    "kind": "snmp",
    "host": "127.0.3.2",
    "group": "carrier",
    "labels": {"site": "hoi-truong"},
    "snmp": {
        "community": "netmon-lab",
        "circuits": [
            {"name": "viettel-uplink", "ifName": "ge-0/0/0", "carrier": "viettel"},
            {"name": "vnpt-backup", "ifName": "ge-0/0/1", "carrier": "vnpt"},
        ],
    },
}


def ports(uplink: tuple[int, int], backup: tuple[int, int] = (1, 1)) -> ProbeResult:
    """(ifOperStatus, ifAdminStatus) of the two circuits and one unnamed port, down."""
    samples = []
    for index, circuit, (oper, admin) in (
        ("1", "viettel-uplink", uplink),
        ("2", "vnpt-backup", backup),
        ("3", "", (2, 1)),
    ):
        labels = (("ifIndex", index), ("ifName", f"ge-0/0/{int(index) - 1}"), ("circuit", circuit))
        samples += [Sample("ifOperStatus", oper, labels), Sample("ifAdminStatus", admin, labels)]
    return ProbeResult(True, None, "polled", tuple(samples))


async def test_a_devices_named_circuits_have_outages_of_their_own(tmp_path: Path) -> None:
    """A carrier's availability is its circuits': the Viettel uplink down while the router
    answers is an outage of viettel-edge-router/viettel-uplink (carrier viettel); an unnamed
    port, a port shut by an operator and a result that did not reach the router open none."""
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    try:
        maintenance = Maintenance(database)
        store = Store()
        store.set_targets([Target.model_validate(ROUTER)])
        ledger = Ledger(database, maintenance)

        def poll(result: ProbeResult, at: float) -> None:
            obs = Observation(result, at, 0.1)
            store.record("viettel-edge-router", obs)
            state = store.get("viettel-edge-router")
            assert state is not None
            ledger.record(state, obs, None)

        poll(ports((1, 1)), T0)
        poll(ports((2, 1), backup=(2, 2)), T0 + 60)  # uplink down; the backup shut by hand
        poll(ProbeResult(False, "timeout", "no answer"), T0 + 120)  # the router unreachable
        poll(ports((2, 1)), T0 + 180)
        poll(ports((1, 1)), T0 + 240)  # back
        outages = await ledger.query()
        circuit = [o for o in outages if o.target == "viettel-edge-router/viettel-uplink"]
        assert [(o.start, o.end) for o in circuit] == [(T0 + 60, T0 + 240)]
        assert circuit[0].labels == {
            "site": "hoi-truong",
            "circuit": "viettel-uplink",
            "device": "viettel-edge-router",
            "carrier": "viettel",
        }
        assert circuit[0].reason == "interface_down"
        # The router's own outage, and nothing for the backup (shut) or the unnamed port.
        assert sorted(o.target for o in outages) == [
            "viettel-edge-router",
            "viettel-edge-router/viettel-uplink",
        ]
    finally:
        await database.close()


BGP_ROUTER = {
    "name": "vnpt-edge-router",
    "kind": "snmp",
    "host": "127.0.3.3",
    "group": "carrier",
    "labels": {"carrier": "vnpt"},
    "snmp": {"community": "netmon-lab", "bgp": True},
}


def peers(**states: int) -> ProbeResult:
    """A good poll with these bgpPeerState values (6 established), peer by peer."""
    samples = tuple(
        Sample("bgpPeerState", float(state), (("peer", peer.replace("_", ".")),))
        for peer, state in states.items()
    )
    return ProbeResult(True, None, "polled", samples)


async def test_bgp_peers_are_subjects_down_while_not_established(tmp_path: Path) -> None:
    """Each peer of a device with bgp = true is DEVICE/bgp:PEER, down while not established,
    in the device's carrier; a result that did not reach the device (or came without BGP
    samples) leaves the peers as they were; a reload keeps their open outages, turning bgp
    off ends them; the peers seen are written once, for the report's rows."""
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    try:
        maintenance = Maintenance(database)
        store = Store()
        router = Target.model_validate(BGP_ROUTER)
        store.set_targets([router])
        ledger = Ledger(database, maintenance)

        def poll(result: ProbeResult, at: float) -> None:
            obs = Observation(result, at, 0.1)
            store.record("vnpt-edge-router", obs)
            state = store.get("vnpt-edge-router")
            assert state is not None
            ledger.record(state, obs, "dai-hoi-tinh")

        poll(peers(**{"10_0_0_1": 6, "10_0_0_2": 6}), T0)
        poll(peers(**{"10_0_0_1": 3, "10_0_0_2": 6}), T0 + 60)  # active(3): down
        poll(ProbeResult(False, "timeout", "no answer"), T0 + 120)  # unreachable: unknown
        poll(ProbeResult(True, None, "no BGP table"), T0 + 180)  # no samples: unknown
        poll(peers(**{"10_0_0_1": 6, "10_0_0_2": 1}), T0 + 240)  # 1 back, 2 idle
        ledger.close_removed([router], T0 + 250)  # a reload: bgp still on, 2 stays open
        assert ledger.open("vnpt-edge-router/bgp:10.0.0.2") is not None
        outages = await ledger.query()
        by_name = {o.target: o for o in outages}
        one = by_name["vnpt-edge-router/bgp:10.0.0.1"]
        assert (one.start, one.end) == (T0 + 60, T0 + 240)
        assert one.labels == {"carrier": "vnpt", "peer": "10.0.0.1", "device": "vnpt-edge-router"}
        assert one.reason == "bgp_down" and one.phase == "dai-hoi-tinh"
        two = by_name["vnpt-edge-router/bgp:10.0.0.2"]
        assert (two.start, two.end) == (T0 + 240, None)
        # The device itself was down 120-180.
        assert (by_name["vnpt-edge-router"].start, by_name["vnpt-edge-router"].end) == (
            T0 + 120,
            T0 + 180,
        )
        seen = await database.run(db.load_subjects, write=False)
        assert seen == [
            ("vnpt-edge-router/bgp:10.0.0.1", "vnpt-edge-router", "bgp", T0),
            ("vnpt-edge-router/bgp:10.0.0.2", "vnpt-edge-router", "bgp", T0),
        ]
        off = Target.model_validate({**BGP_ROUTER, "snmp": {"community": "netmon-lab"}})
        ledger.close_removed([off], T0 + 300)  # bgp switched off: the peer's outage ends
        assert ledger.open("vnpt-edge-router/bgp:10.0.0.2") is None
        closed = await ledger.query(target="vnpt-edge-router/bgp:10.0.0.2")
        assert [(o.start, o.end) for o in closed] == [(T0 + 240, T0 + 300)]
    finally:
        await database.close()


async def test_a_note_on_an_open_outage_reaches_memory_and_the_row(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    try:
        store, ledger = make_store(), Ledger(database, Maintenance(database))
        feed(store, ledger, "vnpt-uplink", False, T0)
        [outage] = await ledger.query()
        assert outage.id is not None and outage.note is None
        note = {"text": "Đứt cáp", "by": "noc", "at": "2025-10-14T00:01:00Z"}
        written = await database.run(db.outage_note(outage.id, note))
        assert written is not None and written.note == note
        ledger.note(written)
        assert ledger.open_notes() == {"vnpt-uplink": note}
        assert await database.run(db.outage_note(outage.id + 100, note)) is None
        feed(store, ledger, "vnpt-uplink", True, T0 + 60)  # closed: the note stays in the row
        [closed] = await ledger.query()
        assert closed.end == T0 + 60 and closed.note == note
        assert ledger.open_notes() == {}
    finally:
        await database.close()


def test_a_peer_in_a_vrf_or_another_family_is_a_subject_of_its_own() -> None:
    from alerts.ledger import bgp_device, bgp_subject

    assert bgp_subject("r", "10.0.0.1") == "r/bgp:10.0.0.1"
    assert bgp_subject("r", "10.0.0.1", "0", "ipv4") == "r/bgp:10.0.0.1"  # the public instance
    assert bgp_subject("r", "10.0.0.1", "cong-an", "ipv4") == "r/bgp:10.0.0.1@cong-an"
    assert bgp_subject("r", "10.0.0.1", "", "vpls") == "r/bgp:10.0.0.1#vpls"
    assert bgp_device("r/bgp:10.0.0.1@cong-an") == "r" and bgp_device("r/uplink") is None


async def test_the_same_peer_in_two_vrfs_keeps_two_outages(tmp_path: Path) -> None:
    database = db.AlertDB(tmp_path / "alerts.sqlite")
    database.start()
    try:
        store = Store()
        store.set_targets([Target.model_validate(BGP_ROUTER)])
        ledger = Ledger(database, Maintenance(database))
        samples = (
            Sample("bgpPeerState", 3.0, (("peer", "10.0.0.1"), ("afi", "ipv4"), ("vrf", "a"))),
            Sample("bgpPeerState", 6.0, (("peer", "10.0.0.1"), ("afi", "ipv4"), ("vrf", "b"))),
        )
        obs = Observation(ProbeResult(True, None, "polled", samples), T0, 0.1)
        store.record("vnpt-edge-router", obs)
        state = store.get("vnpt-edge-router")
        assert state is not None
        ledger.record(state, obs, None)
        outages = await ledger.query()
        assert [(o.target, o.labels.get("vrf")) for o in outages] == [
            ("vnpt-edge-router/bgp:10.0.0.1@a", "a")
        ]
        seen = await database.run(db.load_subjects, write=False)
        assert [s[0] for s in seen] == [
            "vnpt-edge-router/bgp:10.0.0.1@a",
            "vnpt-edge-router/bgp:10.0.0.1@b",
        ]
    finally:
        await database.close()
