"""The SNMP poller (v1, v2c, v3), bottom to top:

    ber        BER encoding of SNMP messages (numeric OIDs, no MIBs)
    usm        SNMPv3 USM: key localization, HMAC authentication, DES/AES privacy
    errors     SnmpError and its causes (timeout, refused, unreachable, auth, agent, protocol)
    transport  UdpTransport: one UDP socket per address family for the process, request ids,
               answers demultiplexed by (agent, request id), requests in flight bounded per agent
    session    SnmpClient (the interface) and BerSession (get, walk, GETBULK, v3 discovery and
               USM reports, the agent's error-status by name)
    probe      the probe: IF-MIB, sysUpTime, sysName, BGP4-MIB and extra OIDs into samples
    interfaces a result's interfaces read back for a device's page (what is shown, not paged)

The gufo-snmp client measured beside BerSession lives in bench/snmp_gufo.py."""

__all__: list[str] = []
