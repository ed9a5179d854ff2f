"""/api/v1 in process (monitor/web/api.py): times and JSON, parameters and errors, and every
answer serialised from its model of monitor/web/schemas.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import BaseModel

from monitor.web import api, schemas
from monitor.web.api import dumps, parse_time
from monitor.web.guard import ApiError
from tests.support.web import NOC

AUTH = {"Authorization": f"Bearer {NOC}"}


def test_times_and_json() -> None:
    assert parse_time("t", "2025-10-14T07:00:00+07:00") == 1760400000.0
    assert parse_time("t", "2025-10-14t00:00:00z") == 1760400000.0
    assert parse_time("t", "2016-12-31T23:59:60Z") == parse_time("t", "2017-01-01T00:00:00Z")
    for bad in ("yesterday", "2025-10-14T07:00:00"):
        with pytest.raises(ApiError) as info:
            parse_time("since", bad)
        assert info.value.status == 400 and info.value.message.startswith("since:")
    assert json.loads(dumps({"v": float("nan"), "w": [float("inf")], "ok": 1.5})) == {
        "v": None,
        "w": [None],
        "ok": 1.5,
    }


async def test_parameters_and_errors(client: TestClient[Any, Any]) -> None:
    for path, status in (
        ("/api/v1/targets?state=sideways", 400),
        ("/api/v1/targets?group=a&group=b", 400),
        ("/api/v1/outages?since=yesterday", 400),
        ("/api/v1/outages?phase=khong-co", 400),
        ("/api/v1/report?format=pdf", 400),
        ("/api/v1/report?from=2025-10-16T00:00:00Z&to=2025-10-15T00:00:00Z", 400),
        ("/api/v1/nothing-here", 404),
        ("/api/v1/targets/vn", 200),
        ("/api/v1/targets?state=down", 200),
    ):
        resp = await client.get(path, headers=AUTH)
        assert resp.status == status, (path, await resp.text())
        assert resp.headers["Content-Type"].startswith("application/json"), path
        if status >= 400:
            assert set(await resp.json()) == {"error"}
    resp = await client.put("/api/v1/targets", headers=AUTH)
    assert resp.status == 405 and "error" in await resp.json()
    body = await (await client.get("/api/v1/targets?state=down", headers=AUTH)).json()
    assert [t["name"] for t in body["targets"]] == ["vn"]
    json_type = {**AUTH, "Content-Type": "application/json"}
    resp = await client.post("/api/v1/maintenance", data=b"\xff", headers=json_type)
    assert resp.status == 400
    resp = await client.post(
        "/api/v1/maintenance",
        json={
            "name": "x",
            "match": {"target": ["vt"]},
            "end": "2030-01-01T00:00:00Z",
            "duration": "1h",
        },
        headers=AUTH,
    )
    assert resp.status == 400 and "not both" in (await resp.json())["error"]


def _is(model: type[BaseModel], text: str) -> BaseModel:
    """The answer is its model, written as api.dumps writes the model: fields in order."""
    parsed = model.model_validate_json(text, strict=True)
    assert dumps(parsed.model_dump()) == text
    return parsed


async def test_every_answer_is_its_model(client: TestClient[Any, Any]) -> None:
    async def get(path: str, status: int = 200) -> str:
        resp = await client.get(path, headers=AUTH)
        assert resp.status == status, (path, await resp.text())
        return await resp.text()

    listed = _is(schemas.TargetList, await get("/api/v1/targets"))
    assert isinstance(listed, schemas.TargetList)
    assert [t.name for t in listed.targets] == ["vn", "vt"]
    detail = _is(schemas.TargetDetail, await get("/api/v1/targets/vn"))
    assert isinstance(detail, schemas.TargetDetail)
    assert (detail.target.state, detail.history[0].reason) == ("down", "timeout")
    _is(schemas.PlannedPhases, await get("/api/v1/phases"))
    _is(schemas.AlertList, await get("/api/v1/alerts"))
    _is(schemas.OutageList, await get("/api/v1/outages"))
    _is(schemas.Report, await get("/api/v1/report?format=json"))
    window = {"name": "nang-cap", "match": {"target": ["vn"]}, "duration": "1h", "comment": "x"}
    resp = await client.post("/api/v1/maintenance", json=window, headers=AUTH)
    assert resp.status == 201
    added = _is(schemas.Maintenance, await resp.text())
    assert isinstance(added, schemas.Maintenance) and added.source == "api" and added.active
    listed_windows = _is(schemas.MaintenanceList, await get("/api/v1/maintenance"))
    assert listed_windows == schemas.MaintenanceList(maintenance=[added])
    resp = await client.delete("/api/v1/maintenance/nang-cap", headers=AUTH)
    assert _is(schemas.MaintenanceDeleted, await resp.text()) == schemas.MaintenanceDeleted(
        deleted="nang-cap"
    )
    assert (await client.delete("/api/v1/maintenance/nang-cap", headers=AUTH)).status == 404


async def test_an_answer_that_leaves_its_model_is_not_sent(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field the lower layers add without the model (and so the document) knowing of it
    stops at the model: a server error, never an answer that breaks the contract."""
    target_json = api.target_json

    def drifted(view: Any) -> dict[str, Any]:
        return {**target_json(view), "secret_field": "x"}

    monkeypatch.setattr(api, "target_json", drifted)
    resp = await client.get("/api/v1/targets", headers=AUTH)
    assert resp.status == 500 and "secret_field" not in await resp.text()
