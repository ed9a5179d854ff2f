"""The SNMP poller (v1, v2c, v3): BER encoding (``ber``), USM security (``usm``), the client and
its transport (``client``), and the probe that turns IF-MIB and BGP4-MIB into samples
(``probe``)."""

__all__: list[str] = []
