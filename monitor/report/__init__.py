"""The availability report per carrier and per site for each phase: computed from the outage
ledger, rendered as HTML, CSV or JSON (``netmon report``, ``/api/v1/report``).

intervals (time-span arithmetic) < model (the report's dataclasses) < build (computation from
the ledger) < render_json, render_csv, html (templates/report.html) < cli (``netmon report``).
"""

__all__: list[str] = []
