"""The running monitor: the scheduler, the store of results, the /metrics collector, the heap
freezer, the SNMP trap receiver, and the service that wires them with the alert engine.

    scheduler   one loop; each target on its own interval; bounds on probes in flight
    store       latest result per target and a short history; events for the alert engine
    metrics     renders the store at scrape time
    heap        keeps the results history out of the garbage collector's full passes
    traps       the SNMP trap receiver (pysnmp), turning traps into store events
    service     wires settings, scheduler, store, metrics, traps and the alert engine; reloads

``service`` sits above the alert engine (it starts it); the other modules sit below it.
"""

__all__: list[str] = []
