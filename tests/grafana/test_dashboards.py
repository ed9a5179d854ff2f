"""Dashboards as code and `netmon grafana build|push`.

Grafana's server is not installable on these machines, so:

- the dashboards' JSON is checked against grafana-foundation-sdk's models (Grafana 11.6) and
  its schema version, panel by panel (every panel's options and every query decode into the
  SDK's typed models, and back to the same JSON);
- `netmon grafana push` runs against a local aiohttp server that plays Grafana's HTTP API,
  records every call, and answers 400 to a body of the wrong shape: the test checks the
  calls (folders, dashboards, datasources, teams, View-only permissions through the
  access-control endpoint);
- whether the panels' queries return data is checked on a real Prometheus that scraped real
  netmons: tests/test_prometheus_live.py.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import tomli_w
from aiohttp import web
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from grafana import prometheus as promgen
from grafana.dashboards import (
    DASHBOARDS,
    PROMETHEUS_ANNOTATION_KEYS,
    build_all,
    operator_copy,
)
from grafana.provisioning import write_build
from grafana.push import check_operators, push
from grafana.settings import SecretMissing
from monitor.cli.grafana import main
from monitor.config import Settings, SettingsError, load_settings, parse_settings
from monitor.config.access import token_digest
from probes.catalogue import BY_NAME
from tests.support.common import REPO, free_port

COMMITTED = REPO / "grafana" / "build"
GRAFANA_SCHEMA_VERSION = 41  # Grafana 11.6's dashboard schema, as grafana-foundation-sdk has it
VIETNAMESE = re.compile(
    r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I
)
# Metric names the dashboards may read besides the metric catalogue (probes/catalogue.py) and the
# recording rules: netmon's own (the service's), Prometheus' own. SNMP_METRICS: the SNMP part of
# the catalogue (as snmp_exporter names it) some dashboard must show.
OWN_METRICS = {
    "netmon_alerts_firing",
    "netmon_notifications_total",
    "netmon_outbox_pending",
    "netmon_scheduler_lag_seconds",
    "netmon_probes_in_flight",
    "netmon_probes_total",
    "netmon_probes_skipped_total",
    "netmon_targets",
    "netmon_config_last_reload_successful",
    "netmon_config_last_reload_success_timestamp_seconds",
    "netmon_phase_info",
    "netmon_asyncio_tasks",
    "netmon_gc_pause_max_seconds",
    "netmon_gc_pause_seconds_total",
    "netmon_gc_collections_total",
    "netmon_gc_frozen_objects",
    "process_resident_memory_bytes",
    "process_open_fds",
}
SNMP_METRICS = {
    "ifOperStatus",
    "ifHCInOctets",
    "ifHCOutOctets",
    "ifInErrors",
    "ifOutErrors",
    "ifInDiscards",
    "ifOutDiscards",
    "sysUpTime",
    "bgpPeerState",
    "probe_snmp_if_utilization_ratio",
}
PROMETHEUS_METRICS = {"up", "ALERTS", "scrape_duration_seconds", "scrape_samples_scraped"}


def _committed() -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((COMMITTED / "dashboards").glob("*.json"))
    }


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in doc["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


# --------------------------------------------------------------------------- the JSON


def test_committed_build_is_current(tmp_path: Path) -> None:
    """grafana/build/{dashboards,provisioning} are `netmon grafana build` of settings.toml."""
    assert (
        main(["grafana", "build", "--config", str(REPO / "settings.toml"), "--out", str(tmp_path)])
        == 0
    )
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p) for p in made] == [
        "dashboards/netmon-carriers.json",
        "dashboards/netmon-noc.json",
        "dashboards/netmon-operator.json",
        "dashboards/netmon-self.json",
        "dashboards/netmon-venue.json",
        "dashboards/netmon-websites.json",
        "provisioning/dashboards/netmon.yaml",
        "provisioning/datasources/netmon.yaml",
    ]
    for rel in made:
        assert (COMMITTED / rel).read_text(encoding="utf-8") == (tmp_path / rel).read_text(
            encoding="utf-8"
        ), f"grafana/{rel} is stale: run `netmon grafana build`"


def _renames(panel: dict[str, Any]) -> dict[str, str]:
    return {
        t["options"]["regex"]: t["options"]["renamePattern"]
        for t in panel.get("transformations") or []
        if t["id"] == "renameByRegex"
    }


def test_legends_show_display_names_and_queries_keep_slugs() -> None:
    """Issue 12: Grafana's legends say "Đường truyền Viettel - Hội trường" (settings.toml's
    titles, [names]); queries and labels keep the slugs; the operator view, one copy for
    every operator, names nobody's targets."""
    docs = _committed()
    carriers = {p["title"]: p for p in _panels(docs["netmon-carriers"])}
    loss = next(
        p
        for p in carriers.values()
        if p.get("type") == "timeseries"
        and any("{{target}}" in str(t.get("legendFormat")) for t in p.get("targets", []))
    )
    renames = _renames(loss)
    assert renames["^venue\\-viettel\\-uplink( .*)?$"] == "Đường truyền Viettel - Hội trường$1"
    assert all("venue-viettel-uplink" not in json.dumps(t) or "target" in json.dumps(t)
               for t in loss["targets"])  # fmt: skip
    noc = _panels(docs["netmon-noc"])
    by_group = [
        p for p in noc if any(t.get("legendFormat") == "{{group}}" for t in p.get("targets", []))
    ]
    assert by_group and all(
        _renames(p)["^carrier( .*)?$"] == "Nhà mạng và đường truyền$1" for p in by_group
    )
    tables = [p for p in noc if p.get("type") == "table"]
    assert tables
    for table in tables:
        overrides = {o["matcher"]["options"]: o for o in table["fieldConfig"]["overrides"]}
        (mapping,) = overrides["carrier"]["properties"][0]["value"]
        assert mapping["options"]["fpt"]["text"] == "FPT Telecom"
    operator = json.dumps(docs["netmon-operator"], ensure_ascii=False)
    assert "renameByRegex" not in operator and "Viettel - Hội trường" not in operator


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_dashboard_matches_the_sdk_models(uid: str) -> None:
    register_default_plugins()
    doc = _committed()[uid]
    assert doc["schemaVersion"] == GRAFANA_SCHEMA_VERSION == models.Dashboard().schema_version
    model = models.Dashboard.from_json(doc)
    # Every key is one the model knows: decoding and encoding again gives the same JSON. The
    # one exception: the Prometheus keys of an annotation (titleFormat...), which the SDK's
    # AnnotationQuery lacks; test_annotations checks them.
    known = copy.deepcopy(doc)
    for annotation in known["annotations"]["list"]:
        for key in PROMETHEUS_ANNOTATION_KEYS:
            del annotation[key]
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == known
    assert model.panels
    for panel in model.panels:
        if isinstance(panel, models.RowPanel):
            continue
        assert panel.type_val in ("timeseries", "stat", "table", "state-timeline", "bargauge")
        # The panel's options decode into its plugin's typed model, not a bare dict.
        assert not isinstance(panel.options, dict), (uid, panel.title)
        assert panel.targets
        for target in panel.targets:
            assert isinstance(target, prometheus_models.Dataquery), (uid, panel.title)
            assert not isinstance(target, UnknownDataquery)


def test_dashboards_are_what_the_noc_reads() -> None:
    settings = load_settings(REPO / "settings.toml")
    docs = _committed()
    variables = {uid: {v["name"] for v in d["templating"]["list"]} for uid, d in docs.items()}
    assert {"group"} <= variables["netmon-noc"]
    assert {"carrier", "target"} <= variables["netmon-carriers"]
    assert {"target"} <= variables["netmon-venue"]
    assert {"group", "target"} <= variables["netmon-websites"]
    assert {"carrier", "target"} <= variables["netmon-operator"]
    operator_carrier = next(
        v for v in docs["netmon-operator"]["templating"]["list"] if v["name"] == "carrier"
    )
    assert operator_carrier["multi"] is False and operator_carrier["includeAll"] is False
    for uid, doc in docs.items():
        assert doc["uid"] == uid
        assert doc["timezone"] == settings.server.timezone == "Asia/Ho_Chi_Minh"
        assert VIETNAMESE.search(doc["title"]), doc["title"]
        ids = [p["id"] for p in _panels(doc)]
        assert len(ids) == len(set(ids))
        for panel in _panels(doc):
            title = panel["title"]
            assert VIETNAMESE.search(title), f"{uid}: {title!r} is not Vietnamese"
            if panel["type"] == "row":
                continue
            # Vietnamese for the staff, then the English for the engineers (issue 14).
            vietnamese, english = panel["description"].split("\n\n")
            assert VIETNAMESE.search(vietnamese), f"{uid}: {title}: {vietnamese!r}"
            assert len(re.findall(r"[A-Za-z]+", english)) >= 5, f"{uid}: {title}: {english!r}"
            assert _mostly_english(english), f"{uid}: {title}: {english!r}"
            assert panel["datasource"] == {"type": "prometheus", "uid": "netmon-prometheus"}
            refs = [t["refId"] for t in panel["targets"]]
            assert refs == [chr(ord("A") + n) for n in range(len(refs))]


def _mostly_english(text: str) -> bool:
    """English with a Vietnamese state name quoted in it, as a legend shows it."""
    letters = [c for c in text if c.isalpha()]
    return sum(c.isascii() for c in letters) / len(letters) > 0.9


def _substitute(expr: str) -> str:
    builtins = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
    return re.sub(r"\$(\w+)", lambda m: builtins.get(m.group(1), "x"), expr)


def test_every_query_parses_and_reads_known_metrics() -> None:
    assert set(BY_NAME) >= SNMP_METRICS
    known = set(BY_NAME) | OWN_METRICS | PROMETHEUS_METRICS
    known |= {f"target:probe_success:avg{w}" for w in promgen.AVAILABILITY_WINDOWS}
    used: set[str] = set()
    for doc in _committed().values():
        queries = [t["expr"] for p in _panels(doc) for t in p.get("targets", [])]
        for variable in doc["templating"]["list"]:
            match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"])
            assert match, variable["query"]
            queries.append(match.group(1))
        for query in queries:
            names: list[str | None] = []

            def visit(node: pp.Expr, names: list[str | None] = names) -> bool:
                if isinstance(node, pp.VectorSelector):
                    names.append(node.name)
                return True

            pp.walk(pp.parse(_substitute(query)), pre_visit=visit)
            assert None not in names, query
            used.update(n for n in names if n is not None)
    assert used <= known, used - known
    # The whole contract is on a dashboard somewhere.
    assert used >= SNMP_METRICS
    assert {
        "netmon_scheduler_lag_seconds",
        "netmon_probes_in_flight",
        "netmon_outbox_pending",
        "netmon_notifications_total",
        "netmon_config_last_reload_successful",
    } <= used


def test_provisioning_files() -> None:
    import yaml

    ds = yaml.safe_load((COMMITTED / "provisioning/datasources/netmon.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == "netmon-prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://127.0.0.1:9090"
    assert source["jsonData"]["timeInterval"] == "15s"
    provider = yaml.safe_load((COMMITTED / "provisioning/dashboards/netmon.yaml").read_text())
    (p,) = provider["providers"]
    assert (p["folderUid"], p["type"]) == ("netmon", "file")
    assert p["options"]["path"] == "/var/lib/grafana/dashboards/netmon"


def test_build_follows_the_settings(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "server": {"timezone": "UTC"},
            "grafana": {
                "datasource_uid": "prom-hcm",
                "venue_groups": ["hoi-truong", "bao-chi"],
                "dashboards_path": "/srv/dash",
            },
            "prometheus": {"job": "nm", "scrape_interval": "30s"},
        },
        tmp_path,
    )
    write_build(settings, tmp_path)
    venue = json.loads((tmp_path / "dashboards/netmon-venue.json").read_text())
    assert venue["timezone"] == "UTC"
    assert all(p["datasource"]["uid"] == "prom-hcm" for p in _panels(venue) if p["type"] != "row")
    exprs = [t["expr"] for p in _panels(venue) for t in p.get("targets", [])]
    assert all('group=~"hoi-truong|bao-chi"' in e for e in exprs if "$target" in e)
    self_ = json.loads((tmp_path / "dashboards/netmon-self.json").read_text())
    assert 'job=\\"nm\\"' in json.dumps(self_)
    assert "/srv/dash" in (tmp_path / "provisioning/dashboards/netmon.yaml").read_text()


def test_operator_copy_uses_only_its_datasource() -> None:
    doc = build_all(Settings())["netmon-operator"]
    copy = operator_copy(
        doc,
        uid="netmon-op-vnpt",
        title="X",
        datasource_uid="netmon-op-vnpt",
        noc_uid="netmon-prometheus",
    )
    text = json.dumps(copy)
    assert "netmon-prometheus" not in text
    assert copy["links"] == [] and copy["uid"] == "netmon-op-vnpt"
    sources = {json.dumps(p["datasource"]) for p in _panels(copy) if "datasource" in p}
    sources |= {json.dumps(v["datasource"]) for v in copy["templating"]["list"]}
    assert sources == {json.dumps({"type": "prometheus", "uid": "netmon-op-vnpt"})}


# --------------------------------------------------------------------------- [grafana] settings


@pytest.mark.parametrize(
    ("grafana", "error"),
    [
        ({"url": "grafana:3000"}, "grafana.url: 'grafana:3000' is not an http"),
        ({"token": "a", "token_env": "B"}, "give `token` once"),
        ({"password": "x"}, "a password needs `user`"),
        ({"datasource_uid": "a b"}, "grafana.datasource_uid: 'a b' is not a Grafana uid"),
        ({"operators": [{"name": "vnpt"}, {"name": "vnpt"}]}, "'vnpt' is given twice"),
        ({"operators": [{"name": "VNPT"}]}, "grafana.operators[0].name"),
        ({"operators": [{"name": "a", "org_id": 0}]}, "grafana.operators[0].org_id"),
        ({"operator_folder": "{carrier}"}, "only {title} and {name} may be replaced"),
        ({"venue_groups": []}, "grafana.venue_groups"),
        ({"colour": "red"}, "grafana.colour: unknown key"),
    ],
)
def test_grafana_settings_errors(grafana: dict[str, Any], error: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings({"grafana": grafana}, tmp_path)
    assert error in str(info.value)


def test_secrets_are_read_when_push_needs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading needs none of them: `netmon run` on the monitoring host has no Grafana token.
    settings = parse_settings(
        {
            "grafana": {
                "token_env": "NETMON_TEST_GRAFANA",
                "operators": [{"name": "vnpt", "token_file": str(tmp_path / "missing")}],
            }
        },
        tmp_path,
    )
    monkeypatch.delenv("NETMON_TEST_GRAFANA", raising=False)
    with pytest.raises(SecretMissing, match=r"grafana\.token_env: environment variable"):
        settings.grafana.auth()
    monkeypatch.setenv("NETMON_TEST_GRAFANA", "s3cret-token")
    assert settings.grafana.auth() == "s3cret-token"
    errors = check_operators(settings)
    assert errors == ["grafana.operators[0].name: no [[access.tokens]] entry is named 'vnpt'"]


# --------------------------------------------------------------------------- push


@dataclass
class FakeGrafana:
    """Grafana's HTTP API as push uses it: state, a log of calls, 400 for a wrong shape."""

    token: str
    calls: list[tuple[str, str, Any, str | None]] = field(default_factory=list)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)
    permissions: dict[tuple[str, str], str] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/api/datasources/uid/{uid}", self.get_datasource)
        r.add_post("/api/datasources", self.create_datasource)
        r.add_put("/api/datasources/uid/{uid}", self.update_datasource)
        r.add_get("/api/folders/{uid}", self.get_folder)
        r.add_post("/api/folders", self.create_folder)
        r.add_put("/api/folders/{uid}", self.update_folder)
        r.add_get("/api/teams/search", self.search_teams)
        r.add_post("/api/teams", self.create_team)
        r.add_post("/api/access-control/folders/{uid}/{kind}/{who}", self.set_permission)
        r.add_post("/api/dashboards/db", self.save_dashboard)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        org = request.headers.get("X-Grafana-Org-Id")
        self.calls.append((request.method, request.path_qs, body, org))
        self.auth.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") not in (
            f"Bearer {self.token}",
            "Basic " + base64.b64encode(b"admin:pw").decode(),
        ):
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    @staticmethod
    def _bad(why: str) -> web.Response:
        return web.json_response({"message": why}, status=400)

    async def get_datasource(self, request: web.Request) -> web.Response:
        found = self.datasources.get(request.match_info["uid"])
        if found is None:
            return web.json_response({"message": "Data source not found"}, status=404)
        return web.json_response(found)

    def _check_datasource(self, body: dict[str, Any]) -> str | None:
        needed = {"name", "uid", "type", "access", "url"}
        if not needed <= set(body) or body["type"] != "prometheus" or body["access"] != "proxy":
            return f"bad datasource {body}"
        return None

    async def create_datasource(self, request: web.Request) -> web.Response:
        body = await request.json()
        if why := self._check_datasource(body):
            return self._bad(why)
        if body["uid"] in self.datasources:
            return web.json_response({"message": "exists"}, status=409)
        self.datasources[body["uid"]] = body
        return web.json_response({"datasource": body, "id": len(self.datasources)})

    async def update_datasource(self, request: web.Request) -> web.Response:
        body = await request.json()
        if why := self._check_datasource(body):
            return self._bad(why)
        self.datasources[request.match_info["uid"]] = body
        return web.json_response({"datasource": body})

    async def get_folder(self, request: web.Request) -> web.Response:
        found = self.folders.get(request.match_info["uid"])
        if found is None:
            return web.json_response({"message": "folder not found"}, status=404)
        return web.json_response(found)

    async def create_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        if set(body) != {"uid", "title"}:
            return self._bad(f"bad folder {body}")
        self.folders[body["uid"]] = {**body, "version": 1}
        return web.json_response(self.folders[body["uid"]])

    async def update_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        folder = self.folders[request.match_info["uid"]]
        folder.update(title=body["title"], version=folder["version"] + 1)
        return web.json_response(folder)

    async def search_teams(self, request: web.Request) -> web.Response:
        name = request.query.get("name", "")
        teams = [{"id": i, "name": n} for i, n in self.teams.items() if n == name]
        return web.json_response({"teams": teams, "totalCount": len(teams), "perPage": 1000})

    async def create_team(self, request: web.Request) -> web.Response:
        body = await request.json()
        if set(body) != {"name"} or body["name"] in self.teams.values():
            return self._bad(f"bad team {body}")
        team_id = 100 + len(self.teams)
        self.teams[team_id] = body["name"]
        return web.json_response({"message": "Team created", "teamId": team_id})

    async def set_permission(self, request: web.Request) -> web.Response:
        body = await request.json()
        # The access-control API takes {"permission": "View"|"Edit"|"Admin"|""}, nothing else.
        if set(body) != {"permission"} or body["permission"] not in ("View", "Edit", "Admin", ""):
            return self._bad(f"bad permission body {body}")
        uid, kind, who = (request.match_info[k] for k in ("uid", "kind", "who"))
        if uid not in self.folders or kind not in ("teams", "builtInRoles", "users"):
            return web.json_response({"message": "not found"}, status=404)
        self.permissions[(uid, f"{kind}/{who}")] = body["permission"]
        return web.json_response({"message": "Permission updated"})

    async def save_dashboard(self, request: web.Request) -> web.Response:
        body = await request.json()
        doc = body.get("dashboard", {})
        if body.get("folderUid") not in self.folders or body.get("overwrite") is not True:
            return self._bad(f"bad dashboard save {set(body)}")
        if "uid" not in doc or "id" in doc or doc.get("schemaVersion") != GRAFANA_SCHEMA_VERSION:
            return self._bad("bad dashboard")
        self.dashboards[doc["uid"]] = body
        return web.json_response({"status": "success", "uid": doc["uid"], "version": 1})


OPERATORS = {"viettel": "op-token-viettel", "vnpt": "op-token-vnpt"}


def _push_doc(url: str, tmp_path: Path, **grafana: Any) -> dict[str, Any]:
    tokens = [
        {"name": n, "role": "operator", "scope": {"carrier": n}, "sha256": token_digest(t)}
        for n, t in OPERATORS.items()
    ]
    tokens.append({"name": "noc", "role": "noc", "sha256": token_digest("noc-token")})
    (tmp_path / "vnpt.token").write_text(OPERATORS["vnpt"] + "\n")
    return {
        "server": {"listen": "10.0.0.5:9108"},
        "access": {"tokens": tokens},
        "grafana": {
            "url": url,
            "token": "sa-token",
            "noc_team": "NOC Sở",
            "operators": [
                {"name": "viettel", "title": "Viettel", "token": OPERATORS["viettel"]},
                {"name": "vnpt", "title": "VNPT", "token_file": str(tmp_path / "vnpt.token")},
            ],
            **grafana,
        },
    }


@pytest.fixture
async def fake_grafana() -> AsyncIterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana("sa-token")
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_push(fake_grafana: tuple[FakeGrafana, str], tmp_path: Path) -> None:
    fake, url = fake_grafana
    settings = parse_settings(_push_doc(url, tmp_path), tmp_path)
    done = await asyncio.to_thread(push, settings)
    assert len(done) == 3 + len(DASHBOARDS) + len(OPERATORS) + 1
    assert done[-1].startswith("warning: operators viettel, vnpt share organisation 1")
    assert set(fake.auth) == {"Bearer sa-token"}
    assert {org for *_, org in fake.calls} == {"1"}
    # The NOC: its datasource on Prometheus, its folder, its dashboards.
    noc = fake.datasources["netmon-prometheus"]
    assert noc["url"] == "http://127.0.0.1:9090" and "secureJsonData" not in noc
    assert fake.folders["netmon"]["title"] == "Giám sát mạng (netmon)"
    noc_team = next(i for i, n in fake.teams.items() if n == "NOC Sở")
    # Operators: a datasource on the proxy with their own token, a team, a View-only folder.
    for name, title in (("viettel", "Viettel"), ("vnpt", "VNPT")):
        uid = f"netmon-op-{name}"
        source = fake.datasources[uid]
        assert source["url"] == "http://10.0.0.5:9108/prometheus"
        assert source["jsonData"]["httpHeaderName1"] == "Authorization"
        assert source["secureJsonData"] == {"httpHeaderValue1": f"Bearer {OPERATORS[name]}"}
        assert fake.folders[uid]["title"] == f"Nhà mạng {title}"
        team = next(i for i, n in fake.teams.items() if n == f"netmon {title}")
        board = fake.dashboards[uid]
        assert board["folderUid"] == uid
        assert board["dashboard"]["title"] == f"Đường truyền của nhà mạng: {title}"
        assert "netmon-prometheus" not in json.dumps(board["dashboard"])
        assert uid in json.dumps(board["dashboard"])
        granted = {who: p for (f, who), p in fake.permissions.items() if f == uid}
        assert granted == {
            f"teams/{team}": "View",
            "builtInRoles/Viewer": "",
            "builtInRoles/Editor": "",
        }
    assert fake.permissions[("netmon", f"teams/{noc_team}")] == "View"
    assert fake.permissions[("netmon", "builtInRoles/Viewer")] == ""
    # Nothing but View is ever granted, and only through the access-control endpoint.
    assert set(fake.permissions.values()) <= {"View", ""}
    paths = [path for _, path, _, _ in fake.calls]
    assert not any(p.startswith("/api/folders/") and p.endswith("/permissions") for p in paths)
    assert set(fake.dashboards) == set(DASHBOARDS) | {"netmon-op-viettel", "netmon-op-vnpt"}
    for uid in DASHBOARDS:
        assert fake.dashboards[uid]["folderUid"] == "netmon"
        assert fake.dashboards[uid]["dashboard"] == build_all(settings)[uid]

    # A second push updates in place: nothing is created twice.
    before = (dict(fake.teams), set(fake.folders), set(fake.datasources))
    fake.calls.clear()
    await asyncio.to_thread(push, settings)
    assert (dict(fake.teams), set(fake.folders), set(fake.datasources)) == before
    creates = [
        p
        for m, p, _, _ in fake.calls
        if m == "POST" and p in ("/api/datasources", "/api/folders", "/api/teams")
    ]
    assert creates == []
    assert ("PUT", "/api/datasources/uid/netmon-op-vnpt") in [(m, p) for m, p, _, _ in fake.calls]


async def test_push_to_an_operator_organisation(
    fake_grafana: tuple[FakeGrafana, str], tmp_path: Path
) -> None:
    fake, url = fake_grafana
    doc = _push_doc(url, tmp_path, user="admin", password="pw")
    del doc["grafana"]["token"]
    doc["grafana"]["operators"][1]["org_id"] = 7
    await asyncio.to_thread(push, parse_settings(doc, tmp_path))
    assert set(fake.auth) == {"Basic " + base64.b64encode(b"admin:pw").decode()}
    vnpt_calls = [org for _, path, _, org in fake.calls if "vnpt" in path]
    assert vnpt_calls and set(vnpt_calls) == {"7"}
    assert {org for _, path, _, org in fake.calls if "viettel" in path} == {"1"}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"name": "ghost"}, "no [[access.tokens]] entry is named 'ghost'"),
        ({"name": "noc"}, "has role 'noc', not 'operator'"),
        ({"token": "someone-else"}, "is not the token of access token 'viettel'"),
        ({"token": None}, "give the operator's token"),
    ],
)
async def test_push_refuses_a_wrong_operator_token(
    fake_grafana: tuple[FakeGrafana, str],
    tmp_path: Path,
    change: dict[str, Any],
    error: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = fake_grafana
    doc = _push_doc(url, tmp_path)
    operator = doc["grafana"]["operators"][0]
    operator.update(change)
    if operator["token"] is None:
        del operator["token"]
    config = tmp_path / "settings.toml"
    config.write_text(tomli_w.dumps(doc), encoding="utf-8")
    code = await asyncio.to_thread(main, ["grafana", "push", "--config", str(config)])
    assert code == 2
    err = capsys.readouterr().err
    assert error in err
    assert "op-token" not in err and "someone-else" not in err  # secrets never printed
    assert fake.calls == []  # refused before any call


async def test_push_unreachable_grafana(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[grafana]\nurl = "http://127.0.0.1:{free_port()}"\ntoken = "t"\ntimeout = "2s"\n'
    )
    code = await asyncio.to_thread(main, ["grafana", "push", "--config", str(config)])
    assert code == 1
    assert "grafana push to http://127.0.0.1:" in capsys.readouterr().err


def test_cli_settings_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[grafana]\nurl = "nope"\n')
    with pytest.raises(SystemExit) as info:
        main(["grafana", "build", "--config", str(config), "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "grafana.url: 'nope' is not an http" in capsys.readouterr().err
