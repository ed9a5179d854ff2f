"""``netmon grafana push``: dashboards, folders, teams, datasources into Grafana (grafana-client).

What it makes, idempotently (create when missing, update otherwise):

- the NOC: the Prometheus datasource ``[grafana] datasource_uid``, the folder ``folder_uid``
  and every dashboard in it; with ``noc_team`` set, that team gets View on the folder and the
  Viewer role loses its default View (operators are Viewers);
- per operator of ``[[grafana.operators]]``: a datasource ``netmon-op-<name>`` on netmon's
  label-enforcing proxy that sends the operator's token, a team, a folder where that team has
  View and nothing else (the Viewer and Editor roles' default permissions removed), and the
  operator view bound to its own datasource. The operator's token must be the one whose
  SHA-256 is its ``[[access.tokens]]`` entry, with role ``operator``: push refuses otherwise.

Folder permissions go through the access-control API (``POST /api/access-control/folders/
<uid>/teams/<id>`` with ``{"permission": "View"}``); grafana-client's folder-permission helper
sends ``{"items": ...}``, which that endpoint does not take, so it is called directly.

In Grafana OSS a Viewer may query every datasource of its organisation: the folders hide the
other dashboards, and the proxy is what keeps data apart. Give an operator ``org_id`` (an
organisation of its own, made beforehand, with a user and password that may act in it) for
full separation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from grafana.dashboards import build_all, operator_copy
from grafana.provisioning import noc_datasource
from grafana.settings import GrafanaOperator
from monitor.config import Settings
from monitor.config.access import token_digest

__all__ = ["PushError", "check_operators", "connect", "push"]

log = logging.getLogger(__name__)

MESSAGE = "netmon grafana push"


class PushError(Exception):
    """Push refused or failed; the message names what and why."""


Connect = Callable[[Settings, int], GrafanaApi]


def connect(settings: Settings, org_id: int) -> GrafanaApi:
    """A grafana-client API acting in organisation ``org_id``."""
    g = settings.grafana
    parts = urlsplit(g.url)
    host = parts.hostname or "localhost"
    prefix = parts.path.strip("/")
    api = GrafanaApi(
        g.auth(),
        host=f"[{host}]" if ":" in host else host,
        port=parts.port,
        url_path_prefix=f"{prefix}/" if prefix else "",
        protocol=parts.scheme,
        timeout=g.timeout,
        organization_id=org_id,
    )
    return api


def check_operators(settings: Settings) -> list[str]:
    """Errors of ``[[grafana.operators]]`` against ``[[access.tokens]]`` (resolves the tokens)."""
    tokens = {t.name: t for t in settings.access.tokens}
    errors = []
    for n, op in enumerate(settings.grafana.operators):
        where = f"grafana.operators[{n}]"
        entry = tokens.get(op.name)
        if entry is None:
            errors.append(f"{where}.name: no [[access.tokens]] entry is named {op.name!r}")
            continue
        if entry.role != "operator":
            errors.append(
                f"{where}.name: access token {op.name!r} has role {entry.role!r}, not "
                "'operator': its datasource would show every carrier"
            )
            continue
        try:
            secret = op.token_secret(where)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if token_digest(secret.get_secret_value()) != entry.sha256:
            errors.append(
                f"{where}.token: is not the token of access token {op.name!r} (its SHA-256 differs)"
            )
    return errors


class _Grafana:
    """The few calls push makes, typed; grafana-client does the HTTP."""

    def __init__(self, api: GrafanaApi) -> None:
        self.api = api
        self.client: Any = api.client

    def close(self) -> None:
        self.client.s.close()  # grafana-client's niquests session

    def get(self, path: str, **params: str) -> Any:
        """GET ``path``; None when Grafana answers 404."""
        try:
            return self.client.GET(path, params=params or None)
        except GrafanaClientError as exc:
            if exc.status_code == 404:
                return None
            raise

    def datasource(self, body: dict[str, Any]) -> None:
        uid = body["uid"]
        if self.get(f"/datasources/uid/{quote(uid)}") is None:
            self.api.datasource.create_datasource(body)  # type: ignore[no-untyped-call]
        else:
            self.api.datasource.update_datasource_by_uid(uid, body)  # type: ignore[no-untyped-call]

    def folder(self, uid: str, title: str) -> None:
        found = self.get(f"/folders/{quote(uid)}")
        if found is None:
            self.api.folder.create_folder(title, uid=uid)  # type: ignore[no-untyped-call]
        elif found.get("title") != title:
            self.api.folder.update_folder(uid, title=title, overwrite=True)  # type: ignore[no-untyped-call]

    def team(self, name: str) -> int:
        found = self.get("/teams/search", name=name)
        for team in (found or {}).get("teams", []):
            if team.get("name") == name:
                return int(team["id"])
        made = self.api.teams.add_team({"name": name})  # type: ignore[no-untyped-call]
        return int(made["teamId"])

    def folder_permission(self, uid: str, who: str, permission: str) -> None:
        """``who``: "teams/<id>" or "builtInRoles/<role>"; permission "" removes it."""
        path = f"/access-control/folders/{quote(uid)}/{who}"
        self.client.POST(path, json={"permission": permission})

    def dashboard(self, doc: dict[str, Any], folder_uid: str) -> None:
        body = {"dashboard": doc, "folderUid": folder_uid, "overwrite": True, "message": MESSAGE}
        self.api.dashboard.update_dashboard(body)  # type: ignore[no-untyped-call]


def _operator_datasource(settings: Settings, op: GrafanaOperator, where: str) -> dict[str, Any]:
    g = settings.grafana
    proxy = g.proxy_url or f"http://{settings.server.listen}/prometheus"
    token = op.token_secret(where).get_secret_value()
    return {
        "name": f"netmon {op.display}",
        "uid": f"netmon-op-{op.name}",
        "type": "prometheus",
        "access": "proxy",
        "url": proxy,
        "isDefault": False,
        "editable": False,
        "jsonData": {
            "httpHeaderName1": "Authorization",
            "httpMethod": "POST",
            "timeInterval": noc_datasource(settings)["jsonData"]["timeInterval"],
        },
        "secureJsonData": {"httpHeaderValue1": f"Bearer {token}"},
    }


def push(settings: Settings, connect_to: Connect = connect) -> list[str]:
    """Push everything; returns one line per object made or updated."""
    errors = check_operators(settings)
    if errors:
        raise PushError("\n".join(errors))
    dashboards = build_all(settings)
    orgs: dict[int, _Grafana] = {}
    try:
        return _push(settings, dashboards, connect_to, orgs)
    finally:
        for api in orgs.values():
            api.close()


def _push(
    settings: Settings,
    dashboards: dict[str, dict[str, Any]],
    connect_to: Connect,
    orgs: dict[int, _Grafana],
) -> list[str]:
    g = settings.grafana
    done: list[str] = []
    main = orgs[g.org_id] = _Grafana(connect_to(settings, g.org_id))
    main.datasource(noc_datasource(settings))
    done.append(f"datasource {g.datasource_uid}")
    main.folder(g.folder_uid, g.folder)
    done.append(f"folder {g.folder_uid}")
    if g.noc_team is not None:
        team = main.team(g.noc_team)
        main.folder_permission(g.folder_uid, f"teams/{team}", "View")
        main.folder_permission(g.folder_uid, "builtInRoles/Viewer", "")
        done.append(f"team {g.noc_team!r}: View on folder {g.folder_uid}")
    for uid, doc in dashboards.items():
        main.dashboard(doc, g.folder_uid)
        done.append(f"dashboard {uid}")
    shared: list[str] = []  # operators in the NOC's organisation
    for n, op in enumerate(g.operators):
        where = f"grafana.operators[{n}]"
        org = op.org_id or g.org_id
        if org not in orgs:
            orgs[org] = _Grafana(connect_to(settings, org))
        api = orgs[org]
        source = _operator_datasource(settings, op, where)
        api.datasource(source)
        folder_uid = f"netmon-op-{op.name}"
        api.folder(folder_uid, g.operator_folder.format(title=op.display, name=op.name))
        team_name = g.operator_team.format(title=op.display, name=op.name)
        team = api.team(team_name)
        api.folder_permission(folder_uid, f"teams/{team}", "View")
        for role in ("Viewer", "Editor"):
            api.folder_permission(folder_uid, f"builtInRoles/{role}", "")
        copy = operator_copy(
            dashboards["netmon-operator"],
            uid=folder_uid,
            title=f"{dashboards['netmon-operator']['title']}: {op.display}",
            datasource_uid=source["uid"],
            noc_uid=g.datasource_uid,
        )
        api.dashboard(copy, folder_uid)
        if org == g.org_id:
            shared.append(op.name)
        done.append(
            f"operator {op.name}: datasource {source['uid']}, team {team_name!r} with View "
            f"only on folder {folder_uid}, dashboard {folder_uid}"
            + (f" (organisation {org})" if org != g.org_id else "")
        )
    if shared:
        done.append(
            f"warning: operators {', '.join(shared)} share organisation {g.org_id} with the "
            "NOC: in Grafana OSS a Viewer may query every datasource of its organisation, "
            "the NOC's too; give them org_id for full separation"
            + ("" if g.noc_team else ", and set noc_team so that they do not see its folder")
        )
    return done
