"""The web layer: it only reads the service (store, engine, ledger) and answers.

app         the aiohttp application: routes, middlewares, /metrics, /healthz, reload
guard       bearer tokens and sessions to a ``Principal``; rate limits on guessing
api         /api/v1: targets, alerts, outages, maintenance, report (scoped per principal)
openapi     the OpenAPI document of /api/v1: paths by hand, schemas generated from schemas
schemas     the answers of /api/v1 as pydantic models
status      the status page's data: groups, cards, holds, phases
pages       the HTML pages (jinja2 templates in templates/, assets in static/)
promproxy   the label-enforcing PromQL proxy for operators' Grafana
"""

__all__: list[str] = []
