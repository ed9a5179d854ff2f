"""The availability report per carrier and per site for each phase: computed from the outage
ledger, rendered as HTML, CSV or JSON (``netmon report``, ``/api/v1/report``)."""

__all__: list[str] = []
